"""The CALLs a connection makes: their futures and the one deadline timer.

A connection keeps its pending ``call_request`` futures in a :class:`Calls`,
by message id. One timer per connection, set for the earliest deadline, fails
every CALL past its deadline with :class:`~ocpp16.errors.CallTimeout`; a CALL
whose deadline is later than the timer's costs no timer of its own.
Cancelling a future gives its CALL's place in the outgoing queue to the next
one (OCPP-J 1.6 §4.1.1).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from numbers import Real
from typing import Any, Protocol

from ocpp16.errors import CallTimeout

__all__ = ["CallFuture", "CallOwner", "Calls", "check_call"]


def check_call(action: Any, payload: Any, timeout: Any) -> tuple[dict[str, Any], float | None]:
    """Check the arguments of a ``call_request``; return the payload and timeout to use.

    README "call_request": every failure arrives through the future, so the
    caller fails its future with what this raises instead of raising it.

    Args:
        action: The action: a ``str`` (an ``ocpp16.Action`` is one).
        payload: A ``dict``, another ``Mapping`` (copied into a ``dict``), or
            ``None`` for ``{}``.
        timeout: Seconds, a positive finite number (not a ``bool``), or
            ``None`` for the connection's ``call_timeout``.

    Returns:
        ``(payload, timeout)``: the payload as a ``dict``, the timeout as a
        ``float`` or ``None``.

    Raises:
        TypeError: An argument of the wrong type; the message names it.
        ValueError: A timeout that is not positive and finite.
    """
    if not isinstance(action, str):
        raise TypeError(
            f"call_request: action must be a str such as 'Reset', not {type(action).__name__} "
            f"{action!r}"
        )
    if payload is None:
        payload = {}
    elif type(payload) is not dict:
        if not isinstance(payload, Mapping):
            raise TypeError(
                f"call_request: payload must be a dict (or a Mapping), or None for {{}}, "
                f"not {type(payload).__name__}"
            )
        payload = dict(payload)
    if timeout is None:
        return payload, None
    if isinstance(timeout, bool) or not isinstance(timeout, Real):
        raise TypeError(
            f"call_request: timeout must be a number of seconds or None, "
            f"not {type(timeout).__name__} {timeout!r}"
        )
    seconds = float(timeout)
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(
            f"call_request: timeout must be a positive, finite number of seconds, not {timeout!r}"
        )
    return payload, seconds


class CallOwner(Protocol):
    """What :class:`Calls` needs from its connection."""

    def _give_up(self, message_id: str) -> bool:
        """Forget the CALL in the protocol core; True if it was pending there."""
        ...

    def _flush(self) -> None:
        """Write what the core has to send."""
        ...

    def _call_ended(
        self, future: CallFuture, outcome: str, error: BaseException | None = None
    ) -> None:
        """A CALL ended without an answer: tell the observers, if any."""
        ...


class CallFuture(asyncio.Future[dict[str, Any]]):
    """The future of one ``call_request``: an ``asyncio.Future`` that knows its CALL.

    Cancelling it frees the CALL's place in the outgoing queue at once, without
    a done-callback on every future.

    Attributes:
        calls: The :class:`Calls` it belongs to (set once the CALL is made).
        message_id: The CALL's message id.
        action: The CALL's action.
        seconds: Its timeout.
        deadline: When it times out, on the loop's clock.
        sent_at: When it was written, on the loop's clock; set only while
            observers watch the connection.
    """

    __slots__ = ("action", "calls", "deadline", "message_id", "seconds", "sent_at")

    calls: Calls
    message_id: str
    action: str
    seconds: float
    deadline: float
    sent_at: float

    def cancel(self, msg: Any | None = None) -> bool:
        """Cancel the future and give up its CALL."""
        if not super().cancel(msg):
            return False
        # Set once the CALL is made; a future that failed before has nothing to free.
        calls = getattr(self, "calls", None)
        if calls is not None:
            calls.cancelled(self)
        return True


class Calls:
    """The pending CALLs of one connection, by message id, and their deadline timer.

    Args:
        owner: The connection.

    Attributes:
        futures: Message id → future, in the order the CALLs were made.
        timer: The deadline timer, or ``None``.
        timer_at: When ``timer`` fires.
    """

    __slots__ = ("_owner", "futures", "timer", "timer_at")

    def __init__(self, owner: CallOwner) -> None:
        self._owner = owner
        self.futures: dict[str, CallFuture] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0

    def arm(self, deadline: float) -> None:
        """Set the timer for ``deadline``, replacing the current one."""
        if self.timer is not None:
            self.timer.cancel()
        self.timer_at = deadline
        self.timer = asyncio.get_running_loop().call_at(deadline, self._expire)

    def stop(self) -> None:
        """Cancel the timer (the connection is gone)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expire(self) -> None:
        """Fail every CALL past its deadline with CallTimeout; re-arm for the next one."""
        self.timer = None
        now = asyncio.get_running_loop().time()
        owner, futures = self._owner, self.futures
        earliest = None
        for message_id, future in list(futures.items()):
            if future.deadline <= now:
                del futures[message_id]
                error = CallTimeout(future.action, message_id, future.seconds)
                owner._call_ended(future, "timeout", error)
                owner._give_up(message_id)
                future.set_exception(error)
            elif earliest is None or future.deadline < earliest:
                earliest = future.deadline
        if earliest is not None:
            self.arm(earliest)
        owner._flush()

    def cancelled(self, future: CallFuture) -> None:
        """The caller cancelled ``future``: give its CALL's place to the next one."""
        if self.futures.pop(future.message_id, None) is not None:
            owner = self._owner
            owner._call_ended(future, "cancelled")
            if owner._give_up(future.message_id):
                owner._flush()

    def settle(self, message_id: str) -> CallFuture | None:
        """Take the future of ``message_id`` out, if it is still pending."""
        future = self.futures.pop(message_id, None)
        return None if future is None or future.done() else future

    def fail(self, message_id: str, error: BaseException) -> None:
        """Fail the future of ``message_id`` with ``error``, if it is still pending."""
        future = self.settle(message_id)
        if future is not None:
            future.set_exception(error)
