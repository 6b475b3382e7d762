"""The mobilityhouse ``ocpp`` package (import ``ocpp``), default settings, v16.

``server``: a ``websockets.asyncio.server.serve(..., subprotocols=["ocpp1.6"])`` whose
handler runs one v16 ``ChargePoint`` per connection, answering BootNotification with
``call_result.BootNotification(...)`` (and Heartbeat likewise).
``client``: a v16 ``ChargePoint`` calling ``await cp.call(call.BootNotification(...))``.
Schema validation stays on, as the package ships it (in its default thread pool).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from benchlib import (
    HOST,
    NOW,
    SUBPROTOCOL,
    announce_port,
    round_trip_result,
    run_impl,
)
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, RegistrationStatus
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed


def central_system_class(delay: float) -> type[ChargePoint]:
    if delay > 0:

        class SlowCentralSystem(ChargePoint):
            @on(Action.boot_notification)
            async def on_boot_notification(self, **request):
                await asyncio.sleep(delay)
                return call_result.BootNotification(
                    current_time=NOW, interval=300, status=RegistrationStatus.accepted
                )

            @on(Action.heartbeat)
            async def on_heartbeat(self):
                await asyncio.sleep(delay)
                return call_result.Heartbeat(current_time=NOW)

        return SlowCentralSystem

    class CentralSystem(ChargePoint):
        @on(Action.boot_notification)
        def on_boot_notification(self, **request):
            return call_result.BootNotification(
                current_time=NOW, interval=300, status=RegistrationStatus.accepted
            )

        @on(Action.heartbeat)
        def on_heartbeat(self):
            return call_result.Heartbeat(current_time=NOW)

    return CentralSystem


async def serve_forever(delay: float, no_ping: bool) -> None:
    cls = central_system_class(delay)

    async def handler(ws: ServerConnection) -> None:
        cp_id = ws.request.path.rsplit("/", 1)[-1] if ws.request else "?"
        with contextlib.suppress(ConnectionClosed):
            await cls(cp_id, ws).start()

    kwargs = {"ping_interval": None} if no_ping else {}
    async with serve(handler, HOST, 0, subprotocols=[SUBPROTOCOL], **kwargs) as server:  # type: ignore[list-item]
        announce_port(server.sockets[0].getsockname()[1])
        await asyncio.Future()


def boot() -> call.BootNotification:
    return call.BootNotification(charge_point_model="BenchModel", charge_point_vendor="BenchVendor")


async def round_trips(port: int, calls: int, warmup: int) -> dict:
    errors = 0
    async with connect(
        f"ws://{HOST}:{port}/ocpp/CP1", subprotocols=[SUBPROTOCOL], proxy=None
    ) as ws:  # type: ignore[list-item]
        cp = ChargePoint("CP1", ws)
        reader = asyncio.create_task(cp.start())
        try:
            for _ in range(warmup):
                await cp.call(boot())
            start = time.perf_counter()
            for _ in range(calls):
                response = await cp.call(boot())
                if response is None or response.status != RegistrationStatus.accepted:
                    errors += 1
            elapsed = time.perf_counter() - start
        finally:
            reader.cancel()
    return round_trip_result(calls, elapsed, errors)


if __name__ == "__main__":
    run_impl(serve_forever, round_trips)
