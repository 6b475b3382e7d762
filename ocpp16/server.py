"""``Server``: an OCPP 1.6-J central system over ``websockets.asyncio``.

The server negotiates the ``ocpp1.6`` subprotocol, reads the charge point id
from the last segment of the URL path, asks its ``"authorization"``
listeners, and hands each accepted connection to its ``"connection"``
listeners as a :class:`~ocpp16.connection.ClientBase`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import ssl as _ssl
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

from ocpp16._dispatch import ask
from ocpp16._emitter import _SafeEmitter
from ocpp16._observing import Hooks, check
from ocpp16._ws_transport import WebSocketTransport
from ocpp16.connection import ClientBase, Options
from ocpp16.protocol import Role
from ocpp16.security import SECURITY_PROFILES

if TYPE_CHECKING:
    from websockets.asyncio.server import Server as WsServer
    from websockets.asyncio.server import ServerConnection
    from websockets.http11 import Request, Response

__all__ = ["Handshake", "Server"]

SUBPROTOCOL = "ocpp1.6"


@dataclass(frozen=True, slots=True)
class Handshake:
    """What a charge point sent when it opened its connection.

    Attributes:
        cp_id: The charge point id: the URL path's last segment, percent-decoded.
        path: The request path, query included.
        headers: The HTTP request headers (case-insensitive mapping).
        remote_address: The peer's address as the socket gives it.
        subprotocols: The subprotocols the charge point offered.
        username: The Basic-auth user name, or ``None`` without Basic auth.
        password: The Basic-auth password as bytes (OCPP passwords may be
            binary), or ``None``.
        peer_certificate: The TLS client certificate, as
            ``ssl.SSLSocket.getpeercert()`` gives it, or ``None``.
    """

    cp_id: str
    path: str
    headers: Mapping[str, str]
    remote_address: Any
    subprotocols: tuple[str, ...] = ()
    username: str | None = None
    password: bytes | None = None
    peer_certificate: dict[str, Any] | None = field(default=None, repr=False)


def _cp_id_from_path(path: str) -> str | None:
    """The last path segment, percent-decoded; None when empty or not UTF-8."""
    # DESIGN.md "URLs": drop the query, split on "/", take the last segment.
    segment = path.split("?", 1)[0].rsplit("/", 1)[-1]
    try:
        cp_id = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        return None
    return cp_id or None


def _offered(headers: Any) -> tuple[str, ...]:
    values = headers.get_all("Sec-WebSocket-Protocol")
    return tuple(p.strip() for value in values for p in value.split(",") if p.strip())


def _basic_auth(headers: Any) -> tuple[str | None, bytes | None]:
    value = headers.get("Authorization")
    if not value:
        return None, None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None, None
    # RFC 7617: user-id ":" password; the user id holds no colon, the password may.
    user, sep, password = raw.partition(b":")
    if not sep:
        return None, None
    return user.decode("utf-8", errors="replace"), password


class Server(_SafeEmitter):
    """An OCPP 1.6-J central system.

    Events: ``"connection"(client)``, ``"authorization"(cp_id, handshake, cb)``,
    ``"close"()``, ``"error"(exc)``.

    Args:
        security_profile: 0 (none, the default), or the OCPP 1.6-J security profile
            1, 2 or 3 that ``listen`` must meet (see :mod:`ocpp16.security`);
            with 1 or 2 a handshake whose Basic-auth user name is not the
            charge point id is refused with HTTP 401 before any listener runs.
        max_connections: Charge points connected at once; one more gets HTTP 503.
            ``None`` (the default) sets no cap.
        duplicate_id: A charge point that connects while its id is connected:
            ``"replace"`` (the default) closes the old connection, which is what
            a charger reconnecting over a stale socket needs; ``"reject"``
            refuses the new one with HTTP 409.
        **options: The connection options of :class:`~ocpp16.connection.Options`
            (``call_timeout``, ``handler_timeout``, ``call_concurrency``,
            ``validation``, ``validation_overrides``, ``ping_interval``,
            ``ping_timeout``, ``max_message_size``, ``message_id_factory``,
            ``logger``), applied to each connection.

    Attributes:
        clients: The connected charge points by id.
    """

    def __init__(
        self,
        *,
        security_profile: int = 0,
        max_connections: int | None = None,
        duplicate_id: Literal["replace", "reject"] = "replace",
        **options: Any,
    ) -> None:
        super().__init__()
        if security_profile not in SECURITY_PROFILES:
            raise ValueError(f"security_profile must be 0, 1, 2 or 3, not {security_profile!r}")
        if max_connections is not None and (
            not isinstance(max_connections, int) or max_connections < 1
        ):
            raise ValueError(
                f"max_connections must be a positive int or None, not {max_connections!r}"
            )
        if duplicate_id not in ("replace", "reject"):
            raise ValueError(f"duplicate_id must be 'replace' or 'reject', not {duplicate_id!r}")
        self.security_profile = security_profile
        self.max_connections = max_connections
        self.duplicate_id = duplicate_id
        self.options = Options(**options)
        self.logger: logging.Logger = self.options.logger
        self.clients: dict[str, ClientBase] = {}
        self._ws_server: WsServer | None = None
        # Handshake accepted by _process_request, until _handler takes it; weak, so
        # that a connection failing in between leaves nothing behind.
        self._handshakes: weakref.WeakKeyDictionary[ServerConnection, Handshake] = (
            weakref.WeakKeyDictionary()
        )
        self._closed = asyncio.Event()
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def listen(
        self,
        port: int = 9220,
        host: str | Sequence[str] | None = "0.0.0.0",
        ssl: _ssl.SSLContext | None = None,
    ) -> int:
        """Start accepting charge points (ocpp-ts: ``listen``).

        Args:
            port: The TCP port; 0 picks a free one.
            host: The address to bind (``"0.0.0.0"``, all IPv4 interfaces, as
                ocpp-ts does); a list of addresses; or ``None`` for every
                interface, IPv6 included.
            ssl: A server ``SSLContext`` for ``wss://``, or ``None``.

        Returns:
            The bound port.
        """
        from websockets.asyncio.server import serve

        self._check_profile(ssl)
        self._closed.clear()
        self._closing = False
        opts = self.options
        self._ws_server = await serve(
            self._handler,
            host,  # type: ignore[arg-type]  # passed on to loop.create_server, which takes a list
            port,
            ssl=ssl,
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
            process_request=self._process_request,
            max_size=opts.max_message_size,
            ping_interval=opts.ping_interval,
            ping_timeout=opts.ping_timeout,
            open_timeout=opts.handshake_timeout,
            close_timeout=opts.close_timeout,
            logger=self.logger.getChild("websockets"),
        )
        bound: int = self._ws_server.sockets[0].getsockname()[1]
        self.logger.info("listening on port %d", bound)
        return bound

    def _check_profile(self, context: _ssl.SSLContext | None) -> None:
        """Refuse to start with a configuration that does not meet the security profile."""
        profile = self.security_profile
        if profile in (1, 2) and "authorization" not in self._events:
            raise ValueError(
                f"security profile {profile} authenticates charge points by password: add an "
                "'authorization' listener that checks it (ocpp16.security.check_authorization_key)"
            )
        if profile >= 2 and context is None:
            raise ValueError(f"security profile {profile} needs TLS: pass listen(ssl=...)")
        if profile == 3 and context is not None and context.verify_mode != _ssl.CERT_REQUIRED:
            raise ValueError(
                "security profile 3 authenticates charge points by certificate: the SSL context "
                "must require one (server_ssl_context(..., require_client_certificate=True))"
            )

    async def serve_forever(self) -> None:
        """Wait until :meth:`close` has run."""
        await self._closed.wait()

    async def close(self) -> None:
        """Stop accepting, close every connection with 1001, and wait for them."""
        if self._ws_server is None or self._closing:
            await self._closed.wait()
            return
        self._closing = True
        ws_server = self._ws_server
        ws_server.close(close_connections=True)
        await ws_server.wait_closed()
        self._ws_server = None
        self._closed.set()
        self._emit_safe("close")

    # ------------------------------------------------------------------ handshake

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        cp_id = _cp_id_from_path(request.path)
        if cp_id is None:
            return connection.respond(
                HTTPStatus.BAD_REQUEST, "No charge point id in the URL path.\n"
            )
        if self.max_connections is not None and len(self.clients) >= self.max_connections:
            self.logger.warning(
                "refused %r: %d connections is the cap", cp_id, self.max_connections
            )
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Too many connections.\n")
        offered = _offered(request.headers)
        if SUBPROTOCOL not in offered:
            # DESIGN.md: a server that agrees on no subprotocol rejects the handshake.
            return connection.respond(
                HTTPStatus.BAD_REQUEST, f"This server speaks only the subprotocol {SUBPROTOCOL}.\n"
            )
        username, password = _basic_auth(request.headers)
        if self.security_profile in (1, 2) and username != cp_id:
            # Security white paper: the Basic-auth user name is the charge point id.
            self.logger.info("refused %r: Basic-auth user name missing or not the id", cp_id)
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized.\n")
        peer_certificate = None
        ssl_object = connection.transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            peer_certificate = ssl_object.getpeercert() or None
        handshake = Handshake(
            cp_id=cp_id,
            path=request.path,
            headers=request.headers,
            remote_address=connection.remote_address,
            subprotocols=offered,
            username=username,
            password=password,
            peer_certificate=peer_certificate,
        )
        if not await self._authorize(cp_id, handshake):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized.\n")
        if self.duplicate_id == "reject" and cp_id in self.clients:
            # Only after authorization: an unauthenticated client must not learn
            # whether a charge point id is connected.
            self.logger.warning("refused %r: already connected (duplicate_id='reject')", cp_id)
            return connection.respond(
                HTTPStatus.CONFLICT, "This charge point is already connected.\n"
            )
        self._handshakes[connection] = handshake
        return None

    async def _authorize(self, cp_id: str, handshake: Handshake) -> bool:
        listeners = self.listeners("authorization")
        if not listeners:
            return True  # DESIGN.md: no listener, accept.
        for listener in listeners:
            if not await self._ask(listener, cp_id, handshake):
                return False
        return True

    async def _ask(self, listener: Callable[..., Any], cp_id: str, handshake: Handshake) -> bool:
        """One listener's verdict: cb() or True accepts; cb(error), False or raising rejects."""
        return await ask(
            listener, cp_id, handshake, timeout=self.options.handler_timeout, logger=self.logger
        )

    # ------------------------------------------------------------------ connections

    _observers: tuple[Hooks, ...] = ()

    def add_observer(self, observer: Hooks) -> None:
        """Attach ``observer`` to every connection this server makes from now on.

        Its :meth:`~ocpp16.observer.Observer.refused` hook also hears of the
        handshakes the server refuses.

        Args:
            observer: An :class:`~ocpp16.observer.Observer`.

        Raises:
            TypeError: ``observer`` is not an ``Observer`` (lacks its hooks).
        """
        check(observer)
        if observer not in self._observers:
            self._observers = (*self._observers, observer)

    def remove_observer(self, observer: Hooks) -> None:
        """Stop ``observer``: new connections no longer get it, and the current ones drop it.

        Args:
            observer: An observer attached with :meth:`add_observer`.

        Raises:
            ValueError: ``observer`` is not attached to this server.
        """
        if observer not in self._observers:
            raise ValueError(f"{observer!r} does not observe this server")
        self._observers = tuple(o for o in self._observers if o is not observer)
        for client in list(self.clients.values()):
            if observer in client._observers:
                client.remove_observer(observer)

    async def _handler(self, ws: ServerConnection) -> None:
        handshake = self._handshakes.pop(ws)
        client = ClientBase(handshake.cp_id, role=Role.CENTRAL_SYSTEM, options=self.options)
        client._observers = self._observers
        client._attach(WebSocketTransport(ws, handshake))
        previous = self.clients.get(handshake.cp_id)
        self.clients[handshake.cp_id] = client
        if previous is not None:
            # A charger that reconnects while its stale socket lingers: the new one wins.
            self.logger.info("%r reconnected; closing its previous connection", handshake.cp_id)
            task = asyncio.create_task(previous.close(1000, "replaced by a new connection"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self.logger.info("%r connected from %s", handshake.cp_id, handshake.remote_address)
        self._emit_safe("connection", client)
        try:
            await client._run()
        finally:
            if self.clients.get(handshake.cp_id) is client:
                del self.clients[handshake.cp_id]
