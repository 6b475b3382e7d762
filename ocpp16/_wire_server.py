"""A central system's listening socket on ``websockets``' sans-I/O layer.

:class:`Listener` runs ``loop.create_server`` with a :class:`ServerWire` per
accepted TCP connection. A ``ServerWire`` reads the opening handshake's HTTP
request and answers it as ``Server`` decides: a plain HTTP request first goes
to ``Server._answer_http``; a handshake goes through ``Server._decide`` (every
check, in order), then ``websockets``' own ``ServerProtocol.accept`` (the
WebSocket headers, RFC 6455 §4.2.1). An accepted connection is handed to
``Server._serve_wire``; a refused one gets its HTTP answer and the TCP
connection is closed. ``handshake_timeout`` bounds the whole handshake, TLS
included (``ssl_handshake_timeout``).
"""

from __future__ import annotations

import asyncio
import http
import logging
import ssl as _ssl
from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from websockets.extensions.permessage_deflate import enable_server_permessage_deflate
from websockets.http11 import SERVER
from websockets.protocol import State
from websockets.server import ServerProtocol

from ocpp16._http import HttpAnswer, is_upgrade
from ocpp16._wire import Wire
from ocpp16.handshake import SUBPROTOCOL, Handshake, Refusal, offered_subprotocols

if TYPE_CHECKING:
    import socket

    from websockets.http11 import Request, Response
    from websockets.protocol import Event

    from ocpp16.options import Options

__all__ = ["Listener", "Owner", "ServerWire"]


class Owner(Protocol):
    """What a :class:`Listener` needs of its ``Server``."""

    options: Options
    logger: logging.Logger

    @property
    def _closing(self) -> bool: ...

    def _answer_http(self, method: str, path: str) -> HttpAnswer | None: ...

    def _handshake_timed_out(self, remote_address: Any) -> None: ...

    async def _decide(
        self,
        path: str,
        headers: Mapping[str, str],
        offered: tuple[str, ...],
        remote_address: Any,
        peer_certificate: dict[str, Any] | None,
    ) -> Handshake | Refusal: ...

    async def _serve_wire(self, wire: ServerWire, handshake: Handshake) -> None: ...


_CONNECTING = State.CONNECTING
_OPEN = State.OPEN
_FAILED = "Failed to open a WebSocket connection.\nSee server log for more information.\n"


