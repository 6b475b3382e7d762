"""A charge point that keeps charging through a central system restart and loses nothing.

Run:  python examples/durable_charge_point.py [--store cp.sqlite3] [--interval 0.05]

One process plays both ends on 127.0.0.1. The charge point is a ``Client`` with
``reconnect`` on and its offline queue in a SQLite file. It boots, starts a
transaction and sends MeterValues every --interval seconds. After the third,
the central system goes down; the charge point goes on charging, its
MeterValues wait in the queue, and it reconnects with backoff. The central
system comes back (a new ``Server`` on the same port), the queue drains in
order, and the StopTransaction, made before its transaction's last MeterValues
reached anyone, carries the transaction id. The central system then lists what
it received.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocpp16 import Action, Client, ClientBase, Reconnect, Server

METER_VALUES = 10
DOWN_AT, UP_AT = 3, 7  # the central system is down while these MeterValues are made


def now() -> str:
    return datetime.now(UTC).isoformat()


class CentralSystem:
    """Records what it receives; survives its own restarts (the list is the 'database')."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.server: Server | None = None
        self.port = 0

    async def start(self) -> None:
        server = Server()
        server.on("connection", self.on_connection)
        self.port = await server.listen(self.port, host="127.0.0.1")
        self.server = server

    async def stop(self) -> None:
        assert self.server is not None
        await self.server.close()  # every charge point gets 1001 (going away)

    def on_connection(self, client: ClientBase) -> None:
        def record(action: str, answer: dict[str, Any]) -> Any:
            def handler(request: dict[str, Any]) -> dict[str, Any]:
                self.received.append((action, request))
                return answer

            return handler

        client.on(
            "BootNotification",
            record(
                "BootNotification", {"status": "Accepted", "interval": 300, "currentTime": now()}
            ),
        )
        client.on(
            "StartTransaction",
            record("StartTransaction", {"transactionId": 42, "idTagInfo": {"status": "Accepted"}}),
        )
        client.on("MeterValues", record("MeterValues", {}))
        client.on("StopTransaction", record("StopTransaction", {}))


async def main(store: Path, interval: float) -> None:
    central = CentralSystem()
    await central.start()
    print("central system: up", flush=True)

    client = Client(
        "CP-DURABLE",
        reconnect=Reconnect(initial=0.1, factor=2.0, max_delay=1.0, jitter=0.25),
        store=str(store),  # the offline queue survives even a killed process
    )
    client.on("close", lambda code, reason: print(f"charge point: connection closed ({code})"))
    client.on("reconnecting", lambda attempt, delay, error: print("charge point: reconnecting"))
    client.on("connect", lambda: print("charge point: connected"))
    await client.connect(f"ws://127.0.0.1:{central.port}/ocpp")

    # The boot gate (on with reconnect) holds every other CALL until this is Accepted.
    boot = await client.call_request(
        "BootNotification", {"chargePointVendor": "ocpp16", "chargePointModel": "Durable"}
    )
    print(f"charge point: boot {boot['status']}", flush=True)
    energy = 0
    tx = client.call_request(
        "StartTransaction",
        {"connectorId": 1, "idTag": "TAG-0001", "meterStart": energy, "timestamp": now()},
    )
    sent: list[asyncio.Future[Any]] = []
    for n in range(METER_VALUES):
        if n == DOWN_AT:
            await asyncio.gather(tx, *sent)  # nothing in flight when it goes down
            print(f"charge point: transaction {(await tx)['transactionId']} started", flush=True)
            await central.stop()
            print("central system: down", flush=True)
        if n == UP_AT:
            await central.start()
            print("central system: up again", flush=True)
        energy += 250
        # A MeterValues of a transaction is queued: stored before call_request returns.
        sent.append(
            # A payload that names a future goes with an Action member (its
            # TypedDict types transactionId as an int).
            client.call_request(
                Action.MeterValues,
                {
                    "connectorId": 1,
                    "transactionId": tx,  # the StartTransaction's future: its id when sent
                    "meterValue": [{"timestamp": now(), "sampledValue": [{"value": str(energy)}]}],
                },
            )
        )
        await asyncio.sleep(interval)  # charging
    stop = client.call_request(
        Action.StopTransaction, {"transactionId": tx, "meterStop": energy, "timestamp": now()}
    )
    await asyncio.gather(*sent, stop)
    print("charge point: transaction stopped, queue empty:", client.queued() == [], flush=True)
    await client.close()
    await central.stop()

    actions = [action for action, _ in central.received]
    values = [
        r["meterValue"][0]["sampledValue"][0]["value"]
        for a, r in central.received
        if a == "MeterValues"
    ]
    print(
        f"central system received: {actions.count('StartTransaction')} StartTransaction, "
        f"{actions.count('MeterValues')} MeterValues, {actions.count('StopTransaction')} "
        "StopTransaction"
    )
    print("meter values in order:", values == [str(250 * (n + 1)) for n in range(METER_VALUES)])
    ids = {r.get("transactionId") for a, r in central.received if a != "BootNotification"}
    print("transaction ids:", sorted(i for i in ids if i is not None))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="the queue's file (a temporary one by default)")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between MeterValues")
    args = parser.parse_args()
    if args.store is not None:
        asyncio.run(main(args.store, args.interval))
    else:
        with tempfile.TemporaryDirectory() as directory:
            asyncio.run(main(Path(directory) / "cp.sqlite3", args.interval))
