"""Payload validation: compiled schema validators and the OCPP error code of each failure.

Validators are compiled with ``fastjsonschema`` once per process, and only when
an action is first used in a given direction, so that ``import ocpp16`` stays
cheap. A failure is translated here, at the boundary, from fastjsonschema's
exception into :class:`ocpp16.errors.ValidationError`, which carries the OCPP
error code that the failing JSON-schema keyword maps to (see :data:`KEYWORD_CODES`).

Modes (settable per server or client, per connection and per action):

* ``"strict"``: a payload that breaks its schema is refused.
* ``"warn"``: it is logged at WARNING and goes through.
* ``"off"``: nothing is checked.

Date-time policy (the ``date-time`` format of every schema):

* ``strict`` accepts RFC 3339 date-times with an offset, written ``Z``/``z`` or
  ``+hh:mm``/``-hh:mm``, with fractional seconds of any length, a ``T``/``t``
  separator, and a date and time that exist (month 1-12, the day within its
  month, hour 0-23, minute and second 0-59; leap second 60 and year 0000 are
  refused because Python's ``datetime``, and so most backends, cannot represent
  them), in ASCII digits. Anything else is a ``PropertyConstraintViolation``.
* ``warn`` lets every value through; an offset-less date-time, which real
  chargers send, is logged as "read as UTC", anything else that is not
  RFC 3339 is logged as invalid.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, cast

from ocpp16.errors import ValidationError

if TYPE_CHECKING:
    import fastjsonschema

__all__ = [
    "KEYWORD_CODES",
    "Kind",
    "Mode",
    "check_mode",
    "get_validator",
    "is_rfc3339_datetime",
    "is_utc_less_datetime",
    "validate",
]

Mode: TypeAlias = Literal["strict", "warn", "off"]
"""A validation mode: ``"strict"``, ``"warn"`` or ``"off"``."""

Kind: TypeAlias = Literal["request", "response"]
"""Which schema of an action: the CALL payload (``"request"``) or the CALLRESULT's."""

_MODES: Final = frozenset({"strict", "warn", "off"})

# Each failing JSON-schema keyword maps to one OCPP-J 1.6
# error code (OCPP-J 1.6 §4.2.3 table 7 gives the codes' meanings).
KEYWORD_CODES: Final[dict[str, str]] = {
    # "Payload for Action is syntactically correct but at least one of the fields
    # violates data type constraints"
    "type": "TypeConstraintViolation",
    # "Payload for Action is incomplete"
    "required": "ProtocolError",
    # "Payload for Action is syntactically correct but at least one of the fields
    # violates occurence constraints"
    "minItems": "OccurenceConstraintViolation",
    "maxItems": "OccurenceConstraintViolation",
    # "... violates any other constraint on its property"
    "enum": "PropertyConstraintViolation",
    "maxLength": "PropertyConstraintViolation",
    "minLength": "PropertyConstraintViolation",
    "format": "PropertyConstraintViolation",
    "pattern": "PropertyConstraintViolation",
    "multipleOf": "PropertyConstraintViolation",
    "minimum": "PropertyConstraintViolation",
    "maximum": "PropertyConstraintViolation",
    "exclusiveMinimum": "PropertyConstraintViolation",
    "exclusiveMaximum": "PropertyConstraintViolation",
    # "Payload for Action is syntactically incorrect or not conform the PDU
    # structure for Action"
    "additionalProperties": "FormationViolation",
}
_FALLBACK_CODE: Final = "FormationViolation"

