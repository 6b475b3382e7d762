"""``ocpp16 demo``: a central system and a few charge points in one process, talking.

The charge points boot, heartbeat, and run short charging sessions; the central
system answers them, and on a script of its own asks for their configuration,
starts a transaction remotely, triggers a status report and resets one of them,
so both directions of the protocol show.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rich.console import Console

from ocpp16 import Action, ClientBase, Ocpp16Error, Server

from .central import CentralSystem
from .chargepoint import SimConfig
from .output import MessageLog
from .simulate import ProgressView, SimResult, render_summary, run_simulation

__all__ = ["run_demo"]


async def _operator(
    connection: ClientBase, number: int, central: CentralSystem, log: MessageLog
) -> None:
    """What the demo's central system asks of a charge point, a second or so apart."""

    async def ask(action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return await connection.call_request(Action(action), payload)
        except Ocpp16Error as exc:
            log.event(connection.cp_id, "error", f"{action}: {exc}")
            return None

    running = central.running.setdefault(connection.cp_id, {})
    statuses = central.statuses.setdefault(connection.cp_id, {})
    await asyncio.sleep(1.0)
    await ask("GetConfiguration", {"key": ["HeartbeatInterval", "MeterValueSampleInterval"]})
    if number == 1:
        await asyncio.sleep(1.0)
        # Stop what it is charging, if anything, then start a session remotely.
        for transaction_id in list(running):
            await ask("RemoteStopTransaction", {"transactionId": transaction_id})
        for _ in range(30):  # its StopTransaction and Available come within a moment
            if not running and statuses.get(1) == "Available":
                break
            await asyncio.sleep(0.1)
        await ask("RemoteStartTransaction", {"idTag": "DEMO-REMOTE", "connectorId": 1})
    elif number == 2:
        await asyncio.sleep(2.0)
        await ask("TriggerMessage", {"requestedMessage": "StatusNotification"})
        await asyncio.sleep(2.0)
        # The charge point stops its transactions, reconnects, and boots again.
        await ask("Reset", {"type": "Soft"})


async def run_demo(
    *,
    count: int,
    duration: float,
    seed: int | None,
    quiet: bool,
    stop: asyncio.Event,
    console: Console,
) -> SimResult:
    """Run the demo and print its summary.

    Args:
        count: Charge points.
        duration: Seconds.
        seed: Seed of the charge points' random choices.
        quiet: Print no message lines, only the summary.
        stop: Set it to end early.
        console: Where everything goes.

    Returns:
        What the charge points did.
    """
    central = CentralSystem(heartbeat_interval=3)
    log = MessageLog("central", console=console, on_closed_output=stop.set)
    operators: set[asyncio.Task[None]] = set()
    connections = 0

    async with Server() as server:

        @server.on("connection")
        def on_connection(connection: ClientBase) -> None:
            nonlocal connections
            connections += 1
            central.attach(connection)
            if not quiet:
                log.attach(connection)
                log.event(connection.cp_id, "connected")
            if connections <= count:  # not again after a Reset
                task = asyncio.ensure_future(_operator(connection, connections, central, log))
                operators.add(task)
                task.add_done_callback(operators.discard)

        port = await server.listen(0, host="127.0.0.1")
        config = SimConfig(
            url=f"ws://127.0.0.1:{port}/ocpp",
            count=count,
            duration=duration,
            meter_interval=1.0,
            session=3.0,
            idle=1.5,
            prefix="DEMO",
            seed=seed,
            call_timeout=10.0,
        )
        console.print(
            f"ocpp16 demo: a central system on ws://127.0.0.1:{port}/ocpp and {count} charge "
            f"points, for {duration:g} s. Each line is one OCPP message.",
            highlight=False,
            soft_wrap=True,
        )
        with ProgressView(console, count, duration) as view:
            result = await run_simulation(config, stop=stop, on_tick=view.update)
        for task in list(operators):
            task.cancel()
    console.print()
    console.print(render_summary(result))
    console.print(
        f"central system: {central.boots} boots accepted, "
        f"{central.transactions_started} transaction ids issued"
        + ("" if quiet else f", {log.messages:,} messages"),
        highlight=False,
    )
    return result
