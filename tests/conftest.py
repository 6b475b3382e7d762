"""Shared fixtures: a server on 127.0.0.1 port 0 and a connected pair; helpers are in helpers.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ocpp16 import Client, ClientBase, Server
from tests import helpers
from tests.helpers import NOW, connect_pair, listening
from tests.redis_server import redis_server  # noqa: F401 - the fixture, for every folder


@pytest.fixture
async def served_by(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """How ``listening()`` and ``serve_test()`` serve a Server: "listen" unless parametrized.

    ``pytest.mark.parametrize("served_by", helpers.SERVED_BY, indirect=True)`` runs a
    test over its own port and mounted under a real uvicorn; the uvicorns stop afterwards.
    """
    helpers.served_by = getattr(request, "param", "listen")
    try:
        yield helpers.served_by
    finally:
        await helpers.stop_served()
        helpers.served_by = "listen"


@pytest.fixture
async def server(served_by: str) -> AsyncIterator[Server]:
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
async def limited(request: pytest.FixtureRequest, served_by: str) -> AsyncIterator[Server]:
    """A server made with the options of ``request.param`` (indirect parametrization)."""
    server = await listening(**request.param)
    server.on("connection", lambda client: client.on("Heartbeat", lambda request: NOW))
    try:
        yield server
    finally:
        await server.close()
