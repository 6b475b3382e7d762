"""The corners of ClientBase, Client and Server: options, TLS, odd peers, late handlers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trustme
from websockets.asyncio.client import connect as ws_connect

from ocpp16 import (
    Client,
    ClientBase,
    ConnectionClosed,
    Handshake,
    HandshakeError,
    OcppError,
    Options,
    Server,
)
from ocpp16._dispatch import _takes_cb
from ocpp16._internals import finish_send
from tests.helpers import NOW, connect_pair, future_and_setter, raw_peer, recv_json, url, wait


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


class TestHandlerSignatures:
    """fn(request) or fn(request, cb), told apart by their positional parameters."""

    def test_arity(self) -> None:
        """One positional parameter: no cb; two, or *args: cb."""

        def one(request: Any) -> None: ...
        def two(request: Any, cb: Any) -> None: ...
        def star(*args: Any) -> None: ...
        def keyword_cb(request: Any, *, cb: Any = None) -> None: ...

        assert not _takes_cb(one) and _takes_cb(two) and _takes_cb(star)
        assert not _takes_cb(keyword_cb)
        assert not _takes_cb(dict)  # a builtin with no signature to read is fn(request)

    async def test_builtin_handler(self, pair: tuple[Client, ClientBase]) -> None:
        """A handler without a readable signature is called as fn(request)."""
        client, peer = pair
        peer.on("StatusNotification", dict.clear)  # returns None: replies {}
        status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        assert await wait(client.call_request("StatusNotification", status)) == {}


class TestTls:
    """listen(ssl=...) and connect(ssl=...), and the peer certificate in the handshake."""

    async def test_wss_with_client_certificate(self) -> None:
        """Over TLS the handshake carries the charge point's certificate."""
        ca = trustme.CA()
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
        ca.configure_trust(server_ctx)
        server_ctx.verify_mode = ssl.CERT_OPTIONAL
        client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        ca.configure_trust(client_ctx)
        ca.issue_cert("CP-TLS").configure_cert(client_ctx)

        seen, on_auth = future_and_setter()
        async with Server() as server:
            port = await server.listen(0, host="127.0.0.1", ssl=server_ctx)
            server.on("authorization", lambda cp_id, handshake, cb: on_auth(handshake) or True)
            client = Client("CP-TLS")
            await wait(client.connect(f"wss://127.0.0.1:{port}/ocpp", ssl=client_ctx))
            handshake: Handshake = await wait(seen)
            assert handshake.peer_certificate is not None
            names = dict(handshake.peer_certificate["subjectAltName"])
            assert names["DNS"].upper() == "CP-TLS"  # trustme writes DNS names in lower case
            await client.close()


