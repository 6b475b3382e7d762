"""What a simulation counts: calls, errors, and latency per action."""

from __future__ import annotations

import statistics
import weakref
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ocpp16 import CallTimeout, ClientBase, ConnectionClosed, Observer, OcppError

__all__ = ["ActionLatency", "CallCounter", "Stats", "error_kind", "now_iso"]


def now_iso() -> str:
    """Return the current UTC time as OCPP writes it (RFC 3339, milliseconds, ``Z``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ActionLatency:
    """The latency figures of one action, in milliseconds.

    Attributes:
        action: The action, or ``"(connect)"`` for the WebSocket handshake.
        count: Answered calls.
        errors: Calls that failed (CALLERROR, timeout, lost connection).
        p50: Median latency.
        p95: 95th percentile.
        p99: 99th percentile.
    """

    action: str
    count: int
    errors: int
    p50: float
    p95: float
    p99: float


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    """Return p50, p95 and p99 of ``samples`` (seconds) in milliseconds."""
    if len(samples) == 1:
        only = samples[0] * 1000
        return only, only, only
    # "inclusive" treats the samples as the whole population: p99 of 100 samples
    # lies between the two largest, never beyond the largest.
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000


@dataclass
class Stats:
    """Counters of a simulation, shared by all its charge points.

    Attributes:
        latencies: Seconds from sending each answered call to its answer, by action.
        errors: Failed calls by action.
        error_kinds: Failures by kind, such as ``"CALLERROR NotImplemented"``.
        received: Calls received from the central system, by action.
        connected: Charge points connected now.
        booted: Charge points whose BootNotification was accepted, counted once each.
        transactions_started: StartTransaction calls answered.
        transactions_stopped: StopTransaction calls answered.
        transactions_resumed: Transactions an earlier run left running, taken up again.
        active_transactions: Transactions running now.
        energy_wh: Energy delivered in stopped transactions, in Wh.
    """

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    error_kinds: Counter[str] = field(default_factory=Counter)
    received: Counter[str] = field(default_factory=Counter)
    connected: int = 0
    booted: int = 0
    transactions_started: int = 0
    transactions_stopped: int = 0
    transactions_resumed: int = 0
    active_transactions: int = 0
    energy_wh: int = 0

    def latency(self, action: str, seconds: float) -> None:
        """Record an answered call."""
        samples = self.latencies.get(action)
        if samples is None:
            self.latencies[action] = [seconds]
        else:
            samples.append(seconds)

    def error(self, action: str, kind: str) -> None:
        """Record a failed call (or connection attempt) and how it failed."""
        self.errors[action] += 1
        self.error_kinds[kind] += 1

    @property
    def calls_sent(self) -> int:
        """Calls sent to the central system so far, answered or failed.

        The rows in parentheses, such as ``"(connect)"``, time connections, not calls.
        """
        answered = sum(len(v) for k, v in self.latencies.items() if not k.startswith("("))
        return answered + sum(n for k, n in self.errors.items() if not k.startswith("("))

    @property
    def error_count(self) -> int:
        """Failures so far."""
        return sum(self.errors.values())

    def table(self) -> list[ActionLatency]:
        """Return the latency figures of every action, sorted by action name."""
        rows = []
        for action in sorted(set(self.latencies) | set(self.errors)):
            samples = self.latencies.get(action, [])
            p50, p95, p99 = _percentiles(samples) if samples else (0.0, 0.0, 0.0)
            rows.append(ActionLatency(action, len(samples), self.errors[action], p50, p95, p99))
        return rows

    def as_dict(self) -> dict[str, Any]:
        """Return the counters and the latency table as JSON-ready data."""
        return {
            "connected": self.connected,
            "booted": self.booted,
            "transactions": {
                "started": self.transactions_started,
                "stopped": self.transactions_stopped,
                "resumed": self.transactions_resumed,
                "active": self.active_transactions,
                "energy_wh": self.energy_wh,
            },
            "calls_sent": self.calls_sent,
            "calls_received": dict(sorted(self.received.items())),
            "errors": dict(sorted(self.error_kinds.items())),
            "latency_ms": {
                row.action: {
                    "count": row.count,
                    "errors": row.errors,
                    "p50": round(row.p50, 3),
                    "p95": round(row.p95, 3),
                    "p99": round(row.p99, 3),
                }
                for row in self.table()
            },
        }


def error_kind(error: BaseException) -> str:
    """Name how a CALL failed, as the summary counts it."""
    if isinstance(error, CallTimeout):
        return "timeout"
    if isinstance(error, ConnectionClosed):
        return "connection closed before the answer"
    if isinstance(error, OcppError):
        return f"CALLERROR {error.code}"
    return type(error).__name__


class CallCounter(Observer):
    """Counts each CALL a client sent as it ends: its latency, or how it failed.

    Every attempt counts, a retried one's too (the library retries queued
    CALLs, OCPP 1.6 §9.1).

    Attributes:
        stats: Where it counts.
        seen: The errors counted, so that whoever awaits the CALL counts only
            the failures of CALLs that never went out.
    """

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.seen: weakref.WeakSet[BaseException] = weakref.WeakSet()

    def answer_received(
        self,
        connection: ClientBase,
        message_id: str,
        action: str,
        outcome: str,
        seconds: float,
        payload_or_error: Mapping[str, Any] | BaseException,
        frame: str | None,
    ) -> None:
        """Count one CALL's end."""
        if outcome == "result":
            self.stats.latency(action, seconds)
        elif outcome != "cancelled" and isinstance(payload_or_error, BaseException):
            self.stats.error(action, error_kind(payload_or_error))
            self.seen.add(payload_or_error)
