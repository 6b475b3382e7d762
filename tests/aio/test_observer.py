"""Observer hooks over real loopback WebSockets: values, outcomes, order, containment, cost."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from ocpp16 import (
    CallTimeout,
    Client,
    ClientBase,
    ConnectionClosed,
    Observer,
    OcppError,
    Server,
)
from tests.helpers import connect_pair, future_and_setter, raw_peer, recv_json, url, wait

BOOT = {"chargePointVendor": "eParking", "chargePointModel": "NECU-T2"}
BOOT_OK = {"status": "Accepted", "interval": 60, "currentTime": "2024-05-01T12:00:00Z"}
RESET = {"type": "Soft"}
HOOKS = (
    "connect",
    "close",
    "call_sent",
    "answer_received",
    "call_received",
    "answer_sent",
    "bad_message",
    "ignored",
)


class Recorder(Observer):
    """Records every hook call as (hook, *arguments without the connection)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.connections: list[ClientBase] = []
        self.closed: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        self.changed = asyncio.Event()

    def _record(self, hook: str, connection: ClientBase, *args: Any) -> None:
        self.calls.append((hook, *args))
        self.connections.append(connection)
        self.changed.set()

    def connect(self, connection: ClientBase) -> None:
        self._record("connect", connection)

    def close(self, connection: ClientBase, code: int, reason: str) -> None:
        self._record("close", connection, code, reason)
        if not self.closed.done():
            self.closed.set_result((code, reason))

    def call_sent(self, connection: ClientBase, *args: Any) -> None:
        self._record("call_sent", connection, *args)

    def answer_received(self, connection: ClientBase, *args: Any) -> None:
        self._record("answer_received", connection, *args)

    def call_received(self, connection: ClientBase, *args: Any) -> None:
        self._record("call_received", connection, *args)

    def answer_sent(self, connection: ClientBase, *args: Any) -> None:
        self._record("answer_sent", connection, *args)

    def bad_message(self, connection: ClientBase, *args: Any) -> None:
        self._record("bad_message", connection, *args)

    def ignored(self, connection: ClientBase, *args: Any) -> None:
        self._record("ignored", connection, *args)

    def violation(self, connection: ClientBase, *args: Any) -> None:
        self._record("violation", connection, *args)

    def hooks(self) -> list[str]:
        """The names of the hooks called so far, in order."""
        return [call[0] for call in self.calls]

    def of(self, hook: str) -> list[tuple[Any, ...]]:
        """The arguments of each call of ``hook``."""
        return [call[1:] for call in self.calls if call[0] == hook]

    async def until(self, hook: str, count: int = 1) -> None:
        """Wait until ``hook`` has been called ``count`` times."""
        while len(self.of(hook)) < count:
            self.changed.clear()
            await self.changed.wait()


