"""``Server``: an OCPP 1.6-J central system over ``websockets``' sans-I/O layer, or mounted (ASGI).

The server negotiates the ``ocpp1.6`` subprotocol, reads the charge point id
from the last segment of the URL path, asks its ``"authorization"``
listeners, and hands each accepted connection to its ``"connection"``
listeners as a :class:`~ocpp16.connection.ClientBase`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
import ssl as _ssl
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from ocpp16._calls import check_call
from ocpp16._cluster import Cluster, LocalCluster
from ocpp16._dispatch import ask
from ocpp16._http import HttpAnswer
from ocpp16._internals import SafeEmitter
from ocpp16._observing import Hooks, attached, detached, notify
from ocpp16._transport import Transport
from ocpp16._typed_calls import TypedServerCalls
from ocpp16._wire_server import Listener, ServerWire
from ocpp16.connection import ClientBase, Options
from ocpp16.handshake import (
    Accept,
    Handshake,
    Refusal,
    check_handshake,
    read_handshake,
    unauthorized,
)
from ocpp16.metrics import Metrics, metrics_for
from ocpp16.options import OptionKeywords
from ocpp16.protocol import Role
from ocpp16.registry import DuplicatePolicy, Registry
from ocpp16.security import SECURITY_PROFILES

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from ocpp16.asgi import AsgiApp

__all__ = ["ConnectionFactory", "Handshake", "Server"]


class ConnectionFactory(Protocol):
    """Makes the connection object of each accepted charge point.

    ``ClientBase`` itself, or a subclass of it, fits: ``Server(connection_factory=MyConnection)``.
    """

    def __call__(self, cp_id: str, *, role: Role, options: Options) -> ClientBase:
        """Return a new, unattached connection for ``cp_id``."""
        ...


class Server(SafeEmitter, TypedServerCalls):
    """An OCPP 1.6-J central system.

    Events: ``"connection"(client)``, ``"authorization"(cp_id, handshake, cb)``
    (``cb(session=...)`` or returning ``Accept(session)`` sets ``client.session``),
    ``"refused"(cp_id, status, reason)`` (a handshake was refused: ``cp_id`` is
    ``None`` when the path named none, ``status`` the HTTP status, ``reason``
    what was wrong and the peer's address, such as ``"wrong password (from
    192.0.2.7:50312)"``; a listener that rejects with ``cb("why")`` or
    ``cb(exception)`` gives the why), ``"close"()``, ``"error"(exc)``.

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
        registry: The :class:`~ocpp16.registry.Registry` that holds the
            connections and decides on the cap and duplicates; by default a
            :class:`~ocpp16.registry.LocalRegistry` with ``max_connections``
            and ``duplicate_id``.
        connection_factory: Makes each accepted charge point's connection
            object: :class:`~ocpp16.connection.ClientBase` (the default) or a
            subclass of it.
        metrics: Count into Prometheus collectors (the ``metrics`` extra):
            ``True`` (``prometheus_client``'s default registry), a
            ``CollectorRegistry``, or an :class:`~ocpp16.metrics.Metrics`;
            the port then answers ``GET /metrics``. ``False`` (the default):
            nothing is counted and ``prometheus_client`` is not imported.
        **options: The connection options of :class:`~ocpp16.connection.Options`
            (``call_timeout``, ``handler_timeout``, ``call_concurrency``,
            ``max_incoming_calls``, ``validation``, ``validation_overrides``,
            ``ping_interval``, ``ping_timeout``, ``max_message_size``,
            ``message_id_factory``, ``logger``, ...), applied to each connection;
            typed by :class:`~ocpp16.options.OptionKeywords`.

    Attributes:
        clients: The connected charge points by id.
        metrics: The :class:`~ocpp16.metrics.Metrics` observer of ``metrics``,
            or ``None``.
    """

    def __init__(
        self,
        *,
        security_profile: int = 0,
        max_connections: int | None = None,
        duplicate_id: DuplicatePolicy = "replace",
        registry: Registry | None = None,
        cluster: Cluster | None = None,
        connection_factory: ConnectionFactory | None = None,
        metrics: bool | CollectorRegistry | Metrics = False,
        **options: Unpack[OptionKeywords],
    ) -> None:
        super().__init__()
        if security_profile not in SECURITY_PROFILES:
            raise ValueError(f"security_profile must be 0, 1, 2 or 3, not {security_profile!r}")
        self.security_profile = security_profile
        # The cluster answers for charge points on other nodes; it makes the registry,
        # so that duplicate ids and presence are decided cluster-wide.
        self._cluster: Cluster = cluster if cluster is not None else LocalCluster()
        # GET /health names the node of a cluster given, and no node otherwise.
        self._node: str | None = None if cluster is None else getattr(cluster, "node_id", None)
        self._cluster.bind(self)
        self._registry: Registry = (
            registry
            if registry is not None
            else self._cluster.make_registry(
                max_connections=max_connections, duplicate_id=duplicate_id
            )
        )
        self._connection_factory: ConnectionFactory = connection_factory or ClientBase
        self.options = Options(**options)
        self.logger: logging.Logger = self.options.logger
        self._listener: Listener | None = None
        self._closed = asyncio.Event()
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        # Every connection being served, registered or not (one being
        # replaced, one not yet claimed): close() drains them all.
        self._connections: set[ClientBase] = set()
        # Every connection being read, with the future done once it has ended and
        # its id is released: close() waits for them.
        self._served: dict[ClientBase, asyncio.Future[None]] = {}
        self._asgi_app: AsgiApp | None = None
        self.metrics: Metrics | None = metrics_for(metrics)
        if self.metrics is not None:
            self.add_observer(self.metrics)

    @property
    def registry(self) -> Registry:
        """The :class:`~ocpp16.registry.Registry` that holds this server's connections."""
        return self._registry

    @property
    def clients(self) -> Mapping[str, ClientBase]:
        """The connected charge points by id (a read-only live view)."""
        return self._registry.connections

    @property
    def max_connections(self) -> int | None:
        """Charge points connected at once; one more gets HTTP 503 (``None``: no cap)."""
        return self._registry.max_connections

    @max_connections.setter
    def max_connections(self, limit: int | None) -> None:
        self._registry.max_connections = limit

    @property
    def duplicate_id(self) -> DuplicatePolicy:
        """What a charge point gets that connects while its id is connected."""
        return self._registry.duplicate_id

    @duplicate_id.setter
    def duplicate_id(self, policy: DuplicatePolicy) -> None:
        self._registry.duplicate_id = policy

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The listening sockets; empty when not listening."""
        listener = self._listener
        return listener.sockets if listener is not None else ()

    @property
    def port(self) -> int | None:
        """The port the server listens on, or ``None`` when it does not listen."""
        sockets = self.sockets
        return int(sockets[0].getsockname()[1]) if sockets else None

    def _call_request(
        self,
        cp_id: str,
        action: str,
        payload: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> asyncio.Future[Any]:
        """Send a CALL to a connected charge point; return a future of its answer.

        The same as ``server.clients[cp_id].call_request(action, payload, timeout=timeout)``,
        with the same rules: every failure arrives through the future.

        Args:
            cp_id: The charge point id.
            action: The action, such as ``"Reset"``.
            payload: The request payload; ``None`` sends ``{}``.
            timeout: Seconds to wait for the answer; ``call_timeout`` by default.

        Returns:
            A future of the CALLRESULT payload. It fails as
            :meth:`ClientBase.call_request`'s does, with
            :class:`~ocpp16.errors.NotConnected` when ``cp_id`` is not connected,
            and with ``TypeError`` when ``cp_id`` is not a ``str``.
        """
        # README "call_request": every failure arrives through the future, a
        # wrong argument's too, whether or not the charge point is connected.
        failure: Exception
        try:
            if not isinstance(cp_id, str):
                raise TypeError(
                    f"call_request: cp_id must be a str, not {type(cp_id).__name__} {cp_id!r}"
                )
            payload, timeout = check_call(action, payload, timeout)
        except (TypeError, ValueError) as exc:
            failure = exc
        else:
            connection = self._registry.get(cp_id)
            if connection is not None:
                # Any action, as the connection takes it at run time: the overloads per
                # action type the callers of this method, which are checked already.
                call: Callable[..., asyncio.Future[Any]] = connection.call_request
                return call(action, payload, timeout=timeout)
            return self._cluster.call_request(cp_id, action, payload, timeout)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_exception(failure)
        return future

    if not TYPE_CHECKING:
        # Type checkers read TypedServerCalls.call_request: one overload per action.
        call_request = _call_request

    @property
    def cluster(self) -> Cluster:
        """The :class:`~ocpp16.cluster.Cluster` this server belongs to."""
        return self._cluster

    async def locate(self, cp_id: str) -> str | None:
        """Return the node that holds ``cp_id``, or ``None`` when it is connected nowhere.

        Args:
            cp_id: The charge point id.

        Raises:
            ClusterUnavailable: The cluster's shared store cannot be reached.
        """
        await self._cluster.start()
        return await self._cluster.locate(cp_id)

    async def connected_ids(self) -> dict[str, str]:
        """Return every charge point connected in the cluster, with the node that holds it.

        Raises:
            ClusterUnavailable: The cluster's shared store cannot be reached.
        """
        await self._cluster.start()
        return await self._cluster.connected_ids()

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
        self._check_profile(ssl)
        await self._cluster.start()
        self._closed.clear()
        self._closing = False
        listener = Listener(self)
        await listener.listen(host, port, ssl)
        self._listener = listener
        bound: int = listener.sockets[0].getsockname()[1]
        self.logger.info("listening on port %d", bound)
        return bound

    def asgi(self) -> AsgiApp:
        """Return this server as an ASGI application, to mount in a web app.

        ``app.mount("/ocpp", server.asgi())`` in FastAPI or Starlette serves
        charge points at ``ws://host/ocpp/CP_ID`` on the web app's own port,
        with every handshake rule, event and limit of :meth:`listen`; a server
        may both listen and be mounted. The same object on every call.

        Returns:
            The :class:`~ocpp16.asgi.AsgiApp` (ASGI 3).

        Raises:
            ValueError: Security profile 3 (the ASGI server does not hand over the
                charge point's certificate), or profile 1 or 2 without an
                ``"authorization"`` listener.
        """
        app = self._asgi_app
        if app is None:
            from ocpp16.asgi import AsgiApp

            if self.security_profile == 3:
                raise ValueError(
                    "security profile 3 authenticates charge points by certificate, which an "
                    "ASGI server does not hand over: use listen(ssl=...)"
                )
            self._check_profile(None, tls_checked=False)
            self._asgi_app = app = AsgiApp(self)
        return app

    def _check_profile(self, context: _ssl.SSLContext | None, *, tls_checked: bool = True) -> None:
        """Refuse to start with a configuration that does not meet the security profile.

        ``tls_checked=False`` (a mounted server): TLS is the ASGI server's, not ours to check.
        """
        profile = self.security_profile
        if profile in (1, 2) and not self.listeners("authorization"):
            raise ValueError(
                f"security profile {profile} authenticates charge points by password: add an "
                "'authorization' listener that checks it (ocpp16.security.check_authorization_key)"
            )
        if profile >= 2 and context is None and tls_checked:
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
        """Stop accepting, drain every connection, close each with 1001, and wait for them.

        The listening sockets close at once (a handshake still under way gets
        HTTP 503, and so does a plain ``GET /health``: ``"status": "closing"``).
        Each connection then closes as :meth:`ClientBase.close` does: CALLs
        that arrive get no handler and no answer, the replies of running
        handlers go out within ``handler_timeout``, then the close frame (1001,
        going away). In-memory connections (``ocpp16.testing``)
        close alike; a server that never listened and holds none closes at once.
        Then it leaves its cluster.
        """
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        listener = self._listener
        if listener is not None:
            # Stop accepting; closing the connections is ours, after their drain.
            listener.close()
        connections = list(self._connections)
        if connections:
            results = await asyncio.gather(
                *(connection.close(1001) for connection in connections), return_exceptions=True
            )
            for result in results:
                if isinstance(result, Exception):
                    self._report(result)
        served = list(self._served.values())
        if served:
            await asyncio.gather(*served, return_exceptions=True)
        if listener is not None:
            await listener.wait_closed()
        await self._cluster.close()
        self._listener = None
        self._closed.set()
        self._emit_safe("close")

    # ------------------------------------------------------------------ handshake

    def _answer_http(self, method: str, path: str) -> HttpAnswer | None:
        """The server's own answer to a plain HTTP request (no WebSocket upgrade).

        Every transport asks this first for a request that is not an upgrade;
        ``None`` means the request goes on as a handshake and gets that answer
        (400 when it offers no subprotocol, as before).

        ``GET`` of a path whose last segment is ``health`` (``/health``,
        ``/ocpp/health``, a query string aside) gets the node's health; of
        ``metrics``, with metrics on, the Prometheus text of their registry.

        Args:
            method: The request's method.
            path: The request's path, query included.

        Returns:
            The answer, or ``None``.
        """
        if method != "GET":
            return None
        name = path.partition("?")[0].rstrip("/").rpartition("/")[2]
        if name == "health":
            return self._health()
        if name == "metrics" and self.metrics is not None:
            content_type, body = self.metrics.exposition()
            return HttpAnswer(200, content_type, body)
        return None

    def _health(self) -> HttpAnswer:
        """``GET /health``: 200 while serving, 503 once ``close()`` began.

        README "Metrics and health".
        """
        closing = self._closing
        body = {
            "status": "closing" if closing else "ok",
            "node": self._node,
            "charge_points": len(self._registry.connections),
            "redis": self._cluster.available,
        }
        return HttpAnswer(
            503 if closing else 200, "application/json", json.dumps(body).encode("utf-8")
        )

    def _handshake_timed_out(self, remote_address: Any) -> None:
        """A transport's opening handshake did not complete within ``handshake_timeout``."""
        self.logger.info("opening handshake from %s timed out", remote_address)
        if self._observers:
            notify(self._observers, self._report, "handshake_timeout", remote_address)

    async def _decide(
        self,
        path: str,
        headers: Mapping[str, str],
        offered: tuple[str, ...],
        remote_address: Any,
        peer_certificate: dict[str, Any] | None,
    ) -> Handshake | Refusal:
        """Every check of an opening handshake, in order: its Handshake, or its refusal."""
        handshake = read_handshake(
            path,
            headers,
            subprotocols=offered,
            remote_address=remote_address,
            peer_certificate=peer_certificate,
        )
        if isinstance(handshake, Refusal):
            return self._refuse(None, handshake, remote_address)
        cp_id = handshake.cp_id
        refusal = self._registry.admit(cp_id)
        if refusal is None:
            refusal = check_handshake(handshake, security_profile=self.security_profile)
        if refusal is None:
            authorized = await self._authorize(cp_id, handshake)
            if isinstance(authorized, Refusal):
                refusal = authorized
            else:
                handshake = authorized
        if refusal is None:
            # Only after authorization: an unauthenticated client must not learn
            # whether a charge point id is connected.
            refusal = await self._registry.check_duplicate(cp_id)
        if refusal is not None:
            return self._refuse(cp_id, refusal, remote_address)
        return handshake

    def _refuse(self, cp_id: str | None, refusal: Refusal, remote_address: Any) -> Refusal:
        """Log and announce a refusal; the reason says what was wrong, and from where."""
        where = (
            f"{remote_address[0]}:{remote_address[1]}"
            if isinstance(remote_address, tuple) and len(remote_address) >= 2
            else str(remote_address)
        )
        reason = f"{refusal.reason} (from {where})"
        level = logging.WARNING if refusal.status in (409, 503) else logging.INFO
        self.logger.log(level, "refused %r with HTTP %d: %s", cp_id, refusal.status, reason)
        self._emit_safe("refused", cp_id, refusal.status, reason)
        if self._observers:
            notify(self._observers, self._report, "refused", cp_id, refusal.status, reason)
        return refusal

    async def _authorize(self, cp_id: str, handshake: Handshake) -> Handshake | Refusal:
        """Ask every listener; the handshake, with the session they gave, or the refusal."""
        listeners = self.listeners("authorization")
        # No listener: accept.
        for listener in listeners:
            verdict = await self._ask(listener, cp_id, handshake)
            if isinstance(verdict, Refusal):
                return verdict
            if verdict.session is not None:
                # The next listener sees it; the last one given is the connection's.
                handshake = dataclasses.replace(handshake, session=verdict.session)
        return handshake

    async def _ask(
        self, listener: Callable[..., Any], cp_id: str, handshake: Handshake
    ) -> Accept | Refusal:
        """One listener's verdict: cb() or True accepts; cb(error), False or raising rejects."""
        verdict = await ask(
            listener, cp_id, handshake, timeout=self.options.handler_timeout, logger=self.logger
        )
        return verdict if isinstance(verdict, Accept) else unauthorized(verdict)

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
        self._observers = attached(self._observers, observer)

    def remove_observer(self, observer: Hooks) -> None:
        """Stop ``observer``: new connections no longer get it, and the current ones drop it.

        Args:
            observer: An observer attached with :meth:`add_observer`.

        Raises:
            ValueError: ``observer`` is not attached to this server.
        """
        self._observers = detached(self._observers, observer, "this server")
        for client in list(self.clients.values()):
            if observer in client._observers:
                client.remove_observer(observer)

    async def _serve_wire(self, wire: ServerWire, handshake: Handshake) -> None:
        """Serve a connection whose handshake the listener accepted, until it closes."""
        if self._closing:
            # Its handshake completed as close() began: it is not served.
            await wire.close(1001)
            return
        client = await self._accept(wire, handshake)
        self._serve(client)

    # ------------------------------------------------------------------ the transport seam
    #
    # Every transport reaches a connection through the same two steps, once
    # _decide has accepted its handshake: _accept (the connection factory, the
    # observers, the registry's claim, "connection"), then _serve (reading,
    # then, once it has ended, the registry's release). The listener runs them once it has
    # answered the handshake (_serve_wire);
    # a transport that no outside server holds (the in-memory pair of
    # ocpp16.testing) goes through _open, which serves it in a task that
    # close() ends with 1001 like the others.

    async def _accept(self, transport: Transport, handshake: Handshake) -> ClientBase:
        """Make the connection of an accepted handshake, register it and announce it.

        Args:
            transport: The open transport.
            handshake: What ``_decide`` accepted.

        Returns:
            The connection, attached and announced, not yet reading.
        """
        client = self._connection_factory(
            handshake.cp_id, role=Role.CENTRAL_SYSTEM, options=self.options
        )
        client._observers = self._observers
        client.session = handshake.session
        client._attach(transport)
        previous = await self._registry.claim(client)
        # After the claim, before any other await: a close() from now on drains it too.
        self._connections.add(client)
        if self._closing:
            # close() began while the registry claimed it: it gets close()'s 1001 too,
            # straight from its transport (its reading, which ends at once, has not
            # started, and close() did not see it).
            await transport.close(1001)
        if previous is not None:
            # A charger that reconnects while its stale socket lingers: the new one wins.
            self.logger.info("%r reconnected; closing its previous connection", handshake.cp_id)
            task = asyncio.create_task(previous.close(1000, "replaced by a new connection"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self.logger.info("%r connected from %s", handshake.cp_id, handshake.remote_address)
        self._emit_safe("connection", client)
        return client

    def _serve(self, client: ClientBase) -> asyncio.Future[None]:
        """Start reading an accepted connection; once it has ended, release its id.

        No task waits meanwhile: the transport hands the connection its frames,
        and the release runs in a task made when the connection has ended.

        Returns:
            A future done once the connection has ended and its id is released.
        """
        released: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._served[client] = released
        released.add_done_callback(lambda _: self._served.pop(client, None))

        def ended(_: object) -> None:
            task = asyncio.ensure_future(self._release(client))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda done: released.set_result(None))

        client._start_reading().add_done_callback(ended)
        return released

    async def _release(self, client: ClientBase) -> None:
        """Forget a connection that has ended, and release its id."""
        self._connections.discard(client)
        try:
            await self._registry.release(client)
        except Exception as exc:
            self._report(exc)

    async def _open(self, transport: Transport, handshake: Handshake) -> ClientBase:
        """Accept a connection that no outside server holds, and serve it in a task.

        Args:
            transport: The open transport (such as one end of an in-memory pair).
            handshake: What ``_decide`` accepted.

        Returns:
            The connection, announced and reading.

        Raises:
            ConnectionRefusedError: The server is closed or closing.
        """
        if self._closing:
            raise ConnectionRefusedError("the server is closed")
        client = await self._accept(transport, handshake)
        self._serve(client)
        return client