class TestOddPeers:
    """Peers that do not behave: garbage handshakes, vanishing mid-write, stale sockets."""

    async def test_garbage_handshake_answer(self) -> None:
        """A server that answers the upgrade with garbage: HandshakeError, not websockets' exception."""

        async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"this is not HTTP\r\n\r\n")
            await writer.drain()
            writer.close()

        probe = await asyncio.start_server(garbage, "127.0.0.1", 0)
        port = probe.sockets[0].getsockname()[1]
        try:
            with pytest.raises(HandshakeError, match="opening handshake"):
                await wait(Client("CP1").connect(f"ws://127.0.0.1:{port}/ocpp"))
        finally:
            probe.close()
            await probe.wait_closed()

    async def test_reconnect_replaces_the_stale_connection(self, server: Server) -> None:
        """A charger that reconnects while its old socket lingers replaces it; the old one closes."""
        first, first_peer = await connect_pair(server, "CP1")
        old_closed, on_old_close = future_and_setter()
        first_peer.on("close", on_old_close)
        second, second_peer = await connect_pair(server, "CP1")
        assert (await wait(old_closed))[0] == 1000
        assert server.clients["CP1"] is second_peer
        second_peer.on("Heartbeat", lambda request: NOW)
        assert await wait(second.call_request("Heartbeat")) == NOW
        await first.close()
        await second.close()

    async def test_close_before_connect_and_wait_closed(self, server: Server) -> None:
        """close() of a never-connected Client does nothing; wait_closed() returns after close."""
        idle = Client("IDLE")
        await idle.close()
        await idle.wait_closed()
        client, peer = await connect_pair(server)
        waiter = asyncio.create_task(peer.wait_closed())
        await client.close()
        await wait(waiter)

    async def test_handler_still_running_at_close_is_cancelled_after_handler_timeout(
        self, server: Server, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A handler that outlives its connection by more than handler_timeout is cancelled."""
        cancelled = asyncio.Event()
        started = asyncio.Event()
        client, peer = await connect_pair(server)
        peer._options.handler_timeout = 0.1

        async def stuck(request: dict[str, Any]) -> None:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise

        peer.on("Heartbeat", stuck)
        call = client.call_request("Heartbeat")
        await wait(started.wait())
        await client.close()
        await wait(cancelled.wait())
        with pytest.raises(ConnectionClosed):
            await wait(call)
        assert "cancelled 1 handler(s) still running" in caplog.text

    async def test_async_lifecycle_listener_failure_is_reported(self, server: Server) -> None:
        """A coroutine listener of a life-cycle event that fails goes to "error"."""
        errors, on_error = future_and_setter()
        server.on("error", on_error)

        async def broken(client: ClientBase) -> None:
            raise LookupError("async listener bug")

        server.on("connection", broken)
        client, _ = await connect_pair(server)
        assert isinstance(await wait(errors), LookupError)
        await client.close()

    async def test_failing_error_listener_is_logged_not_looped(
        self, server: Server, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An "error" listener that itself raises is logged once; it cannot loop."""
        calls = []

        def bad_error_listener(exc: BaseException) -> None:
            calls.append(exc)
            raise RuntimeError("error listener bug")

        server.on("error", bad_error_listener)
        server.on("connection", lambda client: 1 / 0)
        client, _ = await connect_pair(server)
        assert len(calls) == 1 and isinstance(calls[0], ZeroDivisionError)
        assert "error listener bug" in caplog.text
        await client.close()

    async def test_late_reply_after_timeout_is_dropped(
        self, server: Server, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A reply that comes after handler_timeout sent InternalError is logged and dropped."""
        client, peer = await connect_pair(server, handler_timeout=0.05)
        replies: list[Any] = []
        client.on("Reset", lambda request, cb: replies.append(cb))
        with pytest.raises(OcppError, match="InternalError"):
            await wait(peer.call_request("Reset", {"type": "Soft"}))
        with caplog.at_level(logging.WARNING, "ocpp16"):
            replies[0]({"status": "Accepted"})
        assert "a later reply from cb was dropped" in caplog.text
        await client.close()

    async def test_handler_reply_after_connection_loss_is_ignored(self, server: Server) -> None:
        """A handler that answers after its connection is gone writes nothing and raises nothing."""
        async with raw_peer(server) as ws:
            peer = server.clients["CP1"]
            callbacks, on_call = future_and_setter()
            peer.on("Heartbeat", lambda request, cb: on_call(cb))
            closed, on_close = future_and_setter()
            peer.on("close", on_close)
            await ws.send('[2,"1","Heartbeat",{}]')
            cb = await wait(callbacks)
        await wait(closed)
        cb(NOW)  # nothing to send it on: silently dropped

    async def test_unanswerable_response_sends_internal_error(
        self, pair: tuple[Client, ClientBase]
    ) -> None:
        """A response that JSON cannot carry is not sent; the peer gets InternalError."""
        client, peer = pair
        peer.validation = "off"
        peer.on("Heartbeat", lambda request: {"currentTime": object()})
        with pytest.raises(OcppError) as info:
            await wait(client.call_request("Heartbeat"))
        assert info.value.code == "InternalError"


class TestAuthorizationListeners:
    """Authorization listeners with and without cb, and a server on several hosts."""

    async def test_listener_without_cb(self, server: Server) -> None:
        """fn(cp_id, handshake) without cb decides by returning True or False."""

        async def only_known(cp_id: str, handshake: Handshake) -> bool:
            return cp_id == "KNOWN"

        server.on("authorization", only_known)
        client, _ = await connect_pair(server, "KNOWN")
        await client.close()
        with pytest.raises(HandshakeError) as info:
            await wait(Client("STRANGER").connect(url(server)))
        assert info.value.status == 401

    async def test_listener_without_cb_returning_none_refuses(
        self, server: Server, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Without cb, a listener that returns None gave no verdict: refused, and the log says why."""
        server.on("authorization", lambda cp_id, handshake: None)
        with pytest.raises(HandshakeError):
            await wait(Client("CP1").connect(url(server)))
        assert "must return True or False" in caplog.text

    async def test_listen_on_a_list_of_hosts(self) -> None:
        """listen() takes a list of addresses, as loop.create_server does."""
        async with Server() as server:
            port = await server.listen(0, host=["127.0.0.1"])
            assert server.port == port
            client, peer = await connect_pair(server)
            assert peer.handshake is not None and peer.handshake.cp_id == "CP1"
            assert client.handshake is None
            await client.close()


async def test_websocket_options_reach_both_ends() -> None:
    """ping_interval, ping_timeout and max_message_size are applied to both ends' WebSockets."""
    options = {"ping_interval": 5.0, "ping_timeout": 7.0, "max_message_size": 4321}
    async with Server(**options) as server:
        await server.listen(0, host="127.0.0.1")
        client, peer = await connect_pair(server, **options)
        for end in (client, peer):
            ws = end._transport.connection  # type: ignore[union-attr]
            assert ws is not None
            assert (ws.ping_interval, ws.ping_timeout) == (5.0, 7.0)
            assert ws.protocol.max_message_size == 4321
        await client.close()


class TestWriting:
    """Frames leave in order, also when the peer stops reading for a while."""

    async def test_sends_under_backpressure_keep_their_order(self) -> None:
        """CALLs written while the peer does not read wait their turn in ocpp16, then arrive in order."""
        async with Server(call_concurrency=500) as server:
            port = await server.listen(0, host="127.0.0.1")
            async with ws_connect(
                f"ws://127.0.0.1:{port}/ocpp/CP1",
                subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                compression=None,  # so that the payloads below stay large on the wire
                max_size=None,
            ) as ws:
                peer = await wait(_first_client(server))
                blob = os.urandom(50_000).hex()  # 100 kB that no compression would shrink
                futures = [
                    peer.call_request(
                        "DataTransfer", {"vendorId": "v", "messageId": str(i), "data": blob}
                    )
                    for i in range(200)
                ]
                # 20 MB cannot all go into the socket: a send is left waiting for the peer,
                # and the frames behind it wait in ocpp16's queue, not in the socket's buffer.
                assert peer._writer is not None
                assert len(peer._out) > 100
                for i in range(200):
                    frame = await recv_json(ws)
                    assert frame[3]["messageId"] == str(i)
                    await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
                results = await wait(asyncio.gather(*futures))
                assert results == [{"status": "Accepted"}] * 200
                assert peer._writer is None

    async def test_a_failure_of_ours_in_one_frame_spares_the_connection(
        self, server: Server
    ) -> None:
        """An unexpected error while reading one frame is reported; the next frame is served."""
        async with raw_peer(server) as ws:
            peer = server.clients["CP1"]
            protocol = peer._protocol
            assert protocol is not None
            errors, on_error = future_and_setter()
            peer.on("error", on_error)
            original = protocol.receive_text

            def broken(text: str) -> Any:
                protocol.receive_text = original  # type: ignore[method-assign]
                raise RuntimeError("a bug of ours")

            protocol.receive_text = broken  # type: ignore[method-assign]
            await ws.send('[2,"1","Heartbeat",{}]')
            assert isinstance(await wait(errors), RuntimeError)
            peer.on("Heartbeat", lambda request: NOW)
            await ws.send('[2,"2","Heartbeat",{}]')
            assert await recv_json(ws) == [3, "2", NOW]


async def _first_client(server: Server) -> ClientBase:
    """The server's first connected charge point, once the "connection" event has fired."""
    while not server.clients:
        await asyncio.sleep(0)
    return next(iter(server.clients.values()))


async def test_a_send_cut_off_by_the_close_is_unwound_not_dropped() -> None:
    """A send still waiting when its connection closes is unwound: its async generators finish."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    generators: list[Any] = []

    async def context() -> AsyncIterator[None]:
        yield
        await waiter  # as websockets' send_context waits for the connection to be lost

    async def send() -> None:
        manager = contextlib.asynccontextmanager(context)()
        generators.append(manager.gen)  # type: ignore[attr-defined]
        async with manager:
            pass

    coroutine = send()
    waiting = coroutine.send(None)  # suspended inside the generator, after its yield
    assert generators[0].ag_running
    task = asyncio.ensure_future(finish_send(coroutine, waiting))
    await asyncio.sleep(0)  # one turn: the task now waits on the send's future
    task.cancel()  # what closing the connection does to a send still waiting
    await asyncio.wait({task})
    assert task.cancelled()
    # Finished, not left "running" for the garbage collector, which would make the
    # loop report "aclose(): asynchronous generator is already running".
    assert not generators[0].ag_running and generators[0].ag_frame is None
