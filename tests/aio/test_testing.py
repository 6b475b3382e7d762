"""ocpp16.testing: a Server and a Client connected in memory, with the network's rules, no socket."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from ocpp16 import (
    Client,
    ClientBase,
    ConnectionClosed,
    HandshakeError,
    LocalRegistry,
    NotConnected,
    Observer,
    OcppError,
    Server,
    ValidationError,
)
from ocpp16.testing import DEFAULT_URL, ConnectFactory, Pair, connect
from tests.helpers import NOW, future_and_setter, listening, url, wait

pytest_plugins = ["ocpp16.testing.pytest_plugin"]

BOOT = {"chargePointVendor": "eParking", "chargePointModel": "NECU-T2"}
BOOT_OK = {"status": "Accepted", "interval": 60, **NOW}


def central_system(**options: Any) -> Server:
    """A configured central system, as an application builds it: never listening."""
    server = Server(**options)

    @server.on("connection")
    def on_connection(client: ClientBase) -> None:
        client.on("BootNotification", lambda request: BOOT_OK)
        client.on("Heartbeat", lambda request: NOW)

        def refuse(request: Any) -> None:
            raise OcppError("NotSupported", "no local list here", {"hint": "ask later"})

        client.on("Authorize", refuse)
        # A response that breaks its schema: the peer gets InternalError.
        client.on("StatusNotification", lambda request: {"unexpected": True})

    return server


@asynccontextmanager
async def over(kind: str, server: Server, client: Client) -> AsyncIterator[Pair]:
    """``client`` connected to ``server`` in memory, or over a real socket on 127.0.0.1."""
    if kind == "memory":
        async with connect(server, client) as pair:
            yield pair
        return
    await server.listen(0, host="127.0.0.1")
    try:
        seen, on_connection = future_and_setter()
        server.on("connection", on_connection)
        await wait(client.connect(url(server)))
        peer = await wait(seen)
        try:
            yield Pair(client, peer)
        finally:
            await client.close()
    finally:
        await server.close()


async def outcome(future: asyncio.Future[Any]) -> Any:
    """A call's result, or its error as (type, code, description, details)."""
    try:
        return await wait(future)
    except OcppError as exc:
        return (type(exc).__name__, exc.code, exc.description, exc.details)


class TestHandlers:
    """Handlers answer through the pair exactly as they do over the network."""

    @pytest.mark.parametrize("kind", ["memory", "network"])
    async def test_calls_both_ways_errors_and_validation(self, kind: str) -> None:
        """CALLs both ways, a CALLERROR, an invalid request and an invalid response: the same outcomes."""
        server = central_system()
        client = Client("CP1")
        client.on("Reset", lambda request: {"status": "Accepted"})
        async with over(kind, server, client) as (client, peer):
            assert await wait(client.call_request("BootNotification", BOOT)) == BOOT_OK
            assert await wait(server.call_request("CP1", "Reset", {"type": "Soft"})) == {
                "status": "Accepted"
            }
            assert await wait(peer.call_request("Reset", {"type": "Hard"})) == {
                "status": "Accepted"
            }
            assert await outcome(client.call_request("Authorize", {"idTag": "T1"})) == (
                "OcppError",
                "NotSupported",
                "no local list here",
                {"hint": "ask later"},
            )
            # Strict mode on this side: an invalid request is not sent.
            invalid = await outcome(client.call_request("BootNotification", {}))
            assert invalid[:2] == ("ValidationError", "ProtocolError")
            # The handler's invalid response is not sent: InternalError names the handler.
            status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
            internal = await outcome(client.call_request("StatusNotification", status))
            assert internal[:2] == ("OcppError", "InternalError")
            assert "StatusNotification handler's response is invalid" in internal[2]
            # An action the charge point has no listener for: NotSupported.
            assert (await outcome(server.call_request("CP1", "ClearCache")))[1] == "NotSupported"

    async def test_a_request_the_server_refuses(self) -> None:
        """A charge point that does not validate sends an invalid CALL; the server's core refuses it."""
        server = central_system()
        bad, on_bad = future_and_setter()
        async with connect(server, Client("CP1", validation="off")) as (client, peer):
            peer.on("bad_message", on_bad)
            with pytest.raises(OcppError) as refused:
                await wait(client.call_request("BootNotification", {"chargePointVendor": "x"}))
            assert refused.value.code == "ProtocolError"
            assert not isinstance(refused.value, ValidationError)
            _, error = await wait(bad)
            assert error.code == "ProtocolError"

    async def test_a_connection_listener_may_call_at_once(self) -> None:
        """A CALL made in the "connection" listener reaches the charge point's handlers."""
        server = Server()
        answered, on_answer = future_and_setter()

        @server.on("connection")
        def on_connection(peer: ClientBase) -> None:
            peer.call_request("GetConfiguration", {}).add_done_callback(
                lambda future: on_answer(future.result())
            )

        client = Client("CP1")
        client.on("GetConfiguration", lambda request: {"configurationKey": []})
        async with connect(server, client):
            assert await wait(answered) == {"configurationKey": []}


