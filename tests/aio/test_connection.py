"""ClientBase, Client and Server over real loopback WebSockets: each row of the README's tables."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed as WsClosed

from ocpp16 import (
    CallTimeout,
    Client,
    ClientBase,
    ConnectionClosed,
    OcppError,
    Server,
    ValidationError,
)
from tests.helpers import (
    NOW,
    connect_pair,
    future_and_setter,
    over_transports,
    raw_peer,
    recv_json,
    serve_test,
    until,
    url,
    wait,
)

BOOT = {"chargePointVendor": "eParking", "chargePointModel": "NECU-T2"}
BOOT_OK = {"status": "Accepted", "interval": 60, "currentTime": "2024-05-01T12:00:00Z"}
STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}


# ----------------------------------------------------------------------------- Server


class TestServer:
    """Server(**options), listen, close, serve_forever, async with, and its events."""

    async def test_listen_returns_the_bound_port(self) -> None:
        """listen(0) picks a free port and returns it."""
        server = Server()
        port = await server.listen(0, host="127.0.0.1")
        try:
            assert port > 0
            async with ws_connect(f"ws://127.0.0.1:{port}/x/CP", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
                assert ws.subprotocol == "ocpp1.6"
        finally:
            await server.close()

    async def test_serve_forever_returns_after_close(self) -> None:
        """serve_forever() returns once close() has run, and "close" is emitted."""
        server = Server()
        await server.listen(0, host="127.0.0.1")
        closed, on_close = future_and_setter()
        server.on("close", lambda: on_close(True))
        forever = asyncio.create_task(server.serve_forever())
        await asyncio.sleep(0)
        assert not forever.done()
        await server.close()
        await wait(forever)
        assert await wait(closed) is True
        await server.close()  # closing twice is harmless

    async def test_async_with_closes(self) -> None:
        """Async with Server() closes it on exit, dropping its charge points with 1001."""
        async with Server() as server:
            port = await server.listen(0, host="127.0.0.1")
            client = Client("CP1")
            await client.connect(f"ws://127.0.0.1:{port}/ocpp")
            closed, on_close = future_and_setter()
            client.on("close", on_close)
        assert await wait(closed) == (1001, "")
        await client.close()

    async def test_close_sends_1001_to_every_charge_point(self, server: Server) -> None:
        """Server.close() closes every connection with 1001 (going away)."""
        results = []
        for cp_id in ("A", "B"):
            client, _ = await connect_pair(server, cp_id)
            closed, on_close = future_and_setter()
            client.on("close", on_close)
            results.append((client, closed))
        await server.close()
        for client, closed in results:
            assert (await wait(closed))[0] == 1001
            assert not client.is_open

    async def test_close_waits_for_running_handlers(self, server: Server) -> None:
        """close() lets a running handler finish and its answer reach the charge point."""
        finished = asyncio.Event()
        started = asyncio.Event()

        async def slow(request: dict[str, Any]) -> dict[str, Any]:
            started.set()
            await asyncio.sleep(0.2)
            finished.set()
            return NOW

        client, peer = await connect_pair(server)
        peer.on("Heartbeat", slow)
        call = client.call_request("Heartbeat")
        await wait(started.wait())
        await server.close()
        assert finished.is_set()
        assert await wait(call) == NOW

    async def test_clients_by_id(self, server: Server) -> None:
        """server.clients holds the connected charge points by id, and forgets them on close."""
        client, peer = await connect_pair(server, "CP-42")
        assert server.clients == {"CP-42": peer}
        closed, on_close = future_and_setter()
        peer.on("close", on_close)
        await client.close()
        await wait(closed)
        await wait(until(lambda: not server.clients))

    async def test_server_options_apply_to_each_connection(self) -> None:
        """An option given to Server(...) applies to every connection it accepts."""
        async with Server(validation="off", call_timeout=7) as server:
            await server.listen(0, host="127.0.0.1")
            client, peer = await connect_pair(server)
            assert peer.validation == "off"
            assert peer.options.call_timeout == 7
            await client.close()

    async def test_bad_option_is_refused(self) -> None:
        """A wrong option value is refused at construction with a clear message."""
        with pytest.raises(ValueError, match="call_timeout"):
            Server(call_timeout=0)
        with pytest.raises(ValueError, match="validation mode"):
            Server(validation="lax")
        with pytest.raises(TypeError):
            Server(no_such_option=1)

    async def test_error_event_gets_listener_failures(self, server: Server) -> None:
        """A "connection" listener that raises is reported through "error", not the process."""
        errors, on_error = future_and_setter()
        server.on("error", on_error)

        def broken(client: ClientBase) -> None:
            raise RuntimeError("listener bug")

        server.on("connection", broken)
        client, _ = await connect_pair(server)
        assert isinstance(await wait(errors), RuntimeError)
        assert client.is_open
        await client.close()

    async def test_listener_failure_without_error_listener_is_logged(
        self, server: Server, caplog: pytest.LogCaptureFixture
    ) -> None:
        """With no "error" listener, a failing listener is logged and the server goes on."""

        def broken(client: ClientBase) -> None:
            raise RuntimeError("listener bug")

        server.on("connection", broken)
        client, _ = await connect_pair(server)
        assert "listener bug" in caplog.text
        await client.close()


# ----------------------------------------------------------------------------- handshake


# ----------------------------------------------------------------------------- handlers


class TestHandlers:
    """README "Handlers": reply styles, first reply wins, errors, timeouts, NotSupported."""

    @pytest.mark.parametrize(
        "style", ["cb", "return", "async-return", "async-cb", "awaitable", "cb-later"]
    )
    async def test_reply_styles(self, pair: tuple[Client, ClientBase], style: str) -> None:
        """A handler replies by cb(response), by returning it, or through an awaitable."""
        client, peer = pair

        def by_cb(request: dict[str, Any], cb: Any) -> None:
            cb(BOOT_OK)

        def by_return(request: dict[str, Any]) -> dict[str, Any]:
            return BOOT_OK

        async def by_async_return(request: dict[str, Any]) -> dict[str, Any]:
            await asyncio.sleep(0)
            return BOOT_OK

        async def by_async_cb(request: dict[str, Any], cb: Any) -> None:
            await asyncio.sleep(0)
            cb(BOOT_OK)

        def by_awaitable(request: dict[str, Any]) -> asyncio.Future[dict[str, Any]]:
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(future.set_result, BOOT_OK)
            return future

        def by_cb_later(request: dict[str, Any], cb: Any) -> None:
            asyncio.get_running_loop().call_later(0.01, cb, BOOT_OK)

        handlers = {
            "cb": by_cb,
            "return": by_return,
            "async-return": by_async_return,
            "async-cb": by_async_cb,
            "awaitable": by_awaitable,
            "cb-later": by_cb_later,
        }
        peer.on("BootNotification", handlers[style])
        assert await wait(client.call_request("BootNotification", BOOT)) == BOOT_OK

    async def test_handler_gets_the_request(self, pair: tuple[Client, ClientBase]) -> None:
        """The handler receives the CALL's payload as a plain dict with camelCase keys."""
        client, peer = pair
        got, on_request = future_and_setter()

        @peer.on("BootNotification")
        def handler(request: dict[str, Any]) -> dict[str, Any]:
            on_request(request)
            return BOOT_OK

        await wait(client.call_request("BootNotification", BOOT))
        assert await wait(got) == BOOT

    async def test_first_reply_wins(
        self, pair: tuple[Client, ClientBase], caplog: pytest.LogCaptureFixture
    ) -> None:
        """With several listeners all run; the first reply is sent, later ones are logged and dropped."""
        client, peer = pair
        ran = []
        second_done = asyncio.Event()

        def first(request: dict[str, Any], cb: Any) -> None:
            ran.append("first")
            cb(BOOT_OK)
            cb({**BOOT_OK, "status": "Rejected"})

        async def second(request: dict[str, Any]) -> dict[str, Any]:
            ran.append("second")
            second_done.set()
            return {**BOOT_OK, "status": "Pending"}

        peer.on("BootNotification", first)
        peer.on("BootNotification", second)
        with caplog.at_level(logging.WARNING, "ocpp16"):
            assert await wait(client.call_request("BootNotification", BOOT)) == BOOT_OK
            await wait(second_done.wait())
            await wait(until(lambda: caplog.text.count("the first reply wins") >= 2))
        assert ran == ["first", "second"]

    async def test_none_without_cb_replies_empty(self, pair: tuple[Client, ClientBase]) -> None:
        """A handler without cb that returns None replies {}: right for StatusNotification."""
        _, peer = pair
        client = pair[0]
        peer.on("StatusNotification", lambda request: None)
        assert await wait(client.call_request("StatusNotification", STATUS)) == {}

    async def test_none_for_boot_is_internal_error(
        self, pair: tuple[Client, ClientBase], caplog: pytest.LogCaptureFixture
    ) -> None:
        """{} for BootNotification breaks its schema: InternalError naming the field, and a log line."""
        client, peer = pair

        async def lazy(request: dict[str, Any]) -> None:
            return None

        peer.on("BootNotification", lazy)
        with pytest.raises(OcppError) as info:
            await wait(client.call_request("BootNotification", BOOT))
        assert info.value.code == "InternalError"
        assert "$.status" in info.value.description or "$.currentTime" in info.value.description
        assert "BootNotification handler's response breaks its schema" in caplog.text

    async def test_ocpp_error_is_sent(self, pair: tuple[Client, ClientBase]) -> None:
        """Raise OcppError(code, description, details) sends that CALLERROR."""
        client, peer = pair

        def refuse(request: dict[str, Any]) -> None:
            raise OcppError("SecurityError", "not you", {"hint": 1})

        peer.on("BootNotification", refuse)
        with pytest.raises(OcppError) as info:
            await wait(client.call_request("BootNotification", BOOT))
        assert (info.value.code, info.value.description, info.value.details) == (
            "SecurityError",
            "not you",
            {"hint": 1},
        )

    async def test_other_exception_is_internal_error(
        self, pair: tuple[Client, ClientBase], caplog: pytest.LogCaptureFixture
    ) -> None:
        """Any other exception sends InternalError; the traceback is logged, never sent."""
        client, peer = pair

        async def broken(request: dict[str, Any]) -> None:
            raise KeyError("secret-internal-detail")

        peer.on("BootNotification", broken)
        with pytest.raises(OcppError) as info:
            await wait(client.call_request("BootNotification", BOOT))
        assert info.value.code == "InternalError"
        assert "secret-internal-detail" not in info.value.description + json.dumps(
            info.value.details
        )
        assert "secret-internal-detail" in caplog.text and "Traceback" in caplog.text

    async def test_handler_timeout_is_internal_error(self, server: Server) -> None:
        """No reply within handler_timeout: InternalError."""
        client, peer = await connect_pair(server, handler_timeout=0.1)
        client.on("Reset", lambda request, cb: None)
        with pytest.raises(OcppError) as info:
            await wait(peer.call_request("Reset", {"type": "Soft"}))
        assert info.value.code == "InternalError"
        assert "within 0.1 s" in info.value.description
        await client.close()

    async def test_valid_action_without_listener_is_not_supported(
        self, pair: tuple[Client, ClientBase]
    ) -> None:
        """A valid action with no listener: NotSupported (OCPP-J 1.6 table 7)."""
        client, _ = pair
        with pytest.raises(OcppError) as info:
            await wait(client.call_request("Heartbeat"))
        assert info.value.code == "NotSupported"

    async def test_unknown_action_is_not_implemented(self, server: Server) -> None:
        """An action that is not one this side receives: NotImplemented."""
        async with raw_peer(server) as ws:
            await ws.send('[2,"1","Reset",{"type":"Soft"}]')
            assert (await recv_json(ws))[:3] == [4, "1", "NotImplemented"]
            await ws.send('[2,"2","Teleport",{}]')
            assert (await recv_json(ws))[:3] == [4, "2", "NotImplemented"]

    async def test_once_listener_runs_once(self, pair: tuple[Client, ClientBase]) -> None:
        """Pyee's once() works for actions: the second CALL finds no listener."""
        client, peer = pair
        peer.once("Heartbeat", lambda request: NOW)
        assert await wait(client.call_request("Heartbeat")) == NOW
        with pytest.raises(OcppError, match="NotSupported"):
            await wait(client.call_request("Heartbeat"))

    async def test_emitter_api_for_actions(self, pair: tuple[Client, ClientBase]) -> None:
        """on, listeners and remove_listener work for actions as for any event."""
        client, peer = pair

        def handler(request: dict[str, Any]) -> dict[str, Any]:
            return NOW

        peer.on("Heartbeat", handler)
        assert peer.listeners("Heartbeat") == [handler]
        peer.remove_listener("Heartbeat", handler)
        with pytest.raises(OcppError, match="NotSupported"):
            await wait(client.call_request("Heartbeat"))

    async def test_each_call_runs_in_its_own_task(self, server: Server) -> None:
        """20 CALLs' handlers all run at the same time: each in its own task, none waits for another."""
        client, peer = await connect_pair(server, call_concurrency=20)
        running = 0
        peak = 0
        all_running = asyncio.Event()
        release = asyncio.Event()

        async def slow(request: dict[str, Any]) -> dict[str, Any]:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            if running == 20:
                all_running.set()
            await release.wait()  # held until all 20 are in: run one by one, they never would be
            running -= 1
            return NOW

        peer.on("Heartbeat", slow)
        calls = asyncio.gather(*(client.call_request("Heartbeat") for _ in range(20)))
        await wait(all_running.wait())
        assert peak == 20
        release.set()
        assert await wait(calls) == [NOW] * 20
        assert running == 0
        await client.close()

    async def test_handler_may_call_back_the_same_peer(
        self, pair: tuple[Client, ClientBase]
    ) -> None:
        """A handler that awaits call_request to the same peer completes."""
        client, peer = pair
        client.on("GetConfiguration", lambda request: {"configurationKey": [], "unknownKey": ["x"]})

        @peer.on("BootNotification")
        async def boot(request: dict[str, Any]) -> dict[str, Any]:
            config = await peer.call_request("GetConfiguration", {"key": ["x"]})
            assert config == {"configurationKey": [], "unknownKey": ["x"]}
            return BOOT_OK

        assert await wait(client.call_request("BootNotification", BOOT)) == BOOT_OK


