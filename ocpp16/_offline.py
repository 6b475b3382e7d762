"""The offline queue of a charge point that loses nothing (OCPP 1.6 §4.7, §9.1).

:class:`OfflineQueue` keeps a :class:`~ocpp16.Client`'s transaction-related
CALLs in a :class:`~ocpp16.store.Store` from the moment ``call_request``
returns until the central system has answered them or they are given up, and
sends them one at a time, in the order made, whenever its owner says the
connection allows (``ready``). A CALLERROR, or no answer on an open
connection, is an attempt (TransactionMessageAttempts, retried after
TransactionMessageRetryInterval times the attempts made); a lost connection is
not. A StopTransaction or MeterValues may name its StartTransaction by the
future ``call_request`` gave for it; the real transactionId is put in when it
is known, and the link is stored, so it holds across a restart.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from ocpp16 import schemas
from ocpp16.connection import ClientBase
from ocpp16.errors import CallTimeout, ConnectionClosed, Ocpp16Error, OcppError, ValidationError
from ocpp16.store import MemoryStore, SQLiteStore, Store, StoredCall
from ocpp16.validation import validate

__all__ = [
    "DEFAULT_QUEUE_ACTIONS",
    "NEVER_QUEUED",
    "STAND_IN",
    "OfflineQueue",
    "QueuedFuture",
    "make_store",
    "queue_policy",
]

DEFAULT_QUEUE_ACTIONS: Final = frozenset(
    # OCPP 1.6 §4.7: the transaction-related messages; and the security white
    # paper's SecurityEventNotification, which must not be lost either.
    {"StartTransaction", "StopTransaction", "MeterValues", "SecurityEventNotification"}
)
# What goes out at once or not at all: a late BootNotification or Heartbeat says nothing true.
NEVER_QUEUED: Final = frozenset({"BootNotification", "Heartbeat"})
# Never dropped by the bound (the README's rule): a lost Start or Stop loses a transaction.
_KEPT: Final = frozenset({"StartTransaction", "StopTransaction"})
# The transactionId a payload carries while its StartTransaction is unanswered.
STAND_IN: Final = 0
# Transaction ids of answered StartTransactions kept for later references by StoredCall.
_REMEMBERED: Final = 256


class QueuedFuture(asyncio.Future[dict[str, Any]]):
    """The future of a queued CALL; a StartTransaction's may stand for its transactionId.

    Attributes:
        seq: The CALL's place in the queue (:attr:`StoredCall.seq`).
        owner: The :class:`OfflineQueue` that queued it.
        transaction_id: For a StartTransaction, the id the central system gave,
            once answered (kept even when the future was cancelled).
    """

    __slots__ = ("owner", "seq", "transaction_id")

    seq: int
    owner: OfflineQueue
    transaction_id: int | None


class _Entry:
    """One queued CALL in memory: the stored record plus what only this process has."""

    __slots__ = (
        "action",
        "attempts",
        "future",
        "message_id",
        "payload",
        "seq",
        "timeout",
        "transaction_ref",
    )

    def __init__(self, call: StoredCall, future: QueuedFuture | None, timeout: float) -> None:
        self.seq = call.seq
        self.action = call.action
        self.payload = call.payload
        self.message_id = call.message_id
        self.attempts = call.attempts
        self.transaction_ref = call.transaction_ref
        self.future = future
        self.timeout = timeout


def make_store(store: Store | str | os.PathLike[str] | None) -> Store:
    """The store a ``Client(store=...)`` option names: a path is a :class:`SQLiteStore`."""
    if store is None:
        return MemoryStore()
    if isinstance(store, Store):
        return store
    if isinstance(store, str | os.PathLike):
        return SQLiteStore(store)
    raise TypeError(f"store must be a path, a Store or None, not {store!r}")


def queue_policy(actions: Iterable[str] | None) -> frozenset[str]:
    """Check a ``queue_actions`` option; return the set of actions to queue."""
    if actions is None:
        return DEFAULT_QUEUE_ACTIONS
    if isinstance(actions, str):
        raise TypeError("queue_actions must be a collection of action names, not one string")
    chosen = frozenset(actions)
    for action in sorted(chosen):
        schema = schemas.get(action)
        if schema is None or not schema.can_send("charge_point"):
            raise ValueError(f"queue_actions: {action!r} is not an action a charge point sends")
        if action in NEVER_QUEUED:
            raise ValueError(f"queue_actions: {action} is never queued")
    return chosen


class OfflineQueue:
    """The queued CALLs of one client, their store, and the task that sends them.

    Args:
        client: The client whose connection carries them.
        store: Where they are kept.
        actions: The actions to queue (MeterValues only with a transactionId).
        max_queued: The bound.
        attempts: TransactionMessageAttempts (§9.1).
        retry_interval: TransactionMessageRetryInterval, seconds (§9.1).
        ready: Set while the connection is open and may carry queued CALLs.
        check_open: Tells whether the connection is open (and clears
            ``ready`` when it is not).

    Raises:
        StoreError: The store cannot be read.
    """

    def __init__(
        self,
        client: ClientBase,
        store: Store,
        *,
        actions: frozenset[str],
        max_queued: int,
        attempts: int,
        retry_interval: float,
        ready: asyncio.Event,
        check_open: Callable[[], bool],
    ) -> None:
        self._client = client
        self._store = store
        self._actions = actions
        self._max = max_queued
        self._attempts = attempts
        self._retry_interval = retry_interval
        self._ready = ready
        self._check_open = check_open
        self._queue: dict[int, _Entry] = {}
        # Droppable CALLs, oldest first: MeterValues, and the rest but Start/Stop.
        self._meter: dict[int, None] = {}
        self._other: dict[int, None] = {}
        self._in_flight: int | None = None
        # seq -> transactionId of answered StartTransactions, for references by StoredCall.
        self._resolved: dict[int, int] = {}
        self._work = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._load()

    @property
    def attempts(self) -> int:
        """TransactionMessageAttempts in force (§9.1); a change applies from the next attempt."""
        return self._attempts

    @attempts.setter
    def attempts(self, value: int) -> None:
        self._attempts = value

    @property
    def retry_interval(self) -> float:
        """TransactionMessageRetryInterval in force, seconds (§9.1); applies from the next wait."""
        return self._retry_interval

    @retry_interval.setter
    def retry_interval(self, value: float) -> None:
        self._retry_interval = value

    def wants(self, action: str, payload: object) -> bool:
        """Tell whether a CALL of ``action`` with ``payload`` goes to the queue."""
        if action not in self._actions or not isinstance(payload, Mapping):
            return False
        # OCPP 1.6 §4.7: MeterValues are transaction-related when they carry a transactionId.
        return action != "MeterValues" or payload.get("transactionId") is not None

    def start(self) -> None:
        """Start the task that sends the queued CALLs, if it is not running."""
        if self._pump is None or self._pump.done():
            self._pump = asyncio.get_running_loop().create_task(self._run_queue())

    async def stop(self, error: BaseException) -> None:
        """Stop sending; fail this process's futures (the CALLs stay queued); close the store."""
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.cancel()
            await asyncio.wait({pump})
        for entry in self._queue.values():
            future, entry.future = entry.future, None
            if future is not None and not future.done():
                future.set_exception(error)
        self._store.close()

    def _load(self) -> None:
        timeout = self._client.options.call_timeout
        self._queue.clear()
        self._meter.clear()
        self._other.clear()
        for call in self._store.load():
            self._add_entry(_Entry(call, None, timeout))
        self._depth_changed()

    def _depth_changed(self) -> None:
        """Tell the client's observers how many CALLs are queued now."""
        client = self._client
        if client._observers:
            client._notify("queue_changed", client, len(self._queue))

    def _add_entry(self, entry: _Entry) -> None:
        self._queue[entry.seq] = entry
        if entry.action == "MeterValues":
            self._meter[entry.seq] = None
        elif entry.action not in _KEPT:
            self._other[entry.seq] = None

    def _forget(self, entry: _Entry) -> None:
        self._queue.pop(entry.seq, None)
        self._meter.pop(entry.seq, None)
        self._other.pop(entry.seq, None)

    def queued(self) -> list[StoredCall]:
        """The queued CALLs, in order, as a snapshot."""
        return [
            StoredCall(
                e.seq, e.action, dict(e.payload), e.message_id, e.attempts, e.transaction_ref
            )
            for e in self._queue.values()
        ]

    def _new_id(self) -> str:
        factory = self._client.options.message_id_factory
        return factory() if factory is not None else str(uuid.uuid4())

    def enqueue(
        self,
        action: str,
        payload: Mapping[str, Any],
        timeout: float | None,
        message_id: str | None,
    ) -> asyncio.Future[dict[str, Any]]:
        """Queue a CALL: stored before this returns; see ``Client.call_request``."""
        client = self._client
        future = QueuedFuture(loop=asyncio.get_running_loop())
        try:
            linked, ref = self.link(payload)
            mode = client.validation_overrides.get(action, client.validation)
            if mode == "strict":
                # A payload that names a future is checked with the stand-in id now,
                # with the real one when it is sent.
                validate(action, "request", linked)
            if message_id is None:
                message_id = self._new_id()
            if not isinstance(message_id, str) or not 0 < len(message_id) <= 36:
                # OCPP-J 1.6 §4.1.4: a message id is a string of at most 36 characters.
                raise ValidationError(
                    "FormationViolation",
                    f"message id {message_id!r} is not a string of 1 to 36 characters",
                    keyword="messageId",
                )
            self._make_room(action)
            try:
                stored = self._store.add(action, linked, message_id, ref)
            except (TypeError, ValueError) as exc:
                raise ValidationError(
                    "FormationViolation", f"the {action} payload cannot be written as JSON: {exc}"
                ) from None
        except Ocpp16Error as exc:
            future.set_exception(exc)
            return future
        future.seq, future.owner, future.transaction_id = stored.seq, self, None
        seconds = client.options.call_timeout if timeout is None else timeout
        self._add_entry(_Entry(stored, future, seconds))
        self._depth_changed()
        self._work.set()
        return future

    def link(self, payload: Mapping[str, Any]) -> tuple[dict[str, Any], int | None]:
        """Read a ``transactionId`` that names a StartTransaction; return (payload, its seq).

        The seq is ``None`` when the id is known (put in the payload now) or
        when the payload names no StartTransaction.
        """
        value = payload.get("transactionId")
        seq: int | None = None
        if isinstance(value, QueuedFuture) and getattr(value, "owner", None) is self:
            seq = value.seq
            known = value.transaction_id
        elif isinstance(value, StoredCall):
            seq = value.seq
            known = self._resolved.get(seq)
        elif isinstance(value, asyncio.Future):
            answer = value.result() if value.done() and not value.cancelled() else None
            if value.done() and not value.cancelled() and value.exception() is None:
                known = answer.get("transactionId") if isinstance(answer, dict) else None
            else:
                known = None
            if not isinstance(known, int):
                raise Ocpp16Error(
                    "transactionId names a future that is neither a StartTransaction queued "
                    "by this client nor an answered one"
                )
        else:
            return dict(payload), None
        if seq is not None:
            start = self._queue.get(seq)
            if start is not None:
                if start.action != "StartTransaction":
                    raise Ocpp16Error(f"transactionId names a queued {start.action}")
                return {**payload, "transactionId": STAND_IN}, seq
            if known is None:
                raise Ocpp16Error(
                    "transactionId names a StartTransaction that got no transactionId "
                    "(it was given up, or is no longer known)"
                )
        return {**payload, "transactionId": known}, None

    def _make_room(self, action: str) -> None:
        """Keep the bound: drop the oldest MeterValues, then others, never a Start or Stop."""
        if len(self._queue) < self._max:
            return
        for droppable in (self._meter, self._other):
            for seq in droppable:
                if seq != self._in_flight:
                    entry = self._queue[seq]
                    self._drop(
                        entry,
                        Ocpp16Error(
                            f"{entry.action} dropped: the queue is full ({self._max} CALLs) "
                            f"and a {action} came"
                        ),
                    )
                    return
        raise Ocpp16Error(
            f"{action} not queued: the queue is full ({self._max} CALLs) of StartTransaction "
            "and StopTransaction, which are never dropped"
        )

    def _drop(self, entry: _Entry, error: Ocpp16Error) -> None:
        """Give a queued CALL up: out of the store, ``"message_dropped"``, its future fails."""
        self._store.remove(entry.seq)
        self._forget(entry)
        client = self._client
        client.logger.warning("dropped queued %s (%s): %s", entry.action, entry.message_id, error)
        if client._observers:
            client._notify("call_dropped", client, entry.action, error)
            client._notify("queue_changed", client, len(self._queue))
        client._emit_safe("message_dropped", entry.action, entry.payload, error)
        future, entry.future = entry.future, None
        if future is not None and not future.done():
            future.set_exception(error)
        if entry.action == "StartTransaction":
            for other in [e for e in self._queue.values() if e.transaction_ref == entry.seq]:
                self._drop(
                    other,
                    Ocpp16Error(f"{other.action} dropped: its StartTransaction was given up"),
                )

    async def _run_queue(self) -> None:
        """Send the queued CALLs one at a time, in order, whenever the connection allows."""
        while True:
            if not self._queue:
                self._work.clear()
                await self._work.wait()
                continue
            await self._ready.wait()
            if not self._check_open():
                continue
            entry = next(iter(self._queue.values()))
            try:
                await self._deliver(entry)
            except Ocpp16Error as exc:  # the store failed: say so, and try again later
                self._client._report(exc)
                await asyncio.sleep(self._retry_interval)

    async def _deliver(self, entry: _Entry) -> None:
        """One attempt at the head of the queue."""
        client = self._client
        if entry.transaction_ref is not None:  # its StartTransaction went without an id
            self._drop(entry, Ocpp16Error(f"{entry.action} has no transactionId to send"))
            return
        inner = ClientBase._call_request(
            client, entry.action, entry.payload, timeout=entry.timeout, message_id=entry.message_id
        )
        if inner.done() and not inner.cancelled():
            refused = inner.exception()
            if isinstance(refused, Ocpp16Error) and not isinstance(refused, ConnectionClosed):
                # Refused before it was sent (its payload, with the real id, breaks
                # the schema): it never can go.
                self._drop(entry, refused)
                return
        self._in_flight = entry.seq
        try:
            answer = await inner
        except ConnectionClosed:
            # OCPP 1.6 §4.7: a lost connection is not an attempt; the CALL goes
            # again on the next one, with the same message id.
            self._check_open()
            return
        except CallTimeout as exc:
            # No answer on an open connection: an attempt. The same id goes
            # again: the central system may have processed it and can tell.
            error: OcppError = exc
            fresh = False
        except OcppError as exc:
            # A CALLERROR (or an invalid answer): an attempt; that id has been
            # answered, so the next one is new.
            error, fresh = exc, True
        else:
            self._answered(entry, answer)
            return
        finally:
            self._in_flight = None
        entry.attempts += 1
        if entry.attempts >= self._attempts:
            # OCPP 1.6 §9.1 TransactionMessageAttempts: given up.
            self._drop(entry, error)
            return
        if client._observers:
            client._notify("call_retried", client, entry.action, entry.attempts, error)
        if fresh:
            entry.message_id = self._new_id()
        self._store.update(entry.seq, message_id=entry.message_id, attempts=entry.attempts)
        delay = self._retry_interval * entry.attempts
        client.logger.info(
            "%s (%s) failed (%s); attempt %d in %.2f s",
            entry.action,
            entry.message_id,
            error,
            entry.attempts + 1,
            delay,
        )
        # OCPP 1.6 §9.1 TransactionMessageRetryInterval, times the attempts made.
        await asyncio.sleep(delay)

    def _answered(self, entry: _Entry, answer: dict[str, Any]) -> None:
        """The central system answered a queued CALL: out of the store, then tell."""
        transaction_id = None
        if entry.action == "StartTransaction":
            value = answer.get("transactionId")
            if isinstance(value, int) and not isinstance(value, bool):
                transaction_id = value
        if transaction_id is not None:
            self._store.resolve(entry.seq, transaction_id)
            for other in self._queue.values():
                if other.transaction_ref == entry.seq:
                    other.payload = {**other.payload, "transactionId": transaction_id}
                    other.transaction_ref = None
            self._resolved[entry.seq] = transaction_id
            if len(self._resolved) > _REMEMBERED:
                del self._resolved[next(iter(self._resolved))]
        else:
            self._store.remove(entry.seq)
        self._forget(entry)
        self._depth_changed()
        if entry.action == "StartTransaction" and transaction_id is None:
            for other in [e for e in self._queue.values() if e.transaction_ref == entry.seq]:
                self._drop(other, Ocpp16Error("its StartTransaction's answer had no transactionId"))
        future, entry.future = entry.future, None
        if future is not None:
            future.transaction_id = transaction_id
            if not future.done():
                future.set_result(answer)
                return
        # The future died with an earlier process, or its caller let it go.
        self._client._emit_safe("queued_result", entry.action, entry.payload, answer)
