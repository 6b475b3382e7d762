"""The cluster tests' fixture: Server nodes on the test's own Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ocpp16 import Server
from ocpp16.cluster import RedisCluster
from tests.redis_server import RedisProcess


@pytest.fixture
async def nodes(redis_server: RedisProcess) -> AsyncIterator[Callable[..., Any]]:
    """Make Server nodes on the test's Redis (listening when asked); all closed afterwards."""
    made: list[Server] = []

    async def make(
        node_id: str, *, listen: bool = True, ttl: float = 3.0, **options: Any
    ) -> Server:
        cluster = RedisCluster(
            redis_server.url, node_id=node_id, presence_ttl=ttl, retry_interval=0.1
        )
        server = Server(cluster=cluster, **options)
        made.append(server)
        if listen:
            await server.listen(0, host="127.0.0.1")
        return server

    try:
        yield make
    finally:
        for server in made:
            await server.close()