# ----------------------------------------------------------------------------- call_request


class TestCallRequest:
    """README "call_request": a Future, the queue, timeouts, and every failure through it."""

    async def test_returns_a_future_at_once(self, pair: tuple[Client, ClientBase]) -> None:
        """call_request returns an asyncio.Future before anything is answered."""
        client, peer = pair
        peer.on("Heartbeat", lambda request: NOW)
        future = client.call_request("Heartbeat")
        assert isinstance(future, asyncio.Future) and not future.done()
        assert await wait(future) == NOW

    async def test_one_call_outstanding_by_default(self, server: Server) -> None:
        """With call_concurrency 1 the second CALL is sent only after the first is answered."""
        async with raw_peer(server) as ws:
            peer = server.clients["CP1"]
            first = peer.call_request("GetLocalListVersion")
            second = peer.call_request("GetLocalListVersion")
            frame = await recv_json(ws)
            assert frame[2] == "GetLocalListVersion"
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):
                    await ws.recv()  # nothing more while the first is unanswered
            await ws.send(json.dumps([3, frame[1], {"listVersion": 1}]))
            frame2 = await recv_json(ws)
            await ws.send(json.dumps([3, frame2[1], {"listVersion": 2}]))
            assert await wait(first) == {"listVersion": 1}
            assert await wait(second) == {"listVersion": 2}

    async def test_call_timeout(self, server: Server) -> None:
        """No answer within call_timeout: the future fails with CallTimeout, an OcppError and a TimeoutError."""
        client, peer = await connect_pair(server, call_timeout=0.1)
        peer.on("Heartbeat", lambda request, cb: None)
        with pytest.raises(CallTimeout) as info:
            await wait(client.call_request("Heartbeat"))
        assert isinstance(info.value, OcppError) and isinstance(info.value, TimeoutError)
        assert info.value.action == "Heartbeat"
        await client.close()

    async def test_per_call_timeout(self, pair: tuple[Client, ClientBase]) -> None:
        """timeout= overrides call_timeout for one call, and the next queued CALL then goes out."""
        client, peer = pair
        calls = []

        def never(request: dict[str, Any], cb: Any) -> None:
            calls.append(cb)

        peer.on("Heartbeat", never)
        with pytest.raises(CallTimeout):
            await wait(client.call_request("Heartbeat", timeout=0.05))
        second = client.call_request("Heartbeat", timeout=5)
        await wait(until(lambda: len(calls) == 2))
        calls[1](NOW)
        assert await wait(second) == NOW

    async def test_cancelled_future_frees_the_queue(self, pair: tuple[Client, ClientBase]) -> None:
        """Cancelling a call_request future gives its place to the next CALL."""
        client, peer = pair
        pending: list[Any] = []
        peer.on("Heartbeat", lambda request, cb: pending.append(cb))
        first = client.call_request("Heartbeat")
        await wait(until(lambda: len(pending) == 1))
        first.cancel()
        second = client.call_request("Heartbeat")
        await wait(until(lambda: len(pending) == 2))
        pending[1](NOW)
        assert await wait(second) == NOW

    async def test_callerror_fails_the_future(self, pair: tuple[Client, ClientBase]) -> None:
        """A CALLERROR fails the future with OcppError(code, description, details)."""
        client, peer = pair

        def refuse(request: dict[str, Any]) -> None:
            raise OcppError("GenericError", "nope", {"k": "v"})

        peer.on("Heartbeat", refuse)
        with pytest.raises(OcppError) as info:
            await wait(client.call_request("Heartbeat"))
        assert (info.value.code, info.value.description, info.value.details) == (
            "GenericError",
            "nope",
            {"k": "v"},
        )

    async def test_strict_validation_fails_through_the_future(
        self, pair: tuple[Client, ClientBase]
    ) -> None:
        """An invalid payload in strict mode fails the future with ValidationError; nothing is raised or sent."""
        client, peer = pair
        received = []
        peer.on("BootNotification", lambda request: received.append(request))
        future = client.call_request("BootNotification", {"chargePointVendor": "x"})
        with pytest.raises(ValidationError) as info:
            await wait(future)
        assert (info.value.code, info.value.path, info.value.keyword) == (
            "ProtocolError",
            "$.chargePointModel",
            "required",
        )
        assert received == []

    async def test_unknown_action_fails_through_the_future(
        self, pair: tuple[Client, ClientBase]
    ) -> None:
        """An action this side cannot send fails the future with NotImplemented, never raises."""
        client, _ = pair
        with pytest.raises(OcppError, match="NotImplemented"):
            await wait(client.call_request("Reset", {"type": "Soft"}))

    async def test_invalid_callresult_is_a_validation_error(self, server: Server) -> None:
        """An incoming CALLRESULT that breaks its schema fails the future with ValidationError (strict)."""
        async with raw_peer(server) as ws:
            peer = server.clients["CP1"]
            future = peer.call_request("Reset", {"type": "Hard"})
            frame = await recv_json(ws)
            await ws.send(json.dumps([3, frame[1], {"status": "Maybe"}]))
            with pytest.raises(ValidationError) as info:
                await wait(future)
            assert info.value.path == "$.status"

    async def test_peer_vanishing_fails_pending_at_once(self, server: Server) -> None:
        """A peer that vanishes mid-call fails the pending future at once, not at its timeout."""
        async with raw_peer(server) as ws:
            peer = server.clients["CP1"]
            future = peer.call_request("Reset", {"type": "Hard"}, timeout=60)
            await recv_json(ws)
            ws.transport.abort()  # no close frame: the TCP connection just drops
            with pytest.raises(ConnectionClosed) as info:
                async with asyncio.timeout(5):  # far below the call's 60 s
                    await future
            assert info.value.code == 1006

    async def test_queued_calls_fail_on_close(self, pair: tuple[Client, ClientBase]) -> None:
        """Queued and in-flight CALLs all fail with ConnectionClosed when the connection closes."""
        client, peer = pair
        peer.on("Heartbeat", lambda request, cb: None)
        futures = [client.call_request("Heartbeat") for _ in range(3)]
        await client.close()
        for future in futures:
            with pytest.raises(ConnectionClosed):
                await wait(future)

    async def test_call_before_connect_or_after_close(
        self, pair: tuple[Client, ClientBase]
    ) -> None:
        """call_request on a connection that is not open fails through the future."""
        with pytest.raises(ConnectionClosed, match="not connected"):
            await wait(Client("X").call_request("Heartbeat"))
        client, _ = pair
        await client.close()
        with pytest.raises(ConnectionClosed) as info:
            await wait(client.call_request("Heartbeat"))
        assert info.value.code == 1000

    async def test_message_id_factory(self, server: Server) -> None:
        """message_id_factory supplies the ids of outgoing CALLs."""
        ids = iter(["id-1", "id-2"])
        async with Server(message_id_factory=lambda: next(ids)) as custom:
            port = await custom.listen(0, host="127.0.0.1")
            async with ws_connect(f"ws://127.0.0.1:{port}/o/CP1", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
                await wait(until(lambda: "CP1" in custom.clients))
                custom.clients["CP1"].call_request("ClearCache")
                assert (await recv_json(ws))[:3] == [2, "id-1", "ClearCache"]


# ----------------------------------------------------------------------------- events


class TestEvents:
    """The events close, error, message, bad_message and connect."""

    async def test_connect_event(self, server: Server) -> None:
        """Client emits "connect" once the connection is open."""
        client = Client("CP1")
        connected, on_connect = future_and_setter()
        client.on("connect", lambda: on_connect(client.is_open))
        await client.connect(url(server))
        assert await wait(connected) is True
        assert client.subprotocol == "ocpp1.6"
        assert client.remote_address[0] == "127.0.0.1"
        await client.close()

    async def test_close_event_with_code_and_reason(self, pair: tuple[Client, ClientBase]) -> None:
        """Both sides emit "close"(code, reason); Client.close() sends 1000."""
        client, peer = pair
        peer_closed, on_peer_close = future_and_setter()
        peer.on("close", on_peer_close)
        client_closed, on_client_close = future_and_setter()
        client.on("close", on_client_close)
        await client.close()
        assert await wait(peer_closed) == (1000, "")
        assert await wait(client_closed) == (1000, "")

    async def test_message_event_sees_both_directions(
        self, pair: tuple[Client, ClientBase]
    ) -> None:
        """The message event (direction, text) reports every frame in and out, for logging hooks."""
        client, peer = pair
        seen: list[tuple[str, str]] = []
        client.on("message", lambda direction, text: seen.append((direction, text)))
        peer.on("Heartbeat", lambda request: NOW)
        await wait(client.call_request("Heartbeat"))
        assert [d for d, _ in seen] == ["out", "in"]
        assert json.loads(seen[0][1])[2] == "Heartbeat"
        assert json.loads(seen[1][1])[2] == NOW

    @over_transports
    @pytest.mark.parametrize("frame", [b"\x00binary", "not json", '[2, 5, "Heartbeat", {}]'])
    async def test_bad_message_event(self, server: Server, frame: str | bytes) -> None:
        """Binary frames and frames with no recoverable id: "bad_message", no reply, connection kept."""
        async with raw_peer(server) as ws:
            peer = server.clients["CP1"]
            bad, on_bad = future_and_setter()
            peer.on("bad_message", on_bad)
            await ws.send(frame)
            text, error = await wait(bad)
            assert text == frame and isinstance(error, OcppError)
            peer.on("Heartbeat", lambda request: NOW)
            await ws.send('[2,"ok","Heartbeat",{}]')
            assert await recv_json(ws) == [3, "ok", NOW]

    @over_transports
    async def test_oversized_frame_closes_with_1009(self, served_by: str) -> None:
        """A frame larger than max_message_size closes the connection with 1009."""
        async with Server(max_message_size=1000) as server:
            await serve_test(server)
            async with raw_peer(server) as ws:
                peer = server.clients["CP1"]
                closed, on_close = future_and_setter()
                peer.on("close", on_close)
                await ws.send(
                    json.dumps([2, "1", "DataTransfer", {"vendorId": "v", "data": "x" * 2000}])
                )
                assert (await wait(closed))[0] == 1009
                with pytest.raises(WsClosed):
                    await wait(ws.recv())

    async def test_error_event_without_listener_is_logged(
        self, pair: tuple[Client, ClientBase], caplog: pytest.LogCaptureFixture
    ) -> None:
        """A failing "message" listener goes to "error" if heard, else to the log; the call completes."""
        client, peer = pair
        peer.on("Heartbeat", lambda request: NOW)

        def broken(direction: str, text: str) -> None:
            raise RuntimeError("hook bug")

        client.on("message", broken)
        assert await wait(client.call_request("Heartbeat")) == NOW
        assert "hook bug" in caplog.text
        errors, on_error = future_and_setter()
        client.on("error", on_error)
        assert await wait(client.call_request("Heartbeat")) == NOW
        assert isinstance(await wait(errors), RuntimeError)


# ----------------------------------------------------------------------------- options, logging


# ----------------------------------------------------------------------------- churn


async def test_connect_disconnect_cycles_leave_nothing_behind(server: Server) -> None:
    """1,000 connect/disconnect cycles leave no tasks, no server.clients entries and no memory growth."""
    server.on("connection", lambda client: client.on("Heartbeat", lambda request: NOW))

    async def cycle(i: int) -> None:
        client = Client(f"CP{i % 7}")
        await client.connect(url(server))
        await client.call_request("Heartbeat")
        await client.close()

    async with asyncio.timeout(120):
        for i in range(100):  # warm-up: caches, compiled validators, first-use allocations
            await cycle(i)
        await until(lambda: not server.clients)
        gc.collect()
        tasks_before = len(asyncio.all_tasks())
        objects_before = len(gc.get_objects())
        for i in range(1000):
            await cycle(i)
        await until(lambda: not server.clients)
        await until(lambda: len(asyncio.all_tasks()) <= tasks_before)
        gc.collect()
        objects_after = len(gc.get_objects())
    assert server.clients == {}
    assert len(asyncio.all_tasks()) == tasks_before
    # A leak of one object per cycle would show as 1,000; allow noise well below that.
    assert objects_after - objects_before < 300, (objects_before, objects_after)
