"""What the commands print: one line per OCPP message, as text or as JSON."""

from __future__ import annotations

import json
import os
import re
import sys
import weakref
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal, TextIO

from rich.console import Console
from rich.text import Text

from ocpp16 import ClientBase, Observer, OcppError
from ocpp16.protocol import MessageType

__all__ = ["MessageLog", "printable"]

Side = Literal["central", "charge_point"]

# OCPP-J 1.6 §4.2: how many elements each kind of frame has.
_LENGTH: dict[int, int] = {MessageType.CALL: 4, MessageType.CALLRESULT: 3, MessageType.CALLERROR: 5}
_STYLE = {"CALL": "bold", "CALLRESULT": "green", "CALLERROR": "bold red"}

# What a peer must not smuggle into a line: control characters (a newline would
# forge a line of its own, an escape sequence would drive the terminal), line and
# paragraph separators, and the invisible marks that reorder or hide text.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def printable(text: str) -> str:
    r"""Return ``text`` with every character that could break or forge a line escaped.

    Args:
        text: Anything a peer chose: a charge point id, a close reason, a payload.

    Returns:
        The text, each such character written as ``\xNN`` or ``\uNNNN``.
    """
    return _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], text)


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259 §6); the library refuses such a frame.
    raise ValueError(f"{name} is not a JSON number")


