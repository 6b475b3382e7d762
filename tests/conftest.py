"""Shared fixtures: a server on 127.0.0.1 port 0, connected pairs, and raw peers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from ocpp16 import Client, ClientBase, Server

TIMEOUT = 10  # seconds any single wait in a network test may take


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    """A central system listening on 127.0.0.1, on a free port (``server.port``)."""
    s = Server()
    await s.listen(0, host="127.0.0.1")
    try:
        yield s
    finally:
        await s.close()


def url(server: Server) -> str:
    """The base URL of the test server."""
    return f"ws://127.0.0.1:{server.port}/ocpp"


async def connect_pair(
    server: Server, cp_id: str = "CP1", **options: Any
) -> tuple[Client, ClientBase]:
    """Connect a Client; return it and the server's ClientBase for it."""
    seen: asyncio.Future[ClientBase] = asyncio.get_running_loop().create_future()

    def on_connection(client: ClientBase) -> None:
        if client.cp_id == cp_id and not seen.done():
            seen.set_result(client)

    server.on("connection", on_connection)
    client = Client(cp_id, **options)
    try:
        async with asyncio.timeout(TIMEOUT):
            await client.connect(url(server))
            peer = await seen
    finally:
        server.remove_listener("connection", on_connection)
    return client, peer


@pytest.fixture
async def pair(server: Server) -> AsyncIterator[tuple[Client, ClientBase]]:
    """A connected charge point and the server's object for it; closed afterwards."""
    client, peer = await connect_pair(server)
    try:
        yield client, peer
    finally:
        await client.close()


@asynccontextmanager
async def raw_peer(
    server: Server, cp_id: str = "CP1", subprotocols: list[str] | None = None
) -> AsyncIterator[ClientConnection]:
    """A bare WebSocket client (no OCPP library) connected to the test server."""
    ws = await ws_connect(
        f"{url(server)}/{cp_id}",
        subprotocols=["ocpp1.6"] if subprotocols is None else subprotocols,  # type: ignore[arg-type,list-item]
        open_timeout=TIMEOUT,
    )
    try:
        yield ws
    finally:
        await ws.close()


async def recv_json(ws: ClientConnection) -> Any:
    """The next frame from a raw peer, decoded."""
    async with asyncio.timeout(TIMEOUT):
        return json.loads(await ws.recv())


def future_and_setter() -> tuple[asyncio.Future[Any], Callable[..., None]]:
    """A future and a callback that resolves it with its arguments (once)."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def setter(*args: Any) -> None:
        if not future.done():
            future.set_result(args[0] if len(args) == 1 else args)

    return future, setter


async def wait(awaitable: Any) -> Any:
    """Await with the network tests' timeout."""
    async with asyncio.timeout(TIMEOUT):
        return await awaitable
