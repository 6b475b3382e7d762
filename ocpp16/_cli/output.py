"""What the commands print: one line per OCPP message, as text or as JSON."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, TextIO

from rich.console import Console
from rich.text import Text

from ocpp16 import ClientBase

__all__ = ["MessageLog"]

Side = Literal["central", "charge_point"]

# OCPP-J 1.6 §4.1: the MessageTypeId of each frame.
_KIND = {2: "CALL", 3: "CALLRESULT", 4: "CALLERROR"}
_STYLE = {"CALL": "bold", "CALLRESULT": "green", "CALLERROR": "bold red"}


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

    Args:
        side: Which end the attached connections are: ``"central"`` (an
            incoming frame goes CP->CS) or ``"charge_point"``.
        console: Where text lines go.
        json_stream: Where JSON lines go, when JSON lines are wanted.
    """

    def __init__(self, side: Side, *, console: Console, json_stream: TextIO | None = None) -> None:
        self.side = side
        self.console = console
        self.json_stream = json_stream
        self.messages = 0

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
        """Print one frame that went ``direction`` (``"in"`` or ``"out"``)."""
        self.messages += 1
        try:
            frame = json.loads(text)
            kind = _KIND[frame[0]]
            message_id = str(frame[1])
        except (ValueError, TypeError, KeyError, IndexError):
            self.event(cp_id, "bad_message", f"not an OCPP frame: {text[:80]!r}")
            return
        payload: Any
        if kind == "CALL":
            action = str(frame[2])
            pending[message_id] = action
            payload = frame[3] if len(frame) > 3 else None
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
                code, description, details = ([*payload, None, None, None])[:3]
                record.update(errorCode=code, errorDescription=description, errorDetails=details)
            else:
                record["payload"] = payload
            self._json(record)
            return
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        line = Text.assemble(
            (_clock(), "dim"),
            "  ",
            (cp_id, "cyan"),
            "  ",
            arrow,
            "  ",
            (kind, _STYLE[kind]),
            "  ",
            (action, "bold"),
            "  ",
            body,
        )
        self._text(line)

    def event(self, cp_id: str, event: str, detail: str = "") -> None:
        """Print a connection event, such as ``"connected"`` or ``"closed"``."""
        if self.json_stream is not None:
            self._json({"time": _now(), "cp": cp_id, "event": event, "detail": detail})
            return
        style = "yellow" if event != "bad_message" else "bold red"
        self._text(
            Text.assemble(
                (_clock(), "dim"), "  ", (cp_id, "cyan"), "  ", (event, style), "  ", detail
            )
        )

    def _text(self, line: Text) -> None:
        # On a terminal a line stays one line (cut with an ellipsis); into a pipe
        # or a file it is written whole.
        if self.console.is_terminal:
            self.console.print(line, highlight=False, no_wrap=True, overflow="ellipsis", crop=True)
        else:
            self.console.print(line, highlight=False, soft_wrap=True)

    def _json(self, record: dict[str, Any]) -> None:
        assert self.json_stream is not None
        self.json_stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.json_stream.flush()


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def _clock() -> str:
    return datetime.now().strftime("%H:%M:%S.%f")[:-3]
