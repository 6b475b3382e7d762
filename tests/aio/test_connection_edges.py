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
    Server,
)
from ocpp16._dispatch import _takes_cb
from ocpp16._internals import finish_send
from tests.helpers import (
    NOW,
    connect_pair,
    future_and_setter,
    listening,
    over_transports,
    raw_peer,
    recv_json,
    wait,
)


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

    @over_transports
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
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A handler that outlives its connection by more than handler_timeout is cancelled."""
        cancelled = asyncio.Event()
        started = asyncio.Event()
        async with await listening(handler_timeout=0.1) as server:
            await self._stuck_handler_is_cancelled(server, started, cancelled, caplog)

    async def _stuck_handler_is_cancelled(
        self,
        server: Server,
        started: asyncio.Event,
        cancelled: asyncio.Event,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        client, peer = await connect_pair(server)

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
        await waiter  # as an ASGI server's send may wait inside websockets' send_context for the connection to be lost

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
