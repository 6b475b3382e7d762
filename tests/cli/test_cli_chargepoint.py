"""The simulated charge point of ``ocpp16 simulate``/``demo`` against a real server on 127.0.0.1.

Each test runs one ``SimulatedChargePoint`` against the ``server`` fixture, whose
connections are answered by ``CentralSystem``, and reads what went over the wire
from the server connection's ``"message"`` events. Validation is strict on both
ends (the default), so an invalid payload either way fails the call that carried it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

import pytest

from ocpp16 import ClientBase, OcppError, Server
from ocpp16._cli.central import CentralSystem
from ocpp16._cli.chargepoint import SimConfig, SimulatedChargePoint
from ocpp16._cli.stats import Stats, now_iso
from ocpp16.validation import validate
from tests.helpers import TIMEOUT, url, wait

T = TypeVar("T")
Where = Callable[[dict[str, Any]], bool]

CALL, CALLRESULT = 2, 3


def _anything(payload: dict[str, Any]) -> bool:
    return True


class Wire:
    """The server's side of one simulated charge point: its connections and every frame.

    ``frames`` holds ``(connection number from 1, direction, decoded frame)`` in the
    order the server connection saw them; direction ``"in"`` is from the charge point.
    """

    def __init__(self, server: Server, cp_id: str, central: CentralSystem, connectors: int) -> None:
        self.cp_id = cp_id
        self.connectors = connectors
        self.central = central
        self.connections: list[ClientBase] = []
        self.close_codes: list[int | None] = []
        self.frames: list[tuple[int, str, list[Any]]] = []
        # Handlers that take the place of the central system's, by action.
        self.overrides: dict[str, Callable[[dict[str, Any]], Any]] = {}
        self._changed = asyncio.Event()
        server.on("connection", self._on_connection)

    def _on_connection(self, conn: ClientBase) -> None:
        if conn.cp_id != self.cp_id:
            return
        self.connections.append(conn)
        self.close_codes.append(None)
        number = len(self.connections)

        def on_message(direction: str, text: str) -> None:
            self.frames.append((number, direction, json.loads(text)))
            self._changed.set()

        def on_close(code: int, reason: str) -> None:
            self.close_codes[number - 1] = code
            self._changed.set()

        conn.on("message", on_message)
        conn.on("close", on_close)
        self.central.attach(conn)
        for action, handler in self.overrides.items():
            conn.remove_all_listeners(action)
            conn.on(action, handler)
        self._changed.set()

    async def until(self, check: Callable[[], T | None]) -> T:
        """Wait (bounded) until ``check()`` returns something other than ``None``."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                found = check()
                if found is not None:
                    return found
                self._changed.clear()
                await self._changed.wait()

    def mark(self) -> int:
        """The index the next frame will have."""
        return len(self.frames)

    def calls(
        self, action: str | None = None, *, connection: int | None = None, start: int = 0
    ) -> list[tuple[int, dict[str, Any]]]:
        """The CALLs from the charge point so far: ``(index, payload)``."""
        return [
            (i, frame[3])
            for i, (number, direction, frame) in enumerate(self.frames)
            if i >= start
            and direction == "in"
            and frame[0] == CALL
            and (action is None or frame[2] == action)
            and (connection is None or number == connection)
        ]

    def actions(self, *, connection: int | None = None, start: int = 0) -> list[str]:
        """The actions of the charge point's CALLs so far, in order."""
        return [
            frame[2]
            for i, (number, direction, frame) in enumerate(self.frames)
            if i >= start
            and direction == "in"
            and frame[0] == CALL
            and (connection is None or number == connection)
        ]

    async def call(
        self,
        action: str,
        where: Where = _anything,
        *,
        connection: int | None = None,
        start: int = 0,
    ) -> tuple[int, dict[str, Any]]:
        """Wait for the first CALL of ``action`` from ``start`` that ``where`` accepts."""

        def find() -> tuple[int, dict[str, Any]] | None:
            for i, payload in self.calls(action, connection=connection, start=start):
                if where(payload):
                    return i, payload
            return None

        return await self.until(find)

    async def answer_to(self, index: int) -> dict[str, Any]:
        """Wait for the server's CALLRESULT to the charge point's CALL at ``index``."""
        message_id = self.frames[index][2][1]

        def find() -> dict[str, Any] | None:
            for _, direction, frame in self.frames[index:]:
                if direction == "out" and frame[0] == CALLRESULT and frame[1] == message_id:
                    return dict(frame[2])
            return None

        return await self.until(find)

    async def sent_call(self, action: str, start: int = 0) -> tuple[int, str]:
        """The index and message id of the server's first CALL of ``action`` from ``start``."""

        def find() -> tuple[int, str] | None:
            for i, (_, direction, frame) in enumerate(self.frames):
                if i >= start and direction == "out" and frame[0] == CALL and frame[2] == action:
                    return i, str(frame[1])
            return None

        return await self.until(find)

    async def answered_at(self, action: str, start: int = 0) -> int:
        """The index of the charge point's CALLRESULT to the server's first ``action`` from ``start``."""
        _, message_id = await self.sent_call(action, start)

        def find() -> int | None:
            for i, (_, direction, frame) in enumerate(self.frames):
                if direction == "in" and frame[0] == CALLRESULT and frame[1] == message_id:
                    return i
            return None

        return await self.until(find)

    async def connection(self, number: int) -> ClientBase:
        """Wait for the charge point's ``number``-th connection (from 1)."""
        return await self.until(
            lambda: self.connections[number - 1] if len(self.connections) >= number else None
        )

    async def closed(self, number: int) -> int:
        """Wait until connection ``number`` has closed; return its close code."""
        await self.connection(number)
        return await self.until(lambda: self.close_codes[number - 1])

    async def booted(self, number: int = 1) -> None:
        """Wait until connection ``number`` has booted: BootNotification, then every status."""
        await self.connection(number)
        last = _connector(self.connectors)
        index, _ = await self.call("StatusNotification", last, connection=number)
        await self.answer_to(index)

    async def send(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a CALL to the charge point on its latest connection; return the answer."""
        answer = await wait(self.connections[-1].call_request(action, payload))
        validate(action, "response", answer)  # the connection checked it too
        return answer


class Sim:
    """A running simulated charge point, its counters, and what the server saw."""

    def __init__(
        self,
        server: Server,
        central: CentralSystem,
        handlers: dict[str, Callable[[dict[str, Any]], Any]],
        **overrides: Any,
    ) -> None:
        settings: dict[str, Any] = {
            "url": url(server),
            "count": 1,
            "duration": 3600,
            # Long pauses and sessions: nothing starts on its own unless a test says so.
            "idle": 3600,
            "session": 3600,
            "meter_interval": 3600,
            "call_timeout": 5,
        }
        settings.update(overrides)
        self.stats = Stats()
        # The charge point's own view of the wire: (direction, frame), both its connections.
        self.sent: list[tuple[str, list[Any]]] = []
        self.cp = SimulatedChargePoint(
            1, SimConfig(**settings), self.stats, on_connection=self._on_client
        )
        self.wire = Wire(server, self.cp.cp_id, central, len(self.cp.connectors))
        self.wire.overrides.update(handlers)
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def _on_client(self, client: ClientBase) -> None:
        client.on("message", lambda d, text: self.sent.append((d, json.loads(text))))

    def start(self) -> None:
        """Start the charge point."""
        self.task = asyncio.create_task(self.cp.run(self.stop, asyncio.Semaphore(10)))

    async def finish(self) -> None:
        """Set ``stop`` and wait (bounded) until the charge point has left."""
        self.stop.set()
        if self.task is None:
            return
        try:
            await wait(asyncio.shield(self.task))
        finally:
            if not self.task.done():
                self.task.cancel()
                await asyncio.wait({self.task})


@asynccontextmanager
async def simulated(
    server: Server,
    *,
    central: CentralSystem | None = None,
    handlers: dict[str, Callable[[dict[str, Any]], Any]] | None = None,
    errors_expected: bool = False,
    **overrides: Any,
) -> AsyncIterator[Sim]:
    """Run one simulated charge point against ``server``; on the way out stop it.

    ``handlers`` take the place of the central system's for their actions, and
    ``overrides`` are SimConfig fields.

    Unless ``errors_expected``, the charge point must have counted no error at all:
    every call it made was answered, by a CALLRESULT its strict validation accepted.
    """
    sim = Sim(server, central or CentralSystem(), handlers or {}, **overrides)
    sim.start()
    try:
        yield sim
    finally:
        await sim.finish()
    if not errors_expected:
        assert dict(sim.stats.error_kinds) == {}


def _connector(connector_id: int, status: str | None = None) -> Where:
    """A StatusNotification (or MeterValues) check: this connector, and this status."""

    def check(payload: dict[str, Any]) -> bool:
        return payload["connectorId"] == connector_id and (
            status is None or payload["status"] == status
        )

    return check


def _sampled(payload: dict[str, Any], measurand: str) -> float:
    """The value of ``measurand`` in a MeterValues payload."""
    for value in payload["meterValue"][0]["sampledValue"]:
        if value.get("measurand") == measurand:
            return float(value["value"])
    raise AssertionError(f"no {measurand} in {payload}")


async def _remote_start(wire: Wire, id_tag: str = "REMOTE1") -> tuple[int, int]:
    """Start a transaction remotely; return its id and the index of its StartTransaction."""
    start = wire.mark()
    assert await wire.send("RemoteStartTransaction", {"idTag": id_tag}) == {"status": "Accepted"}
    index, request = await wire.call("StartTransaction", start=start)
    assert request["idTag"] == id_tag
    transaction_id = (await wire.answer_to(index))["transactionId"]
    charging, _ = await wire.call("StatusNotification", _connector(1, "Charging"), start=index)
    await wire.answer_to(charging)
    # One more round trip: the charge point has taken the answer in and is charging.
    await wire.send("GetLocalListVersion", {})
    return transaction_id, index


def _profile(purpose: str, limit: float, **extra: Any) -> dict[str, Any]:
    return {
        "chargingProfileId": 7,
        "stackLevel": 0,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "startSchedule": now_iso(),
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
        },
        **extra,
    }


# ----------------------------------------------------------------------------- boot


async def test_boot_then_status_of_every_connector(server: Server) -> None:
    """OCPP 1.6 §4.2, §4.9: BootNotification first, then StatusNotification Available for 0 and 1."""
    async with simulated(server, central=CentralSystem(heartbeat_interval=1234)) as sim:
        wire = sim.wire
        await wire.booted()
        assert wire.actions() == ["BootNotification", "StatusNotification", "StatusNotification"]
        boot = wire.calls("BootNotification")[0][1]
        assert boot["chargePointSerialNumber"] == sim.cp.cp_id == "SIM0001"
        statuses = [p for _, p in wire.calls("StatusNotification")]
        assert [(p["connectorId"], p["status"], p["errorCode"]) for p in statuses] == [
            (0, "Available", "NoError"),
            (1, "Available", "NoError"),
        ]
        assert sim.stats.booted == 1
        assert sim.cp.booted


async def test_boot_interval_becomes_heartbeat_interval(server: Server) -> None:
    """OCPP 1.6 §4.2: the interval of the accepted boot is the charge point's HeartbeatInterval."""
    async with simulated(server, central=CentralSystem(heartbeat_interval=1234)) as sim:
        await sim.wire.booted()
        answer = await sim.wire.send("GetConfiguration", {"key": ["HeartbeatInterval"]})
        assert answer == {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "1234"}]
        }


