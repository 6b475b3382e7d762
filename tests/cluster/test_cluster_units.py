"""The cluster's arguments and the encoding of a call's outcome between nodes (no Redis)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from ocpp16 import (
    CallTimeout,
    ConnectionClosed,
    NotConnected,
    Ocpp16Error,
    OcppError,
    Server,
    ValidationError,
)
from ocpp16._redis_cluster import _answer, _error_of
from ocpp16.cluster import LocalCluster, RedisCluster

URL = "redis://127.0.0.1:1/0"  # never connected in these tests


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf"), "15"])
def test_a_bad_presence_ttl_is_refused(ttl: Any) -> None:
    """presence_ttl must be a positive finite number."""
    with pytest.raises(ValueError, match="presence_ttl"):
        RedisCluster(URL, presence_ttl=ttl)


@pytest.mark.parametrize("node_id", ["", 5])
def test_a_bad_node_id_is_refused(node_id: Any) -> None:
    """node_id must be a non-empty str; without one a random name is made."""
    with pytest.raises(ValueError, match="node_id"):
        RedisCluster(URL, node_id=node_id)
    assert RedisCluster(URL).node_id.startswith("node-")


def test_a_cluster_serves_one_server() -> None:
    """A cluster bound to a server refuses a second one; an unbound one says so."""
    cluster = LocalCluster()
    with pytest.raises(RuntimeError, match="not bound"):
        _ = cluster.server
    Server(cluster=cluster)
    with pytest.raises(ValueError, match="another Server"):
        Server(cluster=cluster)


def roundtrip(exc: BaseException | None, result: Any = None) -> Any:
    """Encode a finished future's outcome as the owning node does; decode it as the caller."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    if exc is None:
        future.set_result(result)
    else:
        future.set_exception(exc)
    message = json.loads(json.dumps(_answer("id1", future)))
    if message["t"] == "result":
        return message["payload"]
    return _error_of(message, "CP1")


async def test_every_failure_crosses_nodes_with_its_fields() -> None:
    """Each failure of a call arrives on the calling node as the same type with its fields."""
    assert roundtrip(None, {"status": "Accepted"}) == {"status": "Accepted"}
    error = roundtrip(OcppError("NotSupported", "no", {"a": 1}))
    assert (type(error), error.code, error.description, error.details) == (
        OcppError,
        "NotSupported",
        "no",
        {"a": 1},
    )
    error = roundtrip(ValidationError("TypeConstraintViolation", "bad", path="$.x", keyword="type"))
    assert isinstance(error, ValidationError)
    assert (error.code, error.path, error.keyword) == ("TypeConstraintViolation", "$.x", "type")
    error = roundtrip(CallTimeout("Reset", "m1", 2.5))
    assert isinstance(error, CallTimeout)
    assert (error.action, error.message_id, error.timeout) == ("Reset", "m1", 2.5)
    error = roundtrip(ConnectionClosed(1001, "going away"))
    assert isinstance(error, ConnectionClosed) and (error.code, error.reason) == (
        1001,
        "going away",
    )
    error = roundtrip(NotConnected("CP1"))
    assert isinstance(error, NotConnected) and error.cp_id == "CP1"
    error = roundtrip(RuntimeError("boom"))
    assert type(error) is Ocpp16Error and "boom" in str(error)


async def test_a_cancelled_or_malformed_answer_is_an_ocpp16_error() -> None:
    """A cancelled call and a malformed error answer decode to an Ocpp16Error, never a crash."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    future.cancel()
    assert _answer("id1", future)["kind"] == "other"
    error = _error_of({"t": "error", "id": "x", "kind": "ocpp", "code": "X"}, "CP1")
    assert type(error) is Ocpp16Error and "malformed" in str(error)
