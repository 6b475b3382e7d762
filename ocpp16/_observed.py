"""What observers hear of a connection's frames: the part of ``ClientBase`` that tells them.

While observers watch, the connection takes the core's output right after
each operation (``data_to_send``), so that it knows which frames that
operation produced: the CALL of ``send_call`` when the core wrote it at once,
the queued CALLs that an answer, a timeout or a cancel let go, the CALLERROR
the core answered a refused CALL with. With no observer none of this runs.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import TYPE_CHECKING, Any

from ocpp16._closing import Step
from ocpp16.errors import OcppError
from ocpp16.protocol import (
    CallErrorReceived,
    CallReceived,
    CallResultReceived,
    MessageIgnored,
    MessageType,
    Protocol,
)

if TYPE_CHECKING:
    from ocpp16._calls import CallFuture, Calls
    from ocpp16._closing import Closing
    from ocpp16._dispatch import Dispatcher
    from ocpp16._observing import Hooks

__all__ = ["Observed"]

_NONE = Step.NONE


class Observed:
    """The observer side of ``ClientBase``'s reading and write queue (a mixin)."""

    _out: deque[str]
    _observers: tuple[Hooks, ...]
    _received_at: dict[str, float]
    _closing: Closing
    _dispatch: Dispatcher
    _calls: Calls

    def _notify(self, hook: str, *args: Any) -> None:
        raise NotImplementedError

    def _on_event(self, event: Any) -> None:
        raise NotImplementedError

    def _report(self, exc: BaseException, source: Any = None) -> None:
        raise NotImplementedError

    def _receive_observed(self, protocol: Protocol, text: str) -> None:
        """The work for one incoming text frame while observers watch."""
        out = self._out
        if protocol.has_data_to_send:
            out.extend(protocol.data_to_send())
        try:
            events = protocol.receive_text(text)
            produced = protocol.data_to_send() if protocol.has_data_to_send else []
            out.extend(produced)
            refused = ""
            for event in events:
                if isinstance(event, CallReceived):
                    self._received_at[event.message_id] = asyncio.get_running_loop().time()
                    self._notify(
                        "call_received", self, event.message_id, event.action, event.payload, text
                    )
                    if self._closing.step is _NONE:
                        self._dispatch.handle(event)
                    else:
                        self._closing.leave_unanswered(event)
                    continue
                if isinstance(event, CallResultReceived):
                    self._answer_received(event.message_id, "result", event.payload, text)
                elif isinstance(event, CallErrorReceived):
                    self._answer_received(event.message_id, event.error.code, event.error, text)
                elif isinstance(event, MessageIgnored):
                    self._notify("ignored", self, text, event.reason)
                elif event.message_id is not None:  # a CALL the core refused and answered
                    refused = _action_named(text)
                self._on_event(event)
            if produced:
                self._wrote(produced, refused)
        except Exception as exc:  # a bug of ours in one frame must not end the connection
            self._report(exc)

    def _answer_received(
        self, message_id: str, outcome: str, value: dict[str, Any] | OcppError, frame: str
    ) -> None:
        future = self._calls.futures.get(message_id)
        sent_at = getattr(future, "sent_at", None)
        if future is not None and sent_at is not None:
            seconds = asyncio.get_running_loop().time() - sent_at
            self._notify(
                "answer_received", self, message_id, future.action, outcome, seconds, value, frame
            )

    def _call_ended(
        self, future: CallFuture, outcome: str, error: BaseException | None = None
    ) -> None:
        """A CALL ended without an answer (timeout, closed, cancelled): tell the observers."""
        sent_at = getattr(future, "sent_at", None) if self._observers else None
        if sent_at is not None:
            seconds = asyncio.get_running_loop().time() - sent_at
            value = error if error is not None else asyncio.CancelledError()
            self._notify(
                "answer_received",
                self,
                future.message_id,
                future.action,
                outcome,
                seconds,
                value,
                None,
            )

    def _wrote(self, frames: list[str], refused: str = "") -> None:
        """Tell of frames the core wrote on its own: queued CALLs let go, or a refusal.

        Args:
            frames: The frames, already in the outgoing queue.
            refused: The action named by the CALL the core refused, if any.
        """
        now = asyncio.get_running_loop().time()
        for text in frames:
            frame = json.loads(text)
            if frame[0] == MessageType.CALL:
                future = self._calls.futures.get(frame[1])
                if future is not None:
                    future.sent_at = now
                    self._notify("call_sent", self, frame[1], frame[2], frame[3], text)
            elif frame[0] == MessageType.CALLERROR:
                # OCPP-J 1.6 §4.2.3: [4, id, errorCode, errorDescription, errorDetails]
                error = OcppError(frame[2], frame[3], frame[4])
                self._notify("answer_sent", self, frame[1], refused, frame[2], 0.0, error, text)


def _action_named(text: str) -> str:
    """The action a refused CALL frame named, or ``""`` when it named none."""
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        return ""
    if isinstance(frame, list) and len(frame) > 2 and isinstance(frame[2], str):
        return frame[2]
    return ""
