"""Limits for a server on the open internet: bad-message budget, caps, duplicate ids, keepalive."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect as ws_connect

from ocpp16 import ClientBase, ConnectionClosed, Server
from tests.helpers import (
    NOW,
    connect_pair,
    future_and_setter,
    raw_peer,
    recv_json,
    url,
    wait,
)


class TestBadMessageBudget:
    """bad_message_budget: refused frames a connection may send per minute before it is closed."""

    @pytest.mark.parametrize("limited", [{"bad_message_budget": 3}], indirect=True)
    async def test_over_budget_closes_with_1002(self, limited: Server) -> None:
        """Three bad frames are tolerated; the fourth closes that connection with 1002, no other."""
        other, _ = await connect_pair(limited, "OTHER")
        async with raw_peer(limited) as ws:
            peer = limited.clients["CP1"]
            closed, on_close = future_and_setter()
            peer.on("close", on_close)
            for i in range(3):
                await ws.send(f"garbage {i}")
            await ws.send('[2,"ok","Heartbeat",{}]')
            assert await recv_json(ws) == [3, "ok", NOW]  # still served
            await ws.send("one too many")
            assert (await wait(closed))[0] == 1002
        assert await wait(other.call_request("Heartbeat")) == NOW
        await other.close()

    @pytest.mark.parametrize("limited", [{"bad_message_budget": 1}], indirect=True)
    async def test_budget_is_per_minute(self, limited: Server) -> None:
        """The count starts again each minute: a charger that errs now and then is not cut off."""
        async with raw_peer(limited) as ws:
            peer = limited.clients["CP1"]
            await ws.send("bad")
            await ws.send('[2,"a","Heartbeat",{}]')
            assert (await recv_json(ws))[1] == "a"
            peer._bad_since -= 61  # a minute has passed
            await ws.send("bad again")
            await ws.send('[2,"b","Heartbeat",{}]')
            assert (await recv_json(ws))[1] == "b"
            assert peer.is_open


class TestKeepalive:
    """Ping interval and pong timeout, per server and per connection."""

    @pytest.mark.parametrize(
        "limited",
        [{"ping_interval": 0.05, "ping_timeout": 0.1, "close_timeout": 0.2}],
        indirect=True,
    )
    async def test_silent_peer_is_closed_and_its_calls_fail(self, limited: Server) -> None:
        """A peer that stops answering pings is dropped after ping_timeout + close_timeout; its calls fail."""
        async with ws_connect(
            f"{url(limited)}/CP1", subprotocols=["ocpp1.6"], close_timeout=0.2
        ) as ws:  # type: ignore[list-item]
            while "CP1" not in limited.clients:
                await asyncio.sleep(0)
            peer = limited.clients["CP1"]
            pending = peer.call_request("ClearCache", timeout=60)
            ws.transport.pause_reading()  # no more pongs from this charger
            with pytest.raises(ConnectionClosed) as info:
                async with asyncio.timeout(5):
                    await pending
            assert info.value.code == 1011  # RFC 6455: keepalive ping timeout

    @pytest.mark.parametrize(
        "limited", [{"ping_interval": 0.05, "ping_timeout": 0.1}], indirect=True
    )
    async def test_per_connection_mode_for_chargers_that_never_answer(
        self, limited: Server
    ) -> None:
        """ping_timeout=None on one connection: pings still go out, silence never closes it."""

        def never_time_out(client: ClientBase) -> None:
            # Set as the connection arrives, before its first ping: a pong that a busy
            # machine delays past the server's 0.1 s before the test got to set it
            # would close the connection, and the test would prove nothing.
            client.ping_timeout = None

        limited.on("connection", never_time_out)
        async with ws_connect(
            f"{url(limited)}/CP1", subprotocols=["ocpp1.6"], close_timeout=0.2
        ) as ws:  # type: ignore[list-item]
            while "CP1" not in limited.clients:
                await asyncio.sleep(0)
            peer = limited.clients["CP1"]
            assert (peer.ping_interval, peer.ping_timeout) == (0.05, None)
            ws.transport.pause_reading()
            # Several ping intervals and pong timeouts pass with no pong: proving that nothing
            # happens needs time to pass, so this one sleep is the point of the test.
            await asyncio.sleep(0.5)
            assert peer.is_open
            ws.transport.resume_reading()
            await ws.send('[2,"1","Heartbeat",{}]')
            assert (await recv_json(ws))[:2] == [3, "1"]
