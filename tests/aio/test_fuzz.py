"""Fuzzing, bounded in time: the sans-I/O core with Hypothesis, and a live server under garbage."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed as WsClosed

from ocpp16 import ERROR_CODES, Client, ClientBase, OcppError, Server, schemas
from ocpp16.protocol import (
    BadMessage,
    CallErrorReceived,
    CallReceived,
    CallResultReceived,
    MessageIgnored,
    Protocol,
)
from tests.helpers import NOW_ISO as NOW

EVENT_TYPES = (CallReceived, CallResultReceived, CallErrorReceived, BadMessage, MessageIgnored)
ACTIONS = sorted(schemas.ALL)
LATER_CODES = ("FormatViolation", "OccurrenceConstraintViolation", "RpcFrameworkError")

# A quiet logger for the cores: "warn" mode logs at WARNING for every bad payload.
QUIET = logging.getLogger("ocpp16.test_fuzz")
QUIET.setLevel(logging.CRITICAL)
QUIET.propagate = False


def _field_names(node: Any, into: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                into.update(value)
            _field_names(value, into)
    elif isinstance(node, list):
        for value in node:
            _field_names(value, into)
    return into


FIELD_NAMES = sorted(_field_names([[s.request, s.response] for s in schemas.ALL.values()], set()))

# Payloads that pass (or nearly pass) some schema, so that fuzzing reaches validation.
VALID_PAYLOADS: list[dict[str, Any]] = [
    {},
    {"currentTime": NOW},
    {"status": "Accepted"},
    {"status": "Accepted", "interval": 60, "currentTime": NOW},
    {"chargePointVendor": "eParking", "chargePointModel": "NECU-T2"},
    {"type": "Soft"},
    {"idTag": "TAG1"},
    {"idTagInfo": {"status": "Accepted"}},
    {"vendorId": "v", "data": "d"},
    {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
    {"connectorId": 1, "meterValue": [{"timestamp": NOW, "sampledValue": [{"value": "1"}]}]},
    {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": NOW},
    {"transactionId": 1, "meterStop": 0, "timestamp": NOW},
    {"transactionId": 1, "idTagInfo": {"status": "Accepted"}},
    {"requestedMessage": "Heartbeat"},
]

# Valid CALLs in both directions, and valid answers to our own CALLs below.
VALID_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("Heartbeat", {}),
    ("Authorize", {"idTag": "T"}),
    ("BootNotification", {"chargePointVendor": "e", "chargePointModel": "m"}),
    ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}),
    ("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": NOW}),
    ("StopTransaction", {"transactionId": 1, "meterStop": 0, "timestamp": NOW}),
    (
        "MeterValues",
        {"connectorId": 1, "meterValue": [{"timestamp": NOW, "sampledValue": [{"value": "1"}]}]},
    ),
    ("DataTransfer", {"vendorId": "v"}),
    ("Reset", {"type": "Soft"}),
    ("ClearCache", {}),
    ("GetLocalListVersion", {}),
    ("RemoteStopTransaction", {"transactionId": 1}),
    ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
    ("UnlockConnector", {"connectorId": 1}),
    ("ChangeAvailability", {"connectorId": 0, "type": "Operative"}),
]
VALID_ANSWERS: list[dict[str, Any]] = [
    {"status": "Accepted"},
    {"listVersion": 1},
    {"currentTime": NOW},
    {"idTagInfo": {"status": "Accepted"}},
    {},
]

# Our own CALLs (a role may send them), made before the fuzzed text arrives.
OUR_CALLS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "central_system": [
        ("Reset", {"type": "Soft"}),
        ("ClearCache", {}),
        ("GetLocalListVersion", {}),
    ],
    "charge_point": [
        ("Heartbeat", {}),
        ("Authorize", {"idTag": "TAG1"}),
        ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}),
    ],
}
PENDING_IDS = ("p1", "p2", "p3")

# Text spliced into frames: non-finite numbers, numbers beyond a double or an int,
# escaped lone surrogates, stray structure.
SPLICES = [
    "NaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "1" * 5000,
    "nan",
    "inf",
    '"\\ud800"',
    '"\\udfff\\ud800"',
    "\\u0000",
    ",",
    "]",
    "[",
    "{",
    "}",
    '"',
    ":",
    "\x00",
    "\ufeff",
]
REPLACEABLE = ["{}", "null", "0", "true", "false", '""', "1", "2", "3", "4"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["", NOW, "Accepted", "2024-02-30T00:00:00Z", "\ud800"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.sampled_from(FIELD_NAMES), children, max_size=4)
    ),
    max_leaves=12,
)
type_numbers = (
    st.integers(0, 9)
    | st.sampled_from([2.0, 3.0, 4.0, "2", "3", True, False, None, -2, 2**64, [], {}, [2]])
    | json_values
)
surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
message_ids = (
    st.sampled_from([*PENDING_IDS, "dup", "x" * 36, "y" * 37, "", " ", "\ud800"])
    | st.sampled_from([*PENDING_IDS, "dup"])
    | st.text(min_size=1, max_size=36)
    | st.text(max_size=40)
    | st.text(min_size=36, max_size=37)
    | st.text(min_size=1000, max_size=2000)
    | surrogates
    | json_values
)
action_names = (
    st.sampled_from(ACTIONS)
    | st.sampled_from(ACTIONS)
    | st.sampled_from(["heartbeat", "Heartbeat ", "", "NoSuchAction", "__proto__", "\ud800"])
    | st.text(max_size=30)
    | json_values
)
payloads = (
    st.sampled_from(VALID_PAYLOADS)
    | st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=6)
    | st.builds(
        lambda base, extra: {**base, **extra},
        st.sampled_from(VALID_PAYLOADS),
        st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=2),
    )
    | json_values
)
error_codes = (
    st.sampled_from(sorted(ERROR_CODES)) | st.sampled_from(LATER_CODES) | st.text(max_size=20)
)


def _mostly(number: int) -> st.SearchStrategy[Any]:
    """The right message type number most of the time, anything else sometimes."""
    return st.sampled_from([True] * 5 + [False]).flatmap(
        lambda right: st.just(number) if right else type_numbers
    )


frames = st.one_of(
    st.tuples(_mostly(2), message_ids, st.sampled_from(VALID_CALLS)).map(
        lambda t: [t[0], t[1], *t[2]]
    ),
    st.tuples(_mostly(2), message_ids, st.sampled_from(VALID_CALLS)).map(
        lambda t: [t[0], t[1], *t[2]]
    ),
    st.tuples(_mostly(3), st.sampled_from(PENDING_IDS), st.sampled_from(VALID_ANSWERS)).map(list),
    st.tuples(_mostly(2), message_ids, action_names, payloads).map(list),
    st.tuples(_mostly(2), message_ids, action_names, payloads).map(list),
    st.tuples(_mostly(3), message_ids, payloads).map(list),
    st.tuples(
        _mostly(4), message_ids, error_codes, st.text() | json_values, payloads | st.none()
    ).map(list),
    st.lists(json_values, max_size=6),
    json_values,
)


@st.composite
def near_valid_texts(draw: st.DrawFn) -> str:
    """An OCPP-J frame, maybe cut, extended, spliced, nested or followed by garbage."""
    frame = draw(frames)
    if isinstance(frame, list) and draw(st.sampled_from([False, False, False, True])):
        if draw(st.booleans()):
            frame = frame[: draw(st.integers(0, len(frame)))]
        else:
            frame = frame + draw(st.lists(json_values, min_size=1, max_size=2))
    text = json.dumps(
        frame,
        allow_nan=True,
        ensure_ascii=draw(st.booleans()),
        separators=draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " :\t")])),
    )
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 1, 1, 2]))):
        how = draw(st.sampled_from(["splice", "replace", "nest", "nest_inside", "trail", "cut"]))
        if how == "splice":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(SPLICES)) + text[at:]
        elif how == "replace":
            token = draw(st.sampled_from(REPLACEABLE))
            if token in text:
                text = text.replace(token, draw(st.sampled_from(SPLICES[:7])), 1)
        elif how == "nest":
            depth = draw(st.sampled_from([2, 100, 500, 998, 999, 1000, 1001, 5000, 50000]))
            text = "[" * depth + text + "]" * depth
        elif how == "nest_inside":
            depth = draw(st.sampled_from([100, 999, 1000, 5000, 50000]))
            at = draw(st.integers(0, len(text)))
            opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
            text = text[:at] + opener * depth + "0" + closer * depth + text[at:]
        elif how == "trail":
            text += draw(
                st.sampled_from([" ", "\n", "]", ",", "x", "[]", "NaN", "\x00", "\u2028"])
                | st.text(max_size=10)
            )
        else:
            text = text[: draw(st.integers(0, len(text)))]
    return text


def as_received(text: str) -> str:
    r"""What a WebSocket text frame can deliver: valid UTF-8, so no raw surrogate code points.

    Raw surrogates become "?" (a peer cannot send them: websockets refuses such a frame
    with 1007); surrogates escaped inside the JSON ("\ud800") stay and are probed.
    """
    return text.encode("utf-8", "replace").decode("utf-8")


any_texts = (
    st.text()
    | near_valid_texts()
    | near_valid_texts()
    | near_valid_texts()
    | st.sampled_from(["[" * 50000, "[2," * 20000, ""])
).map(as_received)


def _lenient(text: str) -> Any:
    """The frame as JSON reads it with NaN allowed, or None when it is no JSON at all."""
    try:
        return json.loads(text, parse_constant=lambda _: None)
    except (ValueError, RecursionError):
        return None


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_type(value: Any, number: int) -> bool:
    return type(value) is int and value == number


def check_error_frame(text: str) -> list[Any]:
    """Assert that ``text`` is a well-formed OCPP-J 1.6 CALLERROR; return it decoded."""
    frame = json.loads(text)
    assert isinstance(frame, list), text
    assert len(frame) == 5, text
    assert _is_type(frame[0], 4), text
    assert type(frame[1]) is str, text
    assert frame[2] in ERROR_CODES, text
    assert type(frame[3]) is str, text
    assert type(frame[4]) is dict, text
    return frame


@given(
    role=st.sampled_from(["central_system", "charge_point"]),
    mode=st.sampled_from(["strict", "strict", "warn", "off"]),
    n_pending=st.integers(0, 3),
    texts=st.lists(any_texts, min_size=1, max_size=4),
)
@settings(
    max_examples=1200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_receive_text_never_raises_and_answers_only_with_well_formed_callerrors(
    role: str, mode: Any, n_pending: int, texts: list[str]
) -> None:
    """OCPP-J 1.6 §4 and the README's wire rules: any text is read without raising, and only answered with a valid CALLERROR."""
    ids = iter(PENDING_IDS)
    p = Protocol(role, validation=mode, message_id_factory=lambda: next(ids), logger=QUIET)
    for action, payload in OUR_CALLS[role][:n_pending]:
        p.send_call(action, payload)
    written = {json.loads(t)[1] for t in p.data_to_send()}
    assert len(written) == min(n_pending, 1)

    for text in texts:
        handling, pending = p.handling, p.pending_calls
        events = p.receive_text(text)  # must never raise
        out = p.data_to_send()

        assert isinstance(events, list)
        assert len(events) <= 1, events
        for event in events:
            assert type(event) in EVENT_TYPES, event

        # Incoming CALLs being handled: grow only by a CallReceived, never shrink.
        received = [e for e in events if isinstance(e, CallReceived)]
        added = {k: v for k, v in p.handling.items() if k not in handling}
        assert set(handling) <= set(p.handling)
        assert added == {e.message_id: e.action for e in received}
        for e in received:
            assert p.can_receive(e.action), e
            assert type(e.payload) is dict
            assert 0 < len(e.message_id) <= 36

        # Our CALLs: only an answer to one of them (a CallResult/CallError event) releases it.
        answers = [e for e in events if isinstance(e, CallResultReceived | CallErrorReceived)]
        gone = set(pending) - set(p.pending_calls)
        assert set(p.pending_calls) <= set(pending)
        assert gone == {e.message_id for e in answers}
        for e in answers:
            assert e.action == pending[e.message_id]
            if isinstance(e, CallResultReceived):
                assert type(e.payload) is dict
            else:
                assert isinstance(e.error, OcppError)

        # What the core writes: CALLERRORs for refused CALLs, and our next queued CALL.
        decoded = _lenient(text)
        answered: list[str] = []
        for frame_text in out:
            if _is_utf8(text):
                # A frame read from a WebSocket is UTF-8 text; what we write must be too.
                assert _is_utf8(frame_text), frame_text
            frame = json.loads(frame_text)
            assert isinstance(frame, list) and frame, frame_text
            if _is_type(frame[0], 2):
                assert len(frame) == 4, frame_text
                assert frame[1] in pending and frame[1] in p.pending_calls, frame_text
                assert frame[1] not in written, frame_text
                assert frame[2] == pending[frame[1]], frame_text
                assert gone, "a queued CALL goes out only when another is answered"
                written.add(frame[1])
            else:
                frame = check_error_frame(frame_text)  # never a CALLRESULT from receive_text
                answered.append(frame[1])
        assert len(answered) <= 1, out
        refused = [
            e.message_id for e in events if isinstance(e, BadMessage) and e.message_id is not None
        ]
        assert answered == refused, (events, out)
        if answered:
            # Only a CALL is ever answered; never a CALLRESULT or CALLERROR.
            assert isinstance(decoded, list) and len(decoded) >= 2, text
            assert _is_type(decoded[0], 2), text
            assert decoded[1] == answered[0], text
        if isinstance(decoded, list) and decoded and not _is_type(decoded[0], 2):
            assert not answered, text

    # Every CALL still being handled can be answered, with a valid frame.
    for message_id, action in p.handling.items():
        if action == "Heartbeat":
            p.send_result(message_id, {"currentTime": NOW})
            [result] = p.data_to_send()
            assert json.loads(result) == [3, message_id, {"currentTime": NOW}]
        else:
            p.send_error(message_id, "RpcFrameworkError", "fuzz", {"x": 1})
            [error] = p.data_to_send()
            assert check_error_frame(error) == [
                4,
                message_id,
                "FormationViolation",
                "fuzz",
                {"x": 1},
            ]
    assert not p.handling


