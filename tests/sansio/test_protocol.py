"""The sans-I/O core, driven with strings alone, grouped by OCPP-J 1.6 section."""

from __future__ import annotations

import itertools
import json
import logging
import uuid
from typing import Any

import pytest

from ocpp16.errors import OcppError, ProtocolStateError, ValidationError
from ocpp16.protocol import (
    BadMessage,
    CallErrorReceived,
    CallReceived,
    CallResultReceived,
    MessageIgnored,
    Protocol,
    Role,
    State,
)

BOOT = {"chargePointVendor": "eParking", "chargePointModel": "NECU-T2"}
BOOT_RESPONSE = {"status": "Accepted", "interval": 60, "currentTime": "2024-05-01T12:00:00Z"}


def counter() -> Any:
    numbers = itertools.count(1)
    return lambda: str(next(numbers))


def cs(**options: Any) -> Protocol:
    """A central system's core whose message ids count 1, 2, 3..."""
    options.setdefault("message_id_factory", counter())
    return Protocol(Role.CENTRAL_SYSTEM, **options)


def cp(**options: Any) -> Protocol:
    """A charge point's core whose message ids count 1, 2, 3..."""
    options.setdefault("message_id_factory", counter())
    return Protocol(Role.CHARGE_POINT, **options)


def only(events: list[Any]) -> Any:
    assert len(events) == 1, events
    return events[0]


def reply(p: Protocol) -> list[Any]:
    """The one frame the core wants to write, decoded."""
    out = p.data_to_send()
    assert len(out) == 1, out
    frame: list[Any] = json.loads(out[0])
    return frame


def call_error_code(p: Protocol, text: str, message_id: str = "1") -> str:
    """Feed a CALL that must be refused; return the CALLERROR's code."""
    event = only(p.receive_text(text))
    assert isinstance(event, BadMessage)
    assert event.message_id == message_id
    frame = reply(p)
    assert frame[:2] == [4, message_id]
    assert isinstance(frame[3], str) and frame[3]
    assert isinstance(frame[4], dict)
    code: str = frame[2]
    assert code == event.error.code
    return code


def assert_silent(p: Protocol, text: str) -> BadMessage | MessageIgnored:
    """Feed a frame that must not be answered; return the event it made."""
    event = only(p.receive_text(text))
    assert isinstance(event, BadMessage | MessageIgnored)
    assert p.data_to_send() == []
    return event


class TestMessageStructure:
    """OCPP-J 1.6 §4.1.3: a message is a JSON array led by its message type number."""

    def test_invalid_json_is_a_bad_message(self) -> None:
        """Text that is not JSON has no recoverable id: reported, never answered."""
        event = assert_silent(cs(), '[2, "1", "Heartbeat", {}')
        assert isinstance(event, BadMessage) and event.message_id is None
        assert event.error.code == "FormationViolation"

    @pytest.mark.parametrize("text", ["{}", "[]", '"x"', "2", "null"])
    def test_non_array_or_empty_is_a_bad_message(self, text: str) -> None:
        """A frame that is not a non-empty array has no id: reported, never answered."""
        assert isinstance(assert_silent(cs(), text), BadMessage)

    @pytest.mark.parametrize("text", ['[5, "1", "x"]', "[0]", '[1, "1", "Heartbeat", {}]', "[99]"])
    def test_unknown_message_type_is_ignored(self, text: str) -> None:
        """A message type number not in the list shall be ignored."""
        event = assert_silent(cs(), text)
        assert isinstance(event, MessageIgnored)
        assert "unknown message type" in event.reason

    @pytest.mark.parametrize(
        "text",
        [
            '["2", "1", "Heartbeat", {}]',
            '[true, "1", "Heartbeat", {}]',
            '[2.0, "1", "Heartbeat", {}]',
        ],
    )
    def test_non_integer_type_is_a_bad_message(self, text: str) -> None:
        """The message type is an integer: "2", true and 2.0 are not a CALL."""
        assert isinstance(assert_silent(cs(), text), BadMessage)

    def test_nan_with_recoverable_id_gets_formation_violation(self) -> None:
        """NaN is not JSON: a CALL whose id can still be read is answered FormationViolation."""
        p = cp()
        assert call_error_code(p, '[2, "7", "Reset", {"type": NaN}]', "7") == "FormationViolation"

    @pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "1e999", "-1e400"])
    def test_infinity_is_refused_at_parse_time(self, literal: str) -> None:
        """Infinity and numbers beyond a double are refused when parsed, with the CALL's id."""
        p = cs()
        text = f'[2, "9", "MeterValues", {{"connectorId": {literal}, "meterValue": []}}]'
        assert call_error_code(p, text, "9") == "FormationViolation"

    def test_nan_without_recoverable_id_is_a_bad_message(self) -> None:
        """NaN in a frame whose id cannot be read: reported, never answered."""
        for text in ['[2, NaN, "Heartbeat", {}]', "[NaN]", '{"a": NaN}', '[2, "1", NaN']:
            assert isinstance(assert_silent(cs(), text), BadMessage)

    def test_nan_in_a_callresult_is_not_answered(self) -> None:
        """NaN in a CALLRESULT is refused and never answered."""
        p = cp()
        p.send_call("Heartbeat", {})
        p.data_to_send()
        assert isinstance(assert_silent(p, '[3, "1", {"currentTime": NaN}]'), BadMessage)

    def test_deep_nesting_is_a_bad_message(self) -> None:
        """A frame nested beyond what a parser can follow is refused, not a crash."""
        assert isinstance(assert_silent(cs(), "[" * 100_000 + "]" * 100_000), BadMessage)

    @pytest.mark.parametrize(
        "text",
        ['[2,"1","Heartbeat",{}]\n', ' \t[2,"1","Heartbeat",{}]', '\r\n[2,"1","Heartbeat",{}] '],
    )
    def test_whitespace_around_the_frame_is_allowed(self, text: str) -> None:
        """JSON allows whitespace around a value: such a frame is read as any other."""
        assert only(cs().receive_text(text)) == CallReceived("1", "Heartbeat", {})

    def test_trailing_garbage_is_a_bad_message(self) -> None:
        """A JSON value followed by anything but whitespace is not one JSON text."""
        assert isinstance(assert_silent(cs(), '[2,"1","Heartbeat",{}] x'), BadMessage)

    def test_huge_integer_is_a_bad_message(self) -> None:
        """An integer literal too long to convert is refused, not a crash."""
        assert isinstance(assert_silent(cs(), "[" + "9" * 5000 + "]"), BadMessage)


