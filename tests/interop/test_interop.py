"""Interoperability with the mobilityhouse ``ocpp`` package (v16), over loopback WebSockets.

Part 1: mobilityhouse's ``ChargePoint`` plays the charge point against ``ocpp16.Server``.
Part 2: mobilityhouse's ``ChargePoint`` plays the central system against ``ocpp16.Client``.

mobilityhouse hands its handlers snake_case keyword arguments and turns them back into
camelCase with its own converters; the tests compare payloads through those converters, so
what is checked is that every value crossed the wire unchanged. mobilityhouse parses the
floats of SetChargingProfile and RemoteStartTransaction as ``Decimal`` (to validate
``multipleOf: 0.1``); ``_floats`` turns them back into floats for the comparison.

mobilityhouse 2.1 answers a valid 1.6 action it has no handler for with ``NotImplemented``
(its reading of OCPP-J table 7), where ocpp16 answers ``NotSupported`` (table 7:
"recognized but not supported"); each side's tests assert what that side sends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

import pytest
from ocpp.charge_point import snake_to_camel_case
from ocpp.exceptions import InternalError as MhInternalError
from ocpp.exceptions import NotImplementedError as MhNotImplementedError
from ocpp.exceptions import NotSupportedError as MhNotSupportedError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as MhChargePoint
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve

import ocpp16
from ocpp16 import OcppError
from tests.helpers import NOW_ISO as NOW

# Ids with characters that must be percent-quoted in the URL path.
MH_CP_ID = "MH CP/01"
OCPP16_CP_ID = "CP 16/ü"

METER_VALUE: list[dict[str, Any]] = [
    {
        "timestamp": "2024-05-01T12:05:00Z",
        "sampledValue": [
            {
                "value": "1520",
                "context": "Sample.Periodic",
                "format": "Raw",
                "measurand": "Energy.Active.Import.Register",
                "location": "Outlet",
                "unit": "Wh",
            },
            {
                "value": "15.8",
                "context": "Sample.Periodic",
                "measurand": "Current.Import",
                "phase": "L1",
                "unit": "A",
            },
            {
                "value": "16.1",
                "context": "Sample.Periodic",
                "measurand": "Current.Import",
                "phase": "L2",
                "unit": "A",
            },
            {
                "value": "230.4",
                "context": "Sample.Periodic",
                "measurand": "Voltage",
                "phase": "L1-N",
                "unit": "V",
            },
            {
                "value": "10.9",
                "context": "Sample.Periodic",
                "measurand": "Power.Active.Import",
                "unit": "kW",
            },
            {
                "value": "48",
                "context": "Sample.Periodic",
                "measurand": "SoC",
                "location": "EV",
                "unit": "Percent",
            },
            {
                "value": "31.5",
                "context": "Sample.Periodic",
                "measurand": "Temperature",
                "location": "Body",
                "unit": "Celsius",
            },
        ],
    }
]

TRANSACTION_DATA: list[dict[str, Any]] = [
    {
        "timestamp": "2024-05-01T12:00:00Z",
        "sampledValue": [
            {
                "value": "1000",
                "context": "Transaction.Begin",
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
            }
        ],
    },
    {
        "timestamp": "2024-05-01T13:00:00Z",
        "sampledValue": [
            {
                "value": "12000",
                "context": "Transaction.End",
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
            },
            {
                "value": "0.0",
                "context": "Transaction.End",
                "measurand": "Current.Import",
                "phase": "L3",
                "unit": "A",
            },
        ],
    },
]

SET_CHARGING_PROFILE: dict[str, Any] = {
    "connectorId": 1,
    "csChargingProfiles": {
        "chargingProfileId": 7,
        "transactionId": 42,
        "stackLevel": 1,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "validFrom": "2024-05-01T12:00:00Z",
        "validTo": "2024-05-02T12:00:00Z",
        "chargingSchedule": {
            "duration": 3600,
            "startSchedule": "2024-05-01T12:00:00Z",
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 21.4, "numberPhases": 3},
                {"startPeriod": 1800, "limit": 16.0, "numberPhases": 1},
            ],
            "minChargingRate": 6.1,
        },
    },
}

REMOTE_START: dict[str, Any] = {
    "idTag": "TAG-REMOTE",
    "connectorId": 2,
    "chargingProfile": {
        "chargingProfileId": 8,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.5}],
            "minChargingRate": 1380.0,
        },
    },
}

CONFIGURATION = {
    "configurationKey": [
        {"key": "HeartbeatInterval", "readonly": False, "value": "60"},
        {"key": "MeterValueSampleInterval", "readonly": True, "value": "30"},
    ],
    "unknownKey": ["NoSuchKey"],
}


def _floats(value: Any) -> Any:
    """Turn the Decimals mobilityhouse parses some floats into back into floats."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return value