# ----------------------------------------------------------------------------- Reset


@pytest.mark.parametrize(("kind", "reason"), [("Soft", "SoftReset"), ("Hard", "HardReset")])
async def test_reset_stops_the_transaction_reconnects_and_boots(
    server: Server, kind: str, reason: str
) -> None:
    """OCPP 1.6 §5.14: Reset is Accepted, the transaction stops (reason Soft/HardReset), and the charger reboots."""
    async with simulated(server) as sim:
        wire = sim.wire
        await wire.booted()
        transaction_id, _ = await _remote_start(wire)
        assert await wire.send("Reset", {"type": kind}) == {"status": "Accepted"}
        _, stop = await wire.call("StopTransaction", connection=1)
        assert stop["transactionId"] == transaction_id
        assert stop["reason"] == reason
        assert await wire.closed(1) == 1000
        await wire.booted(2)
        assert wire.actions(connection=2) == [
            "BootNotification",
            "StatusNotification",
            "StatusNotification",
        ]
        statuses = [(p["connectorId"], p["status"]) for _, p in wire.calls(connection=2)[1:]]
        assert statuses == [(0, "Available"), (1, "Available")]
        assert sim.cp.connects == 2
        assert sim.stats.booted == 1  # a charge point is counted once
        assert sim.stats.transactions_stopped == 1
        assert sim.stats.active_transactions == 0


async def test_reset_while_a_transaction_starts_leaves_no_session_behind(server: Server) -> None:
    """OCPP 1.6 §5.14: a Reset that comes while StartTransaction is unanswered stops it; after the reboot no session starts by itself."""

    async def start_then_reset(request: dict[str, Any]) -> dict[str, Any]:
        # The Reset reaches the charge point while it waits for this answer.
        answer = await sim.wire.send("Reset", {"type": "Soft"})
        assert answer == {"status": "Accepted"}
        return {"transactionId": 77, "idTagInfo": {"status": "Accepted"}}

    async with simulated(server, handlers={"StartTransaction": start_then_reset}) as sim:
        wire = sim.wire
        await wire.booted()
        answer = await wire.send("RemoteStartTransaction", {"idTag": "EARLY"})
        assert answer == {"status": "Accepted"}
        _, stop = await wire.call("StopTransaction")
        assert stop["reason"] == "SoftReset"
        assert stop["transactionId"] == 77
        await wire.booted(2)
        # idle is an hour: the rebooted charger waits for a driver, it does not start.
        await wire.send("GetLocalListVersion", {})
        assert wire.actions(connection=2) == [
            "BootNotification",
            "StatusNotification",
            "StatusNotification",
        ]
    assert wire.calls("Authorize") == []
    assert len(wire.calls("StartTransaction")) == 1