class TestRealExchange:
    """Each hook fires with the right values, on the charge point's side and the server's."""

    async def test_charge_point_side(self, server: Server) -> None:
        """A Client's observer sees connect, call_sent, answer_received and close, with their values."""
        server.on("connection", lambda c: c.on("BootNotification", lambda request: BOOT_OK))
        recorder = Recorder()
        client = Client("CP1")
        client.add_observer(recorder)
        await wait(client.connect(url(server)))
        assert await wait(client.call_request("BootNotification", BOOT)) == BOOT_OK
        await client.close(1000, "done")
        assert await wait(recorder.closed) == (1000, "done")
        assert recorder.hooks() == ["connect", "call_sent", "answer_received", "close"]
        assert all(connection is client for connection in recorder.connections)
        ((message_id, action, payload, frame),) = recorder.of("call_sent")
        assert (action, payload) == ("BootNotification", BOOT)
        assert json.loads(frame) == [2, message_id, "BootNotification", BOOT]
        ((answered_id, answered_action, outcome, seconds, result, answer),) = recorder.of(
            "answer_received"
        )
        assert (answered_id, answered_action, outcome, result) == (
            message_id,
            "BootNotification",
            "result",
            BOOT_OK,
        )
        assert seconds >= 0 and json.loads(answer) == [3, message_id, BOOT_OK]

    async def test_central_system_side(self, server: Server) -> None:
        """A server's observer sees each connection: connect, call_received, answer_sent, close."""
        recorder = Recorder()
        server.add_observer(recorder)
        server.on("connection", lambda c: c.on("BootNotification", lambda request: BOOT_OK))
        client, peer = await connect_pair(server)
        await wait(client.call_request("BootNotification", BOOT))
        await client.close()
        await wait(recorder.closed)
        assert recorder.hooks() == ["connect", "call_received", "answer_sent", "close"]
        assert all(connection is peer for connection in recorder.connections)
        ((message_id, action, payload, frame),) = recorder.of("call_received")
        assert (action, payload) == ("BootNotification", BOOT)
        assert json.loads(frame) == [2, message_id, "BootNotification", BOOT]
        ((answered_id, answered_action, outcome, seconds, reply, answer),) = recorder.of(
            "answer_sent"
        )
        assert (answered_id, answered_action, outcome, reply) == (
            message_id,
            "BootNotification",
            "result",
            BOOT_OK,
        )
        assert seconds >= 0 and json.loads(answer) == [3, message_id, BOOT_OK]
        assert recorder.of("close") == [(1000, "")]

    async def test_an_error_answer_is_sent_with_its_code_as_sent(self, server: Server) -> None:
        """A handler's OcppError is reported with the code that went on the wire."""
        recorder = Recorder()
        server.add_observer(recorder)

        def refuse(request: Any) -> None:
            raise OcppError("NoSuchCode", "not one of the ten", {"why": 1})

        server.on("connection", lambda c: c.on("Heartbeat", refuse))
        client, _ = await connect_pair(server)
        with pytest.raises(OcppError):
            await wait(client.call_request("Heartbeat"))
        await client.close()
        ((_, action, outcome, _, error, frame),) = recorder.of("answer_sent")
        # OCPP-J 1.6 §4.2.3: a code that 1.6 does not define goes out as GenericError.
        assert (action, outcome) == ("Heartbeat", "GenericError")
        assert isinstance(error, OcppError) and error.code == "NoSuchCode"
        assert json.loads(frame)[2:] == ["GenericError", "not one of the ten", {"why": 1}]


class TestOutcomes:
    """answer_received says how each CALL ended: result, the CALLERROR's code, timeout, closed."""

    async def test_result_callerror_timeout_and_closed(self, server: Server) -> None:
        """Each outcome, with its value and with no frame when nothing came."""
        recorder = Recorder()
        server.add_observer(recorder)
        seen, on_connection = future_and_setter()
        server.on("connection", on_connection)
        async with raw_peer(server) as ws:
            peer: ClientBase = await wait(seen)
            accepted = peer.call_request("Reset", RESET)
            frame = await recv_json(ws)
            await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
            assert await wait(accepted) == {"status": "Accepted"}

            refused = peer.call_request("Reset", RESET)
            frame = await recv_json(ws)
            await ws.send(json.dumps([4, frame[1], "NotSupported", "no", {}]))
            with pytest.raises(OcppError):
                await wait(refused)

            timed_out = peer.call_request("Reset", RESET, timeout=0.05)
            await recv_json(ws)
            with pytest.raises(CallTimeout):
                await wait(timed_out)

            dropped = peer.call_request("Reset", RESET)
            await recv_json(ws)
        with pytest.raises(ConnectionClosed):
            await wait(dropped)
        outcomes = [(call[2], call[5] is None) for call in recorder.of("answer_received")]
        assert outcomes == [
            ("result", False),
            ("NotSupported", False),
            ("timeout", True),
            ("closed", True),
        ]
        values = [call[4] for call in recorder.of("answer_received")]
        assert values[0] == {"status": "Accepted"}
        assert isinstance(values[1], OcppError) and values[1].code == "NotSupported"
        assert isinstance(values[2], CallTimeout)
        assert isinstance(values[3], ConnectionClosed)

    async def test_cancelled_and_late_answer(self, server: Server) -> None:
        """A cancelled CALL ends as "cancelled"; its answer, when it comes, is ignored."""
        recorder = Recorder()
        server.add_observer(recorder)
        seen, on_connection = future_and_setter()
        server.on("connection", on_connection)
        async with raw_peer(server) as ws:
            peer: ClientBase = await wait(seen)
            future = peer.call_request("Reset", RESET)
            frame = await recv_json(ws)
            future.cancel()
            late = json.dumps([3, frame[1], {"status": "Accepted"}])
            await ws.send(late)
            await wait(recorder.until("ignored"))
        ((_, _, outcome, _, value, answer),) = recorder.of("answer_received")
        assert outcome == "cancelled" and isinstance(value, asyncio.CancelledError)
        assert answer is None
        ((text, reason),) = recorder.of("ignored")
        assert text == late and "no pending CALL" in reason


