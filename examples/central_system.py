"""The central system of the ocpp-ts README, in Python (the README's first example).

Run:  python examples/central_system.py [--port 9220] [--host 0.0.0.0] [--once]

It accepts every charge point, answers BootNotification, and prints who comes
and goes. With --once it stops after the first charge point disconnects.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from ocpp16 import ClientBase, Reply, Server, schemas
from ocpp16.types import BootNotificationRequest, BootNotificationResponse


async def main(port: int, host: str, once: bool) -> None:
    server = Server()
    finished = asyncio.Event()
    bound = await server.listen(port, host=host)
    print(f"listening on port {bound}", flush=True)

    @server.on("connection")
    def on_connection(client: ClientBase) -> None:
        print(f"Client {client.get_cp_id()} connected", flush=True)

        def on_close(code: int, reason: str) -> None:
            print("closed", code, reason, flush=True)
            finished.set()

        client.on("close", on_close)

        @client.on(schemas.BootNotification.title)  # == "BootNotification"
        def on_boot(request: BootNotificationRequest, cb: Reply[BootNotificationResponse]) -> None:
            print(f"BootNotification from {request['chargePointVendor']}", flush=True)
            cb(
                {
                    "status": "Accepted",
                    "interval": 60,
                    "currentTime": datetime.now(UTC).isoformat(),
                }
            )

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
