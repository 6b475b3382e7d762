"""Tests of my_central_system's handlers, in memory: no socket, milliseconds each.

Run:  pytest examples/test_my_central_system.py

ocpp16.testing connects a Client to the application's own Server over an
in-memory pair: the same handshake rules, listeners and handlers as over the
network. The fixtures come from ocpp16's pytest plugin, loaded here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from my_central_system import create_server, start_charging

from ocpp16 import Client, HandshakeError, Server
from ocpp16.testing import ConnectFactory, connect
from ocpp16.types import BootNotificationRequest

pytest_plugins = ["ocpp16.testing.pytest_plugin"]
# Every test here runs on asyncio, in pytest-asyncio's strict mode as in its auto mode.
pytestmark = pytest.mark.asyncio

BOOT: BootNotificationRequest = {"chargePointVendor": "eParking", "chargePointModel": "NECU-T2"}


@pytest_asyncio.fixture
async def ocpp_server() -> AsyncIterator[Server]:
    """The application's server instead of a bare one: ocpp_connect connects to it."""
    server = create_server()
    yield server
    await server.close()


async def test_a_known_charge_point_boots(ocpp_connect: ConnectFactory) -> None:
    client, _ = await ocpp_connect("CP1")
    answer = await client.call_request("BootNotification", BOOT)
    assert answer["status"] == "Accepted" and answer["interval"] == 300


async def test_an_unknown_charge_point_is_refused(ocpp_connect: ConnectFactory) -> None:
    with pytest.raises(HandshakeError) as refused:
        await ocpp_connect("CP9")
    assert refused.value.status == 401


async def test_id_tags_are_checked(ocpp_connect: ConnectFactory) -> None:
    client, _ = await ocpp_connect("CP1")
    known = await client.call_request("Authorize", {"idTag": "04E91C5A"})
    unknown = await client.call_request("Authorize", {"idTag": "FFFFFFFF"})
    assert known["idTagInfo"]["status"] == "Accepted"
    assert unknown["idTagInfo"]["status"] == "Invalid"


async def test_the_back_office_starts_a_charge(
    ocpp_server: Server, ocpp_connect: ConnectFactory
) -> None:
    charge_point = Client("CP2")
    started: list[str] = []

    @charge_point.on("RemoteStartTransaction")
    def remote_start(request: dict[str, str]) -> dict[str, str]:
        started.append(request["idTag"])
        return {"status": "Accepted"}

    await ocpp_connect(charge_point)
    assert await start_charging(ocpp_server, "CP2", "04E91C5A")
    assert started == ["04E91C5A"]


async def test_without_the_fixtures() -> None:
    server = create_server()
    async with connect(server, Client("CP1")) as (client, peer):
        await client.call_request("BootNotification", BOOT)
        assert server.clients["CP1"] is peer
    assert "CP1" not in server.clients
    await server.close()