def _camel(request: dict[str, Any]) -> Any:
    """A mobilityhouse handler's snake_case kwargs, back in the wire's camelCase."""
    return _floats(snake_to_camel_case(request))


def _frames(log: list[tuple[str, str]], direction: str) -> list[list[Any]]:
    """The frames one ocpp16 side saw in one direction, parsed."""
    return [json.loads(text) for d, text in log if d == direction]


async def _settle(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel tasks and wait for them, swallowing what they end with."""
    live = [t for t in tasks if t is not None]
    for task in live:
        task.cancel()
    await asyncio.gather(*live, return_exceptions=True)


# ---------------------------------------------------------------------------------------------
# Part 1: mobilityhouse charge point -> ocpp16.Server


class MhStation(MhChargePoint):
    """mobilityhouse's v16 ChargePoint as a charge point; records the CALLs it receives."""

    def __init__(self, cp_id: str, connection: ClientConnection) -> None:
        super().__init__(cp_id, connection)
        self.received: dict[str, dict[str, Any]] = {}
        self.tasks: set[asyncio.Task[Any]] = set()

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, **request: Any) -> call_result.SetChargingProfile:
        self.received["SetChargingProfile"] = request
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(self, **request: Any) -> call_result.RemoteStartTransaction:
        self.received["RemoteStartTransaction"] = request
        return call_result.RemoteStartTransaction(status="Accepted")

    @on(Action.get_configuration)
    def on_get_configuration(self, **request: Any) -> call_result.GetConfiguration:
        self.received["GetConfiguration"] = request
        return call_result.GetConfiguration(
            configuration_key=CONFIGURATION["configurationKey"],
            unknown_key=CONFIGURATION["unknownKey"],
        )

    @on(Action.trigger_message)
    def on_trigger_message(self, **request: Any) -> call_result.TriggerMessage:
        self.received["TriggerMessage"] = request
        return call_result.TriggerMessage(status="Accepted")

    @after(Action.trigger_message)
    def after_trigger_message(self, requested_message: str, connector_id: int = 0) -> None:
        # The requested message goes out once the TriggerMessage answer has been sent.
        assert requested_message == "StatusNotification"
        status = call.StatusNotification(
            connector_id=connector_id, error_code="NoError", status="Available", timestamp=NOW
        )
        self.tasks.add(asyncio.create_task(self.call(status, suppress=False)))

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int) -> call_result.UnlockConnector:
        raise MhNotSupportedError(
            "this station has fixed cables", {"connectorId": connector_id, "cable": "fixed"}
        )

    # No Reset handler: mobilityhouse answers NotImplemented.


@dataclass
class CpSide:
    """A mobilityhouse station connected to an ocpp16.Server."""

    server: ocpp16.Server
    peer: ocpp16.ClientBase
    station: MhStation
    ws: ClientConnection
    frames: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture
