"""Faults over real loopback: resets, closes, failing handlers, a vanishing server.

In every case: no crash, no leaked task, pending futures fail promptly with the
right error, and other connections carry on. An autouse fixture checks the
last two points for every test: every task created during the test is done at
its end, and the event loop's exception handler saw nothing ("Task exception
was never retrieved" and the like).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import socket
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from ocpp16 import Client, ClientBase, ConnectionClosed, OcppError, Server
from ocpp16._wire import Wire
from tests.helpers import NOW, connect_pair, future_and_setter, recv_json, until, url, wait

LATER = {"currentTime": "2024-05-01T12:00:01Z"}
ACCEPTED = {"status": "Accepted"}
STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
PROMPTLY = 5.0  # seconds: "at once", far below the 60 s call timeouts used here


# ----------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
async def no_leaks() -> AsyncIterator[list[dict[str, Any]]]:
    """Fail the test if it leaves a task running or the loop's exception handler is called."""
    loop = asyncio.get_running_loop()
    before = set(asyncio.all_tasks())
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    try:
        yield seen
        leaked = asyncio.all_tasks() - before - {asyncio.current_task()}
        assert not leaked, f"tasks left running: {leaked}"
        # Futures and tasks whose exception nobody retrieved report it when collected.
        gc.collect()
        assert not seen, f"the loop's exception handler was called: {seen}"
    finally:
        loop.set_exception_handler(previous)


@asynccontextmanager
async def serving(**options: Any) -> AsyncIterator[Server]:
    """A Server with ``options`` on 127.0.0.1, on a free port; closed afterwards."""
    server = Server(**options)
    await server.listen(0, host="127.0.0.1")
    try:
        yield server
    finally:
        await wait(server.close())


async def open_raw(server: Server, cp_id: str) -> tuple[ClientConnection, ClientBase]:
    """A bare WebSocket peer and the server's ClientBase for it, once the server has it."""
    seen: asyncio.Future[ClientBase] = asyncio.get_running_loop().create_future()

    def on_connection(client: ClientBase) -> None:
        if client.cp_id == cp_id and not seen.done():
            seen.set_result(client)

    server.on("connection", on_connection)
    try:
        ws = await wait(ws_connect(f"{url(server)}/{cp_id}", subprotocols=["ocpp1.6"]))  # type: ignore[list-item]
        peer = await wait(seen)
    finally:
        server.remove_listener("connection", on_connection)
    return ws, peer


def reset(ws: ClientConnection) -> None:
    """Drop the TCP connection with a RST: SO_LINGER 0, then close the socket at once."""
    sock = ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.transport.abort()


async def round_trips(client: Client, peer: ClientBase) -> None:
    """One CALL each way on a healthy connection."""
    assert await wait(client.call_request("Heartbeat")) == NOW
    assert await wait(peer.call_request("Reset", {"type": "Soft"})) == ACCEPTED


async def healthy_pair(server: Server, cp_id: str) -> tuple[Client, ClientBase]:
    """A connected charge point that answers Reset, and whose server side answers Heartbeat."""
    client, peer = await connect_pair(server, cp_id)
    client.on("Reset", lambda request: ACCEPTED)
    peer.on("Heartbeat", lambda request: NOW)
    return client, peer


# ----------------------------------------------------------------------------- 1. a TCP reset


async def test_tcp_reset_mid_call(server: Server) -> None:
    """A TCP reset mid-call fails the server's pending CALL at once with 1006; others carry on."""
    other, other_peer = await healthy_pair(server, "CP2")
    await round_trips(other, other_peer)

    ws, peer = await open_raw(server, "CP1")
    closed, on_close = future_and_setter()
    peer.on("close", on_close)
    future = peer.call_request("Reset", {"type": "Hard"}, timeout=60)
    frame = await recv_json(ws)
    assert frame[0] == 2 and frame[2] == "Reset"
    await round_trips(other, other_peer)  # while CP1's CALL is pending

    loop = asyncio.get_running_loop()
    started = loop.time()
    reset(ws)
    with pytest.raises(ConnectionClosed) as info:
        async with asyncio.timeout(PROMPTLY):
            await future
    assert info.value.code == 1006
    assert loop.time() - started < PROMPTLY
    assert (await wait(closed))[0] == 1006
    assert not peer.is_open
    await until(lambda: "CP1" not in server.clients)
    await wait(ws.wait_closed())

    assert server.clients.get("CP2") is other_peer
    await round_trips(other, other_peer)
    await other.close()