# ----------------------------------------------------------------------------- live

FUZZ_FRAMES = 3000
HEARTBEAT = {"currentTime": NOW}


def _garbage(rng: random.Random) -> str:
    alphabet = '[]{},:"\\0123456789.-+eEtrufalsnNIy \n\t\x00\u00e9\u2028\U0001f600'
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.5:
        return rng.choice(
            [None, True, False, 0, -1, 2**64, 1.5, "", "x", NOW, "\u00e9", [], {}, "Accepted"]
        )
    if roll < 0.75:
        return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = [*FIELD_NAMES, "a", ""]
    return {rng.choice(keys): _json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def _fuzz_frame(rng: random.Random, n: int) -> str | bytes:
    """One malformed (or merely unwelcome) frame for the live server."""
    actions = [a for a in ACTIONS if a != "Heartbeat"] + ["NoSuchAction", "", "heartbeat"]
    kind = rng.randrange(16)
    if kind == 0:
        return _garbage(rng)
    if kind == 1:  # invalid JSON: a frame cut short
        text = json.dumps([2, f"cut{n}", rng.choice(actions), _json_value(rng)])
        return text[: rng.randint(0, len(text) - 1)]
    if kind == 2:  # deeply nested arrays, alone or inside a CALL
        depth = rng.choice([999, 1000, 5000, 50000])
        return rng.choice(
            [
                "[" * depth,
                "[" * depth + "]" * depth,
                f'[2,"deep{n}","DataTransfer",' + "[" * depth + "]" * depth + "]",
                f'[2,"deep{n}","DataTransfer",{{"vendorId":"v","data":' + '{"a":' * depth,
            ]
        )
    if kind == 3:
        return rng.randbytes(rng.randint(0, 300))
    if kind == 4:  # NaN and friends where a value should be
        literal = rng.choice(["NaN", "Infinity", "-Infinity", "1e400", "1" * 5000])
        return rng.choice(
            [
                f'[2,"nan{n}","DataTransfer",{{"vendorId":{literal}}}]',
                f'[2,"nan{n}",{literal}]',
                f'[2,{literal},"Authorize",{{}}]',
                f'[{literal},"nan{n}","Authorize",{{}}]',
                f'[3,"nan{n}",{{"x":{literal}}}]',
                f'[4,"nan{n}","GenericError","",{{"x":{literal}}}]',
            ]
        )
    if kind == 5:  # huge and odd ids
        message_id: Any = rng.choice(
            ["x" * 37, "x" * 10_000, "x" * 500_000, "", 42, None, ["id"], {"id": 1}, 1.5]
        )
        return json.dumps([2, message_id, "Authorize", {"idTag": "T"}])
    if kind == 6:  # unknown actions, and actions the central system never receives
        action = rng.choice(
            ["NoSuchAction", "", "heartbeat", "Reset", "RemoteStartTransaction", 7, None]
        )
        return json.dumps([2, f"act{n}", action, {}])
    if kind == 7:  # real actions, payloads that break their schema
        return json.dumps([2, f"bad{n}", rng.choice(actions), _json_value(rng)])
    if kind == 8:  # wrong lengths
        return json.dumps([2, f"len{n}", "Authorize", {"idTag": "T"}, {}][: rng.randint(0, 5)])
    if kind == 9:  # unknown message type numbers, and types that are not numbers
        return json.dumps([rng.choice([0, 1, 5, 9, -1, 2.0, "2", True, None]), f"t{n}", "A", {}])
    if kind == 10:  # answers to nothing: never answered
        return rng.choice(
            [
                json.dumps([3, f"r{n}", _json_value(rng)]),
                json.dumps([4, f"e{n}", "GenericError", "", {}]),
                json.dumps([4, f"e{n}"]),
                json.dumps([3]),
            ]
        )
    if kind == 11:  # trailing garbage
        return json.dumps([2, f"trail{n}", "Authorize", {"idTag": "T"}]) + rng.choice(
            ["x", "]", ",", "[]", "NaN"]
        )
    if kind == 12:  # not an array
        return json.dumps(_json_value(rng))
    if kind == 13:  # big but under max_message_size
        return json.dumps([2, f"big{n}", "DataTransfer", {"vendorId": "v", "data": "a" * 400_000}])
    if kind == 14:  # the same id again and again
        return json.dumps([2, "same", rng.choice(actions), {}])
    return json.dumps([2, f"v{n}", "BootNotification", {"chargePointVendor": 1}])


def _expected_replies(frames: list[str | bytes]) -> list[tuple[int, str, str]]:
    """What a central system whose only handler is Heartbeat answers: (type, id, code)."""
    core = Protocol("central_system", logger=QUIET)
    for frame in frames:
        if isinstance(frame, bytes):
            continue
        for event in core.receive_text(frame):
            if isinstance(event, CallReceived):
                assert event.action != "Heartbeat"
                core.send_error(event.message_id, "NotSupported", "no handler")
    return [(f[0], f[1], f[2]) for f in map(json.loads, core.data_to_send())]


async def test_live_server_survives_malformed_frames_while_another_client_is_served() -> None:
    """A malformed frame gets a CALLERROR or nothing, an oversized one 1009, and never hurts another connection."""
    rng = random.Random(16)
    fuzz = [_fuzz_frame(rng, n) for n in range(FUZZ_FRAMES)]
    sentinel = '[2,"sentinel","NoSuchAction",{}]'
    expected = [*_expected_replies(fuzz), (4, "sentinel", "NotImplemented")]

    server = Server()
    port = await server.listen(0, host="127.0.0.1")

    def on_connection(client: ClientBase) -> None:
        client.on("Heartbeat", lambda req: dict(HEARTBEAT))

    server.on("connection", on_connection)
    good = Client("GOOD", call_timeout=5)
    fuzz_done = asyncio.Event()
    completed, failures = 0, []

    async def heartbeats() -> None:
        nonlocal completed
        while not fuzz_done.is_set():
            try:
                assert await good.call_request("Heartbeat", {}) == HEARTBEAT
                completed += 1
            except Exception as exc:
                failures.append(exc)
                return

    try:
        # A hang guard: the fuzzing is CPU-bound, and coverage and a busy machine
        # stretch it several times over.
        async with asyncio.timeout(120):
            await good.connect(f"ws://127.0.0.1:{port}/ocpp")
            async with ws_connect(
                f"ws://127.0.0.1:{port}/ocpp/FUZZ", subprotocols=["ocpp1.6"], max_size=None
            ) as ws:
                replies: list[Any] = []

                async def read_replies() -> None:
                    while True:
                        text = await ws.recv()
                        assert isinstance(text, str)
                        replies.append(check_error_frame(text))
                        if replies[-1][1] == "sentinel":
                            return

                reader = asyncio.ensure_future(read_replies())
                beating = asyncio.ensure_future(heartbeats())
                for n, frame in enumerate(fuzz):
                    await ws.send(frame)
                    if n % 10 == 0:
                        await asyncio.sleep(0)  # let the good client's round trips interleave
                await ws.send(sentinel)
                await reader
                fuzz_done.set()
                await beating

                # Oversize, on a connection of its own: closed with 1009.
                async with ws_connect(
                    f"ws://127.0.0.1:{port}/ocpp/BIG", subprotocols=["ocpp1.6"], max_size=None
                ) as big:
                    await big.send("[" + " " * (2**20) + "]")
                    try:
                        await big.recv()
                        raise AssertionError("an oversized frame was answered")
                    except WsClosed as exc:
                        assert exc.rcvd is not None and exc.rcvd.code == 1009, exc

                # Everything still works: the good client, the fuzz connection, a newcomer.
                assert await good.call_request("Heartbeat", {}) == HEARTBEAT
                await ws.send('[2,"after","Heartbeat",{}]')
                assert json.loads(await ws.recv()) == [3, "after", HEARTBEAT]
                late = Client("LATE")
                await late.connect(f"ws://127.0.0.1:{port}/ocpp")
                assert await late.call_request("Heartbeat", {}) == HEARTBEAT
                await late.close()
                assert "GOOD" in server.clients and "FUZZ" in server.clients
            await good.close()
    finally:
        await server.close()

    assert failures == []
    assert completed >= 10, "the good client must be served while the fuzzing goes on"
    assert [(f[0], f[1], f[2]) for f in replies] == expected


async def test_call_id_with_an_escaped_lone_surrogate_is_answered_and_keeps_the_connection() -> (
    None
):
    """A malformed CALL with a string id gets a CALLERROR with that id; the frame must be sendable UTF-8, the connection stays up."""
    server = Server()
    port = await server.listen(0, host="127.0.0.1")
    server.on("connection", lambda client: client.on("Heartbeat", lambda req: dict(HEARTBEAT)))
    try:
        async with asyncio.timeout(10):
            async with ws_connect(
                f"ws://127.0.0.1:{port}/ocpp/SURROGATE", subprotocols=["ocpp1.6"]
            ) as ws:
                await ws.send('[2,"\\ud800","NoSuchAction",{}]')
                await ws.send('[2,"hb","Heartbeat",{}]')
                first = check_error_frame(await ws.recv())
                assert first[1:3] == ["\ud800", "NotImplemented"]
                assert json.loads(await ws.recv()) == [3, "hb", HEARTBEAT]
    finally:
        await server.close()
