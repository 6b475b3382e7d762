"""The seam between a connection and the wire: one small transport interface.

A :class:`~ocpp16.connection.ClientBase` moves text between its protocol core
and a :class:`Transport`, and knows nothing else of the wire: the WebSocket
library, an ASGI server or an in-memory pipe are each one implementation
(``ocpp16._wire`` over ``websockets``' sans-I/O layer, ``ocpp16._asgi_transport``
over an ASGI server's WebSocket messages, ``ocpp16._memory_transport`` for tests).

Incoming frames are pushed: the transport calls the connection once per frame
(:meth:`Transport.start_reading`), and the connection asks it to stop and go on
(:meth:`Transport.pause_reading`, :meth:`Transport.resume_reading`) for
backpressure. A transport whose frames come from an async iterator gets all
three from :class:`Pulled`, which reads its ``frames()`` in a task.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ocpp16.handshake import Handshake

__all__ = ["OnFrame", "OnGone", "Pulled", "Transport", "TransportClosed"]

OnFrame = Callable[[str | bytes], None]
"""What a transport calls with each incoming frame, text (``str``) or binary (``bytes``)."""
OnGone = Callable[[], None]
"""What a transport calls once the connection is gone (after its last frame)."""


class TransportClosed(Exception):
    """The transport is closed: the frame handed to ``send`` was not sent."""


class Transport(Protocol):
    """One open connection's wire, as a ``ClientBase`` uses it.

    Attributes:
        send: Send one text frame. Returns ``None`` when the frame was handed
            over at once, or an awaitable that the caller must await before it
            sends anything else (backpressure: that is how frames keep their
            order). Raises :class:`TransportClosed`, and so does the awaitable,
            when the connection is closed. An attribute rather than a method,
            so that an implementation may bind the fastest function it has.
        ping_interval: Seconds between keepalive pings, ``None`` for none;
            settable while open. Where the pings are another server's (ASGI),
            the value is kept and changes nothing on the wire.
        ping_timeout: Seconds to wait for a pong before the connection is
            dropped, ``None`` to wait forever; settable while open (kept alike).
    """

    # Read-only: an implementation may bind a function to an attribute or
    # define a method (and keep its state in slots).
    @property
    def send(self) -> Callable[[str], Awaitable[None] | None]: ...

    ping_interval: float | None
    ping_timeout: float | None

    def start_reading(self, on_frame: OnFrame, on_gone: OnGone) -> None:
        """Hand each incoming frame to ``on_frame``, in order; call ``on_gone`` at the end.

        Called once, when the connection starts reading. ``on_gone`` runs
        once the connection is closed, cleanly or not (then :attr:`close_code`
        says how); frames held back by :meth:`pause_reading` may be dropped
        then, since nothing can be answered any more.

        Args:
            on_frame: Called with each frame.
            on_gone: Called once, at the end.
        """
        ...

    def pause_reading(self) -> None:
        """Call ``on_frame`` no more (and read no more) until :meth:`resume_reading`.

        May be called from ``on_frame`` itself: the frames that follow wait.
        """
        ...

    def resume_reading(self) -> None:
        """Go on calling ``on_frame``, with the frames held back first."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with ``code`` and ``reason``; return once it is closed.

        Args:
            code: The WebSocket close code (RFC 6455 §7.4).
            reason: The close reason.
        """
        ...

    @property
    def close_code(self) -> int | None:
        """How the connection closed; ``None`` while it is open.

        The code the peer sent, or the one this end failed the connection with
        (1009 for a frame too large, 1006 for a dropped connection).
        """
        ...

    @property
    def close_reason(self) -> str:
        """The close reason that goes with :attr:`close_code` (``""`` when none)."""
        ...

    @property
    def remote_address(self) -> Any:
        """The peer's address as the socket gives it."""
        ...

    @property
    def subprotocol(self) -> str | None:
        """The negotiated WebSocket subprotocol, or ``None``."""
        ...

    @property
    def handshake(self) -> Handshake | None:
        """On a central system's connection, what the charge point opened it with."""
        ...


class Pulled:
    """:meth:`Transport.start_reading` and its pausing for a transport that yields :meth:`frames`.

    A task reads the frames and calls ``on_frame`` with each; while paused it
    waits before reading the next.
    """

    _pump: asyncio.Task[None] | None = None
    _go: asyncio.Event | None = None

    def frames(self) -> AsyncIterator[str | bytes]:
        """Return the incoming frames, text (``str``) or binary (``bytes``).

        The iteration ends when the connection closes, cleanly or not; then
        ``close_code`` says how.
        """
        raise NotImplementedError

    def start_reading(self, on_frame: OnFrame, on_gone: OnGone) -> None:
        """Read :meth:`frames` in a task, handing each to ``on_frame``; then ``on_gone``."""
        self._go = asyncio.Event()
        self._go.set()
        self._pump = asyncio.ensure_future(self._read(on_frame, on_gone))

    async def _read(self, on_frame: OnFrame, on_gone: OnGone) -> None:
        go = self._go
        assert go is not None
        try:
            async for frame in self.frames():
                on_frame(frame)
                if not go.is_set():
                    await go.wait()
        finally:
            on_gone()

    def pause_reading(self) -> None:
        """Read no further after the current frame."""
        if self._go is not None:
            self._go.clear()

    def resume_reading(self) -> None:
        """Go on reading."""
        if self._go is not None:
            self._go.set()