async def cp_side() -> AsyncIterator[CpSide]:
    server = ocpp16.Server()
    connected: asyncio.Future[ocpp16.ClientBase] = asyncio.get_running_loop().create_future()
    frames: list[tuple[str, str]] = []

    @server.on("connection")
    def on_connection(client: ocpp16.ClientBase) -> None:
        client.on("message", lambda direction, text: frames.append((direction, text)))
        if not connected.done():
            connected.set_result(client)

    ws: ClientConnection | None = None
    start: asyncio.Task[None] | None = None
    station: MhStation | None = None
    try:
        async with asyncio.timeout(10):
            port = await server.listen(0, host="127.0.0.1")
            ws = await ws_connect(
                f"ws://127.0.0.1:{port}/ocpp/{quote(MH_CP_ID, safe='')}",
                subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            )
            peer = await connected
        station = MhStation(MH_CP_ID, ws)
        start = asyncio.create_task(station.start())
        yield CpSide(server, peer, station, ws, frames)
    finally:
        async with asyncio.timeout(10):
            await _settle(start, *(station.tasks if station else ()))
            if ws is not None:
                await ws.close()
            await server.close()


async def test_mh_station_connects_and_boots(cp_side: CpSide) -> None:
    """A mobilityhouse station's BootNotification, Heartbeat and Authorize reach ocpp16.Server."""
    peer, station = cp_side.peer, cp_side.station
    assert peer.cp_id == MH_CP_ID
    assert cp_side.server.clients[MH_CP_ID] is peer
    assert cp_side.ws.subprotocol == "ocpp1.6"
    seen: dict[str, dict[str, Any]] = {}

    def on_boot(request: dict[str, Any], cb: Any) -> None:
        seen["BootNotification"] = request
        cb({"status": "Accepted", "interval": 300, "currentTime": NOW})

    async def on_heartbeat(request: dict[str, Any]) -> dict[str, Any]:
        seen["Heartbeat"] = request
        return {"currentTime": NOW}

    def on_authorize(request: dict[str, Any]) -> dict[str, Any]:
        seen["Authorize"] = request
        return {
            "idTagInfo": {
                "status": "Accepted",
                "expiryDate": "2024-12-31T23:59:59Z",
                "parentIdTag": "PARENT",
            }
        }

    peer.on("BootNotification", on_boot)
    peer.on("Heartbeat", on_heartbeat)
    peer.on("Authorize", on_authorize)

    async with asyncio.timeout(10):
        boot = await station.call(
            call.BootNotification(
                charge_point_model="Wallbox-22",
                charge_point_vendor="mobilityhouse",
                firmware_version="2.1.0",
                charge_point_serial_number="SN-001",
                iccid="8931000000000000001",
            ),
            suppress=False,
        )
        heartbeat = await station.call(call.Heartbeat(), suppress=False)
        authorize = await station.call(call.Authorize(id_tag="TAG-001"), suppress=False)

    assert seen["BootNotification"] == {
        "chargePointModel": "Wallbox-22",
        "chargePointVendor": "mobilityhouse",
        "firmwareVersion": "2.1.0",
        "chargePointSerialNumber": "SN-001",
        "iccid": "8931000000000000001",
    }
    assert seen["Heartbeat"] == {}
    assert seen["Authorize"] == {"idTag": "TAG-001"}
    assert boot == call_result.BootNotification(current_time=NOW, interval=300, status="Accepted")
    assert heartbeat == call_result.Heartbeat(current_time=NOW)
    assert authorize.id_tag_info == {
        "status": "Accepted",
        "expiry_date": "2024-12-31T23:59:59Z",
        "parent_id_tag": "PARENT",
    }


