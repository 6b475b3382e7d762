"""A charge point that loses nothing: reconnecting, the offline queue, retries, boot gating.

:class:`Durable` is the part of a :class:`~ocpp16.Client` made with
``reconnect`` on or a ``store``; a ``Client`` without them never creates one
and takes the plain code path. It does four things, each per OCPP 1.6:

* **Reconnecting** with the backoff of a :class:`~ocpp16.Reconnect`
  (``"reconnecting"(attempt, delay, error)`` before each wait).
* **The offline queue** (§4.7): transaction-related CALLs go to a
  :class:`~ocpp16.store.Store` before ``call_request`` returns, and out one at
  a time, in the order made, whenever the connection allows; a bound drops
  MeterValues first.
* **Retries** (§9.1 TransactionMessageAttempts and
  TransactionMessageRetryInterval): a CALLERROR, or no answer on an open
  connection, is an attempt; a lost connection is not.
* **Boot gating** (§4.2.1): until a BootNotification is Accepted only
  BootNotification goes out, Pending and Rejected are asked again after their
  interval, and while Rejected incoming CALLs get no answer.

Every wait is on the event loop's clock (``asyncio.sleep``, ``asyncio.timeout``).
"""

from __future__ import annotations

import asyncio
import enum
import os
import random
import ssl as _ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from ocpp16._dispatch import Dispatcher
from ocpp16._offline import OfflineQueue, make_store, queue_policy
from ocpp16.chargepoint._reconnect import Reconnect
from ocpp16.connection import ClientBase
from ocpp16.errors import (
    CallTimeout,
    ConnectionClosed,
    HandshakeError,
    Ocpp16Error,
    ValidationError,
)
from ocpp16.store import Store, StoredCall
from ocpp16.validation import validate

if TYPE_CHECKING:
    from ocpp16.protocol import CallReceived

__all__ = ["BootState", "Durable", "LinkState", "durable_for"]

# Seconds before the next BootNotification when the last one failed or its answer
# gave no interval: OCPP 1.6 §4.2.1 leaves it to the charge point.
BOOT_RETRY_INTERVAL: Final = 10.0

_Connect = Callable[[str, Mapping[str, str] | None, _ssl.SSLContext | None], Awaitable[None]]


def durable_for(
    client: ClientBase,
    connect_once: _Connect,
    *,
    reconnect: Reconnect | bool,
    store: Store | str | os.PathLike[str] | None,
    queue_actions: Iterable[str] | None,
    max_queued: int | None,
    transaction_message_attempts: int | None,
    transaction_message_retry_interval: float | None,
    boot_gate: bool | None,
    boot_retry_interval: float | None,
) -> Durable | None:
    """Check a ``Client``'s options of this layer; return its :class:`Durable`, or ``None``.

    ``None`` (the plain code path) when ``reconnect`` is off and no ``store``
    is given; the other options then must not be given either.

    Raises:
        ValueError: An option out of range, or given without ``reconnect`` or ``store``.
        TypeError: ``reconnect``, ``store`` or ``queue_actions`` of the wrong type.
        StoreError: The store cannot be read.
    """
    if isinstance(reconnect, bool):
        policy = Reconnect() if reconnect else None
    elif isinstance(reconnect, Reconnect):
        policy = reconnect
    else:
        raise TypeError(f"reconnect must be a bool or a Reconnect, not {reconnect!r}")
    if policy is None and store is None:
        given = {
            "queue_actions": queue_actions,
            "max_queued": max_queued,
            "transaction_message_attempts": transaction_message_attempts,
            "transaction_message_retry_interval": transaction_message_retry_interval,
            "boot_gate": boot_gate or None,
            "boot_retry_interval": boot_retry_interval,
        }
        named = [name for name, value in given.items() if value is not None]
        if named:
            raise ValueError(
                f"{', '.join(named)}: the offline queue is on only with reconnect=... or store=..."
            )
        return None
    return Durable(
        client,
        connect_once,
        reconnect=policy,
        store=make_store(store),
        queue_actions=queue_policy(queue_actions),
        max_queued=_count("max_queued", 10_000 if max_queued is None else max_queued),
        attempts=_count(
            "transaction_message_attempts",
            3 if transaction_message_attempts is None else transaction_message_attempts,
        ),
        retry_interval=_seconds(
            "transaction_message_retry_interval",
            60.0
            if transaction_message_retry_interval is None
            else transaction_message_retry_interval,
        ),
        boot_gate=policy is not None if boot_gate is None else bool(boot_gate),
        boot_retry_interval=_seconds(
            "boot_retry_interval",
            BOOT_RETRY_INTERVAL if boot_retry_interval is None else boot_retry_interval,
        ),
    )


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int of at least 1, not {value!r}")
    return value


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e9:
        raise ValueError(f"{name} must be a number of seconds, 0 or more, not {value!r}")
    return float(value)


