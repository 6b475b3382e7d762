"""The sans-I/O OCPP-J 1.6 protocol core: text in, events and text out.

:class:`Protocol` holds the state of one OCPP-J connection and nothing that
touches a socket or an event loop. Feed it each received text frame with
:meth:`Protocol.receive_text` and act on the events it returns; ask it to send
with :meth:`Protocol.send_call`, :meth:`Protocol.send_result` and
:meth:`Protocol.send_error`; take the frames to write with
:meth:`Protocol.data_to_send`. The asyncio classes (``ClientBase``, ``Server``,
``Client``) only move text between this core and ``websockets``.

What the core decides, following OCPP-J 1.6 §4:

* framing of CALL (2), CALLRESULT (3) and CALLERROR (4) (§4.1, §4.2);
* which frames get a CALLERROR, with which code, and which are only reported;
* schema validation of all four directions, in the mode set per action;
* the pending-call table that correlates answers with CALLs, and the outgoing
  queue that keeps at most ``call_concurrency`` CALLs outstanding (§4.1.1).
"""

from __future__ import annotations

import contextlib
import enum
import functools
import logging
import os
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from ocpp16 import validation as _validation
from ocpp16._json import _decode_lenient, _dumps, _loads, _NonFinite
from ocpp16.errors import ERROR_CODES, OcppError, ProtocolStateError, ValidationError
from ocpp16.validation import Kind, Mode

__all__ = [
    "BadMessage",
    "CallErrorReceived",
    "CallReceived",
    "CallResultReceived",
    "Event",
    "LostCall",
    "MessageIgnored",
    "MessageType",
    "Protocol",
    "Role",
    "State",
]

_log = logging.getLogger("ocpp16")

# The validation module's per-process cache of compiled validators, read here
# directly: one dict lookup per payload on the frame path.
_VALIDATORS: Final = _validation._CACHE

# OCPP-J 1.6 §4.1.4: the message id is a string of at most 36 characters.
MAX_MESSAGE_ID_LENGTH: Final = 36

# Error codes of later OCPP-J versions, understood on receipt and read as their
# 1.6 counterparts (README "Wire rules"); never sent.
_LATER_CODES: Final[dict[str, str]] = {
    "FormatViolation": "FormationViolation",
    "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
    # OCPP-J 2.0.1: "content of the call is not a valid RPC request": 1.6 calls a
    # frame that does not fit the PDU structure a FormationViolation.
    "RpcFrameworkError": "FormationViolation",
}


class MessageType(enum.IntEnum):
    """The message type numbers of OCPP-J 1.6 §4.1.3."""

    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4


class Role(enum.StrEnum):
    """Which end of the connection this core speaks for."""

    CHARGE_POINT = "charge_point"
    CENTRAL_SYSTEM = "central_system"


class State(enum.Enum):
    """The life cycle of a connection, as seen by the core.

    Transitions: ``OPEN → CLOSING`` (a local close began: no new CALL is sent,
    answers are still read), ``OPEN → CLOSED`` and ``CLOSING → CLOSED`` (the
    connection is gone: everything pending fails).
    """

    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


_TRANSITIONS: Final[dict[State, frozenset[State]]] = {
    State.OPEN: frozenset({State.CLOSING, State.CLOSED}),
    State.CLOSING: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}


# ----------------------------------------------------------------------------- events


@dataclass(slots=True)
class CallReceived:
    """A valid CALL arrived; the application must answer it.

    Answer with :meth:`Protocol.send_result` or :meth:`Protocol.send_error`.

    Attributes:
        message_id: The CALL's message id.
        action: The action, an OCPP 1.6 action this side can receive.
        payload: The request payload (``null`` already read as ``{}``).
    """

    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallResultReceived:
    """A CALLRESULT answered one of our CALLs and passed validation.

    Attributes:
        message_id: The message id of our CALL.
        action: The action of our CALL.
        payload: The response payload.
    """

    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallErrorReceived:
    """One of our CALLs failed: the peer answered with a CALLERROR, or its answer was invalid.

    Attributes:
        message_id: The message id of our CALL.
        action: The action of our CALL.
        error: An :class:`OcppError` (a :class:`ValidationError` when a
            CALLRESULT broke the response schema in strict mode).
    """

    message_id: str
    action: str
    error: OcppError