async def test_mh_station_transaction(cp_side: CpSide) -> None:
    """StartTransaction, MeterValues and StopTransaction with transactionData reach ocpp16 intact."""
    peer, station = cp_side.peer, cp_side.station
    seen: dict[str, dict[str, Any]] = {}

    def record(action: str, response: dict[str, Any]) -> Any:
        def handler(request: dict[str, Any]) -> dict[str, Any]:
            seen[action] = request
            return response

        return handler

    peer.on(
        "StartTransaction",
        record("StartTransaction", {"transactionId": 42, "idTagInfo": {"status": "Accepted"}}),
    )
    peer.on("MeterValues", record("MeterValues", {}))
    peer.on("StopTransaction", record("StopTransaction", {"idTagInfo": {"status": "Accepted"}}))

    async with asyncio.timeout(10):
        start = await station.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-001", meter_start=1000, timestamp=NOW, reservation_id=5
            ),
            suppress=False,
        )
        meter = await station.call(
            call.MeterValues(connector_id=1, meter_value=METER_VALUE, transaction_id=42),
            suppress=False,
        )
        stop = await station.call(
            call.StopTransaction(
                meter_stop=12000,
                timestamp="2024-05-01T13:00:00Z",
                transaction_id=42,
                reason="EVDisconnected",
                id_tag="TAG-001",
                transaction_data=TRANSACTION_DATA,
            ),
            suppress=False,
        )

    assert seen["StartTransaction"] == {
        "connectorId": 1,
        "idTag": "TAG-001",
        "meterStart": 1000,
        "timestamp": NOW,
        "reservationId": 5,
    }
    assert seen["MeterValues"] == {"connectorId": 1, "meterValue": METER_VALUE, "transactionId": 42}
    assert seen["StopTransaction"] == {
        "meterStop": 12000,
        "timestamp": "2024-05-01T13:00:00Z",
        "transactionId": 42,
        "reason": "EVDisconnected",
        "idTag": "TAG-001",
        "transactionData": TRANSACTION_DATA,
    }
    assert start == call_result.StartTransaction(
        transaction_id=42, id_tag_info={"status": "Accepted"}
    )
    assert meter == call_result.MeterValues()
    assert stop == call_result.StopTransaction(id_tag_info={"status": "Accepted"})


async def test_server_calls_mh_station(cp_side: CpSide) -> None:
    """ocpp16.Server's SetChargingProfile (limit 21.4), RemoteStartTransaction, GetConfiguration and TriggerMessage reach a mobilityhouse station unchanged."""
    peer, station = cp_side.peer, cp_side.station
    status_seen: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    def on_status(request: dict[str, Any]) -> None:
        if not status_seen.done():
            status_seen.set_result(request)

    peer.on("StatusNotification", on_status)

    async with asyncio.timeout(10):
        profile = await peer.call_request("SetChargingProfile", SET_CHARGING_PROFILE)
        remote = await peer.call_request("RemoteStartTransaction", REMOTE_START)
        config = await peer.call_request(
            "GetConfiguration",
            {"key": ["HeartbeatInterval", "MeterValueSampleInterval", "NoSuchKey"]},
        )
        trigger = await peer.call_request(
            "TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}
        )
        status = await status_seen
        [triggered] = list(station.tasks)
        status_result = await triggered

    assert profile == {"status": "Accepted"}
    received = station.received["SetChargingProfile"]
    assert _camel(received) == SET_CHARGING_PROFILE
    schedule = received["cs_charging_profiles"]["charging_schedule"]
    assert schedule["charging_schedule_period"][0]["limit"] == Decimal("21.4")
    assert schedule["min_charging_rate"] == Decimal("6.1")
    [sent] = [
        f for f in _frames(cp_side.frames, "out") if f[:1] == [2] and f[2] == "SetChargingProfile"
    ]
    assert sent[3] == SET_CHARGING_PROFILE

    assert remote == {"status": "Accepted"}
    assert _camel(station.received["RemoteStartTransaction"]) == REMOTE_START

    assert config == CONFIGURATION
    assert station.received["GetConfiguration"] == {
        "key": ["HeartbeatInterval", "MeterValueSampleInterval", "NoSuchKey"]
    }

    assert trigger == {"status": "Accepted"}
    assert station.received["TriggerMessage"] == {
        "requested_message": "StatusNotification",
        "connector_id": 1,
    }
    assert status == {
        "connectorId": 1,
        "errorCode": "NoError",
        "status": "Available",
        "timestamp": NOW,
    }
    assert status_result == call_result.StatusNotification()


