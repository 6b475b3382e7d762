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
does, through ``ocpp16._prometheus``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from ocpp16.errors import ERROR_CODES
from ocpp16.observer import Observer
from ocpp16.schemas import ALL

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from ocpp16._prometheus import Collectors
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
_ENDED = frozenset({"result", "timeout", "closed", "cancelled"})


def _action(action: str) -> str:
    """The action as a label value: an OCPP 1.6 action, else ``"unknown"`` (bounded)."""
    return action if action in ALL else _UNKNOWN


def _code(code: str) -> str:
    """An error code as a label value: one of the ten of OCPP 1.6, else ``"unknown"``."""
    return code if code in ERROR_CODES else _UNKNOWN


class Metrics(Observer):
    """An observer that counts what it sees into Prometheus collectors.

    Several ``Metrics`` on one registry (two servers, many clients) share its
    collectors: the counts are the process's.

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
        self._c: Collectors = _prometheus.collectors(self.registry, METRICS, BUCKETS)
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
        self._c.connected.inc()

    def close(self, connection: ClientBase, code: int, reason: str) -> None:
        """Count it closed, and the CALLs it received that got no answer as ``"closed"``."""
        unanswered = self._unanswered.pop(connection, None)
        if unanswered is None:
            return  # opened before this observer was attached
        self._c.connected.dec()
        for action in unanswered.values():
            self._c.received.labels(_action(action), "closed").inc()

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
        self._c.received.labels(label, outcome if outcome == "result" else _code(outcome)).inc()
        unanswered = self._unanswered.get(connection)
        if unanswered is not None and unanswered.pop(message_id, None) is not None:
            self._c.received_seconds.labels(label).observe(seconds)

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
        self._c.sent.labels(label, outcome if outcome in _ENDED else _code(outcome)).inc()
        if frame is not None:
            self._c.sent_seconds.labels(label).observe(seconds)

    def bad_message(self, connection: ClientBase, text: str | bytes, error: OcppError) -> None:
        """Count the refused frame by its error code."""
        self._c.bad.labels(_code(error.code)).inc()

    def ignored(self, connection: ClientBase, text: str, reason: str) -> None:
        """Count the ignored frame."""
        self._c.ignored.inc()

    def refused(self, cp_id: str | None, status: int, reason: str) -> None:
        """Count the refused handshake by its HTTP status."""
        self._c.refused.labels(str(status)).inc()

    def handshake_timeout(self, remote_address: Any) -> None:
        """Count the handshake that timed out, as reason ``"timeout"``."""
        self._c.refused.labels("timeout").inc()

    def queue_changed(self, connection: ClientBase, depth: int) -> None:
        """Move the queue depth gauge by this client's change."""
        before = self._depth.get(connection, 0)
        self._depth[connection] = depth
        self._c.queue_depth.inc(depth - before)

    def call_retried(
        self, connection: ClientBase, action: str, attempts: int, error: BaseException
    ) -> None:
        """Count the retry."""
        self._c.retries.labels(_action(action)).inc()

    def call_dropped(self, connection: ClientBase, action: str, error: BaseException) -> None:
        """Count the drop."""
        self._c.dropped.labels(_action(action)).inc()


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
