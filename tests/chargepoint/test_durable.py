"""A charge point that loses nothing: reconnecting, the offline queue, retries, boot gating.

Against real sockets on 127.0.0.1: a bare central system (``raw_central``)
that records every CALL and answers as each test needs, or a real ``Server``.
Every wait is on an event or a future within TIMEOUT; the retry and backoff
intervals are short so that the loop's clock runs them quickly.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ocpp16 import (
    CallTimeout,
    Client,
    ClientBase,
    ConnectionClosed,
    HandshakeError,
    MemoryStore,
    Ocpp16Error,
    OcppError,
    Reconnect,
    Server,
    StoredCall,
    StoreError,
    ValidationError,
)
from tests.chargepoint.raw_central import (
    CLOSE,
    NO_ANSWER,
    Frame,
    RawCentralSystem,
    error,
    free_port,
    result,
)
from tests.helpers import NOW_ISO, TIMEOUT, wait

# Quick reconnections with no jitter: the tests wait on events, not on these.
FAST = Reconnect(initial=0.01, factor=2.0, max_delay=0.05, jitter=0.0)
BOOT = {"chargePointVendor": "ocpp16", "chargePointModel": "Test"}
ACCEPTED = {"status": "Accepted", "interval": 60, "currentTime": NOW_ISO}


def start(connector: int = 1) -> dict[str, Any]:
    """A StartTransaction payload."""
    return {"connectorId": connector, "idTag": "TAG", "meterStart": 0, "timestamp": NOW_ISO}


def meter(n: int, transaction: Any = 7) -> dict[str, Any]:
    """A MeterValues payload of a transaction, its value ``n`` (to check order)."""
    return {
        "connectorId": 1,
        "transactionId": transaction,
        "meterValue": [{"timestamp": NOW_ISO, "sampledValue": [{"value": str(n)}]}],
    }


def stop(transaction: Any) -> dict[str, Any]:
    """A StopTransaction payload."""
    return {"transactionId": transaction, "meterStop": 10, "timestamp": NOW_ISO}


def durable(**options: Any) -> Client:
    """A reconnecting client with the fast backoff; no boot gate unless asked."""
    options.setdefault("reconnect", FAST)
    options.setdefault("boot_gate", False)
    options.setdefault("transaction_message_retry_interval", 0.01)
    return Client("CP1", **options)


async def closed(client: Client) -> None:
    """Close within TIMEOUT."""
    await wait(client.close())


# ----------------------------------------------------------------------------- options


class TestOptions:
    """Without reconnect or store nothing changes; the new options are checked."""

    async def test_plain_client_fails_at_once_while_disconnected(self) -> None:
        """reconnect=False and no store: a StartTransaction made while disconnected fails at once."""
        client = Client("CP1")
        future = client.call_request("StartTransaction", start())
        assert future.done()
        with pytest.raises(ConnectionClosed):
            future.result()
        assert client.queued() == []

    async def test_wait_false_needs_reconnect(self) -> None:
        """connect(wait=False) without reconnect is a ValueError, with or without a store."""
        with pytest.raises(ValueError, match="needs reconnect"):
            await Client("CP1").connect("ws://127.0.0.1:1/ocpp", wait=False)
        with pytest.raises(ValueError, match="needs reconnect"):
            await Client("CP1", store=MemoryStore()).connect("ws://127.0.0.1:1/ocpp", wait=False)

    @pytest.mark.parametrize(
        "options",
        [
            {"queue_actions": ["MeterValues"]},
            {"max_queued": 5},
            {"transaction_message_attempts": 2},
            {"transaction_message_retry_interval": 1.0},
            {"boot_gate": True},
            {"boot_retry_interval": 1.0},
        ],
    )
    def test_queue_options_need_the_queue(self, options: dict[str, Any]) -> None:
        """A queue option without reconnect or store is a ValueError naming it."""
        with pytest.raises(ValueError, match=next(iter(options))):
            Client("CP1", **options)

    @pytest.mark.parametrize(
        ("options", "error"),
        [
            ({"queue_actions": ["Heartbeat"]}, ValueError),
            ({"queue_actions": ["BootNotification"]}, ValueError),
            ({"queue_actions": ["Reset"]}, ValueError),
            ({"queue_actions": "MeterValues"}, TypeError),
            ({"max_queued": 0}, ValueError),
            ({"transaction_message_attempts": True}, ValueError),
            ({"transaction_message_retry_interval": -1}, ValueError),
            ({"reconnect": "yes"}, TypeError),
            ({"store": 42}, TypeError),
        ],
    )
    def test_bad_values(self, options: dict[str, Any], error: type[Exception]) -> None:
        """Out-of-range values and wrong types are refused when the client is made."""
        options.setdefault("reconnect", True)
        with pytest.raises(error):
            Client("CP1", **options)

    def test_defaults(self) -> None:
        """reconnect=True: Reconnect(), boot gate on; the README's defaults otherwise."""
        client = Client("CP1", reconnect=True)
        durable = client._durable
        assert durable is not None
        assert durable._policy == Reconnect()
        assert durable.boot_gate is True
        queue = durable._queue
        assert (queue._max, queue._attempts, queue._retry_interval) == (10_000, 3, 60.0)
        assert queue._actions == {
            "StartTransaction",
            "StopTransaction",
            "MeterValues",
            "SecurityEventNotification",
        }
        assert Client("CP1", store=MemoryStore())._durable.boot_gate is False  # type: ignore[union-attr]


