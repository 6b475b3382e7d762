"""``ocpp16 simulate`` and ``ocpp16 demo``: whole runs against a central system, summaries, scale."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from rich.console import Console

from ocpp16 import ClientBase, Server
from ocpp16._cli import main
from ocpp16._cli.central import CentralSystem
from ocpp16._cli.chargepoint import SimConfig
from ocpp16._cli.simulate import ProgressView, SimResult, render_summary, run_simulation
from ocpp16._cli.stats import Stats
from tests.helpers import TIMEOUT, wait

# A run that is ended by its work gets this long a duration: it never ends by the clock.
NEVER = 3600.0
# The hang guard of a whole run: generous, never a measure of how fast the run went.
RUN_GUARD = 100.0


@asynccontextmanager
async def central(**server_options: Any) -> AsyncIterator[tuple[Server, str, Counter[str]]]:
    """Serve's central system in this event loop; yields it, its URL and the actions it got."""
    system = CentralSystem(heartbeat_interval=1)
    seen: Counter[str] = Counter()

    def on_connection(connection: ClientBase) -> None:
        system.attach(connection)

        def count(direction: str, text: str) -> None:
            frame = json.loads(text)
            if direction == "in" and frame[0] == 2:
                seen[frame[2]] += 1

        connection.on("message", count)

    async with Server(**server_options) as server:
        server.on("connection", on_connection)
        port = await server.listen(0, host="127.0.0.1")
        yield server, f"ws://127.0.0.1:{port}/ocpp", seen


def quick(url: str, **overrides: Any) -> SimConfig:
    """A configuration whose charge points do everything within a second or two."""
    settings: dict[str, Any] = {
        "url": url,
        "count": 3,
        "duration": 3.0,
        "meter_interval": 0.2,
        "session": 0.6,
        "idle": 0.2,
        "call_timeout": 5.0,
        "seed": 7,
    }
    settings.update(overrides)
    return SimConfig(**settings)


def stop_when(
    done: Callable[[Stats], bool],
) -> tuple[asyncio.Event, Callable[[Stats, float], None]]:
    """A stop event, and an ``on_tick`` that sets it once ``done(stats)`` holds.

    The run ends when its work is done, however long that takes on a busy machine:
    the tests assert what was done, never that it was done within some seconds.
    """
    stop = asyncio.Event()

    def tick(stats: Stats, elapsed: float) -> None:
        if done(stats):
            stop.set()

    return stop, tick


def end_command_when(
    monkeypatch: pytest.MonkeyPatch, module: str, done: Callable[[Stats], bool]
) -> None:
    """Make the command of ``module`` end its run once ``done(stats)`` holds.

    The command's own stop event is set, as a Ctrl-C would set it: the command
    then stops its charge points, prints its summary and exits as it always does.
    """

    async def run(
        config: SimConfig,
        *,
        stop: asyncio.Event | None = None,
        on_tick: Callable[[Stats, float], None] | None = None,
        **options: Any,
    ) -> SimResult:
        assert stop is not None, "the command passes its stop event"

        def tick(stats: Stats, elapsed: float) -> None:
            if on_tick is not None:
                on_tick(stats, elapsed)
            if done(stats):
                stop.set()

        return await run_simulation(config, stop=stop, on_tick=tick, **options)

    monkeypatch.setattr(f"ocpp16._cli.{module}.run_simulation", run)


def render(result: SimResult) -> str:
    out = io.StringIO()
    Console(file=out, width=160).print(render_summary(result))
    return out.getvalue()


async def test_a_run_boots_charges_and_stops_cleanly() -> None:
    """Charge points boot, run whole sessions, and stop every transaction they started."""
    async with central() as (server, url, seen):
        # The run ends once three whole sessions have ended by themselves, each point has
        # booted, and heartbeats and MeterValues (every second in sessions of 1.25 s or
        # more) have come in.
        stop, tick = stop_when(
            lambda stats: (
                stats.booted == 3
                and stats.transactions_stopped >= 3
                and seen["Heartbeat"] >= 3
                and seen["MeterValues"] > 0
            )
        )
        config = quick(url, duration=NEVER, meter_interval=1, session=2.5)
        async with asyncio.timeout(RUN_GUARD):
            result = await run_simulation(config, stop=stop, on_tick=tick, tick=0.05)
        stats = result.stats
        assert (stats.booted, result.peak_connected, stats.connected) == (3, 3, 0)
        assert stats.error_count == 0, stats.error_kinds
        assert stats.transactions_started >= 3
        assert stats.transactions_stopped == stats.transactions_started
        assert stats.active_transactions == 0
        assert stats.energy_wh > 0
        # The central system saw what the charge points say they sent.
        assert seen["StartTransaction"] == seen["StopTransaction"] == stats.transactions_started
        assert seen["BootNotification"] == 3 and seen["Heartbeat"] >= 3
        assert seen["MeterValues"] > 0 and seen["Authorize"] >= 3
        rows = {row.action: row for row in stats.table()}
        for action in ("(connect)", "BootNotification", "StartTransaction", "StopTransaction"):
            assert rows[action].count > 0 and 0 < rows[action].p50 <= rows[action].p99
        assert server.clients == {}