class ServerWire(Wire):
    """The central system's end of one TCP connection, from its opening handshake on.

    Args:
        listener: The listener that accepted it.
    """

    __slots__ = ("_handshake_timer", "_opening", "listener")

    ws: ServerProtocol

    def __init__(self, listener: Listener) -> None:
        opts = listener.owner.options
        logger = listener.ws_logger
        ws = ServerProtocol(
            # Per-message deflate, accepted when offered (websockets' default, SECURITY.md).
            extensions=enable_server_permessage_deflate(None),
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
            max_size=opts.max_message_size,
            logger=logger,
        )
        super().__init__(
            ws,
            ping_interval=opts.ping_interval,
            ping_timeout=opts.ping_timeout,
            close_timeout=opts.close_timeout,
        )
        self.listener = listener
        self._opening: asyncio.Task[None] | None = None
        self._handshake_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the handshake's clock (the TLS handshake, if any, is done by now)."""
        super().connection_made(transport)
        timeout = self.listener.owner.options.handshake_timeout
        if timeout is not None:
            self._handshake_timer = self._loop.call_later(timeout, self._handshake_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        """As :meth:`Wire.connection_lost`; a handshake still under way is given up."""
        super().connection_lost(exc)
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None

    def _handshake_expired(self) -> None:
        self._handshake_timer = None
        if self.ws.state is _CONNECTING:
            # Logged, and told to the observers (metrics count it as a refusal).
            self.listener.owner._handshake_timed_out(self.remote_address)
            opening = self._opening
            if opening is not None:
                opening.cancel()
            self.abort()

    def _handshake_event(self, event: Event) -> None:
        if self._opening is None:
            request: Request = event  # type: ignore[assignment]
            self._opening = self.listener.start(self._open(request))

    async def _open(self, request: Request) -> None:
        """Answer the opening handshake; serve the connection if it was accepted."""
        owner = self.listener.owner
        ws = self.ws
        response: Response | None = None
        handshake: Handshake | None = None
        try:
            if not is_upgrade(request.headers):
                # websockets' Request is always a GET (it refuses any other method itself).
                answer = owner._answer_http("GET", request.path)
                if answer is not None:
                    response = ws.reject(answer.status, "")
                    # websockets' Headers add a value on assignment: replace reject()'s own.
                    del response.headers["Content-Type"]
                    del response.headers["Content-Length"]
                    response.headers["Content-Type"] = answer.content_type
                    response.headers["Content-Length"] = str(len(answer.body))
                    response.body = answer.body
            if response is None:
                transport = self._transport
                assert transport is not None
                ssl_object = transport.get_extra_info("ssl_object")
                peer_certificate = (
                    (ssl_object.getpeercert() or None) if ssl_object is not None else None
                )
                decision = await owner._decide(
                    request.path,
                    request.headers,
                    offered_subprotocols(request.headers.get_all("Sec-WebSocket-Protocol")),
                    self.remote_address,
                    peer_certificate,
                )
                if isinstance(decision, Refusal):
                    response = ws.reject(decision.status, decision.body)
                else:
                    handshake = decision
                    response = ws.accept(request)
        except Exception as exc:
            ws.handshake_exc = exc
            owner.logger.error("the opening handshake failed", exc_info=True)
            response = ws.reject(http.HTTPStatus.INTERNAL_SERVER_ERROR, _FAILED)
        if response.status_code == 101 and owner._closing:
            response = ws.reject(http.HTTPStatus.SERVICE_UNAVAILABLE, "Server is shutting down.\n")
        response.headers["Server"] = SERVER
        if ws.state is not _CONNECTING or self.closed.done():
            return  # the connection went (or timed out) meanwhile
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None
        ws.send_response(response)
        self._flush()
        if ws.state is not _OPEN or handshake is None:
            self._closing()
            return
        self._handshake = handshake
        self._opened()
        try:
            await owner._serve_wire(self, handshake)
        except Exception:
            owner.logger.error("serving %r failed", handshake.cp_id, exc_info=True)
            await self.close(1011)


class Listener:
    """The listening sockets of one ``Server.listen`` and the connections they accepted.

    Args:
        owner: The ``Server``.
    """

    def __init__(self, owner: Owner) -> None:
        self.owner = owner
        self.ws_logger = owner.logger.getChild("websockets")
        self.server: asyncio.Server | None = None
        # Each connection's handshake, then its serving: close() waits for them.
        self.tasks: set[asyncio.Task[None]] = set()

    async def listen(
        self, host: str | Sequence[str] | None, port: int, ssl: _ssl.SSLContext | None
    ) -> None:
        """Bind and start accepting.

        Args:
            host: The address(es) to bind; ``None`` for every interface.
            port: The TCP port; 0 picks a free one.
            ssl: A server ``SSLContext``, or ``None``.
        """
        opts = self.owner.options
        kwargs: dict[str, Any] = {}
        if ssl is not None:
            # The TLS handshake counts as part of the opening handshake.
            kwargs["ssl_handshake_timeout"] = opts.handshake_timeout
            kwargs["ssl_shutdown_timeout"] = opts.close_timeout
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(self._connection, host, port, ssl=ssl, **kwargs)

    def _connection(self) -> ServerWire:
        return ServerWire(self)

    def start(self, coroutine: Awaitable[None]) -> asyncio.Task[None]:
        """Run one connection's handshake and serving in a task that ``wait_closed`` awaits."""
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The listening sockets."""
        server = self.server
        return tuple(server.sockets) if server is not None else ()

    def close(self) -> None:
        """Stop accepting; the connections stay open."""
        if self.server is not None:
            self.server.close()

    async def wait_closed(self) -> None:
        """Wait until every handshake and connection of this listener has ended."""
        while self.tasks:
            await asyncio.wait(list(self.tasks))
