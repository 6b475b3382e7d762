"""close() drains: running handlers reply and their answers go out, then the close frame.

``server.close()`` (1001) and ``client.close()`` (1000) stop accepting CALLs (one
that arrives meanwhile gets no handler and no answer), let the handlers that run
reply within ``handler_timeout``, then close. A reply that comes after the
connection is gone is logged once at DEBUG, never as "the first reply wins".
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosedOK

from ocpp16 import Client, ClientBase, ConnectionClosed, Observer, Server
from tests.helpers import (
    NOW,
    TIMEOUT,
    connect_pair,
    future_and_setter,
    listening,
    peer_of,
    raw_peer,
    recv_json,
    until,
    url,
    wait,
)

ACCEPTED = {"status": "Accepted"}
STOP = {"transactionId": 1, "meterStop": 100, "timestamp": "2024-05-01T12:00:00Z"}


class Held:
    """Coroutine handlers that wait until released, counting how many have started."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply
        self.started = 0
        self.release = asyncio.Event()

    async def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        self.started += 1
        await self.release.wait()
        return self.reply


class Received(Observer):
    """Records the message ids of the CALLs a connection read."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def call_received(
        self, connection: ClientBase, message_id: str, action: str, payload: Any, frame: str
    ) -> None:
        self.ids.append(message_id)


def serve(server: Server, action: str, handler: Callable[..., Any]) -> None:
    """Register ``handler`` for ``action`` on every connection of ``server``."""
    server.on("connection", lambda client: client.on(action, handler))


async def test_server_close_sends_the_answers_of_running_handlers_then_1001(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server closed while 3 async handlers run: the peer gets all 3 answers, then 1001."""
    held = Held(NOW)
    async with await listening(handler_timeout=TIMEOUT) as server:
        serve(server, "Heartbeat", held)
        async with raw_peer(server) as ws:
            peer = await peer_of(server)
            for n in range(3):
                await ws.send(json.dumps([2, f"hb{n}", "Heartbeat", {}]))
            await until(lambda: held.started == 3)
            with caplog.at_level(logging.DEBUG, logger="ocpp16"):
                closing = asyncio.create_task(server.close())
                await until(lambda: not peer.is_open)  # draining: no new CALL, no new handler
                held.release.set()
                answers = [await recv_json(ws) for _ in range(3)]
                with pytest.raises(ConnectionClosedOK):
                    await wait(ws.recv())
                assert ws.close_code == 1001
                await wait(closing)
    assert sorted(answers) == [[3, f"hb{n}", NOW] for n in range(3)]
    assert not [r for r in caplog.records if "first reply wins" in r.getMessage()]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_handler_that_never_replies_does_not_hold_the_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Handlers that never reply get InternalError after handler_timeout; then the close, 1001."""
    hung = Held(NOW)  # never released
    never: list[Callable[..., None]] = []
    async with await listening(handler_timeout=0.2) as server:
        server.on("connection", lambda client: client.on("Heartbeat", hung))
        server.on(
            "connection", lambda client: client.on("Authorize", lambda r, cb: never.append(cb))
        )
        async with raw_peer(server) as ws:
            peer = await peer_of(server)
            await ws.send('[2,"hung","Heartbeat",{}]')
            await ws.send('[2,"cb","Authorize",{"idTag":"T"}]')
            await until(lambda: hung.started == 1 and len(never) == 1)
            with caplog.at_level(logging.DEBUG, logger="ocpp16"):
                closing = asyncio.create_task(server.close())
                await until(lambda: not peer.is_open)
                frames = [await recv_json(ws) for _ in range(2)]
                with pytest.raises(ConnectionClosedOK):
                    await wait(ws.recv())
                assert ws.close_code == 1001
                await wait(closing)
                never[0]({"idTagInfo": {"status": "Accepted"}})  # far too late
    assert sorted((f[0], f[1], f[2]) for f in frames) == [
        (4, "cb", "InternalError"),
        (4, "hung", "InternalError"),
    ]
    messages = [r.getMessage() for r in caplog.records]
    assert "cancelled 1 handler(s) still running after the connection closed" in " ".join(messages)
    # The late cb had a first reply indeed (the InternalError): that warning is true here.
    assert sum("first reply wins" in m for m in messages) == 1


async def test_a_call_that_arrives_while_draining_gets_no_handler_and_no_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While draining, a new CALL is read but neither handled nor answered; nobody new connects."""
    held = Held(NOW)
    stops: list[dict[str, Any]] = []
    received = Received()
    async with await listening(handler_timeout=TIMEOUT) as server:
        server.add_observer(received)
        serve(server, "Heartbeat", held)
        serve(server, "StopTransaction", lambda request: stops.append(request) or {})
        async with raw_peer(server) as ws:
            peer = await peer_of(server)
            await ws.send('[2,"hb","Heartbeat",{}]')
            await until(lambda: held.started == 1)
            base = url(server)
            with caplog.at_level(logging.INFO, logger="ocpp16"):
                closing = asyncio.create_task(server.close())
                await until(lambda: not peer.is_open)
                with pytest.raises(OSError):  # the listening socket is closed
                    await wait(Client("LATE").connect(base))
                await ws.send(json.dumps([2, "stop", "StopTransaction", STOP]))
                await until(lambda: "stop" in received.ids)  # read, not handled
                held.release.set()
                assert await recv_json(ws) == [3, "hb", NOW]
                with pytest.raises(ConnectionClosedOK):
                    await wait(ws.recv())  # nothing for "stop": its answer never comes
                assert ws.close_code == 1001
                await wait(closing)
    assert stops == []
    assert "1 CALL(s) that arrived while closing were left unanswered" in caplog.text