async def test_callerror_from_server_to_mh_station(cp_side: CpSide) -> None:
    """ocpp16.Server's CALLERRORs (OcppError, no handler, crash) arrive intact at a mobilityhouse station."""
    peer, station = cp_side.peer, cp_side.station

    def on_data_transfer(request: dict[str, Any]) -> dict[str, Any]:
        raise OcppError("NotSupported", "vendor ACME is unknown here", {"vendorId": "ACME"})

    def on_firmware_status(request: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("secret internals")

    peer.on("DataTransfer", on_data_transfer)
    peer.on("FirmwareStatusNotification", on_firmware_status)
    peer.on("Heartbeat", lambda request: {"currentTime": NOW})

    async with asyncio.timeout(10):
        with pytest.raises(MhNotSupportedError) as raised:
            await station.call(call.DataTransfer(vendor_id="ACME", data="x"), suppress=False)
        assert raised.value.description == "vendor ACME is unknown here"
        assert raised.value.details == {"vendorId": "ACME"}

        with pytest.raises(MhNotSupportedError) as no_handler:
            await station.call(
                call.DiagnosticsStatusNotification(status="Uploaded"), suppress=False
            )
        assert isinstance(no_handler.value.description, str)
        assert no_handler.value.description

        with pytest.raises(MhInternalError) as crashed:
            await station.call(call.FirmwareStatusNotification(status="Installed"), suppress=False)
        assert "secret internals" not in crashed.value.description
        assert "secret internals" not in json.dumps(crashed.value.details)

        # The connection is still good.
        heartbeat = await station.call(call.Heartbeat(), suppress=False)
    assert heartbeat == call_result.Heartbeat(current_time=NOW)


async def test_callerror_from_mh_station_to_server(cp_side: CpSide) -> None:
    """A mobilityhouse station's CALLERRORs arrive as OcppError with code, description, details."""
    peer = cp_side.peer
    async with asyncio.timeout(10):
        with pytest.raises(OcppError) as raised:
            await peer.call_request("UnlockConnector", {"connectorId": 2})
        assert raised.value.code == "NotSupported"
        assert raised.value.description == "this station has fixed cables"
        assert raised.value.details == {"connectorId": 2, "cable": "fixed"}

        with pytest.raises(OcppError) as no_handler:
            await peer.call_request("Reset", {"type": "Soft"})
        assert no_handler.value.code == "NotImplemented"
        assert no_handler.value.description == MhNotImplementedError.default_description
        assert no_handler.value.details == {"cause": "No handler for Reset registered."}

        # The connection is still good.
        assert await peer.call_request(
            "TriggerMessage", {"requestedMessage": "StatusNotification"}
        ) == {"status": "Accepted"}


# ---------------------------------------------------------------------------------------------
# Part 2: ocpp16.Client -> mobilityhouse central system


class MhCentral(MhChargePoint):
    """mobilityhouse's v16 ChargePoint as a central system; records the CALLs it receives."""

    def __init__(self, cp_id: str, connection: ServerConnection) -> None:
        super().__init__(cp_id, connection)
        self.received: dict[str, dict[str, Any]] = {}
        self.status_seen = asyncio.Event()

    @on(Action.boot_notification)
    def on_boot_notification(self, **request: Any) -> call_result.BootNotification:
        self.received["BootNotification"] = request
        return call_result.BootNotification(current_time=NOW, interval=300, status="Accepted")

    @on(Action.heartbeat)
    async def on_heartbeat(self, **request: Any) -> call_result.Heartbeat:
        self.received["Heartbeat"] = request
        return call_result.Heartbeat(current_time=NOW)

    @on(Action.authorize)
    def on_authorize(self, **request: Any) -> call_result.Authorize:
        self.received["Authorize"] = request
        return call_result.Authorize(
            id_tag_info={
                "status": "Accepted",
                "expiry_date": "2024-12-31T23:59:59Z",
                "parent_id_tag": "PARENT",
            }
        )

    @on(Action.start_transaction)
    def on_start_transaction(self, **request: Any) -> call_result.StartTransaction:
        self.received["StartTransaction"] = request
        return call_result.StartTransaction(transaction_id=42, id_tag_info={"status": "Accepted"})

    @on(Action.meter_values)
    def on_meter_values(self, **request: Any) -> call_result.MeterValues:
        self.received["MeterValues"] = request
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    def on_stop_transaction(self, **request: Any) -> call_result.StopTransaction:
        self.received["StopTransaction"] = request
        return call_result.StopTransaction(id_tag_info={"status": "Accepted"})

    @on(Action.status_notification)
    def on_status_notification(self, **request: Any) -> call_result.StatusNotification:
        self.received["StatusNotification"] = request
        self.status_seen.set()
        return call_result.StatusNotification()

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **request: Any) -> call_result.DataTransfer:
        raise MhNotSupportedError(f"vendor {vendor_id} is unknown here", {"vendorId": vendor_id})

    # No DiagnosticsStatusNotification handler: mobilityhouse answers NotImplemented.