class TestOrder:
    """With call_concurrency 1 a queued CALL is sent when it leaves the queue."""

    async def test_queued_calls_are_sent_one_after_the_other(self, server: Server) -> None:
        """call_sent of a queued CALL comes after answer_received of the CALL before it."""
        recorder = Recorder()
        server.add_observer(recorder)
        seen, on_connection = future_and_setter()
        server.on("connection", on_connection)
        async with raw_peer(server) as ws:
            peer: ClientBase = await wait(seen)
            futures = [peer.call_request("Reset", RESET) for _ in range(3)]
            # Only the first is written; the other two wait in the queue.
            assert len(recorder.of("call_sent")) == 1
            order = []
            for _ in range(3):
                frame = await recv_json(ws)
                order.append(frame[1])
                await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
            await wait(asyncio.gather(*futures))
        sequence = [
            (call[0], call[1])
            for call in recorder.calls
            if call[0] in ("call_sent", "answer_received")
        ]
        assert sequence == [
            ("call_sent", order[0]),
            ("answer_received", order[0]),
            ("call_sent", order[1]),
            ("answer_received", order[1]),
            ("call_sent", order[2]),
            ("answer_received", order[2]),
        ]


class TestRefusedFrames:
    """bad_message for refused frames; the library's own CALLERROR follows as answer_sent."""

    async def test_bad_frames_and_a_refused_call(self, server: Server) -> None:
        """Garbage is a bad message; a CALL the core refuses is a bad message, then its answer."""
        recorder = Recorder()
        server.add_observer(recorder)
        async with raw_peer(server) as ws:
            await ws.send("garbage")
            await ws.send(b"binary")
            await ws.send('[2,"7","NoSuchAction",{}]')
            assert (await recv_json(ws))[:3] == [4, "7", "NotImplemented"]
            await wait(recorder.until("answer_sent"))
        assert recorder.hooks()[1:5] == ["bad_message", "bad_message", "bad_message", "answer_sent"]
        texts = [call[0] for call in recorder.of("bad_message")]
        assert texts == ["garbage", b"binary", '[2,"7","NoSuchAction",{}]']
        errors = [call[1].code for call in recorder.of("bad_message")]
        assert errors == ["FormationViolation", "FormationViolation", "NotImplemented"]
        ((message_id, action, outcome, seconds, error, frame),) = recorder.of("answer_sent")
        assert (message_id, action, outcome, seconds) == ("7", "NoSuchAction", "NotImplemented", 0)
        assert isinstance(error, OcppError) and json.loads(frame)[:3] == [4, "7", "NotImplemented"]


class TestViolations:
    """violation: what warn-mode validation let through, with where and which rule."""

    async def test_warn_mode_violations_are_observed(self) -> None:
        """An invalid request and an invalid answer in warn mode each reach the observer."""
        async with Server(validation="warn") as server:
            await server.listen(0, host="127.0.0.1")
            recorder = Recorder()
            server.add_observer(recorder)
            server.on(
                "connection",
                lambda peer: peer.on("Heartbeat", lambda request: {"currentTime": "soon"}),
            )
            client, _ = await connect_pair(server, validation="off")
            await wait(client.call_request("Heartbeat", {"extra": 1}))
            await client.close()
        found = [(a, k, w, e.code) for a, k, w, e in recorder.of("violation")]
        assert found == [
            ("Heartbeat", "request", "incoming", "FormationViolation"),
            ("Heartbeat", "response", "outgoing", "PropertyConstraintViolation"),
        ]


