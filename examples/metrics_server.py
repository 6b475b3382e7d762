"""A central system with Prometheus metrics: a charge point boots, then /metrics is printed.

Run:  python examples/metrics_server.py

Needs ``pip install "ocpp16[metrics]"``. One process on 127.0.0.1: a ``Server``
with ``metrics=`` (its own registry here; ``True`` would use
``prometheus_client``'s default one) on a free port, a charge point that boots
and heartbeats, then plain HTTP GETs of ``/health`` and ``/metrics`` on the OCPP
port, as a load balancer and Prometheus would make them.
"""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any

from prometheus_client import CollectorRegistry

from ocpp16 import Client, ClientBase, Server

NOW = "2024-05-01T12:00:00Z"


def get(port: int, path: str) -> str:
    """GET a path of the OCPP port over plain HTTP; return the body."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
        body: bytes = answer.read()
        return body.decode("utf-8")


async def main() -> None:
    """Serve with metrics, run one charge point against it, print /health and /metrics."""
    server = Server(metrics=CollectorRegistry())

    @server.on("connection")
    def on_connection(client: ClientBase) -> None:
        def on_boot(request: dict[str, Any]) -> dict[str, Any]:
            return {"status": "Accepted", "interval": 60, "currentTime": NOW}

        client.on("BootNotification", on_boot)
        client.on("Heartbeat", lambda request: {"currentTime": NOW})

    port = await server.listen(0, host="127.0.0.1")
    charge_point = Client("CP1")
    await charge_point.connect(f"ws://127.0.0.1:{port}/ocpp")
    try:
        await charge_point.call_request(
            "BootNotification", {"chargePointVendor": "eParking", "chargePointModel": "NECU-T2"}
        )
        await charge_point.call_request("Heartbeat", {})
        print(await asyncio.to_thread(get, port, "/health"))
        metrics = await asyncio.to_thread(get, port, "/metrics")
        # The ocpp16_ series, without the histograms' buckets, for a short printout.
        for line in metrics.splitlines():
            if line.startswith("ocpp16_") and "_bucket" not in line:
                print(line)
    finally:
        await charge_point.close()
        await server.close()


if __name__ == "__main__":
    asyncio.run(main())