class TestSynchronicity:
    """OCPP-J 1.6 §4.1.1: a sender has at most one CALL outstanding, unless told otherwise."""

    def test_second_call_waits_for_the_first_answer(self) -> None:
        """With call_concurrency 1 the next CALL is written only once the first is answered."""
        p = cp()
        assert p.send_call("Heartbeat", {}) == "1"
        assert p.send_call("Heartbeat", {}) == "2"
        assert p.data_to_send() == ['[2,"1","Heartbeat",{}]']
        assert (
            only(p.receive_text('[3,"1",{"currentTime":"2024-05-01T12:00:00Z"}]')).message_id == "1"
        )
        assert p.data_to_send() == ['[2,"2","Heartbeat",{}]']

    def test_a_callerror_also_releases_the_next_call(self) -> None:
        """A CALLERROR answers a CALL as a CALLRESULT does: the queue moves on."""
        p = cp()
        p.send_call("Heartbeat", {})
        p.send_call("Heartbeat", {})
        p.data_to_send()
        p.receive_text('[4,"1","InternalError","boom",{}]')
        assert p.data_to_send() == ['[2,"2","Heartbeat",{}]']

    def test_call_concurrency_two(self) -> None:
        """call_concurrency N keeps N CALLs in flight and queues the rest."""
        p = cp(call_concurrency=2)
        for _ in range(3):
            p.send_call("Heartbeat", {})
        assert len(p.data_to_send()) == 2
        p.receive_text('[3,"2",{"currentTime":"2024-05-01T12:00:00Z"}]')
        assert p.data_to_send() == ['[2,"3","Heartbeat",{}]']

    def test_cancelled_in_flight_call_frees_its_place(self) -> None:
        """Giving up on a CALL (timeout) lets the queued one go, and its late answer is ignored."""
        p = cp()
        p.send_call("Heartbeat", {})
        p.send_call("Heartbeat", {})
        p.data_to_send()
        assert p.cancel_call("1") is True
        assert p.data_to_send() == ['[2,"2","Heartbeat",{}]']
        assert isinstance(
            assert_silent(p, '[3,"1",{"currentTime":"2024-05-01T12:00:00Z"}]'), MessageIgnored
        )

    def test_cancelled_queued_call_is_never_written(self) -> None:
        """A queued CALL that is given up on never reaches the wire."""
        p = cp()
        p.send_call("Heartbeat", {})
        p.send_call("Heartbeat", {})
        p.data_to_send()
        assert p.cancel_call("2") is True
        assert p.cancel_call("2") is False
        p.receive_text('[3,"1",{"currentTime":"2024-05-01T12:00:00Z"}]')
        assert p.data_to_send() == []
        assert p.pending_calls == {}

    def test_call_concurrency_must_be_positive(self) -> None:
        """A concurrency below one could never send: refused at construction."""
        with pytest.raises(ValueError, match="call_concurrency"):
            cp(call_concurrency=0)

    def test_incoming_calls_are_not_limited(self) -> None:
        """The limit binds the sender: a receiver handles many CALLs at once."""
        p = cs()
        for i in range(5):
            assert isinstance(only(p.receive_text(f'[2,"{i}","Heartbeat",{{}}]')), CallReceived)
        assert len(p.handling) == 5