async def test_a_run_ends_by_itself_when_its_duration_is_up() -> None:
    """Without a stop, a run lasts its duration, ends by itself and is not called interrupted."""
    async with central() as (server, url, _seen):
        result = await wait(run_simulation(quick(url, count=1, duration=0.5)))
        assert server.clients == {}
    assert not result.interrupted and result.elapsed >= 0.5
    assert result.stats.connected == 0 and result.stats.active_transactions == 0
    assert "(stopped early)" not in render(result)


async def test_summary_lists_counts_and_percentiles() -> None:
    """The closing summary gives the counts and p50/p95/p99 per action."""
    async with central() as (_, url, _seen):
        stop, tick = stop_when(lambda stats: stats.booted == 2)
        config = quick(url, count=2, duration=NEVER)
        async with asyncio.timeout(RUN_GUARD):
            result = await run_simulation(config, stop=stop, on_tick=tick, tick=0.05)
    text = render(result)
    assert "2 simulated, 2 booted, 2 connected at peak" in text
    assert re.search(r"transactions\s+\d+ started, \d+ stopped, [\d,.]+ k?Wh delivered", text)
    assert re.search(r"errors\s+none", text)
    header = next(line for line in text.splitlines() if "p50" in line)
    assert re.search(r"action.*calls.*errors.*p50.*p95.*p99", header)
    boot = next(line for line in text.splitlines() if "BootNotification" in line)
    assert re.search(r"BootNotification\s*│\s*2\s*│\s*│\s*[\d.]+\s*│\s*[\d.]+\s*│\s*[\d.]+", boot)


async def test_stop_ends_early_and_still_stops_transactions() -> None:
    """Ctrl-C (the stop event) ends the run early; running transactions are still stopped."""
    async with central() as (_, url, seen):
        stop = asyncio.Event()
        started = asyncio.Event()

        def tick(stats: Any, elapsed: float) -> None:
            if stats.active_transactions >= 2:
                started.set()
                stop.set()

        config = quick(url, count=2, duration=60, session=60)
        result = await wait(run_simulation(config, stop=stop, on_tick=tick, tick=0.05))
        assert started.is_set() and result.interrupted
        assert result.stats.transactions_stopped == result.stats.transactions_started >= 2
        assert seen["StopTransaction"] == result.stats.transactions_stopped
    assert "(stopped early)" in render(result)


async def test_errors_are_counted_by_kind() -> None:
    """A central system that answers nothing useful: the errors are counted and named."""
    async with Server() as server:
        port = await server.listen(0, host="127.0.0.1")  # no handlers: NotSupported
        config = quick(f"ws://127.0.0.1:{port}/ocpp", count=1, duration=NEVER)
        stop, tick = stop_when(lambda stats: stats.errors["BootNotification"] >= 1)
        async with asyncio.timeout(RUN_GUARD):
            result = await run_simulation(config, stop=stop, on_tick=tick, tick=0.05)
    assert result.stats.errors["BootNotification"] >= 1
    assert result.stats.error_kinds["CALLERROR NotSupported"] >= 1
    assert result.stats.booted == 0
    assert "CALLERROR NotSupported x" in render(result)


