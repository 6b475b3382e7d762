"""``ocpp16 serve``: a central system that accepts charge points and prints what they say."""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TextIO

from rich.console import Console

from ocpp16 import ClientBase, Handshake, Server

from .central import CentralSystem
from .output import MessageLog

__all__ = ["ServeConfig", "run_server"]


@dataclass
class ServeConfig:
    """How ``ocpp16 serve`` runs.

    Attributes:
        host: The address to bind.
        port: The TCP port; 0 picks a free one.
        passwords: The Basic-auth password of each charge point that may
            connect; ``None`` accepts every charge point.
        ssl: The TLS context, for ``wss://``.
        heartbeat_interval: The interval of accepted boots, in seconds.
        validation: The validation mode of every connection.
        json_lines: Print JSON lines instead of text lines.
    """

    host: str = "0.0.0.0"
    port: int = 9220
    passwords: Mapping[str, str] | None = None
    ssl: _ssl.SSLContext | None = None
    heartbeat_interval: int = 60
    validation: Literal["strict", "warn", "off"] = "strict"
    json_lines: bool = False


async def run_server(
    config: ServeConfig,
    stop: asyncio.Event,
    *,
    console: Console,
    err: Console,
    json_stream: TextIO,
    on_listening: Callable[[int], None] | None = None,
) -> int:
    """Serve until ``stop`` is set, then close every connection (1001) and return.

    Args:
        config: How to serve.
        stop: Set it to stop (Ctrl-C).
        console: Where message lines go.
        err: Where the banner and the closing line go.
        json_stream: Where JSON lines go, with ``config.json_lines``.
        on_listening: Called with the bound port once the server listens.

    Returns:
        The exit status: 0.

    Raises:
        OSError: The address could not be bound.
    """
    central = CentralSystem(
        heartbeat_interval=config.heartbeat_interval, passwords=config.passwords
    )
    # Security white paper: passwords make profile 1, or 2 over TLS.
    profile = 0 if config.passwords is None else (2 if config.ssl is not None else 1)
    server = Server(security_profile=profile, validation=config.validation)
    log = MessageLog(
        "central", console=console, json_stream=json_stream if config.json_lines else None
    )
    seen: set[str] = set()

    if config.passwords is not None:
        passwords = config.passwords

        def authorize(cp_id: str, handshake: Handshake) -> bool:
            accepted = central.authorize(cp_id, handshake)
            if not accepted:
                why = "unknown charge point" if cp_id not in passwords else "wrong password"
                log.event(cp_id, "refused", f"HTTP 401: {why} (from {handshake.remote_address})")
            return accepted

        server.on("authorization", authorize)

    @server.on("connection")
    def on_connection(connection: ClientBase) -> None:
        seen.add(connection.cp_id)
        central.attach(connection)
        log.attach(connection)
        address = connection.remote_address
        where = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
        log.event(connection.cp_id, "connected", f"from {where}")

    port = await server.listen(config.port, host=config.host, ssl=config.ssl)
    scheme = "wss" if config.ssl is not None else "ws"
    auth = "charge points in the passwords file" if config.passwords else "every charge point"
    err.print(
        f"ocpp16 serve: listening on {scheme}://{config.host}:{port}/ (accepting {auth}); "
        f"connect to {scheme}://HOST:{port}/ANY/PATH/CP_ID. Ctrl-C stops.",
        highlight=False,
        soft_wrap=True,
    )
    if on_listening is not None:
        on_listening(port)
    try:
        await stop.wait()
    finally:
        await server.close()
    err.print(
        f"ocpp16 serve: stopped; {len(seen)} charge points, {log.messages:,} messages, "
        f"{central.transactions_started} transactions started",
        highlight=False,
        soft_wrap=True,
    )
    return 0
