"""Server's seams: the "refused" event, the registry, the connection factory, port, call_request."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from ocpp16 import (
    ClientBase,
    LocalRegistry,
    NotConnected,
    OcppError,
    Refusal,
    Server,
)
from tests.helpers import connect_pair, wait


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
