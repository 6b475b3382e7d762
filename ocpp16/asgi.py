"""A ``Server`` as an ASGI application, to mount in a web app (FastAPI, Starlette).

``server.asgi()`` returns the :class:`AsgiApp` of a :class:`~ocpp16.server.Server`;
mounted under any prefix (``app.mount("/ocpp", server.asgi())``), it serves
charge points on the web app's own port, ``ws://host/ocpp/CP_ID``. It is plain
ASGI 3: nothing of a web framework is imported.

Every handshake runs the server's own rules (``Server._decide``), in the same
order as ``listen()``. A refusal is an HTTP answer with the same status (400,
401, 409, 503) through the ASGI WebSocket Denial Response extension
(``websocket.http.response``) where the ASGI server offers it (uvicorn and
hypercorn do); where it does not, the refusal is ``websocket.close`` with code
1008 (policy violation) before accepting, its reason ``"HTTP <status>
<phrase>"``. An accepted connection goes through ``Server._accept`` and
``Server._serve`` like every other, over an
:class:`~ocpp16._asgi_transport.AsgiTransport`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, MutableMapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, unquote

from websockets.datastructures import Headers

from ocpp16._asgi_transport import AsgiReceive, AsgiSend, AsgiTransport
from ocpp16.handshake import SUBPROTOCOL, Handshake, Refusal

if TYPE_CHECKING:
    from ocpp16._cluster import Cluster
    from ocpp16._http import HttpAnswer
    from ocpp16._transport import Transport
    from ocpp16.connection import ClientBase
    from ocpp16.options import Options

__all__ = ["AsgiApp", "mounted_path"]

_DENIAL = "websocket.http.response"
# RFC 6455 §7.4.1: 1008, a policy violation: the refusal where no HTTP answer can be sent.
_POLICY = 1008


class _Server(Protocol):
    """What the application needs of its server (``ocpp16.Server`` is one)."""

    logger: logging.Logger
    options: Options
    security_profile: int
    _closing: bool

    @property
    def cluster(self) -> Cluster: ...

    async def close(self) -> None: ...

    def _answer_http(self, method: str, path: str) -> HttpAnswer | None: ...

    async def _decide(
        self,
        path: str,
        headers: Mapping[str, str],
        offered: tuple[str, ...],
        remote_address: Any,
        peer_certificate: dict[str, Any] | None,
    ) -> Handshake | Refusal: ...

    def _refuse(self, cp_id: str | None, refusal: Refusal, remote_address: Any) -> Refusal: ...

    async def _accept(self, transport: Transport, handshake: Handshake) -> ClientBase: ...

    def _serve(self, client: ClientBase) -> asyncio.Future[None]: ...


def _closing_refusal() -> Refusal:
    return Refusal(
        HTTPStatus.SERVICE_UNAVAILABLE, "the server is closing", "The server is closing.\n"
    )


def mounted_path(scope: MutableMapping[str, Any]) -> str:
    """Return a request's path relative to where the app is mounted, query included.

    ASGI's ``path`` is percent-decoded and includes ``root_path``, the mount
    prefix (Starlette's ``Mount`` adds to it); the charge point id is read from
    the raw path when there is one, so that an id with an escaped ``/``
    (``CP%2F1``) reads as it does on a listening server.

    Args:
        scope: The ASGI ``http`` or ``websocket`` scope.

    Returns:
        The path below the mount, still percent-encoded, and ``?query`` if any.
    """
    path: str = scope["path"]
    root: str = scope.get("root_path") or ""
    if root and (path == root or path.startswith(root + "/")):
        path = path[len(root) :]
    relative = quote(path, safe="/")
    raw = scope.get("raw_path")
    if raw:
        text = raw.decode("latin-1")
        segments = text.split("/", root.count("/") + 1)
        # The raw prefix that decodes to root_path: the rest is the mounted path. It
        # has no more segments than root_path has (an escaped "/" makes it fewer).
        for count in range(len(segments) + 1):
            prefix = "/".join(segments[:count])
            if unquote(prefix) == root:
                relative = text[len(prefix) :]
                break
    query = scope.get("query_string") or b""
    return relative + "?" + query.decode("latin-1") if query else relative


class AsgiApp:
    """An ASGI 3 application that serves one :class:`~ocpp16.server.Server`'s charge points.

    Get it from :meth:`Server.asgi <ocpp16.server.Server.asgi>` (always the
    same object). It answers three kinds of scope:

    - ``websocket``: a charge point's handshake, then its connection.
    - ``http``: a plain request gets what the listening port gives it (the
      server's own answer, such as ``GET /health``, else the handshake's
      refusal: 400 without the ``ocpp1.6`` subprotocol).
    - ``lifespan`` (when it is the top application, not mounted): startup
      starts the server's cluster, shutdown closes the server.

    Args:
        server: The server it serves.

    Attributes:
        server: The server it serves.
    """

    def __init__(self, server: _Server) -> None:
        self.server = server
        self.logger: logging.Logger = server.logger

    async def __call__(
        self, scope: MutableMapping[str, Any], receive: AsgiReceive, send: AsgiSend
    ) -> None:
        """Serve one ASGI connection.

        Args:
            scope: The connection's scope.
            receive: The ASGI ``receive`` callable.
            send: The ASGI ``send`` callable.

        Raises:
            ValueError: A scope type other than ``websocket``, ``http`` or ``lifespan``.
        """
        kind = scope["type"]
        if kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "http":
            await self._http(scope, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:
            raise ValueError(f"ocpp16's ASGI app serves no {kind!r} scope")

    # ------------------------------------------------------------------ websocket

    async def _websocket(
        self, scope: MutableMapping[str, Any], receive: AsgiReceive, send: AsgiSend
    ) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return  # the peer left before its handshake reached us
        server = self.server
        decision = await self._decide(scope)
        if not isinstance(decision, Refusal) and server._closing:
            # close() began while the listeners decided.
            decision = _closing_refusal()
        if isinstance(decision, Refusal):
            await self._deny(scope, send, decision)
            return
        try:
            await send({"type": "websocket.accept", "subprotocol": SUBPROTOCOL})
        except OSError:
            # The charge point left while its handshake was decided (uvicorn's
            # ClientDisconnected): nothing was registered, nothing to close.
            self.logger.info("%r left before its handshake was accepted", decision.cp_id)
            return
        transport = AsgiTransport(
            scope, receive, send, decision, max_size=server.options.max_message_size
        )
        client = await server._accept(transport, decision)
        # The ASGI server ends the connection when this coroutine returns: it waits
        # until the connection has ended and its id is released (close() waits for
        # that too). Shielded: the ASGI server cancelling the app must not cancel
        # the release that the server's own close() awaits.
        await asyncio.shield(server._serve(client))

    async def _decide(self, scope: MutableMapping[str, Any]) -> Handshake | Refusal:
        """The server's rules for this handshake, in the order ``listen()`` applies them."""
        server = self.server
        if server._closing:
            return _closing_refusal()
        await server.cluster.start()
        remote = self._remote(scope)
        if server.security_profile >= 2 and scope.get("scheme") not in ("wss", "https"):
            # Security white paper, profile 2: TLS; here the ASGI server terminates it.
            return server._refuse(
                None,
                Refusal(
                    HTTPStatus.BAD_REQUEST,
                    f"security profile {server.security_profile} needs TLS (wss://)",
                    "This server accepts only wss://.\n",
                ),
                remote,
            )
        return await server._decide(
            mounted_path(scope),
            self._headers(scope),
            tuple(scope.get("subprotocols") or ()),
            remote,
            None,
        )

    async def _deny(
        self, scope: MutableMapping[str, Any], send: AsgiSend, refusal: Refusal
    ) -> None:
        """Refuse the handshake: its HTTP answer, else a 1008 close before accepting."""
        status = int(refusal.status)
        if _DENIAL in (scope.get("extensions") or {}):
            body = refusal.body.encode()
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            reason = f"HTTP {status} {HTTPStatus(status).phrase}"
            await send({"type": "websocket.close", "code": _POLICY, "reason": reason})

    @staticmethod
    def _headers(scope: MutableMapping[str, Any]) -> Headers:
        return Headers(
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope.get("headers") or ()
        )

    @staticmethod
    def _remote(scope: MutableMapping[str, Any]) -> Any:
        client = scope.get("client")
        return tuple(client) if client is not None else None

    # ------------------------------------------------------------------ http

    async def _http(self, scope: MutableMapping[str, Any], send: AsgiSend) -> None:
        server = self.server
        path = mounted_path(scope)
        answer = server._answer_http(scope.get("method", "GET"), path)
        if answer is not None:
            status, content_type, body = answer.status, answer.content_type, answer.body
        else:
            # As on the listening port: the request goes on as a handshake, which,
            # offering no subprotocol, is refused.
            refusal = await self._decide(scope)
            # It offers no subprotocol: check_handshake refuses it, if nothing before did.
            assert isinstance(refusal, Refusal)
            status, content_type = int(refusal.status), "text/plain; charset=utf-8"
            body = refusal.body.encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    # ------------------------------------------------------------------ lifespan

    async def _lifespan(self, receive: AsgiReceive, send: AsgiSend) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.server.cluster.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            else:  # "lifespan.shutdown", the only other lifespan message
                await self.server.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