# RFC 3339 §5.6 date-time. The ranges of month, day, hour, minute, second and
# offset are in the pattern itself, so that a match leaves only one question, days
# 29 to 31 of short months, to arithmetic. The offset is optional so that one
# match tells both "valid" and "valid but offset-less". Groups: year, month, day,
# offset.
_DATETIME_RE: Final = re.compile(
    r"(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"[Tt](?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?"
    r"([Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)?",
    re.ASCII,  # RFC 3339 digits are ASCII; without the flag \d matches "٢" too
)
_DAYS_IN_MONTH: Final = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _date_exists(year: str, month: str, day: str) -> bool:
    """Whether a date the pattern matched exists (the pattern already bounds month and day)."""
    if day <= "28":
        return year != "0000"  # Python's datetime, and so most backends, start at year 1
    month_number, day_number, year_number = int(month), int(day), int(year)
    if day_number > _DAYS_IN_MONTH[month_number]:
        return False
    if month_number == 2 and day_number == 29:
        return year_number % 4 == 0 and (year_number % 100 != 0 or year_number % 400 == 0)
    return year_number != 0


def is_rfc3339_datetime(value: str) -> bool:
    """Tell whether ``value`` is a date-time that strict mode accepts.

    Args:
        value: The string to check.

    Returns:
        True for an RFC 3339 date-time with an offset and a real calendar date
        and time, such as ``"2024-05-01T12:00:00.123Z"`` or
        ``"2024-05-01T14:00:00+02:00"``.
    """
    m = _DATETIME_RE.fullmatch(value)
    if m is None:
        return False
    year, month, day, offset = m.groups()
    if offset is None:
        return False
    # Days 01-28 exist in every month: the common case needs no arithmetic.
    return (day <= "28" and year != "0000") or _date_exists(year, month, day)


def is_utc_less_datetime(value: str) -> bool:
    """Tell whether ``value`` is an RFC 3339 date-time that only lacks its offset.

    Real chargers send ``"2024-05-01T12:00:00"``; ``warn`` mode reads such a
    value as UTC.

    Args:
        value: The string to check.

    Returns:
        True when adding ``Z`` would make ``value`` acceptable in strict mode.
    """
    m = _DATETIME_RE.fullmatch(value)
    if m is None:
        return False
    year, month, day, offset = m.groups()
    return offset is None and _date_exists(year, month, day)


_FORMATS: Final[dict[str, Callable[[str], bool]]] = {"date-time": is_rfc3339_datetime}

Validator: TypeAlias = Callable[[Any], None]

# (action, kind) -> compiled validator; filled on first use, once per process.
_CACHE: dict[tuple[str, str], Validator] = {}


def _json_path(name: str | None) -> str:
    # fastjsonschema names the failing place "data.a.b[0]"; we say "$.a.b[0]".
    if not name or name == "data":
        return "$"
    return "$" + name[4:] if name.startswith("data") else name


def _translate(exc: fastjsonschema.JsonSchemaValueException) -> ValidationError:
    """Translate a fastjsonschema failure into our ValidationError (the boundary)."""
    keyword = exc.rule or ""
    path = _json_path(exc.name)
    message = exc.message
    if keyword == "required":
        # Name the first missing field rather than the object that lacks it.
        missing = [key for key in exc.rule_definition or () if key not in exc.value]
        path = f"{path}.{missing[0]}" if missing else path
        message = f"{path} is required"
    elif message.startswith("data"):
        message = "$" + message[4:]
    if keyword == "type" and path == "$":
        # The payload itself is not an object: the PDU's structure is wrong.
        code = "FormationViolation"
    else:
        code = KEYWORD_CODES.get(keyword, _FALLBACK_CODE)
    return ValidationError(
        code,
        message,
        path=path,
        keyword=keyword,
        details={"path": path, "keyword": keyword},
        value=exc.value,
    )


def _compile(action: str, kind: Kind) -> Validator:
    # Imported here so that "import ocpp16" neither reads a schema file nor
    # pays for importing fastjsonschema.
    import fastjsonschema

    from ocpp16 import schemas

    entry = schemas.get(action)
    if entry is None:
        raise LookupError(f"{action!r} is not an OCPP 1.6 action")
    schema = entry.request if kind == "request" else entry.response
    compiled = fastjsonschema.compile(schema, formats=_FORMATS, use_default=False)

    def validator(payload: Any) -> None:
        try:
            compiled(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise _translate(exc) from None
        except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:
            # fastjsonschema itself can fail on values JSON never carries
            # (a Decimal under multipleOf, an infinite float, a cyclic dict).
            raise ValidationError(
                "FormationViolation",
                f"$: payload cannot be validated: {exc}",
                keyword="",
                details={"path": "$", "keyword": ""},
            ) from None

    return validator


def get_validator(action: str, kind: Kind) -> Validator:
    """Return the validator of one action's request or response schema.

    The validator is compiled on the first call for that action and kind and
    reused for the life of the process.

    Args:
        action: An OCPP 1.6 action name, such as ``"BootNotification"``.
        kind: ``"request"`` for the CALL payload, ``"response"`` for the CALLRESULT's.

    Returns:
        A callable that returns ``None`` for a valid payload and raises
        :class:`~ocpp16.errors.ValidationError` for an invalid one.

    Raises:
        LookupError: ``action`` is not an OCPP 1.6 action.
    """
    key = (action, kind)
    validator = _CACHE.get(key)
    if validator is None:
        validator = _CACHE[key] = _compile(action, kind)
    return validator


def validate(action: str, kind: Kind, payload: Any) -> None:
    """Validate a payload against one action's request or response schema.

    Args:
        action: An OCPP 1.6 action name.
        kind: ``"request"`` or ``"response"``.
        payload: The payload, as parsed from JSON.

    Raises:
        ValidationError: The payload breaks the schema; ``.code`` is the OCPP
            error code, ``.path`` where, ``.keyword`` which rule.
        LookupError: ``action`` is not an OCPP 1.6 action.
    """
    get_validator(action, kind)(payload)


def check_mode(mode: str) -> Mode:
    """Return ``mode`` if it is a validation mode, else raise ValueError.

    Args:
        mode: The mode to check.

    Returns:
        The same mode, typed as :data:`Mode`.

    Raises:
        ValueError: ``mode`` is not ``"strict"``, ``"warn"`` or ``"off"``.
    """
    if mode not in _MODES:
        raise ValueError(f"validation mode must be 'strict', 'warn' or 'off', not {mode!r}")
    return cast(Mode, mode)
