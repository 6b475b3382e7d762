"""The charge point of the ocpp-ts README, in Python (the README's second example).

Run:  python examples/charge_point.py [ws://localhost:9220/webServices/ocpp/]

It connects as CP1111 (the id is appended to the URL), sends a BootNotification,
prints the answer (or the CALLERROR), and closes.
"""

from __future__ import annotations

import asyncio
import sys

from ocpp16 import Client, OcppError


async def main(url: str) -> None:
    client = Client("CP1111")
    await client.connect(url)  # joins URL + "/" + quoted id
    try:
        resp = await client.call_request(
            "BootNotification", {"chargePointVendor": "eParking", "chargePointModel": "NECU-T2"}
        )
        print(f"BootNotification answered: {resp['status']}, heartbeat every {resp['interval']} s")
    except OcppError as e:
        print(e.code, e.description)
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "ws://localhost:9220/webServices/ocpp/"))
