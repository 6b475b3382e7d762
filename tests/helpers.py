"""What the tests share: the timeout, a test server's URL, connected pairs, raw peers, waits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from ocpp16 import Client, ClientBase, Server

TIMEOUT = 10  # seconds any single wait in a network test may take

# A currentTime for answers (BootNotification, Heartbeat) that must carry one.
NOW_ISO = "2024-05-01T12:00:00Z"
NOW = {"currentTime": NOW_ISO}


async def listening(**options: Any) -> Server:
    """A Server with ``options`` listening on 127.0.0.1, on a free port (``server.port``)."""
    server = Server(**options)
    await server.listen(0, host="127.0.0.1")
    return server


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


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the loop (no sleeping) until ``condition()`` holds, within TIMEOUT."""
    async with asyncio.timeout(TIMEOUT):
        while not condition():
            await asyncio.sleep(0)


async def peer_of(server: Server, cp_id: str = "CP1") -> ClientBase:
    """The server-side connection of ``cp_id``, once it is there."""
    await until(lambda: cp_id in server.clients)
    return server.clients[cp_id]