# ----------------------------------------------------------------------------- reconnecting


class TestReconnect:
    """connect() with a Reconnect: backoff, events on every cycle, giving up, close()."""

    async def test_events_on_every_cycle(self) -> None:
        """Refused attempts, then a drop: reconnecting(n, delay, error), connect, close, in turn."""
        port = free_port()
        client = durable()
        seen: list[tuple[Any, ...]] = []
        two_waits = asyncio.get_running_loop().create_future()

        def on_reconnecting(attempt: int, delay: float, error: BaseException) -> None:
            seen.append(("reconnecting", attempt, delay, type(error)))
            if attempt == 2 and not two_waits.done():
                two_waits.set_result(None)

        client.on("reconnecting", on_reconnecting)
        client.on("connect", lambda: seen.append(("connect",)))
        client.on("close", lambda code, reason: seen.append(("close", code)))
        await client.connect(f"ws://127.0.0.1:{port}/ocpp", wait=False)
        await wait(two_waits)
        central = await RawCentralSystem(lambda frame, n: CLOSE).start(port)
        try:
            first = client.call_request("StartTransaction", start())
            await central.until(lambda: central.connections >= 2)
            assert seen[0] == ("reconnecting", 1, 0.01, ConnectionRefusedError)
            assert seen[1] == ("reconnecting", 2, 0.02, ConnectionRefusedError)
            opened = seen.index(("connect",))
            assert all(event[0] == "reconnecting" for event in seen[:opened])
            # The central system closes at the CALL: a drop, announced and retried.
            after = seen[opened + 1 :]
            assert after[0] == ("close", 1000)
            assert after[1] == ("reconnecting", 1, 0.01, ConnectionClosed)
            assert not first.done()  # a lost connection fails no queued CALL
        finally:
            await closed(client)
            await central.stop()

    async def test_connect_waits_until_open(self) -> None:
        """connect() returns once a connection is open, after refused attempts."""
        port = free_port()
        client = durable()
        waited = asyncio.get_running_loop().create_future()
        client.on("reconnecting", lambda *a: waited.done() or waited.set_result(None))
        connecting = asyncio.ensure_future(client.connect(f"ws://127.0.0.1:{port}/ocpp"))
        await wait(waited)
        assert not connecting.done()
        central = await RawCentralSystem().start(port)
        try:
            await wait(connecting)
            assert client.is_open
        finally:
            await closed(client)
            await central.stop()

    async def test_gives_up_after_attempts(self) -> None:
        """Reconnect(attempts=3): three refused attempts, two waits, then the last error."""
        port = free_port()
        client = durable(reconnect=Reconnect(initial=0.01, jitter=0, attempts=3))
        waits: list[int] = []
        client.on("reconnecting", lambda attempt, delay, error: waits.append(attempt))
        with pytest.raises(OSError):
            await wait(client.connect(f"ws://127.0.0.1:{port}/ocpp"))
        assert waits == [1, 2]
        await closed(client)

    async def test_a_refused_handshake_is_retried(self) -> None:
        """A central system that refuses the handshake (401) is tried again: HandshakeError."""
        server = Server()
        refusals = 0

        def authorize(cp_id: str, handshake: Any) -> bool:
            nonlocal refusals
            refusals += 1
            return refusals > 2

        server.on("authorization", authorize)
        await server.listen(0, host="127.0.0.1")
        client = durable()
        errors: list[type[BaseException]] = []
        client.on("reconnecting", lambda attempt, delay, error: errors.append(type(error)))
        try:
            await wait(client.connect(f"ws://127.0.0.1:{server.port}/ocpp"))
            assert errors == [HandshakeError, HandshakeError]
        finally:
            await closed(client)
            await server.close()

    async def test_close_stops_everything(self) -> None:
        """close() while waiting to reconnect: connect(wait=True) fails, no task is left."""
        port = free_port()
        client = durable(reconnect=Reconnect(initial=0.01, max_delay=0.01, jitter=0))
        waited = asyncio.get_running_loop().create_future()
        client.on("reconnecting", lambda *a: waited.done() or waited.set_result(None))
        before = asyncio.all_tasks()
        connecting = asyncio.ensure_future(client.connect(f"ws://127.0.0.1:{port}/ocpp"))
        queued = client.call_request("StartTransaction", start())
        waiting = client.call_request("Authorize", {"idTag": "TAG"})
        await wait(waited)
        await closed(client)
        with pytest.raises(ConnectionClosed):
            await wait(connecting)
        assert asyncio.all_tasks() <= before | {asyncio.current_task()}
        with pytest.raises(ConnectionClosed, match="stays queued"):
            await queued
        with pytest.raises(ConnectionClosed):
            await waiting
        assert [call.action for call in client.queued()] == ["StartTransaction"]
        # Closed: a CALL that is not queued fails at once; a queued one is still kept.
        with pytest.raises(ConnectionClosed):
            client.call_request("Authorize", {"idTag": "TAG"}).result()
        client.call_request("StopTransaction", stop(1))
        assert len(client.queued()) == 2

    async def test_reconnects_by_hand_with_a_store(self) -> None:
        """With a store and no reconnect, the queue outlives a drop; connect() again delivers it."""
        central = await RawCentralSystem().start()
        client = Client("CP1", store=MemoryStore(), transaction_message_retry_interval=0.01)
        try:
            await wait(client.connect(central.url))
            assert await wait(client.call_request("StartTransaction", start())) == {
                "transactionId": 1,
                "idTagInfo": {"status": "Accepted"},
            }
            await central.stop()
            await wait(client.wait_closed())
            # Disconnected: the queued action waits, the others fail at once, as without a queue.
            later = client.call_request("MeterValues", meter(1))
            heartbeat = client.call_request("Heartbeat")
            with pytest.raises(ConnectionClosed):
                await heartbeat
            await central.start(central.port)
            await wait(client.connect(central.url))
            assert await wait(later) == {}
            assert central.actions() == ["StartTransaction", "MeterValues"]
        finally:
            await closed(client)
            await central.stop()


