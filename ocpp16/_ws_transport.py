"""The :class:`~ocpp16._transport.Transport` over a ``websockets.asyncio`` connection.

Used on both ends: ``Server`` wraps each ``ServerConnection``, ``Client`` its
``ClientConnection``. Only public ``websockets`` API is used here; the
hand-stepped ``send()`` comes from :mod:`ocpp16._internals`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

from ocpp16._internals import stepped_send
from ocpp16._transport import Transport, TransportClosed

if TYPE_CHECKING:
    from websockets.asyncio.connection import Connection

    from ocpp16.handshake import Handshake

__all__ = ["WebSocketTransport", "timed_connection"]


def _closed(exc: BaseException) -> TransportClosed:
    return TransportClosed(str(exc))


class WebSocketTransport(Transport):
    """A ``websockets.asyncio`` connection as a transport.

    Args:
        connection: The open connection (server or client side).
        handshake: On a central system's connection, what the charge point
            opened it with.

    Attributes:
        connection: The ``websockets`` connection.
    """

    # websockets' own exception is caught by the caller of send_async: wrapping
    # each send in a coroutine of ours, to translate it, would cost one per frame.
    closed_errors = (TransportClosed, ConnectionClosed)

    def __init__(self, connection: Connection, handshake: Handshake | None = None) -> None:
        self.connection = connection
        self._handshake = handshake
        # How the connection failed, when reading ended with an error.
        self._failed: tuple[int, str] | None = None
        # One bound method for both: each weighs 64 bytes, per connection.
        self.send_async = send = connection.send
        self.send = stepped_send(send, ConnectionClosed, _closed)

    async def frames(self) -> AsyncIterator[str | bytes]:
        """Yield each incoming frame until the connection closes."""
        recv = self.connection.recv
        try:
            while True:
                yield await recv()
        except ConnectionClosedOK:
            return
        except ConnectionClosed as exc:
            # The connection failed; its close frames say how (1009 for a frame
            # over max_message_size, which no peer echoes).
            frame = exc.rcvd or exc.sent
            if frame is not None:
                self._failed = (frame.code, frame.reason)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (RFC 6455 §7.1.2) and wait until it is closed.

        Args:
            code: The close code.
            reason: The close reason.
        """
        await self.connection.close(code, reason)

    @property
    def close_code(self) -> int | None:
        """How the connection closed; ``None`` while it is open."""
        if self._failed is not None:
            return self._failed[0]
        return self.connection.close_code

    @property
    def close_reason(self) -> str:
        """The close reason that goes with :attr:`close_code`."""
        if self._failed is not None:
            return self._failed[1]
        return self.connection.close_reason or ""

    @property
    def remote_address(self) -> Any:
        """The peer's address as the socket gives it."""
        return self.connection.remote_address

    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol."""
        return self.connection.subprotocol

    @property
    def handshake(self) -> Handshake | None:
        """What the charge point opened the connection with (central system's side)."""
        return self._handshake

    @property
    def ping_interval(self) -> float | None:
        """Seconds between keepalive pings."""
        return self.connection.ping_interval

    @ping_interval.setter
    def ping_interval(self, seconds: float | None) -> None:
        self.connection.ping_interval = seconds

    @property
    def ping_timeout(self) -> float | None:
        """Seconds to wait for a pong."""
        return self.connection.ping_timeout

    @ping_timeout.setter
    def ping_timeout(self, seconds: float | None) -> None:
        self.connection.ping_timeout = seconds


def timed_connection(on_timeout: Callable[[Any], None]) -> type[ServerConnection]:
    """A ``ServerConnection`` class that tells ``on_timeout`` of handshakes that timed out.

    websockets runs the opening handshake under ``open_timeout`` and, when it
    expires, cancels it and drops the TCP connection without a word; the
    cancellation of :meth:`ServerConnection.handshake` is the one sign of it.

    Args:
        on_timeout: Called with the peer's address.

    Returns:
        The class to pass as ``serve(create_connection=...)``.
    """

    class TimedServerConnection(ServerConnection):
        async def handshake(self, *args: Any, **kwargs: Any) -> None:
            try:
                await super().handshake(*args, **kwargs)
            except asyncio.CancelledError:
                on_timeout(self.remote_address)
                raise

    return TimedServerConnection
