"""``ocpp16``: its ``Server`` as the central system, its ``Client`` as the charge point.

Default options everywhere (strict validation in all four directions); ``--no-ping``
sets ``ping_interval=None``; ``--metrics`` (server) counts into a Prometheus registry
of its own, ``Server(metrics=CollectorRegistry())``. The handlers return their response
(a plain function, or a coroutine function that first sleeps ``--delay`` seconds).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from typing import Any

from benchlib import (
    BOOT_REQUEST,
    HOST,
    RESPONSES,
    announce_port,
    round_trip_result,
    run_impl,
)

from ocpp16 import Client, ClientBase, Server

# Read here, not by benchlib's command line, which every implementation shares.
METRICS = "--metrics" in sys.argv
if METRICS:
    sys.argv.remove("--metrics")


def make_server(delay: float, no_ping: bool) -> Server:
    """The benchmark's central system: handlers for every scenario, not yet serving."""
    boot_response = RESPONSES["BootNotification"]
    heartbeat_response = RESPONSES["Heartbeat"]

    if delay > 0:

        async def on_boot(request: dict[str, Any]) -> dict[str, Any]:
            await asyncio.sleep(delay)
            return boot_response

        async def on_heartbeat(request: dict[str, Any]) -> dict[str, Any]:
            await asyncio.sleep(delay)
            return heartbeat_response

    else:

        def on_boot(request: dict[str, Any]) -> dict[str, Any]:  # type: ignore[misc]
            return boot_response

        def on_heartbeat(request: dict[str, Any]) -> dict[str, Any]:  # type: ignore[misc]
            return heartbeat_response

    options: dict[str, Any] = {"ping_interval": None} if no_ping else {}
    if METRICS:
        from prometheus_client import CollectorRegistry

        options["metrics"] = CollectorRegistry()
    server = Server(**options)

    # Scenario 5 (bench/queue_cost.py): charging sessions.
    transaction_ids = itertools.count(1)

    def on_start(request: dict[str, Any]) -> dict[str, Any]:
        return {"transactionId": next(transaction_ids), "idTagInfo": {"status": "Accepted"}}

    def on_empty(request: dict[str, Any]) -> dict[str, Any]:
        return {}

    @server.on("connection")
    def on_connection(client: ClientBase) -> None:
        client.on("BootNotification", on_boot)
        client.on("Heartbeat", on_heartbeat)
        client.on("StartTransaction", on_start)
        client.on("MeterValues", on_empty)
        client.on("StopTransaction", on_empty)

    return server


async def serve_forever(delay: float, no_ping: bool) -> None:
    server = make_server(delay, no_ping)
    port = await server.listen(0, host=HOST)
    announce_port(port)
    await server.serve_forever()


async def round_trips(port: int, calls: int, warmup: int) -> dict:
    errors = 0
    client = Client("CP1")
    await client.connect(f"ws://{HOST}:{port}/ocpp")
    try:
        for _ in range(warmup):
            await client.call_request("BootNotification", BOOT_REQUEST)
        start = time.perf_counter()
        for _ in range(calls):
            try:
                response = await client.call_request("BootNotification", BOOT_REQUEST)
            except Exception:
                errors += 1
            else:
                if response.get("status") != "Accepted":
                    errors += 1
        elapsed = time.perf_counter() - start
    finally:
        await client.close()
    return round_trip_result(calls, elapsed, errors)


if __name__ == "__main__":
    run_impl(serve_forever, round_trips)