# ----------------------------------------------------------------------------- remote start/stop


async def test_remote_start_starts_a_session_with_that_id_tag(server: Server) -> None:
    """OCPP 1.6 §5.11: RemoteStartTransaction Accepted, then StartTransaction with its idTag and no Authorize."""
    async with simulated(server) as sim:
        wire = sim.wire
        await wire.booted()
        start = wire.mark()
        transaction_id, _ = await _remote_start(wire, "DRIVER42")
        # AuthorizeRemoteTxRequests is false: no Authorize before StartTransaction.
        assert wire.actions(start=start) == [
            "StatusNotification",
            "StartTransaction",
            "StatusNotification",
        ]
        statuses = [p["status"] for _, p in wire.calls("StatusNotification", start=start)]
        assert statuses == ["Preparing", "Charging"]
        assert transaction_id == 1
        assert sim.stats.transactions_started == sim.stats.active_transactions == 1


async def test_remote_start_rejected_when_busy_or_no_such_connector(server: Server) -> None:
    """OCPP 1.6 §5.11: RemoteStartTransaction is Rejected on a busy connector or one that does not exist."""
    async with simulated(server) as sim:
        wire = sim.wire
        await wire.booted()
        answer = await wire.send("RemoteStartTransaction", {"idTag": "X", "connectorId": 2})
        assert answer == {"status": "Rejected"}
        await _remote_start(wire)
        for request in ({"idTag": "SECOND"}, {"idTag": "SECOND", "connectorId": 1}):
            assert await wire.send("RemoteStartTransaction", request) == {"status": "Rejected"}
        assert len(wire.calls("StartTransaction")) == 1


async def test_remote_stop_stops_the_running_transaction(server: Server) -> None:
    """OCPP 1.6 §5.12: RemoteStopTransaction Accepted for the running id (reason Remote); else Rejected."""
    async with simulated(server) as sim:
        wire = sim.wire
        await wire.booted()
        transaction_id, _ = await _remote_start(wire)
        answer = await wire.send("RemoteStopTransaction", {"transactionId": transaction_id + 100})
        assert answer == {"status": "Rejected"}
        answer = await wire.send("RemoteStopTransaction", {"transactionId": transaction_id})
        assert answer == {"status": "Accepted"}
        index, stop = await wire.call("StopTransaction")
        assert stop["transactionId"] == transaction_id
        assert stop["reason"] == "Remote"
        assert stop["idTag"] == "REMOTE1"
        await wire.call("StatusNotification", _connector(1, "Available"), start=index)
        statuses = [p["status"] for _, p in wire.calls("StatusNotification", start=index)]
        assert statuses == ["Finishing", "Available"]
        answer = await wire.send("RemoteStopTransaction", {"transactionId": transaction_id})
        assert answer == {"status": "Rejected"}
        assert sim.stats.transactions_stopped == 1
        assert sim.stats.active_transactions == 0


# ----------------------------------------------------------------------------- configuration