class TestMessageId:
    """OCPP-J 1.6 §4.1.4: the message id is a unique string of at most 36 characters."""

    def test_default_ids_are_uuid4(self) -> None:
        """Without a factory, message ids are distinct random (version 4) UUIDs of 36 characters."""
        p = Protocol("charge_point", call_concurrency=1000)
        ids = [p.send_call("Heartbeat", {}) for _ in range(1000)]
        assert len(set(ids)) == 1000
        for message_id in ids:
            parsed = uuid.UUID(message_id)
            assert str(parsed) == message_id and len(message_id) == 36
            assert parsed.version == 4 and parsed.variant == uuid.RFC_4122

    def test_id_of_36_characters_is_accepted(self) -> None:
        """An id of exactly 36 characters is valid."""
        event = only(cs().receive_text(f'[2,"{"a" * 36}","Heartbeat",{{}}]'))
        assert isinstance(event, CallReceived)

    def test_id_over_36_characters_is_a_formation_violation(self) -> None:
        """An id of 37 characters breaks the PDU: CALLERROR FormationViolation with that id."""
        long_id = "a" * 37
        assert (
            call_error_code(cs(), f'[2,"{long_id}","Heartbeat",{{}}]', long_id)
            == "FormationViolation"
        )

    def test_empty_id_is_a_formation_violation(self) -> None:
        """An empty id cannot correlate anything: CALLERROR FormationViolation."""
        assert call_error_code(cs(), '[2,"","Heartbeat",{}]', "") == "FormationViolation"

    def test_id_still_being_handled_is_a_protocol_error(self) -> None:
        """A CALL reusing the id of one still being handled gets ProtocolError; the first stands."""
        p = cs()
        assert isinstance(only(p.receive_text('[2,"1","Heartbeat",{}]')), CallReceived)
        assert call_error_code(p, '[2,"1","Heartbeat",{}]') == "ProtocolError"
        assert p.handling == {"1": "Heartbeat"}

    def test_id_may_be_reused_after_its_answer(self) -> None:
        """Uniqueness binds ids in flight: once answered, the id may come again."""
        p = cs()
        p.receive_text('[2,"1","Heartbeat",{}]')
        p.send_result("1", {"currentTime": "2024-05-01T12:00:00Z"})
        p.data_to_send()
        assert isinstance(only(p.receive_text('[2,"1","Heartbeat",{}]')), CallReceived)

    @pytest.mark.parametrize(
        "text", ['[2, 1, "Heartbeat", {}]', '[2, null, "Heartbeat", {}]', "[2]"]
    )
    def test_call_without_string_id_is_a_bad_message(self, text: str) -> None:
        """A CALL whose id is not a string cannot be answered: reported only."""
        assert isinstance(assert_silent(cs(), text), BadMessage)

    def test_message_id_factory_is_used(self) -> None:
        """A message_id_factory supplies the ids of outgoing CALLs."""
        p = Protocol("charge_point", message_id_factory=lambda: "fixed")
        assert p.send_call("Heartbeat", {}) == "fixed"
        assert p.data_to_send() == ['[2,"fixed","Heartbeat",{}]']

    @pytest.mark.parametrize("bad", ["x" * 37, "", 42])
    def test_factory_ids_must_fit_the_spec(self, bad: Any) -> None:
        """A factory id that is not a string of 1 to 36 characters is refused before sending."""
        p = Protocol("charge_point", message_id_factory=lambda: bad)
        with pytest.raises(ValidationError, match="message id"):
            p.send_call("Heartbeat", {})
        assert p.data_to_send() == []

    def test_factory_id_in_use_is_refused(self) -> None:
        """A factory that repeats an id still pending would break correlation: refused."""
        p = Protocol("charge_point", message_id_factory=lambda: "same")
        p.send_call("Heartbeat", {})
        with pytest.raises(ValidationError):
            p.send_call("Heartbeat", {})


