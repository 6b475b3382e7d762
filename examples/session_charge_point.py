"""A charge point that runs one charging session: boot, authorize, start, meter values, stop.

Run:  python examples/session_charge_point.py [ws://localhost:9220/ocpp] [--interval 0.2]

It boots, authorizes an idTag, starts a transaction, sends MeterValues every
--interval seconds, and when the central system sends RemoteStopTransaction it
accepts and then sends StopTransaction with reason "Remote" (the answer to the
remote stop goes out first, as OCPP asks), then disconnects.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import UTC, datetime

from ocpp16 import Client, Reply
from ocpp16.types import RemoteStopTransactionRequest, RemoteStopTransactionResponse


def now() -> str:
    return datetime.now(UTC).isoformat()


async def main(url: str, interval: float) -> None:
    client = Client("CP-SESSION-1")
    stopped = asyncio.Event()
    transaction_id: int | None = None
    energy = 0

    @client.on("RemoteStopTransaction")
    def remote_stop(
        request: RemoteStopTransactionRequest, cb: Reply[RemoteStopTransactionResponse]
    ) -> None:
        if request["transactionId"] != transaction_id:
            cb({"status": "Rejected"})
            return
        cb({"status": "Accepted"})  # answered now; StopTransaction follows
        stopped.set()

    await client.connect(url)
    boot = await client.call_request(
        "BootNotification", {"chargePointVendor": "ocpp16", "chargePointModel": "Example"}
    )
    print(f"boot: {boot['status']}", flush=True)
    auth = await client.call_request("Authorize", {"idTag": "TAG-0001"})
    print(f"authorize: {auth['idTagInfo']['status']}", flush=True)
    start = await client.call_request(
        "StartTransaction",
        {"connectorId": 1, "idTag": "TAG-0001", "meterStart": energy, "timestamp": now()},
    )
    transaction_id = start["transactionId"]
    print(f"transaction {transaction_id} started", flush=True)

    while not stopped.is_set():
        energy += 250
        await client.call_request(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": transaction_id,
                "meterValue": [
                    {
                        "timestamp": now(),
                        "sampledValue": [
                            {
                                "value": str(energy),
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                            },
                            {
                                "value": "16.0",
                                "measurand": "Current.Import",
                                "unit": "A",
                                "phase": "L1",
                            },
                        ],
                    }
                ],
            },
        )
        print(f"meter value sent: {energy} Wh", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), interval)

    stop = await client.call_request(
        "StopTransaction",
        {
            "transactionId": transaction_id,
            "meterStop": energy,
            "timestamp": now(),
            "reason": "Remote",
        },
    )
    print(f"transaction {transaction_id} stopped: {stop['idTagInfo']['status']}", flush=True)
    await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url", nargs="?", default="ws://localhost:9220/ocpp")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between meter values")
    args = parser.parse_args()
    asyncio.run(main(args.url, args.interval))
