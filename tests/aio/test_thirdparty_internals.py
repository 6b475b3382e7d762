"""The private details of pyee and websockets that ocpp16._internals relies on, checked.

Each test names one assumption. When a new release of either library breaks
one, this file fails before anything subtler does; then ``ocpp16/_internals.py``
(the only module that relies on them) needs a look, and the pins in
``pyproject.toml`` a new bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pyee.asyncio import AsyncIOEventEmitter
from pyee.base import EventEmitter
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from ocpp16._internals import SafeEmitter, listener_table, stepped_send
from ocpp16._transport import TransportClosed
from tests.helpers import TIMEOUT, wait

# ----------------------------------------------------------------------------- pyee


def test_pyee_runs_each_listener_through_emit_run() -> None:
    """emit() calls _emit_run(f, args, kwargs) once per listener, in order."""
    assert list(inspect.signature(EventEmitter._emit_run).parameters) == [
        "self",
        "f",
        "args",
        "kwargs",
    ]
    runs: list[tuple[Any, ...]] = []

    class Spy(AsyncIOEventEmitter):
        def _emit_run(self, f: Any, args: Any, kwargs: Any) -> None:
            runs.append((f, args, kwargs))

    def first(x: int) -> None: ...
    def second(x: int) -> None: ...

    emitter = Spy()
    emitter.on("event", first)
    emitter.on("event", second)
    emitter.emit("event", 1)
    assert runs == [(first, (1,), {}), (second, (1,), {})]


def test_pyee_listener_table_shape() -> None:
    """_events maps event → ordered {listener: callable}; once() stores a self-removing wrapper."""
    emitter = AsyncIOEventEmitter()

    def plain(x: int) -> int:
        return x

    def one_shot(x: int) -> int:
        return -x

    emitter.on("a", plain)
    emitter.once("b", one_shot)
    table = emitter._events
    assert isinstance(table, dict)
    assert list(table["a"].items()) == [(plain, plain)]
    ((listener, wrapper),) = table["b"].items()
    assert listener is one_shot and wrapper is not one_shot and callable(wrapper)
    assert wrapper(3) == -3
    assert "b" not in table  # calling the wrapper removed the listener
    emitter.remove_listener("a", plain)
    assert "a" not in table  # an event with no listener left leaves the table


def test_pyee_lock_and_remove_all_listeners() -> None:
    """Pyee guards its table with _lock; SafeEmitter keeps the same table dict when cleared."""
    assert hasattr(AsyncIOEventEmitter(), "_lock")

    class Emitter(SafeEmitter):
        pass

    emitter = Emitter()
    table = listener_table(emitter)
    emitter.on("a", print)
    emitter.remove_all_listeners("a")
    assert not table.get("a")
    emitter.on("b", print)
    emitter.remove_all_listeners()
    assert listener_table(emitter) is table and not table
    emitter.on("c", print)
    assert list(table["c"]) == [print]


def test_pyee_adds_every_listener_through_add_event_handler() -> None:
    """on() and once() add each listener through _add_event_handler(event, k, v), after "new_listener"."""
    assert list(inspect.signature(EventEmitter._add_event_handler).parameters) == [
        "self",
        "event",
        "k",
        "v",
    ]
    added: list[tuple[str, Any]] = []

    class Spy(AsyncIOEventEmitter):
        def _add_event_handler(self, event: str, k: Any, v: Any) -> None:
            added.append((event, k))
            super()._add_event_handler(event, k, v)

    def plain() -> None: ...
    def one_shot() -> None: ...

    emitter = Spy()
    emitter.on("a", plain)
    emitter.once("b", one_shot)
    emitter.add_listener("c", plain)
    assert added == [("a", plain), ("b", one_shot), ("c", plain)]


def test_safe_emitter_keeps_each_events_listeners_in_a_plain_dict() -> None:
    """SafeEmitter's table holds a dict per event (not pyee's heavier OrderedDict), as pyee's behaves."""

    class Emitter(SafeEmitter):
        pass

    emitter = Emitter()
    table = listener_table(emitter)
    announced: list[tuple[str, bool]] = []
    # "new_listener" comes before the listener is in the table, as pyee has it.
    emitter.on(
        "new_listener", lambda event, f: announced.append((event, f in table.get(event, {})))
    )

    def first() -> str:
        return "first"

    def second() -> str:
        return "second"

    emitter.on("a", first)
    emitter.on("a", second)
    emitter.once("b", first)
    assert type(table["a"]) is dict and type(table["b"]) is dict
    assert list(table["a"].items()) == [(first, first), (second, second)]
    assert announced == [("a", False), ("a", False), ("b", False)]
    assert emitter.listeners("a") == [first, second]
    ran: list[str] = []
    emitter.on("c", lambda: ran.append("c"))
    emitter.once("c", lambda: ran.append("once"))
    emitter.emit("c")
    emitter.emit("c")
    assert ran == ["c", "once", "c"]
    emitter.remove_listener("a", first)
    emitter.remove_listener("a", second)
    assert "a" not in table


