"""Nodes as real processes on one Redis: a node killed with SIGKILL is forgotten within its TTL."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from ocpp16 import Client, NotConnected, Server
from ocpp16.cluster import RedisCluster
from tests.helpers import TIMEOUT, connect_pair
from tests.redis_server import RedisProcess

NODE = """
import asyncio, sys
from ocpp16 import Server
from ocpp16.cluster import RedisCluster

async def main():
    server = Server(cluster=RedisCluster(sys.argv[1], node_id=sys.argv[2], presence_ttl=1.0))
    port = await server.listen(0, host="127.0.0.1")
    print(port, flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


async def start_node(redis_url: str, node_id: str) -> tuple[asyncio.subprocess.Process, int]:
    """Start a node in a process of its own; return it and its port."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", NODE, redis_url, node_id, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    async with asyncio.timeout(TIMEOUT):
        line = await process.stdout.readline()
    return process, int(line)


async def test_a_killed_node_is_forgotten_and_its_charge_points_come_back_elsewhere(
    redis_server: RedisProcess,
) -> None:
    """Node C killed with SIGKILL: calls fail with NotConnected; reconnected to B, reachable."""
    a = Server(cluster=RedisCluster(redis_server.url, node_id="a", presence_ttl=1.0))
    b = Server(cluster=RedisCluster(redis_server.url, node_id="b", presence_ttl=1.0))
    await a.listen(0, host="127.0.0.1")
    await b.listen(0, host="127.0.0.1")
    process, port = await start_node(redis_server.url, "c")
    client = Client("CP9")
    client.on("Reset", lambda request: {"status": "Accepted"})
    moved: Client | None = None
    try:
        async with asyncio.timeout(TIMEOUT * 2):
            await client.connect(f"ws://127.0.0.1:{port}/ocpp")
            while await a.locate("CP9") != "c":
                await asyncio.sleep(0.02)
            assert await a.call_request("CP9", "Reset", {"type": "Soft"}) == {"status": "Accepted"}
            os.kill(process.pid, signal.SIGKILL)
            await process.wait()
            with pytest.raises(NotConnected):
                await a.call_request("CP9", "Reset", {"type": "Soft"})
            # Presence: the dead node's entries expire with presence_ttl.
            while await a.locate("CP9") is not None:
                await asyncio.sleep(0.05)
            assert "CP9" not in await a.connected_ids()
            moved, _ = await connect_pair(b, "CP9")
            moved.on("Reset", lambda request: {"status": "Accepted"})
            assert await a.call_request("CP9", "Reset", {"type": "Soft"}) == {"status": "Accepted"}
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await client.close()
        if moved is not None:
            await moved.close()
        await a.close()
        await b.close()
