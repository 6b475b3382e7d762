"""Test handlers without sockets: a ``Server`` and a ``Client`` connected in memory.

:func:`connect` joins a configured :class:`~ocpp16.server.Server` and a
:class:`~ocpp16.client.Client` over an in-memory pair instead of a WebSocket:
the same protocol core, the same handshake rules, handlers, listeners,
options, observers and registry; only the wire differs, and no socket is
opened. A test of a central system's handlers runs in milliseconds::

    from ocpp16 import Client
    from ocpp16.testing import connect

    async def test_boot() -> None:
        server = make_my_central_system()  # a Server with its listeners, never listening
        async with connect(server, Client("CP1")) as (client, peer):
            answer = await client.call_request("BootNotification", {...})
            assert answer["status"] == "Accepted"
            assert server.clients["CP1"] is peer

pytest fixtures (``ocpp_server``, ``ocpp_connect``) live in
:mod:`ocpp16.testing.pytest_plugin`, which a test suite opts into with
``pytest_plugins = ["ocpp16.testing.pytest_plugin"]``; this module itself
needs no pytest.

What the in-memory wire does not do: TLS (the security profiles' TLS
requirements are not checked; ``peer_certificate=`` gives an
``"authorization"`` listener a client certificate), keepalive pings, and the
``max_message_size`` limit. Everything above the wire is the network's code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit

from websockets.datastructures import Headers

from ocpp16._memory_transport import memory_pair
from ocpp16.client import Client
from ocpp16.connection import ClientBase
from ocpp16.errors import HandshakeError
from ocpp16.handshake import SUBPROTOCOL, Refusal, offered_subprotocols
from ocpp16.server import Server

__all__ = ["DEFAULT_URL", "ConnectFactory", "Pair", "connect"]

DEFAULT_URL = "ws://testserver/ocpp"
"""The central system's base URL that :func:`connect` uses unless given one."""


class Pair(NamedTuple):
    """A charge point and the central system's connection for it, connected in memory.

    Attributes:
        client: The charge point's :class:`~ocpp16.client.Client`.
        peer: The server's :class:`~ocpp16.connection.ClientBase` for it, as
            its ``"connection"`` listeners received it and
            ``server.clients[cp_id]`` holds it.
    """

    client: Client
    peer: ClientBase


class ConnectFactory(Protocol):
    """The ``ocpp_connect`` fixture: connects a charge point to ``ocpp_server`` in memory.

    Takes what :func:`connect` takes after the server, returns the :class:`Pair`
    at once, and closes the connection when the test ends.
    """

    async def __call__(
        self,
        client: Client | str = "CP1",
        url: str = DEFAULT_URL,
        *,
        headers: Mapping[str, str] | None = None,
        subprotocols: Sequence[str] = (SUBPROTOCOL,),
        remote_address: Any = ("127.0.0.1", 0),
        peer_certificate: dict[str, Any] | None = None,
    ) -> Pair:
        """Connect ``client`` (a ``Client``, or a charge point id for a new one)."""
        ...


@asynccontextmanager
async def connect(
    server: Server,
    client: Client | str,
    url: str = DEFAULT_URL,
    *,
    headers: Mapping[str, str] | None = None,
    subprotocols: Sequence[str] = (SUBPROTOCOL,),
    remote_address: Any = ("127.0.0.1", 0),
    peer_certificate: dict[str, Any] | None = None,
) -> AsyncIterator[Pair]:
    """Connect a charge point to a server in memory; close the connection on exit.

    The handshake goes through the server's rules in their order, as over the
    network: the charge point id from the path, the connection cap, the
    subprotocol, Basic auth under profiles 1 and 2 (the client's ``password``
    is sent), the ``"authorization"`` listeners, duplicate ids; a refusal
    fires ``"refused"`` and raises as ``Client.connect`` does. Once accepted,
    the server makes the connection with its ``connection_factory`` and
    observers, its registry holds it (``server.clients``,
    ``server.call_request``), its ``"connection"`` listeners run, and the
    client emits ``"connect"``. The server never listens.

    On exit the client closes with 1000 (unless it already closed) and the
    context waits until the server has let the connection go.
    ``server.close()`` closes these connections with 1001, as it does its
    network ones.

    Args:
        server: The central system, configured as the application does.
        client: The charge point; a string makes ``Client(client)``.
        url: The central system's base URL, as ``Client.connect`` takes it:
            the charge point id is appended, and its path and query reach the
            server (``handshake.path``, ``handshake.query``).
        headers: Extra HTTP headers of the opening handshake.
        subprotocols: The subprotocols the charge point offers.
        remote_address: The charge point's address, as the server sees it
            (``handshake.remote_address``, ``peer.remote_address``).
        peer_certificate: The TLS client certificate the handshake carries
            (as ``ssl.SSLSocket.getpeercert()`` gives it), for security
            profile 3 listeners; ``None`` for none.

    Yields:
        The :class:`Pair` ``(client, peer)``.

    Raises:
        HandshakeError: The server refused the handshake (``.status`` says
            how), or ``url`` is not a ``ws://`` or ``wss://`` URL.
        ConnectionRefusedError: The server is closed.
        RuntimeError: The client is already connected.
        ValueError: ``url`` has a fragment, or the client reconnects by itself
            or keeps a queue (``reconnect``/``store``): such a client manages
            its own connections, over the network.
    """
    if isinstance(client, str):
        client = Client(client)
    if client._durable is not None:
        raise ValueError(
            f"{client.cp_id}: ocpp16.testing.connect takes a Client without reconnect or "
            "store; a durable Client opens its own connections"
        )
    if client.is_open:
        raise RuntimeError(f"{client.cp_id} is already connected")
    target = client.url_for(url)
    parts = urlsplit(target)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise HandshakeError(f"{target!r} is not a WebSocket URL")
    if server._closing:
        raise ConnectionRefusedError(f"{target}: the server is closed")
    request_headers = _request_headers(client, parts.netloc, headers, subprotocols)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    decision = await server._decide(
        path,
        request_headers,
        offered_subprotocols(request_headers.get_all("Sec-WebSocket-Protocol")),
        remote_address,
        peer_certificate,
    )
    if isinstance(decision, Refusal):
        body = decision.body.strip()
        raise HandshakeError(
            f"{target} refused the connection with HTTP {decision.status}"
            + (f": {body}" if body else ""),
            decision.status,
        )
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    charge_point_end, central_end = memory_pair(
        decision,
        charge_point_address=remote_address,
        central_system_address=(parts.hostname, port),
    )
    # No pings cross a memory pair, but each end reads its settings as over the network.
    for end, options in ((charge_point_end, client.options), (central_end, server.options)):
        end.ping_interval, end.ping_timeout = options.ping_interval, options.ping_timeout
    peer = await server._open(central_end, decision)
    served = server._served.get(peer)
    try:
        client._start(charge_point_end, target)
        yield Pair(client, peer)
    finally:
        await client.close()
        if served is not None:
            await served


def _request_headers(
    client: Client,
    host: str,
    headers: Mapping[str, str] | None,
    subprotocols: Sequence[str],
) -> Headers:
    """The HTTP headers of the opening handshake, as a WebSocket client sends them."""
    # RFC 6455 §4.1: the upgrade request's headers.
    request = Headers(
        [
            ("Host", host),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
        ]
    )
    for name, value in client._handshake_headers(headers).items():
        request[name] = value
    if subprotocols:
        request["Sec-WebSocket-Protocol"] = ", ".join(subprotocols)
    return request
