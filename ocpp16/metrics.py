"""Prometheus metrics of a ``Server`` or a ``Client`` (the ``metrics`` extra).

``Server(metrics=True)`` and ``Client(metrics=True)`` count into
``prometheus_client``'s default registry; ``metrics=registry`` into the
``CollectorRegistry`` given. Either attaches a :class:`Metrics` observer, which
may also be attached by hand (``server.add_observer(Metrics(registry))``).
The server's port then answers ``GET /metrics`` with the registry in the
Prometheus text format (README "Metrics and health").

The metrics (all per process, :data:`METRICS`) carry labels of bounded
values only: action names (an action that OCPP 1.6 does not define is
counted as ``"unknown"``), error codes, outcomes and refusal reasons. Never a
charge point id: one series per charger would grow without bound.

This module does not import ``prometheus_client``; a :class:`Metrics` made
does, through ``ocpp16._prometheus``, whose collector reads the counts when the
registry is scraped.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from ocpp16.errors import ERROR_CODES
from ocpp16.observer import Observer
from ocpp16.schemas import ALL

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from ocpp16.connection import ClientBase
    from ocpp16.errors import OcppError

__all__ = ["BUCKETS", "METRICS", "Metrics", "metrics_for"]

#: The buckets of the latency histograms, in seconds: 1 ms to 30 s.
BUCKETS: Final[tuple[float, ...]] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)

#: Every metric, by name: its type, its labels, and what it counts.
METRICS: Final[Mapping[str, tuple[str, tuple[str, ...], str]]] = {
    "ocpp16_charge_points_connected": (
        "gauge",
        (),
        "Connections open: charge points connected to the servers, or clients connected",
    ),
    "ocpp16_calls_received_total": (
        "counter",
        ("action", "outcome"),
        "CALLs received, by how they were answered: result, an error code, or closed",
    ),
    "ocpp16_calls_sent_total": (
        "counter",
        ("action", "outcome"),
        "CALLs sent, by how they ended: result, an error code, timeout, closed or cancelled",
    ),
    "ocpp16_call_received_duration_seconds": (
        "histogram",
        ("action",),
        "Seconds from a CALL received to its answer sent",
    ),
    "ocpp16_call_sent_duration_seconds": (
        "histogram",
        ("action",),
        "Seconds from a CALL sent to its answer (CALLRESULT or CALLERROR) received",
    ),
    "ocpp16_bad_messages_total": (
        "counter",
        ("code",),
        "Frames refused before a handler or a pending call, by error code",
    ),
    "ocpp16_messages_ignored_total": (
        "counter",
        (),
        "Frames ignored on purpose (late answers, unknown message types)",
    ),
    "ocpp16_handshakes_refused_total": (
        "counter",
        ("reason",),
        "Opening handshakes refused, by HTTP status (400, 401, 409, 503, ...) or timeout",
    ),
    "ocpp16_queue_depth": (
        "gauge",
        (),
        "CALLs in the offline queues of the clients",
    ),
    "ocpp16_queue_retries_total": (
        "counter",
        ("action",),
        "Queued CALLs that failed an attempt and go again (OCPP 1.6 §9.1)",
    ),
    "ocpp16_queue_dropped_total": (
        "counter",
        ("action",),
        "Queued CALLs given up (attempts spent, queue full, ...)",
    ),
}

_UNKNOWN = "unknown"
_ACTIONS = frozenset(ALL)  # a set: faster to ask than the schemas' read-only mapping
_ENDED = frozenset({"result", "timeout", "closed", "cancelled"})


def _action(action: str) -> str:
    """The action as a label value: an OCPP 1.6 action, else ``"unknown"`` (bounded)."""
    return action if action in _ACTIONS else _UNKNOWN


def _code(code: str) -> str:
    """An error code as a label value: one of the ten of OCPP 1.6, else ``"unknown"``."""
    return code if code in ERROR_CODES else _UNKNOWN


#: What a histogram's series holds: a count per bucket of :data:`BUCKETS`, one for
#: ``+Inf``, then the sum of the observations.
Buckets = list[float]


class Metrics(Observer):
    """An observer that counts what it sees, for Prometheus to scrape.

    The counting is plain dictionary arithmetic on the event loop;
    ``prometheus_client`` reads the counts only when the registry is
    collected (a custom collector, registered once per registry). Several
    ``Metrics`` on one registry (two servers, many clients) share its counts:
    they are the process's. Count from one thread per registry (the event
    loop's): give servers on other threads a registry of their own.

    Args:
        registry: A ``prometheus_client.CollectorRegistry``; ``None`` is
            ``prometheus_client``'s default registry.

    Attributes:
        registry: The registry counted into.

    Raises:
        ImportError: ``prometheus_client`` is not installed
            (``pip install "ocpp16[metrics]"``).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        try:
            from ocpp16 import _prometheus
        except ImportError as exc:  # pragma: no cover - the metrics extra is in dev
            raise ImportError(
                'metrics need prometheus_client: pip install "ocpp16[metrics]"'
            ) from exc
        self.registry: CollectorRegistry = (
            registry if registry is not None else _prometheus.default_registry()
        )
        # Each metric's series by label values, shared with the registry's collector.
        counts = _prometheus.counts(self.registry, METRICS, BUCKETS)
        self._gauges: dict[tuple[str, ...], int] = counts["ocpp16_charge_points_connected"]
        self._queue: dict[tuple[str, ...], int] = counts["ocpp16_queue_depth"]
        self._received: dict[tuple[str, ...], int] = counts["ocpp16_calls_received_total"]
        self._sent: dict[tuple[str, ...], int] = counts["ocpp16_calls_sent_total"]
        self._received_seconds: dict[tuple[str, ...], Buckets] = counts[
            "ocpp16_call_received_duration_seconds"
        ]
        self._sent_seconds: dict[tuple[str, ...], Buckets] = counts[
            "ocpp16_call_sent_duration_seconds"
        ]
        self._bad: dict[tuple[str, ...], int] = counts["ocpp16_bad_messages_total"]
        self._ignored: dict[tuple[str, ...], int] = counts["ocpp16_messages_ignored_total"]
        self._refused: dict[tuple[str, ...], int] = counts["ocpp16_handshakes_refused_total"]
        self._retries: dict[tuple[str, ...], int] = counts["ocpp16_queue_retries_total"]
        self._dropped: dict[tuple[str, ...], int] = counts["ocpp16_queue_dropped_total"]
        # By connection: the CALLs received and not yet answered (message id -> action),
        # and the depth of its offline queue as last counted.
        self._unanswered: dict[ClientBase, dict[str, str]] = {}
        self._depth: dict[ClientBase, int] = {}

    def exposition(self) -> tuple[str, bytes]:
        """Return the registry in the Prometheus text format.

        Returns:
            The ``Content-Type`` to send it with, and the text as bytes.
        """
        from ocpp16 import _prometheus

        return _prometheus.CONTENT_TYPE, _prometheus.exposition(self.registry)

    # ------------------------------------------------------------------ hooks

    def connect(self, connection: ClientBase) -> None:
        """Count the connection open."""
        self._unanswered[connection] = {}
        self._gauges[()] += 1

    def close(self, connection: ClientBase, code: int, reason: str) -> None:
        """Count it closed, and the CALLs it received that got no answer as ``"closed"``."""
        unanswered = self._unanswered.pop(connection, None)
        if unanswered is None:
            return  # opened before this observer was attached
        self._gauges[()] -= 1
        for action in unanswered.values():
            _add(self._received, (_action(action), "closed"))

    def call_received(
        self,
        connection: ClientBase,
        message_id: str,
        action: str,
        payload: dict[str, Any],
        frame: str,
    ) -> None:
        """Remember the CALL until it is answered."""
        unanswered = self._unanswered.get(connection)
        if unanswered is not None:
            unanswered[message_id] = action

    def answer_sent(
        self,
        connection: ClientBase,
        message_id: str,
        action: str,
        outcome: str,
        seconds: float,
        payload_or_error: Mapping[str, Any] | OcppError,
        frame: str,
    ) -> None:
        """Count the CALL received by its answer, and its latency when a handler answered."""
        label = _action(action)
        _add(self._received, (label, outcome if outcome == "result" else _code(outcome)))
        unanswered = self._unanswered.get(connection)
        if unanswered is not None and unanswered.pop(message_id, None) is not None:
            _observe(self._received_seconds, label, seconds)

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
        """Count the CALL sent by how it ended, and its latency when it was answered."""
        label = _action(action)
        _add(self._sent, (label, outcome if outcome in _ENDED else _code(outcome)))
        if frame is not None:
            _observe(self._sent_seconds, label, seconds)

    def bad_message(self, connection: ClientBase, text: str | bytes, error: OcppError) -> None:
        """Count the refused frame by its error code."""
        _add(self._bad, (_code(error.code),))

    def ignored(self, connection: ClientBase, text: str, reason: str) -> None:
        """Count the ignored frame."""
        self._ignored[()] += 1

    def refused(self, cp_id: str | None, status: int, reason: str) -> None:
        """Count the refused handshake by its HTTP status."""
        _add(self._refused, (str(status),))

    def handshake_timeout(self, remote_address: Any) -> None:
        """Count the handshake that timed out, as reason ``"timeout"``."""
        _add(self._refused, ("timeout",))

    def queue_changed(self, connection: ClientBase, depth: int) -> None:
        """Move the queue depth gauge by this client's change."""
        before = self._depth.get(connection, 0)
        self._depth[connection] = depth
        self._queue[()] += depth - before

    def call_retried(
        self, connection: ClientBase, action: str, attempts: int, error: BaseException
    ) -> None:
        """Count the retry."""
        _add(self._retries, (_action(action),))

    def call_dropped(self, connection: ClientBase, action: str, error: BaseException) -> None:
        """Count the drop."""
        _add(self._dropped, (_action(action),))