# ----------------------------------------------------------------------------- the queue


class TestQueue:
    """What is queued, in which order, and for how long."""

    @pytest.mark.parametrize("kind", ["memory", "sqlite"])
    async def test_200_messages_made_offline_arrive_in_order_once(
        self, kind: str, tmp_path: Path
    ) -> None:
        """200 transaction messages made while the central system is down arrive in order, once."""
        port = free_port()
        store = MemoryStore() if kind == "memory" else str(tmp_path / "cp.sqlite3")
        client = durable(store=store)
        await client.connect(f"ws://127.0.0.1:{port}/ocpp", wait=False)
        futures = [client.call_request("StartTransaction", start())]
        futures += [client.call_request("MeterValues", meter(n, futures[0])) for n in range(198)]
        futures.append(client.call_request("StopTransaction", stop(futures[0])))
        assert len(client.queued()) == 200
        assert not any(future.done() for future in futures)
        central = await RawCentralSystem().start(port)
        try:
            answers = await wait(asyncio.gather(*futures))
            assert answers[0]["transactionId"] == 1
            assert central.actions() == ["StartTransaction"] + ["MeterValues"] * 198 + [
                "StopTransaction"
            ]
            values = [
                p["meterValue"][0]["sampledValue"][0]["value"] for _, _, p in central.calls[1:-1]
            ]
            assert values == [str(n) for n in range(198)]
            assert all(p["transactionId"] == 1 for _, _, p in central.calls[1:])
            assert len({message_id for message_id, _, _ in central.calls}) == 200
            assert client.queued() == []
        finally:
            await closed(client)
            await central.stop()

    async def test_heartbeat_is_never_queued(self, tmp_path: Path) -> None:
        """A Heartbeat made offline is not stored; it fails with CallTimeout and never goes."""
        port = free_port()
        path = tmp_path / "cp.sqlite3"
        client = durable(store=str(path))
        await client.connect(f"ws://127.0.0.1:{port}/ocpp", wait=False)
        heartbeat = client.call_request("Heartbeat", timeout=0.05)
        queued = client.call_request("StartTransaction", start())
        assert [call.action for call in client.queued()] == ["StartTransaction"]
        with pytest.raises(CallTimeout):
            await wait(heartbeat)
        central = await RawCentralSystem().start(port)
        try:
            await wait(queued)
            assert central.actions() == ["StartTransaction"]
        finally:
            await closed(client)
            await central.stop()
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT action FROM calls").fetchall() == []

    async def test_other_calls_wait_within_their_timeout(self) -> None:
        """Offline, an Authorize waits for the connection within its timeout, then goes."""
        port = free_port()
        client = durable()
        await client.connect(f"ws://127.0.0.1:{port}/ocpp", wait=False)
        authorize = client.call_request("Authorize", {"idTag": "TAG"}, timeout=TIMEOUT)
        central = await RawCentralSystem().start(port)
        try:
            assert await wait(authorize) == {"idTagInfo": {"status": "Accepted"}}
            cancelled = client.call_request("Authorize", {"idTag": "TAG"})
            cancelled.cancel()
        finally:
            await closed(client)
            await central.stop()

    async def test_time_offline_does_not_count_against_a_queued_timeout(self) -> None:
        """A queued CALL with a 10 ms timeout waits offline longer than that, then succeeds."""
        port = free_port()
        client = durable()
        waits = 0
        enough = asyncio.get_running_loop().create_future()

        def on_reconnecting(*args: Any) -> None:
            nonlocal waits
            waits += 1
            if waits == 4 and not enough.done():
                enough.set_result(asyncio.get_running_loop().time())

        client.on("reconnecting", on_reconnecting)
        began = asyncio.get_running_loop().time()
        await client.connect(f"ws://127.0.0.1:{port}/ocpp", wait=False)
        future = client.call_request("StartTransaction", start(), timeout=0.01)
        assert await wait(enough) - began > 0.01  # 4 waits of the backoff: 70 ms at least
        central = await RawCentralSystem().start(port)
        try:
            assert (await wait(future))["transactionId"] == 1
        finally:
            await closed(client)
            await central.stop()

    async def test_meter_values_without_a_transaction_are_not_queued(self) -> None:
        """MeterValues with no transactionId is an ordinary CALL: not stored."""
        client = durable()
        await client.connect(f"ws://127.0.0.1:{free_port()}/ocpp", wait=False)
        plain = client.call_request(
            "MeterValues", {"connectorId": 1, "meterValue": meter(0)["meterValue"]}, timeout=0.01
        )
        assert client.queued() == []
        with pytest.raises(CallTimeout):
            await wait(plain)
        await closed(client)

    async def test_queue_actions_changes_the_set(self) -> None:
        """queue_actions=["DataTransfer"]: DataTransfer is queued, StartTransaction is not."""
        client = durable(queue_actions=["DataTransfer"])
        await client.connect(f"ws://127.0.0.1:{free_port()}/ocpp", wait=False)
        client.call_request("DataTransfer", {"vendorId": "x"})
        client.call_request("StartTransaction", start(), timeout=TIMEOUT)
        assert [call.action for call in client.queued()] == ["DataTransfer"]
        await closed(client)

    async def test_an_invalid_payload_is_refused_before_it_is_stored(self) -> None:
        """Strict mode: a queued CALL whose payload breaks its schema fails at once, unstored."""
        client = durable()
        future = client.call_request("StopTransaction", {"meterStop": "ten"})
        with pytest.raises(ValidationError):
            future.result()
        assert client.queued() == []

    async def test_a_payload_that_cannot_be_json_is_refused(self) -> None:
        """With validation off, a payload JSON cannot carry fails its future, unstored."""
        client = durable(validation="off")
        future = client.call_request("StopTransaction", {**stop(1), "x": object()})
        with pytest.raises(ValidationError, match="JSON"):
            future.result()
        assert client.queued() == []

    async def test_a_message_id_can_be_given(self) -> None:
        """call_request(message_id=...) sends a queued CALL with that id; a bad one is refused."""
        central = await RawCentralSystem().start()
        client = durable()
        try:
            await wait(client.connect(central.url))
            await wait(client.call_request("StartTransaction", start(), message_id="my-id"))
            assert central.calls[0][0] == "my-id"
            bad = client.call_request("StopTransaction", stop(1), message_id="x" * 37)
            with pytest.raises(ValidationError):
                bad.result()
        finally:
            await closed(client)
            await central.stop()


