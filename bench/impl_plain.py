"""The floor: plain ``websockets`` exchanging the same JSON frames, no OCPP library.

``server``: answers every CALL with a CALLRESULT (``json.loads``, then ``json.dumps``);
with ``--delay`` each CALL is answered by a task of its own after an ``asyncio.sleep``.
``client``: builds each CALL with ``json.dumps`` and a fresh uuid4, sends it, and reads
the CALLRESULT with ``json.loads``, one after another.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid

from benchlib import (
    BOOT_REQUEST,
    HOST,
    RESPONSES,
    SUBPROTOCOL,
    announce_port,
    round_trip_result,
    run_impl,
)
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed


async def serve_forever(delay: float, no_ping: bool) -> None:
    responses = RESPONSES
    tasks: set[asyncio.Task[None]] = set()

    async def answer_later(ws: ServerConnection, message_id: str, payload: dict) -> None:
        await asyncio.sleep(delay)
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps([3, message_id, payload]))

    async def handler(ws: ServerConnection) -> None:
        try:
            async for text in ws:
                frame = json.loads(text)
                if frame[0] != 2:
                    continue
                payload = responses.get(frame[2], {})
                if delay > 0:
                    task = asyncio.create_task(answer_later(ws, frame[1], payload))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                else:
                    await ws.send(json.dumps([3, frame[1], payload]))
        except ConnectionClosed:
            pass

    kwargs = {"ping_interval": None} if no_ping else {}
    async with serve(handler, HOST, 0, subprotocols=[SUBPROTOCOL], **kwargs) as server:  # type: ignore[list-item]
        announce_port(server.sockets[0].getsockname()[1])
        await asyncio.Future()


async def round_trips(port: int, calls: int, warmup: int) -> dict:
    errors = 0
    async with connect(
        f"ws://{HOST}:{port}/ocpp/CP1", subprotocols=[SUBPROTOCOL], proxy=None
    ) as ws:  # type: ignore[list-item]

        async def one() -> bool:
            message_id = str(uuid.uuid4())
            await ws.send(json.dumps([2, message_id, "BootNotification", BOOT_REQUEST]))
            reply = json.loads(await ws.recv())
            return reply[0] == 3 and reply[1] == message_id and reply[2]["status"] == "Accepted"

        for _ in range(warmup):
            await one()
        start = time.perf_counter()
        for _ in range(calls):
            if not await one():
                errors += 1
        elapsed = time.perf_counter() - start
    return round_trip_result(calls, elapsed, errors)


if __name__ == "__main__":
    run_impl(serve_forever, round_trips)
