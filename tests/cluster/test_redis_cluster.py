"""Several Server nodes sharing one real Redis: calls, presence, duplicates, faults, hostile ids."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from ocpp16 import (
    CallTimeout,
    ClientBase,
    ClusterUnavailable,
    HandshakeError,
    NotConnected,
    OcppError,
    Server,
    ValidationError,
)
from ocpp16.cluster import LocalCluster
from tests.helpers import TIMEOUT, connect_pair, until, wait
from tests.redis_server import RedisProcess

Factory = Callable[..., Server]


def answer_resets(peer: ClientBase) -> None:
    """Answer Reset on the charge point side."""
    peer.on("Reset", lambda request: {"status": "Accepted"})


async def test_a_call_from_another_node_returns_the_answer(nodes: Any) -> None:
    """A caller-only node reaches a charge point on a listening node and gets its answer."""
    a = await nodes("a")
    caller = await nodes("caller", listen=False)
    client, _ = await connect_pair(a, "CP1")
    client.on("Reset", lambda request: {"status": "Accepted"})
    try:
        async with asyncio.timeout(TIMEOUT):
            assert await caller.locate("CP1") == "a"
            assert await caller.connected_ids() == {"CP1": "a"}
            reply = await caller.call_request("CP1", "Reset", {"type": "Soft"})
        assert reply == {"status": "Accepted"}
    finally:
        await client.close()


async def test_a_callerror_keeps_code_description_and_details(nodes: Any) -> None:
    """A CALLERROR from a charge point on another node arrives with code, description, details."""
    a = await nodes("a")
    b = await nodes("b")
    client, _ = await connect_pair(a, "CP1")

    def refuse(request: Any) -> None:
        raise OcppError("NotSupported", "no resets here", {"why": ["x", 1]})

    client.on("Reset", refuse)
    try:
        async with asyncio.timeout(TIMEOUT):
            with pytest.raises(OcppError) as info:
                await b.call_request("CP1", "Reset", {"type": "Soft"})
        assert (info.value.code, info.value.description, info.value.details) == (
            "NotSupported",
            "no resets here",
            {"why": ["x", 1]},
        )
        assert type(info.value) is OcppError
    finally:
        await client.close()


async def test_the_callers_timeout_governs(nodes: Any) -> None:
    """A remote call whose charge point never answers fails with CallTimeout on the caller."""
    a = await nodes("a")
    b = await nodes("b")
    client, _ = await connect_pair(a, "CP1")
    never: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def hang(request: Any) -> Any:
        return await never

    client.on("Reset", hang)
    try:
        async with asyncio.timeout(TIMEOUT):
            with pytest.raises(CallTimeout):
                await b.call_request("CP1", "Reset", {"type": "Soft"}, timeout=0.3)
    finally:
        never.set_result({"status": "Accepted"})  # answered late: ignored
        await client.close()


async def test_validation_happens_on_the_calling_node(nodes: Any) -> None:
    """A remote call with a payload that breaks its schema fails before anything is sent."""
    caller = await nodes("caller", listen=False)
    with pytest.raises(ValidationError):
        await caller.call_request("CP1", "Reset", {"type": "Sideways"})


async def test_order_holds_across_nodes(nodes: Any) -> None:
    """Remote and local calls to one charge point are queued together, in order."""
    a = await nodes("a")
    b = await nodes("b")
    client, _ = await connect_pair(a, "CP1")
    seen: list[str] = []

    def record(request: Any) -> dict[str, Any]:
        seen.append(request["key"])
        return {"status": "Accepted"}

    client.on("ChangeConfiguration", record)
    try:
        async with asyncio.timeout(TIMEOUT):
            futures = [
                b.call_request("CP1", "ChangeConfiguration", {"key": f"k{i}", "value": "v"})
                for i in range(10)
            ]
            await asyncio.gather(*futures)
        assert seen == [f"k{i}" for i in range(10)]
    finally:
        await client.close()


async def test_a_charge_point_connected_nowhere_fails_with_not_connected(nodes: Any) -> None:
    """A call to an unknown id fails with NotConnected; locate says None."""
    await nodes("a")
    caller = await nodes("caller", listen=False)
    async with asyncio.timeout(TIMEOUT):
        with pytest.raises(NotConnected) as info:
            await caller.call_request("nobody", "Reset", {"type": "Soft"})
        assert info.value.cp_id == "nobody"
        assert await caller.locate("nobody") is None


async def test_a_clean_close_unregisters_at_once(nodes: Any) -> None:
    """A node closed cleanly is forgotten at once, with its charge points."""
    a = await nodes("a", ttl=60.0)
    caller = await nodes("caller", listen=False)
    client, _ = await connect_pair(a, "CP1")
    try:
        async with asyncio.timeout(TIMEOUT):
            assert await caller.locate("CP1") == "a"
            await a.close()
            assert await caller.locate("CP1") is None
            with pytest.raises(NotConnected):
                await caller.call_request("CP1", "Reset", {"type": "Soft"})
    finally:
        await client.close()


async def test_replace_closes_the_stale_connection_on_the_other_node(nodes: Any) -> None:
    """A charge point reconnecting to B while A holds it is served by B; A's closes with 1000."""
    a = await nodes("a")
    b = await nodes("b")
    caller = await nodes("caller", listen=False)
    stale, _ = await connect_pair(a, "CP1")
    closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    stale.on("close", lambda code, reason: closed.done() or closed.set_result(code))
    fresh, _ = await connect_pair(b, "CP1")
    fresh.on("Reset", lambda request: {"status": "Accepted"})
    try:
        async with asyncio.timeout(TIMEOUT):
            assert await closed == 1000
            while a.clients:
                await asyncio.sleep(0.01)
            assert await caller.locate("CP1") == "b"
            assert await caller.call_request("CP1", "Reset", {"type": "Soft"}) == {
                "status": "Accepted"
            }
    finally:
        await stale.close()
        await fresh.close()