def test_safe_emitter_contains_listener_failures() -> None:
    """The _emit_run override keeps a failing listener from stopping the others."""

    class Emitter(SafeEmitter):
        pass

    emitter = Emitter()
    errors: list[BaseException] = []
    ran: list[str] = []
    emitter.on("error", errors.append)
    emitter.on("event", lambda: 1 / 0)
    emitter.on("event", lambda: ran.append("second"))
    emitter.emit("event")
    assert ran == ["second"] and isinstance(errors[0], ZeroDivisionError)


# ----------------------------------------------------------------------------- websockets


@asynccontextmanager
async def ws_pair(**options: Any) -> AsyncIterator[tuple[ServerConnection, ClientConnection]]:
    """A websockets server connection and its client, on 127.0.0.1."""
    accepted: asyncio.Future[ServerConnection] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def handler(connection: ServerConnection) -> None:
        accepted.set_result(connection)
        await done.wait()

    async with serve(handler, "127.0.0.1", 0, **options) as server:
        port = server.sockets[0].getsockname()[1]
        async with ws_connect(f"ws://127.0.0.1:{port}", open_timeout=TIMEOUT, **options) as client:
            try:
                yield await wait(accepted), client
            finally:
                done.set()


def test_websockets_send_is_a_coroutine_function_taking_text() -> None:
    """Connection.send(message, *, text=None) is a coroutine function; recv() too."""
    assert inspect.iscoroutinefunction(Connection.send)
    assert inspect.iscoroutinefunction(Connection.recv)
    parameters = inspect.signature(Connection.send).parameters
    assert list(parameters)[:2] == ["self", "message"]


def test_websockets_send_context_is_an_async_generator() -> None:
    """send() writes inside send_context, an async generator (what finish_send unwinds)."""
    assert inspect.isasyncgenfunction(inspect.unwrap(Connection.send_context))


async def test_websockets_send_completes_without_suspending() -> None:
    """Stepped once, send() finishes (StopIteration) when the socket takes the data."""
    async with ws_pair() as (server_side, client):
        coroutine = client.send("hello")
        with pytest.raises(StopIteration):
            coroutine.send(None)
        assert await wait(server_side.recv()) == "hello"
        step = stepped_send(client.send, ConnectionClosed, lambda e: TransportClosed(str(e)))
        assert step("again") is None
        assert await wait(server_side.recv()) == "again"


async def test_websockets_send_suspends_under_backpressure() -> None:
    """A send into a peer that does not read suspends, and its awaitable then finishes it."""
    async with ws_pair(compression=None, max_size=None) as (server_side, client):
        step = stepped_send(client.send, ConnectionClosed, lambda e: TransportClosed(str(e)))
        blob = os.urandom(100_000).hex()
        waiting = None
        for _ in range(1000):  # at most 200 MB: far beyond any socket buffer
            waiting = step(blob)
            if waiting is not None:
                break
        assert waiting is not None
        reader = asyncio.ensure_future(_drain(server_side))
        await wait(waiting)
    await wait(reader)


async def _drain(connection: ServerConnection) -> None:
    """Read until the connection closes."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            await connection.recv()


async def test_websockets_send_on_a_closed_connection_raises_at_once() -> None:
    """Stepping send() on a closed connection raises ConnectionClosed without suspending."""
    async with ws_pair() as (server_side, client):
        await wait(server_side.close(1000, "bye"))
        await wait(client.wait_closed())
        step = stepped_send(client.send, ConnectionClosed, lambda e: TransportClosed(str(e)))
        with pytest.raises(TransportClosed):
            step("late")


async def test_websockets_close_frames_on_the_exception() -> None:
    """ConnectionClosed carries rcvd and sent close frames with code and reason."""
    async with ws_pair(max_size=10) as (server_side, client):
        await client.send("x" * 100)  # over the server's max_size: it fails with 1009
        with pytest.raises(ConnectionClosedError) as info:
            await wait(server_side.recv())
        frame = info.value.rcvd or info.value.sent
        assert frame is not None and frame.code == 1009 and isinstance(frame.reason, str)
        assert server_side.close_code is not None
        assert isinstance(server_side.close_reason, str)


async def test_websockets_keepalive_settings_are_attributes() -> None:
    """ping_interval and ping_timeout are plain attributes, changeable while open."""
    async with ws_pair(ping_interval=5, ping_timeout=7) as (server_side, _):
        assert (server_side.ping_interval, server_side.ping_timeout) == (5, 7)
        server_side.ping_interval = None
        server_side.ping_timeout = None
        assert (server_side.ping_interval, server_side.ping_timeout) == (None, None)