# ----------------------------------------------------------------------------- 2. server.close()


async def test_server_close_while_handlers_run(caplog: pytest.LogCaptureFixture) -> None:
    """server.close() lets handlers answer, answers a hung one with InternalError, then 1001."""
    before = set(asyncio.all_tasks())
    handler_timeout = 0.5
    started = asyncio.Event()
    release = asyncio.Event()
    running: list[str] = []
    finished: list[str] = []
    cancelled: list[str] = []

    async def slow(request: dict[str, Any]) -> dict[str, Any]:
        running.append("slow")
        if len(running) == 4:
            started.set()
        await release.wait()  # released only once the server is closing
        finished.append("slow")
        return NOW

    async def hung(request: dict[str, Any]) -> dict[str, Any]:
        running.append("hung")
        if len(running) == 4:
            started.set()
        try:
            await asyncio.Event().wait()  # never set
        except asyncio.CancelledError:
            cancelled.append("hung")
            raise
        return {}

    def on_connection(client: ClientBase) -> None:
        client.on("Heartbeat", slow)
        client.on("StatusNotification", hung)

    async with serving(handler_timeout=handler_timeout) as server:
        server.on("connection", on_connection)
        a, a_peer = await connect_pair(server, "A", call_concurrency=3)
        b, b_peer = await connect_pair(server, "B")
        closes = []
        for client in (a, b):
            closed, on_close = future_and_setter()
            client.on("close", on_close)
            closes.append(closed)
        futures = [
            a.call_request("Heartbeat", timeout=60),
            a.call_request("Heartbeat", timeout=60),
            a.call_request("StatusNotification", STATUS, timeout=60),
            b.call_request("Heartbeat", timeout=60),
        ]
        await wait(started.wait())  # four handlers, each mid-await

        with caplog.at_level(logging.WARNING, logger="ocpp16"):
            closing = asyncio.create_task(server.close())
            await until(lambda: not a_peer.is_open and not b_peer.is_open)  # draining
            # The charge points are still connected while the handlers run.
            assert a.is_open and b.is_open
            assert not closing.done()
            assert finished == [] and cancelled == []
            release.set()
            for n in (0, 1, 3):
                assert await wait(futures[n]) == NOW
            with pytest.raises(OcppError) as error:
                await wait(futures[2])
            assert error.value.code == "InternalError"  # handler_timeout, as ever
            for closed in closes:
                assert (await wait(closed))[0] == 1001
            assert not a.is_open and not b.is_open
            await wait(closing)
        assert finished == ["slow"] * 3
        # The hung task is cancelled once the drain has ended.
        assert cancelled == ["hung"]
        assert "cancelled 1 handler(s) still running" in caplog.text
        assert "first reply wins" not in caplog.text
        assert server.clients == {}
        await a.close()
        await b.close()

    leaked = asyncio.all_tasks() - before - {asyncio.current_task()}
    assert not leaked, f"tasks left running: {leaked}"


# ----------------------------------------------------------------------------- 3. bad handlers


async def test_handler_that_raises() -> None:
    """A handler that raises answers InternalError, and the connection keeps working."""
    async with serving() as server:
        client, peer = await healthy_pair(server, "CP1")

        def broken(request: dict[str, Any]) -> dict[str, Any]:
            raise RuntimeError("boom")

        async def broken_async(request: dict[str, Any]) -> dict[str, Any]:
            await asyncio.sleep(0)
            raise KeyError("boom")

        peer.on("StatusNotification", broken)
        peer.on("Authorize", broken_async)
        with pytest.raises(OcppError) as info:
            await wait(client.call_request("StatusNotification", STATUS))
        assert info.value.code == "InternalError"
        assert "boom" not in info.value.description  # the traceback is logged, never sent
        with pytest.raises(OcppError) as info:
            await wait(client.call_request("Authorize", {"idTag": "TAG"}))
        assert info.value.code == "InternalError"
        await round_trips(client, peer)
        assert client.is_open and peer.is_open
        await client.close()