# The whole run's hang guard, and pytest-timeout's above it: under coverage on a busy
# machine the work takes minutes where it takes seconds alone.
@pytest.mark.timeout(600)
async def test_a_thousand_charge_points() -> None:
    """N = 1,000 charge points connect, boot and charge in one process, with no error."""
    # No keepalive and no handshake timeout on the server side: they would measure
    # how busy the machine is, not whether 1,000 charge points work.
    async with central(ping_interval=None, handshake_timeout=None) as (server, url, seen):
        connected = asyncio.Event()
        finished: set[str] = set()  # the charge points whose StopTransaction came in

        def watch(connection: ClientBase) -> None:
            def on_message(direction: str, text: str) -> None:
                frame = json.loads(text)
                if direction == "in" and frame[0] == 2 and frame[2] == "StopTransaction":
                    finished.add(connection.cp_id)

            connection.on("message", on_message)

        server.on("connection", watch)
        stop = asyncio.Event()

        def tick(stats: Stats, elapsed: float) -> None:
            if stats.connected == 1000:
                connected.set()
            # Done once every charge point has booted and ended a session by itself;
            # an error ends the run at once, to fail with what went wrong.
            if (stats.booted == 1000 and len(finished) == 1000) or stats.error_count:
                stop.set()

        config = quick(
            url,
            count=1000,
            duration=NEVER,
            meter_interval=2.0,
            session=3.0,
            idle=1.0,
            # What this checks is that 1,000 charge points work, not how fast the
            # central system answers under load: no call may time out.
            call_timeout=NEVER,
        )
        async with asyncio.timeout(500):
            result = await run_simulation(config, stop=stop, on_tick=tick)
        stats = result.stats
        assert stats.error_count == 0, stats.error_kinds
        assert len(finished) == 1000
        assert connected.is_set() and result.peak_connected == 1000
        assert stats.booted == 1000 and seen["BootNotification"] == 1000
        assert stats.transactions_started >= 1000
        assert stats.transactions_stopped == stats.transactions_started
        assert server.clients == {}


def test_progress_without_a_terminal_prints_a_line_every_few_seconds() -> None:
    """Into a file, the progress view prints a plain line every `every` seconds."""
    out = io.StringIO()
    stats = Stats(connected=5)
    stats.latency("Heartbeat", 0.001)
    with ProgressView(Console(file=out, width=200), total=10, duration=60, every=5) as view:
        for elapsed in (0.5, 1.0, 5.6, 6.0, 10.6):
            view.update(stats, elapsed)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # at 0.5, 5.6 and 10.6 s
    assert "connected 5/10" in lines[0] and "calls/s" in lines[0] and "errors 0" in lines[0]


def test_progress_on_a_terminal_redraws_in_place() -> None:
    """On a terminal the progress line is live and gone when the run ends."""
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True)
    with ProgressView(console, total=2, duration=10) as view:
        view.update(Stats(connected=2), 1.0)
        assert "connected 2/2" in re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", out.getvalue())
    # Transient: the cursor comes back, moves up a line and erases it (ESC[1A, ESC[2K).
    assert out.getvalue().endswith("\x1b[?25h\r\x1b[1A\x1b[2K")


# ---------------------------------------------------------------------- the command


