"""The :class:`~ocpp16._transport.Transport` over an ASGI WebSocket connection.

An ASGI server (uvicorn, hypercorn) owns the socket, the WebSocket framing and
the keepalive pings; the application sees messages: it reads
``websocket.receive`` and ``websocket.disconnect`` with ``receive()``, and
writes ``websocket.send`` and ``websocket.close`` with ``send()`` (ASGI
WebSocket spec, version 2.4). This module turns those into the transport
interface, so that a ``ClientBase`` reads and writes a mounted connection as
it does any other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from ocpp16._internals import stepped_send
from ocpp16._transport import Pulled, Transport, TransportClosed
from ocpp16.handshake import SUBPROTOCOL

if TYPE_CHECKING:
    from ocpp16.handshake import Handshake

__all__ = ["AsgiReceive", "AsgiSend", "AsgiTransport"]

AsgiReceive = Callable[[], Awaitable[MutableMapping[str, Any]]]
"""An ASGI ``receive`` callable."""
AsgiSend = Callable[[MutableMapping[str, Any]], Awaitable[None]]
"""An ASGI ``send`` callable."""

# RFC 6455 §7.4.1: 1009, a message too big to process; 1005, no status received.
_TOO_BIG = 1009
_NO_STATUS = 1005
_ABNORMAL = 1006


def _closed(exc: BaseException) -> TransportClosed:
    return TransportClosed(str(exc) or "the ASGI connection is closed")


class AsgiTransport(Pulled, Transport):
    """An accepted ASGI WebSocket connection as a transport.

    Frames go out as ``websocket.send`` messages. ASGI's ``send`` is awaitable:
    when the server cannot hand a frame over at once (its write buffer is
    full), :attr:`send` returns what finishes it, which is the backpressure of
    the interface. WebSocket pings are the ASGI server's (uvicorn's
    ``ws_ping_interval`` and ``ws_ping_timeout``): :attr:`ping_interval` and
    :attr:`ping_timeout` are kept but change nothing on the wire.

    Args:
        scope: The connection's ASGI scope (``type`` ``"websocket"``).
        receive: The ASGI ``receive`` callable.
        send: The ASGI ``send`` callable.
        handshake: What the charge point opened the connection with.
        max_size: Largest incoming frame in bytes; a larger one closes the
            connection with 1009 (``None``: no limit here; the ASGI server's,
            such as uvicorn's ``ws_max_size``, still applies).
    """

    def __init__(
        self,
        scope: MutableMapping[str, Any],
        receive: AsgiReceive,
        send: AsgiSend,
        handshake: Handshake | None = None,
        *,
        max_size: int | None = None,
    ) -> None:
        self._scope = scope
        self._receive = receive
        self._asgi_send = send
        self._handshake = handshake
        self._max_size = max_size
        self.ping_interval: float | None = None
        self.ping_timeout: float | None = None
        # The close the peer or the server reported (websocket.disconnect).
        self._code: int | None = None
        self._reason = ""
        # The close this end sent (websocket.close), once it went out: ASGI allows
        # no message after it.
        self._sent: tuple[int, str] | None = None
        # ASGI servers raise an OSError on a send after the peer left (uvicorn's
        # ClientDisconnected): translated into TransportClosed.
        self._stepped = stepped_send(self._send_text, OSError, _closed)

    def send(self, text: str) -> Awaitable[None] | None:
        """Send one text frame: ``None`` once handed over, or what finishes it (backpressure)."""
        return self._stepped(text)

    async def _send_text(self, text: str) -> None:
        """Send one text frame (``websocket.send``)."""
        if self._sent is not None or self._code is not None:
            raise TransportClosed("the ASGI connection is closed")
        await self._asgi_send({"type": "websocket.send", "text": text})

    async def frames(self) -> AsyncIterator[str | bytes]:
        """Yield each incoming frame until ``websocket.disconnect``."""
        receive = self._receive
        limit = self._max_size
        while True:
            try:
                message = await receive()
            except OSError:
                # The server lost the connection under us.
                self._code, self._reason = _ABNORMAL, ""
                return
            kind = message["type"]
            if kind == "websocket.receive":
                text = message.get("text")
                frame: str | bytes = text if text is not None else (message.get("bytes") or b"")
                if limit is not None and len(frame) * 4 > limit and _size(frame) > limit:
                    # RFC 6455 §7.4.1: 1009, as a listening server closes on a frame
                    # over max_message_size (the ASGI server let it through).
                    await self.close(_TOO_BIG, f"frame over {limit} bytes")
                    continue
                yield frame
            elif kind == "websocket.disconnect":
                if self._sent is not None:
                    # This end closed: its code, as the peer echoes it (RFC 6455 §5.5.1);
                    # not every server reports it (hypercorn says 1000 whatever was sent).
                    self._code, self._reason = self._sent
                else:
                    self._code = int(message.get("code") or _NO_STATUS)
                    self._reason = message.get("reason") or ""
                return

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send ``websocket.close`` with ``code`` and ``reason``.

        The ASGI server runs the closing handshake (RFC 6455 §7.1.2) and then
        reports ``websocket.disconnect``, which ends :meth:`frames`.

        Args:
            code: The close code.
            reason: The close reason.
        """
        if self._sent is not None or self._code is not None:
            return
        self._sent = (code, reason)
        try:
            await self._asgi_send({"type": "websocket.close", "code": code, "reason": reason})
        except OSError:
            # The peer left first: the connection was dropped.
            self._code, self._reason = _ABNORMAL, ""

    @property
    def close_code(self) -> int | None:
        """How the connection closed; ``None`` until ``websocket.disconnect``."""
        return self._code

    @property
    def close_reason(self) -> str:
        """The close reason that goes with :attr:`close_code`."""
        return self._reason

    @property
    def remote_address(self) -> Any:
        """The peer's address: the scope's ``client`` (host, port), or ``None``."""
        client = self._scope.get("client")
        return tuple(client) if client is not None else None

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the connection was accepted with."""
        return SUBPROTOCOL

    @property
    def handshake(self) -> Handshake | None:
        """What the charge point opened the connection with."""
        return self._handshake


def _size(frame: str | bytes) -> int:
    """The frame's length in bytes on the wire."""
    return len(frame.encode()) if isinstance(frame, str) else len(frame)
