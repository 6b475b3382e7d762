"""The frame JSON codec of the protocol core: strict parsing, compact writing.

OCPP-J 1.6 §4.1.3: a message is a JSON array. JSON (RFC 8259 §6) has no NaN or
Infinity, so a frame that holds them, or a number too large for a double, is
refused at parse time (:class:`_NonFinite`); the core answers it with a
FormationViolation when the frame's id can still be read
(:func:`_decode_lenient`). Frames are written compactly, keeping non-ASCII text
as it is, except text that UTF-8 cannot carry.

This sits on the path of every frame, so the functions are made once, at
import, and called directly: the C scanner and C encoders of the standard
library, with no Python frame of their own around them.
"""

from __future__ import annotations

import json
import json.encoder
import json.scanner
from collections.abc import Callable
from typing import Any

from ocpp16.errors import ValidationError

# Private to the package: the protocol core imports these names itself.
__all__: list[str] = []


class _NonFinite(ValueError):
    """The frame holds NaN, Infinity or a number too large for a float."""


def _refuse_constant(name: str) -> Any:
    raise _NonFinite(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value - value != 0.0:  # inf - inf is nan; nan never equals anything
        raise _NonFinite(f"{text} is outside the range of a double")
    return value


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
_decode = _DECODER.decode
# Only used to recover the message id of a frame that _decode refused for NaN.
_decode_lenient = json.JSONDecoder(parse_constant=lambda _: None, parse_float=float).decode
# The C scanner behind JSONDecoder, called directly: json.loads wraps it in two
# Python frames and a whitespace regex, which cost more than the scan of a frame.
_c_scanner = getattr(json.scanner, "c_make_scanner", None)
_scan: Callable[[str, int], tuple[Any, int]] | None = (
    _c_scanner(_DECODER) if _c_scanner is not None else None
)


def _loads(text: str) -> Any:
    """Parse one frame; the full decoder handles anything but a clean single value."""
    if _scan is None:  # pragma: no cover  (an interpreter without the C scanner)
        return _decode(text)
    try:
        value, end = _scan(text, 0)
    except StopIteration:  # leading whitespace, or not JSON at all
        return _decode(text)
    if end != len(text):  # trailing whitespace, or trailing garbage
        return _decode(text)
    return value


def _not_serializable(value: object) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# C encoders made once for the life of the process (json.dumps builds one per
# call): compact separators, NaN and Infinity refused. Without markers a cyclic
# payload ends in RecursionError, which _dumps reports like any other.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)


def _make_encoder(escape: Callable[[str], str], ensure_ascii: bool) -> Callable[[Any], str]:
    if _c_make_encoder is not None:
        encoder = _c_make_encoder(
            None, _not_serializable, escape, None, ":", ",", False, False, False
        )
        return lambda frame: "".join(encoder(frame, 0))
    return json.JSONEncoder(  # pragma: no cover  (an interpreter without the C encoder)
        ensure_ascii=ensure_ascii, allow_nan=False, separators=(",", ":")
    ).encode


# Frames keep non-ASCII text as it is (shorter than \u escapes)...
_encode = _make_encoder(json.encoder.encode_basestring, ensure_ascii=False)
# ...except text that UTF-8 cannot carry: a lone surrogate, which a peer can send
# escaped ("\ud800") in valid JSON. Escaped again, it stays valid JSON and valid UTF-8.
_encode_ascii = _make_encoder(json.encoder.encode_basestring_ascii, ensure_ascii=True)


def _dumps(frame: list[Any]) -> str:
    try:
        text = _encode(frame)
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                text = _encode_ascii(frame)
        return text
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(
            "FormationViolation",
            f"payload cannot be sent as JSON: {exc}",
            keyword="json",
            details={"path": "$", "keyword": "json"},
        ) from None
