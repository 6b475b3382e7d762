"""Shared fixtures: a server on 127.0.0.1 port 0 and a connected pair; helpers are in helpers.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ocpp16 import Client, ClientBase, Server
from tests.helpers import NOW, connect_pair, listening
from tests.redis_server import redis_server  # noqa: F401 - the fixture, for every folder


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    """A central system listening on 127.0.0.1, on a free port (``server.port``)."""
    s = await listening()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def pair(server: Server) -> AsyncIterator[tuple[Client, ClientBase]]:
    """A connected charge point and the server's object for it; closed afterwards."""
    client, peer = await connect_pair(server)
    try:
        yield client, peer
    finally:
        await client.close()


@pytest.fixture
async def limited(request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    """A server made with the options of ``request.param`` (indirect parametrization)."""
    server = await listening(**request.param)
    server.on("connection", lambda client: client.on("Heartbeat", lambda request: NOW))
    try:
        yield server
    finally:
        await server.close()
