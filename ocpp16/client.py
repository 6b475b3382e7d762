"""``Client``: an OCPP 1.6-J charge point over ``websockets``' sans-I/O layer."""

from __future__ import annotations

import asyncio
import os
import ssl as _ssl
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Unpack

from ocpp16._durable import durable_for
from ocpp16._transport import Transport
from ocpp16._wire_client import open_wire
from ocpp16.connection import ClientBase, Options
from ocpp16.errors import HandshakeError
from ocpp16.handshake import SUBPROTOCOL, basic_auth_header, url_for
from ocpp16.metrics import Metrics, metrics_for
from ocpp16.options import OptionKeywords
from ocpp16.protocol import Role
from ocpp16.security import SECURITY_PROFILES

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from ocpp16._durable import Durable
    from ocpp16.chargepoint._reconnect import Reconnect
    from ocpp16.store import Store, StoredCall

__all__ = ["Client"]


class Client(ClientBase):
    """An OCPP 1.6-J charge point (ocpp-ts: ``new Client('CP1111')``).

    Events: as :class:`~ocpp16.connection.ClientBase` (every action a charge
    point receives, ``"close"``, ``"error"``, ``"message"``,
    ``"bad_message"``), plus ``"connect"()`` each time a connection opens;
    with ``reconnect`` or ``store``: ``"reconnecting"(attempt, delay,
    error)``, ``"boot"(response)``, ``"message_dropped"(action, payload,
    error)`` and ``"queued_result"(action, request, response)`` (README "A
    charge point that loses nothing").

    Args:
        cp_id: The charge point id, sent as the last segment of the URL path.
        password: The AuthorizationKey, sent with HTTP Basic auth (user name:
            the charge point id) when given; bytes are sent as they are, text
            as UTF-8.
        security_profile: 0 (none, the default), or the OCPP 1.6-J security
            profile 1, 2 or 3 that ``connect`` must meet: 1 and 2 need a
            password, 2 and 3 a ``wss://`` URL, 3 an ``ssl`` context.
        reconnect: ``False`` (the default): one connection per ``connect``.
            ``True`` or a :class:`~ocpp16.Reconnect`: open the connection
            again after every drop, with that backoff; turns the offline
            queue and the boot gate on.
        store: Where the offline queue lives: a path (a
            :class:`~ocpp16.store.SQLiteStore`, opened now), a
            :class:`~ocpp16.store.Store`, or ``None`` (in memory when
            ``reconnect`` is on, else no queue). Giving one turns the queue on.
        queue_actions: The actions to queue; by default StartTransaction,
            StopTransaction, MeterValues with a transactionId, and
            SecurityEventNotification (OCPP 1.6 §4.7).
        max_queued: The most CALLs the queue holds (10,000).
        transaction_message_attempts: Attempts per queued CALL (3, OCPP 1.6 §9.1).
        transaction_message_retry_interval: Seconds between attempts, times the
            attempts made (60, OCPP 1.6 §9.1).
        boot_gate: Until a BootNotification is Accepted, send nothing else
            (OCPP 1.6 §4.2.1); on by default with ``reconnect``.
        boot_retry_interval: Seconds before BootNotification goes again when
            the last one failed or was answered with interval 0 (10).
        metrics: Count into Prometheus collectors (the ``metrics`` extra), as
            ``Server(metrics=...)`` does, the offline queue's depth, retries
            and drops included: ``True``, a ``CollectorRegistry``, or an
            :class:`~ocpp16.metrics.Metrics`. ``False`` (the default): off.
        **options: The options of :class:`~ocpp16.connection.Options`, typed by
            :class:`~ocpp16.options.OptionKeywords`.

    Raises:
        ValueError: An option out of range; a queue option without
            ``reconnect`` or ``store``.
        StoreError: The ``store`` cannot be used (damaged, locked, newer).
    """

    def __init__(
        self,
        cp_id: str,
        *,
        password: bytes | str | None = None,
        security_profile: int = 0,
        reconnect: Reconnect | bool = False,
        store: Store | str | os.PathLike[str] | None = None,
        queue_actions: Iterable[str] | None = None,
        max_queued: int | None = None,
        transaction_message_attempts: int | None = None,
        transaction_message_retry_interval: float | None = None,
        boot_gate: bool | None = None,
        boot_retry_interval: float | None = None,
        metrics: bool | CollectorRegistry | Metrics = False,
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
        # Done once the connection has ended and what was pending failed.
        self._reader: asyncio.Future[None] | None = None
        #: The :class:`~ocpp16.metrics.Metrics` observer of ``metrics``, or ``None``.
        self.metrics: Metrics | None = metrics_for(metrics)
        if self.metrics is not None:
            # Before the queue is made, so that its loaded depth is counted.
            self.add_observer(self.metrics)
        # The reconnecting, queueing, boot-gated layer; None keeps the plain code path.
        self._durable = durable_for(
            self,
            self._connect_once,
            reconnect=reconnect,
            store=store,
            queue_actions=queue_actions,
            max_queued=max_queued,
            transaction_message_attempts=transaction_message_attempts,
            transaction_message_retry_interval=transaction_message_retry_interval,
            boot_gate=boot_gate,
            boot_retry_interval=boot_retry_interval,
        )

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
        *,
        wait: bool = True,
    ) -> None:
        """Open the connection (ocpp-ts: ``connect(url, headers)``).

        With ``reconnect`` on it returns once a connection is open, trying
        again with the backoff meanwhile, and opens a new one after every
        drop until :meth:`close`.

        Args:
            url: The central system's base URL; the charge point id is appended.
            headers: Extra HTTP headers for the opening handshake.
            ssl: An ``SSLContext`` for ``wss://``; ``None`` uses the default
                context for ``wss://`` URLs.
            wait: ``False`` (with ``reconnect`` only) returns at once and
                connects in the background: a charge point that boots with no
                network still queues its transaction messages.

        Raises:
            ValueError: The URL or ``ssl`` do not meet ``security_profile``;
                ``wait=False`` without ``reconnect``.
            HandshakeError: The URL is not a WebSocket URL, the server refused
                the handshake (``.status`` says how), or it did not agree on
                the ``ocpp1.6`` subprotocol. With ``reconnect``: the last
                attempt's error, once the policy's ``attempts`` are spent.
            OSError: The server could not be reached (likewise).
            TimeoutError: The handshake did not complete in time (likewise).
            ConnectionClosed: :meth:`close` was called before a connection opened.
            RuntimeError: This client is already connected.
        """
        if self._durable is not None:
            await self._durable.connect(url, headers, ssl, wait)
            return
        if not wait:
            raise ValueError("connect(wait=False) connects in the background: it needs reconnect")
        await self._connect_once(url, headers, ssl)

    async def _connect_once(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        ssl: _ssl.SSLContext | None = None,
    ) -> None:
        """Open one connection; raises as :meth:`connect` does, and never tries again."""
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
        all_headers = self._handshake_headers(headers)
        opts = self._options
        try:
            ws = await open_wire(target, all_headers, ssl, opts, opts.logger.getChild("websockets"))
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
        self._start(ws, target)

    # The transport seam: connect() opens a websockets connection and hands it
    # to _start; another transport (the in-memory pair of ocpp16.testing) does
    # the same with its own, so everything above the wire is shared.

    def _handshake_headers(self, headers: Mapping[str, str] | None) -> dict[str, str]:
        """The opening handshake's HTTP headers: ``headers`` and the Basic auth, if any."""
        all_headers = dict(headers) if headers else {}
        if self._password is not None:
            # Security white paper profiles 1 and 2: Basic auth, user name = id.
            all_headers["Authorization"] = basic_auth_header(self.cp_id, self._password)
        return all_headers

    def _start(self, transport: Transport, target: str) -> None:
        """Run over an open transport: attach it, start reading, announce ``"connect"``."""
        self._attach(transport)
        self._reader = self._start_reading()
        self.logger.info("connected to %s", target)
        self._emit_safe("connect")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with ``code`` (1000) once running handlers have replied.

        As :meth:`ClientBase.close`: CALLs that arrive meanwhile get no handler
        and no answer, the replies of running handlers go out within
        ``handler_timeout``, then the close frame. Returns once the connection
        is closed and its reader has finished (in a handler of this client,
        once the connection is closed).

        Args:
            code: The WebSocket close code.
            reason: The close reason.
        """
        if self._durable is not None and not self._durable.closing:
            # Stops reconnecting and every task of the queue, then comes back here.
            await self._durable.close(code, reason)
            return
        await super().close(code, reason)
        # A handler that closes its own client must not wait for the reader,
        # which waits for the handlers, itself included.
        handling = self._dispatch.tasks
        if self._reader is not None and (not handling or asyncio.current_task() not in handling):
            await self._reader

    def _call_request(
        self,
        action: str,
        payload: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        message_id: str | None = None,
    ) -> asyncio.Future[Any]:
        """Send a CALL; return a future of its CALLRESULT payload (ocpp-ts: ``callRequest``).

        As :meth:`ClientBase.call_request <ocpp16.connection.ClientBase.call_request>`.
        With ``reconnect`` or ``store``, a queued action is stored before this
        returns and sent when the connection allows, its timeout running only
        while it is out; other CALLs wait for the connection (and the boot
        gate) within their timeout (README "A charge point that loses nothing").
        """
        if self._durable is None:
            return super()._call_request(action, payload, timeout=timeout, message_id=message_id)
        return self._durable.call_request(action, payload, timeout, message_id)

    if not TYPE_CHECKING:
        # Type checkers read TypedCalls.call_request: one overload per action.
        call_request = _call_request

    @property
    def reconnect_policy(self) -> Reconnect | None:
        """The backoff this client reconnects with (``reconnect``); ``None`` when it does not."""
        return None if self._durable is None else self._durable.policy

    @property
    def boot_gate(self) -> bool:
        """Whether only BootNotification goes out until one is Accepted (OCPP 1.6 §4.2.1)."""
        return self._durable is not None and self._durable.boot_gate

    @property
    def transaction_message_attempts(self) -> int | None:
        """Attempts per queued CALL (OCPP 1.6 §9.1 TransactionMessageAttempts), or ``None``.

        ``None`` for a client without a queue.

        Settable, for a ChangeConfiguration of the key: a new value applies
        from the next attempt.

        Raises:
            ValueError: Set to a value out of range, or on a client without a queue.
        """
        return None if self._durable is None else self._durable.attempts

    @transaction_message_attempts.setter
    def transaction_message_attempts(self, value: int) -> None:
        self._queue_option("transaction_message_attempts").attempts = value

    @property
    def transaction_message_retry_interval(self) -> float | None:
        """Seconds between attempts, times the attempts made (OCPP 1.6 §9.1), or ``None``.

        ``None`` for a client without a queue.

        Settable, for a ChangeConfiguration of TransactionMessageRetryInterval:
        a new value applies from the next wait.

        Raises:
            ValueError: Set to a value out of range, or on a client without a queue.
        """
        return None if self._durable is None else self._durable.retry_interval

    @transaction_message_retry_interval.setter
    def transaction_message_retry_interval(self, value: float) -> None:
        self._queue_option("transaction_message_retry_interval").retry_interval = value

    def _queue_option(self, name: str) -> Durable:
        if self._durable is None:
            raise ValueError(f"{name}: this client has no queue (no reconnect=... or store=...)")
        return self._durable

    def queued(self) -> list[StoredCall]:
        """Return the CALLs in the offline queue, in order (a snapshot).

        After a restart, a queued StartTransaction's entry may stand for its
        transactionId in a later payload, as its future does:
        ``{"transactionId": stored_call, ...}``.

        Returns:
            The queued CALLs (empty without a queue).
        """
        return [] if self._durable is None else self._durable.queued()