# ----------------------------------------------------------------------------- retries


class TestRetries:
    """OCPP 1.6 §9.1: TransactionMessageAttempts and TransactionMessageRetryInterval."""

    async def test_two_callerrors_then_an_answer(self) -> None:
        """CALLERROR, CALLERROR, then an answer: the third attempt succeeds, each with a new id."""

        def answer(frame: Frame, n: int) -> Frame:
            return error(frame) if n <= 2 else result(frame, {})

        central = await RawCentralSystem(answer).start()
        client = durable()
        try:
            await wait(client.connect(central.url))
            assert await wait(client.call_request("StopTransaction", stop(5))) == {}
            assert central.actions() == ["StopTransaction"] * 3
            assert len({message_id for message_id, _, _ in central.calls}) == 3
        finally:
            await closed(client)
            await central.stop()

    async def test_always_an_error_gives_up_after_the_attempts(self) -> None:
        """A central system that always errors sees exactly the attempts, then message_dropped."""
        central = await RawCentralSystem(lambda frame, n: error(frame, "GenericError")).start()
        client = durable(transaction_message_attempts=4)
        dropped: list[tuple[str, dict[str, Any], BaseException]] = []
        client.on("message_dropped", lambda *args: dropped.append(args))
        try:
            await wait(client.connect(central.url))
            first = client.call_request("StopTransaction", stop(5))
            second = client.call_request("MeterValues", meter(1, 5))
            with pytest.raises(OcppError) as raised:
                await wait(first)
            assert raised.value.code == "GenericError"
            assert central.actions() == ["StopTransaction"] * 4
            assert [(action, payload) for action, payload, _ in dropped] == [
                ("StopTransaction", stop(5))
            ]
            assert dropped[0][2] is raised.value
            # The one given up held the next one until then.
            with pytest.raises(OcppError):
                await wait(second)
            assert central.actions() == ["StopTransaction"] * 4 + ["MeterValues"] * 4
        finally:
            await closed(client)
            await central.stop()

    async def test_no_answer_is_an_attempt_with_the_same_id(self) -> None:
        """No answer within the timeout on an open connection: sent again, same message id."""

        def answer(frame: Frame, n: int) -> Frame | None:
            return NO_ANSWER if n == 1 else result(frame, {})

        central = await RawCentralSystem(answer).start()
        client = durable(transaction_message_attempts=2)
        try:
            await wait(client.connect(central.url))
            assert await wait(client.call_request("StopTransaction", stop(5), timeout=0.05)) == {}
            ids = [message_id for message_id, _, _ in central.calls]
            assert len(ids) == 2 and ids[0] == ids[1]
        finally:
            await closed(client)
            await central.stop()

    async def test_a_lost_connection_is_not_an_attempt(self) -> None:
        """The connection drops mid-call: the CALL goes again on the next one, same id, no attempt."""

        def answer(frame: Frame, n: int) -> Frame | str:
            return CLOSE if n <= 2 else result(frame, {})

        central = await RawCentralSystem(answer).start()
        client = durable(transaction_message_attempts=1)
        try:
            await wait(client.connect(central.url))
            assert await wait(client.call_request("StopTransaction", stop(5))) == {}
            ids = [message_id for message_id, _, _ in central.calls]
            assert len(ids) == 3 and len(set(ids)) == 1
            assert central.connections == 3
        finally:
            await closed(client)
            await central.stop()

    async def test_an_invalid_answer_is_an_attempt(self) -> None:
        """An answer that breaks its schema (strict) counts as an attempt, like a CALLERROR."""

        def answer(frame: Frame, n: int) -> Frame:
            return result(frame, {"transactionId": "x"}) if n == 1 else result(frame, {})

        central = await RawCentralSystem(answer).start()
        client = durable()
        try:
            await wait(client.connect(central.url))
            assert await wait(client.call_request("StopTransaction", stop(5))) == {}
            assert len({message_id for message_id, _, _ in central.calls}) == 2
        finally:
            await closed(client)
            await central.stop()


