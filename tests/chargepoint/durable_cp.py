"""A charge point process for the restart tests: ``python durable_cp.py STORE URL MODE N``.

``queue N``: connect in the background, make a StartTransaction, N - 2
MeterValues (their values count 0, 1, ...) and a StopTransaction, the last
two naming the StartTransaction by its future; print ``queued N``; then run
until killed. ``deliver``: print ``holds N`` (what the store held at start),
send it, print ``delivered`` once every answer has come
(``"queued_result"``), and exit.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from ocpp16 import Client, Reconnect

NOW = "2024-05-01T12:00:00Z"


async def main(store: str, url: str, mode: str, count: int) -> None:
    """Run as the module docstring says."""
    client = Client(
        "CP-KILL",
        store=store,
        reconnect=Reconnect(initial=0.02, max_delay=0.1, jitter=0.0),
        boot_gate=False,
        transaction_message_retry_interval=0.01,
    )
    if mode == "deliver":
        count = len(client.queued())
        print(f"holds {count}", flush=True)
    answered = 0
    done = asyncio.get_running_loop().create_future()

    def on_result(*args: Any) -> None:
        nonlocal answered
        answered += 1
        if answered == count and not done.done():
            done.set_result(None)

    client.on("queued_result", on_result)
    await client.connect(url, wait=False)
    if mode == "queue":
        start = {"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": NOW}
        tx = client.call_request("StartTransaction", start)
        for n in range(count - 2):
            value = [{"timestamp": NOW, "sampledValue": [{"value": str(n)}]}]
            client.call_request(
                "MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": value}
            )
        client.call_request(
            "StopTransaction", {"transactionId": tx, "meterStop": count, "timestamp": NOW}
        )
        print(f"queued {len(client.queued())}", flush=True)
        await asyncio.Event().wait()  # until killed
    await done
    print("delivered", flush=True)
    await client.close()


if __name__ == "__main__":
    asyncio.run(
        main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if sys.argv[4:] else 0)
    )
