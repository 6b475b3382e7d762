"""What the tests share: the timeout, a test server's URL, connected pairs, raw peers, waits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from ocpp16 import Client, ClientBase, Server

TIMEOUT = 10  # seconds any single wait in a network test may take

# A currentTime for answers (BootNotification, Heartbeat) that must carry one.
NOW_ISO = "2024-05-01T12:00:00Z"
NOW = {"currentTime": NOW_ISO}


# How the tests that take the served_by fixture serve their Server: "listen" (its own
# port), or server.asgi() as the application of a real "uvicorn" or "hypercorn". The
# handshake tests run over all three, so every rule is checked on each transport.
SERVED_BY = ("listen", "uvicorn", "hypercorn")
served_by = "listen"
# The mark of a test (or class) that runs over each of them.
over_transports = pytest.mark.parametrize("served_by", SERVED_BY, indirect=True)
# The ASGI servers started for this test: their Server, port, and how to stop them.
_mounted: list[tuple[Server, int, Callable[[], Awaitable[None]]]] = []


async def serve_test(server: Server, *, certfile: str | None = None) -> int:
    """Serve ``server`` on 127.0.0.1, a free port, as ``served_by`` says; return the port.

    Args:
        server: The server.
        certfile: A PEM file with the server's key and certificate chain: serve TLS (wss://).
    """
    if served_by == "listen":
        from ocpp16.security import server_ssl_context

        context = server_ssl_context(certfile) if certfile is not None else None
        return await server.listen(0, host="127.0.0.1", ssl=context)
    if served_by == "uvicorn":
        tls = {"ssl_certfile": certfile, "ssl_keyfile": certfile} if certfile else {}
        bound, stop = await start_uvicorn(server.asgi(), **tls)
    else:
        bound, stop = await start_hypercorn(server.asgi(), certfile=certfile)
    _mounted.append((server, bound, stop))
    return bound


async def start_uvicorn(app: Any, **config: Any) -> tuple[int, Callable[[], Awaitable[None]]]:
    """Run the ASGI ``app`` under a real uvicorn on 127.0.0.1, a free port.

    Returns:
        The bound port, and a coroutine function that stops the server and waits for it.
    """
    import uvicorn

    settings: dict[str, Any] = {"log_level": "warning", "lifespan": "off"} | config
    uvicorn_server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, **settings))
    task = asyncio.create_task(uvicorn_server.serve())
    await until(lambda: uvicorn_server.started or task.done())
    if task.done():
        await task  # it failed to start: say why
        raise RuntimeError("uvicorn stopped at once")
    bound: int = uvicorn_server.servers[0].sockets[0].getsockname()[1]

    async def stop() -> None:
        uvicorn_server.should_exit = True
        await wait(task)

    return bound, stop


async def start_hypercorn(
    app: Any, *, certfile: str | None = None
) -> tuple[int, Callable[[], Awaitable[None]]]:
    """Run the ASGI ``app`` under a real hypercorn on 127.0.0.1, a free port (TLS with ``certfile``).

    The socket is bound and listening before hypercorn starts (it serves it by
    file descriptor), so a client may connect at once.

    Returns:
        The bound port, and a coroutine function that stops the server and waits for it.
    """
    import socket

    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.setblocking(False)
    bound: int = sock.getsockname()[1]
    config = Config()
    # hypercorn takes the descriptor over (and closes it when it stops).
    config.bind = [f"fd://{sock.detach()}"]
    config.loglevel = "WARNING"
    config.accesslog = None
    if certfile is not None:
        config.certfile = config.keyfile = certfile
    shutdown = asyncio.Event()
    task = asyncio.create_task(
        hypercorn_serve(app, config, shutdown_trigger=shutdown.wait)  # type: ignore[arg-type]
    )

    async def stop() -> None:
        shutdown.set()
        await wait(task)

    return bound, stop


async def stop_served() -> None:
    """Stop every ASGI server :func:`serve_test` started (after closing their Servers)."""
    while _mounted:
        server, _, stop = _mounted.pop()
        await server.close()
        await stop()


def port(server: Server) -> int:
    """The port the test server is served on, by listen() or an ASGI server."""
    for mounted, bound, _ in _mounted:
        if mounted is server:
            return bound
    assert server.port is not None
    return server.port


async def listening(**options: Any) -> Server:
    """A Server with ``options`` served on 127.0.0.1, a free port (``port(server)``), as ``served_by`` says."""
    server = Server(**options)
    await serve_test(server)
    return server


def url(server: Server) -> str:
    """The base URL of the test server."""
    return f"ws://127.0.0.1:{port(server)}/ocpp"


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
