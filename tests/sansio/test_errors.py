"""The exception tree (ocpp16.errors)."""

from __future__ import annotations

import ocpp16
from ocpp16.errors import (
    ERROR_CODES,
    CallTimeout,
    ConnectionClosed,
    Ocpp16Error,
    OcppError,
    ProtocolStateError,
    ValidationError,
)


def test_one_root() -> None:
    """Everything the library raises on purpose derives from Ocpp16Error."""
    for cls in (OcppError, CallTimeout, ValidationError, ConnectionClosed, ProtocolStateError):
        assert issubclass(cls, Ocpp16Error)


def test_tree_is_drawn_in_the_docstring() -> None:
    """The module docstring draws every class of the tree."""
    doc = ocpp16.errors.__doc__ or ""
    for name in ocpp16.errors.__all__:
        if name != "ERROR_CODES":
            assert name in doc


def test_ocpp_error_fields() -> None:
    """OcppError(code, description="", details=None) keeps the three CALLERROR fields."""
    e = OcppError("NotSupported")
    assert (e.code, e.description, e.details) == ("NotSupported", "", {})
    e = OcppError("GenericError", "boom", {"a": 1})
    assert (e.code, e.description, e.details) == ("GenericError", "boom", {"a": 1})
    assert str(e) == "GenericError: boom"
    assert "details={'a': 1}" in repr(e)


def test_call_timeout_is_both() -> None:
    """CallTimeout is an OcppError and a TimeoutError."""
    e = CallTimeout("Heartbeat", "abc", 2.5)
    assert isinstance(e, OcppError) and isinstance(e, TimeoutError)
    assert (e.action, e.message_id, e.timeout) == ("Heartbeat", "abc", 2.5)
    assert "2.5 s" in e.description


def test_validation_error_fields() -> None:
    """ValidationError carries the OCPP code, the JSON path and the keyword."""
    e = ValidationError("TypeConstraintViolation", "bad", path="$.a", keyword="type")
    assert (e.code, e.path, e.keyword) == ("TypeConstraintViolation", "$.a", "type")


def test_connection_closed_fields() -> None:
    """ConnectionClosed carries the close code and reason."""
    assert (
        str(ConnectionClosed(1001, "going away")) == "connection closed with code 1001: going away"
    )
    assert ConnectionClosed().code == 1006


def test_the_ten_codes() -> None:
    """OCPP-J 1.6 §4.2.3 table 7 has ten codes, 'Occurence' spelled with one r."""
    assert len(ERROR_CODES) == 10
    assert "OccurenceConstraintViolation" in ERROR_CODES
    assert "FormatViolation" not in ERROR_CODES
