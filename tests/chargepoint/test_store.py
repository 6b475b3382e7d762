"""The offline queue's stores: the same behaviour in memory and in SQLite, and a file's failures.

A store file that cannot be used is a clear error when the client is made,
naming the file: never a silent empty queue.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from ocpp16 import Client, MemoryStore, SQLiteStore, Store, StoreError
from ocpp16.store import SCHEMA_VERSION


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Each implementation, empty."""
    made: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "q.db")
    yield made
    made.close()


def test_add_update_remove_in_order(store: Store) -> None:
    """CALLs come back in the order added, with their updates; removed ones are gone."""
    first = store.add("StartTransaction", {"connectorId": 1}, "id-1")
    second = store.add("MeterValues", {"transactionId": 0}, "id-2", transaction_ref=first.seq)
    third = store.add("StopTransaction", {"transactionId": 0}, "id-3", transaction_ref=first.seq)
    assert first.seq < second.seq < third.seq
    store.update(third.seq, message_id="id-3b", attempts=2)
    store.remove(second.seq)
    store.remove(12345)  # absent: no error
    loaded = store.load()
    assert [(c.action, c.message_id, c.attempts) for c in loaded] == [
        ("StartTransaction", "id-1", 0),
        ("StopTransaction", "id-3b", 2),
    ]
    assert loaded[1].transaction_ref == first.seq


def test_resolve_completes_the_dependents(store: Store) -> None:
    """resolve(): the StartTransaction goes, its dependents get the id and lose the link."""
    start = store.add("StartTransaction", {"connectorId": 1}, "a")
    other = store.add("StartTransaction", {"connectorId": 2}, "b")
    mine = store.add("StopTransaction", {"transactionId": 0, "meterStop": 1}, "c", start.seq)
    theirs = store.add("StopTransaction", {"transactionId": 0, "meterStop": 2}, "d", other.seq)
    store.resolve(start.seq, 77)
    loaded = {c.seq: c for c in store.load()}
    assert start.seq not in loaded
    assert loaded[mine.seq].payload == {"transactionId": 77, "meterStop": 1}
    assert loaded[mine.seq].transaction_ref is None
    assert loaded[theirs.seq].transaction_ref == other.seq


def test_seqs_are_never_reused(store: Store) -> None:
    """A removed CALL's seq is not given again (a transaction_ref must stay unambiguous)."""
    first = store.add("MeterValues", {}, "a")
    store.remove(first.seq)
    assert store.add("MeterValues", {}, "b").seq > first.seq


def test_the_payload_is_a_copy(store: Store) -> None:
    """Changing the dict after add() changes nothing stored."""
    payload: dict[str, Any] = {"connectorId": 1}
    store.add("StartTransaction", payload, "a")
    payload["connectorId"] = 2
    assert store.load()[0].payload == {"connectorId": 1}


def test_sqlite_survives_reopening(tmp_path: Path) -> None:
    """What one SQLiteStore wrote, another on the same file reads, after close()."""
    path = tmp_path / "q.db"
    store = SQLiteStore(path)
    store.add("StartTransaction", {"connectorId": 1, "text": "é \ud800"}, "a")
    store.close()
    store.close()  # twice: no error
    again = SQLiteStore(str(path), synchronous="NORMAL")
    assert [c.payload["connectorId"] for c in again.load()] == [1]
    assert again.load()[0].payload["text"] == "é \ud800"
    again.close()
    assert again.load()[0].message_id == "a"  # load() opens it again
    again.close()
    with closing(sqlite3.connect(path)) as db, db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert "q.db" in repr(again)


def test_synchronous_must_be_full_or_normal(tmp_path: Path) -> None:
    """synchronous="OFF" (no durability at all) is refused."""
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteStore(tmp_path / "q.db", synchronous="OFF")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- bad files


