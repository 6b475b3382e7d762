"""``ocpp16 simulate``: many charge points against one central system, and what they measured."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ocpp16 import ClientBase, HandshakeError, StoreError

from .chargepoint import SimConfig, SimulatedChargePoint, describe_connect_error
from .state import StateError
from .stats import Stats

__all__ = [
    "BadStore",
    "Interrupted",
    "ProgressView",
    "SimResult",
    "Unreachable",
    "render_summary",
    "run_simulation",
]


class Unreachable(Exception):
    """The first charge point could not connect; the message says why, in one line."""


class BadStore(Exception):
    """The ``--store`` directory, or a file in it, cannot be used; the message says why."""


class Interrupted(Exception):
    """The run was stopped before its first charge point had connected."""


@dataclass
class SimResult:
    """What a simulation did.

    Attributes:
        config: How it ran.
        stats: What it counted.
        elapsed: Seconds from the first connection to the last disconnection.
        peak_connected: The most charge points connected at once.
        interrupted: Whether it was stopped before its duration was up.
    """

    config: SimConfig
    stats: Stats
    elapsed: float
    peak_connected: int
    interrupted: bool


class ProgressView:
    """The live progress line: connected, calls per second, transactions, errors.

    On a terminal it redraws in place; elsewhere (a pipe, a log file) it prints
    a line every ``every`` seconds.

    Args:
        console: Where it goes.
        total: Charge points in the run.
        duration: Seconds the run lasts.
        every: Seconds between lines when not on a terminal.
    """

    def __init__(self, console: Console, total: int, duration: float, every: float = 5.0) -> None:
        self.console = console
        self.total = total
        self.duration = duration
        self.every = every
        self._live: Live | None = None
        self._last_calls = 0
        self._last_time = 0.0
        self._last_line = -every
        self.rate = 0.0

    def __enter__(self) -> ProgressView:
        if self.console.is_terminal:
            self._live = Live(console=self.console, auto_refresh=False, transient=True)
            self._live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._live is not None:
            self._live.stop()

    def line(self, stats: Stats, elapsed: float) -> Text:
        """Return the progress line for ``stats`` at ``elapsed`` seconds."""
        calls = stats.calls_sent + sum(stats.received.values())
        if elapsed > self._last_time:
            self.rate = (calls - self._last_calls) / (elapsed - self._last_time)
        self._last_calls, self._last_time = calls, elapsed
        errors = stats.error_count
        return Text.assemble(
            (f"{min(elapsed, self.duration):5.0f}/{self.duration:.0f} s", "dim"),
            "  connected ",
            (f"{stats.connected}/{self.total}", "bold"),
            "  calls/s ",
            (f"{self.rate:,.0f}", "bold"),
            "  transactions ",
            (f"{stats.active_transactions} running, {stats.transactions_stopped} done", "bold"),
            "  errors ",
            (f"{errors}", "bold red" if errors else "bold green"),
        )

    def update(self, stats: Stats, elapsed: float) -> None:
        """Show the progress at ``elapsed`` seconds."""
        if self._live is not None:
            self._live.update(self.line(stats, elapsed), refresh=True)
        elif elapsed - self._last_line >= self.every:
            self._last_line = elapsed
            self.console.print(self.line(stats, elapsed), highlight=False, soft_wrap=True)


async def run_simulation(
    config: SimConfig,
    *,
    stop: asyncio.Event | None = None,
    on_connection: Callable[[ClientBase], None] | None = None,
    on_tick: Callable[[Stats, float], None] | None = None,
    tick: float = 0.5,
    on_started: Callable[[], None] | None = None,
) -> SimResult:
    """Run ``config.count`` charge points for ``config.duration`` seconds.

    The first charge point connects alone: when it cannot, the others would not
    either, and one clear message is worth more than a thousand retries.

    Args:
        config: How the charge points behave.
        stop: Set it to end the run early (Ctrl-C); the charge points still stop
            their transactions and disconnect cleanly.
        on_connection: Called with each new connection before it opens.
        on_tick: Called every ``tick`` seconds with the counters and the elapsed time.
        tick: Seconds between ``on_tick`` calls.
        on_started: Called once the first charge point has connected.

    Returns:
        What the run did.

    Raises:
        Unreachable: The first charge point could not connect.
        Interrupted: ``stop`` was set before it did.
        BadStore: ``config.store`` cannot be used.
    """
    stats = Stats()
    points = _charge_points(config, stats, on_connection)
    try:
        return await _run(config, stats, points, stop, on_tick, tick, on_started)
    finally:
        for point in points:
            point.close_store()


def _charge_points(
    config: SimConfig, stats: Stats, on_connection: Callable[[ClientBase], None] | None
) -> list[SimulatedChargePoint]:
    """Make the charge points; with ``--store``, each finds what the last run left."""
    points: list[SimulatedChargePoint] = []
    try:
        if config.store is not None:
            os.makedirs(config.store, exist_ok=True)
        for index in range(1, config.count + 1):
            points.append(SimulatedChargePoint(index, config, stats, on_connection=on_connection))
    except (StoreError, StateError, OSError) as exc:
        for point in points:
            point.close_store()
        if isinstance(exc, OSError):
            raise BadStore(f"cannot make the store directory {config.store!r}: {exc}") from None
        raise BadStore(str(exc)) from None
    return points


async def _run(
    config: SimConfig,
    stats: Stats,
    points: list[SimulatedChargePoint],
    stop: asyncio.Event | None,
    on_tick: Callable[[Stats, float], None] | None,
    tick: float,
    on_started: Callable[[], None] | None,
) -> SimResult:
    loop = asyncio.get_running_loop()
    stop = stop if stop is not None else asyncio.Event()
    gate = asyncio.Semaphore(config.connect_concurrency)
    try:
        first = await points[0].connect_unless(stop, gate)
    except (HandshakeError, OSError, TimeoutError) as exc:
        hint = ""
        if isinstance(exc, HandshakeError) and exc.status == 401:
            hint = " (check --password or --passwords)"
        raise Unreachable(
            f"{points[0].cp_id} could not connect to {config.url}: "
            f"{describe_connect_error(exc)}{hint}"
        ) from None
    if first is None:
        raise Interrupted("stopped before the first charge point connected")
    if on_started is not None:
        on_started()
    started = loop.time()
    timer = loop.call_later(config.duration, stop.set)
    interrupted = False
    tasks = [asyncio.create_task(points[0].run(stop, gate, first))]
    tasks += [asyncio.create_task(point.run(stop, gate)) for point in points[1:]]
    peak = 0
    try:
        while not stop.is_set():
            try:
                async with asyncio.timeout(tick):
                    await stop.wait()
            except TimeoutError:
                pass
            peak = max(peak, stats.connected)
            if on_tick is not None:
                on_tick(stats, loop.time() - started)
        interrupted = loop.time() - started < config.duration - 0.05
        # Leaving takes a StopTransaction per running transaction, each bounded by
        # the call timeout; then the rest is cut off.
        _, pending = await asyncio.wait(tasks, timeout=config.call_timeout + 5)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
    finally:
        timer.cancel()
        for task in tasks:
            task.cancel()
    return SimResult(config, stats, loop.time() - started, peak, interrupted)


def _energy(wh: int) -> str:
    return f"{wh:,} Wh" if wh < 10_000 else f"{wh / 1000:,.1f} kWh"


def _ms(value: float) -> str:
    return f"{value:,.1f}"


def render_summary(result: SimResult) -> Group:
    """Return the closing summary: counts, then latency per action."""
    stats = result.stats
    config = result.config
    received = sum(stats.received.values())
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row(
        "charge points",
        f"{config.count} simulated, {stats.booted} booted, {result.peak_connected} connected "
        f"at peak, against {config.url}",
    )
    head.add_row(
        "run",
        f"{result.elapsed:.1f} s" + (" (stopped early)" if result.interrupted else ""),
    )
    resumed = stats.transactions_resumed
    head.add_row(
        "transactions",
        (f"{resumed} taken up from the last run, " if resumed else "")
        + f"{stats.transactions_started} started, {stats.transactions_stopped} stopped, "
        f"{_energy(stats.energy_wh)} delivered",
    )
    head.add_row(
        "calls",
        f"{stats.calls_sent:,} sent ({stats.calls_sent / max(result.elapsed, 1e-9):,.1f}/s), "
        f"{received:,} received from the central system",
    )
    if stats.received:
        head.add_row(
            "received",
            ", ".join(f"{action} {count}" for action, count in sorted(stats.received.items())),
        )
    errors = stats.error_count
    head.add_row(
        "errors",
        Text(
            "none"
            if not errors
            else ", ".join(f"{kind} x{count}" for kind, count in stats.error_kinds.most_common()),
            style="green" if not errors else "red",
        ),
    )
    table = Table(title="latency of the central system's answers (ms)", title_justify="left")
    table.add_column("action")
    for name in ("calls", "errors", "p50", "p95", "p99"):
        table.add_column(name, justify="right")
    for row in stats.table():
        table.add_row(
            row.action,
            f"{row.count:,}",
            str(row.errors) if row.errors else "",
            _ms(row.p50) if row.count else "",
            _ms(row.p95) if row.count else "",
            _ms(row.p99) if row.count else "",
        )
    return Group(head, Text(""), table)
