"""The charge point session layer: Reconnect, the configuration keys, and ChargePointSession.

The arithmetic and the configuration rules are tested with values alone; the
session against a real ``Server`` on 127.0.0.1, whose connections answer as a
central system and record every frame they see.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import logging
import random
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest

import ocpp16
from ocpp16 import (
    STANDARD_KEYS,
    ChargePointSession,
    Client,
    ClientBase,
    Configuration,
    ConfigurationKey,
    ConnectionClosed,
    KeyType,
    OcppError,
    Reconnect,
    Server,
    SessionState,
    ValidationError,
)
from ocpp16 import chargepoint as chargepoint_module
from ocpp16.validation import validate
from tests.helpers import NOW_ISO as NOW
from tests.helpers import TIMEOUT, url, wait

T = TypeVar("T")

BOOT = {"chargePointVendor": "ocpp16", "chargePointModel": "Test"}
CALL, CALLRESULT = 2, 3
# Quick reconnections with no jitter: the tests wait on events, not on these.
FAST = Reconnect(initial=0.05, factor=2.0, max_delay=0.2, jitter=0.0)


# ----------------------------------------------------------------------------- Reconnect


class TestReconnect:
    """The backoff: min(max_delay, initial * factor**(n-1)), jittered, for a number of attempts."""

    def test_defaults(self) -> None:
        """Reconnect() waits 1 s doubling to 60 s, with jitter 0.25, forever."""
        policy = Reconnect()
        assert (policy.initial, policy.factor, policy.max_delay) == (1.0, 2.0, 60.0)
        assert (policy.jitter, policy.attempts) == (0.25, None)

    def test_waits_grow_by_the_factor_up_to_max_delay(self) -> None:
        """Without jitter the n-th wait is initial * factor**(n-1), capped at max_delay."""
        policy = Reconnect(initial=1.0, factor=2.0, max_delay=10.0, jitter=0.0)
        assert [policy.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
        assert Reconnect(initial=3.0, factor=1.0, max_delay=3.0, jitter=0).delay(50) == 3.0

    def test_a_very_late_wait_is_max_delay(self) -> None:
        """A wait far past the cap (factor**n beyond a float) is max_delay, not an overflow."""
        policy = Reconnect(initial=1.0, factor=10.0, max_delay=30.0, jitter=0.0)
        assert policy.delay(10_000) == 30.0

    def test_jitter_stays_within_its_bounds(self) -> None:
        """Each wait lies in [base * (1 - jitter), base * (1 + jitter)], and the waits vary."""
        policy = Reconnect(initial=1.0, factor=2.0, max_delay=8.0, jitter=0.5)
        rng = random.Random(1)
        for n in range(1, 200):
            base = min(8.0, 2.0 ** (n - 1))
            wait_n = policy.delay(n, rng)
            assert base * 0.5 <= wait_n <= base * 1.5
        assert len({policy.delay(1, rng) for _ in range(20)}) > 1

    def test_jitter_reaches_both_ends(self) -> None:
        """The random factor is taken from the whole range: below 1 and above 1 both occur."""
        policy = Reconnect(initial=10.0, max_delay=10.0, jitter=0.25)
        rng = random.Random(7)
        waits = [policy.delay(1, rng) for _ in range(500)]
        assert min(waits) < 8.0 and max(waits) > 12.0
        assert all(7.5 <= w <= 12.5 for w in waits)

    def test_a_seeded_rng_repeats_the_waits(self) -> None:
        """The same seed gives the same sequence of waits."""
        policy = Reconnect(jitter=0.5)
        first = list(itertools.islice(policy.delays(random.Random(3)), 10))
        again = list(itertools.islice(policy.delays(random.Random(3)), 10))
        assert first == again

    @pytest.mark.parametrize(("attempts", "waits"), [(1, 0), (2, 1), (5, 4)])
    def test_attempts_count_the_first_one(self, attempts: int, waits: int) -> None:
        """The attempts count every attempt, the first included: attempts - 1 waits between them."""
        assert len(list(Reconnect(attempts=attempts).delays())) == waits

    def test_no_attempts_limit_waits_forever(self) -> None:
        """attempts=None yields waits without end."""
        assert len(list(itertools.islice(Reconnect().delays(), 1000))) == 1000

    @pytest.mark.parametrize(
        "options",
        [
            {"initial": 0},
            {"initial": -1.0},
            {"initial": float("nan")},
            {"initial": True},
            {"factor": 0.5},
            {"factor": float("inf")},
            {"max_delay": 0.5},
            {"jitter": -0.1},
            {"jitter": 1.5},
            {"attempts": 0},
            {"attempts": 2.0},
            {"attempts": True},
            {"initial": "1"},
        ],
    )
    def test_bad_values_are_refused(self, options: dict[str, Any]) -> None:
        """A value out of range, or not a number, is a ValueError naming the field."""
        (name,) = options
        with pytest.raises(ValueError, match=f"Reconnect.{name}"):
            Reconnect(**options)

    @pytest.mark.parametrize("n", [0, -1, 1.0, True])
    def test_the_wait_number_starts_at_one(self, n: Any) -> None:
        """delay(n) takes the wait's number, an int from 1."""
        with pytest.raises(ValueError, match="at least 1"):
            Reconnect().delay(n)

    def test_it_is_frozen(self) -> None:
        """A Reconnect cannot be changed once made."""
        with pytest.raises(AttributeError):
            Reconnect().initial = 5.0  # type: ignore[misc]


