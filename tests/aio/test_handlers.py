"""Handlers: which take cb, what the log names, the Call context, and the "*" catch-all."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

import pytest

from ocpp16 import Call, Client, ClientBase, ConnectionClosed, OcppError, Server
from tests.helpers import NOW, connect_pair, future_and_setter, raw_peer, recv_json, until, wait

BOOT = {"chargePointVendor": "eParking", "chargePointModel": "NECU-T2"}
BOOT_OK = {"status": "Accepted", "interval": 60, "currentTime": "2024-05-01T12:00:00Z"}
STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
AUTHORIZE = {"idTag": "TAG1"}
ACCEPTED = {"idTagInfo": {"status": "Accepted"}}

# Named at module level, so that the log's names can be checked in full.


def boot_without_current_time(request: dict[str, Any]) -> dict[str, Any]:
    """A BootNotification handler whose response breaks its schema."""
    return {"status": "Accepted", "interval": 60}


def broken_boot(request: dict[str, Any]) -> dict[str, Any]:
    """A BootNotification handler that raises."""
    raise KeyError("chargePointSerialNumber")


def silent_reset(request: dict[str, Any], cb: Callable[..., None]) -> None:
    """A Reset handler that never calls cb."""


def other_silent_reset(request: dict[str, Any], cb: Callable[..., None]) -> None:
    """A second Reset handler that never calls cb."""


class Handlers:
    """Handlers as bound methods."""

    def on_status(self, request: dict[str, Any], verbose: bool = False) -> None:
        """An optional parameter after the request: still fn(request), replying {}."""

    def on_boot(self, request: dict[str, Any], cb: Callable[..., None]) -> None:
        """A bound method that takes cb."""
        cb(BOOT_OK)


class TestWhichHandlersTakeCb:
    """Only positional parameters without a default count; *args takes cb; wraps is followed."""

    async def test_loop_variable_bound_by_a_default(self, pair: tuple[Client, ClientBase]) -> None:
        """fn(request, action=action) gets its action, not cb, and its return value is the reply."""
        client, peer = pair
        seen: list[Any] = []
        replies: dict[str, dict[str, Any]] = {"Heartbeat": NOW, "Authorize": ACCEPTED}
        for action in replies:

            def handler(request: dict[str, Any], action: str = action) -> dict[str, Any]:
                seen.append(action)
                return replies[action]

            peer.on(action, handler)
        assert await wait(client.call_request("Heartbeat")) == NOW
        assert await wait(client.call_request("Authorize", AUTHORIZE)) == ACCEPTED
        assert seen == ["Heartbeat", "Authorize"]

    async def test_bound_method_with_an_optional_parameter(self, server: Server) -> None:
        """A bound method fn(self, request, verbose=False) is fn(request): returning None replies {}."""
        client, peer = await connect_pair(server, handler_timeout=5)
        try:
            handlers = Handlers()
            peer.on("StatusNotification", handlers.on_status)
            peer.on("BootNotification", handlers.on_boot)
            assert await wait(client.call_request("StatusNotification", STATUS)) == {}
            assert await wait(client.call_request("BootNotification", BOOT)) == BOOT_OK
        finally:
            await client.close()

    async def test_star_args_wrapper_without_wraps_passes_cb_on(
        self, pair: tuple[Client, ClientBase]
    ) -> None:
        """A def wrapper(*args) without functools.wraps is handed cb, and passes it on."""
        client, peer = pair
        calls: list[int] = []

        def counted(handler: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*args: Any) -> Any:
                calls.append(len(args))
                return handler(*args)

            return wrapper

        peer.on("BootNotification", counted(lambda request, cb: cb(BOOT_OK)))
        assert await wait(client.call_request("BootNotification", BOOT)) == BOOT_OK
        assert calls == [2]

    async def test_wrapper_with_wraps_is_judged_by_the_wrapped_function(
        self, pair: tuple[Client, ClientBase]
    ) -> None:
        """A functools.wraps wrapper takes cb exactly when the function it wraps does."""
        client, peer = pair

        def logged(handler: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(handler)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                return handler(*args, **kwargs)

            return wrapper

        peer.on("Heartbeat", logged(lambda request: NOW))
        peer.on("BootNotification", logged(lambda request, cb: cb(BOOT_OK)))
        assert await wait(client.call_request("Heartbeat")) == NOW
        assert await wait(client.call_request("BootNotification", BOOT)) == BOOT_OK

    async def test_authorization_listener_with_a_default(self, server: Server) -> None:
        """fn(cp_id, handshake, known=KNOWN) decides by its return value; it gets no cb."""
        known = frozenset({"CP1"})

        async def authorize(cp_id: str, handshake: Any, known: frozenset[str] = known) -> bool:
            return cp_id in known

        server.on("authorization", authorize)
        client, peer = await connect_pair(server, "CP1")
        assert peer.cp_id == "CP1"
        await client.close()


class TestTheLogNamesTheHandler:
    """The log names the handler (module and qualified name), not only the action."""

    async def test_response_that_breaks_its_schema(
        self, pair: tuple[Client, ClientBase], caplog: pytest.LogCaptureFixture
    ) -> None:
        """An invalid response: the error names the handler that gave it."""
        client, peer = pair
        peer.on("BootNotification", boot_without_current_time)
        with pytest.raises(OcppError, match="InternalError"):
            await wait(client.call_request("BootNotification", BOOT))
        assert "BootNotification handler's response breaks its schema" in caplog.text
        assert f"{__name__}.boot_without_current_time" in caplog.text

    async def test_response_through_cb_that_breaks_its_schema(
        self, pair: tuple[Client, ClientBase], caplog: pytest.LogCaptureFixture
    ) -> None:
        """An invalid response given to cb: the error names the handler that took the cb."""
        client, peer = pair
        handlers = Handlers()
        peer.on("Authorize", lambda request, cb: cb({"idTagInfo": {}}))
        peer.on("BootNotification", handlers.on_boot)  # valid: no error for it
        with pytest.raises(OcppError, match="InternalError"):
            await wait(client.call_request("Authorize", AUTHORIZE))
        assert (
            f"{__name__}.TestTheLogNamesTheHandler."
            "test_response_through_cb_that_breaks_its_schema.<locals>.<lambda>" in caplog.text
        )

    async def test_handler_that_raises(
        self, pair: tuple[Client, ClientBase], caplog: pytest.LogCaptureFixture
    ) -> None:
        """A handler that raises: the error names it with its module."""
        client, peer = pair
        peer.on("BootNotification", broken_boot)
        with pytest.raises(OcppError, match="InternalError"):
            await wait(client.call_request("BootNotification", BOOT))
        assert f"the BootNotification handler {__name__}.broken_boot raised" in caplog.text

    async def test_bound_method_that_raises(
        self, pair: tuple[Client, ClientBase], caplog: pytest.LogCaptureFixture
    ) -> None:
        """A bound method is named by its class and method."""
        client, peer = pair

        class Central:
            def on_heartbeat(self, request: dict[str, Any]) -> dict[str, Any]:
                raise RuntimeError("database down")

        peer.on("Heartbeat", Central().on_heartbeat)
        with pytest.raises(OcppError, match="InternalError"):
            await wait(client.call_request("Heartbeat"))
        assert ".<locals>.Central.on_heartbeat raised" in caplog.text
        assert f"handler {__name__}.TestTheLogNamesTheHandler." in caplog.text

    async def test_no_reply_names_the_one_handler(
        self, server: Server, caplog: pytest.LogCaptureFixture
    ) -> None:
        """No reply within handler_timeout: the error names the handler."""
        client, peer = await connect_pair(server, handler_timeout=0.2)
        try:
            client.on("Reset", silent_reset)
            with pytest.raises(OcppError, match="InternalError"):
                await wait(peer.call_request("Reset", {"type": "Soft"}))
            assert "no Reset handler replied within 0.2 s" in caplog.text
            assert f"({__name__}.silent_reset)" in caplog.text
        finally:
            await client.close()

    async def test_no_reply_names_every_handler(
        self, server: Server, caplog: pytest.LogCaptureFixture
    ) -> None:
        """No reply from several handlers: the error names each of them."""
        client, peer = await connect_pair(server, handler_timeout=0.2)
        try:
            client.on("Reset", silent_reset)
            client.on("Reset", other_silent_reset)
            with pytest.raises(OcppError, match="InternalError"):
                await wait(peer.call_request("Reset", {"type": "Soft"}))
            assert f"({__name__}.silent_reset, {__name__}.other_silent_reset)" in caplog.text
        finally:
            await client.close()


class TestCallContext:
    """A handler that declares a keyword-only ``call`` gets the Call."""

    async def test_plain_handler_gets_the_call(self, server: Server) -> None:
        """The Call carries the action, the message id, the payload and the connection."""
        seen, on_call = future_and_setter()

        def on_heartbeat(request: dict[str, Any], *, call: Call) -> dict[str, Any]:
            on_call(call)
            return NOW

        server.on("connection", lambda client: client.on("Heartbeat", on_heartbeat))
        async with raw_peer(server, "CP7") as ws:
            await ws.send('[2,"m-1","Heartbeat",{}]')
            assert await recv_json(ws) == [3, "m-1", NOW]
            call: Call = await wait(seen)
            assert (call.action, call.message_id, call.payload) == ("Heartbeat", "m-1", {})
            assert call.connection is server.clients["CP7"]
            assert call.answered and not call.abandoned.is_set()

    async def test_coroutine_handler_and_cb(self, pair: tuple[Client, ClientBase]) -> None:
        """An async handler gets the Call too, alongside cb, and may reply through call.cb."""
        client, peer = pair

        async def on_authorize(request: dict[str, Any], cb: Any, *, call: Call) -> None:
            assert call.connection is peer and call.payload == request
            call.cb(ACCEPTED)

        peer.on("Authorize", on_authorize)
        assert await wait(client.call_request("Authorize", AUTHORIZE)) == ACCEPTED

    async def test_reply_through_call_cb_then_none(
        self, pair: tuple[Client, ClientBase], caplog: pytest.LogCaptureFixture
    ) -> None:
        """A handler without cb that replied through call.cb and returns None replies once."""
        client, peer = pair

        def on_authorize(request: dict[str, Any], *, call: Call) -> None:
            call.cb(ACCEPTED)

        peer.on("Authorize", on_authorize)
        with caplog.at_level(logging.WARNING, "ocpp16"):
            assert await wait(client.call_request("Authorize", AUTHORIZE)) == ACCEPTED
        assert "dropped" not in caplog.text

    async def test_handler_without_cb_returning_none_replies_empty(
        self, pair: tuple[Client, ClientBase]
    ) -> None:
        """Taking call does not make a handler a cb handler: returning None still replies {}."""
        client, peer = pair
        ids: list[str] = []
        peer.on("StatusNotification", lambda request, *, call: ids.append(call.message_id))
        assert await wait(client.call_request("StatusNotification", STATUS)) == {}
        assert len(ids) == 1

    async def test_abandoned_when_the_connection_closes(self, server: Server) -> None:
        """call.abandoned is set when the connection closes before the reply."""
        started, on_started = future_and_setter()
        finished, on_finished = future_and_setter()

        async def slow(request: dict[str, Any], *, call: Call) -> dict[str, Any]:
            on_started(call)
            await call.abandoned.wait()
            on_finished(call.answered)
            return NOW

        server.on("connection", lambda client: client.on("Heartbeat", slow))
        async with raw_peer(server) as ws:
            await ws.send('[2,"m-1","Heartbeat",{}]')
            call: Call = await wait(started)
            assert not call.abandoned.is_set()
        assert await wait(finished) is False
        assert call.abandoned.is_set() and not call.answered

    async def test_abandoned_asked_after_the_close(self, server: Server) -> None:
        """A handler that first asks after the close finds call.abandoned already set."""
        calls, on_call = future_and_setter()
        client, peer = await connect_pair(server)
        client.on("Reset", lambda request, cb, *, call: on_call(call))
        future = peer.call_request("Reset", {"type": "Soft"})
        call: Call = await wait(calls)
        # The central system closes: the charge point's handler never got to reply.
        # (A charge point's own close() would wait for its handlers' replies.)
        await peer.close()
        with pytest.raises(ConnectionClosed):
            await wait(future)
        await wait(client.wait_closed())
        assert call.abandoned.is_set() and not call.answered


class TestCatchAll:
    """The "*" listeners answer CALLs whose action has no listener of its own."""

    async def test_catch_all_answers_with_the_action(self, pair: tuple[Client, ClientBase]) -> None:
        """fn(action, request) gets the action and the payload; its return value is the reply."""
        client, peer = pair
        seen: list[tuple[str, dict[str, Any]]] = []

        def any_action(action: str, request: dict[str, Any]) -> dict[str, Any]:
            seen.append((action, request))
            return NOW if action == "Heartbeat" else ACCEPTED

        peer.on("*", any_action)
        assert await wait(client.call_request("Heartbeat")) == NOW
        assert await wait(client.call_request("Authorize", AUTHORIZE)) == ACCEPTED
        assert seen == [("Heartbeat", {}), ("Authorize", AUTHORIZE)]

    async def test_specific_listener_wins(self, pair: tuple[Client, ClientBase]) -> None:
        """An action with a listener of its own is not given to the catch-all."""
        client, peer = pair
        caught: list[str] = []
        peer.on("*", lambda action, request: caught.append(action))
        peer.on("Authorize", lambda request: ACCEPTED)
        assert await wait(client.call_request("Authorize", AUTHORIZE)) == ACCEPTED
        assert caught == []

    async def test_catch_all_with_cb_and_call(self, pair: tuple[Client, ClientBase]) -> None:
        """fn(action, request, cb, *, call): async, replying through cb, with the Call."""
        client, peer = pair

        async def any_action(action: str, request: Any, cb: Any, *, call: Call) -> None:
            assert call.action == action == "Authorize"
            await asyncio.sleep(0)
            cb(ACCEPTED)

        peer.on("*", any_action)
        assert await wait(client.call_request("Authorize", AUTHORIZE)) == ACCEPTED

    async def test_catch_all_may_decline(self, pair: tuple[Client, ClientBase]) -> None:
        """A catch-all that raises OcppError("NotSupported") sends it, as with no listener."""
        client, peer = pair

        def only_heartbeat(action: str, request: Any) -> dict[str, Any]:
            if action != "Heartbeat":
                raise OcppError("NotSupported", f"no handler for {action}")
            return NOW

        peer.on("*", only_heartbeat)
        assert await wait(client.call_request("Heartbeat")) == NOW
        with pytest.raises(OcppError) as info:
            await wait(client.call_request("Authorize", AUTHORIZE))
        assert info.value.code == "NotSupported"

    async def test_without_catch_all_not_supported(self, pair: tuple[Client, ClientBase]) -> None:
        """With no catch-all, an action without a listener still gets NotSupported."""
        client, peer = pair
        peer.on("*", lambda action, request: NOW)
        peer.remove_all_listeners("*")
        with pytest.raises(OcppError) as info:
            await wait(client.call_request("Heartbeat"))
        assert info.value.code == "NotSupported"

    async def test_catch_all_once(self, pair: tuple[Client, ClientBase]) -> None:
        """once("*", fn) answers one CALL, then NotSupported again."""
        client, peer = pair
        peer.once("*", lambda action, request: NOW)
        assert await wait(client.call_request("Heartbeat")) == NOW
        await until(lambda: not peer.listeners("*"))
        with pytest.raises(OcppError, match="NotSupported"):
            await wait(client.call_request("Heartbeat"))


def test_a_functions_signature_is_read_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same plain function on many connections: its signature is read once, its cb found each time."""
    import inspect as inspect_module

    from ocpp16 import _dispatch

    reads: list[object] = []
    real = inspect_module.signature

    def counting(obj: Any, *args: Any, **kwargs: Any) -> Any:
        reads.append(obj)
        return real(obj, *args, **kwargs)

    monkeypatch.setattr(_dispatch.inspect, "signature", counting)

    def on_boot(request: Any, cb: Any) -> None:
        """Takes cb."""

    assert all(_dispatch._takes_cb(on_boot) for _ in range(3))
    assert not _dispatch._takes_cb(on_boot, 3)
    assert reads == [on_boot, on_boot]  # once per (function, argument count)
    method_reads = len(reads)
    bound = Exception("x").with_traceback
    assert not _dispatch._takes_cb(bound) and not _dispatch._takes_cb(bound)
    assert len(reads) > method_reads  # other callables are read each time


async def test_a_handler_whose_awaited_future_is_cancelled_answers_internal_error_at_once(
    server: Server,
) -> None:
    """A handler that raises CancelledError (a future it awaited was cancelled) replies InternalError now."""
    client, central = await connect_pair(server, "CP1", handler_timeout=300.0)
    never: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    started, start = future_and_setter()

    async def hang(request: Any) -> Any:
        start(None)
        return await never

    client.on("Reset", hang)
    answer = central.call_request("Reset", {"type": "Soft"}, timeout=300.0)
    await wait(started)
    never.cancel()
    with pytest.raises(OcppError) as raised:
        await wait(answer)
    assert raised.value.code == "InternalError"
    assert "CancelledError" in raised.value.description
    await wait(client.close())
