"""The simulated charge point of ``ocpp16 simulate`` and ``ocpp16 demo``.

Each one boots, sends heartbeats, and runs charging sessions on its connectors
(Authorize, StartTransaction, MeterValues every few seconds, StopTransaction),
reconnecting when its connection drops. It answers the central system's calls
as a real charger would: a Reset stops its transactions and reboots it, a
RemoteStartTransaction starts a session, a ChangeConfiguration changes what it
does. Built on the public API alone: :class:`~ocpp16.chargepoint.ChargePointSession`
connects, reconnects, boots, beats and keeps the configuration keys; this module
adds the connectors, their sessions and physics, and the answers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import socket
import ssl as _ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

from ocpp16 import (
    Action,
    CallTimeout,
    ChargePointSession,
    Client,
    ClientBase,
    Configuration,
    ConnectionClosed,
    HandshakeError,
    OcppError,
    Reconnect,
)
from ocpp16.types import BootNotificationResponse, MessageTrigger

from .stats import Stats, now_iso

__all__ = ["SimConfig", "SimulatedChargePoint", "describe_connect_error"]

CONNECT = "(connect)"
"""The row of the latency table that times the WebSocket handshake."""

_VOLTAGE = 230  # volts per phase, to turn a limit in amperes into watts


@dataclass
class SimConfig:
    """How the simulated charge points behave.

    Attributes:
        url: The central system's URL; each charge point appends its id.
        count: How many charge points.
        duration: Seconds from the start until the charge points stop their
            transactions and disconnect.
        meter_interval: Seconds between MeterValues during a transaction
            (the MeterValueSampleInterval key, which the central system may change).
        session: Mean length of a charging session, in seconds.
        idle: Mean pause between sessions, in seconds.
        heartbeat_interval: Seconds between heartbeats; ``None`` takes the
            interval of the BootNotification response.
        connectors: Connectors per charge point.
        prefix: Charge point ids are the prefix and a number (``SIM0001``).
        password: The Basic-auth password of every charge point (profile 1 or 2).
        passwords: The password of each charge point, by id; wins over ``password``.
        ssl: The TLS context for ``wss://`` URLs.
        connect_concurrency: Opening handshakes in flight at once.
        call_timeout: Seconds to wait for the central system's answer.
        seed: Seed of the random choices, for a repeatable run.
    """

    url: str
    count: int = 10
    duration: float = 60.0
    meter_interval: float = 5.0
    session: float = 30.0
    idle: float = 10.0
    heartbeat_interval: float | None = None
    connectors: int = 1
    prefix: str = "SIM"
    password: str | None = None
    passwords: Mapping[str, str] | None = None
    ssl: _ssl.SSLContext | None = None
    connect_concurrency: int = 50
    call_timeout: float = 30.0
    seed: int | None = None

    def cp_id(self, index: int) -> str:
        """Return the id of charge point ``index`` (from 1)."""
        return f"{self.prefix}{index:0{max(4, len(str(self.count)))}d}"


def describe_connect_error(exc: BaseException) -> str:
    """Say in one line why a connection attempt failed."""
    if isinstance(exc, HandshakeError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "no answer to the opening handshake in time"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({exc.strerror})"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the server (does it speak WebSocket, and TLS for wss://?)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the central system running, on that port?)"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


@dataclass
class _Connector:
    """One connector and the transaction on it, which outlives a connection."""

    id: int
    meter_wh: float  # the energy delivered, exactly; the register shows whole Wh
    max_power_w: float
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    transaction_id: int | None = None
    id_tag: str | None = None
    remote_id_tag: str | None = None  # asked for by RemoteStartTransaction
    stop_reason: str | None = None  # why the running transaction must stop now
    limit_w: float | None = None  # from SetChargingProfile
    power_w: float = 0.0
    meter_start: int = 0
    status: str = "Available"
    available: bool = True  # ChangeAvailability: Operative (True) or Inoperative
    available_next: bool | None = None  # a change Scheduled until the transaction ends
    starting: bool = False  # between a driver's Authorize and the StartTransaction answer

    @property
    def register(self) -> int:
        """The energy register as the meter reads it, in whole Wh."""
        return int(self.meter_wh)


# OCPP 1.6 §9.1: the standard configuration keys this charger has, typed and read-only
# as the spec has them.
def _initial_configuration(config: SimConfig, heartbeat: int) -> Configuration:
    configuration = Configuration.standard(
        {
            "AuthorizeRemoteTxRequests": "false",
            "ClockAlignedDataInterval": "0",
            "ConnectionTimeOut": "60",
            "GetConfigurationMaxKeys": "50",
            "HeartbeatInterval": str(heartbeat),
            "LocalAuthorizeOffline": "false",
            "LocalPreAuthorize": "false",
            "MeterValueSampleInterval": str(max(1, round(config.meter_interval))),
            "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import",
            "NumberOfConnectors": str(config.connectors),
            "ResetRetries": "3",
            "StopTransactionOnEVSideDisconnect": "true",
            "StopTransactionOnInvalidId": "true",
            "SupportedFeatureProfiles": "Core,RemoteTrigger,SmartCharging",
            "TransactionMessageAttempts": "3",
            "TransactionMessageRetryInterval": "10",
            "UnlockConnectorOnEVSideDisconnect": "true",
            "WebSocketPingInterval": "0",
        }
    )
    # A zero interval would flood the central system with MeterValues.
    sample = configuration["MeterValueSampleInterval"]
    configuration.define("MeterValueSampleInterval", dataclasses.replace(sample, minimum=1))
    return configuration


# OCPP 1.6 §5.17 and §7.32: what TriggerMessage may ask for, all of which this charger sends.
_TRIGGERABLE = frozenset(get_args(MessageTrigger))


def _availability(connector: _Connector) -> str:
    """The status of an idle connector: Available, or Unavailable when Inoperative."""
    return "Available" if connector.available else "Unavailable"


async def _pause(event: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds``, or less if ``event`` is set; tell whether it was set."""
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(max(0.0, seconds)):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True