@contextmanager
def serve_process(*args: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """``python -m ocpp16 serve`` on 127.0.0.1, port 0; yields it and its port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ocpp16", "serve", "--host", "127.0.0.1", "--port", "0", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()  # blocks until it listens (pytest-timeout bounds it)
        found = re.search(r"127\.0\.0\.1:(\d+)/", banner)
        assert found, banner + process.stderr.read()
        yield process, int(found.group(1))
    finally:
        if process.poll() is None:
            # SIGTERM stops serve as Ctrl-C does, and it exits as it always does: a
            # process killed outright would leave no coverage data of its own.
            process.terminate()
        try:
            process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=TIMEOUT)


def test_simulate_against_serve(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``simulate --json`` against ``serve``: a JSON summary, exit 0, and serve printed it all."""
    # The run ends once every charge point has booted and each action of the summary
    # below has been answered at least once.
    end_command_when(
        monkeypatch,
        "commands",
        lambda stats: (
            stats.booted == 3
            and all(
                action in stats.latencies
                for action in ("Heartbeat", "StartTransaction", "MeterValues", "StopTransaction")
            )
        ),
    )
    with serve_process("--json", "--heartbeat-interval", "1") as (server, port):
        status = main(
            [
                "simulate",
                f"ws://127.0.0.1:{port}/ocpp",
                "--count",
                "3",
                "--duration",
                str(NEVER),
                "--meter-interval",
                "1",
                "--session",
                "2",
                "--idle",
                "0.3",
                "--connectors",
                "2",
                "--seed",
                "1",
                "--json",
            ]
        )
        server.terminate()  # SIGTERM stops serve as Ctrl-C does
        out, err = server.communicate(timeout=TIMEOUT)
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["count"] == 3 and summary["booted"] == 3 and summary["errors"] == {}
    assert summary["transactions"]["started"] == summary["transactions"]["stopped"] > 0
    for action in ("BootNotification", "Heartbeat", "StartTransaction", "MeterValues"):
        assert set(summary["latency_ms"][action]) == {"count", "errors", "p50", "p95", "p99"}
    assert server.returncode == 0 and "Traceback" not in err
    records = [json.loads(line) for line in out.splitlines()]
    calls = Counter(r["action"] for r in records if r.get("type") == "CALL")
    assert calls["StartTransaction"] == summary["transactions"]["started"]
    assert {r["cp"] for r in records} == {"SIM0001", "SIM0002", "SIM0003"}


def test_simulate_with_passwords(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --passwords on both ends the charge points connect; with a wrong one, one clear line."""
    passwords = tmp_path / "passwords.txt"
    passwords.write_text("SIM0001:secret-one\nSIM0002:secret-two\n")
    end_command_when(monkeypatch, "commands", lambda stats: stats.booted == 2)
    with serve_process("--passwords", str(passwords)) as (_server, port):
        url = f"ws://127.0.0.1:{port}/ocpp"
        args = ["simulate", url, "--count", "2", "--duration", str(NEVER), "--json"]
        assert main([*args, "--passwords", str(passwords)]) == 0
        assert json.loads(capsys.readouterr().out)["booted"] == 2
        assert main([*args, "--password", "wrong"]) == 1
        err = capsys.readouterr().err
    assert err == (
        f"ocpp16 simulate: SIM0001 could not connect to {url}: {url}/SIM0001 refused the "
        "connection with HTTP 401: Unauthorized. (check --password or --passwords)\n"
    )


def test_simulate_prints_progress_log_and_summary(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --json: the banner, message lines with --log, progress, and the summary tables."""
    end_command_when(monkeypatch, "commands", lambda stats: stats.booted == 2)
    with serve_process() as (_server, port):
        status = main(
            [
                "simulate",
                f"ws://127.0.0.1:{port}/ocpp",
                "--count",
                "2",
                "--duration",
                str(NEVER),
                "--idle",
                "0.2",
                "--log",
            ]
        )
    out = capsys.readouterr().out
    assert status == 0
    assert "ocpp16 simulate: 2 charge points against" in out
    assert re.search(r"SIM0001  CP->CS  CALL  BootNotification  \{", out)
    assert re.search(r"SIM0002  CS->CP  CALLRESULT  BootNotification  \{", out)
    assert "connected 2/2" in out or "connected 1/2" in out  # the first progress line
    assert "latency of the central system's answers (ms)" in out


def test_simulate_ends_by_itself_after_its_duration(capsys: pytest.CaptureFixture[str]) -> None:
    """``simulate --duration`` ends the run when the time is up: exit 0, not interrupted."""
    with serve_process() as (_server, port):
        url = f"ws://127.0.0.1:{port}/ocpp"
        status = main(["simulate", url, "--count", "1", "--duration", "0.5", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert status == 0 and summary["errors"] == {}
    assert summary["interrupted"] is False and summary["elapsed"] >= 0.5
    assert summary["connected"] == 0 and summary["transactions"]["active"] == 0


def test_demo(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """``ocpp16 demo`` shows charge points booting and transactions running, then the summary."""
    # The demo ends once both have booted, the central system has asked for their
    # configuration, and a transaction has been started and stopped.
    end_command_when(
        monkeypatch,
        "demo",
        lambda stats: (
            stats.booted == 2
            and stats.received["GetConfiguration"] >= 1
            and stats.transactions_stopped >= 1
        ),
    )
    assert main(["demo", "--count", "2", "--duration", str(NEVER), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    for action in ("BootNotification", "StartTransaction", "StopTransaction", "GetConfiguration"):
        assert re.search(rf"DEMO000\d  \S+  CALL  {action}  ", out), action
    assert re.search(r"CS->CP  CALLRESULT  StartTransaction  \{\"transactionId\":1,", out)
    assert "2 simulated, 2 booted" in out
    assert re.search(r"errors\s+none", out)
    assert re.search(r"central system: 2 boots accepted, \d+ transaction ids issued", out)


def _demo_script_done(lines: list[str]) -> bool:
    """Whether the demo's central system has played its script out, judged by its output.

    Each charge point has booted and reported its status (so it counts as booted),
    DEMO0001 has started the remote session, and DEMO0002 has booted again after its
    Reset; or the remote start was refused, which the assertions then report.
    """
    text = "".join(lines)
    if 'CALLRESULT  RemoteStartTransaction  {"status":"Rejected"}' in text:
        return True
    reported = set(re.findall(r"(DEMO\d+)  CP->CS  CALL  StatusNotification", text))
    boots = Counter(re.findall(r"(DEMO\d+)  CP->CS  CALL  BootNotification", text))
    return (
        reported == {"DEMO0001", "DEMO0002", "DEMO0003"}
        and re.search(
            r"CALL  StartTransaction  \{\"connectorId\":1,\"idTag\":\"DEMO-REMOTE\"", text
        )
        is not None
        and boots["DEMO0002"] == 2
    )


async def test_demo_through_the_console_script() -> None:
    """The README's first command: the installed ``ocpp16 demo`` runs and exits 0."""
    script = shutil.which("ocpp16", path=os.path.dirname(sys.executable))
    assert script is not None
    process = await asyncio.create_subprocess_exec(
        script,
        "demo",
        "--duration",
        str(NEVER),
        "--count",
        "3",
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        # The demo plays its script out, however long that takes here; then Ctrl-C
        # ends it, as it ends any demo before its duration is up.
        lines: list[str] = []
        async with asyncio.timeout(RUN_GUARD):
            while not _demo_script_done(lines):
                line = (await process.stdout.readline()).decode()
                assert line, "the demo ended before its script was done"
                lines.append(line)
            process.send_signal(signal.SIGINT)
            rest, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stdout = "".join(lines) + rest.decode()
    stderr = err.decode()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    # The central system's script: a remote start and a Reset after which DEMO0002 boots again.
    # A remote stop comes first only when DEMO0001 is charging at that moment.
    stops = re.findall(r"CP->CS  CALLRESULT  RemoteStopTransaction  (.*)", stdout)
    assert stops in ([], ['{"status":"Accepted"}'])
    assert 'CP->CS  CALLRESULT  RemoteStartTransaction  {"status":"Accepted"}' in stdout
    assert re.search(
        r"CALL  StartTransaction  \{\"connectorId\":1,\"idTag\":\"DEMO-REMOTE\"", stdout
    )
    assert "CS->CP  CALL  Reset" in stdout
    boots = re.findall(r"(DEMO\d+)  CP->CS  CALL  BootNotification", stdout)
    assert Counter(boots)["DEMO0002"] == 2
    assert "3 simulated, 3 booted" in stdout


async def test_simulated_charge_points_at_a_mobilityhouse_central() -> None:
    """The simulator's messages and answers pass another implementation's validation (mobilityhouse ocpp)."""
    from ocpp.v16 import call
    from websockets.asyncio.server import ServerConnection
    from websockets.asyncio.server import serve as ws_serve

    from tests.interop.test_interop import MhCentral

    centrals: list[MhCentral] = []
    first_status = asyncio.Event()
    starts: list[asyncio.Task[None]] = []

    async def handler(ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        central = MhCentral(path.rsplit("/", 1)[-1], ws)
        centrals.append(central)
        start = asyncio.create_task(central.start())
        starts.append(start)
        await asyncio.wait([start])

    answers: dict[str, Any] = {}

    async def operator() -> None:
        # mobilityhouse, as the central system, calls the first charge point once it is up.
        await centrals[0].status_seen.wait()
        answers["GetConfiguration"] = await centrals[0].call(
            call.GetConfiguration(key=["HeartbeatInterval", "Nope"])
        )
        answers["TriggerMessage"] = await centrals[0].call(
            call.TriggerMessage(requested_message="StatusNotification")
        )
        answers["ChangeConfiguration"] = await centrals[0].call(
            call.ChangeConfiguration(key="MeterValueSampleInterval", value="2")
        )

    stop = asyncio.Event()
    operated = asyncio.Event()

    def tick(stats: Any, elapsed: float) -> None:
        if centrals and centrals[0].status_seen.is_set():
            first_status.set()
        # The run ends once the operator is done, each charge point has ended a session
        # (its central system got the StopTransaction) and MeterValues have come in.
        if (
            operated.is_set()
            and len(centrals) == 3
            and all("StopTransaction" in central.received for central in centrals)
            and any("MeterValues" in central.received for central in centrals)
        ):
            stop.set()

    ws_server = await ws_serve(handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"])  # type: ignore[list-item]
    try:
        port = ws_server.sockets[0].getsockname()[1]
        config = quick(
            f"ws://127.0.0.1:{port}/ocpp", duration=NEVER, meter_interval=1, session=1.5, idle=0.3
        )
        operating = asyncio.ensure_future(wait(first_status.wait()))
        simulation = asyncio.ensure_future(
            run_simulation(config, stop=stop, on_tick=tick, tick=0.05)
        )
        await wait(operating)
        await wait(operator())
        operated.set()
        async with asyncio.timeout(RUN_GUARD):
            result = await simulation
    finally:
        ws_server.close()
        await wait(ws_server.wait_closed())
        await wait(asyncio.gather(*starts, return_exceptions=True))
    stats = result.stats
    assert stats.error_count == 0, stats.error_kinds  # mobilityhouse refused nothing
    assert stats.booted == 3 and stats.transactions_stopped == stats.transactions_started > 0
    for action in ("BootNotification", "StatusNotification", "StartTransaction", "StopTransaction"):
        assert all(action in central.received for central in centrals), action
    assert any("MeterValues" in central.received for central in centrals)
    configuration = answers["GetConfiguration"]
    assert [k["key"] for k in configuration.configuration_key] == ["HeartbeatInterval"]
    assert configuration.unknown_key == ["Nope"]
    assert answers["TriggerMessage"].status == "Accepted"
    assert answers["ChangeConfiguration"].status == "Accepted"
    assert stats.received == Counter(
        {"GetConfiguration": 1, "TriggerMessage": 1, "ChangeConfiguration": 1}
    )


def test_demo_quiet_prints_the_summary_only(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ocpp16 demo --quiet`` prints no message lines, only the summary."""
    end_command_when(monkeypatch, "demo", lambda stats: stats.booted == 1)
    assert main(["demo", "--count", "1", "--duration", str(NEVER), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "CALL" not in out
    assert "1 simulated, 1 booted" in out
    assert re.search(r"central system: 1 boots accepted, \d+ transaction ids issued\n", out)


def test_demo_ends_by_itself_after_its_duration(capsys: pytest.CaptureFixture[str]) -> None:
    """``ocpp16 demo --duration`` ends when the time is up: exit 0, the summary, not stopped early."""
    assert main(["demo", "--count", "1", "--duration", "0.5", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "1 simulated" in out and "(stopped early)" not in out
    assert re.search(r"central system: \d+ boots accepted, \d+ transaction ids issued\n", out)


async def test_stop_before_the_first_connection_is_an_interruption() -> None:
    """Ctrl-C while the first handshake hangs ends the run at once, as an interruption."""
    from ocpp16._cli.simulate import Interrupted

    accepted = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()  # the TCP connection is up; the HTTP upgrade is never answered
        await reader.read()
        writer.close()

    tcp = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    try:
        running = asyncio.ensure_future(
            run_simulation(quick(f"ws://127.0.0.1:{port}/ocpp"), stop=stop)
        )
        await wait(accepted.wait())
        stop.set()
        with pytest.raises(Interrupted):
            await wait(running)  # well before the 10 s handshake timeout
    finally:
        tcp.close()
        await tcp.wait_closed()


async def test_stop_during_the_ramp_connects_no_more() -> None:
    """Ctrl-C while charge points are still connecting: those not yet connected give up."""
    release = asyncio.Event()

    async with central() as (server, url, seen):

        async def gate(cp_id: str, handshake: Any) -> bool:
            if cp_id != "SIM0001":
                await release.wait()  # every other handshake hangs until the end
            return True

        server.on("authorization", gate)
        stop = asyncio.Event()

        def tick(stats: Any, elapsed: float) -> None:
            if stats.booted == 1:
                stop.set()

        config = quick(url, count=6, duration=60, connect_concurrency=2)
        result = await wait(run_simulation(config, stop=stop, on_tick=tick, tick=0.05))
        release.set()
    assert result.interrupted and result.stats.booted == 1 and result.peak_connected == 1
    assert seen["BootNotification"] == 1


def test_unreachable_prints_no_banner(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json too, an unreachable central system is the one line on stderr, nothing else."""
    from tests.cli.test_cli import closed_port

    assert main(["simulate", f"ws://127.0.0.1:{closed_port()}/ocpp"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "could not connect" in captured.err
