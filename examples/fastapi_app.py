"""A web app with the central system inside: FastAPI and OCPP on one port, under uvicorn.

Run:  python examples/fastapi_app.py [--port 8000] [--host 0.0.0.0] [--once]

Charge points connect to ws://HOST:PORT/ocpp/CP_ID; the operator's UI resets one with
    curl -X POST http://HOST:PORT/chargers/CP_ID/reset
With --once it stops after the first charge point disconnects.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, HTTPException

from ocpp16 import ClientBase, NotConnected, OcppError, Server
from ocpp16.types import ResetResponse

server = Server()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # A mounted app gets no lifespan events of its own: the web app closes the server.
    yield
    await server.close()


app = FastAPI(lifespan=lifespan)
app.mount("/ocpp", server.asgi())  # charge points: ws://host:port/ocpp/CP_ID


@server.on("connection")
def on_connection(client: ClientBase) -> None:
    print(f"{client.cp_id} connected", flush=True)


@app.post("/chargers/{cp_id}/reset")
async def reset(cp_id: str) -> dict[str, str]:
    """Ask a charge point to reset (OCPP 1.6 §5.14), and say what it answered."""
    try:
        answer: ResetResponse = await server.call_request(cp_id, "Reset", {"type": "Soft"})
    except NotConnected:
        raise HTTPException(404, f"{cp_id} is not connected") from None
    except OcppError as exc:
        raise HTTPException(502, f"{cp_id} answered {exc.code}: {exc.description}") from None
    return {"status": answer["status"]}


async def main(port: int, host: str, once: bool) -> None:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        # The WebSocket settings are uvicorn's now (listen() would take them from the Server).
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        ws_max_size=1 << 20,
    )
    web = uvicorn.Server(config)
    serving = asyncio.create_task(web.serve())
    while not web.started and not serving.done():
        await asyncio.sleep(0.01)
    if web.started:
        print(f"listening on port {web.servers[0].sockets[0].getsockname()[1]}", flush=True)
    if once:

        @server.on("connection")
        def stop_after(client: ClientBase) -> None:
            client.on("close", lambda code, reason: setattr(web, "should_exit", True))

    await serving


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--once", action="store_true", help="stop after one charge point")
    args = parser.parse_args()
    asyncio.run(main(args.port, args.host, args.once))