@dataclass(slots=True)
class BadMessage:
    """A frame was refused before it could reach a handler or a pending call.

    When ``message_id`` is set, the frame was a CALL and the core has already
    queued a CALLERROR for it; otherwise nothing is answered (a frame with no
    recoverable id, or an answer that matches no CALL of ours).

    Attributes:
        text: The frame as received.
        error: What was wrong with it.
        message_id: The id the CALLERROR answered, or ``None``.
    """

    text: str
    error: OcppError
    message_id: str | None = None


@dataclass(slots=True)
class MessageIgnored:
    """A frame was ignored on purpose, as the spec asks (for example an unknown type number).

    Attributes:
        text: The frame as received.
        reason: Why it was ignored.
    """

    text: str
    reason: str


@dataclass(slots=True, frozen=True)
class LostCall:
    """One of our CALLs that failed with the connection (:meth:`Protocol.connection_lost`).

    It holds what is needed to make the CALL again on a new connection with
    the same id (``send_call(..., message_id=...)``), so that a central
    system that did process it can tell.

    Attributes:
        message_id: The CALL's message id.
        action: The CALL's action.
        text: The CALL frame exactly as it was (or would have been) written.
        sent: True when the frame was written: it was in flight, and the peer
            may have received and processed it. False when it was still
            queued behind the outstanding CALLs (OCPP-J 1.6 §4.1.1) and never
            left this side.
    """

    message_id: str
    action: str
    text: str
    sent: bool


Event: TypeAlias = (
    CallReceived | CallResultReceived | CallErrorReceived | BadMessage | MessageIgnored
)
"""Anything :meth:`Protocol.receive_text` can return."""


def _valid_id(message_id: object) -> bool:
    return isinstance(message_id, str) and 0 < len(message_id) <= MAX_MESSAGE_ID_LENGTH


@functools.cache
def _actions_for(role: Role) -> tuple[frozenset[str], frozenset[str]]:
    """Return (the actions ``role`` may send, the actions it may receive)."""
    from ocpp16 import schemas

    sends = frozenset(name for name, s in schemas.ALL.items() if s.can_send(role.value))
    receives = frozenset(name for name, s in schemas.ALL.items() if s.can_receive(role.value))
    return sends, receives


# ----------------------------------------------------------------------------- the core


class _Pending:
    """One CALL of ours: queued (not yet written) or in flight (awaiting its answer)."""

    __slots__ = ("action", "in_flight", "text")

    def __init__(self, action: str, text: str) -> None:
        self.action = action
        self.text = text
        self.in_flight = False


