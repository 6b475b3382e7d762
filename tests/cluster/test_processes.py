"""Nodes as real processes on one Redis: calls, SIGKILL, take-overs, Redis restarted, order.

Each node is ``tests/cluster/node.py`` in a process of its own; node A, the caller,
may stay in the test process. The charge points are real ``Client`` objects: in a
node's process (``--local``), or in the test process behind a small TCP load
balancer (``tests/cluster/proxy.py``). Every wait is on a condition, within TIMEOUT.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect

from ocpp16 import CallTimeout, Client, ClusterUnavailable, NotConnected, OcppError, Server
from ocpp16.chargepoint import Reconnect
from ocpp16.cluster import RedisCluster
from tests.cluster.node import REFUSAL, LocalTraffic, answer_heartbeats, serve_charge_point
from tests.cluster.proxy import Balancer
from tests.helpers import TIMEOUT
from tests.redis_server import RedisProcess

NODE = Path(__file__).with_name("node.py")
SOFT = {"type": "Soft"}
ACCEPTED = {"status": "Accepted"}


class Node:
    """A node process: its port and pid, and its answers to commands on standard input."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, pid: int) -> None:
        self.process = process
        self.port = port
        self.pid = pid

    async def ask(self, command: str, tag: str) -> Any:
        """Send ``command``; return the JSON of the next line tagged ``tag``."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command.encode() + b"\n")
        await self.process.stdin.drain()
        async with asyncio.timeout(TIMEOUT):
            while True:
                line = (await self.process.stdout.readline()).decode()
                assert line, f"the node exited ({self.process.returncode}) before {tag}"
                if line.startswith(tag + " "):
                    return json.loads(line[len(tag) + 1 :])

    async def counts(self) -> dict[str, Any]:
        """The node's local traffic so far (calls ok, errors, its pid)."""
        counts: dict[str, Any] = await self.ask("counts", "COUNTS")
        return counts

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        os.kill(self.process.pid, signal.SIGKILL)


Spawn = Callable[..., Awaitable[Node]]


@pytest.fixture
async def spawn(redis_server: RedisProcess) -> AsyncIterator[Spawn]:
    """Start node processes on the test's Redis; each quits (or is killed) afterwards."""
    started: list[asyncio.subprocess.Process] = []

    async def start(node_id: str, *args: str) -> Node:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(NODE),
            redis_server.url,
            node_id,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        started.append(process)
        assert process.stdout is not None
        async with asyncio.timeout(TIMEOUT):
            line = (await process.stdout.readline()).decode().split()
        assert line and line[0] == "PORT", f"node {node_id} did not start: {line}"
        return Node(process, int(line[1]), int(line[2]))

    try:
        yield start
    finally:
        for process in started:
            if process.returncode is None and process.stdin is not None:
                process.stdin.close()  # the node closes cleanly at the end of its input
        for process in started:
            try:
                async with asyncio.timeout(TIMEOUT):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


@pytest.fixture
async def caller(redis_server: RedisProcess) -> AsyncIterator[Server]:
    """Node A in the test process, listening (for a charge point of its own) and calling."""
    server = Server(
        cluster=RedisCluster(redis_server.url, node_id="a", presence_ttl=1.0, retry_interval=0.1)
    )
    answer_heartbeats(server)
    await server.listen(0, host="127.0.0.1")
    try:
        yield server
    finally:
        await server.close()


async def until_call_works(server: Server, cp_id: str, action: str = "Reset") -> Any:
    """Retry a call while its charge point is not (yet) reachable; return its answer."""
    payload: dict[str, Any] = SOFT if action == "Reset" else {}
    async with asyncio.timeout(TIMEOUT):
        while True:
            try:
                return await server.call_request(cp_id, action, payload)
            except (NotConnected, ClusterUnavailable):
                await asyncio.sleep(0.02)


async def test_a_call_to_a_charge_point_on_another_process_returns_its_answer(
    spawn: Spawn, caller: Server
) -> None:
    """A call from A to a charge point on process node C returns its answer; a CALLERROR too."""
    c = await spawn("c", "--local", "CPC")
    assert await until_call_works(caller, "CPC") == ACCEPTED
    assert await caller.locate("CPC") == "c"
    assert (await caller.connected_ids())["CPC"] == "c"
    async with asyncio.timeout(TIMEOUT):
        with pytest.raises(OcppError) as info:
            await caller.call_request("CPC", "DataTransfer", {"vendorId": "v"})
    assert type(info.value) is OcppError
    assert (info.value.code, info.value.description, info.value.details) == REFUSAL
    assert (await c.counts())["errors"] == 0


async def test_order_per_charge_point_holds_across_processes(spawn: Spawn, caller: Server) -> None:
    """N calls from A in a row reach the charge point on process node C in the order made."""
    c = await spawn("c", "--local", "CPC")
    await until_call_works(caller, "CPC")
    futures = [
        caller.call_request("CPC", "ChangeConfiguration", {"key": f"k{i}", "value": "v"})
        for i in range(30)
    ]
    async with asyncio.timeout(TIMEOUT):
        assert await asyncio.gather(*futures) == [ACCEPTED] * 30
    assert await c.ask("seen", "SEEN") == [f"k{i}" for i in range(30)]


