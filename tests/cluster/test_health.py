"""GET /health on a node of a Redis cluster: its node id, and whether Redis answers."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

from ocpp16 import Server
from ocpp16.cluster import RedisCluster
from tests.helpers import TIMEOUT, until, wait
from tests.redis_server import RedisProcess


def _health(port: int) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=TIMEOUT) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


async def health(server: Server) -> tuple[int, dict[str, object]]:
    """GET /health from the server's port over real HTTP."""
    assert server.port is not None
    return await wait(asyncio.to_thread(_health, server.port))


async def test_health_tells_whether_redis_answers(redis_server: RedisProcess) -> None:
    """The "redis" field is true while Redis answers, false once it is gone, true once back."""
    server = Server(cluster=RedisCluster(redis_server.url, node_id="cs-a", presence_ttl=0.6))
    await server.listen(0, host="127.0.0.1")
    try:
        await until(lambda: server.cluster.available is True)
        assert await health(server) == (
            200,
            {"status": "ok", "node": "cs-a", "charge_points": 0, "redis": True},
        )
        redis_server.stop()
        await until(lambda: server.cluster.available is False)
        status, body = await health(server)
        assert (status, body["redis"]) == (200, False)  # the node still serves its chargers
        redis_server.start()
        await until(lambda: server.cluster.available is True)
        assert (await health(server))[1]["redis"] is True
    finally:
        await server.close()
