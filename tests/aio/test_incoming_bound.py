"""max_incoming_calls: a peer that pipelines CALLs is read no faster than its handlers reply.

Past the bound the connection stops reading (backpressure) instead of dropping
or refusing: a well-behaved peer loses nothing, a flooding one costs bounded
memory, and reading goes on as handlers reply. Only CALLs awaiting a reply count:
coroutine handlers still running, ``cb`` handlers that have not called ``cb``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosedOK

from ocpp16 import ClientBase, Observer, Options, Server
from tests.helpers import NOW, connect_pair, listening, peer_of, raw_peer, recv_json, until, wait

HELD = "not reading until one is answered"


class Pending(Observer):
    """The CALLs a connection has read and not answered yet: now, and at most."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    def call_received(
        self, connection: ClientBase, message_id: str, action: str, payload: Any, frame: str
    ) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def answer_sent(self, connection: ClientBase, message_id: str, *rest: Any) -> None:
        self.now -= 1


class Gate:
    """Handlers (coroutine or cb style) that wait until the gate opens; the peak of tasks."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply
        self.waiting: list[asyncio.Future[None]] = []
        self.started = 0
        self.tasks_peak = 0

    def _arrive(self) -> asyncio.Future[None]:
        self.started += 1
        self.tasks_peak = max(self.tasks_peak, len(asyncio.all_tasks()))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        return future

    async def coroutine(self, request: dict[str, Any]) -> dict[str, Any]:
        await self._arrive()
        return self.reply

    def cb(self, request: dict[str, Any], cb: Any) -> None:
        self._arrive().add_done_callback(lambda _: cb(self.reply))

    def open(self) -> None:
        waiting, self.waiting = self.waiting, []
        for future in waiting:
            future.set_result(None)

    async def waves(self, bound: int, total: int) -> None:
        """Let the handlers through in waves: each once ``bound`` of them wait (or the rest)."""
        while self.started < total or self.waiting:
            await until(lambda: len(self.waiting) >= bound or self.started == total)
            self.open()


async def send_heartbeats(ws: ClientConnection, total: int) -> None:
    """Pipeline ``total`` Heartbeat CALLs, without waiting for any answer."""
    for n in range(total):
        await ws.send(json.dumps([2, f"hb{n}", "Heartbeat", {}]))


async def read_answers(ws: ClientConnection, total: int) -> dict[str, Any]:
    """Read ``total`` answers; return them by message id."""
    answers: dict[str, Any] = {}
    while len(answers) < total:
        frame = json.loads(await ws.recv())
        answers[frame[1]] = frame
    return answers


@pytest.mark.parametrize("style", ["coroutine", "cb"])
async def test_a_flood_is_read_no_faster_than_handlers_reply(
    style: str, caplog: pytest.LogCaptureFixture
) -> None:
    """5,000 pipelined Heartbeats: never more than the bound pending, then every one answered."""
    bound, total = 8, 5000
    gate = Gate(NOW)
    pending = Pending()
    async with await listening(max_incoming_calls=bound, handler_timeout=60) as server:
        server.add_observer(pending)
        server.on("connection", lambda client: client.on("Heartbeat", getattr(gate, style)))
        async with raw_peer(server) as ws:
            await peer_of(server)
            with caplog.at_level(logging.WARNING, logger="ocpp16"):
                sender = asyncio.create_task(send_heartbeats(ws, total))
                reader = asyncio.create_task(read_answers(ws, total))
                baseline = len(asyncio.all_tasks())
                await wait(gate.waves(bound, total))
                answers = await wait(reader)
                await wait(sender)
    assert pending.peak == bound
    assert gate.tasks_peak <= baseline + bound
    assert answers == {f"hb{n}": [3, f"hb{n}", NOW] for n in range(total)}
    assert caplog.text.count(HELD) == 1  # once per connection, not once per pause


async def test_calls_answered_at_once_never_count(caplog: pytest.LogCaptureFixture) -> None:
    """A plain handler answers as it reads: 500 pipelined CALLs pass a bound of 1 unheld."""
    total = 500
    async with await listening(max_incoming_calls=1) as server:
        server.on("connection", lambda client: client.on("Heartbeat", lambda request: NOW))
        async with raw_peer(server) as ws:
            with caplog.at_level(logging.WARNING, logger="ocpp16"):
                sender = asyncio.create_task(send_heartbeats(ws, total))
                answers = await wait(read_answers(ws, total))
                await wait(sender)
    assert len(answers) == total
    assert HELD not in caplog.text


async def test_a_charge_point_bounds_the_central_systems_calls() -> None:
    """Client(max_incoming_calls=2): 20 pipelined Resets are read two at a time, all answered."""
    total = 20
    gate = Gate({"status": "Accepted"})
    pending = Pending()
    async with await listening(call_concurrency=total) as server:
        client, peer = await connect_pair(server, max_incoming_calls=2, handler_timeout=60)
        client.add_observer(pending)
        client.on("Reset", gate.coroutine)
        futures = [peer.call_request("Reset", {"type": "Soft"}) for _ in range(total)]
        await wait(gate.waves(2, total))
        assert await wait(asyncio.gather(*futures)) == [{"status": "Accepted"}] * total
        assert pending.peak == 2
        await client.close()


async def test_a_server_closing_while_reading_is_held_still_closes() -> None:
    """Held at the bound, the server closes: the handled CALLs are answered, then 1001."""
    bound, total = 2, 100
    gate = Gate(NOW)
    async with await listening(max_incoming_calls=bound, handler_timeout=60) as server:
        server.on("connection", lambda client: client.on("Heartbeat", gate.coroutine))
        async with raw_peer(server) as ws:
            peer = await peer_of(server)
            await wait(send_heartbeats(ws, total))
            await until(lambda: len(gate.waiting) == bound)
            closing = asyncio.create_task(server.close())
            await until(lambda: not peer.is_open)
            gate.open()  # reading resumes, but what it reads now is left unanswered
            answers = [await recv_json(ws) for _ in range(bound)]
            with pytest.raises(ConnectionClosedOK):
                await wait(ws.recv())
            assert ws.close_code == 1001
            await wait(closing)
    assert sorted(a[1] for a in answers) == ["hb0", "hb1"]
    assert gate.started == bound


class TestOption:
    """max_incoming_calls is an option of Server and Client, checked once."""

    def test_default_and_none(self) -> None:
        """It is 32 by default; None sets no bound."""
        assert Options().max_incoming_calls == 32
        assert Options(max_incoming_calls=None).max_incoming_calls is None
        assert Server(max_incoming_calls=4).options.max_incoming_calls == 4

    @pytest.mark.parametrize("value", [0, -1, 1.5, "8"])
    def test_bad_values_are_named(self, value: Any) -> None:
        """A bound that is not an int of at least 1 is refused, naming the option."""
        with pytest.raises(ValueError, match="max_incoming_calls"):
            Options(max_incoming_calls=value)
