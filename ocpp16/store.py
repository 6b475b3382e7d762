"""Where a charge point keeps the CALLs it must not lose: :class:`Store` and two implementations.

A :class:`~ocpp16.Client` with ``reconnect`` on or a ``store`` given keeps its
transaction-related CALLs (OCPP 1.6 §4.7) in a queue until the central system
has answered them. The queue lives in a :class:`Store`:

* :class:`MemoryStore`: a dict in this process; survives a dropped connection,
  not a restart.
* :class:`SQLiteStore`: a SQLite file (the standard library's ``sqlite3``) in
  WAL mode; survives a killed process and, with ``synchronous="FULL"`` (the
  default), a power cut.

A third implementation (say, a flash-friendly log) subclasses :class:`Store`
and implements its six methods; each change must be durable when the method
returns, because the client tells its caller that a CALL is queued only then.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from ocpp16.errors import StoreError

__all__ = ["SCHEMA_VERSION", "MemoryStore", "SQLiteStore", "Store", "StoredCall"]

SCHEMA_VERSION: Final = 1
"""The version of :class:`SQLiteStore`'s tables that this release writes and reads."""

# Marks a SQLite file as an ocpp16 queue (PRAGMA application_id): "OCP1".
_APPLICATION_ID: Final = 0x4F435031

_SCHEMA: Final = """
CREATE TABLE calls (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    transaction_ref INTEGER
);
CREATE INDEX calls_by_transaction_ref ON calls (transaction_ref);
"""


@dataclass(frozen=True, slots=True)
class StoredCall:
    """One queued CALL as a :class:`Store` keeps it.

    Attributes:
        seq: Its place in the queue: larger is later. Never reused, so that
            ``transaction_ref`` stays unambiguous.
        action: The action, such as ``"StopTransaction"``.
        payload: The request payload. While ``transaction_ref`` is set, its
            ``transactionId`` is a stand-in (0).
        message_id: The message id it goes out with: kept when it is sent
            again after a lost connection or no answer, new after a CALLERROR.
        attempts: How many attempts have failed so far (OCPP 1.6 §9.1
            TransactionMessageAttempts): a CALLERROR, or no answer on an open
            connection.
        transaction_ref: The ``seq`` of the queued StartTransaction whose
            ``transactionId`` goes into ``payload`` once the central system
            has given it; ``None`` when the payload is complete.
    """

    seq: int
    action: str
    payload: dict[str, Any]
    message_id: str
    attempts: int = 0
    transaction_ref: int | None = None


class Store(ABC):
    """The interface of an offline queue: the CALLs a charge point keeps until answered.

    The client calls these methods from its event loop, one at a time. Each
    change is durable when the method returns: ``add`` returns only once the
    CALL would survive what the store promises to survive.
    """

    @abstractmethod
    def load(self) -> list[StoredCall]:
        """Open the store if it is not open, and return every CALL it holds, in queue order.

        Returns:
            The stored CALLs, ``seq`` ascending.

        Raises:
            StoreError: The store cannot be read, is damaged, or was written
                by a newer version; the message names it.
        """

    @abstractmethod
    def add(
        self,
        action: str,
        payload: Mapping[str, Any],
        message_id: str,
        transaction_ref: int | None = None,
    ) -> StoredCall:
        """Append a CALL at the end of the queue, durably.

        Args:
            action: The action.
            payload: The request payload (JSON-serializable).
            message_id: Its message id.
            transaction_ref: The ``seq`` of the queued StartTransaction whose
                transactionId it waits for, if any.

        Returns:
            The CALL as stored, with its ``seq``.

        Raises:
            StoreError: It could not be written.
        """

    @abstractmethod
    def update(self, seq: int, *, message_id: str, attempts: int) -> None:
        """Record a failed attempt: the CALL's message id and attempt count.

        Args:
            seq: The CALL.
            message_id: Its message id from now on.
            attempts: Its failed attempts so far.

        Raises:
            StoreError: It could not be written.
        """

    @abstractmethod
    def remove(self, seq: int) -> None:
        """Take a CALL out of the queue (answered, given up or dropped); no error if absent.

        Args:
            seq: The CALL.

        Raises:
            StoreError: It could not be written.
        """

    @abstractmethod
    def resolve(self, seq: int, transaction_id: int) -> None:
        """A StartTransaction was answered: remove it and complete the CALLs that wait for it.

        In one atomic step: remove ``seq``, and in every CALL whose
        ``transaction_ref`` is ``seq`` set ``payload["transactionId"]`` to
        ``transaction_id`` and ``transaction_ref`` to ``None``.

        Args:
            seq: The StartTransaction.
            transaction_id: The transactionId the central system gave.

        Raises:
            StoreError: It could not be written.
        """

    def close(self) -> None:  # noqa: B027 (optional for a store that holds nothing open)
        """Release what the store holds open; :meth:`load` opens it again."""