async def test_a_killed_node_is_forgotten_and_its_charge_point_comes_back_through_the_balancer(
    spawn: Spawn, caller: Server
) -> None:
    """C killed with SIGKILL: NotConnected within presence_ttl; the Client reconnects to B."""
    c = await spawn("c")
    b = await spawn("b")
    balancer = Balancer([c.port, b.port])
    await balancer.start()
    client = Client("CP9", reconnect=Reconnect(initial=0.05, max_delay=0.2, jitter=0.1))
    serve_charge_point(client, [])
    connects: asyncio.Queue[None] = asyncio.Queue()
    client.on("connect", lambda: connects.put_nowait(None))
    try:
        async with asyncio.timeout(TIMEOUT * 2):
            await client.connect(f"ws://127.0.0.1:{balancer.port}/ocpp")
            assert balancer.forwarded == [c.port]
            assert await until_call_works(caller, "CP9") == ACCEPTED
            assert await caller.locate("CP9") == "c"
            await connects.get()
            balancer.hold()  # its reconnection waits in the balancer while A looks
            c.kill()
            await c.process.wait()
            # Its node's channel has no listener any more (once Redis has seen the
            # process's sockets close): NotConnected, well within presence_ttl.
            while True:
                try:
                    await caller.call_request("CP9", "Reset", SOFT, timeout=0.5)
                except CallTimeout:
                    continue  # published just before Redis dropped the dead subscriber
                except NotConnected:
                    break
            # Presence: the dead node's entry expires with presence_ttl.
            while await caller.locate("CP9") is not None:
                await asyncio.sleep(0.05)
            assert "CP9" not in await caller.connected_ids()
            with pytest.raises(NotConnected):
                await caller.call_request("CP9", "Reset", SOFT, timeout=30)
            balancer.release()
            await connects.get()  # reconnected by itself, through the balancer, to B
            assert balancer.forwarded[-1] == b.port
            assert await until_call_works(caller, "CP9") == ACCEPTED
            assert await caller.locate("CP9") == "b"
    finally:
        await client.close()
        await balancer.close()


async def test_a_stale_connection_on_one_process_is_closed_when_the_id_reconnects_to_another(
    spawn: Spawn, caller: Server
) -> None:
    """CP1 stale on process A, reconnecting to process B: B serves it, A closes its connection."""
    a = await spawn("node-a")
    b = await spawn("node-b")
    stale = await ws_connect(
        f"ws://127.0.0.1:{a.port}/ocpp/CP1", subprotocols=["ocpp1.6"], open_timeout=TIMEOUT
    )
    fresh = Client("CP1")
    serve_charge_point(fresh, [])
    try:
        async with asyncio.timeout(TIMEOUT):
            while await caller.locate("CP1") != "node-a":
                await asyncio.sleep(0.02)
            await fresh.connect(f"ws://127.0.0.1:{b.port}/ocpp")
            await stale.wait_closed()  # seen from the stale side: A closed it
            assert stale.close_code == 1000
            while await caller.locate("CP1") != "node-b":
                await asyncio.sleep(0.02)
            assert await caller.call_request("CP1", "Reset", SOFT) == ACCEPTED
            assert fresh.is_open
    finally:
        await stale.close()
        await fresh.close()


async def test_redis_restarted_mid_test_disturbs_no_local_traffic(
    spawn: Spawn, caller: Server, redis_server: RedisProcess
) -> None:
    """Redis stopped and started: local traffic on every node has no error; remote calls recover."""
    b = await spawn("b", "--local", "CPB")
    c = await spawn("c", "--local", "CPC")
    nodes = [b, c]
    traffic = LocalTraffic(caller, "CPA")
    await traffic.start()

    async def all_counts() -> list[dict[str, Any]]:
        return [traffic.counts(), *[await node.counts() for node in nodes]]

    async def grown(before: list[dict[str, Any]], by: int) -> list[dict[str, Any]]:
        """Wait until every node's local traffic made ``by`` more calls."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                now = await all_counts()
                if all(n["ok"] >= o["ok"] + by for n, o in zip(now, before, strict=True)):
                    return now
                await asyncio.sleep(0.05)

    try:
        for cp_id in ("CPB", "CPC"):
            assert await until_call_works(caller, cp_id) == ACCEPTED
        counts = await grown(await all_counts(), 10)
        redis_server.stop()
        for cp_id in ("CPB", "CPC"):
            # Fast: the error, not the 30 s call timeout.
            with pytest.raises(ClusterUnavailable):
                await caller.call_request(cp_id, "Reset", SOFT, timeout=30)
        counts = await grown(counts, 50)  # local traffic goes on without Redis
        with pytest.raises(ClusterUnavailable):
            await caller.call_request("CPB", "Reset", SOFT, timeout=30)
        redis_server.start()  # empty: each node registers its charge points again
        for cp_id in ("CPB", "CPC"):
            assert await until_call_works(caller, cp_id) == ACCEPTED
        counts = await grown(counts, 10)
        assert [n["errors"] for n in counts] == [0, 0, 0], [n["samples"] for n in counts]
        # No node restarted.
        assert [n["pid"] for n in counts[1:]] == [b.pid, c.pid]
        assert all(node.process.returncode is None for node in nodes)
    finally:
        await traffic.stop()
