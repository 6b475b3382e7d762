"""Prometheus metrics read over real HTTP from a running server, and the counts of a Client."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import InvalidStatus

from ocpp16 import (
    CallTimeout,
    Client,
    ClientBase,
    ConnectionClosed,
    HandshakeError,
    MemoryStore,
    OcppError,
    Server,
)
from ocpp16.metrics import BUCKETS, METRICS, Metrics, metrics_for
from tests.helpers import NOW, TIMEOUT, listening, raw_peer, recv_json, until, url, wait

BOOT = {"chargePointVendor": "eParking", "chargePointModel": "NECU-T2"}
BOOT_OK = {"status": "Accepted", "interval": 60, **NOW}
START = {"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": NOW["currentTime"]}


def _get(port: int, path: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read()


async def http_get(port: int | None, path: str) -> tuple[int, str, bytes]:
    """GET ``path`` from the server's port with a real HTTP client: status, type, body."""
    assert port is not None
    return await wait(asyncio.to_thread(_get, port, path))


async def scrape(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics and parse it: each sample's value by (name, sorted labels)."""
    status, content_type, body = await http_get(server.port, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(body.decode("utf-8")):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    """One sample's value; 0 when the series does not exist yet."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def boot_handler(server: Server) -> None:
    """Accept every BootNotification on every connection."""

    @server.on("connection")
    def on_connection(connection: ClientBase) -> None:
        connection.on("BootNotification", lambda request, cb: cb(BOOT_OK))


class TestServerOverHttp:
    """GET /metrics gives exact counts of what the server saw."""

    async def test_a_scripted_exchange_counts_exactly(self) -> None:
        """3 BootNotifications in, 1 FormationViolation out, 1 refusal with 401, the gauge."""
        registry = CollectorRegistry()
        server = await listening(metrics=registry)
        boot_handler(server)
        server.on(
            "authorization", lambda cp_id, handshake, cb: cb("not you") if cp_id == "BAD" else cb()
        )
        client = Client("CP1")
        try:
            await client.connect(url(server))
            for _ in range(3):
                answer = await wait(client.call_request("BootNotification", BOOT))
                assert answer["status"] == "Accepted"
            with pytest.raises(HandshakeError) as refused:
                await Client("BAD").connect(url(server))
            assert refused.value.status == 401
            async with raw_peer(server, "CP2") as ws:
                # OCPP-J 1.6 §4.2.3: a CALL whose payload is no object is a FormationViolation.
                await ws.send('[2, "m1", "BootNotification", "not an object"]')
                assert (await recv_json(ws))[2] == "FormationViolation"
                # An action OCPP 1.6 does not define is labelled "unknown", never as sent.
                await ws.send('[2, "m2", "MadeUpAction42", {}]')
                assert (await recv_json(ws))[2] == "NotImplemented"
                samples = await scrape(server)
                assert value(samples, "ocpp16_charge_points_connected") == 2
            calls_in = "ocpp16_calls_received_total"
            assert value(samples, calls_in, action="BootNotification", outcome="result") == 3
            assert (
                value(samples, calls_in, action="BootNotification", outcome="FormationViolation")
                == 1
            )
            assert value(samples, calls_in, action="unknown", outcome="NotImplemented") == 1
            assert not any("MadeUpAction42" in str(key) for key in samples)
            assert value(samples, "ocpp16_bad_messages_total", code="FormationViolation") == 1
            assert value(samples, "ocpp16_handshakes_refused_total", reason="401") == 1
            # The latency of the three answers a handler gave; the refusals are not in it.
            latency = "ocpp16_call_received_duration_seconds"
            assert value(samples, f"{latency}_count", action="BootNotification") == 3
            assert value(samples, f"{latency}_bucket", action="BootNotification", le="+Inf") == 3
            assert value(samples, f"{latency}_count", action="unknown") == 0
            await until(lambda: "CP2" not in server.clients)
            assert value(await scrape(server), "ocpp16_charge_points_connected") == 1
            await client.close()
            await until(lambda: "CP1" not in server.clients)
            assert value(await scrape(server), "ocpp16_charge_points_connected") == 0
        finally:
            await client.close()
            await server.close()

    async def test_refusals_by_status(self) -> None:
        """Handshakes refused with 400, 409 and 503 are counted under their statuses."""
        registry = CollectorRegistry()
        server = await listening(metrics=registry, max_connections=1, duplicate_id="reject")
        first = Client("CP1")
        try:
            await first.connect(url(server))
            with pytest.raises(HandshakeError) as full:
                # The cap is checked before the duplicate id.
                await Client("CP1").connect(url(server))
            assert full.value.status == 503
            server.max_connections = 2
            with pytest.raises(HandshakeError) as duplicate:
                await Client("CP1").connect(url(server))
            assert duplicate.value.status == 409
            with pytest.raises(InvalidStatus):  # no ocpp1.6 offered: HTTP 400
                async with raw_peer(server, "CP3", subprotocols=["ocpp2.0.1"]):
                    pass
            samples = await scrape(server)
            refused = "ocpp16_handshakes_refused_total"
            assert value(samples, refused, reason="503") == 1
            assert value(samples, refused, reason="409") == 1
            assert value(samples, refused, reason="400") == 1
        finally:
            await first.close()
            await server.close()

    async def test_a_handshake_that_times_out(self) -> None:
        """A TCP connection that sends no request is dropped and counted as reason "timeout"."""
        registry = CollectorRegistry()
        server = await listening(metrics=registry, handshake_timeout=0.2)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            assert await wait(reader.read()) == b""  # the server hung up, without an answer
            writer.close()
            samples = await scrape(server)
            assert value(samples, "ocpp16_handshakes_refused_total", reason="timeout") == 1
        finally:
            await server.close()

    async def test_buckets_and_names(self) -> None:
        """Every metric the README lists is exposed, prefixed ocpp16_, with 1 ms to 30 s buckets."""
        registry = CollectorRegistry()
        server = await listening(metrics=registry)
        try:
            _, _, body = await http_get(server.port, "/metrics")
        finally:
            await server.close()
        families = {f.name: f for f in text_string_to_metric_families(body.decode())}
        for name, (kind, labels, _) in METRICS.items():
            assert name.startswith("ocpp16_")
            family = name.removesuffix("_total") if kind == "counter" else name
            assert families[family].type == kind
            assert "cp_id" not in labels
        assert BUCKETS[0] == 0.001 and BUCKETS[-1] == 30.0
        histogram = registry.get_sample_value(
            "ocpp16_call_sent_duration_seconds_bucket", {"action": "Heartbeat", "le": "0.001"}
        )
        assert histogram is None  # no series before a first observation


class TestClient:
    """A Client counts its CALLs, its connection, and its offline queue."""

    async def test_calls_sent_by_outcome(self, server: Server) -> None:
        """A result, a CALLERROR, a timeout and a call cut by the close, with the latency count."""
        registry = CollectorRegistry()
        held: list[Callable[..., None]] = []

        @server.on("connection")
        def on_connection(connection: ClientBase) -> None:
            connection.on("BootNotification", lambda request, cb: cb(BOOT_OK))
            connection.on(
                "Authorize", lambda request: (_ for _ in ()).throw(OcppError("SecurityError", "no"))
            )
            connection.on("Heartbeat", lambda request, cb: held.append(cb))

        client = Client("CP1", metrics=registry, call_timeout=0.3)
        assert client.metrics is not None and client.metrics.registry is registry
        await client.connect(url(server))
        get = registry.get_sample_value
        assert get("ocpp16_charge_points_connected") == 1
        await wait(client.call_request("BootNotification", BOOT))
        with pytest.raises(OcppError):
            await wait(client.call_request("Authorize", {"idTag": "TAG"}))
        with pytest.raises(CallTimeout):
            await wait(client.call_request("Heartbeat", {}))
        cut = client.call_request("Heartbeat", {})
        await until(lambda: len(held) == 2)
        await client.close()
        with pytest.raises(ConnectionClosed):
            await wait(cut)
        sent = "ocpp16_calls_sent_total"
        assert get(sent, {"action": "BootNotification", "outcome": "result"}) == 1
        assert get(sent, {"action": "Authorize", "outcome": "SecurityError"}) == 1
        assert get(sent, {"action": "Heartbeat", "outcome": "timeout"}) == 1
        assert get(sent, {"action": "Heartbeat", "outcome": "closed"}) == 1
        latency = "ocpp16_call_sent_duration_seconds_count"
        assert get(latency, {"action": "BootNotification"}) == 1
        assert get(latency, {"action": "Authorize"}) == 1
        assert get(latency, {"action": "Heartbeat"}) is None  # never answered
        assert get("ocpp16_charge_points_connected") == 0

    async def test_received_calls_left_unanswered_count_as_closed(self) -> None:
        """A CALL received and never answered before the peer went counts as outcome "closed"."""
        registry = CollectorRegistry()
        server = await listening(metrics=registry)
        received = asyncio.get_running_loop().create_future()

        @server.on("connection")
        def on_connection(connection: ClientBase) -> None:
            connection.on("Heartbeat", lambda request, cb: received.set_result(None))

        try:
            async with raw_peer(server, "CP1") as ws:
                await ws.send('[2, "h1", "Heartbeat", {}]')
                await wait(received)
            await until(lambda: "CP1" not in server.clients)
            get = registry.get_sample_value
            assert (
                get("ocpp16_calls_received_total", {"action": "Heartbeat", "outcome": "closed"})
                == 1
            )
            assert (
                get("ocpp16_call_received_duration_seconds_count", {"action": "Heartbeat"}) is None
            )
        finally:
            await server.close()

    async def test_queue_depth_retries_and_drops(self, server: Server) -> None:
        """The offline queue's depth, its retries and its drops (OCPP 1.6 §9.1)."""
        registry = CollectorRegistry()

        @server.on("connection")
        def on_connection(connection: ClientBase) -> None:
            def refuse(request: Any) -> None:
                raise OcppError("InternalError", "not now")

            connection.on("StartTransaction", refuse)

        client = Client(
            "CP1",
            store=MemoryStore(),
            metrics=registry,
            transaction_message_attempts=2,
            transaction_message_retry_interval=0,
        )
        get = registry.get_sample_value
        dropped: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        client.on("message_dropped", lambda *args: dropped.done() or dropped.set_result(args))
        first = client.call_request("StartTransaction", START)
        second = client.call_request("StartTransaction", START)
        assert get("ocpp16_queue_depth") == 2
        try:
            await client.connect(url(server))
            await wait(dropped)
            with pytest.raises(OcppError):
                await wait(first)
            with pytest.raises(OcppError):
                await wait(second)
            assert get("ocpp16_queue_retries_total", {"action": "StartTransaction"}) == 2
            assert get("ocpp16_queue_dropped_total", {"action": "StartTransaction"}) == 2
            assert get("ocpp16_queue_depth") == 0
        finally:
            await client.close()


async def _peer(server: Server) -> ClientBase:
    await until(lambda: "CP1" in server.clients)
    return server.clients["CP1"]


class TestRegistries:
    """How metrics= is read, and registries shared."""

    async def test_two_servers_share_the_default_registry(self) -> None:
        """metrics=True twice in one process: no duplicate registration; both count into it."""
        from prometheus_client import REGISTRY

        def connected() -> float:
            return REGISTRY.get_sample_value("ocpp16_charge_points_connected") or 0.0

        before = connected()
        one, two = await listening(metrics=True), await listening(metrics=True)
        assert one.metrics is not None and one.metrics.registry is REGISTRY
        clients = [Client("CP1"), Client("CP2")]
        try:
            await clients[0].connect(url(one))
            await clients[1].connect(url(two))
            await until(lambda: len(one.clients) == 1 and len(two.clients) == 1)
            assert connected() == before + 2
            body = (await http_get(two.port, "/metrics"))[2].decode()
            assert f"ocpp16_charge_points_connected {before + 2}" in body
        finally:
            for client in clients:
                await client.close()
            await one.close()
            await two.close()

    def test_metrics_keyword(self) -> None:
        """False and None are off; a Metrics is used as it is; anything else is a TypeError."""
        assert metrics_for(False) is None and metrics_for(None) is None
        mine = Metrics(CollectorRegistry())
        assert metrics_for(mine) is mine
        with pytest.raises(TypeError, match="CollectorRegistry"):
            metrics_for("yes")
        assert Server(metrics=mine).metrics is mine
        assert Server().metrics is None


class TestHealth:
    """GET /health on the OCPP port, with metrics on or off."""

    async def test_health_answers_ok(self) -> None:
        """200 with the node, the charge points connected here, and no redis without a cluster."""
        server = await listening()
        boot_handler(server)
        client = Client("CP1")
        try:
            await client.connect(url(server))
            for path in ("/health", "/health?probe=lb", "/ocpp/health", "/health/"):
                status, content_type, body = await http_get(server.port, path)
                assert (status, content_type) == (200, "application/json")
                assert json.loads(body) == {
                    "status": "ok",
                    "node": None,
                    "charge_points": 1,
                    "redis": None,
                }
        finally:
            await client.close()
            await server.close()

    async def test_other_requests_keep_todays_answer(self) -> None:
        """With metrics off, /metrics and any other plain GET get the 400 of before."""
        server = await listening()
        try:
            for path in ("/metrics", "/ocpp/CP1", "/healthz"):
                status, _, body = await http_get(server.port, path)
                assert (status, body) == (
                    400,
                    b"This server speaks only the subprotocol ocpp1.6.\n",
                )
        finally:
            await server.close()

    def test_the_answer_is_transport_free(self) -> None:
        """What every transport asks: GET of health or metrics is answered, anything else not."""
        server = Server(metrics=CollectorRegistry())
        health = server._answer_http("GET", "/ocpp/health?x=1")
        assert health is not None and health.status == 200
        assert health.content_type == "application/json"
        metrics = server._answer_http("GET", "/metrics")
        assert metrics is not None and metrics.content_type.startswith("text/plain")
        assert b"ocpp16_charge_points_connected 0.0" in metrics.body
        for method, path in (("POST", "/health"), ("HEAD", "/metrics"), ("GET", "/ocpp/CP1")):
            assert server._answer_http(method, path) is None
        assert Server()._answer_http("GET", "/metrics") is None

    async def test_a_handshake_timeout_without_observers(self) -> None:
        """Without metrics a handshake that times out is only dropped, as before."""
        server = await listening(handshake_timeout=0.2)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            assert await wait(reader.read()) == b""
            writer.close()
            assert (await http_get(server.port, "/health"))[0] == 200
        finally:
            await server.close()

    async def test_an_upgrade_on_the_health_path_is_a_charge_point(self) -> None:
        """A WebSocket upgrade on /health or /metrics connects a charge point of that id, as before."""
        server = await listening(metrics=CollectorRegistry())
        clients = [Client("health"), Client("metrics")]
        try:
            for client in clients:
                await client.connect(f"http://127.0.0.1:{server.port}".replace("http", "ws"))
            await until(lambda: set(server.clients) == {"health", "metrics"})
        finally:
            for client in clients:
                await client.close()
            await server.close()

    async def test_health_answers_503_while_closing(self) -> None:
        """A probe that reaches the node after close() began gets 503, status "closing"."""
        server = await listening()
        port = server.port
        # A probe connection, accepted before close(): a request on a later
        # connection answered proves it (the kernel hands connections over in order).
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: probe\r\n")
        assert (await http_get(port, "/health"))[0] == 200
        closing = asyncio.create_task(server.close())
        await until(lambda: not server.sockets)  # close() began: the port no longer accepts
        writer.write(b"\r\n")
        answer = await wait(reader.read())
        writer.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503")
        assert json.loads(body)["status"] == "closing"
        await wait(closing)


def test_metrics_off_imports_no_prometheus_client() -> None:
    """A Server and a Client without metrics never import prometheus_client."""
    script = textwrap.dedent(
        """
        import asyncio, sys
        from ocpp16 import Client, MemoryStore, Server

        async def main():
            server = Server()
            server.on("connection", lambda c: c.on("Heartbeat", lambda r, cb: cb({"currentTime": "2024-05-01T12:00:00Z"})))
            port = await server.listen(0, host="127.0.0.1")
            client = Client("CP1", store=MemoryStore())
            await client.connect(f"ws://127.0.0.1:{port}")
            await asyncio.wait_for(client.call_request("Heartbeat", {}), 10)
            await client.close()
            await server.close()

        asyncio.run(main())
        assert "prometheus_client" not in sys.modules, "prometheus_client was imported"
        print("clean")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "clean"


class TestCounting:
    """The counts themselves, through the registry, without a network."""

    def test_histogram_buckets_are_less_or_equal_and_inf(self) -> None:
        """1 ms goes in the le="0.001" bucket, 31 s only in +Inf; the sum and count add up."""
        registry = CollectorRegistry()
        metrics = Metrics(registry)
        connection: Any = object()
        for seconds in (0.001, 0.0011, 31.0):
            metrics.answer_received(connection, "m", "Heartbeat", "result", seconds, {}, "[3]")
        get = registry.get_sample_value
        name = "ocpp16_call_sent_duration_seconds"
        bucket = {"action": "Heartbeat"}
        assert get(f"{name}_bucket", {**bucket, "le": "0.001"}) == 1
        assert get(f"{name}_bucket", {**bucket, "le": "0.0025"}) == 2
        assert get(f"{name}_bucket", {**bucket, "le": "30.0"}) == 2
        assert get(f"{name}_bucket", {**bucket, "le": "+Inf"}) == 3
        assert get(f"{name}_count", bucket) == 3
        assert get(f"{name}_sum", bucket) == pytest.approx(31.0021)

    def test_a_registry_with_a_clashing_metric_is_refused(self) -> None:
        """A registry that already holds an ocpp16_ name made elsewhere: prometheus's ValueError."""
        from prometheus_client import Counter

        registry = CollectorRegistry()
        Counter("ocpp16_bad_messages", "not ours", registry=registry)
        with pytest.raises(ValueError, match="ocpp16_bad_messages"):
            Metrics(registry)


class TestLateAndAttached:
    """An observer attached late, and answers that come late."""

    async def test_attached_to_an_open_connection(self, server: Server) -> None:
        """Attached mid-connection: its CALLs count, the gauge is not taken below zero."""
        registry = CollectorRegistry()

        @server.on("connection")
        def on_connection(connection: ClientBase) -> None:
            connection.on("Heartbeat", lambda request: NOW)

        client = Client("CP1")
        client.on("Reset", lambda request: {"status": "Accepted"})
        await client.connect(url(server))
        client.add_observer(Metrics(registry))
        peer = await _peer(server)
        await wait(peer.call_request("Reset", {"type": "Soft"}))
        await wait(client.call_request("Heartbeat", {}))
        await client.close()
        get = registry.get_sample_value
        assert get("ocpp16_calls_received_total", {"action": "Reset", "outcome": "result"}) == 1
        assert get("ocpp16_calls_sent_total", {"action": "Heartbeat", "outcome": "result"}) == 1
        assert get("ocpp16_charge_points_connected") == 0

    async def test_a_late_answer_counts_as_ignored(self, server: Server) -> None:
        """An answer after its CALL timed out is counted as an ignored frame (OCPP-J 1.6 §4.1.3)."""
        registry = CollectorRegistry()
        held: list[Callable[..., None]] = []
        server.on("connection", lambda c: c.on("Heartbeat", lambda request, cb: held.append(cb)))
        client = Client("CP1", metrics=registry, call_timeout=0.2)
        await client.connect(url(server))
        try:
            with pytest.raises(CallTimeout):
                await wait(client.call_request("Heartbeat", {}))
            held[0](NOW)
            await until(lambda: registry.get_sample_value("ocpp16_messages_ignored_total") == 1)
        finally:
            await client.close()