# ----------------------------------------------------------------------------- memory


class MemoryStore(Store):
    """The queue in this process's memory: it survives dropped connections, not a restart."""

    def __init__(self) -> None:
        self._calls: dict[int, StoredCall] = {}
        self._next = 1

    def load(self) -> list[StoredCall]:
        """Return the CALLs held, in queue order."""
        return list(self._calls.values())

    def add(
        self,
        action: str,
        payload: Mapping[str, Any],
        message_id: str,
        transaction_ref: int | None = None,
    ) -> StoredCall:
        """Append a CALL; see :meth:`Store.add`."""
        # A copy, as the file would give: the caller may change its dict afterwards.
        copy = json.loads(_encode(payload))
        call = StoredCall(self._next, action, copy, message_id, 0, transaction_ref)
        self._calls[call.seq] = call
        self._next += 1
        return call

    def update(self, seq: int, *, message_id: str, attempts: int) -> None:
        """Record a failed attempt; see :meth:`Store.update`."""
        call = self._calls.get(seq)
        if call is not None:
            self._calls[seq] = replace(call, message_id=message_id, attempts=attempts)

    def remove(self, seq: int) -> None:
        """Take a CALL out; see :meth:`Store.remove`."""
        self._calls.pop(seq, None)

    def resolve(self, seq: int, transaction_id: int) -> None:
        """Remove a StartTransaction and complete its dependents; see :meth:`Store.resolve`."""
        self._calls.pop(seq, None)
        for other, call in self._calls.items():
            if call.transaction_ref == seq:
                payload = {**call.payload, "transactionId": transaction_id}
                self._calls[other] = replace(call, payload=payload, transaction_ref=None)


# ----------------------------------------------------------------------------- SQLite


def _encode(payload: Mapping[str, Any]) -> str:
    # ASCII escapes: a lone surrogate in a string must not make the row unwritable.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