# ----------------------------------------------------------------------------- transactions


class TestOfflineTransactions:
    """A Stop or MeterValues naming its StartTransaction's future gets the real id."""

    async def test_stop_queued_behind_its_start_carries_the_given_id(self) -> None:
        """Start, MeterValues and Stop made offline: the central system's id goes into both."""
        port = free_port()
        client = durable()
        await client.connect(f"ws://127.0.0.1:{port}/ocpp", wait=False)
        tx = client.call_request("StartTransaction", start())
        values = client.call_request("MeterValues", meter(1, tx))
        done = client.call_request("StopTransaction", stop(tx))
        assert [call.payload["transactionId"] for call in client.queued()[1:]] == [0, 0]
        assert [call.transaction_ref for call in client.queued()] == [None, 1, 1]
        central = RawCentralSystem()
        central.transaction_ids = iter([4242])
        await central.start(port)
        try:
            await wait(asyncio.gather(tx, values, done))
            assert [p.get("transactionId") for _, _, p in central.calls] == [None, 4242, 4242]
            # Named after its answer, the future stands for the id at once.
            later = client.call_request("MeterValues", meter(2, tx))
            await wait(later)
            assert central.calls[-1][2]["transactionId"] == 4242
        finally:
            await closed(client)
            await central.stop()

    async def test_a_given_up_start_drops_its_dependents(self) -> None:
        """A StartTransaction given up takes the MeterValues and Stop that named it along."""

        def answer(frame: Frame, n: int) -> Frame:
            return error(frame) if frame[2] == "StartTransaction" else result(frame, {})

        central = await RawCentralSystem(answer).start()
        client = durable(transaction_message_attempts=1)
        dropped: list[str] = []
        client.on("message_dropped", lambda action, payload, error: dropped.append(action))
        try:
            await wait(client.connect(central.url))
            tx = client.call_request("StartTransaction", start())
            done = client.call_request("StopTransaction", stop(tx))
            with pytest.raises(Ocpp16Error, match="StartTransaction was given up"):
                await wait(done)
            assert dropped == ["StartTransaction", "StopTransaction"]
            assert central.actions() == ["StartTransaction"]
            # Its failed future names no transaction any more.
            again = client.call_request("StopTransaction", stop(tx))
            with pytest.raises(Ocpp16Error, match="no transactionId"):
                again.result()
        finally:
            await closed(client)
            await central.stop()

    async def test_a_future_that_is_not_a_queued_start(self) -> None:
        """A transactionId naming another future, or a queued Stop, fails the new call at once."""
        client = durable()
        loop = asyncio.get_running_loop()
        pending: asyncio.Future[Any] = loop.create_future()
        other = client.call_request("StopTransaction", stop(pending))
        with pytest.raises(Ocpp16Error, match="neither"):
            other.result()
        answered: asyncio.Future[Any] = loop.create_future()
        answered.set_result({"transactionId": 9, "idTagInfo": {"status": "Accepted"}})
        fine = client.call_request("StopTransaction", stop(answered))
        assert client.queued()[0].payload["transactionId"] == 9
        behind = client.call_request("MeterValues", meter(1, fine))
        with pytest.raises(Ocpp16Error, match="queued StopTransaction"):
            behind.result()
        # Not a queued action: it cannot wait for the id.
        tx = client.call_request("StartTransaction", start())
        plain = client.call_request("DataTransfer", {"vendorId": "x", "transactionId": tx})
        with pytest.raises(Ocpp16Error, match="still queued"):
            plain.result()

    async def test_a_stored_call_stands_for_its_start(self) -> None:
        """A StoredCall of a queued StartTransaction (client.queued()) names it, as its future."""
        port = free_port()
        client = durable()
        await client.connect(f"ws://127.0.0.1:{port}/ocpp", wait=False)
        client.call_request("StartTransaction", start())
        entry = client.queued()[0]
        assert isinstance(entry, StoredCall)
        done = client.call_request("StopTransaction", stop(entry))
        central = await RawCentralSystem().start(port)
        try:
            await wait(done)
            assert central.calls[-1][2]["transactionId"] == 1
            # Answered: the StoredCall still stands for the id in this process.
            await wait(client.call_request("MeterValues", meter(3, entry)))
            assert central.calls[-1][2]["transactionId"] == 1
        finally:
            await closed(client)
            await central.stop()

    async def test_queued_result_after_a_restart(self, tmp_path: Path) -> None:
        """A second client on the same store sends what the first queued: queued_result events."""
        path = str(tmp_path / "cp.sqlite3")
        port = free_port()
        first = durable(store=path)
        await first.connect(f"ws://127.0.0.1:{port}/ocpp", wait=False)
        tx = first.call_request("StartTransaction", start())
        first.call_request("StopTransaction", stop(tx))
        await closed(first)
        with pytest.raises(ConnectionClosed):
            await tx
        second = durable(store=path)
        results: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        both = asyncio.get_running_loop().create_future()

        def on_result(action: str, request: dict[str, Any], response: dict[str, Any]) -> None:
            results.append((action, request, response))
            if len(results) == 2:
                both.set_result(None)

        second.on("queued_result", on_result)
        central = await RawCentralSystem().start(port)
        try:
            await wait(second.connect(central.url))
            await wait(both)
            assert [(a, r.get("transactionId")) for a, r, _ in results] == [
                ("StartTransaction", None),
                ("StopTransaction", 1),
            ]
            assert results[0][2]["transactionId"] == 1
        finally:
            await closed(second)
            await central.stop()


