"""The cost of a cluster: cross-node ``call_request`` against a local one, on one machine.

Run (standalone, not part of ``run.py``; needs ``redis-server`` on the PATH, or ``--redis``):

    python bench/cluster_cost.py --calls 2000 --rounds 3

Starts a ``redis-server`` of its own on a free port (``--save "" --appendonly no``)
unless ``--redis URL`` names one, then two ``Server`` nodes in this process,
each with its own ``RedisCluster``, and one charge point connected to node A
that answers Reset. Node A calls it ``--calls`` times back to back (a local
call: the frame path alone), then node B does (a cross-node call: Redis
pub/sub both ways, through node A); the two take turns round by round, so a
slow spell of the machine hits both alike. It prints calls/s and the p50/p99
latency of each, and the ratios remote/local. A ``Server`` without a cluster
takes the local path unchanged (one dict lookup), so its own numbers are those
of ``run.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import time

from ocpp16 import Client, Server
from ocpp16.cluster import RedisCluster


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _measure(server: Server, calls: int) -> tuple[float, float, float]:
    """Return calls/s, p50 and p99 (ms) of ``calls`` sequential Resets from ``server``."""
    latencies = []
    start = time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter()
        await server.call_request("CP1", "Reset", {"type": "Soft"})
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return calls / elapsed, statistics.median(latencies) * 1000, p99 * 1000


async def main(redis_url: str, calls: int, rounds: int) -> None:
    """Measure local and cross-node calls, round by round, and print the medians."""
    a = Server(cluster=RedisCluster(redis_url, node_id="bench-a"))
    b = Server(cluster=RedisCluster(redis_url, node_id="bench-b"))
    port = await a.listen(0, host="127.0.0.1")
    await b.listen(0, host="127.0.0.1")
    client = Client("CP1")
    client.on("Reset", lambda request: {"status": "Accepted"})
    await client.connect(f"ws://127.0.0.1:{port}/ocpp")
    results: dict[str, list[tuple[float, float, float]]] = {"local": [], "remote": []}
    try:
        await _measure(b, min(calls, 200))  # warm up both paths
        await _measure(a, min(calls, 200))
        for _ in range(rounds):
            results["local"].append(await _measure(a, calls))
            results["remote"].append(await _measure(b, calls))
    finally:
        await client.close()
        await a.close()
        await b.close()
    medians = {
        name: tuple(statistics.median(r[i] for r in runs) for i in range(3))
        for name, runs in results.items()
    }
    for name, (rate, p50, p99) in medians.items():
        print(f"{name:6}  {rate:8.0f} calls/s  p50 {p50:6.3f} ms  p99 {p99:6.3f} ms")
    (lr, l50, l99), (rr, r50, r99) = medians["local"], medians["remote"]
    print(f"ratio remote/local: calls/s {rr / lr:.2f}, p50 {r50 / l50:.2f}, p99 {r99 / l99:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", help="a running Redis (default: start one on a free port)")
    parser.add_argument("--calls", type=int, default=2000, help="calls per round (2000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    args = parser.parse_args()
    process = None
    url = args.redis
    if url is None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed: apt-get install redis-server")
        port = _free_port()
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
    try:
        asyncio.run(main(url, args.calls, args.rounds))
    finally:
        if process is not None:
            process.kill()
            process.wait()