class TestCall:
    """OCPP-J 1.6 §4.2.1: [2, "<UniqueId>", "<Action>", {<Payload>}]."""

    def test_valid_call_is_an_event(self) -> None:
        """A well-formed CALL for an action this side receives becomes CallReceived."""
        event = only(cs().receive_text(json.dumps([2, "1", "BootNotification", BOOT])))
        assert event == CallReceived("1", "BootNotification", BOOT)

    def test_null_payload_is_read_as_empty_object(self) -> None:
        """A null payload is read as {} (README "Wire rules")."""
        assert only(cs().receive_text('[2,"1","Heartbeat",null]')) == CallReceived(
            "1", "Heartbeat", {}
        )

    def test_missing_payload_is_a_formation_violation(self) -> None:
        """[2, "id", "Heartbeat"] lacks the payload element: FormationViolation."""
        assert call_error_code(cs(), '[2,"1","Heartbeat"]') == "FormationViolation"

    def test_extra_element_is_a_formation_violation(self) -> None:
        """A CALL has exactly four elements."""
        assert call_error_code(cs(), '[2,"1","Heartbeat",{},{}]') == "FormationViolation"

    @pytest.mark.parametrize("payload", ["[]", '"x"', "1", "true"])
    def test_payload_not_an_object_is_a_formation_violation(self, payload: str) -> None:
        """The payload is a JSON object."""
        assert call_error_code(cs(), f'[2,"1","Heartbeat",{payload}]') == "FormationViolation"

    def test_action_not_a_string_is_a_formation_violation(self) -> None:
        """The action is a string."""
        assert call_error_code(cs(), '[2,"1",5,{}]') == "FormationViolation"

    def test_unknown_action_is_not_implemented(self) -> None:
        """Table 7: an action the receiver does not know gets NotImplemented."""
        assert call_error_code(cs(), '[2,"1","FlyToTheMoon",{}]') == "NotImplemented"

    def test_action_of_the_other_direction_is_not_implemented(self) -> None:
        """A charge point does not receive BootNotification, nor a central system Reset."""
        assert (
            call_error_code(cp(), json.dumps([2, "1", "BootNotification", BOOT]))
            == "NotImplemented"
        )
        assert call_error_code(cs(), '[2,"1","Reset",{"type":"Soft"}]') == "NotImplemented"

    def test_datatransfer_goes_both_ways(self) -> None:
        """DataTransfer may be sent by either side."""
        for p in (cp(), cs()):
            assert isinstance(
                only(p.receive_text('[2,"1","DataTransfer",{"vendorId":"v"}]')), CallReceived
            )
            p.send_call("DataTransfer", {"vendorId": "v"})

    def test_lone_surrogate_is_answered_in_valid_utf8(self) -> None:
        """An id escaping a lone surrogate is valid JSON: its answer must be valid JSON and UTF-8 too."""
        p = cs()
        assert call_error_code(p, '[2,"\\ud800","Nope",{}]', "\ud800") == "NotImplemented"
        p.receive_text('[2,"x","DataTransfer",{"vendorId":"v","data":"\\udfff é"}]')
        p.send_result("x", {"status": "Accepted", "data": "\udfff é"})
        [text] = p.data_to_send()
        text.encode("utf-8")  # raises if a surrogate went through unescaped
        assert json.loads(text) == [3, "x", {"status": "Accepted", "data": "\udfff é"}]

    def test_send_call_writes_compact_frame(self) -> None:
        """An outgoing CALL is [2, id, action, payload], without padding, non-ASCII kept."""
        p = cp()
        p.send_call("DataTransfer", {"vendorId": "é", "data": "ü"})
        assert p.data_to_send() == ['[2,"1","DataTransfer",{"vendorId":"é","data":"ü"}]']

    def test_send_call_of_unknown_action_is_refused(self) -> None:
        """Strict mode refuses to send an action the peer cannot know; nothing is written."""
        p = cp()
        with pytest.raises(OcppError) as info:
            p.send_call("Reset", {"type": "Soft"})
        assert info.value.code == "NotImplemented"
        assert p.data_to_send() == [] and p.pending_calls == {}

    def test_send_call_of_unknown_action_when_off(self) -> None:
        """With validation off for it, any action may be sent (test rigs need to)."""
        p = cp(validation="off")
        p.send_call("Custom", {"a": 1})
        assert p.data_to_send() == ['[2,"1","Custom",{"a":1}]']

    def test_send_call_of_unknown_action_when_warn(self, caplog: pytest.LogCaptureFixture) -> None:
        """In warn mode an unknown action is logged and sent."""
        p = cp(validation="warn")
        with caplog.at_level(logging.WARNING, "ocpp16"):
            p.send_call("Custom", {})
        assert p.data_to_send() == ['[2,"1","Custom",{}]']
        assert "NotImplemented" in caplog.text

    def test_send_call_validates_in_strict_mode(self) -> None:
        """An invalid outgoing request is refused before anything is sent."""
        p = cp()
        with pytest.raises(ValidationError) as info:
            p.send_call("BootNotification", {"chargePointVendor": "x"})
        assert info.value.code == "ProtocolError"
        assert info.value.path == "$.chargePointModel"
        assert p.data_to_send() == [] and p.pending_calls == {}

    def test_send_call_refuses_non_json(self) -> None:
        """A payload that JSON cannot carry (NaN, objects) is refused, not written."""
        p = cp(validation="off")
        for payload in ({"x": float("nan")}, {"x": object()}):
            with pytest.raises(ValidationError, match="JSON"):
                p.send_call("DataTransfer", payload)
        assert p.data_to_send() == [] and p.pending_calls == {}

    def test_send_call_after_close_is_refused(self) -> None:
        """No CALL is made on a closing or closed connection."""
        p = cp()
        p.start_closing()
        with pytest.raises(ProtocolStateError):
            p.send_call("Heartbeat", {})