async def test_reject_refuses_a_duplicate_on_another_node_with_409(nodes: Any) -> None:
    """Under "reject", an id connected on A is refused by B with HTTP 409."""
    a = await nodes("a", duplicate_id="reject")
    b = await nodes("b", duplicate_id="reject")
    client, _ = await connect_pair(a, "CP1")
    try:
        async with asyncio.timeout(TIMEOUT):
            while await b.locate("CP1") is None:
                await asyncio.sleep(0.01)
            with pytest.raises(HandshakeError) as info:
                await connect_pair(b, "CP1")
        assert info.value.status == 409
    finally:
        await client.close()


async def test_losing_redis_never_disturbs_local_work(
    nodes: Any, redis_server: RedisProcess
) -> None:
    """Redis down: local calls go on, remote calls fail fast; Redis back: remote calls work."""
    a = await nodes("a")
    b = await nodes("b")
    client, _ = await connect_pair(a, "CP1")
    client.on("Reset", lambda request: {"status": "Accepted"})
    accepted = {"status": "Accepted"}
    try:
        async with asyncio.timeout(TIMEOUT * 2):
            assert await b.call_request("CP1", "Reset", {"type": "Soft"}) == accepted
            redis_server.stop()
            for _ in range(20):
                assert await a.call_request("CP1", "Reset", {"type": "Soft"}) == accepted
            with pytest.raises(ClusterUnavailable):
                await b.call_request("CP1", "Reset", {"type": "Soft"})
            with pytest.raises(ClusterUnavailable):
                await b.connected_ids()
            assert await a.locate("CP1") == "a"  # its own charge points, without Redis
            redis_server.start()  # empty: the node must register again by itself
            while True:
                try:
                    reply = await b.call_request("CP1", "Reset", {"type": "Soft"})
                    break
                except (ClusterUnavailable, NotConnected):
                    await asyncio.sleep(0.05)
            assert reply == accepted
            assert await a.call_request("CP1", "Reset", {"type": "Soft"}) == accepted
            assert client.is_open
    finally:
        await client.close()


HOSTILE = ["*", "?", "[a-z]", "CP:1", "a b", "CP1*", "x" * 1000, "\\", "ocpp16:cp:*"]


@pytest.mark.parametrize("hostile", [*HOSTILE, "line\nbreak"])
async def test_hostile_ids_reach_no_other_entry(nodes: Any, hostile: str) -> None:
    """An id made of key-pattern characters matches no other charge point's entry."""
    a = await nodes("a")
    caller = await nodes("caller", listen=False)
    client, _ = await connect_pair(a, "CP1")
    try:
        async with asyncio.timeout(TIMEOUT):
            assert await caller.locate(hostile) is None
            with pytest.raises(NotConnected):
                await caller.call_request(hostile, "Reset", {"type": "Soft"})
            assert await caller.connected_ids() == {"CP1": "a"}
    finally:
        await client.close()


async def test_hostile_ids_connect_and_are_kept_apart(nodes: Any) -> None:
    """Charge points with hostile ids connect, are listed exactly, and are reached each alone."""
    a = await nodes("a")
    caller = await nodes("caller", listen=False)
    clients = []
    try:
        for i, cp_id in enumerate(HOSTILE):
            client, _ = await connect_pair(a, cp_id)
            client.on("DataTransfer", lambda request, i=i: {"status": "Accepted", "data": str(i)})
            clients.append(client)
        async with asyncio.timeout(TIMEOUT):
            assert await caller.connected_ids() == dict.fromkeys(HOSTILE, "a")
            for i, cp_id in enumerate(HOSTILE):
                reply = await caller.call_request(cp_id, "DataTransfer", {"vendorId": "v"})
                assert reply["data"] == str(i)
    finally:
        for client in clients:
            await client.close()