# ----------------------------------------------------------------------------- the bound


class TestBound:
    """max_queued: the oldest MeterValues go first, never a Start or Stop."""

    async def test_drops_meter_values_first(self) -> None:
        """Full: the oldest MeterValues, then the others; a Start/Stop-only queue refuses more."""
        client = durable(max_queued=4)
        dropped: list[tuple[str, Any]] = []
        client.on(
            "message_dropped",
            lambda action, payload, error: dropped.append((action, payload.get("transactionId"))),
        )
        tx = client.call_request("StartTransaction", start())
        first = client.call_request("MeterValues", meter(1, tx))
        security = client.call_request(
            "SecurityEventNotification", {"type": "X", "timestamp": NOW_ISO}
        )
        client.call_request("MeterValues", meter(2, tx))
        client.call_request("StopTransaction", stop(tx))  # the fifth: the oldest MeterValues goes
        with pytest.raises(Ocpp16Error, match="queue is full"):
            first.result()
        assert dropped == [("MeterValues", 0)]
        client.call_request("StopTransaction", stop(9))  # then the second MeterValues
        client.call_request("StopTransaction", stop(10))  # then the SecurityEventNotification
        with pytest.raises(Ocpp16Error):
            security.result()
        assert [action for action, _ in dropped] == [
            "MeterValues",
            "MeterValues",
            "SecurityEventNotification",
        ]
        refused = client.call_request("MeterValues", meter(3, 10))
        with pytest.raises(Ocpp16Error, match="never dropped"):
            refused.result()
        assert len(dropped) == 3  # a refused call fires nothing
        assert [call.action for call in client.queued()] == [
            "StartTransaction",
            "StopTransaction",
            "StopTransaction",
            "StopTransaction",
        ]


# ----------------------------------------------------------------------------- boot gating


