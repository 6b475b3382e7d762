"""A charge point process killed with SIGKILL and started again on the same store loses nothing.

Real processes (``sys.executable`` running ``durable_cp.py``), a real SQLite
file under ``tmp_path``, and a bare central system in this process that
records every CALL: all of them arrive, in order, none lost; the one that was
in flight when the process died arrives at most twice, with the same id.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from tests.chargepoint.raw_central import NO_ANSWER, Frame, RawCentralSystem, free_port
from tests.helpers import TIMEOUT

SCRIPT = Path(__file__).with_name("durable_cp.py")
# Starting a Python process is slow on a busy machine (and slower under coverage).
PROCESS_TIMEOUT = 60

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")


async def charge_point(store: Path, url: str, *args: str) -> asyncio.subprocess.Process:
    """Start the charge point script."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        str(store),
        url,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def line(process: asyncio.subprocess.Process) -> str:
    """The next line the process prints (its stderr when it ends instead)."""
    assert process.stdout is not None and process.stderr is not None
    async with asyncio.timeout(PROCESS_TIMEOUT):
        text = await process.stdout.readline()
        if not text:
            raise AssertionError((await process.stderr.read()).decode())
    return text.decode().strip()


async def kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL: no clean-up of any kind runs in the process."""
    process.send_signal(signal.SIGKILL)
    async with asyncio.timeout(PROCESS_TIMEOUT):
        assert await process.wait() == -signal.SIGKILL


async def deliver(store: Path, central: RawCentralSystem) -> int:
    """Start the charge point again on ``store``; return what it held; wait until it is done."""
    process = await charge_point(store, central.url, "deliver")
    try:
        held = int((await line(process)).split()[1])
        assert await line(process) == "delivered"
        async with asyncio.timeout(PROCESS_TIMEOUT):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return held


def values(central: RawCentralSystem) -> list[str]:
    """What each CALL was, in arrival order: start, the meter values' counts, stop."""
    out = []
    for _, action, payload in central.calls:
        if action == "MeterValues":
            out.append(payload["meterValue"][0]["sampledValue"][0]["value"])
        else:
            out.append(action)
    return out


async def test_killed_while_100_are_queued(tmp_path: Path) -> None:
    """100 CALLs queued offline, SIGKILL, restart: all 100 arrive in order, once each."""
    store = tmp_path / "cp.sqlite3"
    port = free_port()
    process = await charge_point(store, f"ws://127.0.0.1:{port}/ocpp", "queue", "100")
    try:
        assert await line(process) == "queued 100"
    finally:
        await kill(process)
    central = await RawCentralSystem().start(port)
    try:
        assert await deliver(store, central) == 100
    finally:
        await central.stop()
    assert values(central) == ["StartTransaction", *map(str, range(98)), "StopTransaction"]
    assert len({message_id for message_id, _, _ in central.calls}) == 100
    # The link to the StartTransaction was stored: its id reached the other 99.
    assert {payload["transactionId"] for _, _, payload in central.calls[1:]} == {1}


async def test_killed_while_one_is_in_flight(tmp_path: Path) -> None:
    """SIGKILL while CALL 51 awaits its answer: after a restart it goes again with its id."""
    held = asyncio.get_running_loop().create_future()

    def answer(frame: Frame, n: int) -> Frame | None:
        if n == 51 and not held.done():
            held.set_result(frame[1])
            return NO_ANSWER
        return central.willing(frame, n)

    central = RawCentralSystem(answer)
    await central.start()
    store = tmp_path / "cp.sqlite3"
    process = await charge_point(store, central.url, "queue", "100")
    try:
        assert await line(process) == "queued 100"
        async with asyncio.timeout(TIMEOUT * 3):
            in_flight = await held
    finally:
        await kill(process)
    try:
        assert await deliver(store, central) == 50
    finally:
        await central.stop()
    ids = [message_id for message_id, _, _ in central.calls]
    assert len(ids) == 101
    assert ids[50] == ids[51] == in_flight  # the one in flight, twice, with the same id
    assert len(set(ids)) == 100
    expected = ["StartTransaction", *map(str, range(98)), "StopTransaction"]
    assert values(central) == expected[:51] + expected[50:]
    assert {payload["transactionId"] for _, _, payload in central.calls[1:]} == {1}
