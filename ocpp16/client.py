"""``Client``: an OCPP 1.6-J charge point over ``websockets.asyncio``."""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections.abc import Mapping
from typing import Any, Unpack

from ocpp16._ws_transport import WebSocketTransport
from ocpp16.connection import ClientBase, Options
from ocpp16.errors import HandshakeError
from ocpp16.handshake import SUBPROTOCOL, basic_auth_header, url_for
from ocpp16.options import OptionKeywords
from ocpp16.protocol import Role
from ocpp16.security import SECURITY_PROFILES

__all__ = ["Client"]


class Client(ClientBase):
    """An OCPP 1.6-J charge point (ocpp-ts: ``new Client('CP1111')``).

    Events: as :class:`~ocpp16.connection.ClientBase` (every action a charge
    point receives, ``"close"``, ``"error"``, ``"message"``,
    ``"bad_message"``), plus ``"connect"()`` once the connection is open.

    Args:
        cp_id: The charge point id, sent as the last segment of the URL path.
        password: The AuthorizationKey, sent with HTTP Basic auth (user name:
            the charge point id) when given; bytes are sent as they are, text
            as UTF-8.
        security_profile: 0 (none, the default), or the OCPP 1.6-J security
            profile 1, 2 or 3 that ``connect`` must meet: 1 and 2 need a
            password, 2 and 3 a ``wss://`` URL, 3 an ``ssl`` context.
        **options: The options of :class:`~ocpp16.connection.Options`, typed by
            :class:`~ocpp16.options.OptionKeywords`.
    """

    def __init__(
        self,
        cp_id: str,
        *,
        password: bytes | str | None = None,
        security_profile: int = 0,
        **options: Unpack[OptionKeywords],
    ) -> None:
        if not isinstance(cp_id, str) or not cp_id:
            raise ValueError(f"the charge point id must be a non-empty string, not {cp_id!r}")
        if security_profile not in SECURITY_PROFILES:
            raise ValueError(f"security_profile must be 0, 1, 2 or 3, not {security_profile!r}")
        if security_profile in (1, 2) and password is None:
            raise ValueError(
                f"security profile {security_profile} authenticates by password: "
                "pass Client(..., password=...) (the AuthorizationKey)"
            )
        super().__init__(cp_id, role=Role.CHARGE_POINT, options=Options(**options))
        self.security_profile = security_profile
        self._password = password.encode("utf-8") if isinstance(password, str) else password
        self._reader: asyncio.Task[None] | None = None

    def url_for(self, base: str) -> str:
        """Return the URL this charge point connects to for a central system's base URL.

        Args:
            base: The central system's URL, such as ``"ws://host:9220/ocpp/"``.

        Returns:
            ``base`` without trailing slashes, ``"/"``, and the percent-quoted id.
        """
        return url_for(base, self.cp_id)

    async def connect(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        ssl: _ssl.SSLContext | None = None,
    ) -> None:
        """Open the connection (ocpp-ts: ``connect(url, headers)``).

        Args:
            url: The central system's base URL; the charge point id is appended.
            headers: Extra HTTP headers for the opening handshake.
            ssl: An ``SSLContext`` for ``wss://``; ``None`` uses the default
                context for ``wss://`` URLs.

        Raises:
            ValueError: The URL or ``ssl`` do not meet ``security_profile``.
            HandshakeError: The URL is not a WebSocket URL, the server refused
                the handshake (``.status`` says how), or it did not agree on
                the ``ocpp1.6`` subprotocol.
            OSError: The server could not be reached.
            TimeoutError: The handshake did not complete in time.
            RuntimeError: This client is already connected.
        """
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

        if self.is_open:
            raise RuntimeError(f"{self.cp_id} is already connected")
        target = self.url_for(url)
        profile = self.security_profile
        if profile >= 2 and not target.startswith("wss://"):
            raise ValueError(f"security profile {profile} needs TLS: connect to a wss:// URL")
        if profile == 3 and ssl is None:
            raise ValueError(
                "security profile 3 authenticates by certificate: pass connect(ssl=...) with "
                "the charge point's certificate (ocpp16.security.client_ssl_context(certfile=...))"
            )
        all_headers = dict(headers) if headers else {}
        if self._password is not None:
            # Security white paper profiles 1 and 2: Basic auth, user name = id.
            all_headers["Authorization"] = basic_auth_header(self.cp_id, self._password)
        opts = self._options
        kwargs: dict[str, Any] = {}
        if ssl is not None:
            kwargs["ssl"] = ssl
        try:
            ws = await connect(
                target,
                subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                additional_headers=all_headers or None,
                max_size=opts.max_message_size,
                ping_interval=opts.ping_interval,
                ping_timeout=opts.ping_timeout,
                open_timeout=opts.handshake_timeout,
                close_timeout=opts.close_timeout,
                logger=opts.logger.getChild("websockets"),
                **kwargs,
            )
        except InvalidURI as exc:
            raise HandshakeError(f"{target!r} is not a WebSocket URL: {exc}") from None
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = exc.response.body.decode("utf-8", "replace").strip() if exc.response.body else ""
            raise HandshakeError(
                f"{target} refused the connection with HTTP {status}"
                + (f": {body}" if body else ""),
                status,
            ) from None
        except InvalidHandshake as exc:
            raise HandshakeError(f"the opening handshake with {target} failed: {exc}") from None
        if ws.subprotocol != SUBPROTOCOL:
            # OCPP-J 1.6 §3.2 (server response): the server must agree on ocpp1.6.
            await ws.close(1002, "subprotocol ocpp1.6 not agreed")
            raise HandshakeError(
                f"{target} did not agree on the subprotocol {SUBPROTOCOL} "
                f"(it answered {ws.subprotocol!r})"
            )
        self._attach(WebSocketTransport(ws))
        self._reader = asyncio.create_task(self._run())
        self.logger.info("connected to %s", target)
        self._emit_safe("connect")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with ``code`` (1000) and wait until it is closed.

        Args:
            code: The WebSocket close code.
            reason: The close reason.
        """
        await super().close(code, reason)
        if self._reader is not None:
            await self._reader
