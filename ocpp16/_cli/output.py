"""What the commands print: one line per OCPP message, as text or as JSON."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TextIO

from rich.console import Console
from rich.text import Text

from ocpp16 import ClientBase
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


class MessageLog:
    """Prints every message of the connections it is attached to, one line each.

    A text line reads ``time  charge point  direction  kind  action  payload``,
    such as ``12:00:01.234  CP0001  CP->CS  CALL  BootNotification  {...}``;
    the action of a CALLRESULT or CALLERROR is the action of the CALL it answers.
    With ``json_lines``, each line is a JSON object with the keys ``time``,
    ``cp``, ``event`` (``"message"``, ``"connected"``, ``"closed"`` or
    ``"bad_message"``), and for messages ``direction``, ``type``, ``id``,
    ``action`` and ``payload`` (for a CALLERROR: ``errorCode``,
    ``errorDescription`` and ``errorDetails``).

    A frame that is not an OCPP message prints once, as the ``"bad_message"``
    event the library reports for it. What a peer chose (its id, a close reason,
    a payload) cannot break a line: characters that would are escaped.

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
        self.closed_output = False

    def attach(self, connection: ClientBase) -> None:
        """Print the messages of ``connection`` from now on, and its close."""
        pending: dict[str, str] = {}  # message id of each CALL still unanswered -> action
        cp_id = connection.cp_id

        def on_message(direction: str, text: str) -> None:
            self.message(cp_id, direction, text, pending)

        def on_close(code: int, reason: str) -> None:
            self.event(cp_id, "closed", f"code {code}" + (f" {reason}" if reason else ""))

        def on_bad(text: str | bytes, error: Exception) -> None:
            self.event(cp_id, "bad_message", f"{error} (frame {text[:80]!r})")

        connection.on("message", on_message)
        connection.on("close", on_close)
        connection.on("bad_message", on_bad)

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
        self.messages += 1
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
        style = "yellow" if event != "bad_message" else "bold red"
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