class TestBootGate:
    """OCPP 1.6 §4.2.1: nothing but BootNotification goes out until it is Accepted."""

    async def test_holds_everything_until_accepted(self) -> None:
        """Pending, Rejected, Accepted: only BootNotifications go out until the third answer."""
        statuses = iter(["Pending", "Rejected", "Accepted"])

        def answer(frame: Frame, n: int) -> Frame:
            if frame[2] == "BootNotification":
                return result(frame, {**ACCEPTED, "status": next(statuses), "interval": 0})
            return central.willing(frame, n)

        central = RawCentralSystem(answer)
        await central.start()
        client = durable(boot_gate=True, boot_retry_interval=0.01)
        boots: list[str] = []
        accepted = asyncio.get_running_loop().create_future()

        def on_boot(response: dict[str, Any]) -> None:
            boots.append(response["status"])
            if response["status"] == "Accepted":
                accepted.set_result(None)

        client.on("boot", on_boot)
        try:
            await wait(client.connect(central.url))
            queued = client.call_request("StartTransaction", start())
            authorize = client.call_request("Authorize", {"idTag": "TAG"})
            first = await wait(client.call_request("BootNotification", BOOT))
            assert first["status"] == "Pending"  # the application's future: the first answer
            await wait(accepted)
            await wait(asyncio.gather(queued, authorize))
            assert boots == ["Pending", "Rejected", "Accepted"]
            assert central.actions()[:3] == ["BootNotification"] * 3
            assert sorted(central.actions()[3:]) == ["Authorize", "StartTransaction"]
            # Acceptance holds across a reconnect: no new BootNotification.
            reopened = asyncio.get_running_loop().create_future()
            client.on("connect", lambda: reopened.done() or reopened.set_result(None))
            await central.stop()
            await central.start(central.port)
            await wait(reopened)
            await wait(client.call_request("Heartbeat"))
            assert central.actions()[-1] == "Heartbeat"
            assert central.actions().count("BootNotification") == 3
        finally:
            await closed(client)
            await central.stop()

    async def test_rejected_answers_nothing(self) -> None:
        """While Rejected the charge point runs no handler and answers no CALL."""
        server = Server()
        peers: asyncio.Future[ClientBase] = asyncio.get_running_loop().create_future()

        def on_connection(peer: ClientBase) -> None:
            peer.on(
                "BootNotification",
                lambda request: {"status": "Rejected", "interval": 0, "currentTime": NOW_ISO},
            )
            peers.set_result(peer)

        server.on("connection", on_connection)
        await server.listen(0, host="127.0.0.1")
        client = durable(boot_gate=True, boot_retry_interval=TIMEOUT)
        ran: list[dict[str, Any]] = []
        client.on("Reset", lambda request: ran.append(request) or {"status": "Accepted"})
        try:
            await wait(client.connect(f"ws://127.0.0.1:{server.port}/ocpp"))
            assert (await wait(client.call_request("BootNotification", BOOT)))["status"] == (
                "Rejected"
            )
            peer = await wait(peers)
            with pytest.raises(CallTimeout):
                await wait(peer.call_request("Reset", {"type": "Soft"}, timeout=0.1))
            assert ran == []
        finally:
            await closed(client)
            await server.close()

    async def test_boot_offline_and_failures(self) -> None:
        """A BootNotification made offline waits; a CALLERROR answer fails it and is retried."""

        def answer(frame: Frame, n: int) -> Frame:
            return error(frame) if n == 1 else central.willing(frame, n)

        port = free_port()
        client = durable(boot_gate=True, boot_retry_interval=0.01)
        accepted = asyncio.get_running_loop().create_future()
        client.on("boot", lambda response: accepted.set_result(response))
        await client.connect(f"ws://127.0.0.1:{port}/ocpp", wait=False)
        boot = client.call_request("BootNotification", BOOT)
        invalid = client.call_request("BootNotification", {"chargePointVendor": "x"})
        with pytest.raises(ValidationError):
            invalid.result()
        central = RawCentralSystem(answer)
        await central.start(port)
        try:
            with pytest.raises(OcppError):
                await wait(boot)
            assert (await wait(accepted))["status"] == "Accepted"
            assert central.actions() == ["BootNotification"] * 2
        finally:
            await closed(client)
            await central.stop()


# ----------------------------------------------------------------------------- edges