@dataclass
class CsSide:
    """An ocpp16.Client connected to a mobilityhouse central system."""

    client: ocpp16.Client
    central: MhCentral
    path: str
    frames: list[tuple[str, str]]


@pytest.fixture
async def cs_side() -> AsyncIterator[CsSide]:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[tuple[MhCentral, str]] = loop.create_future()
    starts: list[asyncio.Task[None]] = []

    async def handler(ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        central = MhCentral(unquote(path.rsplit("/", 1)[-1]), ws)
        start = asyncio.create_task(central.start())
        starts.append(start)
        if not ready.done():
            ready.set_result((central, path))
        await asyncio.wait([start])  # ends when the connection closes or start() is cancelled

    frames: list[tuple[str, str]] = []
    client = ocpp16.Client(OCPP16_CP_ID)
    client.on("message", lambda direction, text: frames.append((direction, text)))
    ws_server = await ws_serve(handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"])  # type: ignore[list-item]
    try:
        port = ws_server.sockets[0].getsockname()[1]
        async with asyncio.timeout(10):
            await client.connect(f"ws://127.0.0.1:{port}/ocpp")
            central, path = await ready
        yield CsSide(client, central, path, frames)
    finally:
        async with asyncio.timeout(10):
            await _settle(*starts)
            await client.close()
            ws_server.close()
            await ws_server.wait_closed()


async def test_ocpp16_client_boots_at_mh_central(cs_side: CsSide) -> None:
    """ocpp16.Client's BootNotification, Heartbeat and Authorize are answered by a mobilityhouse central."""
    client, central = cs_side.client, cs_side.central
    assert cs_side.path == "/ocpp/" + quote(OCPP16_CP_ID, safe="")
    assert central.id == OCPP16_CP_ID
    assert client.subprotocol == "ocpp1.6"
    boot_request = {
        "chargePointVendor": "ocpp16",
        "chargePointModel": "NECU-T2",
        "chargeBoxSerialNumber": "CB-1",
        "firmwareVersion": "0.1.0",
        "meterType": "AC",
        "meterSerialNumber": "M-1",
    }
    async with asyncio.timeout(10):
        boot = await client.call_request("BootNotification", boot_request)
        heartbeat = await client.call_request("Heartbeat")
        authorize = await client.call_request("Authorize", {"idTag": "TAG-001"})

    assert boot == {"currentTime": NOW, "interval": 300, "status": "Accepted"}
    assert heartbeat == {"currentTime": NOW}
    assert authorize == {
        "idTagInfo": {
            "status": "Accepted",
            "expiryDate": "2024-12-31T23:59:59Z",
            "parentIdTag": "PARENT",
        }
    }
    assert _camel(central.received["BootNotification"]) == boot_request
    assert central.received["Heartbeat"] == {}
    assert central.received["Authorize"] == {"id_tag": "TAG-001"}


async def test_ocpp16_client_transaction(cs_side: CsSide) -> None:
    """StartTransaction, MeterValues and StopTransaction with transactionData reach a mobilityhouse central."""
    client, central = cs_side.client, cs_side.central
    start_request = {
        "connectorId": 1,
        "idTag": "TAG-001",
        "meterStart": 1000,
        "timestamp": NOW,
        "reservationId": 5,
    }
    meter_request = {"connectorId": 1, "transactionId": 42, "meterValue": METER_VALUE}
    stop_request = {
        "meterStop": 12000,
        "timestamp": "2024-05-01T13:00:00Z",
        "transactionId": 42,
        "reason": "EVDisconnected",
        "idTag": "TAG-001",
        "transactionData": TRANSACTION_DATA,
    }
    async with asyncio.timeout(10):
        start = await client.call_request("StartTransaction", start_request)
        meter = await client.call_request("MeterValues", meter_request)
        stop = await client.call_request("StopTransaction", stop_request)

    assert start == {"transactionId": 42, "idTagInfo": {"status": "Accepted"}}
    assert meter == {}
    assert stop == {"idTagInfo": {"status": "Accepted"}}
    assert _camel(central.received["StartTransaction"]) == start_request
    assert _camel(central.received["MeterValues"]) == meter_request
    assert _camel(central.received["StopTransaction"]) == stop_request


async def test_mh_central_calls_ocpp16_client(cs_side: CsSide) -> None:
    """A mobilityhouse central's SetChargingProfile (limit 21.4), RemoteStartTransaction and GetConfiguration reach ocpp16.Client unchanged."""
    client, central = cs_side.client, cs_side.central
    seen: dict[str, dict[str, Any]] = {}

    def on_set_charging_profile(request: dict[str, Any]) -> dict[str, Any]:
        seen["SetChargingProfile"] = request
        return {"status": "Accepted"}

    async def on_remote_start(request: dict[str, Any]) -> dict[str, Any]:
        seen["RemoteStartTransaction"] = request
        return {"status": "Accepted"}

    def on_get_configuration(request: dict[str, Any], cb: Any) -> None:
        seen["GetConfiguration"] = request
        cb(CONFIGURATION)

    client.on("SetChargingProfile", on_set_charging_profile)
    client.on("RemoteStartTransaction", on_remote_start)
    client.on("GetConfiguration", on_get_configuration)

    async with asyncio.timeout(10):
        profile = await central.call(
            call.SetChargingProfile(
                connector_id=SET_CHARGING_PROFILE["connectorId"],
                cs_charging_profiles=SET_CHARGING_PROFILE["csChargingProfiles"],
            ),
            suppress=False,
        )
        remote = await central.call(
            call.RemoteStartTransaction(
                id_tag=REMOTE_START["idTag"],
                connector_id=REMOTE_START["connectorId"],
                charging_profile=REMOTE_START["chargingProfile"],
            ),
            suppress=False,
        )
        config = await central.call(
            call.GetConfiguration(
                key=["HeartbeatInterval", "MeterValueSampleInterval", "NoSuchKey"]
            ),
            suppress=False,
        )

    assert profile == call_result.SetChargingProfile(status="Accepted")
    assert seen["SetChargingProfile"] == SET_CHARGING_PROFILE
    schedule = seen["SetChargingProfile"]["csChargingProfiles"]["chargingSchedule"]
    period = schedule["chargingSchedulePeriod"][0]
    assert period["limit"] == 21.4
    assert type(period["limit"]) is float
    [arrived] = [
        f for f in _frames(cs_side.frames, "in") if f[:1] == [2] and f[2] == "SetChargingProfile"
    ]
    assert arrived[3] == SET_CHARGING_PROFILE

    assert remote == call_result.RemoteStartTransaction(status="Accepted")
    assert seen["RemoteStartTransaction"] == REMOTE_START

    assert config == call_result.GetConfiguration(
        configuration_key=CONFIGURATION["configurationKey"],
        unknown_key=CONFIGURATION["unknownKey"],
    )
    assert seen["GetConfiguration"] == {
        "key": ["HeartbeatInterval", "MeterValueSampleInterval", "NoSuchKey"]
    }


async def test_trigger_message_answer_precedes_requested_message(cs_side: CsSide) -> None:
    """An ocpp16.Client handler that calls cb() then call_request() sends the TriggerMessage answer first."""
    client, central = cs_side.client, cs_side.central
    seen: dict[str, dict[str, Any]] = {}

    async def on_trigger_message(request: dict[str, Any], cb: Any) -> None:
        # OCPP 1.6 §5.17: answer TriggerMessage first, then send the requested message.
        seen["TriggerMessage"] = request
        cb({"status": "Accepted"})
        await client.call_request(
            "StatusNotification",
            {"connectorId": request["connectorId"], "errorCode": "NoError", "status": "Available"},
        )

    client.on("TriggerMessage", on_trigger_message)

    async with asyncio.timeout(10):
        trigger = await central.call(
            call.TriggerMessage(requested_message="StatusNotification", connector_id=1),
            suppress=False,
        )
        await central.status_seen.wait()

    assert trigger == call_result.TriggerMessage(status="Accepted")
    assert seen["TriggerMessage"] == {"requestedMessage": "StatusNotification", "connectorId": 1}
    assert central.received["StatusNotification"] == {
        "connector_id": 1,
        "error_code": "NoError",
        "status": "Available",
    }
    # The TriggerMessage answer left before the StatusNotification it asked for.
    [trigger_call] = [
        f for f in _frames(cs_side.frames, "in") if f[:1] == [2] and f[2] == "TriggerMessage"
    ]
    out = _frames(cs_side.frames, "out")
    answer_at = next(i for i, f in enumerate(out) if f[:2] == [3, trigger_call[1]])
    status_at = next(i for i, f in enumerate(out) if f[:1] == [2] and f[2] == "StatusNotification")
    assert answer_at < status_at, out


async def test_callerror_from_ocpp16_client_to_mh_central(cs_side: CsSide) -> None:
    """ocpp16.Client's CALLERRORs (OcppError, no handler, crash) arrive intact at a mobilityhouse central."""
    client, central = cs_side.client, cs_side.central

    def on_unlock(request: dict[str, Any]) -> dict[str, Any]:
        raise OcppError(
            "NotSupported", "this station has fixed cables", {"connectorId": request["connectorId"]}
        )

    async def on_change_availability(request: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("secret internals")

    client.on("UnlockConnector", on_unlock)
    client.on("ChangeAvailability", on_change_availability)
    client.on("ClearCache", lambda request: {"status": "Accepted"})

    async with asyncio.timeout(10):
        with pytest.raises(MhNotSupportedError) as raised:
            await central.call(call.UnlockConnector(connector_id=2), suppress=False)
        assert raised.value.description == "this station has fixed cables"
        assert raised.value.details == {"connectorId": 2}

        with pytest.raises(MhNotSupportedError) as no_handler:
            await central.call(call.Reset(type="Hard"), suppress=False)
        assert isinstance(no_handler.value.description, str)
        assert no_handler.value.description

        with pytest.raises(MhInternalError) as crashed:
            await central.call(
                call.ChangeAvailability(connector_id=0, type="Inoperative"), suppress=False
            )
        assert "secret internals" not in crashed.value.description
        assert "secret internals" not in json.dumps(crashed.value.details)

        # The connection is still good.
        cleared = await central.call(call.ClearCache(), suppress=False)
    assert cleared == call_result.ClearCache(status="Accepted")


async def test_callerror_from_mh_central_to_ocpp16_client(cs_side: CsSide) -> None:
    """A mobilityhouse central's CALLERRORs arrive at ocpp16.Client as OcppError with code, description, details."""
    client = cs_side.client
    async with asyncio.timeout(10):
        with pytest.raises(OcppError) as raised:
            await client.call_request("DataTransfer", {"vendorId": "ACME", "messageId": "x"})
        assert raised.value.code == "NotSupported"
        assert raised.value.description == "vendor ACME is unknown here"
        assert raised.value.details == {"vendorId": "ACME"}

        with pytest.raises(OcppError) as no_handler:
            await client.call_request("DiagnosticsStatusNotification", {"status": "Uploaded"})
        assert no_handler.value.code == "NotImplemented"
        assert no_handler.value.description == MhNotImplementedError.default_description
        assert no_handler.value.details == {
            "cause": "No handler for DiagnosticsStatusNotification registered."
        }

        # The connection is still good.
        assert await client.call_request("Heartbeat", {}) == {"currentTime": NOW}