def test_a_corrupt_file_is_an_error_naming_it(tmp_path: Path) -> None:
    """Bytes that are no SQLite database: StoreError at Client(...), naming the file."""
    path = tmp_path / "cp.sqlite3"
    path.write_bytes(b"this is not a database, only some bytes that fill the page " * 100)
    with pytest.raises(StoreError, match=r"cp\.sqlite3") as raised:
        Client("CP1", store=str(path))
    assert raised.value.path == str(path)


def test_a_damaged_queue_is_an_error(tmp_path: Path) -> None:
    """A queue file whose pages were overwritten fails its integrity check at start-up."""
    path = tmp_path / "cp.sqlite3"
    store = SQLiteStore(path)
    for n in range(200):
        store.add("MeterValues", {"transactionId": n, "pad": "x" * 200}, f"id-{n}")
    store.close()
    data = bytearray(path.read_bytes())
    page = 4096
    data[page * 2 : page * 4] = b"\xff" * (page * 2)  # two pages of the table, not the header
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"cp\.sqlite3"):
        Client("CP1", store=str(path))


def test_a_damaged_row_is_an_error(tmp_path: Path) -> None:
    """A row whose payload is not a JSON object is an error, not a silently dropped CALL."""
    path = tmp_path / "cp.sqlite3"
    SQLiteStore(path).close()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "INSERT INTO calls (message_id, action, payload) VALUES ('a', 'MeterValues', '[1]')"
        )
    with pytest.raises(StoreError, match="damaged row"):
        SQLiteStore(path)
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE calls SET payload = '{bad'")
    with pytest.raises(StoreError, match="damaged payload"):
        SQLiteStore(path)


def test_another_database_is_refused(tmp_path: Path) -> None:
    """A SQLite database of another application is not taken for a queue."""
    path = tmp_path / "other.db"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE users (name TEXT)")
    with pytest.raises(StoreError, match="not an ocpp16 queue"):
        SQLiteStore(path)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    """A queue written by a newer schema version is refused with a message saying so."""
    path = tmp_path / "cp.sqlite3"
    SQLiteStore(path).close()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(
        StoreError, match=f"newer ocpp16 \\(queue schema version {SCHEMA_VERSION + 1}"
    ):
        Client("CP1", store=str(path))


def test_an_unknown_layout_is_refused(tmp_path: Path) -> None:
    """A file marked as a queue but without its table is refused."""
    path = tmp_path / "cp.sqlite3"
    SQLiteStore(path).close()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DROP TABLE calls")
    with pytest.raises(StoreError, match="unknown layout"):
        SQLiteStore(path)


def test_an_unreadable_path_is_an_error(tmp_path: Path) -> None:
    """A path that cannot be opened (a directory) is an error naming it."""
    with pytest.raises(StoreError, match=r"cannot be (opened|read)"):
        SQLiteStore(tmp_path)


def test_a_file_in_use_by_another_process_is_refused(tmp_path: Path) -> None:
    """Two processes on one queue would send its CALLs twice: the second is refused."""
    path = tmp_path / "cp.sqlite3"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from ocpp16 import SQLiteStore; s = SQLiteStore(sys.argv[1]); "
            "print('open', flush=True); sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreError, match="in use by another process"):
            SQLiteStore(path)
    finally:
        holder.communicate("", timeout=30)
    SQLiteStore(path).close()  # released when that process ended


def test_a_failed_write_is_an_error_naming_the_file(tmp_path: Path) -> None:
    """When SQLite fails a write (here: its connection broke), each change is a StoreError."""
    store = SQLiteStore(tmp_path / "cp.sqlite3")
    start = store.add("StartTransaction", {"connectorId": 1}, "a")
    store._db.close()  # type: ignore[union-attr]  # what a vanished disk looks like to SQLite
    for change in (
        lambda: store.add("MeterValues", {}, "b"),
        lambda: store.update(start.seq, message_id="c", attempts=1),
        lambda: store.remove(start.seq),
        lambda: store.resolve(start.seq, 5),
        store.load,
    ):
        with pytest.raises(StoreError, match=r"cp\.sqlite3"):
            change()
