"""Options: checked once, applied to every connection of a Server, and to both ends of the WebSocket."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ocpp16 import (
    Client,
    ClientBase,
    ConnectionClosed,
    Options,
    Server,
)
from tests.helpers import (
    NOW,
    connect_pair,
    future_and_setter,
    raw_peer,
    recv_json,
    wait,
)

BOOT = {"chargePointVendor": "eParking", "chargePointModel": "NECU-T2"}
BOOT_OK = {"status": "Accepted", "interval": 60, "currentTime": "2024-05-01T12:00:00Z"}
STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}


class TestOptions:
    """Options are checked once, with a message that names the option."""

    @pytest.mark.parametrize(
        ("options", "named"),
        [
            ({"call_timeout": -1}, "call_timeout"),
            ({"handler_timeout": "30"}, "handler_timeout"),
            ({"call_concurrency": 0}, "call_concurrency"),
            ({"call_concurrency": 1.5}, "call_concurrency"),
            ({"ping_interval": 0}, "ping_interval"),
            ({"ping_timeout": "x"}, "ping_timeout"),
            ({"max_message_size": 0}, "max_message_size"),
            ({"validation_overrides": {"Heartbeat": "loud"}}, "validation mode"),
        ],
    )
    def test_bad_values_are_named(self, options: dict[str, Any], named: str) -> None:
        """Each bad option value is refused with its name in the message."""
        with pytest.raises(ValueError, match=named):
            Options(**options)

    def test_none_disables_keepalive_and_size_limit(self) -> None:
        """ping_interval, ping_timeout and max_message_size accept None."""
        options = Options(ping_interval=None, ping_timeout=None, max_message_size=None)
        assert (options.ping_interval, options.ping_timeout, options.max_message_size) == (
            None,
            None,
            None,
        )

    def test_validation_settable_before_connect(self) -> None:
        """A Client's validation can be set before it connects, and is checked."""
        client = Client("CP1")
        client.validation = "warn"
        client.validation_overrides = {"Reset": "off"}
        assert (client.validation, client.validation_overrides) == ("warn", {"Reset": "off"})
        with pytest.raises(ValueError):
            client.validation = "nope"  # type: ignore[assignment]
        assert client.remote_address is None and client.subprotocol is None and not client.is_open


class TestOptionsAndLogging:
    """Per-connection validation, and log records carrying the charge point id."""

    async def test_connection_listener_may_change_validation(self, server: Server) -> None:
        """A "connection" listener may set validation and validation_overrides of that connection."""

        def relax(client: ClientBase) -> None:
            client.validation_overrides = {"BootNotification": "off"}
            client.on("BootNotification", lambda request: BOOT_OK)

        server.on("connection", relax)
        async with raw_peer(server) as ws:
            await ws.send('[2,"1","BootNotification",{"odd":1}]')
            assert await recv_json(ws) == [3, "1", BOOT_OK]
            peer = server.clients["CP1"]
            peer.validation = "off"
            peer.on("Authorize", lambda request: {"idTagInfo": {"status": "Accepted"}})
            await ws.send('[2,"2","Authorize",{}]')
            assert (await recv_json(ws))[0] == 3
            peer.validation = "strict"
            await ws.send('[2,"3","Authorize",{}]')
            assert (await recv_json(ws))[:3] == [4, "3", "ProtocolError"]
            assert peer.validation_overrides == {"BootNotification": "off"}

    async def test_frames_logged_at_debug_with_cp_id(
        self, pair: tuple[Client, ClientBase], caplog: pytest.LogCaptureFixture
    ) -> None:
        """Every frame is logged at DEBUG as "< text" / "> text", each record carrying cp_id."""
        client, peer = pair
        peer.on("Heartbeat", lambda request: NOW)
        with caplog.at_level(logging.DEBUG, "ocpp16"):
            await wait(client.call_request("Heartbeat"))
        frames = [r for r in caplog.records if r.levelno == logging.DEBUG and r.name == "ocpp16"]
        messages = [r.getMessage() for r in frames]
        assert any(m.startswith("[CP1] > [2,") for m in messages)
        assert any(m.startswith("[CP1] < [3,") for m in messages)
        assert all(getattr(r, "cp_id", None) == "CP1" for r in frames)


async def test_websocket_options_reach_both_ends() -> None:
    """ping_interval, ping_timeout and max_message_size are applied to both ends' WebSockets."""
    options = {"ping_interval": 5.0, "ping_timeout": 7.0, "max_message_size": 4321}
    async with Server(**options) as server:
        await server.listen(0, host="127.0.0.1")
        client, peer = await connect_pair(server, **options)
        for end in (client, peer):
            assert (end.ping_interval, end.ping_timeout) == (5.0, 7.0)
        # A frame over max_message_size closes the receiving end's connection with 1009,
        # whichever end receives it.
        closed, on_close = future_and_setter()
        client.on("close", on_close)
        big = {"vendorId": "x", "data": "y" * 5000}
        failed = peer.call_request("DataTransfer", big)
        assert (await wait(closed))[0] == 1009
        with pytest.raises(ConnectionClosed):
            await wait(failed)
    async with Server(**options) as server:
        await server.listen(0, host="127.0.0.1")
        client, peer = await connect_pair(server, **options)
        closed, on_close = future_and_setter()
        peer.on("close", on_close)
        failed = client.call_request("DataTransfer", big)
        assert (await wait(closed))[0] == 1009
        with pytest.raises(ConnectionClosed):
            await wait(failed)
        await client.close()