class TestHandshake:
    """The server's handshake rules run for the in-memory handshake, refusals included."""

    async def test_an_authorization_refusal(self) -> None:
        """A listener's refusal is HTTP 401: HandshakeError, "refused", and no connection at all."""
        server = central_system()
        asked: list[tuple[str, Any]] = []

        @server.on("authorization")
        def authorize(cp_id: str, handshake: Any, cb: Any) -> None:
            asked.append((cp_id, handshake.remote_address))
            cb(None if cp_id == "CP1" else "unknown charger")

        refused, on_refused = future_and_setter()
        server.on("refused", on_refused)
        connections: list[ClientBase] = []
        server.on("connection", connections.append)
        with pytest.raises(HandshakeError) as info:
            async with connect(server, Client("CP9"), remote_address=("192.0.2.7", 50312)):
                pytest.fail("a refused charge point got a connection")
        assert info.value.status == 401
        assert str(info.value) == (
            "ws://testserver/ocpp/CP9 refused the connection with HTTP 401: Unauthorized."
        )
        assert await wait(refused) == ("CP9", 401, "unknown charger (from 192.0.2.7:50312)")
        assert connections == [] and "CP9" not in server.clients
        async with connect(server, Client("CP1")) as (client, peer):
            assert await wait(client.call_request("BootNotification", BOOT)) == BOOT_OK
            assert connections == [peer]
        assert asked == [("CP9", ("192.0.2.7", 50312)), ("CP1", ("127.0.0.1", 0))]

    async def test_basic_auth_and_security_profile(self) -> None:
        """Under profile 1 the client's password goes as Basic auth; a wrong one is 401."""
        server = Server(security_profile=1)

        @server.on("authorization")
        def authorize(cp_id: str, handshake: Any) -> bool:
            return bool(handshake.password == b"s3cret")

        async with connect(server, Client("CP1", password="s3cret")) as (_, peer):
            assert peer.handshake is not None
            assert (peer.handshake.username, peer.handshake.password) == ("CP1", b"s3cret")
        with pytest.raises(HandshakeError) as wrong:
            async with connect(server, Client("CP1", password="guess")):
                pass
        with pytest.raises(HandshakeError) as none:
            async with connect(server, Client("CP1")):
                pass
        assert wrong.value.status == none.value.status == 401

    async def test_subprotocol_duplicates_and_the_cap(self) -> None:
        """No ocpp1.6 offered is 400, a duplicate id under "reject" 409, one past the cap 503."""
        server = Server(duplicate_id="reject", max_connections=2)
        statuses: list[int] = []
        server.on("refused", lambda cp_id, status, reason: statuses.append(status))
        with pytest.raises(HandshakeError):
            async with connect(server, "CP1", subprotocols=["ocpp2.0.1"]):
                pass
        async with connect(server, "CP1"):
            with pytest.raises(HandshakeError):
                async with connect(server, "CP1"):
                    pass
            async with connect(server, "CP2"):
                with pytest.raises(HandshakeError):
                    async with connect(server, "CP3"):
                        pass
        assert statuses == [400, 409, 503]

    async def test_a_new_connection_replaces_the_old(self) -> None:
        """Under "replace" the second CP1 wins; the first is closed with 1000."""
        server = Server()
        async with connect(server, "CP1") as (first, first_peer):
            closed, on_close = future_and_setter()
            first.on("close", on_close)
            async with connect(server, "CP1") as (_, second_peer):
                assert await wait(closed) == (1000, "replaced by a new connection")
                assert server.clients["CP1"] is second_peer is not first_peer
            assert not first.is_open
        assert dict(server.clients) == {}

    async def test_the_url_path_query_and_addresses(self) -> None:
        """The URL's path and query reach the handshake; each end sees the other's address."""
        server = Server()
        url = "wss://csms.example:8443/ocpp/v16?tenant=acme"
        certificate = {"subject": ((("commonName", "CP/1"),),)}
        async with connect(
            server,
            "CP/1",
            url,
            headers={"X-Site": "depot"},
            remote_address=("192.0.2.7", 50312),
            peer_certificate=certificate,
        ) as (client, peer):
            handshake = peer.handshake
            assert handshake is not None
            assert (handshake.cp_id, handshake.path) == ("CP/1", "/ocpp/v16/CP%2F1?tenant=acme")
            assert handshake.query == {"tenant": "acme"} and handshake.headers["x-site"] == "depot"
            assert handshake.peer_certificate == certificate
            assert peer.remote_address == ("192.0.2.7", 50312)
            assert client.remote_address == ("csms.example", 8443)
            assert client.subprotocol == peer.subprotocol == "ocpp1.6"

    async def test_what_connect_refuses_before_the_handshake(self) -> None:
        """A bad URL, a client already connected and a closed server are refused as the network does."""
        server = Server()
        with pytest.raises(HandshakeError, match="is not a WebSocket URL"):
            async with connect(server, "CP1", "http://testserver/ocpp"):
                pass
        with pytest.raises(ValueError, match="fragment"):
            async with connect(server, "CP1", "ws://testserver/ocpp#here"):
                pass
        async with connect(server, "CP1") as (client, _):
            with pytest.raises(RuntimeError, match="already connected"):
                async with connect(server, client):
                    pass
        await server.close()
        with pytest.raises(ConnectionRefusedError):
            async with connect(server, "CP1"):
                pass


