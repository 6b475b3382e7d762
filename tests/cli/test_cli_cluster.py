"""``ocpp16 serve --redis URL --node-id NAME``: operator commands reach any node; list shows all."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from rich.console import Console

from ocpp16 import Server
from ocpp16._cli import build_parser
from ocpp16._cli.commands import _cluster
from ocpp16._cli.serve import command
from ocpp16.cluster import RedisCluster
from tests.helpers import TIMEOUT, connect_pair
from tests.redis_server import RedisProcess


async def until_printed(out: io.StringIO, text: str) -> str:
    """Wait until ``text`` appears in ``out``; return everything printed."""
    async with asyncio.timeout(TIMEOUT):
        while text not in out.getvalue():
            await asyncio.sleep(0.01)
    return out.getvalue()


async def test_commands_reach_a_charge_point_on_another_node(redis_server: RedisProcess) -> None:
    """From node b, 'list' shows CP1 on node a, and a Reset to CP1 is answered."""
    a = Server(cluster=RedisCluster(redis_server.url, node_id="a"))
    b = Server(cluster=RedisCluster(redis_server.url, node_id="b"))
    await a.listen(0, host="127.0.0.1")
    await b.listen(0, host="127.0.0.1")
    client, _ = await connect_pair(a, "CP1")
    client.on("Reset", lambda request: {"status": "Accepted"})
    out = io.StringIO()
    err = Console(file=out, width=200)
    pending: set[asyncio.Future[Any]] = set()
    try:
        assert command("list", b, err, pending) is None
        await until_printed(out, "connected: CP1 (a)")
        assert command('CP1 Reset {"type": "Soft"}', b, err, pending) is None
        await until_printed(out, 'CP1 Reset: {"status": "Accepted"}')
        assert command('CP2 Reset {"type": "Soft"}', b, err, pending) is None
        await until_printed(out, "CP2 is not connected on any node")
        assert "not sent" in (command('CP1 Reset {"type": "No"}', b, err, pending) or "")
    finally:
        await client.close()
        await a.close()
        await b.close()


def test_serve_parses_redis_and_node_id() -> None:
    """--redis and --node-id make a RedisCluster with that node id; --node-id alone is refused."""
    args = build_parser().parse_args(
        ["serve", "--redis", "redis://127.0.0.1:1/0", "--node-id", "cs-1"]
    )
    cluster = _cluster(args)
    assert isinstance(cluster, RedisCluster) and cluster.node_id == "cs-1"
    assert _cluster(build_parser().parse_args(["serve"])) is None
    with pytest.raises(SystemExit, match="--node-id needs --redis"):
        _cluster(build_parser().parse_args(["serve", "--node-id", "x"]))
