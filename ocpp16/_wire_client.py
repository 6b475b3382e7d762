"""A charge point's connection on ``websockets``' sans-I/O layer.

:func:`open_wire` opens the TCP (or TLS) connection with
``loop.create_connection``, sends the opening handshake of a
``websockets.client.ClientProtocol`` and returns the :class:`ClientWire` once
the server accepted it; ``handshake_timeout`` bounds all of it. The
exceptions of ``websockets`` are left to the caller (``Client``), which
translates them.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as _ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING

from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
from websockets.http11 import USER_AGENT, Response
from websockets.protocol import State
from websockets.uri import parse_uri

from ocpp16._wire import Wire
from ocpp16.handshake import SUBPROTOCOL

if TYPE_CHECKING:
    from websockets.protocol import Event

    from ocpp16.options import Options

__all__ = ["ClientWire", "open_wire"]


class ClientWire(Wire):
    """The charge point's end of one connection."""

    __slots__ = ("_answered",)

    ws: ClientProtocol

    def __init__(self, ws: ClientProtocol, options: Options) -> None:
        super().__init__(
            ws,
            ping_interval=options.ping_interval,
            ping_timeout=options.ping_timeout,
            close_timeout=options.close_timeout,
        )
        # Resolved when the handshake's answer came, failed, or the connection went.
        self._answered: asyncio.Future[None] = self._loop.create_future()

    def _handshake_event(self, event: Event) -> None:
        if isinstance(event, Response):
            self._handshake_progress()

    def _handshake_progress(self) -> None:
        if not self._answered.done():
            self._answered.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        """As :meth:`Wire.connection_lost`; a handshake waiting for its answer fails."""
        super().connection_lost(exc)
        self._handshake_progress()

    async def open(self, headers: Mapping[str, str] | None) -> None:
        """Send the opening handshake and wait for the server's answer.

        Raises:
            websockets.exceptions.InvalidHandshake: The server refused it
                (``InvalidStatus``) or answered something else than a handshake.
        """
        ws = self.ws
        request = ws.connect()
        if headers:
            request.headers.update(headers)
        request.headers.setdefault("User-Agent", USER_AGENT)
        ws.send_request(request)
        self._flush()
        await self._answered
        if ws.handshake_exc is not None:
            self.abort()
            raise ws.handshake_exc
        if ws.state is not State.OPEN:  # pragma: no cover - lost without a parse error
            raise ConnectionError("the connection closed during the opening handshake")
        self._opened()


async def open_wire(
    url: str,
    headers: Mapping[str, str] | None,
    ssl: _ssl.SSLContext | None,
    options: Options,
    logger: logging.Logger,
) -> ClientWire:
    """Open a WebSocket connection to ``url`` offering ``ocpp1.6``.

    Args:
        url: A ``ws://`` or ``wss://`` URL.
        headers: Extra HTTP headers for the opening handshake.
        ssl: The TLS context for ``wss://``; ``None`` uses the default one.
        options: The connection's options.
        logger: The logger of ``websockets``' own lines.

    Returns:
        The open connection.

    Raises:
        websockets.exceptions.InvalidURI: ``url`` is not a WebSocket URL.
        websockets.exceptions.InvalidHandshake: The handshake failed.
        ValueError: ``ssl`` with a ``ws://`` URL.
        OSError: The server could not be reached.
        TimeoutError: It took longer than ``handshake_timeout``.
    """
    uri = parse_uri(url)
    if uri.secure:
        if ssl is None:
            ssl = _ssl.create_default_context()
    elif ssl is not None:
        raise ValueError("ssl argument is incompatible with a ws:// URI")
    loop = asyncio.get_running_loop()
    ws = ClientProtocol(
        uri,
        # Per-message deflate, offered (websockets' default, SECURITY.md).
        extensions=enable_client_permessage_deflate(None),
        subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
        max_size=options.max_message_size,
        logger=logger,
    )
    wire: ClientWire | None = None
    try:
        async with asyncio.timeout(options.handshake_timeout):
            _, wire = await loop.create_connection(
                lambda: ClientWire(ws, options),
                uri.host,
                uri.port,
                ssl=ssl,
                server_hostname=uri.host if ssl is not None else None,
            )
            await wire.open(headers)
    except BaseException:
        if wire is not None:
            wire.abort()
        raise
    return wire