class TestLifeCycle:
    """Closing, server.clients, server.close(), and everything the server applies."""

    async def test_close_codes_reach_the_other_end(self) -> None:
        """A close's code and reason reach the other end, from either side; pending calls fail."""
        server = Server()
        server.on("connection", lambda peer: peer.on("Heartbeat", lambda request, cb: None))
        async with connect(server, "CP1") as (client, peer):
            closed, on_close = future_and_setter()
            peer.on("close", on_close)
            pending = client.call_request("Heartbeat")
            await client.close(4001, "going for maintenance")
            assert await wait(closed) == (4001, "going for maintenance")
            with pytest.raises(ConnectionClosed) as info:
                await wait(pending)
            assert (info.value.code, info.value.reason) == (4001, "going for maintenance")
        async with connect(server, "CP1") as (client, peer):
            closed, on_close = future_and_setter()
            client.on("close", on_close)
            await peer.close(4000, "firmware update")
            assert await wait(closed) == (4000, "firmware update")
            assert not client.is_open

    async def test_clients_hold_the_connection_while_it_is_open(self) -> None:
        """server.clients holds each connection while open; leaving the context releases it."""
        server = Server()
        async with connect(server, "CP1") as (_, one), connect(server, "CP2") as (two_client, two):
            assert dict(server.clients) == {"CP1": one, "CP2": two}
            await two_client.close()
        assert dict(server.clients) == {}
        with pytest.raises(NotConnected):
            await wait(server.call_request("CP1", "Reset", {"type": "Soft"}))

    async def test_a_client_connects_again(self) -> None:
        """The same Client connects again after its connection closed, with its handlers."""
        server = Server()
        client = Client("CP1")
        client.on("Reset", lambda request: {"status": "Accepted"})
        connects: list[str] = []
        client.on("connect", lambda: connects.append("connect"))
        for _ in range(2):
            async with connect(server, client):
                reset = await wait(server.call_request("CP1", "Reset", {"type": "Soft"}))
                assert reset == {"status": "Accepted"}
        assert connects == ["connect", "connect"]

    async def test_server_close_closes_memory_connections_with_1001(self) -> None:
        """server.close() closes in-memory connections with 1001, waits for them, and emits "close"."""
        server = Server()
        server_closed, on_server_close = future_and_setter()
        server.on("close", on_server_close)
        async with connect(server, "CP1") as (client, _):
            closed, on_close = future_and_setter()
            client.on("close", on_close)
            await wait(server.close())
            assert await wait(closed) == (1001, "")
            assert dict(server.clients) == {}
            await wait(server_closed)

    async def test_a_server_that_never_listened_closes(self) -> None:
        """close() on a server that never listened returns (it used to wait forever), and so does a second one."""
        server = Server()
        await wait(server.close())
        await wait(server.close())
        await wait(server.serve_forever())

    async def test_a_close_while_the_registry_claims(self) -> None:
        """A connection the registry was claiming when close() began gets the same 1001."""
        entered = asyncio.Event()
        gate = asyncio.Event()

        class SlowRegistry(LocalRegistry):
            async def claim(self, connection: ClientBase) -> ClientBase | None:
                entered.set()
                await gate.wait()
                return await super().claim(connection)

        server = Server(registry=SlowRegistry())

        client = Client("CP1")
        closed, on_close = future_and_setter()
        client.on("close", on_close)

        async def connect_and_wait() -> tuple[int, str]:
            async with connect(server, client):
                result: tuple[int, str] = await wait(closed)
                return result

        connecting = asyncio.ensure_future(connect_and_wait())
        await wait(entered.wait())
        await wait(server.close())
        gate.set()
        assert await wait(connecting) == (1001, "")
        assert dict(server.clients) == {}

    async def test_a_close_while_the_listeners_decide(self) -> None:
        """A handshake still being authorized when close() began is refused like a closed server's."""
        asked = asyncio.Event()
        gate = asyncio.Event()
        server = Server()

        @server.on("authorization")
        async def authorize(cp_id: str, handshake: Any) -> bool:
            asked.set()
            await gate.wait()
            return True

        connecting = asyncio.ensure_future(connect(server, "CP1").__aenter__())
        await wait(asked.wait())
        await wait(server.close())
        gate.set()
        with pytest.raises(ConnectionRefusedError):
            await wait(connecting)
        assert dict(server.clients) == {}

    async def test_observers_options_and_factory_apply(self) -> None:
        """The server's observers, options and connection factory apply to in-memory connections."""

        class Counting(Observer):
            def __init__(self) -> None:
                self.seen: list[str] = []

            def connect(self, connection: ClientBase) -> None:
                self.seen.append(f"connect {connection.cp_id}")

            def call_received(self, connection: ClientBase, *args: Any) -> None:
                self.seen.append(f"call {args[1]}")

            def close(self, connection: ClientBase, code: int, reason: str) -> None:
                self.seen.append(f"close {code}")

            def refused(self, cp_id: str | None, status: int, reason: str) -> None:
                self.seen.append(f"refused {cp_id} {status}")

        class MyConnection(ClientBase):
            pass

        observer = Counting()
        server = Server(connection_factory=MyConnection, call_timeout=7, ping_interval=None)
        server.add_observer(observer)
        server.on("connection", lambda peer: peer.on("Heartbeat", lambda request: NOW))
        server.on("authorization", lambda cp_id, handshake: cp_id != "CP9")
        with pytest.raises(HandshakeError):
            async with connect(server, "CP9"):
                pass
        async with connect(server, "CP1") as (client, peer):
            assert isinstance(peer, MyConnection)
            assert peer.options.call_timeout == 7 and peer.ping_interval is None
            assert client.ping_interval == client.options.ping_interval
            await wait(client.call_request("Heartbeat"))
        assert observer.seen == ["refused CP9 401", "connect CP1", "call Heartbeat", "close 1000"]


