"""Scenario 6, the cost of a cluster: cross-node ``call_request`` against a local one.

Run by ``run.py`` (``--scenarios cluster``), which starts a ``redis-server`` on a free
port and passes its URL; or by hand (it then starts one of its own, or uses ``--redis``):

    python bench/cluster_cost.py --calls 2000 --rounds 3

Two ``Server`` nodes in this process, each with its own ``RedisCluster`` on the one
Redis, and one charge point connected to node A that answers Reset. Node A calls it
``--calls`` times back to back (a local call: the frame path alone), then node B does
(a cross-node call: Redis pub/sub both ways, through node A); the two take turns round
by round, so a slow spell of the machine hits both alike. It gives calls/s and the
p50/p99 latency of each (medians over its rounds), and the ratios remote/local: as
lines of text by hand, as one ``RESULT {json}`` line with ``--result``. A ``Server``
without a cluster takes the local path unchanged (one dict lookup), so its own
numbers are those of scenarios 1-5.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import time
from typing import Any

from benchlib import DEFAULT_LIFETIME, HOST, emit, exit_on_stdin_eof, start_process, start_redis

from ocpp16 import Client, Server
from ocpp16.cluster import RedisCluster

PATHS = ("local", "remote")


async def _measure(server: Server, calls: int) -> tuple[float, float, float, int]:
    """Return calls/s, p50 and p99 (ms), and errors, of ``calls`` sequential Resets."""
    latencies = []
    errors = 0
    start = time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter()
        try:
            await server.call_request("CP1", "Reset", {"type": "Soft"})
        except Exception:
            errors += 1
            continue
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    if not latencies:
        return 0.0, 0.0, 0.0, errors
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return len(latencies) / elapsed, statistics.median(latencies) * 1000, p99 * 1000, errors


async def measure(redis_url: str, calls: int, rounds: int, warmup: int) -> dict[str, Any]:
    """Measure local and cross-node calls, round by round; the medians and the ratios."""
    a = Server(cluster=RedisCluster(redis_url, node_id="bench-a"))
    b = Server(cluster=RedisCluster(redis_url, node_id="bench-b"))
    port = await a.listen(0, host=HOST)
    await b.listen(0, host=HOST)
    client = Client("CP1")
    client.on("Reset", lambda request: {"status": "Accepted"})
    await client.connect(f"ws://{HOST}:{port}/ocpp")
    runs: dict[str, list[tuple[float, float, float, int]]] = {path: [] for path in PATHS}
    errors = 0
    try:
        errors += (await _measure(b, warmup))[3]  # warm up both paths
        errors += (await _measure(a, warmup))[3]
        for _ in range(rounds):
            runs["local"].append(await _measure(a, calls))
            runs["remote"].append(await _measure(b, calls))
    finally:
        await client.close()
        await a.close()
        await b.close()
    result: dict[str, Any] = {"calls": calls, "rounds": rounds}
    for path, measured in runs.items():
        for i, name in enumerate(("rate", "p50_ms", "p99_ms")):
            result[f"{path}_{name}"] = statistics.median(m[i] for m in measured)
        errors += sum(m[3] for m in measured)
    local, remote = result["local_rate"], result["remote_rate"]
    result.update(
        errors=errors,
        rate_ratio=remote / local if local else None,
        p50_ratio=result["remote_p50_ms"] / result["local_p50_ms"] if local else None,
        p99_ratio=result["remote_p99_ms"] / result["local_p99_ms"] if local else None,
        rate=remote,  # what the scenario's summary calls its rate: the cross-node one
    )
    return result


def show(result: dict[str, Any]) -> None:
    """Print a result as lines of text."""
    for path in PATHS:
        print(
            f"{path:6}  {result[f'{path}_rate']:8.0f} calls/s  "
            f"p50 {result[f'{path}_p50_ms']:6.3f} ms  p99 {result[f'{path}_p99_ms']:6.3f} ms"
        )
    print(
        f"ratio remote/local: calls/s {result['rate_ratio']:.2f}, "
        f"p50 {result['p50_ratio']:.2f}, p99 {result['p99_ratio']:.2f}; "
        f"{result['errors']} errors"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", help="a running Redis (default: start one on a free port)")
    parser.add_argument("--calls", type=int, default=2000, help="calls per round (2000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    parser.add_argument("--warmup", type=int, default=200, help="calls before the clock (200)")
    parser.add_argument("--result", action="store_true", help="print one RESULT {json} line")
    parser.add_argument("--lifetime", type=float, default=DEFAULT_LIFETIME)
    args = parser.parse_args()
    start_process(args.lifetime)
    exit_on_stdin_eof()
    process = None
    url = args.redis
    if url is None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed: apt-get install redis-server")
        process, url = start_redis(binary)
    try:
        result = asyncio.run(measure(url, args.calls, args.rounds, args.warmup))
    finally:
        if process is not None:
            process.kill()
            process.wait()
    if args.result:
        emit("RESULT", result)
    else:
        show(result)


if __name__ == "__main__":
    main()