class LinkState(enum.Enum):
    """The connection as the reconnect loop sees it.

    Transitions: ``IDLE → CONNECTING`` (connect); ``CONNECTING → OPEN`` or
    ``→ WAITING`` (the attempt failed) or ``→ IDLE`` (given up); ``OPEN →
    WAITING`` (dropped) or ``→ IDLE`` (dropped, no reconnect); ``WAITING →
    CONNECTING``; any → ``IDLE`` on close.
    """

    IDLE = "idle"
    CONNECTING = "connecting"
    OPEN = "open"
    WAITING = "waiting"


_LINK_TRANSITIONS: Final[dict[LinkState, frozenset[LinkState]]] = {
    LinkState.IDLE: frozenset({LinkState.CONNECTING, LinkState.OPEN, LinkState.IDLE}),
    LinkState.CONNECTING: frozenset({LinkState.OPEN, LinkState.WAITING, LinkState.IDLE}),
    LinkState.OPEN: frozenset({LinkState.WAITING, LinkState.IDLE}),
    LinkState.WAITING: frozenset({LinkState.CONNECTING, LinkState.IDLE}),
}


class BootState(enum.Enum):
    """Where the charge point stands with its central system (OCPP 1.6 §4.2.1).

    Transitions: ``UNBOOTED →`` the status of each answer (``PENDING``,
    ``REJECTED``, ``ACCEPTED``); ``PENDING``/``REJECTED →`` likewise; and any
    state ``→ UNBOOTED`` when the application sends BootNotification again
    (it booted again). ``ACCEPTED`` holds across reconnects.
    """

    UNBOOTED = "unbooted"
    PENDING = "Pending"
    REJECTED = "Rejected"
    ACCEPTED = "Accepted"


_ANSWERED: Final = frozenset({BootState.PENDING, BootState.REJECTED, BootState.ACCEPTED})
_BOOT_TRANSITIONS: Final[dict[BootState, frozenset[BootState]]] = {
    BootState.UNBOOTED: _ANSWERED | {BootState.UNBOOTED},
    BootState.PENDING: _ANSWERED | {BootState.UNBOOTED},
    BootState.REJECTED: _ANSWERED | {BootState.UNBOOTED},
    BootState.ACCEPTED: frozenset({BootState.UNBOOTED}),
}


class _GatedDispatcher(Dispatcher):
    """A dispatcher that runs no handler while the central system has Rejected the boot."""

    __slots__ = ("_durable",)

    def __init__(self, client: ClientBase, durable: Durable) -> None:
        super().__init__(client, client._listeners, client.options)
        self._durable = durable

    def handle(self, event: CallReceived) -> None:
        """Run the listeners of one incoming CALL, unless the boot is Rejected."""
        if self._durable.boot_state is BootState.REJECTED:
            # OCPP 1.6 §4.2.1: while Rejected the charge point does not answer
            # the central system's requests (not later either).
            self.logger.info(
                "not answering %s (%s): the BootNotification was Rejected",
                event.action,
                event.message_id,
            )
            return
        super().handle(event)