class MessageLog(Observer):
    """Prints every message of the connections it observes, one line each.

    A text line reads ``time  charge point  direction  kind  action  payload``,
    such as ``12:00:01.234  CP0001  CP->CS  CALL  BootNotification  {...}``;
    the action of a CALLRESULT or CALLERROR is the action of the CALL it answers.
    With ``json_lines``, each line is a JSON object with the keys ``time``,
    ``cp``, ``event`` (``"message"``, ``"connected"``, ``"closed"``,
    ``"refused"``, ``"bad_message"``, ``"violation"``, ``"warning"`` or
    ``"call_failed"``), and for messages ``direction``, ``type``, ``id``,
    ``action`` and ``payload`` (for a CALLERROR: ``errorCode``,
    ``errorDescription`` and ``errorDetails``).

    A frame that is not an OCPP message prints once, as the ``"bad_message"``
    event the library reports for it. What a peer chose (its id, a close reason,
    a payload) cannot break a line: characters that would are escaped.

    It is an :class:`~ocpp16.Observer`: CALLs and CALLRESULTs print from the
    values the library read, and only the rare frames (CALLERRORs, refused and
    ignored frames) are parsed again here.

    Args:
        side: Which end the attached connections are: ``"central"`` (an
            incoming frame goes CP->CS) or ``"charge_point"``.
        console: Where text lines go.
        json_stream: Where JSON lines go, when JSON lines are wanted.
        on_closed_output: Called once if the output goes away (a closed pipe,
            as in ``ocpp16 serve | head``); nothing more is printed after it.
    """

    def __init__(
        self,
        side: Side,
        *,
        console: Console,
        json_stream: TextIO | None = None,
        on_closed_output: Callable[[], None] | None = None,
    ) -> None:
        self.side = side
        self.console = console
        self.json_stream = json_stream
        self.on_closed_output = on_closed_output
        self.messages = 0
        # Payloads that broke their schema (validation "warn"), and other warnings.
        self.violations = 0
        self.warnings = 0
        self.closed_output = False
        # Per connection: the message id of each CALL still unanswered -> action.
        self._pending: weakref.WeakKeyDictionary[ClientBase, dict[str, str]] = (
            weakref.WeakKeyDictionary()
        )

    def attach(self, connection: ClientBase) -> None:
        """Print the messages of ``connection`` from now on, and its close."""
        connection.add_observer(self)

    def _calls(self, connection: ClientBase) -> dict[str, str]:
        pending = self._pending.get(connection)
        if pending is None:
            pending = self._pending[connection] = {}
        return pending

    # Observer hooks

    def call_sent(
        self,
        connection: ClientBase,
        message_id: str,
        action: str,
        payload: Mapping[str, Any],
        frame: str,
    ) -> None:
        """Print a CALL this side sent."""
        self._calls(connection)[message_id] = action
        self._print(connection.cp_id, "out", "CALL", message_id, action, payload)

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
        """Print the answer to a CALL this side sent, if one came."""
        if frame is None:  # a timeout, a close or a cancel: nothing came
            return
        pending = self._calls(connection)
        if outcome == "result" and payload_or_error:
            answered = pending.pop(message_id, "?")
            self._print(
                connection.cp_id, "in", "CALLRESULT", message_id, answered, payload_or_error
            )
        else:
            # Errors, and empty payloads (they may have come as null), print as they came.
            self.message(connection.cp_id, "in", frame, pending)

    def call_received(
        self,
        connection: ClientBase,
        message_id: str,
        action: str,
        payload: dict[str, Any],
        frame: str,
    ) -> None:
        """Print a CALL this side received."""
        if not payload:  # it may have come as null, which the library reads as {}
            self.message(connection.cp_id, "in", frame, self._calls(connection))
            return
        self._calls(connection)[message_id] = action
        self._print(connection.cp_id, "in", "CALL", message_id, action, payload)

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
        """Print the answer this side sent."""
        pending = self._calls(connection)
        if outcome == "result":
            answered = pending.pop(message_id, "?")
            self._print(
                connection.cp_id, "out", "CALLRESULT", message_id, answered, payload_or_error
            )
        else:
            self.message(connection.cp_id, "out", frame, pending)

    def bad_message(self, connection: ClientBase, text: str | bytes, error: OcppError) -> None:
        """Print a refused frame: as a message first if it looks like one, then the refusal."""
        if isinstance(text, str):
            self.message(connection.cp_id, "in", text, self._calls(connection))
        self.event(connection.cp_id, "bad_message", f"{error} (frame {text[:80]!r})")

    def violation(
        self, connection: ClientBase, action: str, kind: str, where: str, error: OcppError
    ) -> None:
        """Print a marked line for a payload that broke its schema and went on (warn mode)."""
        self.violations += 1
        path = getattr(error, "path", "$")
        self.event(
            connection.cp_id,
            "violation",
            f"{where} {action} {kind}: {path}: [{error.code}] {error.description}",
        )

    def warning(self, cp_id: str, detail: str) -> None:
        """Print a marked line for something a test rig must show (a protocol oddity)."""
        self.warnings += 1
        self.event(cp_id, "warning", detail)

    def call_failed(
        self, cp_id: str, action: str, message_id: str, outcome: str, detail: str
    ) -> None:
        """Record a CALL of ours that got no answer: a JSON line with its outcome, or text.

        Args:
            cp_id: The charge point.
            action: The CALL's action.
            message_id: Its message id.
            outcome: ``"timeout"``, ``"closed"`` or ``"invalid_answer"``.
            detail: What happened, in words.
        """
        if self.json_stream is not None:
            self._json(
                {
                    "time": _now(),
                    "cp": cp_id,
                    "event": "call_failed",
                    "id": message_id,
                    "action": action,
                    "outcome": outcome,
                    "detail": detail,
                }
            )

    def ignored(self, connection: ClientBase, text: str, reason: str) -> None:
        """Print a frame the library ignored, such as an answer that came too late."""
        self.message(connection.cp_id, "in", text, self._calls(connection))

    def close(self, connection: ClientBase, code: int, reason: str) -> None:
        """Print that a connection closed."""
        self.event(connection.cp_id, "closed", f"code {code}" + (f" {reason}" if reason else ""))

    def _direction(self, direction: str) -> str:
        incoming_is_cp = self.side == "central"
        return "CP->CS" if (direction == "in") == incoming_is_cp else "CS->CP"

    def message(self, cp_id: str, direction: str, text: str, pending: dict[str, str]) -> None:
        """Print one frame that went ``direction`` (``"in"`` or ``"out"``).

        A frame that is not a well-formed OCPP message prints nothing here: the
        library reports it as a ``"bad_message"``, which prints.
        """
        try:
            frame = json.loads(text, parse_constant=_no_constants)
        except (ValueError, TypeError, RecursionError):
            return
        if not (
            isinstance(frame, list)
            and frame
            and type(frame[0]) is int
            and len(frame) == _LENGTH.get(frame[0])
        ):
            return
        kind = MessageType(frame[0]).name
        message_id = str(frame[1])
        payload: Any
        if kind == "CALL":
            action = str(frame[2])
            pending[message_id] = action
            payload = frame[3]
        else:
            action = pending.pop(message_id, "?")
            payload = frame[2] if kind == "CALLRESULT" else frame[2:]
        self._print(cp_id, direction, kind, message_id, action, payload)

    def _print(
        self, cp_id: str, direction: str, kind: str, message_id: str, action: str, payload: Any
    ) -> None:
        """Print one message: ``payload`` is ``[code, description, details]`` for a CALLERROR."""
        self.messages += 1
        arrow = self._direction(direction)
        if self.json_stream is not None:
            record: dict[str, Any] = {
                "time": _now(),
                "cp": cp_id,
                "event": "message",
                "direction": arrow,
                "type": kind,
                "id": message_id,
                "action": action,
            }
            if kind == "CALLERROR":
                code, description, details = payload
                record.update(errorCode=code, errorDescription=description, errorDetails=details)
            else:
                record["payload"] = payload
            self._json(record)
            return
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        line = Text.assemble(
            (_clock(), "dim"),
            "  ",
            (printable(cp_id), "cyan"),
            "  ",
            arrow,
            "  ",
            (kind, _STYLE[kind]),
            "  ",
            (printable(action), "bold"),
            "  ",
            printable(body),
        )
        self._text(line)

    def event(self, cp_id: str, event: str, detail: str = "") -> None:
        """Print a connection event, such as ``"connected"`` or ``"closed"``."""
        if self.json_stream is not None:
            self._json({"time": _now(), "cp": cp_id, "event": event, "detail": detail})
            return
        style = "bold red" if event in ("bad_message", "violation", "warning") else "yellow"
        line = Text.assemble(
            (_clock(), "dim"), "  ", (printable(cp_id), "cyan"), "  ", (event, style)
        )
        self._text(line.append("  " + printable(detail)) if detail else line)

    def _text(self, line: Text) -> None:
        if self.closed_output:
            return
        try:
            # On a terminal a line stays one line (cut with an ellipsis); into a
            # pipe or a file it is written whole.
            if self.console.is_terminal:
                self.console.print(
                    line, highlight=False, no_wrap=True, overflow="ellipsis", crop=True
                )
            else:
                self.console.print(line, highlight=False, soft_wrap=True)
        except (BrokenPipeError, SystemExit):
            # rich turns a broken pipe into SystemExit; here it must not leave a
            # listener, where it would tear down the event loop.
            self._output_closed()

    def _json(self, record: dict[str, Any]) -> None:
        assert self.json_stream is not None
        if self.closed_output:
            return
        try:
            # json.dumps escapes control characters; ensure_ascii=False keeps the
            # rest readable, and the strict parse above keeps NaN out.
            self.json_stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.json_stream.flush()
        except BrokenPipeError:
            self._output_closed()

    def _output_closed(self) -> None:
        self.closed_output = True
        # Later writes, and the interpreter's flush at exit, go nowhere instead of failing.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # pragma: no cover - no real stdout
            pass
        if self.on_closed_output is not None:
            self.on_closed_output()


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def _clock() -> str:
    return datetime.now().strftime("%H:%M:%S.%f")[:-3]
