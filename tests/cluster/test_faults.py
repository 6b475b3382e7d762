"""RedisCluster's fault paths: Redis down at start or mid-call, nodes closing, odd messages."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import pytest

from ocpp16 import ClusterUnavailable, Ocpp16Error, OcppError, Server
from ocpp16.cluster import RedisCluster
from tests.helpers import TIMEOUT, connect_pair, until, wait
from tests.redis_server import RedisProcess

SOFT = {"type": "Soft"}
ACCEPTED = {"status": "Accepted"}


def channel(node_id: str) -> str:
    """A node's channel, as RedisCluster names it."""
    return "ocpp16:node:" + hashlib.sha256(node_id.encode()).hexdigest()


async def located(server: Server, cp_id: str, node: str | None) -> None:
    """Wait until ``server`` locates ``cp_id`` on ``node``."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            try:
                if await server.locate(cp_id) == node:
                    return
            except ClusterUnavailable:
                pass
            await asyncio.sleep(0.02)


async def test_a_node_started_without_redis_serves_and_registers_when_it_comes(
    nodes: Any, redis_server: RedisProcess
) -> None:
    """Redis down at start: the node listens and serves; once Redis is up, it registers."""
    redis_server.stop()
    a = await nodes("a", ttl=0.6, duplicate_id="reject")
    caller = await nodes("caller", listen=False)
    assert not a.cluster.available
    client, _ = await connect_pair(a, "CP1")  # "reject" decides alone without Redis
    client.on("Reset", lambda request: ACCEPTED)
    try:
        assert await wait(a.call_request("CP1", "Reset", SOFT)) == ACCEPTED
        assert await a.locate("CP1") == "a"
        with pytest.raises(ClusterUnavailable):
            await a.connected_ids()
        with pytest.raises(ClusterUnavailable):
            await wait(caller.call_request("CP1", "Reset", SOFT, timeout=30))
        redis_server.start()
        await located(caller, "CP1", "a")  # registered again by its heartbeat
        assert a.cluster.available
        assert await wait(caller.call_request("CP1", "Reset", SOFT)) == ACCEPTED
    finally:
        await client.close()


async def test_a_call_in_flight_when_redis_goes_fails_with_cluster_unavailable(
    nodes: Any, redis_server: RedisProcess
) -> None:
    """Redis gone while a remote call waits for its answer: it fails, not at its timeout."""
    a = await nodes("a")
    b = await nodes("b")
    client, _ = await connect_pair(a, "CP1")
    answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def late(request: Any) -> Any:
        return await answer

    client.on("Reset", late)
    try:
        call = b.call_request("CP1", "Reset", SOFT, timeout=30)
        await until(lambda: len(a.cluster._serving) == 1)
        redis_server.stop()
        with pytest.raises(ClusterUnavailable):
            await wait(call)
        answer.set_result(ACCEPTED)  # A's answer cannot be published: dropped, no harm
        await until(lambda: not a.cluster._serving)
        assert client.is_open
    finally:
        if not answer.done():
            answer.set_result(ACCEPTED)
        await client.close()


async def test_closing_a_node_ends_its_remote_calls(nodes: Any) -> None:
    """Remote calls sent or still waiting their turn end with ClusterUnavailable at close()."""
    a = await nodes("a")
    b = await nodes("b")
    client, _ = await connect_pair(a, "CP1")
    never: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def hang(request: Any) -> Any:
        return await never

    client.on("Reset", hang)
    try:
        sent = b.call_request("CP1", "Reset", SOFT, timeout=30)
        await until(lambda: len(a.cluster._serving) == 1)
        waiting = [b.call_request("CP1", "Reset", SOFT, timeout=30) for _ in range(3)]
        await wait(b.close())
        for call in [sent, *waiting]:
            with pytest.raises(ClusterUnavailable, match="closed"):
                await wait(call)
        with pytest.raises(ClusterUnavailable, match="closed"):
            await b.call_request("CP1", "Reset", SOFT)
    finally:
        never.set_result(ACCEPTED)
        await client.close()


async def test_a_cluster_closed_alone_unregisters_its_charge_points(nodes: Any) -> None:
    """RedisCluster.close() with charge points still connected removes their entries at once."""
    a = await nodes("a", ttl=60.0)
    caller = await nodes("caller", listen=False)
    client, _ = await connect_pair(a, "CP1")
    try:
        assert await caller.locate("CP1") == "a"
        await a.cluster.close()
        await a.cluster.close()  # idempotent
        await a.cluster.start()  # a closed cluster does not start again
        assert await caller.locate("CP1") is None
    finally:
        await client.close()


async def test_odd_but_wellformed_messages_are_answered_or_ignored(
    nodes: Any, redis_server: RedisProcess
) -> None:
    """A call for a charge point not here answers not_connected; stray kicks/cancels do nothing."""
    import redis.asyncio as aioredis

    a = await nodes("a")
    client, _ = await connect_pair(a, "CP1")
    client.on("Reset", lambda request: ACCEPTED)
    raw = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    inbox = raw.pubsub(ignore_subscribe_messages=True)
    try:
        await inbox.subscribe(channel("raw"))
        call = {"t": "call", "id": "x1", "from": "raw", "cp": "nobody", "action": "Reset"}
        for message in [
            {"t": "kick", "cp": "nobody", "node": "raw"},
            {"t": "cancel", "id": "unknown", "from": "raw"},
            {**call, "payload": SOFT, "timeout": None},
        ]:
            assert await raw.publish(channel("a"), json.dumps(message)) == 1
        async with asyncio.timeout(TIMEOUT):
            while (reply := await inbox.get_message(timeout=1.0)) is None:
                pass
        assert json.loads(reply["data"]) == {"t": "error", "id": "x1", "kind": "not_connected"}
        assert client.is_open
    finally:
        await inbox.aclose()  # type: ignore[no-untyped-call]
        await raw.aclose()
        await client.close()


@pytest.mark.parametrize(
    "junk",
    [
        {"t": "call", "id": "x", "from": "raw", "cp": "CP1", "action": "Reset", "payload": [],
         "timeout": None},
        {"t": "call", "id": "x", "from": "raw", "cp": "CP1", "action": "Reset", "payload": {},
         "timeout": -1},
        {"t": "call", "id": "x", "from": "raw", "cp": "CP1", "action": "Reset", "payload": {},
         "timeout": True},
        {"t": "cancel", "id": 5, "from": "raw"},
    ],
)  # fmt: skip
async def test_a_malformed_call_or_cancel_is_dropped(
    nodes: Any, redis_server: RedisProcess, junk: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A call with a bad payload or timeout, or a cancel with a bad id, is logged and dropped."""
    import redis.asyncio as aioredis

    a = await nodes("a")
    b = await nodes("b")
    client, _ = await connect_pair(a, "CP1")
    client.on("Reset", lambda request: ACCEPTED)
    raw = aioredis.Redis.from_url(redis_server.url)
    try:
        assert await raw.publish(channel("a"), json.dumps(junk)) == 1
        assert await wait(b.call_request("CP1", "Reset", SOFT)) == ACCEPTED
        assert "dropped a malformed message" in caplog.text
    finally:
        await raw.aclose()
        await client.close()