class Protocol:
    """The OCPP-J 1.6 state of one connection, with no I/O.

    Args:
        role: Which end this core speaks for; decides which actions it may
            send and receive.
        validation: The default validation mode (``"strict"``, ``"warn"``, ``"off"``).
        validation_overrides: Per-action modes that take precedence.
        call_concurrency: How many of our CALLs may await an answer at once;
            OCPP-J 1.6 §4.1.1 asks for 1. Further CALLs wait in a queue.
        message_id_factory: Makes message ids; uuid4 strings by default.
        logger: Where validation warnings go; the ``ocpp16`` logger by default.

    Attributes:
        role: The role given.
        state: The connection's :class:`State`.
        validation: The default validation mode; may be changed at any time.
        validation_overrides: Action → mode; may be changed at any time.
        on_violation: Called as ``(action, kind, where, error)`` for each payload
            that breaks its schema in ``"warn"`` mode, after the log line.
    """

    def __init__(
        self,
        role: Role | str,
        *,
        validation: Mode = "strict",
        validation_overrides: Mapping[str, Mode] | None = None,
        call_concurrency: int = 1,
        message_id_factory: Callable[[], str] | None = None,
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
    ) -> None:
        self.role = Role(role)
        self.validation: Mode = _check_mode(validation)
        self.validation_overrides: dict[str, Mode] = {
            action: _check_mode(mode) for action, mode in (validation_overrides or {}).items()
        }
        if not isinstance(call_concurrency, int) or call_concurrency < 1:
            raise ValueError(
                f"call_concurrency must be an int of at least 1, not {call_concurrency!r}"
            )
        self.call_concurrency = call_concurrency
        self._new_id: Callable[[], str] = message_id_factory or _uuid4
        self.logger = logger if logger is not None else _log
        self.on_violation: Callable[[str, str, str, ValidationError], None] | None = None
        self.state = State.OPEN
        self._can_send, self._can_receive = _actions_for(self.role)
        self._pending: dict[str, _Pending] = {}
        # Our CALLs waiting for a place under call_concurrency (OCPP-J 1.6 §4.1.1);
        # made when the first has to wait: an empty deque weighs some 700 bytes,
        # and most connections never queue (a central system's, above all).
        self._queue: deque[str] | None = None
        self._in_flight = 0
        # Incoming CALLs being handled: message id -> action.
        self._handling: dict[str, str] = {}
        self._outbox: list[str] = []

    # ------------------------------------------------------------------ state

    def _set_state(self, new: State) -> None:
        if new not in _TRANSITIONS[self.state]:
            raise ProtocolStateError(f"cannot go from {self.state.name} to {new.name}")
        self.state = new

    def start_closing(self) -> None:
        """Mark the start of a local close: no further CALL will be sent.

        Answers to CALLs already in flight are still read. Does nothing when
        already closing or closed.
        """
        if self.state is State.OPEN:
            self._set_state(State.CLOSING)

    def connection_lost(self) -> list[LostCall]:
        """Mark the connection as gone and forget everything pending.

        Returns:
            Our CALLs that were queued or awaiting an answer, in the order
            they were made: each of them has failed. Each says whether it was
            written (``sent``) and holds its frame, so that it can be made
            again on a new connection.
        """
        if self.state is not State.CLOSED:
            self._set_state(State.CLOSED)
        failed = [
            LostCall(message_id, pending.action, pending.text, pending.in_flight)
            for message_id, pending in self._pending.items()
        ]
        self._pending.clear()
        self._queue = None
        self._in_flight = 0
        self._handling.clear()
        self._outbox.clear()
        return failed

    # ------------------------------------------------------------------ queries

    def mode_for(self, action: str) -> Mode:
        """Return the validation mode in force for ``action``.

        Args:
            action: An action name.

        Returns:
            The per-action override if there is one, else the default mode.
        """
        return self.validation_overrides.get(action, self.validation)

    def can_send(self, action: str) -> bool:
        """Tell whether this side may send ``action`` as a CALL.

        Args:
            action: An action name.

        Returns:
            True for an OCPP 1.6 action that this role initiates.
        """
        return action in self._can_send

    def can_receive(self, action: str) -> bool:
        """Tell whether this side may receive ``action`` as a CALL.

        Args:
            action: An action name.

        Returns:
            True for an OCPP 1.6 action that the peer's role initiates.
        """
        return action in self._can_receive

    @property
    def pending_calls(self) -> Mapping[str, str]:
        """Our CALLs not yet answered, queued or in flight: message id → action."""
        return {message_id: p.action for message_id, p in self._pending.items()}

    @property
    def handling(self) -> Mapping[str, str]:
        """Incoming CALLs not yet answered: message id → action."""
        return dict(self._handling)

    @property
    def has_data_to_send(self) -> bool:
        """True when :meth:`data_to_send` has frames to give."""
        return bool(self._outbox)

    def data_to_send(self) -> list[str]:
        """Take the frames to write, in order.

        Returns:
            The text frames queued since the last call; the outbox is then empty.
        """
        out = self._outbox
        self._outbox = []
        return out

    # ------------------------------------------------------------------ validation

    def _check(self, action: str, kind: Kind, payload: Any, where: str) -> None:
        """Validate per the action's mode; raise in strict mode, log in warn mode."""
        mode = self.validation_overrides.get(action, self.validation)
        if mode == "off":
            return
        validator = _VALIDATORS.get((action, kind)) or _validation.get_validator(action, kind)
        try:
            validator(payload)
        except ValidationError as exc:
            if mode == "strict":
                raise
            self._warn(action, kind, payload, exc, where)

    def _warn(self, action: str, kind: str, payload: Any, exc: ValidationError, where: str) -> None:
        # "warn" mode logs every violation at WARNING (README "Validation").
        if (
            exc.keyword == "format"
            and isinstance(exc.value, str)
            and _validation.is_utc_less_datetime(exc.value)
        ):
            message = f": {exc.path} has no UTC offset; read as UTC (validation=warn)"
        else:
            message = (
                f" breaks its schema (validation=warn, going on): [{exc.code}] {exc.description}"
            )
        self.logger.warning("%s %s %s%s", where, action, kind, message)
        if self.on_violation is not None:
            self.on_violation(action, kind, where, exc)

    # ------------------------------------------------------------------ sending

    def send_call(
        self, action: str, payload: Mapping[str, Any], *, message_id: str | None = None
    ) -> str:
        """Make a CALL; it is written now or queued behind the outstanding ones.

        Args:
            action: The action.
            payload: The request payload.
            message_id: The CALL's message id; a fresh one from
                ``message_id_factory`` when ``None``. Give the id of a CALL
                made before, on a connection that was lost, to make it again:
                with the same id, the central system can tell a CALL it
                already processed (:class:`LostCall` holds it).

        Returns:
            The CALL's message id; its answer arrives as a
            :class:`CallResultReceived` or :class:`CallErrorReceived` event.

        Raises:
            ProtocolStateError: The connection is closing or closed.
            OcppError: ``NotImplemented`` when ``action`` is not an OCPP 1.6
                action this side may send (unless validation is off for it).
            ValidationError: The payload breaks the schema (strict mode), or
                cannot be written as JSON, or the message id (given or from
                the factory) is not a string of 1 to 36 characters, or is the
                id of a CALL still pending; nothing was sent.
        """
        if self.state is not State.OPEN:
            raise ProtocolStateError(f"cannot send {action}: the connection is {self.state.value}")
        if action not in self._can_send:
            mode = self.mode_for(action)
            if mode != "off":
                error = OcppError(
                    "NotImplemented",
                    f"{action!r} is not an OCPP 1.6 action that a {self.role.value} sends",
                )
                if mode == "strict":
                    raise error
                self.logger.warning("sending %s anyway (validation=warn): %s", action, error)
        else:
            self._check(action, "request", payload, "outgoing")
        source = "given"
        if message_id is None:
            message_id, source = self._new_id(), "from message_id_factory"
        # OCPP-J 1.6 §4.1.4: an id of 1 to 36 characters, unique among our pending CALLs
        # (an answer is matched to its CALL by the id alone).
        if not _valid_id(message_id) or message_id in self._pending:
            raise ValidationError(
                "FormationViolation",
                f"message id {message_id!r} {source} is not a fresh string of "
                f"1 to {MAX_MESSAGE_ID_LENGTH} characters",
                keyword="messageId",
            )
        pending = _Pending(action, _dumps([2, message_id, action, payload]))
        self._pending[message_id] = pending
        if self._in_flight < self.call_concurrency:
            self._write_call(pending)
        else:
            if self._queue is None:
                self._queue = deque()
            self._queue.append(message_id)
        return message_id

    def _write_call(self, pending: _Pending) -> None:
        pending.in_flight = True
        self._in_flight += 1
        self._outbox.append(pending.text)

    def _release(self, message_id: str) -> _Pending | None:
        """Forget one of our CALLs and let the next queued one go out."""
        pending = self._pending.pop(message_id, None)
        if pending is None:
            return None
        if pending.in_flight:
            self._in_flight -= 1
            # Cancelled queued CALLs leave the queue at once, so every id in it is pending.
            queue = self._queue
            while queue and self._in_flight < self.call_concurrency:
                self._write_call(self._pending[queue.popleft()])
        elif self._queue:
            with contextlib.suppress(ValueError):
                self._queue.remove(message_id)
        return pending

    def cancel_call(self, message_id: str) -> bool:
        """Give up on one of our CALLs (it timed out, or its caller lost interest).

        A queued CALL is never written; an in-flight one frees its place, and
        an answer that still comes for it is reported as :class:`MessageIgnored`.

        Args:
            message_id: The CALL's message id.

        Returns:
            True if the CALL was pending.
        """
        return self._release(message_id) is not None

    def send_result(self, message_id: str, payload: Mapping[str, Any]) -> None:
        """Answer an incoming CALL with a CALLRESULT (OCPP-J 1.6 §4.2.2).

        Args:
            message_id: The id of a CALL from a :class:`CallReceived` event.
            payload: The response payload.

        Raises:
            ProtocolStateError: No CALL with that id awaits an answer.
            ValidationError: The payload breaks the response schema (strict
                mode) or cannot be written as JSON; the CALL still awaits an
                answer, so that the caller can send an error instead.
        """
        action = self._handling.get(message_id)
        if action is None:
            raise ProtocolStateError(f"no incoming CALL {message_id!r} awaits an answer")
        self._check(action, "response", payload, "outgoing")
        text = _dumps([3, message_id, payload])
        del self._handling[message_id]
        self._outbox.append(text)

    def send_error(
        self,
        message_id: str,
        code: str,
        description: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Answer an incoming CALL with a CALLERROR (OCPP-J 1.6 §4.2.3).

        Args:
            message_id: The id of a CALL from a :class:`CallReceived` event.
            code: An OCPP 1.6 error code. A later version's spelling is sent as
                its 1.6 counterpart; any other unknown code as ``GenericError``.
            description: The errorDescription.
            details: The errorDetails; ``None`` sends ``{}``. Details that
                cannot be written as JSON are replaced by ``{}``.

        Raises:
            ProtocolStateError: No CALL with that id awaits an answer.
        """
        if self._handling.pop(message_id, None) is None:
            raise ProtocolStateError(f"no incoming CALL {message_id!r} awaits an answer")
        self._outbox.append(_error_frame(message_id, code, description, details))

    # ------------------------------------------------------------------ receiving

    def receive_text(self, text: str) -> list[Event]:
        """Read one text frame.

        Args:
            text: The frame, as received: the text of a WebSocket text frame, so
                valid Unicode (UTF-8 carries no surrogate code points; escaped
                ones inside the JSON are fine and are answered escaped).

        Returns:
            What happened: at most one event. Frames to write in answer (a
            CALLERROR for a malformed CALL, the next queued CALL) are in
            :meth:`data_to_send`.
        """
        if self.state is State.CLOSED:
            return [MessageIgnored(text, "the connection is closed")]
        try:
            frame = _loads(text)
        except _NonFinite as exc:
            return [self._refuse_nonfinite(text, exc)]
        except (ValueError, RecursionError) as exc:
            # json.JSONDecodeError is a ValueError, as is an integer too long to read.
            return [BadMessage(text, OcppError("FormationViolation", f"not valid JSON: {exc}"))]
        # OCPP-J 1.6 §4.1.3: a message is a JSON array whose first element is
        # the message type number.
        if type(frame) is not list or not frame:
            return [
                BadMessage(
                    text, OcppError("FormationViolation", "frame is not a non-empty JSON array")
                )
            ]
        kind = frame[0]
        if kind == 2 and type(kind) is int:
            return [self._receive_call(text, frame)]
        if kind == 3 and type(kind) is int:
            return [self._receive_result(text, frame)]
        if kind == 4 and type(kind) is int:
            return [self._receive_error(text, frame)]
        if type(kind) is int:
            # OCPP-J 1.6 §4.1.3: a message type number not in this list shall be ignored.
            return [MessageIgnored(text, f"unknown message type number {kind}")]
        return [
            BadMessage(
                text, OcppError("FormationViolation", f"message type {kind!r} is not a number")
            )
        ]

    def _refuse_call(self, text: str, message_id: str, error: OcppError) -> BadMessage:
        self._outbox.append(_error_frame(message_id, error.code, error.description, error.details))
        return BadMessage(text, error, message_id)

    def _refuse_nonfinite(self, text: str, exc: _NonFinite) -> Event:
        # RFC 8259 §6 has no NaN or Infinity: a CALL holding them is answered with a
        # FormationViolation when its id can be read (README "Wire rules"), otherwise
        # the frame is a bad message.
        error = OcppError("FormationViolation", f"not valid JSON: {exc}")
        try:
            frame = _decode_lenient(text)
        except (ValueError, RecursionError):
            return BadMessage(text, error)
        if (
            type(frame) is list
            and len(frame) >= 2
            and frame[0] == 2
            and type(frame[0]) is int
            and _valid_id(frame[1])
            and frame[1] not in self._handling
        ):
            return self._refuse_call(text, frame[1], error)
        return BadMessage(text, error)

    def _receive_call(self, text: str, frame: list[Any]) -> Event:
        # OCPP-J 1.6 §4.2.1: [2, "<UniqueId>", "<Action>", {<Payload>}]
        message_id = frame[1] if len(frame) > 1 else None
        if type(message_id) is not str:
            return BadMessage(
                text, OcppError("FormationViolation", "CALL has no string message id")
            )
        if not 0 < len(message_id) <= MAX_MESSAGE_ID_LENGTH:
            return self._refuse_call(
                text,
                message_id,
                OcppError(
                    "FormationViolation",
                    f"message id must be 1 to {MAX_MESSAGE_ID_LENGTH} characters, "
                    f"got {len(message_id)}",
                ),
            )
        if message_id in self._handling:
            # Answering would make two answers with one id: refuse the second CALL.
            return self._refuse_call(
                text,
                message_id,
                OcppError(
                    "ProtocolError",
                    f"a CALL with message id {message_id!r} is already being handled",
                ),
            )
        if len(frame) != 4:
            return self._refuse_call(
                text,
                message_id,
                OcppError("FormationViolation", f"CALL must have 4 elements, not {len(frame)}"),
            )
        action = frame[2]
        if type(action) is not str:
            return self._refuse_call(
                text, message_id, OcppError("FormationViolation", "CALL action is not a string")
            )
        payload = frame[3]
        if payload is None:
            payload = {}
        elif type(payload) is not dict:
            return self._refuse_call(
                text,
                message_id,
                OcppError("FormationViolation", "CALL payload is not a JSON object"),
            )
        if action not in self._can_receive:
            # OCPP-J 1.6 table 7: NotImplemented, "requested Action is not known by receiver".
            return self._refuse_call(
                text,
                message_id,
                OcppError(
                    "NotImplemented",
                    f"{action!r} is not an OCPP 1.6 action that a {self.role.value} receives",
                ),
            )
        try:
            self._check(action, "request", payload, "incoming")
        except ValidationError as exc:
            return self._refuse_call(text, message_id, exc)
        self._handling[message_id] = action
        return CallReceived(message_id, action, payload)

    def _receive_result(self, text: str, frame: list[Any]) -> Event:
        # OCPP-J 1.6 §4.2.2: [3, "<UniqueId>", {<Payload>}]; never answered.
        if len(frame) != 3 or type(frame[1]) is not str:
            return BadMessage(
                text, OcppError("FormationViolation", "CALLRESULT must be [3, id, payload]")
            )
        message_id = frame[1]
        pending = self._release(message_id)
        if pending is None:
            return MessageIgnored(
                text, f"CALLRESULT for no pending CALL (message id {message_id!r})"
            )
        payload = frame[2]
        if payload is None:
            payload = {}
        elif type(payload) is not dict:
            return CallErrorReceived(
                message_id,
                pending.action,
                ValidationError(
                    "FormationViolation", "CALLRESULT payload is not a JSON object", keyword="type"
                ),
            )
        try:
            self._check(pending.action, "response", payload, "incoming")
        except ValidationError as exc:
            return CallErrorReceived(message_id, pending.action, exc)
        return CallResultReceived(message_id, pending.action, payload)

    def _receive_error(self, text: str, frame: list[Any]) -> Event:
        # OCPP-J 1.6 §4.2.3:
        # [4, "<UniqueId>", "<errorCode>", "<errorDescription>", {<errorDetails>}]; never answered.
        if len(frame) < 2 or type(frame[1]) is not str:
            return BadMessage(
                text, OcppError("FormationViolation", "CALLERROR has no string message id")
            )
        message_id = frame[1]
        pending = self._release(message_id)
        if pending is None:
            return MessageIgnored(
                text, f"CALLERROR for no pending CALL (message id {message_id!r})"
            )
        code, description, details = [*frame[2:], None, None, None][:3]
        if (
            len(frame) != 5
            or type(code) is not str
            or type(description) is not str
            or not (details is None or type(details) is dict)
        ):
            # The peer did answer, with a malformed CALLERROR: fail the CALL now
            # rather than at its timeout.
            error = OcppError(
                "FormationViolation",
                "malformed CALLERROR: expected [4, id, code, description, details]",
                {"frame": frame},
            )
            return CallErrorReceived(message_id, pending.action, error)
        code = _LATER_CODES.get(code, code)
        return CallErrorReceived(message_id, pending.action, OcppError(code, description, details))


def _error_frame(
    message_id: str, code: str, description: str, details: Mapping[str, Any] | None
) -> str:
    # Only the ten 1.6 codes go on the wire (OCPP-J 1.6 §4.2.3 table 7).
    code = _LATER_CODES.get(code, code)
    if code not in ERROR_CODES:
        code = "GenericError"
    try:
        return _dumps([4, message_id, code, str(description), {} if details is None else details])
    except ValidationError:
        return _dumps([4, message_id, code, str(description), {}])


def _check_mode(mode: str) -> Mode:
    return _validation.check_mode(mode)


def _uuid4() -> str:
    """A random (version 4, RFC 4122 variant) UUID string; half the cost of str(uuid.uuid4())."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"