class TestCallResult:
    """OCPP-J 1.6 §4.2.2: [3, "<UniqueId>", {<Payload>}], matched to our CALL by id."""

    def test_result_is_correlated_by_id(self) -> None:
        """A CALLRESULT resolves the CALL with the same id, and carries its action."""
        p = cp()
        p.send_call("BootNotification", BOOT)
        p.data_to_send()
        event = only(p.receive_text(json.dumps([3, "1", BOOT_RESPONSE])))
        assert event == CallResultReceived("1", "BootNotification", BOOT_RESPONSE)
        assert p.pending_calls == {}

    def test_result_is_never_answered(self) -> None:
        """A CALLRESULT for no pending CALL is ignored, never answered."""
        assert isinstance(assert_silent(cp(), '[3,"nope",{}]'), MessageIgnored)

    @pytest.mark.parametrize("text", ['[3,"1"]', "[3,1,{}]", '[3,"1",{},{}]'])
    def test_malformed_result_is_a_bad_message(self, text: str) -> None:
        """A CALLRESULT that does not fit [3, id, payload] is reported, never answered."""
        assert isinstance(assert_silent(cp(), text), BadMessage)

    def test_null_result_payload_is_read_as_empty_object(self) -> None:
        """A null CALLRESULT payload is read as {}."""
        p = cp()
        p.send_call(
            "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        )
        assert only(p.receive_text('[3,"1",null]')) == CallResultReceived(
            "1", "StatusNotification", {}
        )

    def test_result_payload_not_an_object_fails_the_call(self) -> None:
        """A CALLRESULT whose payload is not an object fails the CALL with FormationViolation."""
        p = cp()
        p.send_call("Heartbeat", {})
        event = only(p.receive_text('[3,"1",[]]'))
        assert isinstance(event, CallErrorReceived) and event.error.code == "FormationViolation"
        assert p.data_to_send() == ['[2,"1","Heartbeat",{}]']  # the CALL itself; no answer

    def test_invalid_result_fails_the_call_in_strict_mode(self) -> None:
        """A CALLRESULT that breaks its schema fails the CALL with ValidationError in strict mode."""
        p = cp()
        p.send_call("BootNotification", BOOT)
        p.data_to_send()
        event = only(
            p.receive_text(
                '[3,"1",{"status":"Maybe","interval":60,"currentTime":"2024-05-01T12:00:00Z"}]'
            )
        )
        assert isinstance(event, CallErrorReceived)
        assert isinstance(event.error, ValidationError)
        assert (event.error.code, event.error.path, event.error.keyword) == (
            "PropertyConstraintViolation",
            "$.status",
            "enum",
        )
        assert p.data_to_send() == []

    def test_invalid_result_passes_in_warn_mode(self, caplog: pytest.LogCaptureFixture) -> None:
        """In warn mode an invalid CALLRESULT is logged at WARNING and delivered."""
        p = cp(validation="warn")
        p.send_call("Heartbeat", {})
        with caplog.at_level(logging.WARNING, "ocpp16"):
            event = only(p.receive_text('[3,"1",{}]'))
        assert event == CallResultReceived("1", "Heartbeat", {})
        assert "Heartbeat response breaks its schema" in caplog.text

    def test_send_result_frames(self) -> None:
        """Our CALLRESULT is [3, id, payload] with the CALL's id."""
        p = cs()
        p.receive_text('[2,"abc","Heartbeat",{}]')
        p.send_result("abc", {"currentTime": "2024-05-01T12:00:00Z"})
        assert p.data_to_send() == ['[3,"abc",{"currentTime":"2024-05-01T12:00:00Z"}]']
        assert p.handling == {}

    def test_send_result_validates_and_keeps_the_call_open(self) -> None:
        """An invalid response is refused in strict mode; the CALL can still be answered."""
        p = cs()
        p.receive_text('[2,"1","Heartbeat",{}]')
        with pytest.raises(ValidationError) as info:
            p.send_result("1", {})
        assert info.value.path == "$.currentTime"
        assert p.handling == {"1": "Heartbeat"}
        p.send_error("1", "InternalError", "handler answered badly")
        assert json.loads(p.data_to_send()[0])[2] == "InternalError"

    def test_send_result_for_unknown_call_is_refused(self) -> None:
        """Only a CALL being handled can be answered, and only once."""
        p = cs()
        with pytest.raises(ProtocolStateError):
            p.send_result("1", {})
        p.receive_text('[2,"1","Heartbeat",{}]')
        p.send_result("1", {"currentTime": "2024-05-01T12:00:00Z"})
        with pytest.raises(ProtocolStateError):
            p.send_result("1", {"currentTime": "2024-05-01T12:00:00Z"})


class TestCallError:
    """OCPP-J 1.6 §4.2.3: [4, "<UniqueId>", "<errorCode>", "<errorDescription>", {<errorDetails>}]."""

    def test_error_fails_the_call(self) -> None:
        """A CALLERROR fails our CALL with its code, description and details."""
        p = cp()
        p.send_call("Heartbeat", {})
        event = only(p.receive_text('[4,"1","NotSupported","no",{"a":1}]'))
        assert isinstance(event, CallErrorReceived)
        assert (event.error.code, event.error.description, event.error.details) == (
            "NotSupported",
            "no",
            {"a": 1},
        )

    @pytest.mark.parametrize(
        ("received", "read_as"),
        [
            ("FormatViolation", "FormationViolation"),
            ("OccurrenceConstraintViolation", "OccurenceConstraintViolation"),
            ("RpcFrameworkError", "FormationViolation"),
            ("VendorSpecific", "VendorSpecific"),
        ],
    )
    def test_later_spellings_are_understood(self, received: str, read_as: str) -> None:
        """Codes spelled as later OCPP-J versions spell them are read as their 1.6 form."""
        p = cp()
        p.send_call("Heartbeat", {})
        assert only(p.receive_text(f'[4,"1","{received}","",{{}}]')).error.code == read_as

    def test_null_details_are_read_as_empty(self) -> None:
        """Null errorDetails are read as {}."""
        p = cp()
        p.send_call("Heartbeat", {})
        assert only(p.receive_text('[4,"1","GenericError","x",null]')).error.details == {}

    @pytest.mark.parametrize(
        "text", ['[4,"1","GenericError"]', '[4,"1",5,"x",{}]', '[4,"1","GenericError","x",[]]']
    )
    def test_malformed_error_still_fails_the_call(self, text: str) -> None:
        """A malformed CALLERROR for a pending CALL fails it at once, not at its timeout."""
        p = cp()
        p.send_call("Heartbeat", {})
        p.data_to_send()
        event = only(p.receive_text(text))
        assert isinstance(event, CallErrorReceived) and event.error.code == "FormationViolation"
        assert p.data_to_send() == []

    def test_error_is_never_answered(self) -> None:
        """A CALLERROR for no pending CALL, or with no id, is never answered."""
        assert isinstance(assert_silent(cp(), '[4,"x","GenericError","",{}]'), MessageIgnored)
        assert isinstance(assert_silent(cp(), '[4,1,"GenericError","",{}]'), BadMessage)

    def test_send_error_frames(self) -> None:
        """Our CALLERROR is [4, id, code, description, details]."""
        p = cs()
        p.receive_text('[2,"1","Heartbeat",{}]')
        p.send_error("1", "NotSupported", "no handler", {"x": 1})
        assert p.data_to_send() == ['[4,"1","NotSupported","no handler",{"x":1}]']

    @pytest.mark.parametrize(
        ("code", "sent"),
        [
            ("FormatViolation", "FormationViolation"),
            ("OccurrenceConstraintViolation", "OccurenceConstraintViolation"),
            ("Whatever", "GenericError"),
            ("OccurenceConstraintViolation", "OccurenceConstraintViolation"),
        ],
    )
    def test_only_1_6_codes_are_sent(self, code: str, sent: str) -> None:
        """Only the ten 1.6 codes, spelled as 1.6 spells them, go on the wire."""
        p = cs()
        p.receive_text('[2,"1","Heartbeat",{}]')
        p.send_error("1", code)
        assert json.loads(p.data_to_send()[0])[2] == sent

    def test_unserialisable_details_are_dropped(self) -> None:
        """Details that JSON cannot carry are replaced by {} rather than losing the answer."""
        p = cs()
        p.receive_text('[2,"1","Heartbeat",{}]')
        p.send_error("1", "InternalError", "x", {"e": object()})
        assert p.data_to_send() == ['[4,"1","InternalError","x",{}]']

    def test_send_error_for_unknown_call_is_refused(self) -> None:
        """Only a CALL being handled can be answered with an error."""
        with pytest.raises(ProtocolStateError):
            cs().send_error("1", "GenericError")


class TestPayloadValidation:
    """OCPP-J 1.6 §4.2.3 table 7: each schema failure is answered with its own code."""

    @pytest.mark.parametrize(
        ("payload", "code"),
        [
            ({"chargePointVendor": 5, "chargePointModel": "m"}, "TypeConstraintViolation"),
            ({"chargePointVendor": "v"}, "ProtocolError"),
            (
                {"chargePointVendor": "v" * 21, "chargePointModel": "m"},
                "PropertyConstraintViolation",
            ),
            ({"chargePointVendor": "v", "chargePointModel": "m", "x": 1}, "FormationViolation"),
        ],
    )
    def test_boot_notification_failures(self, payload: dict[str, Any], code: str) -> None:
        """type, required, maxLength and additionalProperties map to their codes."""
        assert call_error_code(cs(), json.dumps([2, "1", "BootNotification", payload])) == code

    def test_enum_is_a_property_constraint_violation(self) -> None:
        """A value outside an enum is a PropertyConstraintViolation."""
        assert (
            call_error_code(cp(), '[2,"1","Reset",{"type":"Medium"}]')
            == "PropertyConstraintViolation"
        )

    def test_min_items_is_an_occurence_constraint_violation(self) -> None:
        """MeterValues without a meter value breaks 1..*: OccurenceConstraintViolation."""
        text = '[2,"1","MeterValues",{"connectorId":1,"meterValue":[]}]'
        assert call_error_code(cs(), text) == "OccurenceConstraintViolation"

    def test_multiple_of_is_a_property_constraint_violation(self) -> None:
        """A charging limit with two decimals breaks multipleOf 0.1."""
        profile = {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.45}],
            },
        }
        text = json.dumps(
            [2, "1", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile}]
        )
        assert call_error_code(cp(), text) == "PropertyConstraintViolation"
        profile["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] = 21.4  # type: ignore[index]
        text = json.dumps(
            [2, "2", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile}]
        )
        assert isinstance(only(cp().receive_text(text)), CallReceived)

    def test_bad_date_time_is_a_property_constraint_violation(self) -> None:
        """A timestamp without an offset is refused in strict mode."""
        text = '[2,"1","StartTransaction",{"connectorId":1,"idTag":"a","meterStart":0,"timestamp":"2024-05-01T12:00:00"}]'
        assert call_error_code(cs(), text) == "PropertyConstraintViolation"

    def test_error_details_name_the_field(self) -> None:
        """The CALLERROR's details say where and which rule, for the peer's logs."""
        p = cs()
        p.receive_text('[2,"1","BootNotification",{"chargePointVendor":"v"}]')
        frame = reply(p)
        assert frame[4] == {"path": "$.chargePointModel", "keyword": "required"}
        assert "chargePointModel" in frame[3]

    def test_warn_mode_logs_and_delivers(self, caplog: pytest.LogCaptureFixture) -> None:
        """In warn mode an invalid CALL is logged at WARNING and handed on."""
        p = cs(validation="warn")
        with caplog.at_level(logging.WARNING, "ocpp16"):
            event = only(p.receive_text('[2,"1","BootNotification",{"chargePointVendor":"v"}]'))
        assert isinstance(event, CallReceived)
        assert [r.levelno for r in caplog.records] == [logging.WARNING]

    def test_warn_mode_reads_offset_less_time_as_utc(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Warn accepts an offset-less date-time and logs that it is read as UTC."""
        p = cs(validation="warn")
        text = '[2,"1","StartTransaction",{"connectorId":1,"idTag":"a","meterStart":0,"timestamp":"2024-05-01T12:00:00"}]'
        with caplog.at_level(logging.WARNING, "ocpp16"):
            assert isinstance(only(p.receive_text(text)), CallReceived)
        assert "$.timestamp has no UTC offset; read as UTC" in caplog.text

    def test_warn_mode_tells_on_violation(self) -> None:
        """Warn mode hands each violation to on_violation; strict refuses and tells nothing."""
        seen: list[tuple[str, str, str, str]] = []
        p = cs(validation="warn")
        p.on_violation = lambda action, kind, where, exc: seen.append(
            (action, kind, where, exc.path)
        )
        only(p.receive_text('[2,"1","BootNotification",{"chargePointVendor":"v"}]'))
        p.send_result("1", {"status": "Accepted", "interval": "x", "currentTime": "t"})
        assert seen == [
            ("BootNotification", "request", "incoming", "$.chargePointModel"),
            ("BootNotification", "response", "outgoing", "$.currentTime"),
        ]
        strict = cs()
        strict.on_violation = lambda *args: seen.append(args)
        strict.receive_text('[2,"2","BootNotification",{"chargePointVendor":"v"}]')
        assert len(seen) == 2

    def test_off_mode_checks_nothing(self) -> None:
        """With validation off, any object payload is delivered."""
        event = only(cs(validation="off").receive_text('[2,"1","BootNotification",{"x":1}]'))
        assert isinstance(event, CallReceived)

    def test_per_action_override(self) -> None:
        """validation_overrides sets the mode of one action over the default."""
        p = cs(validation_overrides={"BootNotification": "off"})
        assert isinstance(only(p.receive_text('[2,"1","BootNotification",{}]')), CallReceived)
        assert call_error_code(p, '[2,"2","Authorize",{}]', "2") == "ProtocolError"
        assert p.mode_for("BootNotification") == "off" and p.mode_for("Authorize") == "strict"

    def test_mode_can_change_on_a_live_core(self) -> None:
        """The mode is read per message, so a connection can change it at any time."""
        p = cs()
        p.validation = "off"
        assert isinstance(only(p.receive_text('[2,"1","BootNotification",{}]')), CallReceived)

    def test_bad_mode_is_refused(self) -> None:
        """Only strict, warn and off are modes."""
        with pytest.raises(ValueError, match="validation mode"):
            cs(validation="lenient")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="validation mode"):
            cs(validation_overrides={"Heartbeat": "maybe"})  # type: ignore[dict-item]


class TestConnectionState:
    """The life cycle: OPEN → CLOSING → CLOSED, with everything pending failed on loss."""

    def test_connection_lost_fails_everything_pending(self) -> None:
        """When the connection drops, queued and in-flight CALLs are returned, in order."""
        p = cp()
        for _ in range(3):
            p.send_call("Heartbeat", {})
        assert [lost.message_id for lost in p.connection_lost()] == ["1", "2", "3"]
        assert p.state is State.CLOSED
        assert p.pending_calls == {} and p.data_to_send() == []

    def test_closed_core_ignores_frames_and_refuses_calls(self) -> None:
        """After the connection is lost nothing is read or sent."""
        p = cs()
        p.connection_lost()
        assert isinstance(only(p.receive_text('[2,"1","Heartbeat",{}]')), MessageIgnored)
        with pytest.raises(ProtocolStateError):
            p.send_call("GetLocalListVersion", {})
        assert p.connection_lost() == []

    def test_answers_after_loss_are_refused(self) -> None:
        """Once the connection is lost no CALL awaits an answer: a late answer is refused."""
        p = cs()
        p.receive_text('[2,"1","Heartbeat",{}]')
        p.receive_text('[2,"2","Heartbeat",{}]')
        handling = dict(p.handling)
        p.connection_lost()
        assert handling == {"1": "Heartbeat", "2": "Heartbeat"}
        with pytest.raises(ProtocolStateError):
            p.send_result("1", {"currentTime": "2024-05-01T12:00:00Z"})
        assert p.data_to_send() == []

    def test_closing_still_reads_answers(self) -> None:
        """While closing, answers to CALLs in flight are still read."""
        p = cp()
        p.send_call("Heartbeat", {})
        p.start_closing()
        p.start_closing()
        assert p.state is State.CLOSING
        assert isinstance(
            only(p.receive_text('[3,"1",{"currentTime":"2024-05-01T12:00:00Z"}]')),
            CallResultReceived,
        )

    def test_illegal_transition_is_refused(self) -> None:
        """State changes follow the table; a closed connection cannot reopen."""
        p = cp()
        p.connection_lost()
        with pytest.raises(ProtocolStateError):
            p._set_state(State.OPEN)

    def test_role_decides_what_can_be_sent_and_received(self) -> None:
        """A charge point sends BootNotification and receives Reset; a central system the reverse."""
        assert cp().can_send("BootNotification") and cp().can_receive("Reset")
        assert cs().can_send("Reset") and cs().can_receive("BootNotification")
        assert not cp().can_send("Reset") and not cs().can_receive("Reset")
