"""The simulated charge point of ``ocpp16 simulate`` and ``ocpp16 demo``.

Each one boots, sends heartbeats, and runs charging sessions on its connectors
(Authorize, StartTransaction, MeterValues every few seconds, StopTransaction),
reconnecting when its connection drops. It answers the central system's calls
as a real charger would: a Reset stops its transactions and reboots it, a
RemoteStartTransaction starts a session, a ChangeConfiguration changes what it
does. Built on the public API alone, on the durable charge point: its
:class:`~ocpp16.Client` reconnects with a backoff, keeps the transaction
messages in an offline queue (in memory, or with ``--store`` in a SQLite file)
and retries them per TransactionMessageAttempts/RetryInterval, and gates
everything on the boot; :class:`~ocpp16.chargepoint.ChargePointSession` follows
its connections, boots, beats and keeps the configuration keys; this module
adds the connectors, their sessions and physics, and the answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ocpp16 import (
    Action,
    ChargePointSession,
    Client,
    ClientBase,
    ConnectionClosed,
    HandshakeError,
    MemoryStore,
    Ocpp16Error,
    OcppError,
    Reconnect,
    Store,
)
from ocpp16.types import BootNotificationResponse

from .answers import Answers
from .config import SimConfig, initial_configuration
from .connector import Connector, availability, pause
from .state import SavedConnector, StateFile, open_store
from .stats import CallCounter, Stats, error_kind, now_iso

__all__ = ["SimConfig", "SimulatedChargePoint", "describe_connect_error"]

CONNECT = "(connect)"
"""The row of the latency table that times the WebSocket handshake."""

# 1 s doubling up to 30 s, times 0.5 to 1.5: charge points cut off together come
# back spread out; a connection that drops within 30 s does not start the backoff
# over, so that a central system which accepts and closes at once is not hammered.
_RECONNECT = Reconnect(initial=1.0, factor=2.0, max_delay=30.0, jitter=0.5, stable_after=30.0)

_log = logging.getLogger("ocpp16")


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


class SimulatedChargePoint:
    """One simulated charge point: its client, its connectors, its configuration.

    Args:
        index: Its number, from 1; its id is ``config.cp_id(index)``.
        config: How it behaves.
        stats: The counters it adds to.
        on_connection: Called with each new ``Client`` before it connects, to
            attach a message log.

    Raises:
        StoreError: With ``config.store``: its queue file cannot be used.
        StateError: With ``config.store``: its state file cannot be read.
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
            Connector(
                id=n,
                meter_wh=self.rng.randrange(0, 2_000_000),
                max_power_w=self.rng.choice((7_400.0, 11_000.0, 22_000.0)),
            )
            for n in range(1, config.connectors + 1)
        ]
        heartbeat = config.heartbeat_interval
        self.configuration = initial_configuration(config, max(1, round(heartbeat or 60)))
        self.configuration.on_change(self._configuration_changed)
        # The keys hold whole seconds (OCPP 1.6 §9.1: integers); the intervals of the
        # configuration may be shorter (--meter-interval 0.5). Each is used as given
        # until the central system sets its key (the session does so for heartbeats).
        self._exact: dict[str, float] = {"MeterValueSampleInterval": config.meter_interval}
        self.id_tags = [f"TAG{index:05d}{n}" for n in range(3)]
        # The offline queue outlives each client: one store for the charge point's life,
        # on disk with --store, next to the state file of its transactions.
        self._state: StateFile | None = None
        self.store: Store
        if config.store is None:
            self.store = MemoryStore()
        else:
            self.store = open_store(config.store, self.cp_id)
            try:
                self._state = StateFile(config.store, self.cp_id)
                self._restore(self._state.read())
            except BaseException:
                self.store.close()
                raise
        self._counter = CallCounter(stats)
        # What run() is given: when to leave, the handshake gate, a connection already open.
        self._stop = asyncio.Event()
        self._gate = asyncio.Semaphore(config.connect_concurrency)
        self._first: Client | None = None
        # The client made last, and whether the next connection needs a new one.
        self._current: Client | None = None
        self._fresh = False
        # When the handshake being timed began (the "(connect)" row).
        self._attempt_at: float | None = None
        # Set when this charge point must leave its connection: the run is over
        # ("Local") or a Reset was accepted ("HardReset" / "SoftReset").
        self._leaving: str | None = None
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
            # The client reconnects by itself (_RECONNECT); the session follows it.
            reconnect=False,
            configuration=self.configuration,
            heartbeat_interval=heartbeat,
            rng=self.rng,
            connect=lambda client: self.connect(self._gate, client),
            call=self.call,
            on_connect=self._connected,
            on_boot=self._booted,
            before_close=self._depart,
            on_close=self._disconnected,
        )

    @property
    def client(self) -> Client | None:
        """The client whose connection is open now, or ``None``."""
        return self.session.client

    # ------------------------------------------------------------------ life

    def _restore(self, saved: dict[int, SavedConnector]) -> None:
        """Take up what the state file says an earlier run left (``--store``)."""
        # A transaction whose StopTransaction is queued is over: the queue delivers it.
        queued = self.store.load()
        stopping = {
            call.payload.get("transactionId") for call in queued if call.action == "StopTransaction"
        }
        for connector in self.connectors:
            state = saved.get(connector.id)
            if state is None:
                continue
            connector.meter_wh = state.meter_wh
            if state.transaction_id is not None and state.transaction_id not in stopping:
                connector.transaction_id = state.transaction_id
                connector.status = "Charging"
                self.stats.transactions_resumed += 1
                self.stats.active_transactions += 1
            elif state.start is not None:
                connector.start = state.start  # taken up by the first client (_adopt)
            else:
                continue
            connector.id_tag, connector.meter_start = state.id_tag, state.meter_start

    def _save(self) -> None:
        """Write the state file (``--store``), after each change of a transaction."""
        if self._state is not None:
            try:
                self._state.write({c.id: c.saved() for c in self.connectors})
            except OSError as exc:
                self.stats.error("(state)", f"cannot write the state file: {exc.strerror}")

    def close_store(self) -> None:
        """Release the queue's file, at the end of the run."""
        self.store.close()

    def _new_client(self) -> Client:
        config = self.config
        password = (config.passwords or {}).get(self.cp_id, config.password)
        # OCPP 1.6 §9.1 WebSocketPingInterval: 0 (the default here) sends no pings;
        # a value the central system sets applies from the next connection, which
        # a new client makes (_configuration_changed).
        ping = self.configuration.integer("WebSocketPingInterval")
        client = Client(
            self.cp_id,
            password=password,
            call_timeout=config.call_timeout,
            ping_interval=ping or None,
            reconnect=_RECONNECT,
            store=self.store,
            # OCPP 1.6 §9.1: the library retries the queued transaction messages.
            transaction_message_attempts=max(
                1, self.configuration.integer("TransactionMessageAttempts")
            ),
            transaction_message_retry_interval=self.configuration.integer(
                "TransactionMessageRetryInterval"
            ),
        )
        for action, handler in Answers(self).handlers().items():
            client.on(action, self._counted(action, handler))
        client.add_observer(self._counter)
        client.on("connect", self._opened)
        client.on("reconnecting", self._reconnecting)
        client.on("queued_result", self._queued_result)
        client.on("message_dropped", self._message_dropped)
        if self.on_connection is not None:
            self.on_connection(client)
        self._current, self._fresh = client, False
        self._adopt(client)
        return client

    def _counted(
        self, action: str, handler: Callable[[Any], Mapping[str, Any]]
    ) -> Callable[[dict[str, Any]], Mapping[str, Any]]:
        received = self.stats.received

        def count(request: dict[str, Any]) -> Mapping[str, Any]:
            received[action] += 1
            return handler(request)

        return count

    def _opened(self) -> None:
        """Each connection of each client: counted, and its handshake timed."""
        self.connects += 1
        if self._attempt_at is not None:
            self.stats.latency(CONNECT, asyncio.get_running_loop().time() - self._attempt_at)
            self._attempt_at = None

    def _reconnecting(self, attempt: int, delay: float, error: BaseException) -> None:
        """The client waits ``delay`` seconds before its next attempt, which is timed."""
        if not isinstance(error, ConnectionClosed):
            self.stats.error(CONNECT, describe_connect_error(error))
        self._attempt_at = asyncio.get_running_loop().time() + delay

    async def connect(
        self, gate: asyncio.Semaphore, client: Client | None = None, *, fail_fast: bool = False
    ) -> Client:
        """Open the first connection of ``client`` (or of a new one), timing the handshake.

        The client tries again as its backoff says until a connection is open,
        each failure counted; ``gate`` bounds the first attempts in flight.

        Args:
            gate: Bounds the handshakes in flight across all charge points.
            client: The client; a new one by default.
            fail_fast: Raise the first attempt's error (and close the client)
                instead of trying again.

        Raises:
            HandshakeError: With ``fail_fast``: the central system refused it.
            OSError: Likewise: the central system could not be reached.
            TimeoutError: Likewise: the handshake took too long.
        """
        client = client if client is not None else self._new_client()
        loop = asyncio.get_running_loop()
        failed: asyncio.Future[BaseException] = loop.create_future()

        def on_reconnecting(attempt: int, delay: float, error: BaseException) -> None:
            if not failed.done():
                failed.set_result(error)

        client.on("reconnecting", on_reconnecting)
        connecting: asyncio.Future[None] | None = None
        try:
            async with gate:
                self._attempt_at = loop.time()
                connecting = asyncio.ensure_future(
                    client.connect(self.config.url, ssl=self.config.ssl)
                )
                waits: set[asyncio.Future[Any]] = {connecting, failed}
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if fail_fast and not connecting.done():
                raise failed.result()
            await connecting
        except BaseException:
            if connecting is not None and not connecting.done():
                connecting.cancel()
                await asyncio.wait({connecting})
            if fail_fast:
                await client.close()
            raise
        finally:
            client.remove_listener("reconnecting", on_reconnecting)
        return client

    async def connect_unless(self, stop: asyncio.Event, gate: asyncio.Semaphore) -> Client | None:
        """Connect once, unless ``stop`` is set first (Ctrl-C during the ramp): then ``None``.

        Raises:
            HandshakeError: The central system refused the connection.
            OSError: The central system could not be reached.
            TimeoutError: The handshake took too long.
        """
        connecting = asyncio.ensure_future(self.connect(gate, fail_fast=True))
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
        """The client of the next connection: the one that reconnects by itself, or a new one.

        A new one after a Reset (a reboot) and after WebSocketPingInterval changed;
        the session then closes the last one.
        """
        first, self._first = self._first, None
        if first is not None:
            return first
        if self._current is not None and not self._fresh:
            return self._current
        return self._new_client()

    def _adopt(self, client: Client) -> None:
        """Have ``client`` bring the answers of the StartTransactions an earlier client queued.

        Their answers come as ``"queued_result"`` (a restart, a new client after
        a Reset); one no longer queued was answered before its id was kept, or
        given up: its transaction is over.
        """
        queued = [call.payload for call in client.queued() if call.action == "StartTransaction"]
        loop = asyncio.get_running_loop()
        for connector in self.connectors:
            if connector.start is None:
                continue
            if connector.start not in queued:
                _log.warning(
                    "%s: the StartTransaction on connector %d is no longer queued; its "
                    "transaction is dropped",
                    self.cp_id,
                    connector.id,
                )
                connector.start = connector.start_call = connector.id_tag = None
                self._save()
                continue
            connector.start_call = loop.create_future()
            self._follow_start(connector, connector.start_call)

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
        # A Reset reboots: the next connection is a new client's.
        self._leaving = self._leaving or "Local"
        self._fresh = True
        for connector in self.connectors:
            connector.wake.set()
        if self._charging:
            await asyncio.wait(self._charging, timeout=self.config.call_timeout + 1)

    def _disconnected(self, client: Client) -> None:
        self.stats.connected -= 1
        if self._leaving is None and not self._stop.is_set():
            self.stats.error("(connection)", "connection closed by the central system")
        self._leaving = None
        self._charging = []

    # ------------------------------------------------------------------ calls

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Send a CALL; its answer, or ``None`` when it failed (counted as an error).

        Answers and failures are counted as they happen, every attempt of a
        retried CALL too (``CallCounter``); here only the failures of CALLs
        that never went out.
        """
        client = self.client
        if client is None:
            return None
        try:
            return await client.call_request(Action(action), payload)
        except Ocpp16Error as exc:
            if exc not in self._counter.seen:
                self.stats.error(action, error_kind(exc))
            return None

    def _queued_result(self, action: str, request: dict[str, Any], answer: dict[str, Any]) -> None:
        """The answer to a CALL queued by an earlier client or run, which has no future here."""
        if action == "StopTransaction":
            self.stats.transactions_stopped += 1
        elif action == "StartTransaction":
            for connector in self.connectors:
                call = connector.start_call
                if connector.start == request and call is not None and not call.done():
                    call.set_result(answer)
                    return
            # A transaction this charge point knows nothing of (its state was lost
            # with a killed process): it cannot go on, so it stops at once.
            _log.warning(
                "%s: stopping transaction %s, started by an earlier run",
                self.cp_id,
                answer.get("transactionId"),
            )
            stop = {
                "transactionId": answer.get("transactionId"),
                "meterStop": request.get("meterStart"),
                "timestamp": now_iso(),
                "reason": "PowerLoss",
            }
            if self._current is not None:
                self._current.call_request(Action.StopTransaction, stop).add_done_callback(
                    _retrieve
                )

    def _message_dropped(self, action: str, payload: dict[str, Any], error: BaseException) -> None:
        """A queued CALL was given up (OCPP 1.6 §9.1 TransactionMessageAttempts)."""
        if isinstance(error, OcppError):
            attempts = self._current.transaction_message_attempts if self._current else None
            self.stats.error("(transaction)", f"{action} given up after {attempts} attempts")
        else:
            self.stats.error("(transaction)", f"{action} dropped: {error}")
        if action != "StartTransaction":
            return
        for connector in self.connectors:
            call = connector.start_call
            if connector.start == payload and call is not None and not call.done():
                # After a new client its future is the charge point's own: fail it here.
                call.set_exception(error)

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

    async def _meter_values(self, connector: Connector, context: str = "Sample.Periodic") -> None:
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
            self._save()  # the register, for a transaction taken up after a restart
        await self.call("MeterValues", payload)

    # ------------------------------------------------------------------ sessions

    async def _sessions(self, connector: Connector) -> None:
        """Charging sessions, one after the other, until the charge point leaves."""
        # A wake-up left from the previous connection (the call to leave, set while
        # this connector was not waiting) is spent: what a RemoteStart/StopTransaction
        # asked for is in remote_id_tag and stop_reason, not in the event.
        connector.wake.clear()
        while self._leaving is None:
            if connector.finishing:
                # A StopTransaction queued on an earlier connection: its answer first.
                await self._stopped(connector)
                continue
            if connector.transaction_id is None:
                started = (
                    await self._started(connector)
                    if connector.start is not None
                    else await self._begin(connector)
                )
                if not started:
                    if connector.start is not None:
                        return  # its answer comes to a client yet to be made
                    continue
            await self._charge(connector)
            self._end(connector)
            await self._stopped(connector)

    async def _begin(self, connector: Connector) -> bool:
        """Wait for a driver (or a RemoteStartTransaction) and start a transaction."""
        remote = connector.remote_id_tag
        if remote is None:
            await pause(connector.wake, self.config.idle * self.rng.uniform(0.5, 1.5))
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

    async def _start(self, connector: Connector, remote: str | None) -> bool:
        id_tag = remote or self.rng.choice(self.id_tags)
        if remote is None:
            answer = await self.call("Authorize", {"idTag": id_tag})
            if answer is None or answer["idTagInfo"]["status"] != "Accepted":
                return False
        client = self.client
        if client is None:
            return False
        await self._status(connector.id, "Preparing")
        start = {
            "connectorId": connector.id,
            "idTag": id_tag,
            "meterStart": connector.register,
            "timestamp": now_iso(),
        }
        # Queued: stored before call_request returns, and sent (again) until the
        # central system answers it or it is given up (OCPP 1.6 §4.7, §9.1).
        future = client.call_request(Action.StartTransaction, start)
        connector.start, connector.id_tag, connector.meter_start = start, id_tag, connector.register
        connector.start_call = future
        self._follow_start(connector, future)
        self._save()
        return await self._started(connector)

    def _follow_start(self, connector: Connector, future: asyncio.Future[dict[str, Any]]) -> None:
        """Take in the StartTransaction's answer when it comes, whoever waits for it."""

        def done(future: asyncio.Future[dict[str, Any]]) -> None:
            error = future.exception() if not future.cancelled() else ConnectionClosed(1000, "")
            if connector.start_call is not future:
                return  # a newer client brings its answer
            connector.start_call = None
            if error is None:
                self._transaction_started(connector, future.result())
            elif not isinstance(error, ConnectionClosed):
                # Given up (OCPP 1.6 §9.1): no transaction. A closed client's
                # StartTransaction stays queued for the next client instead.
                connector.start = connector.id_tag = None
                self._save()

        future.add_done_callback(done)

    def _transaction_started(self, connector: Connector, answer: dict[str, Any]) -> None:
        connector.transaction_id = answer["transactionId"]
        connector.start = None
        connector.stop_reason = None
        self.stats.transactions_started += 1
        self.stats.active_transactions += 1
        if answer["idTagInfo"]["status"] != "Accepted":
            # OCPP 1.6 §4.8 with StopTransactionOnInvalidId true: stop at once.
            connector.stop_reason = "DeAuthorized"
        self._save()

    async def _started(self, connector: Connector) -> bool:
        """Wait for the StartTransaction's answer; tell whether the transaction runs."""
        future = connector.start_call
        if future is not None:
            # Shielded: when the connection ends first, the answer still comes to it.
            with contextlib.suppress(Ocpp16Error):
                await asyncio.shield(future)
        if connector.transaction_id is None:
            if connector.start is None:
                await self._status(connector.id, "Available")
            return False
        if connector.stop_reason is None:
            await self._status(connector.id, "Charging")
        return True

    async def _charge(self, connector: Connector) -> None:
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
            woken = await pause(connector.wake, min(next_sample, end) - loop.time())
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
        # What ended the session (a RemoteStop, an unlock) may have woken the connector
        # while a MeterValues was out: that wake is spent here, or the next driver
        # would plug in at once instead of after the idle time.
        connector.wake.clear()

    def _end(self, connector: Connector) -> None:
        """Queue the StopTransaction of the connector's transaction; the transaction is over.

        The library sends it until the central system answers, across lost
        connections, and retries it TransactionMessageAttempts times,
        TransactionMessageRetryInterval apart, when it is refused (OCPP 1.6
        §4.10, §9.1); then it is given up (``"message_dropped"``, counted).
        """
        transaction_id = connector.transaction_id
        client = self._current
        if transaction_id is None or client is None:
            return
        reason = connector.stop_reason or self._leaving or "Local"
        payload: dict[str, Any] = {
            "transactionId": transaction_id,
            "meterStop": connector.register,
            "timestamp": now_iso(),
            "reason": reason,
        }
        if connector.id_tag is not None:
            payload["idTag"] = connector.id_tag
        future = client.call_request(Action.StopTransaction, payload)
        self.stats.active_transactions -= 1
        self.stats.energy_wh += connector.register - connector.meter_start
        connector.transaction_id = connector.stop_reason = connector.id_tag = None
        connector.stop_call, connector.finishing = future, True
        self._save()

        def done(future: asyncio.Future[dict[str, Any]]) -> None:
            error = future.exception() if not future.cancelled() else None
            if connector.stop_call is future:
                connector.stop_call = None
            if not future.cancelled() and error is None:
                self.stats.transactions_stopped += 1
            elif isinstance(error, ConnectionClosed):
                # Closed by the charge point (a Reset, the end): it stays queued, and
                # the next client delivers it ("queued_result").
                connector.finishing = False
                connector.status = availability(connector)

        future.add_done_callback(done)

    async def _stopped(self, connector: Connector) -> None:
        """Wait for the StopTransaction's answer (or its end), then report the connector."""
        future = connector.stop_call
        if future is not None:
            with contextlib.suppress(Ocpp16Error):
                await asyncio.shield(future)
        if not connector.finishing:
            return
        connector.finishing = False
        if self._leaving is None:
            await self._status(connector.id, "Finishing")
            await self._available_or_not(connector)
        else:
            connector.status = "Available" if connector.available else "Unavailable"

    # ------------------------------------------------------------------ keys and limits

    def _configuration_changed(self, key: str, value: str) -> None:
        client = self._current
        if key == "MeterValueSampleInterval":
            self._exact.pop(key, None)
            self._nudge(self.connectors)  # the new interval counts from the last sample
        elif key == "WebSocketPingInterval":
            self._fresh = True  # a client of its own for the next connection
        elif key == "TransactionMessageAttempts" and client is not None:
            # OCPP 1.6 §9.1: the library applies it from the next attempt.
            client.transaction_message_attempts = max(1, int(value))
        elif key == "TransactionMessageRetryInterval" and client is not None:
            client.transaction_message_retry_interval = int(value)

    def _nudge(self, connectors: Sequence[Connector | None]) -> None:
        """Wake the charging ``connectors``, so that a new interval or limit applies at once."""
        for connector in connectors:
            if (
                connector is not None
                and connector.transaction_id is not None
                and connector.stop_reason is None
                and self._leaving is None
            ):
                connector.wake.set()

    async def _available_or_not(self, connector: Connector) -> None:
        """After a transaction: apply a Scheduled availability change, and report the status."""
        if connector.available_next is not None:
            connector.available = connector.available_next
            connector.available_next = None
        await self._status(connector.id, availability(connector))


def _retrieve(future: asyncio.Future[Any]) -> None:
    # Its failure is counted as it happens ("message_dropped", CallCounter).
    if not future.cancelled():
        future.exception()