async def test_a_malformed_cluster_message_is_logged_and_dropped(
    nodes: Any, redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage on a node's channel is logged and dropped; the node keeps serving calls."""
    import redis.asyncio as aioredis

    a = await nodes("a")
    b = await nodes("b")
    client, _ = await connect_pair(a, "CP1")
    client.on("Reset", lambda request: {"status": "Accepted"})
    channel = "ocpp16:node:" + hashlib.sha256(b"a").hexdigest()
    raw = aioredis.Redis.from_url(redis_server.url)
    try:
        async with asyncio.timeout(TIMEOUT):
            for junk in [
                "not json",
                "[1, 2]",
                json.dumps({"t": "call"}),
                json.dumps({"t": "call", "id": 1, "from": [], "cp": {}, "action": 2}),
                json.dumps({"t": "kick", "cp": ["CP1"]}),
                json.dumps({"t": "result", "id": ["x"]}),
                json.dumps({"t": "weird"}),
                "\xff\x00",
            ]:
                assert await raw.publish(channel, junk) == 1
            assert await b.call_request("CP1", "Reset", {"type": "Soft"}) == {"status": "Accepted"}
        assert "dropped a malformed message" in caplog.text
    finally:
        await raw.aclose()
        await client.close()


async def test_the_local_cluster_answers_for_its_own_charge_points(server: Server) -> None:
    """Without Redis, locate and connected_ids cover the server's own charge points."""
    assert isinstance(server.cluster, LocalCluster)
    client, _ = await connect_pair(server, "CP1")
    try:
        assert await server.locate("CP1") == "local"
        assert await server.locate("CP2") is None
        assert await server.connected_ids() == {"CP1": "local"}
        with pytest.raises(NotConnected):
            await server.call_request("CP2", "Reset", {"type": "Soft"})
    finally:
        await client.close()


async def test_corrupt_entries_in_redis_are_ignored(nodes: Any, redis_server: RedisProcess) -> None:
    """Entries that are not a node's JSON, or name another id, are never read as presence."""
    import redis.asyncio as aioredis

    a = await nodes("a")
    caller = await nodes("caller", listen=False)
    client, _ = await connect_pair(a, "CP1")
    raw = aioredis.Redis.from_url(redis_server.url)

    def key(cp_id: str) -> str:
        return "ocpp16:cp:" + hashlib.sha256(cp_id.encode()).hexdigest()

    try:
        async with asyncio.timeout(TIMEOUT):
            await raw.set(key("X1"), "not json")
            await raw.set(key("X2"), "[1, 2]")
            await raw.set(key("X3"), json.dumps({"cp": "CP1", "node": "evil"}))
            await raw.set(key("X4"), json.dumps({"cp": 5, "node": "a"}))
            for cp_id in ("X1", "X2", "X3", "X4"):
                assert await caller.locate(cp_id) is None
            assert await caller.connected_ids() == {"CP1": "a"}
    finally:
        await raw.aclose()
        await client.close()


async def test_cancelling_a_remote_call_cancels_it_on_the_owning_node(nodes: Any) -> None:
    """A remote call cancelled by its caller leaves the owner's queue, as a local cancel does."""
    a = await nodes("a")
    b = await nodes("b")
    client, _ = await connect_pair(a, "CP1")
    seen: list[str] = []
    never: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def change(request: Any) -> dict[str, Any]:
        seen.append(request["key"])
        if request["key"] == "k0":
            await never  # the charge point never answers k0
        return {"status": "Accepted"}

    client.on("ChangeConfiguration", change)

    def call(key: str) -> asyncio.Future[Any]:
        return b.call_request("CP1", "ChangeConfiguration", {"key": key, "value": "v"}, timeout=30)

    try:
        first = call("k0")  # sent; holds the one place of call_concurrency=1
        await until(lambda: seen == ["k0"])
        queued, last = call("k1"), call("k2")  # wait in A's queue behind k0
        await until(lambda: len(a.cluster._serving) == 3)
        queued.cancel()  # never sent to the charge point
        first.cancel()  # its place is free: k2 goes, with k0 still unanswered
        assert await wait(last) == {"status": "Accepted"}
        assert seen == ["k0", "k2"]
        assert not a.cluster._serving
        early = call("early")
        early.cancel()  # cancelled before it left B: nothing reaches A
        assert await wait(call("after")) == {"status": "Accepted"}
        assert seen == ["k0", "k2", "after"]
    finally:
        never.set_result(None)  # k0's answer reaches A, which has no call for it any more
        await client.close()


async def test_close_ends_the_heartbeat_even_when_its_cancel_is_lost(nodes: Any) -> None:
    """close() ends the node's loops although a Redis call swallowed their cancel (Python 3.11)."""
    a = await nodes("a", ttl=0.3)
    cluster = a.cluster
    client, _ = await connect_pair(a, "CP1")
    entered = asyncio.Event()
    lost: list[bool] = []

    async def refresh(**arguments: Any) -> int:
        # What asyncio.wait_for does on 3.11 (in redis-py's send_packed_command) when
        # the cancel arrives just after its inner call finished: it returns the result.
        entered.set()
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            lost.append(True)
        return 1

    cluster._refresh = refresh
    try:
        await wait(entered.wait())
        tasks = set(cluster._tasks)
        await wait(a.close())
        assert lost == [True]
        assert all(task.done() for task in tasks)
    finally:
        await client.close()
