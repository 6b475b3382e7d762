"""What an open connection weighs on a central system: the objects ocpp16 and pyee keep for it.

Python memory per connection is what limits how many charge points one process
serves (BENCHMARKS.md, scenario 3). It is counted with ``tracemalloc``, which
is exact and so unaffected by a busy machine: only the allocations made in
ocpp16's and pyee's own files, so that websockets' buffers and the test's own
clients (in this process too) do not count.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyee
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

import ocpp16
from ocpp16 import Client, ClientBase, Options
from ocpp16._dispatch import Dispatcher
from ocpp16._internals import SafeEmitter
from ocpp16._memory_transport import memory_pair
from ocpp16.protocol import Role
from tests.helpers import NOW, NOW_ISO, TIMEOUT, listening, until, wait

CONNECTIONS = 20
# Bytes per connection. Measured on CPython 3.11: 6,000 (6,700 under coverage,
# whose tracer gives suspended frames an object each); 8,100 (8,800) before each
# event's listeners were kept in a plain dict instead of an OrderedDict, the
# protocol core's CALL queue was made only once a CALL has to wait, and the
# transport's send became a partial instead of a closure. The server's drain
# (a Closing per connection) and the transport-agnostic serving coroutine, merged
# after that measure, add about 450 bytes: 6,500 (7,280 under coverage).
BUDGET = 7_600
# Bytes per connection object over an in-memory transport, never run (so no
# suspended frame, and coverage changes nothing). On CPython 3.11, a central
# system's: 4,200; before the changes above, 6,200, of which 800 for the
# OrderedDicts, 760 for the queue, and 432 for the two sets of tasks now made
# with their first task. A Client's: 4,400; 6,000 before ClientBase kept its
# own state in slots (its instance dict, past the attributes whose keys CPython
# shares, was one of its own: 1,584 bytes).
OBJECT_BUDGET = 4_500
CLIENT_BUDGET = 4_800
CENTRAL_ACTIONS = (
    "BootNotification",
    "Heartbeat",
    "StartTransaction",
    "MeterValues",
    "StopTransaction",
)
CHARGE_POINT_ACTIONS = (
    "Reset",
    "GetConfiguration",
    "ChangeConfiguration",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
)

OWN = tuple(str(Path(package.__file__).parent) for package in (ocpp16, pyee))
BOOT = {"chargePointVendor": "eParking", "chargePointModel": "NECU-T2"}
BOOT_OK = {"status": "Accepted", "interval": 300, "currentTime": NOW_ISO}


def own_bytes(snapshot: tracemalloc.Snapshot) -> int:
    """The bytes allocated in ocpp16's and pyee's files, still alive in ``snapshot``."""
    return sum(
        stat.size
        for stat in snapshot.statistics("filename")
        if stat.traceback[0].filename.startswith(OWN)
    )


@contextlib.contextmanager
def tracing() -> Iterator[None]:
    """Trace allocations for the block (unless they are traced already)."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        yield
    finally:
        if started:
            tracemalloc.stop()


def snapshot() -> tracemalloc.Snapshot:
    gc.collect()
    return tracemalloc.take_snapshot()


