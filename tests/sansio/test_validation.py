"""Validators, modes and the date-time policy (the README's wire rules and date-time policy)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from ocpp16 import validation
from ocpp16.errors import OcppError, ValidationError


class TestDateTimePolicy:
    """Strict mode: RFC 3339 with an offset; fractional seconds of any length."""

    @pytest.mark.parametrize(
        "value",
        [
            "2024-05-01T12:00:00Z",
            "2024-05-01T12:00:00z",
            "2024-05-01t12:00:00Z",
            "2024-05-01T12:00:00.1Z",
            "2024-05-01T12:00:00.123456789012Z",
            "2024-05-01T12:00:00+02:00",
            "2024-05-01T12:00:00-11:30",
            "2024-02-29T23:59:59+00:00",
        ],
    )
    def test_strict_accepts(self, value: str) -> None:
        """RFC 3339 date-times with Z or ±hh:mm and any fraction are accepted."""
        assert validation.is_rfc3339_datetime(value)

    @pytest.mark.parametrize(
        "value",
        [
            "2024-05-01T12:00:00",
            "2024-05-01 12:00:00Z",
            "2024-05-01T12:00:00+0200",
            "2024-05-01T12:00Z",
            "2024-05-01T12:00:00.Z",
            "2024-13-01T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:60:00Z",
            "2024-05-01T23:59:60Z",
            "2024-05-01T12:00:00+24:00",
            "2024-05-01T12:00:00+02:60",
            "2024-05-01",
            "not a date",
            "",
            "2024-05-01T12:00:00Z\n",
            "0000-01-01T00:00:00Z",
            "\u0662\u0660\u0662\u0664-01-01T00:00:00Z",
            "2024-01-01T00:00:00.\u0661Z",
        ],
    )
    def test_strict_refuses(self, value: str) -> None:
        """No offset, a space, ±hhmm, impossible dates, leap seconds and non-ASCII digits are refused."""
        assert not validation.is_rfc3339_datetime(value)

    def test_offset_less_is_recognised(self) -> None:
        """An otherwise valid date-time without offset is what warn mode reads as UTC."""
        assert validation.is_utc_less_datetime("2024-05-01T12:00:00.5")
        assert not validation.is_utc_less_datetime("2024-05-01T12:00:00Z")
        assert not validation.is_utc_less_datetime("2024-13-01T12:00:00")

    def test_schema_format_uses_the_policy(self) -> None:
        """The date-time format of the schemas is this policy, refused as PropertyConstraintViolation."""
        check = validation.get_validator("Heartbeat", "response")
        check({"currentTime": "2024-05-01T12:00:00.123456789Z"})
        with pytest.raises(ValidationError) as info:
            check({"currentTime": "2024-05-01T12:00:00+0200"})
        assert (info.value.code, info.value.keyword, info.value.path) == (
            "PropertyConstraintViolation",
            "format",
            "$.currentTime",
        )


class TestValidators:
    """Compiled once per process; failures carry an OCPP code, a path and a keyword."""

    def test_validator_is_compiled_once(self) -> None:
        """The same validator object serves every call for one action and kind."""
        assert validation.get_validator("Authorize", "request") is validation.get_validator(
            "Authorize", "request"
        )

    def test_unknown_action_is_a_lookup_error(self) -> None:
        """There is no schema for an action OCPP 1.6 does not have."""
        with pytest.raises(LookupError, match=r"not an OCPP 1\.6 action"):
            validation.get_validator("FlyToTheMoon", "request")

    @pytest.mark.parametrize("payload", [[], "x", None, 1])
    def test_payload_not_an_object_is_a_formation_violation(self, payload: Any) -> None:
        """A payload that is not an object does not fit the PDU: FormationViolation."""
        with pytest.raises(ValidationError) as info:
            validation.validate("Heartbeat", "request", payload)
        assert info.value.code == "FormationViolation" and info.value.path == "$"

    def test_nested_path_is_reported(self) -> None:
        """A failure deep in the payload names its JSON path."""
        payload = {"idTagInfo": {"status": "Sure"}}
        with pytest.raises(ValidationError) as info:
            validation.validate("Authorize", "response", payload)
        assert info.value.path == "$.idTagInfo.status"
        assert info.value.description.startswith("$.idTagInfo.status")

    def test_list_path_is_reported(self) -> None:
        """A failure inside a list names the index."""
        payload = {
            "connectorId": 1,
            "meterValue": [{"timestamp": "2024-05-01T12:00:00Z", "sampledValue": [{"value": 5}]}],
        }
        with pytest.raises(ValidationError) as info:
            validation.validate("MeterValues", "request", payload)
        assert info.value.path == "$.meterValue[0].sampledValue[0].value"
        assert info.value.code == "TypeConstraintViolation"

    def test_values_json_never_carries_are_translated(self) -> None:
        """A value fastjsonschema cannot handle (a Decimal under multipleOf) becomes our error."""
        from decimal import Decimal

        payload = {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": Decimal("21.4")}],
                },
            },
        }
        with pytest.raises(ValidationError) as info:
            validation.validate("SetChargingProfile", "request", payload)
        assert isinstance(info.value, OcppError)
        assert info.value.code in {"FormationViolation", "TypeConstraintViolation"}

    def test_check_mode(self) -> None:
        """check_mode passes the three modes and refuses anything else."""
        for mode in ("strict", "warn", "off"):
            assert validation.check_mode(mode) == mode
        with pytest.raises(ValueError, match="'strict', 'warn' or 'off'"):
            validation.check_mode("STRICT")


def test_import_compiles_nothing() -> None:
    """Importing ocpp16 imports no fastjsonschema and reads no schema file (import stays fast)."""
    code = (
        "import sys, ocpp16, ocpp16.validation as v\n"
        "assert 'fastjsonschema' not in sys.modules, 'fastjsonschema imported'\n"
        "assert not v._CACHE\n"
        "v.validate('Heartbeat', 'request', {})\n"
        "assert 'fastjsonschema' in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize(
    ("date", "exists"),
    [
        ("2024-02-29", True),
        ("2023-02-29", False),
        ("1900-02-29", False),
        ("2000-02-29", True),
        ("2024-02-30", False),
        ("2024-04-30", True),
        ("2024-04-31", False),
        ("2024-12-31", True),
        ("0000-01-01", False),
        ("0000-01-29", False),
        ("0001-01-01", True),
        ("9999-12-31", True),
    ],
)
def test_calendar(date: str, exists: bool) -> None:
    """Strict mode accepts a date only if it exists (leap years by the Gregorian rule)."""
    assert validation.is_rfc3339_datetime(f"{date}T00:00:00Z") is exists
