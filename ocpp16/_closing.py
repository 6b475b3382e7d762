"""A connection's close and its bound on incoming CALLs.

``close()`` drains (README "Closing"): from its call on, a CALL that arrives
gets no handler and no answer, and the replies of the handlers still running
go out within ``handler_timeout``; then the close frame. While
``max_incoming_calls`` incoming CALLs await a reply, the connection reads no
further (backpressure). A :class:`Closing` holds both for one connection.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import sys
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ocpp16._dispatch import Dispatcher
    from ocpp16._transport import Transport
    from ocpp16.protocol import CallReceived

__all__ = ["Closing", "Owner", "Step"]

Logger = logging.Logger | logging.LoggerAdapter[Any]


class Step(enum.Enum):
    """How far a local close has come on the current connection.

    Transitions: ``NONE → DRAINING`` (``close()`` began: CALLs that arrive get
    no handler; running handlers may still reply) and ``DRAINING → CLOSING``
    (the close frame is on its way: what the peer still sends is consumed
    unread). A new connection starts again at ``NONE``.
    """

    NONE = "none"
    DRAINING = "draining"
    CLOSING = "closing"


_TRANSITIONS: dict[Step, frozenset[Step]] = {
    Step.NONE: frozenset({Step.DRAINING}),
    Step.DRAINING: frozenset({Step.CLOSING}),
    Step.CLOSING: frozenset(),
}


class Owner(Protocol):
    """What a :class:`Closing` needs from its connection."""

    @property
    def logger(self) -> Logger:
        """The connection's logger."""
        ...

    def _report(self, exc: BaseException, source: object = None) -> None:
        """Send a failure to the "error" listeners, or to the log."""
        ...

    async def _sent_all(self, deadline: float) -> None:
        """Wait until every queued frame is handed to the transport, or ``deadline``."""
        ...


class Closing:
    """One connection's close (the drain of ``close()``) and its bound on incoming CALLs.

    Args:
        owner: The connection.
        dispatch: Its dispatcher, whose ``incoming`` CALLs await a reply.

    Attributes:
        step: How far the close has come.
        read_limit: The connection reads no further while this many incoming
            CALLs await a reply; each CALL left unanswered while closing
            takes a place until the connection closes, and once the close
            frame is on its way it is -1 (read only to consume).
        deadline: When the drain ends, on the loop's clock; ``None`` when
            the connection was not drained.
        task: The task that drains and closes, once the close began.
        unanswered: CALLs that arrived while closing.
    """

    __slots__ = (
        "_dispatch",
        "_owner",
        "deadline",
        "held_logged",
        "read_limit",
        "step",
        "task",
        "unanswered",
    )

    def __init__(self, owner: Owner, dispatch: Dispatcher) -> None:
        self._owner = owner
        self._dispatch = dispatch
        self.reset(None)

    def reset(self, max_incoming_calls: int | None) -> None:
        """A new connection: nothing closing, nothing held.

        Args:
            max_incoming_calls: The bound on incoming CALLs awaiting a reply.
        """
        self.step = Step.NONE
        self.task: asyncio.Task[None] | None = None
        self.deadline: float | None = None
        self.read_limit = sys.maxsize if max_incoming_calls is None else max_incoming_calls
        self.unanswered = 0
        self.held_logged = False

    def _move(self, new: Step) -> None:
        if new not in _TRANSITIONS[self.step]:
            raise RuntimeError(f"a close cannot go from {self.step.name} to {new.name}")
        self.step = new

    def begin(self, transport: Transport, code: int, reason: str, drain: float | None) -> None:
        """Begin the close, in a task of its own that a caller's cancellation does not stop.

        Args:
            transport: The connection's transport.
            code: The close code.
            reason: The close reason.
            drain: Seconds the running handlers have to reply; ``None``
                closes at once.
        """
        self._move(Step.DRAINING)
        now = asyncio.get_running_loop().time()
        if drain is not None:
            self.deadline = now + drain
        until = now if self.deadline is None else self.deadline
        self.task = asyncio.ensure_future(self._drain_then_close(transport, code, reason, until))

    async def _drain_then_close(
        self, transport: Transport, code: int, reason: str, deadline: float
    ) -> None:
        owner, dispatch = self._owner, self._dispatch
        try:
            # A handler that closes its own connection: its own reply is not waited for.
            await dispatch.replied(deadline, dispatch.own_call())
            await owner._sent_all(deadline)
        except Exception as exc:  # a bug of ours must not keep the connection open
            owner._report(exc)
        self._move(Step.CLOSING)
        self.read_limit = -1
        dispatch.wake()  # a connection held at max_incoming_calls reads on, to consume
        try:
            await transport.close(code, reason)
        except Exception as exc:
            owner._report(exc)

    def hold(self) -> bool:
        """Whether to read no further now that ``read_limit`` incoming CALLs await a reply.

        Not reading is the backpressure: the transport stops reading the
        socket, and then the peer's sends wait, so a peer that floods costs
        bounded memory and a well-behaved one loses nothing. The connection
        reads again when a handler replies, or once the close frame is on its
        way (to consume what the peer still sends).

        Returns:
            True to hold reading; False once the close frame is on its way.
        """
        if self.step is Step.CLOSING:
            return False
        if not self.held_logged and self.step is Step.NONE:
            self.held_logged = True
            self._owner.logger.warning(
                "%d incoming CALLs await their handlers' replies (max_incoming_calls): "
                "not reading until one is answered",
                len(self._dispatch.incoming),
            )
        return True

    def leave_unanswered(self, event: CallReceived) -> None:
        """A CALL that arrived after ``close()`` began: no handler runs, no answer is sent.

        A CALLERROR would count as a failed attempt of a transaction message,
        after which the charge point may give the message up (OCPP 1.6 §4.7);
        a CALL left unanswered on a connection that then closes is sent again
        after the reconnect. It keeps a place of ``max_incoming_calls`` until
        the connection closes, so that a flood during the drain stays bounded.

        Args:
            event: The CALL.
        """
        self.unanswered += 1
        self.read_limit -= 1
        self._owner.logger.debug(
            "%s %r arrived while closing: no handler runs, no answer is sent",
            event.action,
            event.message_id,
        )

    def closed(self) -> None:
        """The connection is gone: say how many CALLs were left unanswered, if any."""
        if self.unanswered:
            self._owner.logger.info(
                "%d CALL(s) that arrived while closing were left unanswered, "
                "for the peer to send again once reconnected",
                self.unanswered,
            )
