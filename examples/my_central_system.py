"""A central system built by one function, so that its tests build the same one.

Run:   python examples/my_central_system.py [--port 9220] [--host 0.0.0.0]
Tests: pytest examples/test_my_central_system.py (in memory: no socket, see ocpp16.testing)

It accepts the charge points it knows, answers BootNotification and Authorize,
and lets the back office start a charge remotely with start_charging().
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from ocpp16 import ClientBase, Handshake, Server
from ocpp16.types import (
    AuthorizeRequest,
    AuthorizeResponse,
    BootNotificationRequest,
    BootNotificationResponse,
)

KNOWN_CHARGE_POINTS = {"CP1", "CP2"}
VALID_ID_TAGS = {"04E91C5A", "04A1B2C3"}


def create_server() -> Server:
    """The central system with all its listeners; the caller decides where it runs."""
    server = Server()

    @server.on("authorization")
    def authorize_charge_point(cp_id: str, handshake: Handshake) -> bool:
        return cp_id in KNOWN_CHARGE_POINTS

    @server.on("connection")
    def on_connection(client: ClientBase) -> None:
        @client.on("BootNotification")
        def boot(request: BootNotificationRequest) -> BootNotificationResponse:
            now = datetime.now(UTC).isoformat()
            return {"status": "Accepted", "interval": 300, "currentTime": now}

        @client.on("Authorize")
        def authorize(request: AuthorizeRequest) -> AuthorizeResponse:
            if request["idTag"] in VALID_ID_TAGS:
                return {"idTagInfo": {"status": "Accepted"}}
            return {"idTagInfo": {"status": "Invalid"}}

    return server


async def start_charging(server: Server, cp_id: str, id_tag: str) -> bool:
    """The back office asks a charge point to start charging; True if it accepted."""
    answer = await server.call_request(cp_id, "RemoteStartTransaction", {"idTag": id_tag})
    return bool(answer["status"] == "Accepted")


async def main(port: int, host: str) -> None:
    server = create_server()
    bound = await server.listen(port, host=host)
    print(f"listening on port {bound}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9220)
    parser.add_argument("--host", default="0.0.0.0")
    args = parser.parse_args()
    asyncio.run(main(args.port, args.host))