class TestNoSocket:
    """In-memory connections open no socket, and the module needs no pytest."""

    async def test_no_socket_is_opened(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A whole exchange runs with every way of opening a socket made to fail."""

        def no_sockets(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a socket was opened")

        for name in ("create_connection", "create_server"):
            monkeypatch.setattr(asyncio.BaseEventLoop, name, no_sockets)
        for name in ("connect", "connect_ex", "bind"):
            monkeypatch.setattr(socket.socket, name, no_sockets)
        server = central_system()
        async with connect(server, "CP1") as (client, _):
            assert await wait(client.call_request("BootNotification", BOOT)) == BOOT_OK
        assert server.port is None and server.sockets == ()
        await server.close()
        # The patches bite: a real listen fails.
        with pytest.raises(AssertionError, match="a socket was opened"):
            await listening()

    def test_the_module_imports_without_pytest(self) -> None:
        """Importing ocpp16.testing works where pytest and pytest-asyncio are missing."""
        code = (
            "import sys; sys.modules['pytest'] = None; sys.modules['pytest_asyncio'] = None\n"
            "import ocpp16.testing\n"
            "assert 'pytest' not in ocpp16.testing.__dict__\n"
            "try:\n"
            "    import ocpp16.testing.pytest_plugin\n"
            "except ImportError as exc:\n"
            "    print(exc)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() != ""  # the plugin itself does need pytest


class TestFixtures:
    """The pytest plugin's fixtures: a server that never listens, and a factory of pairs."""

    async def test_the_fixtures_connect_charge_points(
        self, ocpp_server: Server, ocpp_connect: ConnectFactory
    ) -> None:
        """ocpp_connect connects charge points to ocpp_server in memory."""
        assert ocpp_server.port is None
        ocpp_server.on("connection", lambda peer: peer.on("Heartbeat", lambda request: NOW))
        client, peer = await ocpp_connect("CP1")
        other = await ocpp_connect(Client("CP2"), DEFAULT_URL + "?site=2")
        assert dict(ocpp_server.clients) == {"CP1": peer, "CP2": other.peer}
        assert other.peer.handshake is not None and other.peer.handshake.query == {"site": "2"}
        assert await wait(client.call_request("Heartbeat")) == NOW
        with pytest.raises(HandshakeError):
            await ocpp_connect("CP3", subprotocols=())


# The charge points TestFixtureTeardown opened, for its ocpp_server to check at teardown.
OPENED: list[Client] = []


class TestFixtureTeardown:
    """An application's own ocpp_server overrides the plugin's, and ocpp_connect cleans up."""

    @pytest.fixture
    async def ocpp_server(self) -> AsyncIterator[Server]:
        """The application's server; after ocpp_connect's teardown, nothing of it is left."""
        OPENED.clear()
        server = central_system()
        yield server
        assert OPENED and not any(client.is_open for client in OPENED)
        assert dict(server.clients) == {}
        await server.close()

    async def test_an_overridden_server_and_the_teardown(
        self, ocpp_connect: ConnectFactory
    ) -> None:
        """ocpp_connect uses the overriding ocpp_server; its teardown closes what it opened."""
        client, _ = await ocpp_connect("CP1")
        other, _ = await ocpp_connect("CP2")
        OPENED.extend([client, other])
        assert await wait(client.call_request("BootNotification", BOOT)) == BOOT_OK


async def test_a_durable_client_is_refused_with_a_reason() -> None:
    """A Client that reconnects by itself is refused with a ValueError, not half-connected."""
    server = Server()
    with pytest.raises(ValueError, match="without reconnect or store"):
        async with connect(server, Client("CP1", reconnect=True)):
            pass
    assert dict(server.clients) == {}
    await server.close()
