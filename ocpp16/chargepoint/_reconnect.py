"""The backoff between connection attempts: :class:`Reconnect`."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    pass

__all__ = ["Reconnect"]

_RANDOM: Final = random.Random()


def _number(owner: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{owner}.{name} must be a finite number, not {value!r}")
    return float(value)


# ----------------------------------------------------------------------------- Reconnect


@dataclass(frozen=True, slots=True)
class Reconnect:
    """How to reconnect: an exponential backoff with jitter between connection attempts.

    The n-th wait (n from 1) is ``min(max_delay, initial * factor ** (n - 1))``
    seconds, times a random factor in ``[1 - jitter, 1 + jitter]``, so that
    charge points cut off together do not all come back at the same moment.

    Attributes:
        initial: The first wait, in seconds; above 0.
        factor: What each wait is multiplied by for the next; at least 1.
        max_delay: The longest wait before jitter, in seconds; at least ``initial``.
        jitter: The spread of the random factor, from 0 (none) to 1.
        attempts: How many attempts to open a connection to make in a row,
            the first included, before giving up; ``None`` tries forever.
        stable_after: Seconds a connection must stay open for the backoff to
            start over (for a ``Client`` made with ``reconnect``). One that
            drops sooner is followed by the next, longer wait, so that a
            central system which accepts and then closes at once is not asked
            again every ``initial`` seconds. 0 (the default): every connection
            starts it over. A :class:`~ocpp16.ChargePointSession` reconnecting
            on its own has a ``stable_after`` argument of its own instead.

    Raises:
        ValueError: A value out of its range, or not a number.
    """

    initial: float = 1.0
    factor: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.25
    attempts: int | None = None
    stable_after: float = 0.0

    def __post_init__(self) -> None:
        initial = _number("Reconnect", "initial", self.initial)
        factor = _number("Reconnect", "factor", self.factor)
        max_delay = _number("Reconnect", "max_delay", self.max_delay)
        jitter = _number("Reconnect", "jitter", self.jitter)
        if initial <= 0:
            raise ValueError(f"Reconnect.initial must be above 0 seconds, not {initial!r}")
        if factor < 1:
            raise ValueError(f"Reconnect.factor must be at least 1, not {factor!r}")
        if max_delay < initial:
            raise ValueError(
                f"Reconnect.max_delay ({max_delay!r}) must be at least initial ({initial!r})"
            )
        if not 0 <= jitter <= 1:
            raise ValueError(f"Reconnect.jitter must be from 0 to 1, not {jitter!r}")
        if _number("Reconnect", "stable_after", self.stable_after) < 0:
            raise ValueError(f"Reconnect.stable_after must be 0 or more, not {self.stable_after!r}")
        attempts = self.attempts
        if attempts is not None and (
            isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1
        ):
            raise ValueError(
                f"Reconnect.attempts must be None or an int of at least 1, not {attempts!r}"
            )

    def delay(self, n: int, rng: random.Random | None = None) -> float:
        """Return the n-th wait, in seconds.

        Args:
            n: Which wait, from 1 (the wait after the first failed attempt).
            rng: The source of the jitter, for a repeatable sequence; a
                process-wide one by default.

        Returns:
            ``min(max_delay, initial * factor ** (n - 1))`` times a random
            factor in ``[1 - jitter, 1 + jitter]``.

        Raises:
            ValueError: ``n`` is not an int of at least 1.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"the wait number must be an int of at least 1, not {n!r}")
        try:
            base = min(self.max_delay, self.initial * float(self.factor) ** (n - 1))
        except OverflowError:  # long past max_delay
            base = self.max_delay
        if not self.jitter:
            return float(base)
        return base * (rng or _RANDOM).uniform(1 - self.jitter, 1 + self.jitter)

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """Yield the waits between attempts, in order: ``attempts - 1`` of them, or forever.

        Args:
            rng: The source of the jitter, as for :meth:`delay`.

        Yields:
            The 1st, 2nd, ... wait, in seconds.
        """
        n = 1
        while self.attempts is None or n < self.attempts:
            yield self.delay(n, rng)
            n += 1