class Durable:
    """The reconnecting, queueing, boot-gated part of one :class:`~ocpp16.Client`.

    Args:
        client: The client.
        connect_once: Opens one connection of the client (``Client.connect``
            without this layer); raises as that does.
        reconnect: The backoff, or ``None`` for no reconnecting.
        store: The queue's store.
        queue_actions: The actions to queue (MeterValues only with a transactionId).
        max_queued: The bound.
        attempts: TransactionMessageAttempts (§9.1).
        retry_interval: TransactionMessageRetryInterval, seconds (§9.1).
        boot_gate: Hold everything but BootNotification until Accepted (§4.2.1).
        boot_retry_interval: Seconds before the next BootNotification when an
            answer gave no interval, or the CALL failed.
        rng: The source of the backoff's jitter.

    Raises:
        StoreError: The store cannot be read.

    Attributes:
        closing: True from ``close()`` until the next ``connect()``.
        link: The connection's :class:`LinkState`.
        boot_state: The :class:`BootState`.
        boot_gate: As given.
    """

    def __init__(
        self,
        client: ClientBase,
        connect_once: _Connect,
        *,
        reconnect: Reconnect | None,
        store: Store,
        queue_actions: frozenset[str],
        max_queued: int,
        attempts: int,
        retry_interval: float,
        boot_gate: bool,
        boot_retry_interval: float,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._connect_once = connect_once
        self._policy = reconnect
        self.boot_gate = boot_gate
        self._boot_retry = boot_retry_interval
        self._rng = rng
        self.closing = False
        self.link = LinkState.IDLE
        self.boot_state = BootState.UNBOOTED
        # Set while a connection is open; and while it is open and the boot gate lets CALLs out.
        self._open = asyncio.Event()
        self._ready = asyncio.Event()
        self._queue = OfflineQueue(
            client,
            store,
            actions=queue_actions,
            max_queued=max_queued,
            attempts=attempts,
            retry_interval=retry_interval,
            ready=self._ready,
            check_open=self._check_open,
        )
        self._supervisor: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._booter: asyncio.Task[None] | None = None
        self._first: asyncio.Future[None] | None = None
        self._boot_payload: dict[str, Any] | None = None
        self._boot_timeout: float | None = None
        self._boot_futures: list[asyncio.Future[dict[str, Any]]] = []
        # Non-queued CALLs waiting for the connection (or the gate): their futures and tasks.
        self._waiting: dict[asyncio.Future[dict[str, Any]], asyncio.Task[None]] = {}
        if boot_gate:
            client._dispatch = _GatedDispatcher(client, self)

    def queued(self) -> list[StoredCall]:
        """The queued CALLs, in order, as a snapshot."""
        return self._queue.queued()

    @property
    def policy(self) -> Reconnect | None:
        """The backoff, or ``None`` for no reconnecting."""
        return self._policy

    @property
    def attempts(self) -> int:
        """TransactionMessageAttempts in force (§9.1)."""
        return self._queue.attempts

    @attempts.setter
    def attempts(self, value: int) -> None:
        self._queue.attempts = _count("transaction_message_attempts", value)

    @property
    def retry_interval(self) -> float:
        """TransactionMessageRetryInterval in force, seconds (§9.1)."""
        return self._queue.retry_interval

    @retry_interval.setter
    def retry_interval(self, value: float) -> None:
        self._queue.retry_interval = _seconds("transaction_message_retry_interval", value)

    # ------------------------------------------------------------------ state

    def _set_link(self, new: LinkState) -> None:
        if new not in _LINK_TRANSITIONS[self.link]:
            raise AssertionError(f"link cannot go from {self.link.name} to {new.name}")
        self.link = new

    def _set_boot(self, new: BootState) -> None:
        if new not in _BOOT_TRANSITIONS[self.boot_state]:
            raise AssertionError(f"boot cannot go from {self.boot_state.name} to {new.name}")
        self.boot_state = new
        self._update_ready()

    def _update_ready(self) -> None:
        if self._open.is_set() and (not self.boot_gate or self.boot_state is BootState.ACCEPTED):
            self._ready.set()
        else:
            self._ready.clear()

    def _check_open(self) -> bool:
        """Tell whether the connection is open; forget a stale "open" (it just dropped)."""
        if self._client.is_open:
            return True
        self._open.clear()
        self._ready.clear()
        return False

    # ------------------------------------------------------------------ connecting

    async def connect(
        self,
        url: str,
        headers: Mapping[str, str] | None,
        ssl: _ssl.SSLContext | None,
        wait: bool,
    ) -> None:
        """``Client.connect`` with reconnecting and the queue; see there."""
        client = self._client
        if client.is_open or (self._supervisor is not None and not self._supervisor.done()):
            raise RuntimeError(f"{client.cp_id} is already connected or connecting")
        if self._policy is None and not wait:
            raise ValueError("connect(wait=False) connects in the background: it needs reconnect")
        self.closing = False
        self._queue.start()
        if self._policy is None:
            if self._watcher is not None:  # of the last connection, which has ended
                self._watcher.cancel()
                self._watcher = None
                if self.link is LinkState.OPEN:
                    self._set_link(LinkState.IDLE)
            self._set_link(LinkState.CONNECTING)
            try:
                await self._connect_once(url, headers, ssl)
            except BaseException:
                self._set_link(LinkState.IDLE)
                raise
            self._opened()
            self._watcher = asyncio.create_task(self._watch())
            return
        loop = asyncio.get_running_loop()
        self._first = loop.create_future() if wait else None
        self._supervisor = asyncio.create_task(self._supervise(url, headers, ssl))
        if self._first is None:
            return
        try:
            await self._first
        except asyncio.CancelledError:
            # The caller gave up waiting: stop connecting too.
            self._supervisor.cancel()
            raise
        finally:
            self._first = None

    def _opened(self) -> None:
        """A connection just opened (``"connect"`` has been emitted)."""
        self._set_link(LinkState.OPEN)
        self._open.set()
        self._update_ready()
        if (
            self.boot_gate
            and self.boot_state is not BootState.ACCEPTED
            and self._boot_payload is None
        ):
            self._client.logger.info(
                "connected; the boot gate holds every CALL until the application's "
                "BootNotification is Accepted (OCPP 1.6 §4.2.1)"
            )

    def _dropped(self) -> None:
        self._open.clear()
        self._ready.clear()

    async def _watch(self) -> None:
        """Without reconnecting: note when the connection ends."""
        await self._client.wait_closed()
        self._dropped()
        self._set_link(LinkState.IDLE)

    async def _supervise(
        self, url: str, headers: Mapping[str, str] | None, ssl: _ssl.SSLContext | None
    ) -> None:
        """Connect, and connect again after every drop, with the policy's backoff."""
        policy = self._policy
        assert policy is not None
        client = self._client
        loop = asyncio.get_running_loop()
        failures = 0  # connection attempts in a row that failed
        step = 0  # waits since the backoff last started over
        try:
            while True:
                self._set_link(LinkState.CONNECTING)
                try:
                    await self._connect_once(url, headers, ssl)
                except (HandshakeError, OSError, TimeoutError) as exc:
                    failures += 1
                    if policy.attempts is not None and failures >= policy.attempts:
                        client.logger.warning(
                            "giving up after %d connection attempt(s): %s", failures, exc
                        )
                        self._set_link(LinkState.IDLE)
                        self._finish_first(exc)
                        return
                    error: BaseException = exc
                else:
                    failures = 0
                    opened = loop.time()
                    self._opened()
                    self._finish_first(None)
                    await client.wait_closed()
                    self._dropped()
                    if loop.time() - opened >= policy.stable_after:
                        # A connection that held starts the backoff over; one that dropped
                        # sooner is followed by a longer wait, so that a central system
                        # which accepts and closes at once is not hammered.
                        step = 0
                    error = ConnectionClosed(client._close_code, client._close_reason)
                step += 1
                delay = policy.delay(step, self._rng)
                self._set_link(LinkState.WAITING)
                client.logger.info("reconnecting in %.2f s (wait %d): %s", delay, step, error)
                client._emit_safe("reconnecting", step, delay, error)
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            if self.link in (LinkState.CONNECTING, LinkState.WAITING):
                self._set_link(LinkState.IDLE)
            raise
        except Exception as exc:  # a configuration error: not worth another attempt
            if self.link is not LinkState.IDLE:
                self._set_link(LinkState.IDLE)
            self._finish_first(exc)

    def _finish_first(self, error: BaseException | None) -> None:
        first = self._first
        if first is not None and not first.done():
            if error is None:
                first.set_result(None)
            else:
                first.set_exception(error)
        elif error is not None:
            self._client._report(error)

    async def close(self, code: int, reason: str) -> None:
        """Stop reconnecting, close the connection, end every task; the queue stays."""
        self.closing = True
        client = self._client
        tasks = [t for t in (self._supervisor, self._watcher) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._supervisor = self._watcher = None
        closed = ConnectionClosed(code, "closed by the charge point")
        first, self._first = self._first, None
        if first is not None and not first.done():
            first.set_exception(closed)
        await client.close(code, reason)
        self._dropped()
        if self.link is not LinkState.IDLE:
            self._set_link(LinkState.IDLE)
        tasks = [t for t in (self._booter, *self._waiting.values()) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._booter = None
        for future in list(self._waiting):
            if not future.done():
                future.set_exception(closed)
        self._waiting.clear()
        self._settle_boot(closed)
        await self._queue.stop(
            ConnectionClosed(code, "closed by the charge point; the CALL stays queued")
        )

    # ------------------------------------------------------------------ CALLs

    def call_request(
        self,
        action: str,
        payload: Mapping[str, Any] | None,
        timeout: float | None,
        message_id: str | None,
    ) -> asyncio.Future[dict[str, Any]]:
        """``Client.call_request`` with the queue and the gate; see there."""
        client = self._client
        if payload is None:
            payload = {}
        if self._queue.wants(action, payload):
            return self._queue.enqueue(action, payload, timeout, message_id)
        if action == "BootNotification" and self.boot_gate:
            return self._boot(payload, timeout)
        if isinstance(payload, Mapping) and "transactionId" in payload:
            try:
                payload, ref = self._queue.link(payload)
            except Ocpp16Error as exc:
                return _failed(exc)
            if ref is not None:
                return _failed(
                    Ocpp16Error(
                        f"{action} names a StartTransaction that is still queued; only a "
                        "queued action can wait for its transactionId"
                    )
                )
        if client.is_open and (not self.boot_gate or self.boot_state is BootState.ACCEPTED):
            return ClientBase._call_request(
                client, action, payload, timeout=timeout, message_id=message_id
            )
        if (self._policy is None or self.closing) and not client.is_open:
            # No reconnecting (or closed): a CALL made while disconnected fails at once,
            # as without a queue.
            return ClientBase._call_request(
                client, action, payload, timeout=timeout, message_id=message_id
            )
        return self._later(action, payload, timeout, message_id)

    def _later(
        self, action: str, payload: Mapping[str, Any], timeout: float | None, message_id: str | None
    ) -> asyncio.Future[dict[str, Any]]:
        """A CALL that is not queued waits for the connection (and the gate) within its timeout."""
        loop = asyncio.get_running_loop()
        seconds = self._client.options.call_timeout if timeout is None else timeout
        deadline = loop.time() + seconds
        future: asyncio.Future[dict[str, Any]] = loop.create_future()

        async def send() -> None:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        await self._ready.wait()
                except TimeoutError:
                    if not future.done():
                        future.set_exception(CallTimeout(action, message_id or "", seconds))
                    return
                if self._check_open():
                    break
            inner = ClientBase._call_request(
                self._client,
                action,
                payload,
                timeout=max(deadline - loop.time(), 1e-3),
                message_id=message_id,
            )
            try:
                result = await inner
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)

        task = loop.create_task(send())
        self._waiting[future] = task

        def done(_: object) -> None:
            self._waiting.pop(future, None)
            if future.cancelled():
                task.cancel()

        future.add_done_callback(done)
        return future

    # ------------------------------------------------------------------ boot gating

    def _boot(
        self, payload: Mapping[str, Any], timeout: float | None
    ) -> asyncio.Future[dict[str, Any]]:
        """The application boots (again): hold everything until the answer is Accepted."""
        client = self._client
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if client.validation_overrides.get("BootNotification", client.validation) == "strict":
            try:
                validate("BootNotification", "request", payload)
            except ValidationError as exc:
                future.set_exception(exc)
                return future
        self._boot_payload = dict(payload)
        self._boot_timeout = timeout
        self._boot_futures.append(future)
        self._set_boot(BootState.UNBOOTED)
        if self._booter is not None:
            self._booter.cancel()
        self._booter = asyncio.get_running_loop().create_task(self._booting())
        return future

    async def _booting(self) -> None:
        """BootNotification until Accepted, on this connection and the next ones."""
        client = self._client
        payload = self._boot_payload
        assert payload is not None
        while True:
            await self._open.wait()
            if not self._check_open():
                continue
            inner = ClientBase._call_request(
                client, "BootNotification", payload, timeout=self._boot_timeout
            )
            try:
                answer = await inner
            except ConnectionClosed:
                self._check_open()
                continue
            except Ocpp16Error as exc:
                client.logger.warning("BootNotification failed: %s", exc)
                self._settle_boot(exc)
                delay = self._boot_retry
            else:
                self._settle_boot(answer)
                status = answer.get("status")
                if status == "Accepted":
                    self._set_boot(BootState.ACCEPTED)
                    client._emit_safe("boot", answer)
                    return
                self._set_boot(BootState.REJECTED if status == "Rejected" else BootState.PENDING)
                client._emit_safe("boot", answer)
                interval = answer.get("interval")
                # OCPP 1.6 §4.2.1: ask again after the interval; 0 leaves it to the charge point.
                delay = self._boot_retry
                if isinstance(interval, int | float) and not isinstance(interval, bool):
                    delay = float(interval) if interval > 0 else delay
            await asyncio.sleep(delay)

    def _settle_boot(self, outcome: dict[str, Any] | BaseException) -> None:
        futures, self._boot_futures = self._boot_futures, []
        for future in futures:
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)


def _failed(error: BaseException) -> asyncio.Future[dict[str, Any]]:
    future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    future.set_exception(error)
    return future