# ----------------------------------------------------------------------------- configuration


def store(**extra: ConfigurationKey) -> Configuration:
    """A few standard keys, and any others given."""
    configuration = Configuration.standard(
        {
            "HeartbeatInterval": "60",
            "NumberOfConnectors": "2",
            "LocalPreAuthorize": "false",
            "MeterValuesSampledData": "Energy.Active.Import.Register",
            "SupportedFeatureProfiles": "Core",
        }
    )
    for key, entry in extra.items():
        configuration.define(key, entry)
    return configuration


class TestChangeConfiguration:
    """OCPP 1.6 §5.3: Accepted, Rejected, RebootRequired or NotSupported, by the key's rules (§9)."""

    def change(self, configuration: Configuration, key: str, value: str) -> str:
        answer = configuration.change_configuration({"key": key, "value": value})
        validate("ChangeConfiguration", "response", answer)
        return answer["status"]

    def test_accepted_is_stored(self) -> None:
        """A writable key with a value of its type is Accepted and stored."""
        configuration = store()
        assert self.change(configuration, "HeartbeatInterval", "300") == "Accepted"
        assert configuration.value("HeartbeatInterval") == "300"
        assert configuration.integer("HeartbeatInterval") == 300

    @pytest.mark.parametrize("key", ["NumberOfConnectors", "SupportedFeatureProfiles"])
    def test_read_only_is_rejected(self, key: str) -> None:
        """A read-only key is Rejected and keeps its value."""
        configuration = store()
        before = configuration.value(key)
        assert self.change(configuration, key, "3") == "Rejected"
        assert configuration.value(key) == before

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("HeartbeatInterval", "abc"),
            ("HeartbeatInterval", "-5"),
            ("HeartbeatInterval", "1.5"),
            ("HeartbeatInterval", ""),
            ("HeartbeatInterval", "١٢"),  # digits, but not ASCII ones
            ("LocalPreAuthorize", "maybe"),
            ("LocalPreAuthorize", "1"),
            ("MeterValuesSampledData", "Voltage,,Current.Import"),
        ],
    )
    def test_wrong_type_is_rejected(self, key: str, value: str) -> None:
        """A value that is not of the key's type is Rejected, and nothing changes."""
        configuration = store()
        before = configuration.value(key)
        assert self.change(configuration, key, value) == "Rejected"
        assert configuration.value(key) == before

    def test_unknown_key_is_not_supported(self) -> None:
        """A key the charge point does not have is NotSupported."""
        configuration = store()
        assert self.change(configuration, "NoSuchKey", "1") == "NotSupported"
        assert "NoSuchKey" not in configuration

    def test_reboot_required_is_stored_and_said(self) -> None:
        """A key marked reboot_required answers RebootRequired, with the value stored."""
        configuration = store(
            WebSocketPingInterval=ConfigurationKey("0", type="integer", reboot_required=True)
        )
        assert self.change(configuration, "WebSocketPingInterval", "30") == "RebootRequired"
        assert configuration.integer("WebSocketPingInterval") == 30

    def test_a_boolean_is_stored_in_lower_case(self) -> None:
        """A boolean is read as true or false in any case, and stored in lower case."""
        configuration = store()
        assert self.change(configuration, "LocalPreAuthorize", "TRUE") == "Accepted"
        assert configuration.value("LocalPreAuthorize") == "true"
        assert configuration.boolean("LocalPreAuthorize") is True

    def test_a_list_is_read_as_its_items(self) -> None:
        """A CSL key is Accepted as a comma-separated list, and read back as its items."""
        configuration = store()
        value = "Energy.Active.Import.Register,Voltage"
        assert self.change(configuration, "MeterValuesSampledData", value) == "Accepted"
        assert configuration.csl("MeterValuesSampledData") == value.split(",")
        assert self.change(configuration, "MeterValuesSampledData", "") == "Accepted"
        assert configuration.csl("MeterValuesSampledData") == []

    def test_minimum_is_kept(self) -> None:
        """An integer below the key's minimum is Rejected."""
        configuration = store(Sample=ConfigurationKey("5", type=KeyType.INTEGER, minimum=1))
        assert self.change(configuration, "Sample", "0") == "Rejected"
        assert self.change(configuration, "Sample", "1") == "Accepted"

    def test_listeners_hear_each_accepted_change(self) -> None:
        """on_change listeners get the key and its stored value; rejected changes say nothing."""
        configuration = store()
        heard: list[tuple[str, str]] = []
        remove = configuration.on_change(lambda key, value: heard.append((key, value)))
        self.change(configuration, "LocalPreAuthorize", "True")
        self.change(configuration, "NumberOfConnectors", "4")
        self.change(configuration, "NoSuchKey", "1")
        assert heard == [("LocalPreAuthorize", "true")]
        remove()
        self.change(configuration, "HeartbeatInterval", "5")
        assert heard == [("LocalPreAuthorize", "true")]

    def test_a_failing_listener_is_logged_and_the_change_stands(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A listener's exception is logged; the value is stored and the other listeners run."""
        configuration = store()
        heard: list[str] = []

        def broken(key: str, value: str) -> None:
            raise RuntimeError("listener bug")

        configuration.on_change(broken)
        configuration.on_change(lambda key, value: heard.append(value))
        with caplog.at_level(logging.ERROR, logger="ocpp16"):
            assert self.change(configuration, "HeartbeatInterval", "7") == "Accepted"
        assert heard == ["7"] and configuration.value("HeartbeatInterval") == "7"
        assert "listener bug" in caplog.text


class TestGetConfiguration:
    """OCPP 1.6 §5.8: the keys asked for, unknownKey for the others; every key when none are asked."""

    def get(self, configuration: Configuration, request: dict[str, Any]) -> dict[str, Any]:
        answer = dict(configuration.get_configuration(request))  # type: ignore[arg-type]
        validate("GetConfiguration", "response", answer)
        return answer

    def test_no_keys_gives_every_key(self) -> None:
        """With no key list, or an empty one, every key is given, sorted by name."""
        configuration = store()
        everything = self.get(configuration, {})
        assert [e["key"] for e in everything["configurationKey"]] == sorted(configuration)
        assert "unknownKey" not in everything
        assert self.get(configuration, {"key": []}) == everything

    def test_keys_asked_in_the_order_asked(self) -> None:
        """Known keys come with their value and read-only flag, in the order asked."""
        answer = self.get(store(), {"key": ["NumberOfConnectors", "HeartbeatInterval"]})
        assert answer == {
            "configurationKey": [
                {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
                {"key": "HeartbeatInterval", "readonly": False, "value": "60"},
            ]
        }

    def test_unknown_keys_are_listed(self) -> None:
        """Keys the charge point lacks are listed in unknownKey; the known ones are still given."""
        answer = self.get(store(), {"key": ["NoSuchKey", "LocalPreAuthorize", "Other"]})
        assert answer == {
            "configurationKey": [{"key": "LocalPreAuthorize", "readonly": False, "value": "false"}],
            "unknownKey": ["NoSuchKey", "Other"],
        }
        only_unknown = self.get(store(), {"key": ["Nope"]})
        assert only_unknown == {"configurationKey": [], "unknownKey": ["Nope"]}


class TestConfigurationStore:
    """The store itself: the §9 key table, definitions, and changes by the charge point."""

    def test_standard_keys_take_their_type_and_access_from_the_spec(self) -> None:
        """OCPP 1.6 §9.1: NumberOfConnectors is a read-only integer, LocalPreAuthorize a writable boolean."""
        configuration = store()
        assert configuration["NumberOfConnectors"] == ConfigurationKey(
            "2", readonly=True, type=KeyType.INTEGER
        )
        assert configuration["LocalPreAuthorize"].type is KeyType.BOOLEAN
        assert not configuration["LocalPreAuthorize"].readonly
        assert STANDARD_KEYS["SupportedFeatureProfiles"] == (KeyType.CSL, True)
        assert STANDARD_KEYS["HeartbeatInterval"] == (KeyType.INTEGER, False)

    def test_standard_refuses_unknown_names_and_bad_values(self) -> None:
        """Configuration.standard takes §9 keys only, each with a value of its type."""
        with pytest.raises(ValueError, match="is not a configuration key of OCPP"):
            Configuration.standard({"VendorThing": "1"})
        with pytest.raises(ValueError, match="not a valid integer"):
            Configuration.standard({"HeartbeatInterval": "often"})

    def test_key_definitions_are_checked(self) -> None:
        """A key's name is 1 to 50 characters, its value fits its type and 500 characters."""
        with pytest.raises(ValueError, match="1 to 50"):
            Configuration({"x" * 51: ConfigurationKey("1")})
        with pytest.raises(ValueError, match="1 to 50"):
            Configuration({"": ConfigurationKey("1")})
        with pytest.raises(ValueError, match="not a valid"):
            ConfigurationKey("x" * 501)
        with pytest.raises(ValueError, match="minimum is for integer"):
            ConfigurationKey("a", minimum=1)
        with pytest.raises(ValueError):
            ConfigurationKey("yes", type="color")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="ConfigurationKey"):
            Configuration().define("Key", "1")  # type: ignore[arg-type]

    def test_set_changes_read_only_keys_and_tells_listeners(self) -> None:
        """The charge point itself may change a read-only key; the type still holds."""
        configuration = store()
        heard: list[tuple[str, str]] = []
        configuration.on_change(lambda key, value: heard.append((key, value)))
        configuration.set("NumberOfConnectors", "3")
        assert configuration.integer("NumberOfConnectors") == 3
        assert configuration["NumberOfConnectors"].readonly
        assert heard == [("NumberOfConnectors", "3")]
        with pytest.raises(ValueError, match="not a valid integer"):
            configuration.set("NumberOfConnectors", "three")
        with pytest.raises(KeyError):
            configuration.set("NoSuchKey", "1")

    def test_it_is_a_mapping_in_definition_order(self) -> None:
        """The store reads as a mapping of name to ConfigurationKey, in the order defined."""
        configuration = Configuration(
            {"B": ConfigurationKey("1"), "A": ConfigurationKey("true", type=KeyType.BOOLEAN)}
        )
        assert list(configuration) == ["B", "A"] and len(configuration) == 2
        assert configuration.get("A") == ConfigurationKey("true", type=KeyType.BOOLEAN)
        assert "C" not in configuration


# ----------------------------------------------------------------------------- the session


class Central:
    """The server's side: every connection and frame, and the BootNotification answers to give.

    ``boots`` lists the statuses of the first BootNotification answers (each with
    interval 1); after them every BootNotification is Accepted with ``interval``.
    """

    def __init__(self, server: Server, boots: tuple[str, ...] = (), interval: int = 3600) -> None:
        self.boots = list(boots)
        self.interval = interval
        self.connections: list[ClientBase] = []
        self.closed: list[int | None] = []
        self.frames: list[tuple[int, str, list[Any], float]] = []
        self._changed = asyncio.Event()
        server.on("connection", self._on_connection)

    def _on_connection(self, conn: ClientBase) -> None:
        self.connections.append(conn)
        self.closed.append(None)
        number = len(self.connections)
        loop = asyncio.get_running_loop()

        def on_message(direction: str, text: str) -> None:
            self.frames.append((number, direction, json.loads(text), loop.time()))
            self._changed.set()

        def on_close(code: int, reason: str) -> None:
            self.closed[number - 1] = code
            self._changed.set()

        conn.on("message", on_message)
        conn.on("close", on_close)
        conn.on("BootNotification", self._boot)
        conn.on("Heartbeat", lambda request: {"currentTime": NOW})
        self._changed.set()

    def _boot(self, request: dict[str, Any]) -> dict[str, Any]:
        status = self.boots.pop(0) if self.boots else "Accepted"
        interval = self.interval if status == "Accepted" else 1
        return {"status": status, "interval": interval, "currentTime": NOW}

    async def until(self, check: Callable[[], T | None]) -> T:
        """Wait (bounded) until ``check()`` returns something other than ``None``."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                found = check()
                if found is not None:
                    return found
                self._changed.clear()
                await self._changed.wait()

    def calls(self, action: str, connection: int | None = None) -> list[tuple[int, float]]:
        """The charge point's CALLs of ``action``: (index in frames, time received)."""
        return [
            (i, at)
            for i, (number, direction, frame, at) in enumerate(self.frames)
            if direction == "in"
            and frame[0] == CALL
            and frame[2] == action
            and (connection is None or number == connection)
        ]

    async def count(self, action: str, n: int, connection: int | None = None) -> None:
        """Wait until ``n`` CALLs of ``action`` have come in."""
        await self.until(lambda: True if len(self.calls(action, connection)) >= n else None)

    async def send(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a CALL on the latest connection; return the answer."""
        return dict(await wait(self.connections[-1].call_request(action, payload)))


class Hooks:
    """Records of the session's hooks, and futures to wait on."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Client]] = []
        self.boots: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    def record(self, name: str) -> Callable[..., None]:
        def hook(client: Client, *rest: Any) -> None:
            self.log.append((name, client))
            if name == "boot":
                self.boots.append(dict(rest[0]))
            self._changed.set()

        return hook

    def options(self) -> dict[str, Any]:
        """The hook options of a session that records here."""

        async def before_close(client: Client) -> None:
            self.record("before_close")(client)

        return {
            "on_connect": self.record("connect"),
            "on_boot": self.record("boot"),
            "before_close": before_close,
            "on_close": self.record("close"),
        }

    def names(self) -> list[str]:
        return [name for name, _ in self.log]

    async def until(self, name: str, n: int = 1) -> None:
        """Wait (bounded) until hook ``name`` has run ``n`` times."""
        async with asyncio.timeout(TIMEOUT):
            while self.names().count(name) < n:
                self._changed.clear()
                await self._changed.wait()


@asynccontextmanager
async def running(session: ChargePointSession) -> AsyncIterator[ChargePointSession]:
    """Run ``session``; close it (bounded) on the way out."""
    session.start()
    try:
        yield session
    finally:
        await wait(session.close())


def new_session(server: Server, hooks: Hooks, **options: Any) -> ChargePointSession:
    """A session of charge point CP1 against ``server``, recording into ``hooks``."""
    client = options.pop("client", None) or Client("CP1")
    options.setdefault("reconnect", FAST)
    return ChargePointSession(client, url(server), boot=BOOT, **hooks.options(), **options)


class TestBoot:
    """OCPP 1.6 §4.2.1: BootNotification until Accepted; Pending and Rejected are asked again."""

    @pytest.mark.parametrize("first", ["Pending", "Rejected"])
    async def test_boots_through_a_refusal_then_accepted(self, server: Server, first: str) -> None:
        """After a Pending or Rejected answer the session asks again, and is online once Accepted."""
        central = Central(server, boots=(first,), interval=1234)
        hooks = Hooks()
        async with running(new_session(server, hooks)) as session:
            await hooks.until("boot")
            boots = central.calls("BootNotification")
            assert len(boots) == 2
            # The charge point sent nothing else in between (Rejected: nothing at all).
            assert [f[2][2] for f in central.frames if f[1] == "in" and f[2][0] == CALL] == [
                "BootNotification",
                "BootNotification",
            ]
            assert hooks.boots[0]["status"] == "Accepted"
            assert session.state is SessionState.ONLINE
            # The accepted interval became the charge point's HeartbeatInterval.
            assert session.configuration.value("HeartbeatInterval") == "1234"
            assert session.heartbeat_interval == 1234.0

    def test_boot_payload_is_checked_at_once(self) -> None:
        """A BootNotification payload that breaks its schema is refused before anything runs."""
        with pytest.raises(ValidationError, match="chargePointModel"):
            ChargePointSession(Client("CP1"), "ws://unused", boot={"chargePointVendor": "x"})  # type: ignore[typeddict-item]


class TestHeartbeat:
    """OCPP 1.6 §4.6: a Heartbeat every HeartbeatInterval; a new interval applies at once."""

    async def test_heartbeats_at_the_interval(self, server: Server) -> None:
        """Heartbeats come one interval apart, not sooner, and only after the boot."""
        central = Central(server)
        hooks = Hooks()
        async with running(new_session(server, hooks, heartbeat_interval=0.1)):
            await central.count("Heartbeat", 3)
            times = [at for _, at in central.calls("Heartbeat")]
            assert all(later - earlier >= 0.09 for earlier, later in itertools.pairwise(times))
            first_heartbeat = central.calls("Heartbeat")[0][0]
            assert central.calls("BootNotification")[0][0] < first_heartbeat

    async def test_a_changed_heartbeat_interval_applies_at_once(self, server: Server) -> None:
        """ChangeConfiguration HeartbeatInterval is Accepted and the next Heartbeat keeps to it."""
        central = Central(server, interval=3600)  # no heartbeat for an hour...
        hooks = Hooks()
        client = Client("CP1")
        session = new_session(server, hooks, client=client, answer_configuration=True)
        async with running(session):
            await hooks.until("boot")
            assert central.calls("Heartbeat") == []
            change = {"key": "HeartbeatInterval", "value": "1"}
            assert await central.send("ChangeConfiguration", change) == {"status": "Accepted"}
            await central.count("Heartbeat", 1)  # ...until the interval is 1 s
            assert session.heartbeat_interval == 1.0
            answer = await central.send("GetConfiguration", {"key": ["HeartbeatInterval"]})
            assert answer["configurationKey"][0]["value"] == "1"
        # The session's handlers leave the client with it.
        assert client.listeners("GetConfiguration") == []
        assert client.listeners("ChangeConfiguration") == []

    async def test_an_exact_interval_holds_until_the_key_changes(self, server: Server) -> None:
        """heartbeat_interval wins over the boot's interval; a HeartbeatInterval set later wins over it."""
        Central(server, interval=5)
        hooks = Hooks()
        session = new_session(server, hooks, heartbeat_interval=0.25)
        async with running(session):
            await hooks.until("boot")
            assert session.heartbeat_interval == 0.25
            assert session.configuration.value("HeartbeatInterval") == "60"
            session.configuration.set("HeartbeatInterval", "42")
            assert session.heartbeat_interval == 42.0


class TestReconnection:
    """A dropped connection is opened again, and the charge point boots again on it."""

    async def test_reconnects_after_the_server_closes(self, server: Server) -> None:
        """The central system closes the connection: the same client connects and boots again."""
        central = Central(server)
        hooks = Hooks()
        client = Client("CP1")
        async with running(new_session(server, hooks, client=client)) as session:
            await hooks.until("boot")
            await central.connections[0].close(1011)
            await central.until(
                lambda: central.connections[1] if len(central.connections) > 1 else None
            )
            await hooks.until("boot", 2)
            assert len(central.calls("BootNotification", connection=2)) == 1
            assert session.client is client and client.is_open
            # The drop was not the session's doing: no before_close for it.
            assert hooks.names() == ["connect", "boot", "close", "connect", "boot"]

    async def test_a_factory_gives_each_connection_its_client(self, server: Server) -> None:
        """With a function for a client, each connection gets a new one."""
        central = Central(server)
        hooks = Hooks()
        made: list[Client] = []

        def factory() -> Client:
            made.append(Client("CP1"))
            return made[-1]

        async with running(new_session(server, hooks, client=factory)):
            await hooks.until("boot")
            await central.connections[0].close(1011)
            await hooks.until("boot", 2)
        assert len(made) == 2 and made[0] is not made[1]
        assert [client for name, client in hooks.log if name == "connect"] == made

    async def test_reconnect_ends_the_connection_on_purpose(self, server: Server) -> None:
        """reconnect(): the handler's answer goes first, before_close runs, close 1000, boot again."""
        central = Central(server)
        hooks = Hooks()
        client = Client("CP1")
        session = new_session(server, hooks, client=client)

        def on_reset(request: dict[str, Any]) -> dict[str, Any]:
            session.reconnect(delay=0.01)  # OCPP 1.6 §5.14: the charge point reboots
            return {"status": "Accepted"}

        client.on("Reset", on_reset)
        async with running(session):
            await hooks.until("boot")
            assert await central.send("Reset", {"type": "Soft"}) == {"status": "Accepted"}
            await hooks.until("boot", 2)
            assert await central.until(lambda: central.closed[0]) == 1000
            assert hooks.names() == ["connect", "boot", "before_close", "close", "connect", "boot"]

    async def test_gives_up_after_its_attempts(self) -> None:
        """With attempts=3 and nothing listening, three attempts fail and wait_closed raises."""
        with socket.socket() as probe:  # a port that nothing listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        attempts: list[Client] = []

        async def connect(client: Client) -> None:
            attempts.append(client)
            await client.connect(f"ws://127.0.0.1:{port}/ocpp")

        policy = Reconnect(initial=0.01, max_delay=0.01, jitter=0, attempts=3)
        session = ChargePointSession(
            Client("CP1"), "ws://unused", boot=BOOT, reconnect=policy, connect=connect
        )
        session.start()
        with pytest.raises(OSError):
            await wait(session.wait_closed())
        assert len(attempts) == 3
        assert session.state is SessionState.CLOSED
        await session.close()  # nothing left to do, and no error

    async def test_without_reconnect_a_drop_ends_the_session(self, server: Server) -> None:
        """reconnect=False: when the connection drops, the session ends, quietly."""
        central = Central(server)
        hooks = Hooks()
        async with running(new_session(server, hooks, reconnect=False)) as session:
            await hooks.until("boot")
            await central.connections[0].close(1011)
            await wait(session.wait_closed())
            assert session.state is SessionState.CLOSED
            assert len(central.connections) == 1


class TestAfterReply:
    """OCPP 1.6 §5.17: a TriggerMessage is answered first, then the message asked for is sent."""

    async def test_trigger_answer_precedes_the_triggered_message(self, server: Server) -> None:
        """The CALLRESULT to TriggerMessage leaves before the Heartbeat it triggers, on both ends."""
        central = Central(server)
        hooks = Hooks()
        client = Client("CP1")
        sent: list[list[Any]] = []
        client.on("message", lambda d, text: sent.append(json.loads(text)) if d == "out" else None)
        session = new_session(server, hooks, client=client)

        def on_trigger(request: dict[str, Any]) -> dict[str, Any]:
            session.after_reply(lambda: client.call_request("Heartbeat", {}))
            return {"status": "Accepted"}

        client.on("TriggerMessage", on_trigger)
        async with running(session):
            await hooks.until("boot")
            answer = await central.send("TriggerMessage", {"requestedMessage": "Heartbeat"})
            assert answer == {"status": "Accepted"}
            await central.count("Heartbeat", 1)
            trigger_id = next(
                f[2][1] for f in central.frames if f[1] == "out" and f[2][2:3] == ["TriggerMessage"]
            )
            answered_at = next(
                i
                for i, f in enumerate(central.frames)
                if f[1] == "in" and f[2][:2] == [CALLRESULT, trigger_id]
            )
            assert answered_at < central.calls("Heartbeat")[0][0]
            result_sent = sent.index(next(f for f in sent if f[:2] == [CALLRESULT, trigger_id]))
            heartbeat_sent = next(
                i for i, f in enumerate(sent) if f[0] == CALL and f[2] == "Heartbeat"
            )
            assert result_sent < heartbeat_sent

    async def test_a_coroutine_runs_after_the_reply(self, server: Server) -> None:
        """after_reply takes a coroutine too: it runs, after the answer, in a task of the connection."""
        central = Central(server)
        hooks = Hooks()
        client = Client("CP1")
        answers: list[list[Any]] = []
        client.on(
            "message", lambda d, text: answers.append(json.loads(text)) if d == "out" else None
        )
        session = new_session(server, hooks, client=client)
        done: asyncio.Future[list[list[Any]]] = asyncio.get_running_loop().create_future()

        async def work() -> None:
            done.set_result([f for f in answers if f[0] == CALLRESULT])

        def on_trigger(request: dict[str, Any]) -> dict[str, Any]:
            session.after_reply(work())
            return {"status": "Accepted"}

        client.on("TriggerMessage", on_trigger)
        async with running(session):
            await hooks.until("boot")
            await central.send("TriggerMessage", {"requestedMessage": "StatusNotification"})
            # When the work ran, the answer had been handed to the connection.
            assert [f[2] for f in await wait(done)] == [{"status": "Accepted"}]

    async def test_without_a_connection_the_work_is_dropped(self) -> None:
        """after_reply with no connection open runs nothing, and leaves no coroutine unawaited."""
        session = ChargePointSession(Client("CP1"), "ws://unused", boot=BOOT)
        ran: list[bool] = []

        async def work() -> None:
            ran.append(True)

        session.after_reply(work())
        await asyncio.sleep(0)
        assert ran == []
        with pytest.raises(ocpp16.ProtocolStateError):
            session.spawn(work())


def _pending_tasks_of(*owners: object) -> list[asyncio.Task[Any]]:
    """The running tasks whose coroutine is a method of one of ``owners``, or of ocpp16.chargepoint."""
    found = []
    for task in asyncio.all_tasks():
        coroutine = task.get_coro()
        frame = getattr(coroutine, "cr_frame", None)
        if frame is None:
            continue
        if frame.f_locals.get("self") in owners or frame.f_code.co_filename == inspect.getfile(
            chargepoint_module
        ):
            found.append(task)
    return found


class TestClose:
    """close() stops every loop and task of the session and returns once nothing of it runs."""

    async def test_close_leaves_no_task_running(self, server: Server) -> None:
        """After close(): the session is CLOSED, its tasks and the client's are all done."""
        central = Central(server)
        hooks = Hooks()
        client = Client("CP1")
        session = new_session(server, hooks, client=client, heartbeat_interval=0.05)
        session.start()
        await hooks.until("boot")
        await central.count("Heartbeat", 2)
        spawned = session.spawn(asyncio.sleep(3600))
        assert _pending_tasks_of(session, client)  # the run, the heartbeats, the reader...
        await wait(session.close())
        assert session.state is SessionState.CLOSED
        assert spawned.cancelled()
        assert _pending_tasks_of(session, client) == []
        assert not client.is_open and session.client is None
        assert hooks.names() == ["connect", "boot", "before_close", "close"]
        assert await central.until(lambda: central.closed[0]) == 1000

    @pytest.mark.parametrize("phase", ["waiting", "idle"])
    async def test_close_cuts_a_wait_short(self, phase: str) -> None:
        """close() while waiting to reconnect (or before start) returns at once, CLOSED."""
        failed = asyncio.Event()

        async def connect(client: Client) -> None:
            failed.set()
            raise ConnectionRefusedError("nobody there")

        policy = Reconnect(initial=3600, max_delay=3600)
        session = ChargePointSession(
            Client("CP1"), "ws://unused", boot=BOOT, reconnect=policy, connect=connect
        )
        if phase == "waiting":
            session.start()
            await wait(failed.wait())
            await asyncio.sleep(0)
            assert session.state is SessionState.WAITING
        await wait(session.close())
        assert session.state is SessionState.CLOSED
        assert _pending_tasks_of(session) == []
        with pytest.raises(ocpp16.ProtocolStateError):
            session.start()

    async def test_close_from_a_task_of_the_session_is_refused(self, server: Server) -> None:
        """close() awaited inside the session's own task would wait for itself: RuntimeError."""
        Central(server)
        hooks = Hooks()
        async with running(new_session(server, hooks)) as session:
            await hooks.until("boot")
            with pytest.raises(RuntimeError, match="wait for itself"):
                await wait(session.spawn(session.close()))


class TestSessionOptions:
    """The options are checked when the session is made."""

    @pytest.mark.parametrize(
        ("options", "error"),
        [
            ({"reconnect": 3}, TypeError),
            ({"heartbeat_interval": 0}, ValueError),
            ({"heartbeat_interval": float("nan")}, ValueError),
            ({"stable_after": -1}, ValueError),
            ({"configuration": Configuration()}, ValueError),
            (
                {"configuration": Configuration({"HeartbeatInterval": ConfigurationKey("x")})},
                ValueError,
            ),
        ],
    )
    def test_bad_options_are_refused(self, options: dict[str, Any], error: type[Exception]) -> None:
        """A wrong option is a clear error at once, not a failure later."""
        with pytest.raises(error):
            ChargePointSession(Client("CP1"), "ws://unused", boot=BOOT, **options)

    def test_a_client_or_a_function(self) -> None:
        """The client is a Client or a function making one; anything else is a TypeError."""
        with pytest.raises(TypeError, match="Client"):
            ChargePointSession("CP1", "ws://unused", boot=BOOT)  # type: ignore[arg-type]

    def test_default_configuration_has_heartbeat_interval(self) -> None:
        """Without a configuration, the session keeps HeartbeatInterval alone, 60 s."""
        session = ChargePointSession(Client("CP1"), "ws://unused", boot=BOOT)
        assert list(session.configuration) == ["HeartbeatInterval"]
        assert session.heartbeat_interval == 60.0
        assert session.state is SessionState.IDLE and session.client is None


def test_the_module_is_public_and_documented() -> None:
    """ocpp16.chargepoint declares __all__, documents each name, and the root re-exports them."""
    assert chargepoint_module.__doc__
    for name in chargepoint_module.__all__:
        value = getattr(chargepoint_module, name)
        assert getattr(ocpp16, name) is value, name
        assert name in ocpp16.__all__
        if inspect.isclass(value):
            assert inspect.getdoc(value), name


async def test_an_ocpp_error_in_a_boot_call_is_retried(server: Server) -> None:
    """A BootNotification answered with a CALLERROR is sent again after the retry delay."""
    central = Central(server)
    refused: list[bool] = []

    def refuse_once(request: dict[str, Any]) -> dict[str, Any]:
        if not refused:
            refused.append(True)
            raise OcppError("InternalError", "database warming up")
        return {"status": "Accepted", "interval": 3600, "currentTime": NOW}

    def answer_boots(conn: ClientBase) -> None:
        conn.remove_all_listeners("BootNotification")
        conn.on("BootNotification", refuse_once)

    server.on("connection", answer_boots)
    hooks = Hooks()
    session = new_session(server, hooks, boot_retry_delay=lambda answer: 0.01)
    async with running(session):
        await hooks.until("boot")
    assert refused == [True]
    assert len(central.calls("BootNotification")) == 2


class TestReconnectingClient:
    """A Client made with reconnect reconnects by itself; the session follows its connections."""

    async def test_follows_the_clients_own_reconnection(self, server: Server) -> None:
        """After a drop the client reconnects itself; BootNotification goes first, before its queue (OCPP 1.6 §4.2.1)."""
        central = Central(server)
        server.on("connection", lambda conn: conn.on("StopTransaction", lambda request: {}))
        hooks = Hooks()
        client = Client("CP1", reconnect=Reconnect(initial=0.05, jitter=0.0))
        waits: list[type[BaseException]] = []
        client.on("reconnecting", lambda attempt, delay, error: waits.append(type(error)))
        stops: list[asyncio.Future[dict[str, Any]]] = []
        stop = {"transactionId": 7, "meterStop": 10, "timestamp": NOW}
        # Made offline: the offline queue keeps it for the next connection.
        client.on(
            "close", lambda code, reason: stops.append(client.call_request("StopTransaction", stop))
        )
        async with running(new_session(server, hooks, client=client)) as session:
            await hooks.until("boot")
            await central.connections[0].close(1011)
            await hooks.until("boot", 2)
            assert await wait(stops[0]) == {}
            assert session.client is client and client.is_open
            actions = [
                f[2][2] for f in central.frames if f[0] == 2 and f[1] == "in" and f[2][0] == CALL
            ]
            assert actions[:2] == ["BootNotification", "StopTransaction"]
        # The client's own backoff, not a new connect() of the session's.
        assert waits == [ConnectionClosed]
        assert hooks.names()[:5] == ["connect", "boot", "close", "connect", "boot"]
        assert [client] * 5 == [c for _, c in hooks.log][:5]

    async def test_close_stops_its_reconnecting(self, server: Server) -> None:
        """close() while the client waits to reconnect: the client stops, and may connect anew."""
        central = Central(server)
        hooks = Hooks()
        client = Client("CP1", reconnect=Reconnect(initial=60.0, jitter=0.0))
        waiting = asyncio.get_running_loop().create_future()
        client.on("reconnecting", lambda *args: waiting.done() or waiting.set_result(None))
        session = new_session(server, hooks, client=client)
        async with running(session):
            await hooks.until("boot")
            await central.connections[0].close(1011)
            await wait(waiting)  # a minute before the next attempt
        assert session.state is SessionState.CLOSED and not client.is_open
        # Nothing of the client runs: it connects again as a new one would.
        await wait(client.connect(url(server)))
        await wait(client.close())
        assert len(central.connections) == 2

    async def test_a_pending_boot_is_asked_again_by_the_client_alone(self, server: Server) -> None:
        """OCPP 1.6 §4.2.1: after Pending the client sends BootNotification again; the session adds none."""
        central = Central(server, boots=("Pending",))
        hooks = Hooks()
        client = Client("CP1", reconnect=FAST)
        async with running(new_session(server, hooks, client=client)) as session:
            await hooks.until("boot")
            assert session.state is SessionState.ONLINE
            assert hooks.boots[0]["status"] == "Accepted"
            assert len(central.calls("BootNotification")) == 2
