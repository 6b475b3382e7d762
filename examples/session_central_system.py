"""A central system that runs a whole charging session with each charge point.

Run:  python examples/session_central_system.py [--port 9220] [--host 0.0.0.0] [--once]
Then: python examples/session_charge_point.py ws://localhost:9220/ocpp

It accepts the boot, authorizes every idTag, hands out transaction ids that
count up, and on the third MeterValues of a transaction asks the charge point
to stop it: the MeterValues handler itself awaits RemoteStopTransaction before
it answers.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from datetime import UTC, datetime

from ocpp16 import ClientBase, Server
from ocpp16.types import (
    AuthorizeRequest,
    AuthorizeResponse,
    BootNotificationRequest,
    BootNotificationResponse,
    MeterValuesRequest,
    MeterValuesResponse,
    StartTransactionRequest,
    StartTransactionResponse,
    StopTransactionRequest,
    StopTransactionResponse,
)

transaction_ids = itertools.count(1)


def now() -> str:
    return datetime.now(UTC).isoformat()


def attach(client: ClientBase, finished: asyncio.Event) -> None:
    cp = client.cp_id
    meter_values_seen: dict[int, int] = {}

    @client.on("BootNotification")
    def boot(request: BootNotificationRequest) -> BootNotificationResponse:
        print(
            f"{cp}: boot ({request['chargePointVendor']} {request['chargePointModel']})", flush=True
        )
        return {"status": "Accepted", "interval": 300, "currentTime": now()}

    @client.on("Authorize")
    def authorize(request: AuthorizeRequest) -> AuthorizeResponse:
        print(f"{cp}: authorize {request['idTag']}", flush=True)
        return {"idTagInfo": {"status": "Accepted"}}

    @client.on("StartTransaction")
    def start(request: StartTransactionRequest) -> StartTransactionResponse:
        transaction_id = next(transaction_ids)
        meter_values_seen[transaction_id] = 0
        print(
            f"{cp}: transaction {transaction_id} started at {request['meterStart']} Wh", flush=True
        )
        return {"transactionId": transaction_id, "idTagInfo": {"status": "Accepted"}}

    @client.on("MeterValues")
    async def meter_values(request: MeterValuesRequest) -> MeterValuesResponse:
        transaction_id = request.get("transactionId")
        sample = request["meterValue"][0]["sampledValue"][0]
        print(f"{cp}: meter value {sample['value']} {sample.get('unit', 'Wh')}", flush=True)
        if transaction_id is not None:
            meter_values_seen[transaction_id] += 1
            if meter_values_seen[transaction_id] == 3:
                # A handler may make its own CALL to the same charge point and await
                # the answer: every incoming CALL is handled in a task of its own.
                answer = await client.call_request(
                    "RemoteStopTransaction", {"transactionId": transaction_id}
                )
                print(
                    f"{cp}: remote stop of transaction {transaction_id}: {answer['status']}",
                    flush=True,
                )
        return {}

    @client.on("StopTransaction")
    def stop(request: StopTransactionRequest) -> StopTransactionResponse:
        reason = request.get("reason", "Local")
        stopped_at = f"{request['meterStop']} Wh ({reason})"
        print(f"{cp}: transaction {request['transactionId']} stopped at {stopped_at}", flush=True)
        return {"idTagInfo": {"status": "Accepted"}}

    def closed(code: int, reason: str) -> None:
        print(f"{cp}: disconnected ({code})", flush=True)
        finished.set()

    client.on("close", closed)


async def main(port: int, host: str, once: bool) -> None:
    server = Server()
    finished = asyncio.Event()
    server.on("connection", lambda client: attach(client, finished))
    bound = await server.listen(port, host=host)
    print(f"listening on port {bound}", flush=True)
    if once:
        await finished.wait()
        await server.close()
    else:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9220)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--once", action="store_true", help="stop after one charge point")
    args = parser.parse_args()
    asyncio.run(main(args.port, args.host, args.once))
