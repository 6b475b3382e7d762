"""The opening handshake over real sockets: ids, subprotocols, authorization, refusals, caps, duplicates."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import InvalidStatus

from ocpp16 import (
    Client,
    ClientBase,
    Handshake,
    HandshakeError,
    OcppError,
    Options,
    Server,
)
from tests.helpers import (
    NOW,
    TIMEOUT,
    connect_pair,
    future_and_setter,
    over_transports,
    port,
    raw_peer,
    serve_test,
    url,
    wait,
)

BOOT = {"chargePointVendor": "eParking", "chargePointModel": "NECU-T2"}
BOOT_OK = {"status": "Accepted", "interval": 60, "currentTime": "2024-05-01T12:00:00Z"}
STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}


def _refusals(server: Server) -> list[tuple[str | None, int, str]]:
    seen: list[tuple[str | None, int, str]] = []
    server.on("refused", lambda cp_id, status, reason: seen.append((cp_id, status, reason)))
    return seen


async def _refused_status(address: str, subprotocols: list[str] | None = None) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with asyncio.timeout(TIMEOUT):
            await ws_connect(address, subprotocols=subprotocols or ["ocpp1.6"])  # type: ignore[list-item]
    return refused.value.response.status_code


class TestHandshake:
    """Subprotocol, charge point id, and the "authorization" event."""

    @over_transports
    async def test_no_subprotocol_is_http_400(self, server: Server) -> None:
        """A client that does not offer ocpp1.6 is refused with HTTP 400."""
        for offered in ([], ["ocpp2.0.1"]):
            with pytest.raises(InvalidStatus) as info:
                async with raw_peer(server, subprotocols=offered):
                    pass
            assert info.value.response.status_code == 400
        assert server.clients == {}

    @over_transports
    async def test_empty_id_is_http_400(self, server: Server) -> None:
        """A URL whose last path segment is empty has no charge point id: HTTP 400."""
        with pytest.raises(InvalidStatus) as info:
            async with ws_connect(f"{url(server)}/", subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
                pass
        assert info.value.response.status_code == 400

    @over_transports
    async def test_id_is_the_last_segment_percent_decoded(self, server: Server) -> None:
        """The id is the last path segment, percent-decoded, without the query."""
        seen, on_connection = future_and_setter()
        server.on("connection", on_connection)
        target = f"ws://127.0.0.1:{port(server)}/a/b/CP%201%2F2?token=x"
        async with ws_connect(target, subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
            client = await wait(seen)
            assert client.get_cp_id() == "CP 1/2" == client.cp_id

    @over_transports
    async def test_client_quotes_its_id(self, server: Server) -> None:
        """Client joins base + "/" + the percent-quoted id, whatever the base's trailing slash."""
        client = Client("CP 1/ü")
        assert client.url_for("ws://h/ocpp/") == "ws://h/ocpp/CP%201%2F%C3%BC"
        assert client.url_for("ws://h/ocpp") == "ws://h/ocpp/CP%201%2F%C3%BC"
        seen, on_connection = future_and_setter()
        server.on("connection", on_connection)
        await client.connect(url(server) + "/")
        assert (await wait(seen)).cp_id == "CP 1/ü"
        await client.close()

    @over_transports
    async def test_handshake_fields(self, server: Server) -> None:
        """The handshake carries path, headers, address, offered subprotocols and Basic auth."""
        seen, on_auth = future_and_setter()

        def authorize(cp_id: str, handshake: Handshake, cb: Any) -> None:
            on_auth(handshake)
            cb()

        server.on("authorization", authorize)
        token = base64.b64encode(b"CP1:pa:ss\x00\xff").decode()
        client = Client("CP1")
        await client.connect(
            url(server), headers={"Authorization": f"Basic {token}", "X-Extra": "1"}
        )
        handshake: Handshake = await wait(seen)
        assert handshake.cp_id == "CP1"
        assert handshake.path == "/ocpp/CP1"
        assert handshake.headers["X-Extra"] == "1"
        assert handshake.remote_address[0] == "127.0.0.1"
        assert handshake.subprotocols == ("ocpp1.6",)
        assert handshake.username == "CP1"
        assert handshake.password == b"pa:ss\x00\xff"
        assert handshake.peer_certificate is None
        await client.close()

    @over_transports
    async def test_no_authorization_header(self, server: Server) -> None:
        """Without Basic auth, username and password are None."""
        seen, on_auth = future_and_setter()
        server.on("authorization", lambda cp_id, hs, cb: on_auth(hs) or True)
        client = Client("CP1")
        await client.connect(url(server), headers={"Authorization": "Bearer abc"})
        handshake = await wait(seen)
        assert (handshake.username, handshake.password) == (None, None)
        await client.close()

    @pytest.mark.parametrize(
        "style",
        ["cb", "true", "awaitable-true", "async-cb"],
    )
    @over_transports
    async def test_authorization_accepts(self, server: Server, style: str) -> None:
        """Accept with cb(), by returning True, or with an awaitable of True."""

        def by_cb(cp_id: str, hs: Handshake, cb: Any) -> None:
            cb()

        def by_true(cp_id: str, hs: Handshake, cb: Any) -> bool:
            return True

        async def by_awaitable(cp_id: str, hs: Handshake, cb: Any) -> bool:
            await asyncio.sleep(0)
            return True

        async def by_async_cb(cp_id: str, hs: Handshake, cb: Any) -> None:
            asyncio.get_running_loop().call_soon(cb)

        listener = {
            "cb": by_cb,
            "true": by_true,
            "awaitable-true": by_awaitable,
            "async-cb": by_async_cb,
        }[style]
        server.on("authorization", listener)
        client, peer = await connect_pair(server)
        assert peer.cp_id == "CP1"
        await client.close()

    @over_transports
    @pytest.mark.parametrize("style", ["cb-error", "false", "raise", "awaitable-false"])
    async def test_authorization_rejects_with_401(self, server: Server, style: str) -> None:
        """Reject with cb(error), False, or raising: HTTP 401, no connection, no handler runs."""

        def by_cb(cp_id: str, hs: Handshake, cb: Any) -> None:
            cb(OcppError("SecurityError", "unknown charger"))

        def by_false(cp_id: str, hs: Handshake, cb: Any) -> bool:
            return False

        def by_raise(cp_id: str, hs: Handshake, cb: Any) -> None:
            raise PermissionError("no")

        async def by_awaitable(cp_id: str, hs: Handshake, cb: Any) -> bool:
            return False

        listener = {
            "cb-error": by_cb,
            "false": by_false,
            "raise": by_raise,
            "awaitable-false": by_awaitable,
        }[style]
        server.on("authorization", listener)
        connections: list[ClientBase] = []
        server.on("connection", connections.append)
        client = Client("CP1")
        with pytest.raises(HandshakeError) as info:
            await wait(client.connect(url(server)))
        assert info.value.status == 401
        assert "401" in str(info.value)
        assert connections == [] and server.clients == {}

    @over_transports
    async def test_every_authorization_listener_must_accept(self, server: Server) -> None:
        """With several listeners, one rejection is enough to refuse."""
        server.on("authorization", lambda cp_id, hs, cb: True)
        server.on("authorization", lambda cp_id, hs, cb: cp_id != "BAD")
        with pytest.raises(HandshakeError):
            await wait(Client("BAD").connect(url(server)))
        client, _ = await connect_pair(server, "GOOD")
        await client.close()

    @over_transports
    async def test_undecided_authorization_is_rejected_after_handler_timeout(
        self, served_by: str
    ) -> None:
        """A listener that never decides is refused after handler_timeout, not hung forever."""
        async with Server(handler_timeout=0.2) as server:
            await serve_test(server)
            server.on("authorization", lambda cp_id, hs, cb: None)
            with pytest.raises(HandshakeError) as info:
                await wait(Client("CP1").connect(url(server)))
            assert info.value.status == 401

    async def test_client_refuses_server_without_ocpp16(self) -> None:
        """A server that answers without ocpp1.6 makes Client.connect fail."""

        async def handler(ws: ServerConnection) -> None:
            await ws.wait_closed()

        async with serve(handler, "127.0.0.1", 0) as plain:
            port = plain.sockets[0].getsockname()[1]
            client = Client("CP1")
            with pytest.raises(HandshakeError, match=r"did not agree on the subprotocol ocpp1\.6"):
                await wait(client.connect(f"ws://127.0.0.1:{port}"))
            assert not client.is_open

    async def test_client_bad_url(self) -> None:
        """A URL that is not ws:// or wss:// is a HandshakeError saying so."""
        with pytest.raises(HandshakeError, match="not a WebSocket URL"):
            await Client("CP1").connect("http://127.0.0.1:1/ocpp")

    async def test_client_unreachable(self) -> None:
        """Nothing listening: the OSError of the network, as is."""
        probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = probe.sockets[0].getsockname()[1]
        probe.close()
        await probe.wait_closed()
        with pytest.raises(OSError):
            await wait(Client("CP1").connect(f"ws://127.0.0.1:{port}/ocpp"))

    async def test_client_id_must_be_a_string(self) -> None:
        """Client("") has no id to send: refused at once."""
        with pytest.raises(ValueError, match="charge point id"):
            Client("")

    async def test_connect_twice_is_refused(
        self, pair: tuple[Client, ClientBase], server: Server
    ) -> None:
        """A connected Client cannot connect again before closing."""
        client, _ = pair
        with pytest.raises(RuntimeError, match="already connected"):
            await client.connect(url(server))


