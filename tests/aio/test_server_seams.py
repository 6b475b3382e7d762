"""Server's seams: the "refused" event, the registry, the connection factory, port, call_request."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from ocpp16 import (
    Client,
    ClientBase,
    HandshakeError,
    LocalRegistry,
    NotConnected,
    OcppError,
    Refusal,
    Server,
)
from tests.helpers import TIMEOUT, connect_pair, url, wait


def _refusals(server: Server) -> list[tuple[str | None, int, str]]:
    seen: list[tuple[str | None, int, str]] = []
    server.on("refused", lambda cp_id, status, reason: seen.append((cp_id, status, reason)))
    return seen


async def _refused_status(address: str, subprotocols: list[str] | None = None) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with asyncio.timeout(TIMEOUT):
            await ws_connect(address, subprotocols=subprotocols or ["ocpp1.6"])  # type: ignore[list-item]
    return refused.value.response.status_code


class TestRefusedEvent:
    """Every refused handshake fires "refused"(cp_id, status, reason), with the peer's address."""

    async def test_no_id_and_no_subprotocol_are_400(self, server: Server) -> None:
        """A path with no id (cp_id None) and a missing ocpp1.6 are each refused with 400."""
        seen = _refusals(server)
        base = f"ws://127.0.0.1:{server.port}"
        assert await _refused_status(base + "/ocpp/") == 400
        assert await _refused_status(base + "/ocpp/CP1", ["ocpp2.0.1"]) == 400
        assert [(cp, status) for cp, status, _ in seen] == [(None, 400), ("CP1", 400)]
        assert "no charge point id" in seen[0][2] and "(from 127.0.0.1:" in seen[0][2]
        assert "ocpp2.0.1" in seen[1][2]

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

    async def test_profile_1_refuses_before_any_listener(self) -> None:
        """Profile 1: no credentials is refused with 401 by the server, and says so."""
        asked: list[str] = []
        async with Server(security_profile=1) as server:
            server.on("authorization", lambda cp_id, handshake: asked.append(cp_id) or True)
            seen = _refusals(server)
            await server.listen(0, host="127.0.0.1")
            with pytest.raises(HandshakeError):
                await wait(Client("CP1").connect(url(server)))
        assert asked == []
        assert seen[0][:2] == ("CP1", 401) and "no Basic-auth credentials" in seen[0][2]

    async def test_cap_and_duplicate(self) -> None:
        """The cap refuses with 503 and duplicate_id="reject" with 409, each announced."""
        async with Server(max_connections=1, duplicate_id="reject") as server:
            seen = _refusals(server)
            await server.listen(0, host="127.0.0.1")
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


class TestPortAndCalls:
    """server.port, server.sockets and server.call_request(cp_id, ...)."""

    async def test_port_is_known_while_listening(self) -> None:
        """The port is None before listen() and after close(); the bound port while listening."""
        server = Server()
        assert server.port is None and server.sockets == ()
        port = await server.listen(0, host="127.0.0.1")
        assert server.port == port and server.sockets[0].getsockname()[1] == port
        await server.close()
        assert server.port is None

    async def test_call_request_by_id(self, server: Server) -> None:
        """server.call_request reaches the charge point by id, with the connection's semantics."""
        client, _ = await connect_pair(server)
        client.on("Reset", lambda request: {"status": "Accepted"})
        assert await wait(server.call_request("CP1", "Reset", {"type": "Soft"})) == {
            "status": "Accepted"
        }
        with pytest.raises(OcppError) as failed:
            await wait(server.call_request("CP1", "ClearCache", timeout=5))
        assert failed.value.code == "NotSupported"
        await client.close()

    async def test_call_request_to_an_unknown_id_fails_the_future(self, server: Server) -> None:
        """A charge point that is not connected: the future fails with NotConnected, nothing raises."""
        future = server.call_request("CP9", "Reset", {"type": "Soft"})
        with pytest.raises(NotConnected) as failed:
            await wait(future)
        assert failed.value.cp_id == "CP9" and failed.value.code == "GenericError"
        assert isinstance(failed.value, OcppError)


class TestRegistryAndFactory:
    """A Server takes its registry and its connection class from the outside."""

    async def test_a_custom_registry_decides(self) -> None:
        """A Registry subclass is asked to admit, check, claim and release every connection."""
        calls: list[str] = []
        released = asyncio.get_running_loop().create_future()

        class Recording(LocalRegistry):
            def admit(self, cp_id: str) -> Refusal | None:
                calls.append(f"admit {cp_id}")
                return super().admit(cp_id)

            async def claim(self, connection: ClientBase) -> ClientBase | None:
                calls.append(f"claim {connection.cp_id}")
                return await super().claim(connection)

            async def release(self, connection: ClientBase) -> None:
                calls.append(f"release {connection.cp_id}")
                await super().release(connection)
                released.set_result(None)

        registry = Recording()
        async with Server(registry=registry) as server:
            assert server.registry is registry
            await server.listen(0, host="127.0.0.1")
            client, peer = await connect_pair(server)
            assert server.clients == {"CP1": peer}
            await client.close()
            await wait(released)
        assert calls == ["admit CP1", "claim CP1", "release CP1"]
        assert dict(server.clients) == {}

    async def test_clients_is_read_only(self, server: Server) -> None:
        """server.clients is a live view that cannot be written: the registry decides."""
        with pytest.raises(TypeError):
            server.clients["CP1"] = None  # type: ignore[index]

    async def test_a_connection_subclass_is_served(self) -> None:
        """connection_factory=Subclass: each charge point gets an instance of it."""

        class Tracked(ClientBase):
            made: ClassVar[list[str]] = []

            def __init__(self, cp_id: str, **kwargs: Any) -> None:
                super().__init__(cp_id, **kwargs)
                Tracked.made.append(cp_id)

        async with Server(connection_factory=Tracked) as server:
            await server.listen(0, host="127.0.0.1")
            client, peer = await connect_pair(server)
            assert isinstance(peer, Tracked) and Tracked.made == ["CP1"]
            await client.close()
