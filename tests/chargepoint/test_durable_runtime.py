"""The durable charge point at run time: the backoff over quick drops, and the §9.1 keys changed live.

Against a bare central system on 127.0.0.1 (``raw_central``) that records every
CALL and answers as each test needs. Every wait is on an event or a future
within TIMEOUT; the backoff and retry intervals are short.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ocpp16 import Client, ConnectionClosed, OcppError, Reconnect
from tests.chargepoint.raw_central import CLOSE, RawCentralSystem, error
from tests.helpers import NOW_ISO, wait


def stop(transaction: int) -> dict[str, Any]:
    """A StopTransaction payload."""
    return {"transactionId": transaction, "meterStop": 10, "timestamp": NOW_ISO}


class TestStableAfter:
    """Reconnect(stable_after=...): a connection that drops at once does not start the backoff over."""

    async def test_quick_drops_lengthen_the_wait(self) -> None:
        """A central system that closes each connection at once: the waits after the drops double."""
        central = await RawCentralSystem(lambda frame, n: CLOSE).start()
        policy = Reconnect(initial=0.01, factor=2.0, max_delay=1.0, jitter=0.0, stable_after=60)
        client = Client("CP1", reconnect=policy, boot_gate=False)
        waits: list[tuple[int, float, type[BaseException]]] = []
        three = asyncio.get_running_loop().create_future()

        def on_reconnecting(attempt: int, delay: float, error: BaseException) -> None:
            waits.append((attempt, delay, type(error)))
            if len(waits) == 3 and not three.done():
                three.set_result(None)

        client.on("reconnecting", on_reconnecting)
        # Each connection closes at the first CALL, a Heartbeat made as it opens.
        client.on("connect", lambda: client.call_request("Heartbeat").add_done_callback(_spent))
        try:
            await wait(client.connect(central.url))
            await wait(three)
        finally:
            await wait(client.close())
            await central.stop()
        assert waits == [
            (1, 0.01, ConnectionClosed),
            (2, 0.02, ConnectionClosed),
            (3, 0.04, ConnectionClosed),
        ]

    @pytest.mark.parametrize("value", [-1, float("nan"), "30", True])
    def test_out_of_range_is_a_value_error(self, value: Any) -> None:
        """stable_after is a finite number of seconds, 0 or more."""
        with pytest.raises(ValueError, match=r"Reconnect\.stable_after"):
            Reconnect(stable_after=value)

    def test_by_default_every_connection_starts_it_over(self) -> None:
        """Reconnect().stable_after is 0: the behaviour of a client made without it stays."""
        assert Reconnect().stable_after == 0.0


class TestLiveOptions:
    """What a Client tells of its durable options, and the §9.1 keys a central system may change."""

    def test_a_plain_client_has_none(self) -> None:
        """Without reconnect or store: no policy, no boot gate, no retry options, and none to set."""
        client = Client("CP1")
        assert client.reconnect_policy is None and client.boot_gate is False
        assert client.transaction_message_attempts is None
        assert client.transaction_message_retry_interval is None
        with pytest.raises(ValueError, match="no queue"):
            client.transaction_message_attempts = 2

    def test_a_durable_client_tells_its_options(self) -> None:
        """With reconnect: its Reconnect, the boot gate on, the attempts and interval given."""
        policy = Reconnect(initial=2.0)
        client = Client(
            "CP1",
            reconnect=policy,
            transaction_message_attempts=4,
            transaction_message_retry_interval=5,
        )
        assert client.reconnect_policy is policy and client.boot_gate is True
        assert client.transaction_message_attempts == 4
        assert client.transaction_message_retry_interval == 5.0

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("transaction_message_attempts", 0),
            ("transaction_message_attempts", 1.5),
            ("transaction_message_retry_interval", -1),
            ("transaction_message_retry_interval", "10"),
        ],
    )
    def test_a_value_out_of_range_is_refused(self, name: str, value: Any) -> None:
        """The setters check as the constructor does; the value in force stays."""
        client = Client("CP1", reconnect=True)
        before = getattr(client, name)
        with pytest.raises(ValueError, match=name):
            setattr(client, name, value)
        assert getattr(client, name) == before

    async def test_fewer_attempts_apply_to_a_call_already_queued(self) -> None:
        """OCPP 1.6 §9.1: TransactionMessageAttempts lowered while a CALL is retried applies to it."""
        central = await RawCentralSystem(lambda frame, n: error(frame, "InternalError")).start()
        client = Client(
            "CP1",
            reconnect=Reconnect(initial=0.01, jitter=0.0),
            boot_gate=False,
            transaction_message_attempts=10,
            transaction_message_retry_interval=0.5,
        )
        dropped = asyncio.get_running_loop().create_future()
        client.on("message_dropped", lambda *args: dropped.done() or dropped.set_result(args))
        try:
            await wait(client.connect(central.url))
            first = client.call_request("StopTransaction", stop(5))
            await central.wait_calls(1)
            # In the wait before the second attempt: it is the last one now.
            client.transaction_message_attempts = 2
            with pytest.raises(OcppError, match="InternalError"):
                await wait(first)
            action, _, _ = await wait(dropped)
        finally:
            await wait(client.close())
            await central.stop()
        assert action == "StopTransaction"
        assert central.actions() == ["StopTransaction", "StopTransaction"]
        assert client.transaction_message_attempts == 2


def _spent(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