class TestContainment:
    """An observer that raises is reported like a failing listener; the connection goes on."""

    async def test_a_raising_observer_does_not_break_the_connection(self, server: Server) -> None:
        """Every hook raises; the exchange completes and each failure reaches "error"."""

        class Broken(Observer):
            def __getattribute__(self, name: str) -> Any:
                if name in HOOKS:

                    def hook(*args: Any) -> None:
                        raise RuntimeError(f"observer bug in {name}")

                    return hook
                return super().__getattribute__(name)

        server.on("connection", lambda c: c.on("BootNotification", lambda request: BOOT_OK))
        errors: list[BaseException] = []
        client = Client("CP1")
        client.add_observer(Broken())
        client.on("error", errors.append)
        await wait(client.connect(url(server)))
        assert await wait(client.call_request("BootNotification", BOOT)) == BOOT_OK
        assert client.is_open
        await client.close()
        assert [str(e) for e in errors] == [
            "observer bug in connect",
            "observer bug in call_sent",
            "observer bug in answer_received",
            "observer bug in close",
        ]

    async def test_without_error_listener_the_failure_is_logged(
        self, server: Server, caplog: pytest.LogCaptureFixture
    ) -> None:
        """With no "error" listener, a failing hook is logged and the next hook still runs."""

        class Broken(Observer):
            def call_sent(self, *args: Any) -> None:
                raise RuntimeError("observer bug")

        server.on("connection", lambda c: c.on("BootNotification", lambda request: BOOT_OK))
        after = Recorder()
        client = Client("CP1")
        client.add_observer(Broken())
        client.add_observer(after)
        with caplog.at_level(logging.ERROR, "ocpp16"):
            await wait(client.connect(url(server)))
            await wait(client.call_request("BootNotification", BOOT))
            await client.close()
        assert "observer bug" in caplog.text
        assert after.hooks() == ["connect", "call_sent", "answer_received", "close"]


class TestAttaching:
    """add_observer and remove_observer on a connection and on a server."""

    async def test_nothing_is_called_without_an_observer(
        self, server: Server, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With no observer (one added, then removed), no hook and no observed path runs."""
        entered: list[str] = []
        for name in ("_receive_observed", "_answered", "_wrote", "_notify", "_answer_received"):
            monkeypatch.setattr(ClientBase, name, lambda *args, _name=name: entered.append(_name))
        spy = Recorder()
        server.add_observer(spy)
        server.remove_observer(spy)
        server.on("connection", lambda c: c.on("BootNotification", lambda request: BOOT_OK))
        client, _ = await connect_pair(server)
        client.add_observer(spy)
        client.remove_observer(spy)
        for _ in range(3):
            assert await wait(client.call_request("BootNotification", BOOT)) == BOOT_OK
        await client.close()
        assert entered == [] and spy.calls == []

    async def test_server_observers_apply_from_then_on(self, server: Server) -> None:
        """A server's observer reaches the connections made after add_observer; remove drops it."""
        early, _ = await connect_pair(server, "CP1")
        recorder = Recorder()
        server.add_observer(recorder)
        late, _ = await connect_pair(server, "CP2")
        assert [c.cp_id for c in recorder.connections] == ["CP2"]
        server.remove_observer(recorder)
        await late.close()
        await early.close()
        assert recorder.hooks() == ["connect"]

    async def test_bad_observers_are_refused(self, server: Server) -> None:
        """An object that is not an Observer is a TypeError; removing a stranger a ValueError."""
        client = Client("CP1")
        with pytest.raises(TypeError, match=r"ocpp16\.Observer"):
            client.add_observer(object())  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"ocpp16\.Observer"):
            server.add_observer("observer")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            client.remove_observer(Observer())
        with pytest.raises(ValueError):
            server.remove_observer(Observer())
        observer = Observer()
        client.add_observer(observer)
        client.add_observer(observer)  # once is enough
        client.remove_observer(observer)
        with pytest.raises(ValueError):
            client.remove_observer(observer)

    def test_the_base_hooks_do_nothing(self) -> None:
        """Every hook of the base class accepts its arguments and returns None."""
        observer = Observer()
        connection: Any = None
        payload: Mapping[str, Any] = {}
        assert observer.connect(connection) is None
        assert observer.close(connection, 1000, "") is None
        assert observer.call_sent(connection, "1", "Heartbeat", payload, "[]") is None
        assert (
            observer.answer_received(connection, "1", "Heartbeat", "timeout", 1.0, payload, None)
            is None
        )
        assert observer.call_received(connection, "1", "Heartbeat", {}, "[]") is None
        assert observer.answer_sent(connection, "1", "Heartbeat", "result", 0.1, {}, "[]") is None
        assert observer.bad_message(connection, "x", OcppError("FormationViolation")) is None
        assert observer.ignored(connection, "[9]", "unknown") is None
        assert observer.refused(None, 400, "no charge point id") is None
