"""Scenario 5, the cost of queueing: charging sessions with and without the offline queue.

Run by ``run.py`` against an ``impl_ocpp16.py server``:

    python bench/queue_cost.py --port N --sessions 20 --meter-values 50

Four charge points on one central system, one connection each: a plain
``Client`` (no queue), ``Client(store=MemoryStore())``, ``Client(store=path)``
(SQLite, WAL, ``synchronous=FULL``, the default: an fsync per stored change)
and ``Client(store=SQLiteStore(path, synchronous="NORMAL"))`` (no fsync). Each session
makes a StartTransaction, ``--meter-values`` MeterValues naming it and a
StopTransaction, back to back, and awaits every answer; the clock runs from the
first ``call_request`` to the last answer. The three take turns session by
session, so that a slow spell of the machine hits all of them alike. The RESULT
gives each one's messages/s (median over sessions) and the ratios to the plain
client.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import DEFAULT_LIFETIME, HOST, NOW, emit, exit_on_stdin_eof, start_process

from ocpp16 import Client, MemoryStore, SQLiteStore

VARIANTS = ("plain", "memory", "sqlite", "sqlite_normal")


async def session(client: Client, meter_values: int, queued: bool) -> tuple[int, float, int]:
    """One charging session as fast as it goes; (messages, seconds, errors)."""
    start = time.perf_counter()
    tx = client.call_request(
        "StartTransaction",
        {"connectorId": 1, "idTag": "BENCH", "meterStart": 0, "timestamp": NOW},
    )
    # The queue puts the id in when it is known; without it, it is needed first.
    transaction: Any = tx if queued else (await tx)["transactionId"]
    futures = [tx]
    for n in range(meter_values):
        value = [{"timestamp": NOW, "sampledValue": [{"value": str(n)}]}]
        futures.append(
            client.call_request(
                "MeterValues", {"connectorId": 1, "transactionId": transaction, "meterValue": value}
            )
        )
    futures.append(
        client.call_request(
            "StopTransaction",
            {"transactionId": transaction, "meterStop": meter_values, "timestamp": NOW},
        )
    )
    answers = await asyncio.gather(*futures, return_exceptions=True)
    elapsed = time.perf_counter() - start
    errors = sum(isinstance(a, BaseException) for a in answers)
    return len(futures), elapsed, errors


async def measure(port: int, sessions: int, meter_values: int, warmup: int) -> dict[str, Any]:
    url = f"ws://{HOST}:{port}/ocpp"
    with tempfile.TemporaryDirectory() as directory:
        clients = {
            "plain": Client("CP-PLAIN"),
            "memory": Client("CP-MEMORY", store=MemoryStore()),
            "sqlite": Client("CP-SQLITE", store=str(Path(directory) / "full.sqlite3")),
            "sqlite_normal": Client(
                "CP-SQLITE-NORMAL",
                store=SQLiteStore(Path(directory) / "normal.sqlite3", synchronous="NORMAL"),
            ),
        }
        rates: dict[str, list[float]] = {name: [] for name in VARIANTS}
        errors = 0
        try:
            for client in clients.values():
                await client.connect(url)
            for n in range(warmup + sessions):
                for name in VARIANTS:
                    messages, elapsed, failed = await session(
                        clients[name], meter_values, name != "plain"
                    )
                    errors += failed
                    if n >= warmup:
                        rates[name].append(messages / elapsed)
        finally:
            for client in clients.values():
                await client.close()
    medians = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "sessions": sessions,
        "messages_per_session": meter_values + 2,
        "errors": errors,
        **{f"{name}_rate": medians[name] for name in VARIANTS},
        **{f"{name}_ratio": medians[name] / medians["plain"] for name in VARIANTS[1:]},
        # What the scenario's summary calls its rate: the durable one.
        "rate": medians["sqlite"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--meter-values", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=1, help="sessions before the clock (1)")
    parser.add_argument("--lifetime", type=float, default=DEFAULT_LIFETIME)
    args = parser.parse_args()
    start_process(args.lifetime)
    exit_on_stdin_eof()
    emit("RESULT", asyncio.run(measure(args.port, args.sessions, args.meter_values, args.warmup)))


if __name__ == "__main__":
    main()