class SQLiteStore(Store):
    """The queue in a SQLite file: it survives a killed process and, by default, a power cut.

    The file is in WAL mode and locked for this process alone (``locking_mode
    = EXCLUSIVE``): a second process opening it gets a :class:`StoreError`
    instead of sending the same CALLs. Each change is one committed
    transaction. With ``synchronous="FULL"`` each commit waits until the
    write-ahead log is on the disk (an fsync), so a CALL whose future was
    returned survives a power cut on storage that honours flushes; with
    ``"NORMAL"`` it survives a killed process, but a power cut may lose the
    last commits (fewer writes to flash).

    The file is opened by the constructor, so that a damaged file fails at
    start-up, not later.

    Args:
        path: The file; created when it does not exist.
        synchronous: ``"FULL"`` (the default) or ``"NORMAL"``.

    Raises:
        StoreError: The file cannot be opened, is not an ocpp16 queue, is
            damaged, is in use by another process, or was written by a newer
            schema version. The message names the file.
        ValueError: ``synchronous`` is neither ``"FULL"`` nor ``"NORMAL"``.

    Attributes:
        path: The file, as given.
        synchronous: As given.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, synchronous: Literal["FULL", "NORMAL"] = "FULL"
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', not {synchronous!r}")
        self.path = os.fspath(path)
        self.synchronous = synchronous
        self._db: sqlite3.Connection | None = None
        try:
            self._read(self._connect())  # every row, so that a damaged one fails now
        except StoreError:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r}, synchronous={self.synchronous!r})"

    def _error(self, what: str, exc: BaseException | None = None) -> StoreError:
        detail = f": {exc}" if exc is not None else ""
        return StoreError(f"the queue file {self.path!r} {what}{detail}", self.path)

    def _connect(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        try:
            # Autocommit: every change below is an explicit BEGIN IMMEDIATE ... COMMIT.
            db = sqlite3.connect(
                self.path, timeout=1.0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise self._error("cannot be opened", exc) from None
        try:
            self._prepare(db)
        except BaseException:
            db.close()
            raise
        self._db = db
        return db

    def _prepare(self, db: sqlite3.Connection) -> None:
        try:
            # Before WAL is first used: no shared memory, and the file stays
            # locked for this connection from its first read to close().
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {
                row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise self._error("is in use by another process", exc) from None
            raise self._error("cannot be read", exc) from None
        except sqlite3.Error as exc:
            raise self._error("is not a readable SQLite database", exc) from None
        if app_id == 0 and version == 0 and not tables:
            try:
                db.executescript(
                    f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA application_id={_APPLICATION_ID};"
                    f" PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
                )
            except sqlite3.Error as exc:
                raise self._error("cannot be written", exc) from None
            return
        if app_id != _APPLICATION_ID:
            raise self._error("is a SQLite database, but not an ocpp16 queue")
        if version > SCHEMA_VERSION:
            raise self._error(
                f"was written by a newer ocpp16 (queue schema version {version}; this one "
                f"reads version {SCHEMA_VERSION}): upgrade ocpp16 or give another file"
            )
        if version < 1 or "calls" not in tables:
            raise self._error(f"has an unknown layout (schema version {version})")
        try:
            check = [row[0] for row in db.execute("PRAGMA quick_check")]
        except sqlite3.Error as exc:
            raise self._error("is damaged", exc) from None
        if check != ["ok"]:
            raise self._error("is damaged: " + "; ".join(map(str, check[:3])))

    def _write(self, statement: str, args: tuple[Any, ...]) -> None:
        """Run one statement; in autocommit mode it is committed when it returns."""
        try:
            self._connect().execute(statement, args)
        except sqlite3.Error as exc:
            raise self._error("cannot be written", exc) from None

    def _read(self, db: sqlite3.Connection) -> list[StoredCall]:
        try:
            rows = db.execute(
                "SELECT seq, action, payload, message_id, attempts, transaction_ref"
                " FROM calls ORDER BY seq"
            ).fetchall()
        except sqlite3.Error as exc:
            raise self._error("cannot be read", exc) from None
        calls = []
        for seq, action, text, message_id, attempts, ref in rows:
            try:
                payload = json.loads(text, parse_constant=_no_constant)
            except (TypeError, ValueError) as exc:
                raise self._error(f"holds a damaged payload in row {seq}", exc) from None
            if not (
                isinstance(payload, dict)
                and isinstance(action, str)
                and isinstance(message_id, str)
                and 0 < len(message_id) <= 36
                and isinstance(attempts, int)
                and attempts >= 0
                and (ref is None or isinstance(ref, int))
            ):
                raise self._error(f"holds a damaged row ({seq})")
            calls.append(StoredCall(seq, action, payload, message_id, attempts, ref))
        return calls

    def load(self) -> list[StoredCall]:
        """Open the file if it is closed, and return the CALLs it holds, in queue order."""
        return self._read(self._connect())

    def add(
        self,
        action: str,
        payload: Mapping[str, Any],
        message_id: str,
        transaction_ref: int | None = None,
    ) -> StoredCall:
        """Append a CALL and commit; see :meth:`Store.add`."""
        text = _encode(payload)
        db = self._connect()
        try:
            cursor = db.execute(
                "INSERT INTO calls (message_id, action, payload, attempts, transaction_ref)"
                " VALUES (?, ?, ?, 0, ?)",
                (message_id, action, text, transaction_ref),
            )
        except sqlite3.Error as exc:
            raise self._error("cannot be written", exc) from None
        seq = cursor.lastrowid
        assert seq is not None
        return StoredCall(seq, action, json.loads(text), message_id, 0, transaction_ref)

    def update(self, seq: int, *, message_id: str, attempts: int) -> None:
        """Record a failed attempt and commit; see :meth:`Store.update`."""
        self._write(
            "UPDATE calls SET message_id = ?, attempts = ? WHERE seq = ?",
            (message_id, attempts, seq),
        )

    def remove(self, seq: int) -> None:
        """Delete a CALL and commit; see :meth:`Store.remove`."""
        self._write("DELETE FROM calls WHERE seq = ?", (seq,))

    def resolve(self, seq: int, transaction_id: int) -> None:
        """Remove a StartTransaction and complete its dependents in one commit."""
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            waiting = db.execute(
                "SELECT seq, payload FROM calls WHERE transaction_ref = ?", (seq,)
            ).fetchall()
            for other, text in waiting:
                payload = {**json.loads(text), "transactionId": transaction_id}
                db.execute(
                    "UPDATE calls SET payload = ?, transaction_ref = NULL WHERE seq = ?",
                    (_encode(payload), other),
                )
            db.execute("DELETE FROM calls WHERE seq = ?", (seq,))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):  # the connection itself may be broken
                if db.in_transaction:
                    db.execute("ROLLBACK")
            raise self._error("cannot be written", exc) from None

    def close(self) -> None:
        """Close the file (and release its lock); :meth:`load` opens it again."""
        db, self._db = self._db, None
        if db is not None:
            db.close()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
