"""The central system mounted in a web app: server.asgi() under Starlette/FastAPI and uvicorn.

The handshake rules themselves run over listen(), uvicorn and hypercorn in
test_handshake.py (the served_by fixture); here, what only a mounted server
has: a prefix, plain HTTP beside it, lifespan, the denial fallback, and the
ASGI transport's edges, driven message by message where a real server cannot
be made to show them.
"""

from __future__ import annotations

import asyncio
import http.client
import json
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from ocpp16 import Client, ClientBase, Server
from ocpp16._asgi_transport import AsgiTransport
from ocpp16._http import HttpAnswer
from ocpp16._transport import TransportClosed
from ocpp16.asgi import AsgiApp, mounted_path
from ocpp16.handshake import Handshake
from tests.helpers import (
    NOW,
    TIMEOUT,
    future_and_setter,
    start_uvicorn,
    until,
    wait,
)
from tests.redis_server import RedisProcess

BOOT = {"chargePointVendor": "eParking", "chargePointModel": "NECU-T2"}


def _get(port: int, path: str, method: str = "GET") -> tuple[int, str, bytes]:
    """A plain HTTP request over a real socket: status, content type, body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


@pytest.fixture
async def web_app() -> AsyncIterator[tuple[Server, int]]:
    """A Server mounted at /ocpp in a FastAPI app (with a /ping route beside it), under uvicorn."""
    from fastapi import FastAPI

    server = Server()
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    app.mount("/ocpp", server.asgi())
    bound, stop = await start_uvicorn(app)
    try:
        yield server, bound
    finally:
        await server.close()
        await stop()


class TestMounted:
    """Mounted under a prefix in FastAPI/Starlette, on the web app's own port."""

    async def test_charge_points_connect_under_the_prefix(
        self, web_app: tuple[Server, int]
    ) -> None:
        """ws://host/ocpp/CP_ID reaches the server; the path it sees is relative to the mount."""
        server, bound = web_app
        seen, on_connection = future_and_setter()
        server.on("connection", on_connection)
        client = Client("CP 1/2")
        await wait(client.connect(f"ws://127.0.0.1:{bound}/ocpp/site"))
        peer: ClientBase = await wait(seen)
        assert peer.cp_id == "CP 1/2" and set(server.clients) == {"CP 1/2"}
        assert peer.handshake is not None and peer.handshake.path == "/site/CP%201%2F2"
        assert peer.remote_address[0] == "127.0.0.1" and peer.subprotocol == "ocpp1.6"
        peer.on("BootNotification", lambda request: {"status": "Accepted", "interval": 9, **NOW})
        assert (await wait(client.call_request("BootNotification", BOOT)))["interval"] == 9
        client.on("Reset", lambda request: {"status": "Accepted"})
        answer = await wait(server.call_request("CP 1/2", "Reset", {"type": "Soft"}))
        assert answer == {"status": "Accepted"}
        await client.close()

    async def test_the_web_app_keeps_its_routes(self, web_app: tuple[Server, int]) -> None:
        """The app's own routes answer beside the mount; a plain request to the mount gets 400."""
        _, bound = web_app
        status, _, body = await asyncio.to_thread(_get, bound, "/ping")
        assert (status, json.loads(body)) == (200, {"pong": "yes"})
        status, content_type, body = await asyncio.to_thread(_get, bound, "/ocpp/CP1")
        assert status == 400 and content_type.startswith("text/plain")
        assert body == b"This server speaks only the subprotocol ocpp1.6.\n"

    async def test_a_refusal_has_its_http_status(self, web_app: tuple[Server, int]) -> None:
        """An authorization listener's refusal is HTTP 401 through the mount, as with listen()."""
        server, bound = web_app
        server.on("authorization", lambda cp_id, handshake: cp_id == "GOOD")
        with pytest.raises(InvalidStatus) as refused:
            async with asyncio.timeout(TIMEOUT):
                await ws_connect(f"ws://127.0.0.1:{bound}/ocpp/BAD", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
        assert refused.value.response.status_code == 401
        assert refused.value.response.body == b"Unauthorized.\n"

    async def test_close_closes_mounted_connections_with_1001_then_refuses(
        self, web_app: tuple[Server, int]
    ) -> None:
        """Server.close() closes mounted connections with 1001; a handshake afterwards gets 503."""
        server, bound = web_app
        client = Client("CP1")
        closed, on_close = future_and_setter()
        client.on("close", on_close)
        await wait(client.connect(f"ws://127.0.0.1:{bound}/ocpp"))
        await wait(server.close())
        assert (await wait(closed))[0] == 1001
        assert server.clients == {}
        with pytest.raises(InvalidStatus) as refused:
            async with asyncio.timeout(TIMEOUT):
                await ws_connect(f"ws://127.0.0.1:{bound}/ocpp/CP2", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
        assert refused.value.response.status_code == 503

    async def test_a_charge_point_that_leaves_reports_its_close(
        self, web_app: tuple[Server, int]
    ) -> None:
        """The charge point's close code and reason reach the server's "close" event."""
        server, bound = web_app
        seen, on_connection = future_and_setter()
        server.on("connection", on_connection)
        async with ws_connect(f"ws://127.0.0.1:{bound}/ocpp/CP1", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            peer: ClientBase = await wait(seen)
            closed, on_close = future_and_setter()
            peer.on("close", on_close)
            await ws.close(4000, "bye")
        assert await wait(closed) == (4000, "bye")
        await until(lambda: not server.clients)


async def test_listening_and_mounted_share_one_server() -> None:
    """A Server may listen() and be mounted at once: one clients map, one set of handlers."""
    server = Server()
    server.on("connection", lambda peer: peer.on("Heartbeat", lambda request: NOW))
    listening_port = await server.listen(0, host="127.0.0.1")
    bound, stop = await start_uvicorn(server.asgi())
    try:
        over_port = Client("PORT")
        await wait(over_port.connect(f"ws://127.0.0.1:{listening_port}/ocpp"))
        mounted = Client("MOUNT")
        await wait(mounted.connect(f"ws://127.0.0.1:{bound}/ocpp"))
        assert set(server.clients) == {"PORT", "MOUNT"}
        assert await wait(mounted.call_request("Heartbeat")) == NOW
        assert set(await wait(server.connected_ids())) == {"PORT", "MOUNT"}
        assert server.asgi() is server.asgi()
    finally:
        await server.close()
        await stop()


async def test_a_mounted_server_answers_health_and_metrics_under_its_prefix() -> None:
    """Mounted, GET .../health and .../metrics answer as on the listening port, and count its CALLs."""
    from fastapi import FastAPI
    from prometheus_client import CollectorRegistry
    from prometheus_client.parser import text_string_to_metric_families

    server = Server(metrics=CollectorRegistry())
    server.on("connection", lambda peer: peer.on("Heartbeat", lambda request: NOW))
    app = FastAPI()
    app.mount("/ocpp", server.asgi())
    bound, stop = await start_uvicorn(app)
    try:
        client = Client("CP1")
        await wait(client.connect(f"ws://127.0.0.1:{bound}/ocpp"))
        for _ in range(2):
            await wait(client.call_request("Heartbeat"))
        status, kind, body = await asyncio.to_thread(_get, bound, "/ocpp/health")
        assert (status, kind) == (200, "application/json")
        assert json.loads(body) == {"status": "ok", "node": None, "charge_points": 1, "redis": None}
        status, _, body = await asyncio.to_thread(_get, bound, "/ocpp/metrics")
        assert status == 200
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body.decode())
            for sample in family.samples
        }
        received = ("ocpp16_calls_received_total", (("action", "Heartbeat"), ("outcome", "result")))
        assert samples[received] == 2
        assert samples[("ocpp16_charge_points_connected", ())] == 1
        await wait(client.close())
    finally:
        await server.close()
        await stop()


async def test_a_mounted_node_that_never_listened_joins_its_cluster(
    redis_server: RedisProcess,
) -> None:
    """A mounted Server starts its RedisCluster on the first handshake: other nodes reach it."""
    from ocpp16.cluster import RedisCluster

    def node(name: str) -> Server:
        cluster = RedisCluster(redis_server.url, node_id=name, presence_ttl=3.0, retry_interval=0.1)
        return Server(cluster=cluster)

    mounted, caller = node("web"), node("caller")
    bound, stop = await start_uvicorn(mounted.asgi())
    client = Client("CP1")
    client.on("Reset", lambda request: {"status": "Accepted"})
    try:
        await wait(client.connect(f"ws://127.0.0.1:{bound}/ocpp"))
        assert await wait(caller.locate("CP1")) == "web"
        reset = caller.call_request("CP1", "Reset", {"type": "Soft"})
        assert await wait(reset) == {"status": "Accepted"}
    finally:
        await client.close()
        await mounted.close()
        await caller.close()
        await stop()


class TestConfiguration:
    """What asgi() refuses to serve."""

    def test_profile_3_cannot_be_mounted(self) -> None:
        """Profile 3 needs the charge point's certificate, which ASGI does not hand over."""
        with pytest.raises(ValueError, match="certificate"):
            Server(security_profile=3).asgi()

    def test_profile_1_needs_an_authorization_listener(self) -> None:
        """Profile 1 or 2 without an "authorization" listener is refused, as listen() refuses it."""
        server = Server(security_profile=1)
        with pytest.raises(ValueError, match="'authorization' listener"):
            server.asgi()
        server.on("authorization", lambda cp_id, handshake: True)
        assert isinstance(server.asgi(), AsgiApp)

    async def test_profile_2_refuses_plain_ws(self) -> None:
        """Profile 2 over ws:// (no TLS in front of the app) is refused with 400."""
        server = Server(security_profile=2)
        server.on("authorization", lambda cp_id, handshake: True)
        refused, on_refused = future_and_setter()
        server.on("refused", on_refused)
        bound, stop = await start_uvicorn(server.asgi())
        try:
            with pytest.raises(InvalidStatus) as info:
                async with asyncio.timeout(TIMEOUT):
                    await ws_connect(f"ws://127.0.0.1:{bound}/CP1", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
            assert info.value.response.status_code == 400
            assert "needs TLS" in (await wait(refused))[2]
        finally:
            await server.close()
            await stop()


# ---------------------------------------------------------------- message by message


class Peer:
    """An ASGI server's side of one connection, driven by the test: scripted receive, recorded send."""

    def __init__(self, *incoming: MutableMapping[str, Any]) -> None:
        self.inbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        for message in incoming:
            self.inbox.put_nowait(message)
        self.sent: list[MutableMapping[str, Any]] = []
        self.gate: asyncio.Event | None = None

    async def receive(self) -> MutableMapping[str, Any]:
        return await self.inbox.get()

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.sent.append(message)


def _scope(kind: str = "websocket", path: str = "/ocpp/CP1", **extra: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": kind,
        "path": path,
        "root_path": "",
        "headers": [],
        "client": ("192.0.2.7", 50312),
        "subprotocols": ["ocpp1.6"],
        "query_string": b"",
    }
    scope.update(extra)
    return scope


class TestWithoutDenialResponse:
    """A server that does not offer websocket.http.response: a refusal is a 1008 close."""

    async def test_refusal_is_close_1008_before_accept(self) -> None:
        """Refused without the extension: websocket.close 1008, reason naming the HTTP status."""
        server = Server()
        server.on("authorization", lambda cp_id, handshake: False)
        peer = Peer({"type": "websocket.connect"})
        await wait(server.asgi()(_scope(), peer.receive, peer.send))
        assert peer.sent == [
            {"type": "websocket.close", "code": 1008, "reason": "HTTP 401 Unauthorized"}
        ]
        assert server.clients == {}

    async def test_with_the_extension_the_refusal_is_http(self) -> None:
        """With the extension, the refusal is the HTTP answer: status, text body."""
        server = Server()
        peer = Peer({"type": "websocket.connect"})
        scope = _scope(subprotocols=[], extensions={"websocket.http.response": {}})
        await wait(server.asgi()(scope, peer.receive, peer.send))
        assert [m["type"] for m in peer.sent] == [
            "websocket.http.response.start",
            "websocket.http.response.body",
        ]
        assert peer.sent[0]["status"] == 400
        assert peer.sent[1]["body"] == b"This server speaks only the subprotocol ocpp1.6.\n"

    async def test_a_peer_gone_before_its_handshake(self) -> None:
        """A disconnect instead of websocket.connect: nothing is sent, nothing is asked."""
        server = Server()
        asked: list[str] = []
        server.on("authorization", lambda cp_id, handshake: asked.append(cp_id) or True)
        peer = Peer({"type": "websocket.disconnect", "code": 1006})
        await wait(server.asgi()(_scope(), peer.receive, peer.send))
        assert peer.sent == [] and asked == []

    async def test_a_peer_gone_while_its_handshake_was_decided(self) -> None:
        """The accept fails (the peer left during authorization): no connection, no error."""
        server = Server()
        connections: list[ClientBase] = []
        server.on("connection", connections.append)

        async def gone(message: MutableMapping[str, Any]) -> None:
            raise OSError("client disconnected")

        peer = Peer({"type": "websocket.connect"})
        await wait(server.asgi()(_scope(), peer.receive, gone))
        assert connections == [] and server.clients == {}

    async def test_close_during_authorization_refuses_with_503(self) -> None:
        """A handshake whose listeners decide after close() began is refused with 503."""
        server = Server()
        entered, release = asyncio.Event(), asyncio.Event()

        async def slow(cp_id: str, handshake: Handshake) -> bool:
            entered.set()
            await release.wait()
            return True

        server.on("authorization", slow)
        peer = Peer({"type": "websocket.connect"})
        scope = _scope(extensions={"websocket.http.response": {}})
        task = asyncio.create_task(server.asgi()(scope, peer.receive, peer.send))
        await wait(entered.wait())
        await wait(server.close())
        release.set()
        await wait(task)
        assert peer.sent[0]["status"] == 503


class TestHttpAndLifespan:
    """Plain HTTP to the app, lifespan when it is the top application, other scopes."""

    async def test_the_server_s_own_answer_is_sent(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A plain request gets _answer_http's answer, asked with the path below the mount."""
        server = Server()
        asked: list[tuple[str, str]] = []

        def answer(method: str, path: str) -> HttpAnswer:
            asked.append((method, path))
            return HttpAnswer(200, "application/json", b'{"status": "ok"}')

        monkeypatch.setattr(server, "_answer_http", answer)
        peer = Peer()
        scope = _scope("http", "/ocpp/health", root_path="/ocpp", method="GET", query_string=b"a=1")
        await wait(server.asgi()(scope, peer.receive, peer.send))
        assert asked == [("GET", "/health?a=1")]
        assert peer.sent[0]["status"] == 200
        assert (b"content-type", b"application/json") in peer.sent[0]["headers"]
        assert peer.sent[1] == {"type": "http.response.body", "body": b'{"status": "ok"}'}

    async def test_lifespan_starts_the_cluster_and_shutdown_closes(self) -> None:
        """Startup starts the cluster; shutdown closes the server, then says it is complete."""
        server = Server()
        closed, on_close = future_and_setter()
        server.on("close", on_close)
        peer = Peer({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
        await wait(server.asgi()({"type": "lifespan"}, peer.receive, peer.send))
        assert [m["type"] for m in peer.sent] == [
            "lifespan.startup.complete",
            "lifespan.shutdown.complete",
        ]
        await wait(closed)

    async def test_a_failing_startup_is_reported(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A cluster that cannot start fails the startup, with its message."""
        server = Server()

        async def broken() -> None:
            raise ConnectionError("no store")

        monkeypatch.setattr(server.cluster, "start", broken)
        peer = Peer({"type": "lifespan.startup"})
        await wait(server.asgi()({"type": "lifespan"}, peer.receive, peer.send))
        assert peer.sent == [{"type": "lifespan.startup.failed", "message": "no store"}]

    async def test_another_scope_is_an_error(self) -> None:
        """A scope type the app does not serve raises, naming it."""
        peer = Peer()
        with pytest.raises(ValueError, match="'webtransport'"):
            await Server().asgi()({"type": "webtransport"}, peer.receive, peer.send)

    def test_mounted_path(self) -> None:
        """The path below the mount, percent-encoded from the raw path, query kept."""
        assert mounted_path(_scope(path="/ocpp/a/CP1", root_path="/ocpp")) == "/a/CP1"
        raw = _scope(path="/o p/A/B", root_path="/o p", raw_path=b"/o%20p/A%2FB")
        assert mounted_path(raw) == "/A%2FB"
        assert mounted_path(_scope(path="/ocpp", root_path="/ocpp", query_string=b"x=1")) == "?x=1"
        at_root = _scope(path="/ocpp", root_path="/ocpp", raw_path=b"/ocpp", query_string=b"x=1")
        assert mounted_path(at_root) == "?x=1"
        deep = _scope(path="/ocpp/a/b/CP1", root_path="/ocpp", raw_path=b"/ocpp/a/b/CP1")
        assert mounted_path(deep) == "/a/b/CP1"
        # A raw path that does not start with the root: the decoded path, quoted again.
        odd = _scope(path="/m/C D", root_path="/m", raw_path=b"/elsewhere/C%20D")
        assert mounted_path(odd) == "/C%20D"


class TestTransport:
    """AsgiTransport against a scripted ASGI peer."""

    async def test_backpressure_and_order(self) -> None:
        """A send the ASGI server holds returns an awaitable; frames keep their order."""
        peer = Peer()
        transport = AsgiTransport(_scope(), peer.receive, peer.send)
        assert transport.send("one") is None
        peer.gate = asyncio.Event()
        waiting = transport.send("two")
        assert waiting is not None
        peer.gate.set()
        await wait(waiting)
        assert transport.send("three") is None
        assert [m["text"] for m in peer.sent] == ["one", "two", "three"]

    async def test_closed_transport_refuses_frames(self) -> None:
        """After websocket.close, or after a disconnect, a send raises TransportClosed."""
        peer = Peer({"type": "websocket.disconnect", "code": 1001, "reason": "away"})
        transport = AsgiTransport(_scope(), peer.receive, peer.send)
        assert [frame async for frame in transport.frames()] == []
        assert (transport.close_code, transport.close_reason) == (1001, "away")
        with pytest.raises(TransportClosed):
            transport.send("late")
        await transport.close()  # closed already: nothing sent
        assert peer.sent == []
        closing = AsgiTransport(_scope(), Peer().receive, peer.send)
        await closing.close(4001, "done")
        with pytest.raises(TransportClosed):
            closing.send("late")
        assert peer.sent == [{"type": "websocket.close", "code": 4001, "reason": "done"}]

    async def test_frames_text_binary_and_a_lost_connection(self) -> None:
        """Text and binary frames come out as str and bytes; a receive that fails is a 1006."""
        frames = [
            {"type": "websocket.receive", "text": "[2]"},
            {"type": "websocket.future.extension"},  # a message this version does not know: skipped
            {"type": "websocket.receive", "bytes": b"\x00"},
        ]
        peer = Peer(*frames)
        transport = AsgiTransport(_scope(), peer.receive, peer.send)
        seen: list[str | bytes] = []

        async def read() -> None:
            async for frame in transport.frames():
                seen.append(frame)

        reader = asyncio.create_task(read())
        await until(lambda: len(seen) == 2)
        assert seen == ["[2]", b"\x00"] and transport.close_code is None
        peer.inbox.put_nowait({"type": "websocket.disconnect"})
        await wait(reader)
        assert transport.close_code == 1005

        async def broken() -> MutableMapping[str, Any]:
            raise OSError("gone")

        lost = AsgiTransport(_scope(), broken, peer.send)
        assert [frame async for frame in lost.frames()] == []
        assert lost.close_code == 1006

    async def test_close_after_the_peer_left(self) -> None:
        """A send or a close that fails because the peer left: TransportClosed, and a 1006."""

        async def gone(message: MutableMapping[str, Any]) -> None:
            raise OSError("client disconnected")

        transport = AsgiTransport(_scope(), Peer().receive, gone)
        with pytest.raises(TransportClosed, match="client disconnected"):
            transport.send("first")
        await transport.close(1000)
        assert transport.close_code == 1006
        with pytest.raises(TransportClosed):
            transport.send("late")

    async def test_oversized_binary_frame_closes_with_1009(self) -> None:
        """A binary frame over max_size closes with 1009 and is not yielded."""
        peer = Peer(
            {"type": "websocket.receive", "bytes": b"x" * 11},
            {"type": "websocket.disconnect", "code": 1009},
        )
        transport = AsgiTransport(_scope(), peer.receive, peer.send, max_size=10)
        assert [frame async for frame in transport.frames()] == []
        assert transport.close_code == 1009
        assert peer.sent[0]["code"] == 1009

    def test_pings_are_the_asgi_server_s(self) -> None:
        """ping_interval/ping_timeout are kept on the transport; the address is the scope's client."""
        transport = AsgiTransport(_scope(client=None), Peer().receive, Peer().send)
        transport.ping_interval, transport.ping_timeout = 5.0, 1.0
        assert (transport.ping_interval, transport.ping_timeout) == (5.0, 1.0)
        assert transport.remote_address is None and transport.handshake is None
