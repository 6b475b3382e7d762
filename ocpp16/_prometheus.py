"""The ``prometheus_client`` side of :mod:`ocpp16.metrics`: the one module that imports it.

Imported only when metrics are turned on (a :class:`~ocpp16.metrics.Metrics`
is made), so that a process without them never loads ``prometheus_client``.

The counting itself is plain arithmetic on dictionaries that ``Metrics`` does
on the event loop; this module registers, once per registry, a collector that
turns those counts into ``prometheus_client``'s metric families when the
registry is collected (``generate_latest``). Two servers with ``metrics=True``
in one process share the counts of the default registry instead of failing on
a duplicate registration.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

__all__ = ["CONTENT_TYPE", "CollectorRegistry", "counts", "default_registry", "exposition"]

#: The ``Content-Type`` of :func:`exposition`'s text.
CONTENT_TYPE: str = CONTENT_TYPE_LATEST

Spec = Mapping[str, tuple[str, tuple[str, ...], str]]
Counts = dict[str, dict[tuple[str, ...], Any]]


class _Counted(Collector):
    """The metric families of one registry's counts, made when it is collected.

    Args:
        spec: Each metric's type, labels and help (``ocpp16.metrics.METRICS``).
        buckets: The histograms' upper bounds.
        counts: Each metric's series by label values: an int (counters, gauges)
            or, for a histogram, a count per bucket, one for +Inf, and the sum.
    """

    def __init__(self, spec: Spec, buckets: tuple[float, ...], counts: Counts) -> None:
        self._spec = spec
        # The "le" labels, written as prometheus_client's own histograms write them.
        self._bounds = [floatToGoString(b) for b in buckets] + ["+Inf"]  # type: ignore[no-untyped-call]
        self._counts = counts

    def describe(self) -> list[Metric]:
        """The families without samples: their names, for duplicate checks."""
        return [self._family(name) for name in self._spec]

    def collect(self) -> Iterator[Metric]:
        """Yield every family with its series (a copy: counting may go on meanwhile)."""
        for name in self._spec:
            family = self._family(name)
            for labels, value in list(self._counts[name].items()):
                if isinstance(family, HistogramMetricFamily):
                    cumulative, total = [], 0.0
                    for bound, count in zip(self._bounds, value[:-1], strict=True):
                        total += count
                        cumulative.append((bound, total))
                    family.add_metric(list(labels), cumulative, sum_value=value[-1])
                else:
                    family.add_metric(list(labels), value)
            yield family

    def _family(self, name: str) -> CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily:
        kind, labels, doc = self._spec[name]
        if kind == "counter":
            return CounterMetricFamily(name, doc, labels=labels)
        if kind == "gauge":
            return GaugeMetricFamily(name, doc, labels=labels)
        return HistogramMetricFamily(name, doc, labels=labels)


_made: weakref.WeakKeyDictionary[CollectorRegistry, Counts] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def default_registry() -> CollectorRegistry:
    """Return ``prometheus_client``'s default registry."""
    return REGISTRY


def counts(registry: CollectorRegistry, spec: Spec, buckets: tuple[float, ...]) -> Counts:
    """Return the counts collected by ``registry``, registering their collector the first time.

    Args:
        registry: The registry.
        spec: As ``_Counted`` takes it.
        buckets: As ``_Counted`` takes it.

    Raises:
        ValueError: ``registry`` holds a metric of the same name that
            ocpp16 did not make (``prometheus_client``'s duplicate error).
    """
    with _lock:
        made = _made.get(registry)
        if made is None:
            # A series without labels exists from the start, at 0, as prometheus_client's own.
            made = {name: ({(): 0} if not labels else {}) for name, (_, labels, _) in spec.items()}
            registry.register(_Counted(spec, buckets, made))
            _made[registry] = made
        return made


def exposition(registry: CollectorRegistry) -> bytes:
    """Return ``registry``'s metrics in the Prometheus text format."""
    return generate_latest(registry)
