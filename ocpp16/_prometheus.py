"""The ``prometheus_client`` side of :mod:`ocpp16.metrics`: the one module that imports it.

Imported only when metrics are turned on (a :class:`~ocpp16.metrics.Metrics`
is made), so that a process without them never loads ``prometheus_client``.
The collectors are made once per registry and shared: two servers with
``metrics=True`` in one process count into the same series instead of
failing on a duplicate registration.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    Spec = Mapping[str, tuple[str, tuple[str, ...], str]]

__all__ = ["CONTENT_TYPE", "CollectorRegistry", "Collectors", "collectors", "exposition"]

#: The ``Content-Type`` of :func:`exposition`'s text.
CONTENT_TYPE: str = CONTENT_TYPE_LATEST


class Collectors:
    """The collectors of :data:`~ocpp16.metrics.METRICS`, registered in one registry.

    Args:
        registry: Where to register them.
        spec: Each metric's type, labels and help (``ocpp16.metrics.METRICS``).
        buckets: The histograms' buckets.
    """

    def __init__(self, registry: CollectorRegistry, spec: Spec, buckets: tuple[float, ...]) -> None:
        def doc(name: str) -> str:
            return spec[name][2]

        def labels(name: str) -> tuple[str, ...]:
            return spec[name][1]

        def counter(name: str) -> Counter:
            return Counter(name, doc(name), labels(name), registry=registry)

        def histogram(name: str) -> Histogram:
            return Histogram(name, doc(name), labels(name), registry=registry, buckets=buckets)

        def gauge(name: str) -> Gauge:
            return Gauge(name, doc(name), registry=registry)

        self.connected = gauge("ocpp16_charge_points_connected")
        self.received = counter("ocpp16_calls_received_total")
        self.sent = counter("ocpp16_calls_sent_total")
        self.received_seconds = histogram("ocpp16_call_received_duration_seconds")
        self.sent_seconds = histogram("ocpp16_call_sent_duration_seconds")
        self.bad = counter("ocpp16_bad_messages_total")
        self.ignored = counter("ocpp16_messages_ignored_total")
        self.refused = counter("ocpp16_handshakes_refused_total")
        self.queue_depth = gauge("ocpp16_queue_depth")
        self.retries = counter("ocpp16_queue_retries_total")
        self.dropped = counter("ocpp16_queue_dropped_total")


_made: weakref.WeakKeyDictionary[CollectorRegistry, Collectors] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def default_registry() -> CollectorRegistry:
    """Return ``prometheus_client``'s default registry."""
    return REGISTRY


def collectors(registry: CollectorRegistry, spec: Spec, buckets: tuple[float, ...]) -> Collectors:
    """Return the collectors registered in ``registry``, making them the first time.

    Args:
        registry: The registry.
        spec: As :class:`Collectors` takes it.
        buckets: As :class:`Collectors` takes it.

    Raises:
        ValueError: ``registry`` holds a metric of the same name that
            ocpp16 did not make (``prometheus_client``'s duplicate error).
    """
    with _lock:
        made = _made.get(registry)
        if made is None:
            made = _made[registry] = Collectors(registry, spec, buckets)
        return made


def exposition(registry: CollectorRegistry) -> bytes:
    """Return ``registry``'s metrics in the Prometheus text format."""
    return generate_latest(registry)
