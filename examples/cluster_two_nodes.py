"""Two central-system nodes sharing one Redis: a charge point on one, called from the other.

Run:  python examples/cluster_two_nodes.py [--redis redis://127.0.0.1:6379/0]

Needs a running Redis and ``pip install "ocpp16[redis]"``. One process plays
every part on 127.0.0.1: node ``cs-a`` and node ``cs-b`` (two ``Server``
objects, each with its own ``RedisCluster``), and a charge point that connects
to ``cs-a``. Node ``cs-b`` finds it (``locate``), lists the cluster
(``connected_ids``) and resets it with ``call_request``, as if it were its own.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from ocpp16 import Client, OcppError, Server
from ocpp16.cluster import RedisCluster


async def main(redis_url: str) -> None:
    """Start two nodes, connect a charge point to the first, call it from the second."""
    node_a = Server(cluster=RedisCluster(redis_url, node_id="cs-a"))
    node_b = Server(cluster=RedisCluster(redis_url, node_id="cs-b"))
    port_a = await node_a.listen(0, host="127.0.0.1")
    await node_b.listen(0, host="127.0.0.1")

    charge_point = Client("CP1")

    def on_reset(request: dict[str, Any]) -> dict[str, Any]:
        print(f"CP1: Reset {request['type']} received")
        return {"status": "Accepted"}

    def on_unlock(request: dict[str, Any]) -> None:
        raise OcppError("NotSupported", "no connector lock", {"connectorId": 1})

    charge_point.on("Reset", on_reset)
    charge_point.on("UnlockConnector", on_unlock)
    await charge_point.connect(f"ws://127.0.0.1:{port_a}/ocpp")
    try:
        print(f"cs-b: CP1 is on {await node_b.locate('CP1')}")
        print(f"cs-b: the cluster holds {await node_b.connected_ids()}")
        reply = await node_b.call_request("CP1", "Reset", {"type": "Soft"})
        print(f"cs-b: Reset answered {reply}")
        try:
            await node_b.call_request("CP1", "UnlockConnector", {"connectorId": 1})
        except OcppError as exc:
            print(f"cs-b: UnlockConnector failed: {exc.code} {exc.description!r} {exc.details}")
    finally:
        await charge_point.close()
        await node_a.close()
        await node_b.close()
    print("done")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="the Redis URL")
    asyncio.run(main(parser.parse_args().redis))