class TestAuthorizationListeners:
    """Authorization listeners with and without cb, and a server on several hosts."""

    @over_transports
    async def test_listener_without_cb(self, server: Server) -> None:
        """fn(cp_id, handshake) without cb decides by returning True or False."""

        async def only_known(cp_id: str, handshake: Handshake) -> bool:
            return cp_id == "KNOWN"

        server.on("authorization", only_known)
        client, _ = await connect_pair(server, "KNOWN")
        await client.close()
        with pytest.raises(HandshakeError) as info:
            await wait(Client("STRANGER").connect(url(server)))
        assert info.value.status == 401

    @over_transports
    async def test_listener_without_cb_returning_none_refuses(
        self, server: Server, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Without cb, a listener that returns None gave no verdict: refused, and the log says why."""
        server.on("authorization", lambda cp_id, handshake: None)
        with pytest.raises(HandshakeError):
            await wait(Client("CP1").connect(url(server)))
        assert "must return True or False" in caplog.text

    async def test_listen_on_a_list_of_hosts(self) -> None:
        """listen() takes a list of addresses, as loop.create_server does."""
        async with Server() as server:
            port = await server.listen(0, host=["127.0.0.1"])
            assert server.port == port
            client, peer = await connect_pair(server)
            assert peer.handshake is not None and peer.handshake.cp_id == "CP1"
            assert client.handshake is None
            await client.close()


class TestRefusedEvent:
    """Every refused handshake fires "refused"(cp_id, status, reason), with the peer's address."""

    @over_transports
    async def test_no_id_and_no_subprotocol_are_400(self, server: Server) -> None:
        """A path with no id (cp_id None) and a missing ocpp1.6 are each refused with 400."""
        seen = _refusals(server)
        base = f"ws://127.0.0.1:{port(server)}"
        assert await _refused_status(base + "/ocpp/") == 400
        assert await _refused_status(base + "/ocpp/CP1", ["ocpp2.0.1"]) == 400
        assert [(cp, status) for cp, status, _ in seen] == [(None, 400), ("CP1", 400)]
        assert "no charge point id" in seen[0][2] and "(from 127.0.0.1:" in seen[0][2]
        assert "ocpp2.0.1" in seen[1][2]

    @over_transports
    async def test_a_listener_that_says_why_is_quoted(self, server: Server) -> None:
        """cb("why") refuses with 401 and the why is the reason; False gives a generic one."""
        seen = _refusals(server)

        def deny(cp_id: str, handshake: Any, cb: Any) -> None:
            cb("unknown charge point") if cp_id == "CP1" else cb(False)

        server.on("authorization", deny)
        for cp_id in ("CP1", "CP2"):
            with pytest.raises(HandshakeError) as refused:
                await wait(Client(cp_id).connect(url(server)))
            assert refused.value.status == 401
        assert seen[0][:2] == ("CP1", 401) and seen[0][2].startswith("unknown charge point (from ")
        assert (
            seen[1][:2] == ("CP2", 401) and "rejected by the authorization listener" in seen[1][2]
        )

    @over_transports
    async def test_profile_1_refuses_before_any_listener(self, served_by: str) -> None:
        """Profile 1: no credentials is refused with 401 by the server, and says so."""
        asked: list[str] = []
        async with Server(security_profile=1) as server:
            server.on("authorization", lambda cp_id, handshake: asked.append(cp_id) or True)
            seen = _refusals(server)
            await serve_test(server)
            with pytest.raises(HandshakeError):
                await wait(Client("CP1").connect(url(server)))
        assert asked == []
        assert seen[0][:2] == ("CP1", 401) and "no Basic-auth credentials" in seen[0][2]

    @over_transports
    async def test_cap_and_duplicate(self, served_by: str) -> None:
        """The cap refuses with 503 and duplicate_id="reject" with 409, each announced."""
        async with Server(max_connections=1, duplicate_id="reject") as server:
            seen = _refusals(server)
            await serve_test(server)
            client, _ = await connect_pair(server, "CP1")
            for cp_id, status in (("CP2", 503), ("CP1", 503)):
                with pytest.raises(HandshakeError) as refused:
                    await wait(Client(cp_id).connect(url(server)))
                assert refused.value.status == status
            server.max_connections = None
            with pytest.raises(HandshakeError) as refused:
                await wait(Client("CP1").connect(url(server)))
            assert refused.value.status == 409
            await client.close()
        assert [status for _, status, _ in seen] == [503, 503, 409]
        assert "already connected" in seen[2][2]


@over_transports
async def test_a_base_url_with_a_query_keeps_the_id_and_the_query(server: Server) -> None:
    """The id goes into the path, the query stays after it, and the server reads both."""
    seen = asyncio.get_running_loop().create_future()
    server.on("connection", lambda peer: seen.set_result(peer))
    client = Client("CP1")
    await wait(client.connect(url(server) + "?tenant=acme"))
    peer = await wait(seen)
    assert peer.cp_id == "CP1" and peer.handshake.query == {"tenant": "acme"}
    assert peer.handshake.path == "/ocpp/CP1?tenant=acme"
    await client.close()
    with pytest.raises(ValueError, match="fragment"):
        await Client("CP2").connect(url(server) + "#x")


class TestCaps:
    """max_connections and the duplicate-id policy."""

    @over_transports
    @pytest.mark.parametrize("limited", [{"max_connections": 2}], indirect=True)
    async def test_connection_cap_is_http_503(self, limited: Server) -> None:
        """Beyond max_connections a charge point is refused with HTTP 503; a freed place is taken again."""
        first, first_peer = await connect_pair(limited, "A")
        second, _ = await connect_pair(limited, "B")
        with pytest.raises(HandshakeError) as info:
            await wait(Client("C").connect(url(limited)))
        assert info.value.status == 503
        closed, on_close = future_and_setter()
        first_peer.on("close", on_close)
        await first.close()
        await wait(closed)
        while "A" in limited.clients:  # the server forgets it right after "close"
            await asyncio.sleep(0)
        third, _ = await connect_pair(limited, "C")
        await second.close()
        await third.close()

    @over_transports
    @pytest.mark.parametrize("limited", [{"duplicate_id": "reject"}], indirect=True)
    async def test_duplicate_id_reject(self, limited: Server) -> None:
        """duplicate_id='reject': a second connection with a connected id gets HTTP 409; the first stays."""
        first, first_peer = await connect_pair(limited, "CP1")
        with pytest.raises(HandshakeError) as info:
            await wait(Client("CP1").connect(url(limited)))
        assert info.value.status == 409
        assert limited.clients["CP1"] is first_peer
        assert await wait(first.call_request("Heartbeat")) == NOW
        await first.close()

    def test_bad_values(self) -> None:
        """Wrong limit values are refused at construction, naming the option; "replace" is the default.

        (What "replace" does is tested in test_connection_edges.py.)
        """
        assert Server().duplicate_id == "replace"
        with pytest.raises(ValueError, match="max_connections"):
            Server(max_connections=0)
        with pytest.raises(ValueError, match="duplicate_id"):
            Server(duplicate_id="ignore")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="bad_message_budget"):
            Options(bad_message_budget=-1)
        with pytest.raises(ValueError, match="handshake_timeout"):
            Options(handshake_timeout=0)
        with pytest.raises(ValueError, match="close_timeout"):
            Options(close_timeout=-1)


