"""``ocpp16`` mounted in a web app: ``server.asgi()`` under uvicorn; its ``Client`` as the peer.

The same central system as ``impl_ocpp16.py`` (``make_server``), served by uvicorn
(``ws="websockets-sansio"``, the default where websockets is installed) instead of
``listen()``; the client is ``impl_ocpp16.py``'s. ``--no-ping`` sets uvicorn's
``ws_ping_interval=None``.
"""

from __future__ import annotations

import asyncio

import uvicorn
from benchlib import HOST, announce_port, run_impl
from impl_ocpp16 import make_server, round_trips


async def serve_forever(delay: float, no_ping: bool) -> None:
    server = make_server(delay, no_ping)
    config = uvicorn.Config(
        server.asgi(),
        host=HOST,
        port=0,
        log_level="warning",
        lifespan="off",
        ws_ping_interval=None if no_ping else 20.0,
        ws_max_size=server.options.max_message_size or 16 * 1024 * 1024,
    )
    web = uvicorn.Server(config)
    serving = asyncio.create_task(web.serve())
    while not web.started:
        if serving.done():
            await serving  # it failed to start: say why
            return
        await asyncio.sleep(0.01)
    announce_port(web.servers[0].sockets[0].getsockname()[1])
    await serving


if __name__ == "__main__":
    run_impl(serve_forever, round_trips)