class FlakyStore(MemoryStore):
    """A store whose next ``remove`` fails once, as a full disk would."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next = False

    def remove(self, seq: int) -> None:
        """Fail once when asked to, then work."""
        if self.fail_next:
            self.fail_next = False
            raise StoreError("the disk is full", None)
        super().remove(seq)


class TestEdges:
    """Life-cycle corners: errors while connecting, drops mid-call, a failing store."""

    async def test_connect_twice_is_an_error(self) -> None:
        """connect() while connected or connecting raises RuntimeError."""
        central = await RawCentralSystem().start()
        client = durable()
        try:
            await wait(client.connect(central.url))
            with pytest.raises(RuntimeError, match="already"):
                await client.connect(central.url)
        finally:
            await closed(client)
            await central.stop()

    async def test_giving_up_in_the_background_is_an_error_event(self) -> None:
        """connect(wait=False) whose attempts run out: "error"(the last error)."""
        client = durable(reconnect=Reconnect(initial=0.01, jitter=0, attempts=2))
        errors = asyncio.get_running_loop().create_future()
        client.on("error", errors.set_result)
        await client.connect(f"ws://127.0.0.1:{free_port()}/ocpp", wait=False)
        assert isinstance(await wait(errors), OSError)
        await closed(client)

    async def test_a_configuration_error_is_not_retried(self) -> None:
        """Security profile 2 on a ws:// URL: connect() raises ValueError at once, no retry."""
        client = Client("CP1", reconnect=FAST, security_profile=2, password="secret-key-16chars")
        waits: list[int] = []
        client.on("reconnecting", lambda *args: waits.append(1))
        with pytest.raises(ValueError, match="TLS"):
            await wait(client.connect(f"ws://127.0.0.1:{free_port()}/ocpp"))
        assert waits == []
        await closed(client)

    async def test_cancelling_connect_stops_connecting(self) -> None:
        """A connect(wait=True) cancelled by its caller stops the reconnect loop too."""
        client = durable()
        waited = asyncio.get_running_loop().create_future()
        client.on("reconnecting", lambda *a: waited.done() or waited.set_result(None))
        connecting = asyncio.ensure_future(client.connect(f"ws://127.0.0.1:{free_port()}/ocpp"))
        await wait(waited)
        connecting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await connecting
        central = await RawCentralSystem().start()
        try:
            await wait(client.connect(central.url))  # a new connect() is allowed
        finally:
            await closed(client)
            await central.stop()

    async def test_cancelling_connect_during_a_handshake(self) -> None:
        """connect() cancelled while a handshake hangs; a later connect() works."""
        hanging = asyncio.Event()

        async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            hanging.set()
            await reader.read()  # until the client goes
            writer.close()

        silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
        port = silent.sockets[0].getsockname()[1]
        client = durable()
        connecting = asyncio.ensure_future(client.connect(f"ws://127.0.0.1:{port}/ocpp"))
        await wait(hanging.wait())
        connecting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await connecting
        silent.close()
        central = await RawCentralSystem().start()
        try:
            await wait(client.connect(central.url))
            assert client.is_open
        finally:
            await closed(client)
            await central.stop()
            await silent.wait_closed()

    async def test_a_waiting_call_dropped_mid_call_fails(self) -> None:
        """A non-queued CALL that was waiting, then sent, fails with the connection like any."""
        port = free_port()
        client = durable()
        await client.connect(f"ws://127.0.0.1:{port}/ocpp", wait=False)
        authorize = client.call_request("Authorize", {"idTag": "TAG"}, timeout=TIMEOUT)
        central = await RawCentralSystem(lambda frame, n: CLOSE).start(port)
        try:
            with pytest.raises(ConnectionClosed):
                await wait(authorize)
        finally:
            await closed(client)
            await central.stop()

    async def test_a_boot_lost_with_its_connection_goes_again(self) -> None:
        """A BootNotification whose connection drops before the answer is sent again."""

        def answer(frame: Frame, n: int) -> Frame | str:
            return CLOSE if n == 1 else central.willing(frame, n)

        central = RawCentralSystem(answer)
        await central.start()
        client = durable(boot_gate=True)
        try:
            await wait(client.connect(central.url))
            assert (await wait(client.call_request("BootNotification", BOOT)))["status"] == (
                "Accepted"
            )
            assert central.actions() == ["BootNotification"] * 2
        finally:
            await closed(client)
            await central.stop()

    async def test_gated_handlers_run_until_rejected(self) -> None:
        """With the boot gate, incoming CALLs are answered while Pending and once Accepted."""
        server = Server()
        peers: asyncio.Future[ClientBase] = asyncio.get_running_loop().create_future()
        server.on("connection", peers.set_result)
        await server.listen(0, host="127.0.0.1")
        client = durable(boot_gate=True)
        client.on("Reset", lambda request: {"status": "Accepted"})
        try:
            await wait(client.connect(f"ws://127.0.0.1:{server.port}/ocpp"))
            peer = await wait(peers)
            assert await wait(peer.call_request("Reset", {"type": "Soft"})) == {
                "status": "Accepted"
            }
        finally:
            await closed(client)
            await server.close()

    async def test_a_failing_store_is_reported_and_retried(self) -> None:
        """The store fails to remove an answered CALL: an "error" event, then it goes again."""
        central = await RawCentralSystem().start()
        store = FlakyStore()
        client = durable(store=store)
        errors: list[BaseException] = []
        client.on("error", errors.append)
        try:
            await wait(client.connect(central.url))
            store.fail_next = True
            future = client.call_request("StopTransaction", stop(5))
            await wait(future)
            assert [type(e) for e in errors] == [StoreError]
            # Not removed the first time: sent again, with the same id (at least once).
            assert [message_id for message_id, _, _ in central.calls] == [central.calls[0][0]] * 2
            assert client.queued() == []
        finally:
            await closed(client)
            await central.stop()

    async def test_a_stored_call_that_cannot_go_is_dropped(self) -> None:
        """From a damaged store: a payload that breaks its schema, or a dangling link, is dropped."""
        store = MemoryStore()
        store.add("StopTransaction", {"meterStop": "ten"}, "bad-payload")
        store.add("StopTransaction", stop(0), "dangling", transaction_ref=999)
        store.add("StopTransaction", stop(3), "fine")
        central = await RawCentralSystem().start()
        client = durable(store=store)
        dropped: list[str] = []
        delivered = asyncio.get_running_loop().create_future()
        client.on("message_dropped", lambda action, payload, error: dropped.append(str(error)))
        client.on("queued_result", lambda *args: delivered.set_result(args))
        try:
            await wait(client.connect(central.url))
            await wait(delivered)
            assert len(dropped) == 2 and "no transactionId" in dropped[1]
            assert [message_id for message_id, _, _ in central.calls] == ["fine"]
        finally:
            await closed(client)
            await central.stop()

    async def test_a_start_answered_without_an_id_drops_its_dependents(self) -> None:
        """Validation off, a StartTransaction answered {}: what named it cannot go."""

        def answer(frame: Frame, n: int) -> Frame:
            return result(frame, {})

        central = await RawCentralSystem(answer).start()
        client = durable(validation_overrides={"StartTransaction": "off"})
        try:
            await wait(client.connect(central.url))
            tx = client.call_request("StartTransaction", start())
            done = client.call_request("StopTransaction", stop(tx))
            assert await wait(tx) == {}
            with pytest.raises(Ocpp16Error, match="no transactionId"):
                await wait(done)
        finally:
            await closed(client)
            await central.stop()