async def test_answers_that_cannot_be_read_fail_the_call_clearly() -> None:
    """A result without an object payload fails its call with an Ocpp16Error; late ones are ignored."""
    cluster = RedisCluster("redis://127.0.0.1:1/0", node_id="a")
    Server(cluster=cluster)
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    cluster._pending["c1"] = (future, "CP1")
    cluster._on_message(json.dumps({"t": "result", "id": "c1", "payload": [1]}))
    with pytest.raises(Ocpp16Error, match="malformed answer"):
        await future
    cluster._on_message(json.dumps({"t": "result", "id": "c1", "payload": {}}))  # late
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    done.cancel()
    cluster._pending["c2"] = (done, "CP1")
    cluster._on_message(json.dumps({"t": "result", "id": "c2", "payload": {}}))
    assert "c2" not in cluster._pending


async def test_an_unencodable_payload_fails_its_remote_call(nodes: Any) -> None:
    """A payload that is not JSON (validation off) fails the remote call, never hangs it."""
    a = await nodes("a")
    caller = await nodes("caller", listen=False, validation="off")
    client, _ = await connect_pair(a, "CP1")
    try:
        with pytest.raises(ClusterUnavailable, match="failed"):
            await wait(caller.call_request("CP1", "DataTransfer", {"vendorId": "v", "data": {1}}))
    finally:
        await client.close()


async def test_a_vendor_action_goes_to_the_owning_node_unchecked(nodes: Any) -> None:
    """An action without a schema passes the calling node's strict check; the peer answers it."""
    a = await nodes("a")
    caller = await nodes("caller", listen=False)
    client, _ = await connect_pair(a, "CP1")
    try:
        with pytest.raises(OcppError) as info:
            await wait(caller.call_request("CP1", "AcmeReboot", {"now": 1}))
        assert info.value.code == "NotImplemented"  # carried back across nodes
    finally:
        await client.close()