@over_transports
async def test_duplicate_id_is_told_only_to_authorized_clients(served_by: str) -> None:
    """With duplicate_id='reject' an unauthorized client gets 401, never 409: it learns nothing."""
    async with Server(duplicate_id="reject") as server:
        await serve_test(server)
        server.on("authorization", lambda cp_id, hs: hs.headers.get("X-Token") == "secret")
        first = Client("CP1")
        await wait(first.connect(url(server), headers={"X-Token": "secret"}))
        with pytest.raises(HandshakeError) as info:
            await wait(Client("CP1").connect(url(server)))
        assert info.value.status == 401
        with pytest.raises(HandshakeError) as info:
            await wait(Client("CP1").connect(url(server), headers={"X-Token": "secret"}))
        assert info.value.status == 409
        await first.close()


class TestHandshakeTimeout:
    """handshake_timeout: a client that opens TCP and never completes the upgrade is dropped."""

    @pytest.mark.parametrize("limited", [{"handshake_timeout": 0.2}], indirect=True)
    async def test_silent_client_is_dropped(self, limited: Server) -> None:
        """A TCP client that sends nothing is disconnected after handshake_timeout."""
        reader, writer = await asyncio.open_connection("127.0.0.1", limited.port)
        try:
            async with asyncio.timeout(5):  # far above the 0.2 s it is given
                await reader.read()  # returns once the server has closed the connection
        finally:
            writer.close()
        assert limited.clients == {}