async def charge_point(port: int, n: int) -> ClientConnection:
    """A bare charge point: connects, boots, sends a Heartbeat, and stays open."""
    ws = await ws_connect(f"ws://127.0.0.1:{port}/ocpp/CP{n}", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
    for message_id, action, payload in (
        (f"{n}-1", "BootNotification", BOOT),
        (f"{n}-2", "Heartbeat", {}),
    ):
        await ws.send(json.dumps([2, message_id, action, payload]))
        reply = json.loads(await ws.recv())
        assert reply[:2] == [3, message_id], reply
    return ws


async def test_a_connection_with_its_listeners_stays_within_its_budget() -> None:
    """The objects ocpp16 and pyee keep per open connection, five listeners each, fit the budget."""

    def on_connection(client: ClientBase) -> None:
        # A central system's usual handlers, registered per connection.
        client.on("BootNotification", lambda request: BOOT_OK)
        client.on("Heartbeat", lambda request: NOW)
        client.on(
            "StartTransaction",
            lambda request: {"transactionId": 1, "idTagInfo": {"status": "Accepted"}},
        )
        client.on("MeterValues", lambda request: {})
        client.on("StopTransaction", lambda request: {})

    with tracing():
        server = await listening(ping_interval=None)
        server.on("connection", on_connection)
        clients: list[ClientConnection] = []

        async def connect(first: int) -> None:
            numbers = range(first, first + CONNECTIONS)
            clients.extend(await asyncio.gather(*(charge_point(server.port, n) for n in numbers)))
            await until(lambda: len(server.clients) == first + CONNECTIONS - 1)

        try:
            async with asyncio.timeout(TIMEOUT):
                # A first batch, not counted: the server's one-time costs
                # (compiled validators, lazy imports, what a coverage tracer
                # records the first time a line runs) are paid by then.
                await connect(1)
                before = own_bytes(snapshot())
                await connect(1 + CONNECTIONS)
                per_connection = (own_bytes(snapshot()) - before) / CONNECTIONS
        finally:
            for ws in clients:
                await ws.close()
            await server.close()
    assert 0 < per_connection <= BUDGET, f"{per_connection:,.0f} bytes per connection"


@pytest.mark.parametrize(
    ("role", "actions", "budget"),
    [
        (Role.CENTRAL_SYSTEM, CENTRAL_ACTIONS, OBJECT_BUDGET),
        (Role.CHARGE_POINT, CHARGE_POINT_ACTIONS, CLIENT_BUDGET),
    ],
    ids=["central-system", "client"],
)
async def test_a_connection_object_with_its_listeners_stays_within_its_budget(
    role: Role, actions: tuple[str, ...], budget: int
) -> None:
    """A connection object (a central system's ClientBase, or a Client), five listeners, fits its budget."""
    options = Options()

    def make(count: int) -> list[ClientBase]:
        made = []
        for n in range(count):
            if role is Role.CHARGE_POINT:
                client: ClientBase = Client(f"CP{n}")
                end, _ = memory_pair()
            else:
                client = ClientBase(f"CP{n}", role=role, options=options)
                _, end = memory_pair()
            for action in actions:
                client.on(action, lambda request: {})
            # No public way attaches a transport yet: Server and Client do it for websockets.
            client._attach(end)
            made.append(client)
        return made

    with tracing():
        kept = make(CONNECTIONS)  # the first ones pay for lazy imports and caches
        before = own_bytes(snapshot())
        kept += make(5 * CONNECTIONS)
        per_connection = (own_bytes(snapshot()) - before) / (5 * CONNECTIONS)
    assert len(kept) == 6 * CONNECTIONS
    assert 0 < per_connection <= budget, f"{per_connection:,.0f} bytes per connection"


class Owner:
    """The least a Dispatcher needs of its connection."""

    logger = logging.getLogger("ocpp16.test")

    def _answer(
        self, message_id: str, action: str, reply: Any, flush: bool = True, handler: object = None
    ) -> None:
        """Take the reply (none is expected here)."""


async def test_the_dispatcher_makes_its_set_of_tasks_with_the_first() -> None:
    """A Dispatcher holds no set of tasks (216 bytes) until it runs its first task."""
    dispatcher = Dispatcher(Owner(), {}, Options())
    assert dispatcher.tasks is None
    await dispatcher.drain()  # nothing to wait for
    ran = asyncio.Event()

    async def work() -> None:
        ran.set()

    dispatcher.spawn(work())
    assert dispatcher.tasks is not None and len(dispatcher.tasks) == 1
    await wait(dispatcher.drain())
    assert ran.is_set() and not dispatcher.tasks


async def test_the_emitter_makes_its_set_of_listener_tasks_with_the_first() -> None:
    """A SafeEmitter holds no set of listener tasks (216 bytes) until a listener returns a coroutine."""

    class Emitter(SafeEmitter):
        pass

    emitter = Emitter()
    emitter.on("plain", lambda: None)
    emitter.emit("plain")
    assert emitter._listener_tasks is None
    done = asyncio.Event()

    async def listener() -> None:
        done.set()

    emitter.on("coroutine", listener)
    emitter.emit("coroutine")
    assert emitter._listener_tasks is not None and len(emitter._listener_tasks) == 1
    await wait(done.wait())
    await until(lambda: not emitter._listener_tasks)