async def test_handler_that_hangs() -> None:
    """A handler that never replies answers InternalError after handler_timeout; the connection goes on."""
    handler_timeout = 0.2
    cancelled = asyncio.Event()

    async def hang(request: dict[str, Any]) -> dict[str, Any]:
        try:
            await asyncio.Event().wait()  # never set
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {}

    async with serving(handler_timeout=handler_timeout) as server:
        client, peer = await healthy_pair(server, "CP1")
        peer.on("StatusNotification", hang)
        peer.on("Authorize", lambda request, cb: None)  # takes cb, never calls it
        loop = asyncio.get_running_loop()
        for action, payload in (("StatusNotification", STATUS), ("Authorize", {"idTag": "T"})):
            started = loop.time()
            with pytest.raises(OcppError) as info:
                await wait(client.call_request(action, payload, timeout=60))
            assert info.value.code == "InternalError"
            assert handler_timeout - 0.01 <= loop.time() - started < PROMPTLY
            await round_trips(client, peer)
        assert client.is_open and peer.is_open
        await client.close()
        # The hung task is cancelled once its connection has closed, handler_timeout later.
        await wait(cancelled.wait())


async def test_handler_that_replies_twice(caplog: pytest.LogCaptureFixture) -> None:
    """A handler that replies twice: the first reply is sent, the second dropped and logged."""

    def twice(request: dict[str, Any], cb: Callable[[Any], None]) -> None:
        cb(NOW)
        cb(LATER)

    async def twice_async(request: dict[str, Any], cb: Callable[[Any], None]) -> dict[str, Any]:
        cb(NOW)
        await asyncio.sleep(0)
        return LATER

    def on_connection(client: ClientBase) -> None:
        client.on("Heartbeat", twice)
        client.on("StatusNotification", lambda request: {})

    async with serving() as server:
        server.on("connection", on_connection)
        ws, peer = await open_raw(server, "CP1")
        with caplog.at_level(logging.WARNING, logger="ocpp16"):
            for n, handler in enumerate((twice, twice_async)):
                if handler is twice_async:
                    peer.remove_listener("Heartbeat", twice)
                    peer.on("Heartbeat", twice_async)
                await ws.send(json.dumps([2, f"hb{n}", "Heartbeat", {}]))
                assert await recv_json(ws) == [3, f"hb{n}", NOW]
                # The next frame must answer the next CALL: no second answer to hb{n}.
                await ws.send(json.dumps([2, f"sn{n}", "StatusNotification", STATUS]))
                assert await recv_json(ws) == [3, f"sn{n}", {}]
        dropped = [r for r in caplog.records if "a later reply" in r.getMessage()]
        assert len(dropped) == 2
        assert all("first reply wins" in r.getMessage() for r in dropped)
        assert peer.is_open
        await wait(ws.close())


# ----------------------------------------------------------------------------- 4. server vanishes


async def test_server_vanishes() -> None:
    """A server that vanishes fails the client's pending CALLs at once with 1006, and new ones too."""
    received = asyncio.Event()

    def never(request: dict[str, Any], cb: Callable[[Any], None]) -> None:
        received.set()  # takes cb, never calls it

    async with serving() as server:
        client, peer = await connect_pair(server, "CP1")
        peer.on("Heartbeat", never)
        closed, on_close = future_and_setter()
        client.on("close", on_close)
        futures = [
            client.call_request("Heartbeat", timeout=60) for _ in range(3)
        ]  # 1 sent, 2 queued
        await wait(received.wait())

        loop = asyncio.get_running_loop()
        started = loop.time()
        listener = server._listener
        assert listener is not None
        listener.close()  # stop listening
        wire = server.clients["CP1"]._transport
        assert isinstance(wire, Wire)
        wire.abort()  # and drop the connection, no close frame
        for future in futures:
            with pytest.raises(ConnectionClosed) as info:
                async with asyncio.timeout(PROMPTLY):
                    await future
            assert info.value.code == 1006
        assert loop.time() - started < PROMPTLY
        assert (await wait(closed))[0] == 1006
        assert not client.is_open

        late = client.call_request("Heartbeat")
        assert late.done()
        with pytest.raises(ConnectionClosed) as info:
            late.result()
        assert info.value.code == 1006
        await wait(client.close())
