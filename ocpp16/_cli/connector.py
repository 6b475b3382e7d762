"""A simulated charge point's connector: the transaction on it, and its physics' state."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from .state import SavedConnector

__all__ = ["Connector", "availability", "pause"]


@dataclass
class Connector:
    """One connector and the transaction on it, which outlives a connection."""

    id: int
    meter_wh: float  # the energy delivered, exactly; the register shows whole Wh
    max_power_w: float
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    transaction_id: int | None = None
    # The StartTransaction of a transaction whose id is not known yet, and what
    # brings its answer (its future, or after a new client, "queued_result").
    start: dict[str, Any] | None = None
    start_call: asyncio.Future[dict[str, Any]] | None = None
    # The StopTransaction queued; and whether Finishing and the status after it are due.
    stop_call: asyncio.Future[dict[str, Any]] | None = None
    finishing: bool = False
    id_tag: str | None = None
    remote_id_tag: str | None = None  # asked for by RemoteStartTransaction
    stop_reason: str | None = None  # why the running transaction must stop now
    limit_w: float | None = None  # from SetChargingProfile
    power_w: float = 0.0
    meter_start: int = 0
    status: str = "Available"
    available: bool = True  # ChangeAvailability: Operative (True) or Inoperative
    available_next: bool | None = None  # a change Scheduled until the transaction ends
    starting: bool = False  # between a driver's Authorize and the StartTransaction answer

    @property
    def register(self) -> int:
        """The energy register as the meter reads it, in whole Wh."""
        return int(self.meter_wh)

    @property
    def busy(self) -> bool:
        """Whether a transaction is starting, running, or its StopTransaction is unanswered."""
        return (
            self.transaction_id is not None
            or self.starting
            or self.start is not None
            or self.finishing
        )

    def saved(self) -> SavedConnector:
        """What the state file keeps of it."""
        return SavedConnector(
            self.meter_wh, self.transaction_id, self.start, self.id_tag, self.meter_start
        )


def availability(connector: Connector) -> str:
    """The status of an idle connector: Available, or Unavailable when Inoperative."""
    return "Available" if connector.available else "Unavailable"


async def pause(event: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds``, or less if ``event`` is set; tell whether it was set."""
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(max(0.0, seconds)):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True