async def test_get_configuration(server: Server) -> None:
    """OCPP 1.6 §5.8: every key with no key list, the keys asked for, and unknownKey for the rest."""
    async with simulated(server, connectors=2) as sim:
        wire = sim.wire
        await wire.booted()
        everything = await wire.send("GetConfiguration", {})
        assert "unknownKey" not in everything
        keys = {entry["key"]: entry for entry in everything["configurationKey"]}
        assert len(keys) == len(everything["configurationKey"])
        for key in (
            "HeartbeatInterval",
            "MeterValueSampleInterval",
            "NumberOfConnectors",
            "AuthorizeRemoteTxRequests",
            "SupportedFeatureProfiles",
        ):
            assert key in keys
        assert keys["NumberOfConnectors"] == {
            "key": "NumberOfConnectors",
            "readonly": True,
            "value": "2",
        }
        assert keys["MeterValueSampleInterval"]["value"] == "3600"
        assert await wire.send("GetConfiguration", {"key": []}) == everything

        asked = await wire.send(
            "GetConfiguration", {"key": ["NumberOfConnectors", "HeartbeatInterval"]}
        )
        assert asked == {
            "configurationKey": [
                {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
                {"key": "HeartbeatInterval", "readonly": False, "value": "60"},
            ]
        }
        mixed = await wire.send("GetConfiguration", {"key": ["NoSuchKey", "ResetRetries"]})
        assert mixed == {
            "configurationKey": [{"key": "ResetRetries", "readonly": False, "value": "3"}],
            "unknownKey": ["NoSuchKey"],
        }


@pytest.mark.parametrize(
    ("key", "value", "status"),
    [
        ("NumberOfConnectors", "2", "Rejected"),
        ("SupportedFeatureProfiles", "Core", "Rejected"),
        ("NoSuchKey", "1", "NotSupported"),
        ("HeartbeatInterval", "abc", "Rejected"),
        ("HeartbeatInterval", "-5", "Rejected"),
        ("MeterValueSampleInterval", "0", "Rejected"),
        ("LocalPreAuthorize", "maybe", "Rejected"),
        ("LocalPreAuthorize", "TRUE", "Accepted"),
        ("ConnectionTimeOut", "90", "Accepted"),
    ],
)
async def test_change_configuration_status(
    server: Server, key: str, value: str, status: str
) -> None:
    """OCPP 1.6 §5.3: Accepted and applied, Rejected for read-only keys and bad values, NotSupported for unknown keys."""
    async with simulated(server) as sim:
        wire = sim.wire
        await wire.booted()
        before = await wire.send("GetConfiguration", {})
        answer = await wire.send("ChangeConfiguration", {"key": key, "value": value})
        assert answer == {"status": status}
        after = await wire.send("GetConfiguration", {})
        if status == "Accepted":
            (entry,) = [e for e in after["configurationKey"] if e["key"] == key]
            assert entry["value"] == value.lower()
        else:
            assert after == before


async def test_change_heartbeat_interval_takes_effect(server: Server) -> None:
    """OCPP 1.6 §5.3, §9.1 HeartbeatInterval: the value "1" is Accepted, and a Heartbeat follows."""
    async with simulated(server) as sim:
        wire = sim.wire
        await wire.booted()
        start = wire.mark()
        answer = await wire.send("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "1"})
        assert answer == {"status": "Accepted"}
        index, _ = await wire.call("Heartbeat", start=start)
        answered = await wire.answer_to(index)
        assert answered["currentTime"].endswith("Z")
    assert sim.stats.latencies["Heartbeat"]


async def test_change_meter_value_sample_interval_in_a_transaction(server: Server) -> None:
    """OCPP 1.6 §5.3, §9.1 MeterValueSampleInterval: "1" Accepted during a transaction: MeterValues follow."""
    async with simulated(server) as sim:  # the interval starts at 3600 s
        wire = sim.wire
        await wire.booted()
        transaction_id, _ = await _remote_start(wire)
        start = wire.mark()
        answer = await wire.send(
            "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "1"}
        )
        assert answer == {"status": "Accepted"}
        _, first = await wire.call("MeterValues", start=start)
        index, second = await wire.call("MeterValues", start=wire.calls("MeterValues")[-1][0] + 1)
        for payload in (first, second):
            assert payload["transactionId"] == transaction_id
            assert payload["connectorId"] == 1
            assert _sampled(payload, "Energy.Active.Import.Register") >= 0
            assert _sampled(payload, "Power.Active.Import") > 0
        assert index > start


async def test_fractional_meter_interval_is_kept(server: Server) -> None:
    """SimConfig.meter_interval below a second is the real interval; the key shows whole seconds."""
    async with simulated(server, meter_interval=0.05) as sim:
        wire = sim.wire
        await wire.booted()
        answer = await wire.send("GetConfiguration", {"key": ["MeterValueSampleInterval"]})
        assert answer["configurationKey"][0]["value"] == "1"
        transaction_id, index = await _remote_start(wire)
        await wire.until(lambda: len(wire.calls("MeterValues", start=index)) >= 5 or None)
        samples = [p for _, p in wire.calls("MeterValues", start=index)]
        assert all(p["transactionId"] == transaction_id for _, p in wire.calls("MeterValues"))
        # An interval rounded up to the key's 1 s would space every two samples at least
        # 1 s apart, which no load can shorten; two samples closer than that show the
        # 0.05 s interval at work (a busy machine only ever spaces them further apart).
        taken = [datetime.fromisoformat(p["meterValue"][0]["timestamp"]) for p in samples]
        gaps = [(taken[n + 1] - taken[n]).total_seconds() for n in range(len(taken) - 1)]
        assert min(gaps) < 1, gaps


async def test_energy_register_counts_fractions_of_a_watt_hour(server: Server) -> None:
    """Energy delivered in steps of less than 1 Wh adds up: meterStop - meterStart grows with time."""
    async with simulated(server, meter_interval=0.05) as sim:
        wire = sim.wire
        await wire.booted()
        transaction_id, index = await _remote_start(wire)
        # 20 samples 0.05 s apart: at least a second of charging at 7.4 kW or more
        # (over 1.8 Wh), in steps of 0.1 to 0.3 Wh each.
        await wire.until(lambda: len(wire.calls("MeterValues", start=index)) >= 20 or None)
        registers = [
            _sampled(p, "Energy.Active.Import.Register")
            for _, p in wire.calls("MeterValues", start=index)
        ]
        assert registers == sorted(registers)
        answer = await wire.send("RemoteStopTransaction", {"transactionId": transaction_id})
        assert answer == {"status": "Accepted"}
        _, stop = await wire.call("StopTransaction")
        _, start = wire.calls("StartTransaction")[0]
        assert stop["meterStop"] - start["meterStart"] >= 1
        assert stop["meterStop"] >= registers[-1]
    assert sim.stats.energy_wh == stop["meterStop"] - start["meterStart"]


# ----------------------------------------------------------------------------- TriggerMessage


@pytest.mark.parametrize(
    ("requested", "extra", "expected"),
    [
        ("Heartbeat", {}, [{}]),
        ("BootNotification", {}, None),
        ("DiagnosticsStatusNotification", {}, [{"status": "Idle"}]),
        ("FirmwareStatusNotification", {}, [{"status": "Idle"}]),
        ("StatusNotification", {}, [(0, "Available"), (1, "Available")]),
        ("StatusNotification", {"connectorId": 1}, [(1, "Available")]),
        ("StatusNotification", {"connectorId": 0}, [(0, "Available")]),
        ("MeterValues", {"connectorId": 1}, [1]),
        ("MeterValues", {}, [1]),
    ],
)
async def test_trigger_message_answers_first_then_sends(
    server: Server, requested: str, extra: dict[str, Any], expected: list[Any] | None
) -> None:
    """OCPP 1.6 §5.17: TriggerMessage is Accepted, and the message asked for is sent after the answer."""
    async with simulated(server) as sim:
        wire = sim.wire
        await wire.booted()
        start = wire.mark()
        answer = await wire.send("TriggerMessage", {"requestedMessage": requested, **extra})
        assert answer == {"status": "Accepted"}
        count = len(expected) if expected is not None else 1
        await wire.until(lambda: len(wire.calls(requested, start=start)) >= count or None)
        triggered = wire.calls(requested, start=start)
        _, trigger_id = await wire.sent_call("TriggerMessage", start)
        # On the server's side both frames come in: the CALLRESULT first.
        answered_at = await wire.answered_at("TriggerMessage", start)
        assert start < answered_at < triggered[0][0]
        # And the charge point sent them in that order.
        sent = [frame for direction, frame in sim.sent if direction == "out"]
        result_sent = next(i for i, f in enumerate(sent) if f[:2] == [CALLRESULT, trigger_id])
        first_sent = next(
            i
            for i, f in enumerate(sent)
            if f[0] == CALL and f[1] == wire.frames[triggered[0][0]][2][1]
        )
        assert result_sent < first_sent
        payloads = [p for _, p in triggered]
        if requested == "StatusNotification":
            assert [(p["connectorId"], p["status"]) for p in payloads] == expected
        elif requested == "MeterValues":
            assert [p["connectorId"] for p in payloads] == expected
            assert "transactionId" not in payloads[0]  # no transaction running
        elif requested == "BootNotification":
            assert payloads[0]["chargePointModel"] == "Simulator"
            await wire.answer_to(triggered[0][0])
        else:
            assert payloads == expected
    # The charge point has left, so all it sent is in: exactly what was asked for.
    assert len(wire.calls(requested, start=start)) == count
    assert sim.stats.received == {"TriggerMessage": 1}


async def test_trigger_message_meter_values_in_a_transaction(server: Server) -> None:
    """OCPP 1.6 §5.17: a triggered MeterValues during a transaction carries its transactionId."""
    async with simulated(server) as sim:
        wire = sim.wire
        await wire.booted()
        transaction_id, _ = await _remote_start(wire)
        start = wire.mark()
        answer = await wire.send(
            "TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 1}
        )
        assert answer == {"status": "Accepted"}
        _, payload = await wire.call("MeterValues", start=start)
        assert payload["transactionId"] == transaction_id
        assert _sampled(payload, "Power.Active.Import") > 0


async def test_trigger_message_unknown_connector_is_rejected(server: Server) -> None:
    """OCPP 1.6 §5.17: a TriggerMessage for a connector the charge point lacks is Rejected."""
    async with simulated(server) as sim:
        await sim.wire.booted()
        for requested in ("StatusNotification", "MeterValues", "Heartbeat"):
            answer = await sim.wire.send(
                "TriggerMessage", {"requestedMessage": requested, "connectorId": 5}
            )
            assert answer == {"status": "Rejected"}


# ----------------------------------------------------------------------------- smart charging


async def test_charge_point_max_profile_limits_the_power(server: Server) -> None:
    """OCPP 1.6 §5.16: a 2000 W ChargePointMaxProfile is Accepted and the next MeterValues keep to it."""
    async with simulated(server, meter_interval=0.1) as sim:
        wire = sim.wire
        await wire.booted()
        await _remote_start(wire)
        index, before = await wire.call("MeterValues")
        assert _sampled(before, "Power.Active.Import") > 2000  # 7.4 kW at least
        # The profile comes while the charger waits for its next sample.
        await wire.answer_to(index)
        await wire.send("GetLocalListVersion", {})
        start = wire.mark()
        request = {
            "connectorId": 0,
            "csChargingProfiles": _profile("ChargePointMaxProfile", 2000),
        }
        assert await wire.send("SetChargingProfile", request) == {"status": "Accepted"}
        answered_at = await wire.answered_at("SetChargingProfile", start)
        # Every MeterValues sent after the answer keeps to the limit, the first one too.
        await wire.until(lambda: len(wire.calls("MeterValues", start=answered_at)) >= 3 or None)
        for _, payload in wire.calls("MeterValues", start=answered_at):
            assert 0 < _sampled(payload, "Power.Active.Import") <= 2000

        start = wire.mark()
        assert await wire.send("ClearChargingProfile", {}) == {"status": "Accepted"}
        cleared_at = await wire.answered_at("ClearChargingProfile", start)
        _, after = await wire.call("MeterValues", start=cleared_at)
        assert _sampled(after, "Power.Active.Import") > 2000
        assert await wire.send("ClearChargingProfile", {}) == {"status": "Unknown"}


async def test_profile_set_before_a_transaction_applies_to_it(server: Server) -> None:
    """OCPP 1.6 §5.16: a ChargePointMaxProfile in amperes set while idle limits the next session."""
    async with simulated(server, meter_interval=0.1) as sim:
        wire = sim.wire
        await wire.booted()
        profile = _profile("ChargePointMaxProfile", 6)
        profile["chargingSchedule"]["chargingRateUnit"] = "A"
        profile["chargingSchedule"]["chargingSchedulePeriod"][0]["numberPhases"] = 1
        request = {"connectorId": 0, "csChargingProfiles": profile}
        assert await wire.send("SetChargingProfile", request) == {"status": "Accepted"}
        _, index = await _remote_start(wire)
        await wire.until(lambda: len(wire.calls("MeterValues", start=index)) >= 2 or None)
        for _, payload in wire.calls("MeterValues", start=index):
            assert 0 < _sampled(payload, "Power.Active.Import") <= 6 * 230


async def test_tx_profile_without_a_transaction_is_rejected(server: Server) -> None:
    """OCPP 1.6 §5.16 (TC_058_1_CS): a TxProfile with no transaction on the connector is Rejected."""
    async with simulated(server) as sim:
        wire = sim.wire
        await wire.booted()
        for connector_id in (0, 1):
            request = {
                "connectorId": connector_id,
                "csChargingProfiles": _profile("TxProfile", 3000),
            }
            assert await wire.send("SetChargingProfile", request) == {"status": "Rejected"}
        request = {"connectorId": 2, "csChargingProfiles": _profile("TxDefaultProfile", 3000)}
        assert await wire.send("SetChargingProfile", request) == {"status": "Rejected"}
        assert await wire.send("ClearChargingProfile", {}) == {"status": "Unknown"}


async def test_tx_profile_in_a_transaction_is_accepted(server: Server) -> None:
    """OCPP 1.6 §5.16: a TxProfile for the running transaction is Accepted and applied."""
    async with simulated(server, meter_interval=0.1) as sim:
        wire = sim.wire
        await wire.booted()
        transaction_id, _ = await _remote_start(wire)
        profile = _profile("TxProfile", 1500, transactionId=transaction_id)
        request = {"connectorId": 1, "csChargingProfiles": profile}
        start = wire.mark()
        assert await wire.send("SetChargingProfile", request) == {"status": "Accepted"}
        answered_at = await wire.answered_at("SetChargingProfile", start)
        _, payload = await wire.call("MeterValues", start=answered_at)
        assert 0 < _sampled(payload, "Power.Active.Import") <= 1500
        answer = await wire.send("ClearChargingProfile", {"connectorId": 1})
        assert answer == {"status": "Accepted"}


# ----------------------------------------------------------------------------- UnlockConnector


async def test_unlock_connector_stops_its_transaction(server: Server) -> None:
    """OCPP 1.6 §5.18 (TC_018_1_CS): Unlocked, then StopTransaction reason UnlockCommand, Finishing, Available."""
    async with simulated(server) as sim:
        wire = sim.wire
        await wire.booted()
        transaction_id, _ = await _remote_start(wire)
        start = wire.mark()
        assert await wire.send("UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}
        answered_at = await wire.answered_at("UnlockConnector", start)
        index, stop = await wire.call("StopTransaction", start=start)
        assert answered_at < index
        assert stop["transactionId"] == transaction_id
        assert stop["reason"] == "UnlockCommand"
        await wire.call("StatusNotification", _connector(1, "Available"), start=index)
        statuses = [p["status"] for _, p in wire.calls("StatusNotification", start=index)]
        assert statuses == ["Finishing", "Available"]
        # No transaction now: unlocking again just unlocks.
        assert await wire.send("UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}
        assert await wire.send("UnlockConnector", {"connectorId": 3}) == {"status": "NotSupported"}
        assert len(wire.calls("StopTransaction")) == 1


# ----------------------------------------------------------------------------- the rest


OTHER_CALLS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("CancelReservation", {"reservationId": 1}, {"status": "Rejected"}),
    ("ChangeAvailability", {"connectorId": 0, "type": "Operative"}, {"status": "Accepted"}),
    ("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}, {"status": "Accepted"}),
    ("ChangeAvailability", {"connectorId": 4, "type": "Inoperative"}, {"status": "Rejected"}),
    ("ClearCache", {}, {"status": "Accepted"}),
    ("DataTransfer", {"vendorId": "com.example", "data": "x"}, {"status": "UnknownVendorId"}),
    ("GetCompositeSchedule", {"connectorId": 1, "duration": 60}, {"status": "Rejected"}),
    ("GetDiagnostics", {"location": "ftp://diag.example.com/upload"}, {}),
    ("GetLocalListVersion", {}, {"listVersion": -1}),
    (
        "ReserveNow",
        {
            "connectorId": 1,
            "expiryDate": "2030-01-01T00:00:00Z",
            "idTag": "TAG1",
            "reservationId": 1,
        },
        {"status": "Rejected"},
    ),
    ("SendLocalList", {"listVersion": 1, "updateType": "Full"}, {"status": "NotSupported"}),
    (
        "UpdateFirmware",
        {"location": "https://fw.example.com/v2.bin", "retrieveDate": "2030-01-01T00:00:00Z"},
        {},
    ),
]


async def test_other_core_actions_get_a_valid_answer(server: Server) -> None:
    """OCPP 1.6 §5: every other core action gets a CALLRESULT valid by its schema."""
    async with simulated(server) as sim:
        await sim.wire.booted()
        for action, request, expected in OTHER_CALLS:
            assert await sim.wire.send(action, request) == expected, action


async def test_change_availability_during_a_transaction_is_scheduled(server: Server) -> None:
    """OCPP 1.6 §5.2: Inoperative for a connector in a transaction is Scheduled."""
    async with simulated(server) as sim:
        await sim.wire.booted()
        await _remote_start(sim.wire)
        for connector_id in (0, 1):
            request = {"connectorId": connector_id, "type": "Inoperative"}
            assert await sim.wire.send("ChangeAvailability", request) == {"status": "Scheduled"}
        request = {"connectorId": 1, "type": "Operative"}
        assert await sim.wire.send("ChangeAvailability", request) == {"status": "Accepted"}


async def test_received_counts_each_call_by_action(server: Server) -> None:
    """Stats.received counts the central system's calls, by action."""
    async with simulated(server) as sim:
        wire = sim.wire
        await wire.booted()
        for action, request, _ in OTHER_CALLS:
            await wire.send(action, request)
        await wire.send("GetConfiguration", {})
        await wire.send("GetConfiguration", {"key": ["HeartbeatInterval"]})
        await wire.send("TriggerMessage", {"requestedMessage": "Heartbeat", "connectorId": 9})
        expected = {action: 0 for action, _, _ in OTHER_CALLS}
        for action, _, _ in OTHER_CALLS:
            expected[action] += 1
        expected.update({"GetConfiguration": 2, "TriggerMessage": 1})
        assert dict(sim.stats.received) == expected
        assert sim.stats.as_dict()["calls_received"] == dict(sorted(expected.items()))


# ----------------------------------------------------------------------------- sessions


async def test_a_session_runs_and_ends_by_itself(server: Server) -> None:
    """OCPP 1.6 §4: Authorize, StartTransaction, MeterValues, StopTransaction EVDisconnected, Finishing, Available."""
    central = CentralSystem()
    async with simulated(
        server, central=central, idle=0.1, session=1.0, meter_interval=0.2, seed=3
    ) as sim:
        wire = sim.wire
        await wire.booted()
        start = wire.mark()
        stop_index, stop = await wire.call("StopTransaction", start=start)
        await wire.call("StatusNotification", _connector(1, "Available"), start=stop_index)
        actions = wire.actions(start=start)
        end = actions.index("StopTransaction")
        assert actions[:3] == ["Authorize", "StatusNotification", "StartTransaction"]
        assert actions[3] == "StatusNotification"
        middle = actions[4:end]
        assert middle and set(middle) == {"MeterValues"}
        assert actions[end : end + 3] == [
            "StopTransaction",
            "StatusNotification",
            "StatusNotification",
        ]
        (start_index, start_tx), *_ = wire.calls("StartTransaction", start=start)
        _, authorize = wire.calls("Authorize", start=start)[0]
        assert start_tx["idTag"] == authorize["idTag"] == stop["idTag"]
        transaction_id = (await wire.answer_to(start_index))["transactionId"]
        assert stop["transactionId"] == transaction_id
        assert stop["reason"] == "EVDisconnected"
        assert stop["meterStop"] >= start_tx["meterStart"]
        for _, payload in wire.calls("MeterValues", start=start_index)[: len(middle)]:
            assert payload["transactionId"] == transaction_id
        statuses = [p["status"] for _, p in wire.calls("StatusNotification", start=start)[:4]]
        assert statuses == ["Preparing", "Charging", "Finishing", "Available"]
    # Whatever ran after it was stopped at the end ("Local"); the energy adds up.
    starts = _started(wire)
    stops = [p for _, p in wire.calls("StopTransaction")]
    assert sim.stats.transactions_started == len(starts) == central.transactions_started
    assert sim.stats.transactions_stopped == len(stops) == len(starts)
    assert sim.stats.energy_wh == sum(
        p["meterStop"] - starts[p["transactionId"]]["meterStart"] for p in stops
    )
    assert sim.stats.active_transactions == 0


def _started(wire: Wire) -> dict[int, dict[str, Any]]:
    """The StartTransaction requests seen so far, by the transaction id they were given."""
    started = {}
    for index, payload in wire.calls("StartTransaction"):
        for _, direction, frame in wire.frames[index:]:
            if (
                direction == "out"
                and frame[0] == CALLRESULT
                and frame[1] == wire.frames[index][2][1]
            ):
                started[frame[2]["transactionId"]] = payload
                break
    return started


async def test_stop_ends_the_transaction_and_closes_with_1000(server: Server) -> None:
    """At the end of the run the transaction stops with reason Local and the connection closes with 1000."""
    async with simulated(server) as sim:
        wire = sim.wire
        await wire.booted()
        transaction_id, _ = await _remote_start(wire)
        await sim.finish()
        assert sim.task is not None and sim.task.done()
        _, stop = await wire.call("StopTransaction")
        assert stop["transactionId"] == transaction_id
        assert stop["reason"] == "Local"
        assert await wire.closed(1) == 1000
        assert len(wire.connections) == 1
        assert sim.stats.connected == 0
        assert sim.stats.transactions_stopped == 1
        assert sim.stats.active_transactions == 0


@pytest.mark.parametrize("code", [1011, 1001])
async def test_dropped_connection_is_retried_and_the_transaction_continues(
    server: Server, code: int
) -> None:
    """A connection the central system drops is reopened; the running transaction carries on."""
    async with simulated(server, meter_interval=0.2, errors_expected=True) as sim:
        wire = sim.wire
        await wire.booted()
        transaction_id, _ = await _remote_start(wire)
        await wire.call("MeterValues")
        await wire.connections[0].close(code)
        await wire.booted(2)
        # Booting again reports the connector as it is: still charging.
        assert wire.actions(connection=2)[0] == "BootNotification"
        statuses = wire.calls("StatusNotification", connection=2)
        assert [(p["connectorId"], p["status"]) for _, p in statuses] == [
            (0, "Available"),
            (1, "Charging"),
        ]
        _, payload = await wire.call("MeterValues", connection=2)
        assert payload["transactionId"] == transaction_id
        assert wire.calls("StartTransaction", connection=2) == []
        assert wire.calls("StopTransaction") == []
        assert sim.stats.error_kinds["connection closed by the central system"] == 1
        assert sim.stats.active_transactions == 1
        await sim.finish()
        _, stop = await wire.call("StopTransaction", connection=2)
        assert stop["transactionId"] == transaction_id
        assert stop["reason"] == "Local"
    assert sim.cp.connects == 2
    assert sim.stats.booted == 1
    # Only the drop and calls caught in flight by it may have failed.
    assert set(sim.stats.error_kinds) <= {
        "connection closed by the central system",
        "connection closed before the answer",
    }


async def test_charge_point_max_profile_on_a_connector_is_rejected(server: Server) -> None:
    """OCPP 1.6 §3.13.1: a ChargePointMaxProfile is set on connector 0 only; elsewhere Rejected."""
    async with simulated(server) as sim:
        await sim.wire.booted()
        request = {"connectorId": 1, "csChargingProfiles": _profile("ChargePointMaxProfile", 2000)}
        assert await sim.wire.send("SetChargingProfile", request) == {"status": "Rejected"}
        assert await sim.wire.send("ClearChargingProfile", {}) == {"status": "Unknown"}


async def test_a_central_system_that_keeps_dropping_is_not_hammered(server: Server) -> None:
    """A connection dropped at once is retried after a backoff that doubles: 0.5 s, then 1 s at least."""
    loop = asyncio.get_running_loop()
    opened: list[float] = []
    third: asyncio.Future[None] = loop.create_future()
    closing: set[asyncio.Future[None]] = set()

    def drop(connection: ClientBase) -> None:
        opened.append(loop.time())
        if len(opened) == 3 and not third.done():
            third.set_result(None)
        closing.add(asyncio.ensure_future(connection.close(1011)))

    server.on("connection", drop)
    stats = Stats()
    config = SimConfig(url=url(server), count=1, duration=3600, idle=3600, call_timeout=5)
    point = SimulatedChargePoint(1, config, stats)
    stop = asyncio.Event()
    task = asyncio.create_task(point.run(stop, asyncio.Semaphore(1)))
    try:
        await wait(third)
    finally:
        stop.set()
        await wait(task)
    # Jitter is 0.5x to 1.5x of a backoff that starts at 1 s and doubles.
    assert opened[1] - opened[0] >= 0.5
    assert opened[2] - opened[1] >= 1.0
    assert stats.error_kinds["connection closed by the central system"] >= 2


async def test_websocket_ping_interval_applies_to_the_next_connection(server: Server) -> None:
    """OCPP 1.6 §9.1: WebSocketPingInterval 0 sends no pings; a new value applies after a reboot."""
    async with simulated(server) as sim:
        await sim.wire.booted()
        assert sim.cp.client is not None and sim.cp.client.ping_interval is None
        change = {"key": "WebSocketPingInterval", "value": "30"}
        assert await sim.wire.send("ChangeConfiguration", change) == {"status": "Accepted"}
        assert await sim.wire.send("Reset", {"type": "Soft"}) == {"status": "Accepted"}
        await sim.wire.booted(2)
        assert sim.cp.client is not None and sim.cp.client.ping_interval == 30


async def test_inoperative_connector_reports_unavailable_and_takes_no_session(
    server: Server,
) -> None:
    """OCPP 1.6 §5.2: an idle connector made Inoperative reports Unavailable and starts nothing."""
    async with simulated(server, idle=0.05) as sim:
        wire = sim.wire
        await wire.booted()
        start = wire.mark()
        request = {"connectorId": 1, "type": "Inoperative"}
        # The idle connector may be starting a session of its own: then the change waits.
        answer = await wire.send("ChangeAvailability", request)
        if answer == {"status": "Scheduled"}:
            await wire.send("RemoteStopTransaction", {"transactionId": 1})
        await wire.call("StatusNotification", _connector(1, "Unavailable"), start=start)
        unavailable = wire.mark()
        remote = await wire.send("RemoteStartTransaction", {"idTag": "R", "connectorId": 1})
        assert remote == {"status": "Rejected"}
        # Ten idle periods pass: no Authorize, no StartTransaction on it.
        await wire.send("GetLocalListVersion", {})
        assert wire.calls("Authorize", start=unavailable) == []
        back = wire.mark()
        request = {"connectorId": 1, "type": "Operative"}
        assert await wire.send("ChangeAvailability", request) == {"status": "Accepted"}
        await wire.call("StatusNotification", _connector(1, "Available"), start=back)
        await wire.call("Authorize", start=back)  # sessions start again


async def test_scheduled_inoperative_applies_when_the_transaction_ends(server: Server) -> None:
    """OCPP 1.6 §5.2: Inoperative during a transaction is Scheduled, then Unavailable after it."""
    async with simulated(server) as sim:
        wire = sim.wire
        await wire.booted()
        transaction_id, _ = await _remote_start(wire)
        request = {"connectorId": 0, "type": "Inoperative"}
        assert await wire.send("ChangeAvailability", request) == {"status": "Scheduled"}
        start = wire.mark()
        assert await wire.send("RemoteStopTransaction", {"transactionId": transaction_id}) == {
            "status": "Accepted"
        }
        await wire.call("StopTransaction", start=start)
        await wire.call("StatusNotification", _connector(1, "Finishing"), start=start)
        await wire.call("StatusNotification", _connector(1, "Unavailable"), start=start)


async def test_stop_transaction_refused_is_retried_then_given_up(server: Server) -> None:
    """OCPP 1.6 §4.10: a refused StopTransaction is sent TransactionMessageAttempts times, no more."""
    attempts: list[float] = []
    loop = asyncio.get_running_loop()

    def refuse(request: dict[str, Any]) -> dict[str, Any]:
        attempts.append(loop.time())
        raise OcppError("InternalError", "database down")

    async with simulated(server, handlers={"StopTransaction": refuse}, errors_expected=True) as sim:
        wire = sim.wire
        await wire.booted()
        for key, value in (
            ("TransactionMessageAttempts", "3"),
            ("TransactionMessageRetryInterval", "1"),
        ):
            change = {"key": key, "value": value}
            assert await wire.send("ChangeConfiguration", change) == {"status": "Accepted"}
        transaction_id, _ = await _remote_start(wire)
        start = wire.mark()
        await wire.send("RemoteStopTransaction", {"transactionId": transaction_id})
        await wire.call("StatusNotification", _connector(1, "Available"), start=start)
        assert len(wire.calls("StopTransaction", start=start)) == 3
        # Waits of 1 s, then 2 s: the retry interval times the attempts so far.
        assert attempts[1] - attempts[0] >= 0.9 and attempts[2] - attempts[1] >= 1.9
    assert sim.stats.error_kinds["CALLERROR InternalError"] == 3
    assert sim.stats.error_kinds["StopTransaction given up after 3 attempts"] == 1
    assert (sim.stats.transactions_stopped, sim.stats.active_transactions) == (0, 0)


async def test_connection_lost_during_stop_transaction_does_not_spin(server: Server) -> None:
    """A connection closed while StopTransaction awaits its answer: the stop goes out on the next one."""
    dropped = asyncio.Event()
    connections: list[ClientBase] = []
    server.on("connection", connections.append)

    async def drop_once(request: dict[str, Any]) -> dict[str, Any]:
        if not dropped.is_set():
            dropped.set()
            await connections[-1].close(1011)
        return {}

    async with simulated(
        server, handlers={"StopTransaction": drop_once}, errors_expected=True
    ) as sim:
        wire = sim.wire
        await wire.booted()
        transaction_id, _ = await _remote_start(wire)
        await wire.send("RemoteStopTransaction", {"transactionId": transaction_id})
        await wait(dropped.wait())
        await wire.booted(2)
        _, stop = await wire.call("StopTransaction", connection=2)
        assert (stop["transactionId"], stop["reason"]) == (transaction_id, "Remote")
        await wire.call("StatusNotification", _connector(1, "Available"), connection=2)
    assert sim.stats.transactions_stopped == 1 and sim.stats.active_transactions == 0


async def test_long_id_keeps_the_serial_number_valid(server: Server) -> None:
    """CiString25: a charge point id longer than 25 characters is cut in chargePointSerialNumber."""
    async with simulated(server, prefix="X" * 30) as sim:
        _, boot = await sim.wire.call("BootNotification")
        assert boot["chargePointSerialNumber"] == "X" * 25
        assert sim.stats.booted == 1 or await sim.wire.booted() is None


async def test_negative_limit_is_rejected(server: Server) -> None:
    """A charging limit below zero is Rejected, so the energy register never runs backwards."""
    async with simulated(server) as sim:
        await sim.wire.booted()
        request = {"connectorId": 0, "csChargingProfiles": _profile("ChargePointMaxProfile", -5000)}
        assert await sim.wire.send("SetChargingProfile", request) == {"status": "Rejected"}


async def test_triggered_meter_values_say_trigger(server: Server) -> None:
    """OCPP 1.6 §7.35: MeterValues sent for a TriggerMessage carry the context Trigger."""
    async with simulated(server) as sim:
        await sim.wire.booted()
        start = sim.wire.mark()
        request = {"requestedMessage": "MeterValues", "connectorId": 1}
        assert await sim.wire.send("TriggerMessage", request) == {"status": "Accepted"}
        _, payload = await sim.wire.call("MeterValues", start=start)
        contexts = {v["context"] for v in payload["meterValue"][0]["sampledValue"]}
        assert contexts == {"Trigger"}


async def test_remote_start_while_a_driver_authorizes_is_rejected(server: Server) -> None:
    """A RemoteStartTransaction while the connector's own driver is being authorized is Rejected."""
    authorizing = asyncio.Event()
    release = asyncio.Event()

    async def slow_authorize(request: dict[str, Any]) -> dict[str, Any]:
        authorizing.set()
        await release.wait()
        return {"idTagInfo": {"status": "Accepted"}}

    async with simulated(server, idle=0.05, handlers={"Authorize": slow_authorize}) as sim:
        await sim.wire.booted()
        await wait(authorizing.wait())
        remote = await sim.wire.send("RemoteStartTransaction", {"idTag": "R"})
        release.set()
        assert remote == {"status": "Rejected"}
        _, start = await sim.wire.call("StartTransaction")
        assert start["idTag"] != "R"


async def test_connector_zero_stays_unavailable_after_inoperative(server: Server) -> None:
    """OCPP 1.6 §5.2: ChangeAvailability on connector 0 holds for the charge point's own status too."""
    async with simulated(server) as sim:
        wire = sim.wire
        await wire.booted()
        request = {"connectorId": 0, "type": "Inoperative"}
        assert await wire.send("ChangeAvailability", request) == {"status": "Accepted"}
        start = wire.mark()
        trigger = {"requestedMessage": "StatusNotification", "connectorId": 0}
        assert await wire.send("TriggerMessage", trigger) == {"status": "Accepted"}
        await wire.call("StatusNotification", _connector(0, "Unavailable"), start=start)
        start = wire.mark()
        assert await wire.send("Reset", {"type": "Soft"}) == {"status": "Accepted"}
        await wire.booted(2)
        await wire.call("StatusNotification", _connector(0, "Unavailable"), start=start)
        await wire.call("StatusNotification", _connector(1, "Unavailable"), start=start)


async def test_stop_transaction_is_retried_by_the_library(server: Server) -> None:
    """OCPP 1.6 §9.1: a StopTransaction refused twice waits in the client's offline queue and goes through on the third attempt."""
    queued: list[list[tuple[str, int]]] = []

    def refuse_twice(request: dict[str, Any]) -> dict[str, Any]:
        client = sim.cp.client
        assert client is not None
        queued.append([(call.action, call.attempts) for call in client.queued()])
        if len(queued) <= 2:
            raise OcppError("InternalError", "database down")
        return {}

    handlers = {"StopTransaction": refuse_twice}
    async with simulated(server, handlers=handlers, errors_expected=True) as sim:
        wire = sim.wire
        await wire.booted()
        change = {"key": "TransactionMessageRetryInterval", "value": "0"}
        assert await wire.send("ChangeConfiguration", change) == {"status": "Accepted"}
        transaction_id, _ = await _remote_start(wire)
        start = wire.mark()
        await wire.send("RemoteStopTransaction", {"transactionId": transaction_id})
        await wire.call("StatusNotification", _connector(1, "Available"), start=start)
        stops = wire.calls("StopTransaction", start=start)
        assert [payload["transactionId"] for _, payload in stops] == [transaction_id] * 3
        # The library's queue held it, one attempt more each time; a CALLERROR
        # answered its message id, so each attempt had a new one.
        assert queued == [[("StopTransaction", n)] for n in range(3)]
        assert len({wire.frames[index][2][1] for index, _ in stops}) == 3
        client = sim.cp.client
        assert client is not None and client.queued() == []
    assert sim.stats.transactions_stopped == 1
    assert sim.stats.error_kinds["CALLERROR InternalError"] == 2
    assert not [kind for kind in sim.stats.error_kinds if "given up" in kind]


async def test_a_start_transaction_given_up_frees_the_connector(server: Server) -> None:
    """OCPP 1.6 §9.1: a StartTransaction refused TransactionMessageAttempts times is given up; the connector is Available again."""

    def refuse(request: dict[str, Any]) -> dict[str, Any]:
        raise OcppError("InternalError", "database down")

    handlers = {"StartTransaction": refuse}
    async with simulated(server, handlers=handlers, errors_expected=True) as sim:
        wire = sim.wire
        await wire.booted()
        change = {"key": "TransactionMessageAttempts", "value": "1"}
        assert await wire.send("ChangeConfiguration", change) == {"status": "Accepted"}
        start = wire.mark()
        assert await wire.send("RemoteStartTransaction", {"idTag": "R1"}) == {"status": "Accepted"}
        await wire.call("StatusNotification", _connector(1, "Available"), start=start)
        assert len(wire.calls("StartTransaction", start=start)) == 1
        assert sim.stats.error_kinds["StartTransaction given up after 1 attempts"] == 1
        assert (sim.stats.transactions_started, sim.stats.active_transactions) == (0, 0)
        # Free again, once the charge point has taken the answer in: a session may start.
        await wire.send("GetLocalListVersion", {})
        assert wire.calls("Authorize", start=start) == []  # no driver came meanwhile
        assert await wire.send("RemoteStartTransaction", {"idTag": "R2"}) == {"status": "Accepted"}


async def test_a_remote_stop_during_meter_values_leaves_the_next_driver_waiting(
    server: Server,
) -> None:
    """A session stopped while its MeterValues is out: the next session waits its idle time."""
    stopped: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    wire_ready: asyncio.Future[Wire] = asyncio.get_running_loop().create_future()

    async def meter_values(request: dict[str, Any]) -> dict[str, Any]:
        # The stop arrives while the charge point waits for this answer.
        if not stopped.done():
            wire = await wire_ready
            answer = await wire.send(
                "RemoteStopTransaction", {"transactionId": request["transactionId"]}
            )
            stopped.set_result(answer)
        return {}

    async with simulated(
        server, meter_interval=0.05, handlers={"MeterValues": meter_values}
    ) as sim:
        wire = sim.wire
        await wire.booted()
        transaction_id, index = await _remote_start(wire)
        wire_ready.set_result(wire)
        assert await wait(stopped) == {"status": "Accepted"}
        stop, request = await wire.call("StopTransaction", start=index)
        assert request["transactionId"] == transaction_id
        available, _ = await wire.call("StatusNotification", _connector(1, "Available"), start=stop)
        await wire.answer_to(available)
        # Two more round trips: a driver who plugged in at once would have authorized by now.
        await wire.send("GetLocalListVersion", {})
        await wire.send("GetLocalListVersion", {})
        assert wire.calls("Authorize", start=available) == []
