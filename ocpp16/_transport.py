"""The seam between a connection and the wire: one small transport interface.

A :class:`~ocpp16.connection.ClientBase` moves text between its protocol core
and a :class:`Transport`, and knows nothing else of the wire: the WebSocket
library, an ASGI server or an in-memory pipe are each one implementation
(``ocpp16._ws_transport`` over ``websockets.asyncio``, ``ocpp16._asgi_transport``
over an ASGI server's WebSocket messages, ``ocpp16._memory_transport`` for tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ocpp16.handshake import Handshake

__all__ = ["Transport", "TransportClosed"]


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
        send_async: Send one text frame from a coroutine: awaiting it returns
            once the frame is handed over (after any backpressure), so frames
            keep their order. Raises one of :attr:`closed_errors` when the
            connection is closed. The read loop writes its answers with it:
            awaited, a send costs less than one stepped by hand, since a
            stepped coroutine that returns raises ``StopIteration``.
        closed_errors: What :attr:`send_async` raises when the connection is
            closed: :class:`TransportClosed`, and the implementation's own
            exceptions where translating them would cost a coroutine per frame.
        ping_interval: Seconds between keepalive pings, ``None`` for none;
            settable while open. Where the pings are another server's (ASGI),
            the value is kept and changes nothing on the wire.
        ping_timeout: Seconds to wait for a pong before the connection is
            dropped, ``None`` to wait forever; settable while open (kept alike).
    """

    send: Callable[[str], Awaitable[None] | None]
    send_async: Callable[[str], Awaitable[None]]
    closed_errors: tuple[type[BaseException], ...] = (TransportClosed,)
    ping_interval: float | None
    ping_timeout: float | None

    def frames(self) -> AsyncIterator[str | bytes]:
        """Return the incoming frames, text (``str``) or binary (``bytes``).

        The iteration ends when the connection closes, cleanly or not; then
        :attr:`close_code` says how.
        """
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
