"""The sans-I/O core's support for making a lost CALL again, driven with strings alone.

Grouped by OCPP-J 1.6 section: the message id a caller chooses (§4.1.4), and
what the core reports of its CALLs when the connection is lost (§4.1.1).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from ocpp16.errors import ValidationError
from ocpp16.protocol import CallResultReceived, LostCall, Protocol, Role

NOW = "2024-05-01T12:00:00Z"
HEARTBEAT_RESULT = '[3,"{}",{{"currentTime":"' + NOW + '"}}]'


def cp(**options: Any) -> Protocol:
    """A charge point's core whose message ids count 1, 2, 3..."""
    numbers = itertools.count(1)
    options.setdefault("message_id_factory", lambda: str(next(numbers)))
    return Protocol(Role.CHARGE_POINT, **options)


class TestChosenMessageId:
    """OCPP-J 1.6 §4.1.4: a message id is a string of at most 36 characters, unique among pending CALLs."""

    def test_given_id_is_the_frames_id(self) -> None:
        """A CALL made with a message id goes out with exactly that id."""
        p = cp()
        assert p.send_call("Heartbeat", {}, message_id="resent-7") == "resent-7"
        assert p.data_to_send() == ['[2,"resent-7","Heartbeat",{}]']
        assert p.pending_calls == {"resent-7": "Heartbeat"}

    def test_given_id_does_not_use_the_factory(self) -> None:
        """The factory makes the ids of the other CALLs only: a given id takes none of its ids."""
        p = cp(call_concurrency=2)
        p.send_call("Heartbeat", {}, message_id="mine")
        assert p.send_call("Heartbeat", {}) == "1"

    @pytest.mark.parametrize("bad", ["", "x" * 37, 42, b"bytes"])
    def test_given_id_must_fit_the_spec(self, bad: Any) -> None:
        """A given id that is not a string of 1 to 36 characters is refused, as a factory's is."""
        p = cp()
        with pytest.raises(ValidationError, match="message id") as caught:
            p.send_call("Heartbeat", {}, message_id=bad)
        assert caught.value.code == "FormationViolation"
        assert caught.value.keyword == "messageId"
        assert p.data_to_send() == [] and p.pending_calls == {}

    def test_given_id_of_36_characters_is_accepted(self) -> None:
        """36 characters is the longest id the spec allows."""
        p = cp()
        p.send_call("Heartbeat", {}, message_id="x" * 36)
        assert json.loads(p.data_to_send()[0])[1] == "x" * 36

    def test_given_id_still_pending_is_refused(self) -> None:
        """Two pending CALLs with one id could not be told apart by their answers: refused."""
        p = cp()
        p.send_call("Heartbeat", {}, message_id="dup")
        p.data_to_send()
        with pytest.raises(ValidationError, match="'dup'") as caught:
            p.send_call("Heartbeat", {}, message_id="dup")
        assert caught.value.code == "FormationViolation"
        assert p.data_to_send() == [] and p.pending_calls == {"dup": "Heartbeat"}

    def test_given_id_may_be_reused_after_its_answer(self) -> None:
        """Once answered, an id is no longer pending and may be given again."""
        p = cp()
        p.send_call("Heartbeat", {}, message_id="again")
        p.data_to_send()
        event = p.receive_text(HEARTBEAT_RESULT.format("again"))
        assert isinstance(event[0], CallResultReceived)
        p.send_call("Heartbeat", {}, message_id="again")
        assert p.data_to_send() == ['[2,"again","Heartbeat",{}]']

    def test_given_id_queues_like_any_call(self) -> None:
        """OCPP-J 1.6 §4.1.1: a CALL with a given id waits behind the outstanding one."""
        p = cp()
        p.send_call("Heartbeat", {})
        p.send_call("Heartbeat", {}, message_id="later")
        assert p.data_to_send() == ['[2,"1","Heartbeat",{}]']
        p.receive_text(HEARTBEAT_RESULT.format("1"))
        assert p.data_to_send() == ['[2,"later","Heartbeat",{}]']


class TestLostCalls:
    """OCPP-J 1.6 §4.1.1: one CALL in flight, the rest queued; a lost connection reports both kinds."""

    def test_lost_calls_say_which_were_written(self) -> None:
        """The CALL in flight was sent (the peer may have it); the queued ones were never written."""
        p = cp()
        for _ in range(3):
            p.send_call("Heartbeat", {})
        written = p.data_to_send()
        lost = p.connection_lost()
        assert [(c.message_id, c.action, c.sent) for c in lost] == [
            ("1", "Heartbeat", True),
            ("2", "Heartbeat", False),
            ("3", "Heartbeat", False),
        ]
        assert [lost[0].text] == written
        assert [c.text for c in lost[1:]] == ['[2,"2","Heartbeat",{}]', '[2,"3","Heartbeat",{}]']

    def test_lost_calls_are_in_the_order_they_were_made(self) -> None:
        """With two in flight and one queued, the report keeps the order of the calls."""
        p = cp(call_concurrency=2)
        p.send_call("Heartbeat", {})
        p.send_call(
            "StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Available"}
        )
        p.send_call("Heartbeat", {})
        lost = p.connection_lost()
        assert [(c.message_id, c.action, c.sent) for c in lost] == [
            ("1", "Heartbeat", True),
            ("2", "StatusNotification", True),
            ("3", "Heartbeat", False),
        ]

    def test_answered_and_cancelled_calls_are_not_lost(self) -> None:
        """Only CALLs still pending when the connection goes are reported."""
        p = cp()
        p.send_call("Heartbeat", {})
        p.send_call("Heartbeat", {})
        p.send_call("Heartbeat", {})
        p.receive_text(HEARTBEAT_RESULT.format("1"))
        p.cancel_call("3")
        assert [c.message_id for c in p.connection_lost()] == ["2"]

    def test_a_lost_call_is_made_again_with_its_id(self) -> None:
        """A CALL made again on a new connection keeps its id, so the frame is the one first sent."""
        first = cp()
        first.send_call("Authorize", {"idTag": "TAG1"})
        [lost] = first.connection_lost()
        assert lost == LostCall(lost.message_id, "Authorize", lost.text, True)
        second = cp()
        second.send_call(lost.action, json.loads(lost.text)[3], message_id=lost.message_id)
        assert second.data_to_send() == [lost.text]

    def test_lost_call_is_immutable(self) -> None:
        """A LostCall is a record: its fields cannot be changed."""
        p = cp()
        p.send_call("Heartbeat", {})
        [lost] = p.connection_lost()
        with pytest.raises(AttributeError):
            lost.sent = False  # type: ignore[misc]
