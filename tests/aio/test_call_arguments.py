"""call_request's arguments: a wrong one fails the returned future at once, never the call."""

from __future__ import annotations

import asyncio
import math
import types
from typing import Any

import pytest

from ocpp16 import Action, Client, ClientBase, NotConnected, Server
from tests.helpers import NOW, wait

BAD_ARGUMENTS = [
    pytest.param(("Heartbeat",), {"timeout": "5"}, TypeError, "timeout", id="timeout-str"),
    pytest.param(("Heartbeat",), {"timeout": True}, TypeError, "timeout", id="timeout-bool"),
    pytest.param(("Heartbeat",), {"timeout": -1}, ValueError, "timeout", id="timeout-negative"),
    pytest.param(("Heartbeat",), {"timeout": 0}, ValueError, "timeout", id="timeout-zero"),
    pytest.param(("Heartbeat",), {"timeout": math.nan}, ValueError, "timeout", id="timeout-nan"),
    pytest.param(("Heartbeat",), {"timeout": math.inf}, ValueError, "timeout", id="timeout-inf"),
    pytest.param((5,), {}, TypeError, "action", id="action-int"),
    pytest.param((["Heartbeat"],), {}, TypeError, "action", id="action-list"),
    pytest.param(("Heartbeat", []), {}, TypeError, "payload", id="payload-list"),
    pytest.param(("Heartbeat", "{}"), {}, TypeError, "payload", id="payload-str"),
]


def sent_frames(client: ClientBase) -> list[str]:
    """Record the frames ``client`` sends."""
    frames: list[str] = []
    client.on(
        "message", lambda direction, text: frames.append(text) if direction == "out" else None
    )
    return frames


class TestConnectionCallRequest:
    """ClientBase.call_request with wrong arguments."""

    @pytest.mark.parametrize(("args", "kwargs", "error", "named"), BAD_ARGUMENTS)
    async def test_wrong_argument_fails_the_future(
        self,
        pair: tuple[Client, ClientBase],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        error: type[Exception],
        named: str,
    ) -> None:
        """The future returned has failed with an error naming the argument; nothing was sent."""
        client, peer = pair
        peer.on("Heartbeat", lambda request: NOW)
        frames = sent_frames(client)
        future = client.call_request(*args, **kwargs)
        assert future.done()
        with pytest.raises(error, match=named):
            future.result()
        assert frames == []
        # The connection is unharmed: the next CALL goes through.
        assert await wait(client.call_request("Heartbeat")) == NOW

    async def test_wrong_argument_on_a_closed_connection(
        self, pair: tuple[Client, ClientBase]
    ) -> None:
        """A wrong argument is reported as such even when the connection is closed."""
        client, _ = pair
        await client.close()
        with pytest.raises(ValueError, match="timeout"):
            await client.call_request("Heartbeat", timeout=-1)

    async def test_good_arguments_of_other_types(self, pair: tuple[Client, ClientBase]) -> None:
        """An Action, a read-only Mapping and an int timeout are fine."""
        client, peer = pair
        peer.on("Heartbeat", lambda request: NOW)
        peer.on("Authorize", lambda request: {"idTagInfo": {"status": "Accepted"}})
        assert await wait(client.call_request(Action.Heartbeat, timeout=5)) == NOW
        payload = types.MappingProxyType({"idTag": "TAG1"})
        reply = await wait(client.call_request("Authorize", payload, timeout=2.5))
        assert reply == {"idTagInfo": {"status": "Accepted"}}


class TestServerCallRequest:
    """Server.call_request(cp_id, ...) with wrong arguments."""

    @pytest.mark.parametrize(("args", "kwargs", "error", "named"), BAD_ARGUMENTS)
    async def test_wrong_argument_fails_the_future(
        self,
        pair: tuple[Client, ClientBase],
        server: Server,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        error: type[Exception],
        named: str,
    ) -> None:
        """The same rules through the server, whether the charge point is connected or not."""
        for cp_id in ("CP1", "nobody"):
            future = server.call_request(cp_id, *args, **kwargs)
            assert future.done()
            with pytest.raises(error, match=named):
                future.result()

    @pytest.mark.parametrize("cp_id", [1, None, b"CP1", ("CP1",)])
    async def test_cp_id_that_is_not_a_str(self, server: Server, cp_id: Any) -> None:
        """A cp_id that is not a str fails the future with TypeError naming cp_id."""
        future = server.call_request(cp_id, "Reset", {"type": "Soft"})
        assert future.done()
        with pytest.raises(TypeError, match="cp_id"):
            future.result()

    async def test_not_connected_still_fails_with_not_connected(self, server: Server) -> None:
        """Good arguments for a charge point that is not connected: NotConnected, as before."""
        with pytest.raises(NotConnected):
            await asyncio.wait_for(server.call_request("nobody", "Reset", {"type": "Soft"}), 5)
