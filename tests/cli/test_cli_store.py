"""``ocpp16 simulate --store DIR``: a run killed with SIGKILL and started again loses nothing.

Real processes (``python -m ocpp16 simulate``), real SQLite files and state
files under ``tmp_path``, and a real ``ocpp16.Server`` in this process that
answers as ``ocpp16 serve`` does and records every CALL of each connection.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from ocpp16 import ClientBase, Server
from ocpp16._cli.central import CentralSystem

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

# Starting a Python process is slow on a busy machine (and slower under coverage).
PROCESS_TIMEOUT = 60
CP_ID = "SIM0001"


class Central:
    """A central system that records the CALLs of each connection: ``(connection, id, action, payload)``."""

    def __init__(self, server: Server) -> None:
        self.system = CentralSystem(heartbeat_interval=60)
        self.calls: list[tuple[int, str, str, dict[str, Any]]] = []
        self.connections: list[ClientBase] = []
        self.closed: list[asyncio.Event] = []
        # Handlers in the place of the central system's, by action, for every connection.
        self.overrides: dict[str, Callable[[dict[str, Any]], Any]] = {}
        self._changed = asyncio.Event()
        server.on("connection", self._on_connection)

    def _on_connection(self, connection: ClientBase) -> None:
        self.system.attach(connection)
        for action, handler in self.overrides.items():
            connection.remove_all_listeners(action)
            connection.on(action, handler)
        self.connections.append(connection)
        number = len(self.connections)
        closed = asyncio.Event()
        self.closed.append(closed)

        def on_message(direction: str, text: str) -> None:
            frame = json.loads(text)
            if direction == "in" and frame[0] == 2:
                self.calls.append((number, frame[1], frame[2], frame[3]))
                self._changed.set()

        def on_close(code: int, reason: str) -> None:
            closed.set()
            self._changed.set()

        connection.on("message", on_message)
        connection.on("close", on_close)
        self._changed.set()

    async def call(
        self, action: str, where: Callable[[dict[str, Any]], bool], *, connection: int
    ) -> tuple[str, dict[str, Any]]:
        """Wait for a CALL of ``action`` on connection ``connection`` that ``where`` accepts."""
        async with asyncio.timeout(PROCESS_TIMEOUT):
            while True:
                for number, message_id, name, payload in self.calls:
                    if number == connection and name == action and where(payload):
                        return message_id, payload
                self._changed.clear()
                await self._changed.wait()

    def actions(self, connection: int) -> list[str]:
        """The actions of the CALLs of connection ``connection``, in order."""
        return [name for number, _, name, _ in self.calls if number == connection]


@asynccontextmanager
async def central() -> AsyncIterator[tuple[Central, str]]:
    """A central system on 127.0.0.1, port 0; yields it and the URL to simulate against."""
    async with Server() as server:
        recorder = Central(server)
        port = await server.listen(0, host="127.0.0.1")
        yield recorder, f"ws://127.0.0.1:{port}/ocpp"


async def simulate(url: str, store: Path) -> asyncio.subprocess.Process:
    """One charge point that starts a transaction at once and keeps it running for an hour."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocpp16",
        "simulate",
        url,
        *("--count", "1", "--duration", "3600", "--session", "3600"),
        *("--idle", "0.1", "--meter-interval", "1", "--seed", "1", "--store", str(store)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL: nothing of the process's own clean-up runs."""
    process.send_signal(signal.SIGKILL)
    async with asyncio.timeout(PROCESS_TIMEOUT):
        assert await process.wait() == -signal.SIGKILL


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """SIGTERM, as Ctrl-C: the run stops cleanly; its exit status and stderr."""
    process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(PROCESS_TIMEOUT):
        _, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, err.decode()


def stop_process(process: asyncio.subprocess.Process) -> None:
    """Leave no process behind when a test fails."""
    if process.returncode is None:
        process.kill()


async def test_a_killed_run_stops_its_transaction_when_started_again(tmp_path: Path) -> None:
    """SIGKILL mid-transaction, then the same run again: the transaction goes on and its StopTransaction arrives."""
    store = tmp_path / "state"  # made by the command
    async with central() as (cs, url):
        first = await simulate(url, store)
        try:
            _, start = await cs.call("StartTransaction", lambda p: True, connection=1)
            _, sample = await cs.call("MeterValues", lambda p: "transactionId" in p, connection=1)
            transaction_id = sample["transactionId"]
        finally:
            await kill(first)
        assert (store / f"{CP_ID}.sqlite3").is_file() and (store / f"{CP_ID}.json").is_file()
        async with asyncio.timeout(PROCESS_TIMEOUT):
            await cs.closed[0].wait()
        second = await simulate(url, store)
        try:
            # Taken up: its MeterValues go on under the same id on the new connection.
            await cs.call(
                "MeterValues", lambda p: p.get("transactionId") == transaction_id, connection=2
            )
            code, err = await finish(second)
        finally:
            stop_process(second)
        assert code == 0, err
        _, stop = await cs.call(
            "StopTransaction", lambda p: p["transactionId"] == transaction_id, connection=2
        )
    assert stop["reason"] == "Local" and stop["meterStop"] >= start["meterStart"]
    assert cs.actions(2)[0] == "BootNotification"
    assert [name for _, _, name, _ in cs.calls].count("StartTransaction") == 1
    assert cs.system.running[CP_ID] == {}  # no transaction left open at the central system


async def test_a_stop_transaction_queued_when_killed_is_delivered_on_restart(
    tmp_path: Path,
) -> None:
    """SIGKILL while a StopTransaction awaits its answer: the next run sends it again, same id, and no other."""
    store = tmp_path / "state"
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    held = asyncio.Event()

    async def hold_the_first(request: dict[str, Any]) -> dict[str, Any]:
        if not held.is_set():
            held.set()
            await never  # no answer: the charge point is killed meanwhile
        # OCPP 1.6 §6.50: idTagInfo answers the idTag of the request.
        return {"idTagInfo": {"status": "Accepted"}} if "idTag" in request else {}

    async with central() as (cs, url):
        cs.overrides["StopTransaction"] = hold_the_first
        first = await simulate(url, store)
        try:
            _, sample = await cs.call("MeterValues", lambda p: "transactionId" in p, connection=1)
            transaction_id = sample["transactionId"]
            async with asyncio.timeout(PROCESS_TIMEOUT):
                answer = await cs.connections[0].call_request(
                    "RemoteStopTransaction", {"transactionId": transaction_id}
                )
            assert answer == {"status": "Accepted"}
            message_id, _ = await cs.call("StopTransaction", lambda p: True, connection=1)
        finally:
            await kill(first)
        async with asyncio.timeout(PROCESS_TIMEOUT):
            await cs.closed[0].wait()
        second = await simulate(url, store)
        try:
            again, stop = await cs.call("StopTransaction", lambda p: True, connection=2)
            # The next session of the connector starts only after the answer: then
            # every CALL of the first transaction is in.
            await cs.call("StartTransaction", lambda p: True, connection=2)
            code, err = await finish(second)
        finally:
            stop_process(second)
            never.cancel()
        assert code == 0, err
    assert again == message_id  # the same CALL, from the queue file
    assert (stop["transactionId"], stop["reason"]) == (transaction_id, "Remote")
    stops = [(m, p) for _, m, name, p in cs.calls if name == "StopTransaction"]
    assert [m for m, p in stops if p["transactionId"] == transaction_id] == [message_id] * 2
    # The transaction was over: the second run did not take it up.
    assert not [
        p
        for number, _, name, p in cs.calls
        if number == 2 and name == "MeterValues" and p.get("transactionId") == transaction_id
    ]


async def killed_while_starting(cs: Central, url: str, store: Path) -> str:
    """Run the charge point until its StartTransaction is out unanswered, then SIGKILL it.

    Returns:
        The StartTransaction's message id.
    """
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def hold(request: dict[str, Any]) -> dict[str, Any]:
        await never
        raise AssertionError("never answered")

    cs.overrides["StartTransaction"] = hold
    first = await simulate(url, store)
    try:
        message_id, _ = await cs.call("StartTransaction", lambda p: True, connection=1)
    finally:
        await kill(first)
        never.cancel()
    del cs.overrides["StartTransaction"]
    async with asyncio.timeout(PROCESS_TIMEOUT):
        await cs.closed[0].wait()
    return message_id


async def test_a_start_transaction_unanswered_when_killed_is_taken_up(tmp_path: Path) -> None:
    """SIGKILL while StartTransaction awaits its answer: the next run sends it again and charges in that transaction."""
    store = tmp_path / "state"
    async with central() as (cs, url):
        message_id = await killed_while_starting(cs, url, store)
        second = await simulate(url, store)
        try:
            again, _ = await cs.call("StartTransaction", lambda p: True, connection=2)
            _, sample = await cs.call("MeterValues", lambda p: "transactionId" in p, connection=2)
            code, err = await finish(second)
        finally:
            stop_process(second)
        assert code == 0, err
        _, stop = await cs.call("StopTransaction", lambda p: True, connection=2)
    assert again == message_id  # the same CALL, from the queue file
    assert sample["transactionId"] == stop["transactionId"] == 1  # the one id issued
    assert [name for _, _, name, _ in cs.calls].count("StartTransaction") == 2
    assert cs.system.running[CP_ID] == {}


async def test_a_transaction_the_state_file_lost_is_stopped(tmp_path: Path) -> None:
    """A StartTransaction answered after a restart that no state file knows of: stopped at once (PowerLoss)."""
    store = tmp_path / "state"
    async with central() as (cs, url):
        await killed_while_starting(cs, url, store)
        (store / f"{CP_ID}.json").unlink()  # as if killed before it was written
        second = await simulate(url, store)
        try:
            _, start = await cs.call("StartTransaction", lambda p: True, connection=2)
            _, stop = await cs.call(
                "StopTransaction", lambda p: p["reason"] == "PowerLoss", connection=2
            )
            code, err = await finish(second)
        finally:
            stop_process(second)
        assert code == 0, err
    assert stop["transactionId"] == 1 and stop["meterStop"] == start["meterStart"]
    assert cs.system.running[CP_ID] == {}


def test_a_queue_file_in_use_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--store on a queue file another process (here, this one) holds: one line naming it, exit 1."""
    from ocpp16 import SQLiteStore
    from ocpp16._cli import main

    held = SQLiteStore(tmp_path / f"{CP_ID}.sqlite3")
    try:
        code = main(["simulate", "ws://127.0.0.1:1/ocpp", "--count", "1", "--store", str(tmp_path)])
    finally:
        held.close()
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.count("\n") == 1
    assert "in use by another process" in captured.err and f"{CP_ID}.sqlite3" in captured.err


def test_a_damaged_state_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--store with a state file that is not one: one line naming it, exit 1, the queue untouched."""
    from ocpp16._cli import main

    (tmp_path / f"{CP_ID}.json").write_text('{"version": 1, "connectors": {"1": 5}}')
    code = main(["simulate", "ws://127.0.0.1:1/ocpp", "--count", "1", "--store", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.count("\n") == 1
    assert "is damaged" in captured.err and f"{CP_ID}.json" in captured.err
    assert (tmp_path / f"{CP_ID}.sqlite3").is_file()