def _add(series: dict[tuple[str, ...], int], labels: tuple[str, ...]) -> None:
    """Add one to a counter's series."""
    series[labels] = series.get(labels, 0) + 1


def _observe(series: dict[tuple[str, ...], Buckets], label: str, seconds: float) -> None:
    """Put one observation in a histogram's series (its bucket, and the sum)."""
    buckets = series.get((label,))
    if buckets is None:
        buckets = series[(label,)] = [0.0] * (len(BUCKETS) + 2)
    # The first bucket whose bound is >= seconds (le: less than or equal); +Inf after them.
    buckets[bisect_left(BUCKETS, seconds)] += 1
    buckets[-1] += seconds


def metrics_for(metrics: object) -> Metrics | None:
    """Read the ``metrics=`` keyword of ``Server`` and ``Client``.

    Args:
        metrics: ``False`` or ``None`` (off), ``True`` (the default
            registry), a ``CollectorRegistry``, or a :class:`Metrics`.

    Returns:
        The observer to attach, or ``None``.

    Raises:
        TypeError: ``metrics`` is none of these.
    """
    if metrics is None or metrics is False:
        return None
    if metrics is True:
        return Metrics()
    if isinstance(metrics, Metrics):
        return metrics
    from ocpp16 import _prometheus

    if isinstance(metrics, _prometheus.CollectorRegistry):
        return Metrics(metrics)
    raise TypeError(
        f"metrics must be True, False, a prometheus_client CollectorRegistry or an "
        f"ocpp16.metrics.Metrics, not {metrics!r}"
    )