async def test_a_call_request_during_the_drain_fails_at_once() -> None:
    """A CALL of ours made while the connection drains is not sent: ConnectionClosed (1001)."""
    held = Held(NOW)
    async with await listening(handler_timeout=TIMEOUT) as server:
        serve(server, "Heartbeat", held)
        client, peer = await connect_pair(server)
        answer = client.call_request("Heartbeat")
        await until(lambda: held.started == 1)
        closing = asyncio.create_task(server.close())
        await until(lambda: not peer.is_open)
        with pytest.raises(ConnectionClosed) as info:
            await wait(peer.call_request("Reset", {"type": "Soft"}))
        assert info.value.code == 1001
        held.release.set()
        assert await wait(answer) == NOW
        await wait(closing)
        await client.close()


async def test_client_close_sends_the_answers_of_running_handlers_then_1000() -> None:
    """client.close() while its handler runs: the central system gets the answer, then 1000."""
    held = Held(ACCEPTED)
    async with await listening() as server:
        client, peer = await connect_pair(server, handler_timeout=TIMEOUT)
        client.on("Reset", held)
        closed, on_close = future_and_setter()
        peer.on("close", on_close)
        reset = peer.call_request("Reset", {"type": "Soft"})
        await until(lambda: held.started == 1)
        closing = asyncio.create_task(client.close())
        await until(lambda: not client.is_open)
        assert peer.is_open and not closed.done()
        held.release.set()
        assert await wait(reset) == ACCEPTED
        assert (await wait(closed))[0] == 1000
        await wait(closing)


async def test_a_handler_may_close_its_own_connection() -> None:
    """A handler that closes its own connection is not waited for: the close is prompt."""
    async with await listening(handler_timeout=3 * TIMEOUT) as server:

        async def refuse(request: dict[str, Any]) -> dict[str, Any]:
            await peer.close(1008, "unknown charge point")
            return NOW

        client, peer = await connect_pair(server)
        peer.on("Heartbeat", refuse)
        closed, on_close = future_and_setter()
        client.on("close", on_close)
        with pytest.raises(ConnectionClosed):
            await wait(client.call_request("Heartbeat"))
        assert await wait(closed) == (1008, "unknown charge point")
        await client.close()


async def test_a_client_handler_may_close_its_own_client() -> None:
    """A Client's handler that awaits client.close() returns once closed, without a stall."""
    async with await listening() as server:
        client, peer = await connect_pair(server, handler_timeout=3 * TIMEOUT)
        closed_in_handler = asyncio.Event()

        async def reboot(request: dict[str, Any]) -> dict[str, Any]:
            await client.close(1000, "rebooting")
            closed_in_handler.set()
            return ACCEPTED

        client.on("Reset", reboot)
        closed, on_close = future_and_setter()
        peer.on("close", on_close)
        with pytest.raises(ConnectionClosed):
            await wait(peer.call_request("Reset", {"type": "Hard"}))
        assert await wait(closed) == (1000, "rebooting")
        await wait(closed_in_handler.wait())
        await wait(client.close())


async def test_a_reply_after_the_connection_is_gone_is_logged_once_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A handler replying after its peer left: one DEBUG line that says so, no warning."""
    callbacks: list[Callable[..., None]] = []
    async with await listening() as server:
        serve(server, "BootNotification", lambda request, cb: callbacks.append(cb))
        async with raw_peer(server) as ws:
            peer = await peer_of(server)
            closed, on_close = future_and_setter()
            peer.on("close", on_close)
            boot = {"chargePointVendor": "V", "chargePointModel": "M"}
            await ws.send(json.dumps([2, "boot", "BootNotification", boot]))
            await until(lambda: len(callbacks) == 1)
        await wait(closed)
        with caplog.at_level(logging.DEBUG, logger="ocpp16"):
            reply = {"status": "Accepted", "interval": 60, "currentTime": NOW["currentTime"]}
            callbacks[0](reply)
            callbacks[0](reply)  # a second late reply adds nothing
    late = [r for r in caplog.records if "replied" in r.getMessage()]
    assert len(late) == 1
    assert late[0].levelno == logging.DEBUG
    assert "the connection closed before the BootNotification handler replied" in (
        late[0].getMessage()
    )
    assert "first reply wins" not in caplog.text


async def test_a_second_close_waits_for_the_first() -> None:
    """close() called twice while draining: both return once the connection is closed."""
    held = Held(NOW)
    async with await listening(handler_timeout=TIMEOUT) as server:
        serve(server, "Heartbeat", held)
        client, peer = await connect_pair(server)
        closed, on_close = future_and_setter()
        client.on("close", on_close)
        answer = client.call_request("Heartbeat")
        await until(lambda: held.started == 1)
        first = asyncio.create_task(peer.close(4001, "first"))
        second = asyncio.create_task(peer.close(4002, "second"))
        await until(lambda: not peer.is_open)
        assert not first.done() and not second.done()
        held.release.set()
        assert await wait(answer) == NOW
        await wait(asyncio.gather(first, second))
        assert await wait(closed) == (4001, "first")  # the first close's code
        await client.close()