class SimulatedChargePoint:
    """One simulated charge point: its connection, its connectors, its configuration.

    Args:
        index: Its number, from 1; its id is ``config.cp_id(index)``.
        config: How it behaves.
        stats: The counters it adds to.
        on_connection: Called with each new ``Client`` before it connects, to
            attach a message log.
    """

    def __init__(
        self,
        index: int,
        config: SimConfig,
        stats: Stats,
        *,
        on_connection: Callable[[ClientBase], None] | None = None,
    ) -> None:
        self.index = index
        self.cp_id = config.cp_id(index)
        self.config = config
        self.stats = stats
        self.on_connection = on_connection
        seed = None if config.seed is None else config.seed * 1_000_003 + index
        self.rng = random.Random(seed)
        self.connectors = [
            _Connector(
                id=n,
                meter_wh=self.rng.randrange(0, 2_000_000),
                max_power_w=self.rng.choice((7_400.0, 11_000.0, 22_000.0)),
            )
            for n in range(1, config.connectors + 1)
        ]
        heartbeat = config.heartbeat_interval
        self.configuration = _initial_configuration(config, max(1, round(heartbeat or 60)))
        self.configuration.on_change(self._configuration_changed)
        # The keys hold whole seconds (OCPP 1.6 §9.1: integers); the intervals of the
        # configuration may be shorter (--meter-interval 0.5). Each is used as given
        # until the central system sets its key (the session does so for heartbeats).
        self._exact: dict[str, float] = {"MeterValueSampleInterval": config.meter_interval}
        self.id_tags = [f"TAG{index:05d}{n}" for n in range(3)]
        # What run() is given: when to leave, the handshake gate, a connection already open.
        self._stop = asyncio.Event()
        self._gate = asyncio.Semaphore(config.connect_concurrency)
        self._first: Client | None = None
        # Set when this charge point must leave its connection: the run is over
        # ("Local") or a Reset was accepted ("HardReset" / "SoftReset").
        self._leaving: str | None = None
        self._leave = asyncio.Event()
        self._charging: list[asyncio.Task[Any]] = []
        self.connects = 0
        self.booted = False
        self.session = ChargePointSession(
            self._next_client,
            config.url,
            boot={
                "chargePointVendor": "ocpp16",
                "chargePointModel": "Simulator",
                # CiString25 (OCPP 1.6 §6.3): a long id is cut, not sent invalid.
                "chargePointSerialNumber": self.cp_id[:25],
                "firmwareVersion": "1.0",
            },
            # 1 s doubling up to 30 s, times 0.5 to 1.5: charge points cut off
            # together come back spread out.
            reconnect=Reconnect(initial=1.0, factor=2.0, max_delay=30.0, jitter=0.5),
            stable_after=30.0,
            configuration=self.configuration,
            heartbeat_interval=heartbeat,
            rng=self.rng,
            connect=lambda client: self.connect(self._gate, client),
            call=self.call,
            boot_retry_delay=self._boot_retry_delay,
            on_connect=self._connected,
            on_boot=self._booted,
            before_close=self._depart,
            on_close=self._disconnected,
        )

    @property
    def client(self) -> Client | None:
        """The connection open now, or ``None``."""
        return self.session.client

    # ------------------------------------------------------------------ life

    def _new_client(self) -> Client:
        config = self.config
        password = (config.passwords or {}).get(self.cp_id, config.password)
        # OCPP 1.6 §9.1 WebSocketPingInterval: 0 (the default here) sends no pings;
        # a value the central system sets applies from the next connection.
        ping = self.configuration.integer("WebSocketPingInterval")
        client = Client(
            self.cp_id,
            password=password,
            call_timeout=config.call_timeout,
            ping_interval=ping or None,
        )
        handlers: dict[str, Callable[[Any], Mapping[str, Any]]] = {
            "CancelReservation": lambda r: {"status": "Rejected"},
            "ChangeAvailability": self._change_availability,
            "ChangeConfiguration": self.configuration.change_configuration,
            "ClearCache": lambda r: {"status": "Accepted"},
            "ClearChargingProfile": self._clear_charging_profile,
            # OCPP 1.6 §5.6: no implementation for any vendorId.
            "DataTransfer": lambda r: {"status": "UnknownVendorId"},
            "GetCompositeSchedule": lambda r: {"status": "Rejected"},
            "GetConfiguration": self.configuration.get_configuration,
            # No diagnostics file to upload: the response has no fileName.
            "GetDiagnostics": lambda r: {},
            # OCPP 1.6 §6.28: -1 says Local Authorization Lists are not supported.
            "GetLocalListVersion": lambda r: {"listVersion": -1},
            "RemoteStartTransaction": self._remote_start,
            "RemoteStopTransaction": self._remote_stop,
            "ReserveNow": lambda r: {"status": "Rejected"},
            "Reset": self._reset,
            "SendLocalList": lambda r: {"status": "NotSupported"},
            "SetChargingProfile": self._set_charging_profile,
            "TriggerMessage": self._trigger_message,
            "UnlockConnector": self._unlock_connector,
            "UpdateFirmware": lambda r: {},
        }
        for action, handler in handlers.items():
            client.on(action, self._counted(action, handler))
        if self.on_connection is not None:
            self.on_connection(client)
        return client

    def _counted(
        self, action: str, handler: Callable[[Any], Mapping[str, Any]]
    ) -> Callable[[dict[str, Any]], Mapping[str, Any]]:
        received = self.stats.received

        def count(request: dict[str, Any]) -> Mapping[str, Any]:
            received[action] += 1
            return handler(request)

        return count

    async def connect(self, gate: asyncio.Semaphore, client: Client | None = None) -> Client:
        """Open a connection (of ``client``, or of a new one), timing the handshake.

        Raises:
            HandshakeError: The central system refused it.
            OSError: The central system could not be reached.
            TimeoutError: The handshake took too long.
        """
        client = client if client is not None else self._new_client()
        loop = asyncio.get_running_loop()
        async with gate:
            started = loop.time()
            try:
                await client.connect(self.config.url, ssl=self.config.ssl)
            except (HandshakeError, OSError, TimeoutError) as exc:
                self.stats.error(CONNECT, describe_connect_error(exc))
                raise
        self.stats.latency(CONNECT, loop.time() - started)
        self.connects += 1
        return client

    async def connect_unless(self, stop: asyncio.Event, gate: asyncio.Semaphore) -> Client | None:
        """Connect, unless ``stop`` is set first (Ctrl-C during the ramp): then ``None``.

        Raises:
            HandshakeError: The central system refused the connection.
            OSError: The central system could not be reached.
            TimeoutError: The handshake took too long.
        """
        connecting = asyncio.ensure_future(self.connect(gate))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not connecting.done():
                connecting.cancel()
                await asyncio.wait({connecting})
        if connecting.cancelled():
            return None
        return connecting.result()

    async def run(
        self, stop: asyncio.Event, gate: asyncio.Semaphore, client: Client | None = None
    ) -> None:
        """Stay connected and charge until ``stop`` is set, then stop and disconnect.

        Args:
            stop: Set when the run is over.
            gate: Bounds the handshakes in flight across all charge points.
            client: A connection already open, to start with.
        """
        self._stop, self._gate, self._first = stop, gate, client
        async with self.session:
            await stop.wait()

    def _next_client(self) -> Client:
        first, self._first = self._first, None
        return first if first is not None else self._new_client()

    def _connected(self, client: Client) -> None:
        self.stats.connected += 1

    async def _booted(self, client: Client, answer: BootNotificationResponse) -> None:
        """One connection booted: heartbeats (the session's), sessions, and every status."""
        if not self.booted:
            self.booted = True
            self.stats.booted += 1
        self._charging = [self.session.spawn(self._sessions(c)) for c in self.connectors]
        await self._status_all()

    async def _depart(self, client: Client) -> None:
        # Before a connection closes on purpose, the transactions stop: reason "Local"
        # at the end of the run, "HardReset"/"SoftReset" for a Reset (OCPP 1.6 §5.14).
        self._leaving = self._leaving or "Local"
        self._leave.set()  # cuts short the pauses between StopTransaction attempts
        for connector in self.connectors:
            connector.wake.set()
        if self._charging:
            await asyncio.wait(self._charging, timeout=self.config.call_timeout + 1)

    def _disconnected(self, client: Client) -> None:
        self.stats.connected -= 1
        if self._leaving is None and not self._stop.is_set():
            self.stats.error("(connection)", "connection closed by the central system")
        self._leaving = None
        self._leave.clear()
        self._charging = []

    # ------------------------------------------------------------------ calls

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Send a CALL and time its answer; ``None`` when it failed (counted as an error)."""
        client = self.client
        if client is None:
            return None
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            result = await client.call_request(Action(action), payload)
        except CallTimeout:
            self.stats.error(action, "timeout")
            return None
        except OcppError as exc:
            self.stats.error(action, f"CALLERROR {exc.code}")
            return None
        except ConnectionClosed:
            self.stats.error(action, "connection closed before the answer")
            return None
        self.stats.latency(action, loop.time() - started)
        return result

    def _boot_retry_delay(self, answer: BootNotificationResponse | None) -> float:
        # Pending or Rejected: ask again after the interval it gave, at most a minute.
        interval = (answer["interval"] or 10) if answer is not None else 10
        return min(interval, 60) * self.rng.uniform(0.8, 1.2)

    def _interval(self, key: str) -> float:
        exact = self._exact.get(key)
        return exact if exact is not None else float(self.configuration.integer(key))

    async def _status(self, connector_id: int, status: str) -> None:
        if connector_id:
            self.connectors[connector_id - 1].status = status
        await self.call(
            "StatusNotification",
            {
                "connectorId": connector_id,
                "errorCode": "NoError",
                "status": status,
                "timestamp": now_iso(),
            },
        )

    def _station_status(self) -> str:
        """Connector 0, the charge point itself: Unavailable once every connector is."""
        return "Available" if any(c.available for c in self.connectors) else "Unavailable"

    async def _status_all(self) -> None:
        await self._status(0, self._station_status())
        for connector in self.connectors:
            await self._status(connector.id, connector.status)

    async def _meter_values(self, connector: _Connector, context: str = "Sample.Periodic") -> None:
        sampled = [
            {"value": value, "context": context, "measurand": measurand, "unit": unit}
            for value, measurand, unit in (
                (str(connector.register), "Energy.Active.Import.Register", "Wh"),
                (f"{connector.power_w:.0f}", "Power.Active.Import", "W"),
            )
        ]
        payload: dict[str, Any] = {
            "connectorId": connector.id,
            "meterValue": [{"timestamp": now_iso(), "sampledValue": sampled}],
        }
        if connector.transaction_id is not None:
            payload["transactionId"] = connector.transaction_id
        await self.call("MeterValues", payload)

    # ------------------------------------------------------------------ sessions

    async def _sessions(self, connector: _Connector) -> None:
        """Charging sessions, one after the other, until the charge point leaves."""
        # A wake-up left from the previous connection (the call to leave, set while
        # this connector was not waiting) is spent: what a RemoteStart/StopTransaction
        # asked for is in remote_id_tag and stop_reason, not in the event.
        connector.wake.clear()
        while self._leaving is None:
            if connector.transaction_id is None and not await self._begin(connector):
                continue
            await self._charge(connector)
            if not await self._end(connector):
                # The connection went with the StopTransaction in flight: it is sent
                # again on the next connection (the transaction stays open till then).
                return

    async def _begin(self, connector: _Connector) -> bool:
        """Wait for a driver (or a RemoteStartTransaction) and start a transaction."""
        remote = connector.remote_id_tag
        if remote is None:
            await _pause(connector.wake, self.config.idle * self.rng.uniform(0.5, 1.5))
            connector.wake.clear()
            remote = connector.remote_id_tag
        if self._leaving is not None or not connector.available:
            return False  # an Inoperative connector takes no driver
        connector.remote_id_tag = None
        connector.starting = True
        try:
            return await self._start(connector, remote)
        finally:
            connector.starting = False

    async def _start(self, connector: _Connector, remote: str | None) -> bool:
        id_tag = remote or self.rng.choice(self.id_tags)
        if remote is None:
            answer = await self.call("Authorize", {"idTag": id_tag})
            if answer is None or answer["idTagInfo"]["status"] != "Accepted":
                return False
        await self._status(connector.id, "Preparing")
        answer = await self.call(
            "StartTransaction",
            {
                "connectorId": connector.id,
                "idTag": id_tag,
                "meterStart": connector.register,
                "timestamp": now_iso(),
            },
        )
        if answer is None:
            await self._status(connector.id, "Available")
            return False
        connector.transaction_id = answer["transactionId"]
        connector.meter_start = connector.register
        connector.id_tag = id_tag
        connector.stop_reason = None
        self.stats.transactions_started += 1
        self.stats.active_transactions += 1
        if answer["idTagInfo"]["status"] != "Accepted":
            # OCPP 1.6 §4.8 with StopTransactionOnInvalidId true: stop at once.
            connector.stop_reason = "DeAuthorized"
        else:
            await self._status(connector.id, "Charging")
        return True

    async def _charge(self, connector: _Connector) -> None:
        """Deliver energy and send MeterValues until the session is over."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        end = now + self.config.session * self.rng.uniform(0.5, 1.5)
        last = last_sample = now
        while connector.stop_reason is None and self._leaving is None:
            # Read at every turn: a new MeterValueSampleInterval or charging limit
            # wakes the connector (_nudge) and applies from then on.
            next_sample = last_sample + self._interval("MeterValueSampleInterval")
            limit = connector.limit_w if connector.limit_w is not None else connector.max_power_w
            connector.power_w = min(limit, connector.max_power_w) * self.rng.uniform(0.92, 1.0)
            woken = await _pause(connector.wake, min(next_sample, end) - loop.time())
            connector.wake.clear()
            now = loop.time()
            connector.meter_wh += connector.power_w * (now - last) / 3600
            last = now
            if woken:
                continue
            if now >= end:
                connector.stop_reason = "EVDisconnected"
            elif now >= next_sample:
                last_sample = now
                await self._meter_values(connector)
        connector.power_w = 0.0

    async def _end(self, connector: _Connector) -> bool:
        """Send StopTransaction for the connector's transaction.

        OCPP 1.6 §4.10: a StopTransaction the central system fails to process is
        sent again, up to TransactionMessageAttempts times in all, waiting
        TransactionMessageRetryInterval times the number of attempts so far;
        then it is given up (and counted so).

        Returns:
            False when the connection closed before the answer: the transaction
            stays open, to be stopped on the next connection.
        """
        transaction_id = connector.transaction_id
        if transaction_id is None:
            return True
        reason = connector.stop_reason or self._leaving or "Local"
        payload: dict[str, Any] = {
            "transactionId": transaction_id,
            "meterStop": connector.register,
            "timestamp": now_iso(),
            "reason": reason,
        }
        if connector.id_tag is not None:
            payload["idTag"] = connector.id_tag
        meter_stop = connector.register
        attempts = max(1, self.configuration.integer("TransactionMessageAttempts"))
        retry = float(self.configuration.integer("TransactionMessageRetryInterval"))
        for attempt in range(1, attempts + 1):
            client = self.client
            answer = await self.call("StopTransaction", payload)
            if answer is not None:
                break
            if client is None or not client.is_open:
                return False
            if attempt < attempts:
                await _pause(self._leave, retry * attempt)
        else:
            self.stats.error("(transaction)", f"StopTransaction given up after {attempts} attempts")
        connector.transaction_id = None
        connector.stop_reason = None
        if answer is not None:
            self.stats.transactions_stopped += 1
        self.stats.active_transactions -= 1
        self.stats.energy_wh += meter_stop - connector.meter_start
        if self._leaving is None:
            await self._status(connector.id, "Finishing")
            await self._available_or_not(connector)
        else:
            connector.status = "Available" if connector.available else "Unavailable"
        return True

    # ------------------------------------------------------------------ the central system's calls

    def _connector(self, connector_id: Any) -> _Connector | None:
        if isinstance(connector_id, int) and 1 <= connector_id <= len(self.connectors):
            return self.connectors[connector_id - 1]
        return None

    def _configuration_changed(self, key: str, value: str) -> None:
        if key == "MeterValueSampleInterval":
            self._exact.pop(key, None)
            self._nudge(self.connectors)  # the new interval counts from the last sample

    def _nudge(self, connectors: Sequence[_Connector | None]) -> None:
        """Wake the charging ``connectors``, so that a new interval or limit applies at once."""
        for connector in connectors:
            if (
                connector is not None
                and connector.transaction_id is not None
                and connector.stop_reason is None
                and self._leaving is None
            ):
                connector.wake.set()

    def _reset(self, request: dict[str, Any]) -> dict[str, Any]:
        # OCPP 1.6 §5.14: stop the transactions (reason HardReset/SoftReset), then reboot.
        if self._leaving is None:
            self._leaving = "HardReset" if request["type"] == "Hard" else "SoftReset"
            self._leave.set()
            self.session.reconnect(delay=self.rng.uniform(0.2, 1.0))  # the reboot
        return {"status": "Accepted"}

    def _remote_start(self, request: dict[str, Any]) -> dict[str, Any]:
        # OCPP 1.6 §5.11: a connectorId, when given, is > 0.
        wanted = request.get("connectorId")
        candidates = self.connectors if wanted is None else [self._connector(wanted)]
        for connector in candidates:
            if (
                connector is not None
                and connector.transaction_id is None
                and connector.remote_id_tag is None
                and not connector.starting
                and connector.available
                and self._leaving is None
            ):
                connector.remote_id_tag = request["idTag"]
                connector.wake.set()
                return {"status": "Accepted"}
        return {"status": "Rejected"}

    def _remote_stop(self, request: dict[str, Any]) -> dict[str, Any]:
        for connector in self.connectors:
            if connector.transaction_id == request["transactionId"]:
                connector.stop_reason = "Remote"
                connector.wake.set()
                return {"status": "Accepted"}
        return {"status": "Rejected"}

    def _unlock_connector(self, request: dict[str, Any]) -> dict[str, Any]:
        connector = self._connector(request["connectorId"])
        if connector is None:
            return {"status": "NotSupported"}
        if connector.transaction_id is not None:
            # OCPP 1.6 §5.18: unlocking during a transaction stops it first.
            connector.stop_reason = "UnlockCommand"
            connector.wake.set()
        return {"status": "Unlocked"}

    def _change_availability(self, request: dict[str, Any]) -> dict[str, Any]:
        connector_id = request["connectorId"]
        if connector_id != 0 and self._connector(connector_id) is None:
            return {"status": "Rejected"}
        operative = request["type"] == "Operative"
        targets = self.connectors if connector_id == 0 else [self.connectors[connector_id - 1]]
        scheduled = False
        for connector in targets:
            if connector.transaction_id is not None or connector.starting:
                # OCPP 1.6 §5.2: a connector in a transaction changes once it ends;
                # asking for what it is already cancels a change still to come.
                if connector.available == operative:
                    connector.available_next = None
                else:
                    connector.available_next = operative
                    scheduled = True
            elif connector.available != operative:
                connector.available = operative
                self.session.after_reply(self._status(connector.id, _availability(connector)))
                connector.wake.set()
        if connector_id == 0 and not scheduled:
            self.session.after_reply(self._status(0, self._station_status()))
        return {"status": "Scheduled" if scheduled else "Accepted"}

    async def _available_or_not(self, connector: _Connector) -> None:
        """After a transaction: apply a Scheduled availability change, and report the status."""
        if connector.available_next is not None:
            connector.available = connector.available_next
            connector.available_next = None
        await self._status(connector.id, _availability(connector))

    def _set_charging_profile(self, request: dict[str, Any]) -> dict[str, Any]:
        connector_id = request["connectorId"]
        profile = request["csChargingProfiles"]
        targets = self.connectors if connector_id == 0 else [self._connector(connector_id)]
        if any(c is None for c in targets):
            return {"status": "Rejected"}
        if profile["chargingProfilePurpose"] == "ChargePointMaxProfile" and connector_id != 0:
            # OCPP 1.6 §3.13.1: a ChargePointMaxProfile is set on connector 0 only.
            return {"status": "Rejected"}
        if profile["chargingProfilePurpose"] == "TxProfile" and (
            connector_id == 0 or all(c is None or c.transaction_id is None for c in targets)
        ):
            # OCPP 1.6 §5.16: a TxProfile applies to a transaction; with none on the
            # connector the charge point rejects it (compliance test TC_058_1_CS).
            return {"status": "Rejected"}
        schedule = profile["chargingSchedule"]
        first = schedule["chargingSchedulePeriod"][0]
        limit = float(first["limit"])
        if limit < 0:
            return {"status": "Rejected"}  # a charging limit below zero means nothing
        if schedule["chargingRateUnit"] == "A":
            limit *= _VOLTAGE * first.get("numberPhases", 3)
        for connector in targets:
            if connector is not None:
                connector.limit_w = limit
        self._nudge(targets)
        return {"status": "Accepted"}

    def _clear_charging_profile(self, request: dict[str, Any]) -> dict[str, Any]:
        cleared = False
        for connector in self.connectors:
            if connector.limit_w is not None and request.get("connectorId") in (
                None,
                0,
                connector.id,
            ):
                connector.limit_w = None
                cleared = True
                self._nudge([connector])
        return {"status": "Accepted" if cleared else "Unknown"}

    def _trigger_message(self, request: dict[str, Any]) -> dict[str, Any]:
        message = request["requestedMessage"]
        connector_id = request.get("connectorId")
        if connector_id is not None and connector_id != 0 and self._connector(connector_id) is None:
            return {"status": "Rejected"}
        if message not in _TRIGGERABLE:
            return {"status": "NotImplemented"}
        # OCPP 1.6 §5.17: the answer goes first, then the message it asked for.
        self.session.after_reply(self._send_triggered(message, connector_id))
        return {"status": "Accepted"}

    async def _send_triggered(self, message: str, connector_id: int | None) -> None:
        chosen = self.connectors if not connector_id else [self.connectors[connector_id - 1]]
        if message == "BootNotification":
            await self.session.boot()
        elif message == "Heartbeat":
            await self.call("Heartbeat", {})
        elif message == "StatusNotification":
            if connector_id is None:
                await self._status_all()
            elif connector_id == 0:
                await self._status(0, self._station_status())
            else:
                await self._status(connector_id, chosen[0].status)
        elif message == "MeterValues":
            for connector in chosen:
                # OCPP 1.6 §7.35 ReadingContext: "Trigger", for a TriggerMessage.
                await self._meter_values(connector, context="Trigger")
        else:  # DiagnosticsStatusNotification, FirmwareStatusNotification
            await self.call(message, {"status": "Idle"})
