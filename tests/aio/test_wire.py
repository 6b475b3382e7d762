"""The connection on websockets' sans-I/O layer (``ocpp16._wire``), at the edges of TCP.

What websockets' asyncio layer used to give, now ours: flow control both ways,
keepalive over a half-open connection, the TLS handshake's timeout, frames cut
anywhere or packed together, the close handshake's timeout; and the write
coalescing that replaced one ``transport.write`` per frame. Raw TCP peers,
on 127.0.0.1 port 0.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trustme
from websockets.frames import Frame, Opcode

from ocpp16 import Client, ClientBase, Server
from ocpp16._wire import READ_HIGH, WRITE_HIGH, Wire
from tests.helpers import NOW, TIMEOUT, future_and_setter, listening, until, wait


async def accept_upgrade(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer a client's opening handshake with 101 and ocpp1.6, as a bare central system.

    RFC 6455 §4.2.2: Sec-WebSocket-Accept is the base64 SHA-1 of the key and the GUID.
    """
    request = await reader.readuntil(b"\r\n\r\n")
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
    )


HEARTBEAT = '[2,"{}","Heartbeat",{{}}]'


def masked(text: str, opcode: Opcode = Opcode.TEXT) -> bytes:
    """One frame as a client sends it (RFC 6455 §5.3: masked)."""
    return Frame(opcode, text.encode()).serialize(mask=True, extensions=[])


def unmasked_close(code: int = 1000) -> bytes:
    """A close frame as a server sends it."""
    return Frame(Opcode.CLOSE, code.to_bytes(2, "big")).serialize(mask=False, extensions=[])


@asynccontextmanager
async def raw_client(
    server: Server, cp_id: str = "CP1"
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A bare TCP peer that has completed the opening handshake, and nothing else."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ocpp/{cp_id} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
        ).encode()
    )
    head = await wait(reader.readuntil(b"\r\n\r\n"))
    assert head.startswith(b"HTTP/1.1 101"), head
    try:
        yield reader, writer
    finally:
        writer.transport.abort()


async def read_frames(reader: asyncio.StreamReader, count: int) -> list[Frame]:
    """Read ``count`` frames the server sent (unmasked)."""
    frames: list[Frame] = []
    while len(frames) < count:
        head = await reader.readexactly(2)
        length = head[1] & 0x7F
        extra = b""
        if length == 126:
            extra = await reader.readexactly(2)
            length = int.from_bytes(extra, "big")
        elif length == 127:
            extra = await reader.readexactly(8)
            length = int.from_bytes(extra, "big")
        data = await reader.readexactly(length)
        frames.append(Frame(Opcode(head[0] & 0x0F), data))
    return frames


def wire_of(client: ClientBase) -> Wire:
    """The connection's wire."""
    transport = client._transport
    assert isinstance(transport, Wire)
    return transport


async def first_connection(server: Server) -> ClientBase:
    """The first charge point that connects."""
    seen, on_connection = future_and_setter()
    server.once("connection", on_connection)
    client: ClientBase = await wait(seen)
    return client


# ----------------------------------------------------------------------------- flow control


async def test_a_peer_that_stops_reading_costs_bounded_memory_then_is_closed() -> None:
    """A peer that floods CALLs and never reads: reading pauses, buffers stay bounded, close drops it."""
    # handler_timeout bounds the drain of close(): the answers queued behind the
    # blocked send get that long to go out.
    server = await listening(ping_interval=None, close_timeout=0.2, handler_timeout=0.2)
    server.on("connection", lambda client: client.on("Heartbeat", lambda request: NOW))
    try:
        connected = asyncio.ensure_future(first_connection(server))
        async with raw_client(server) as (_, writer):
            peer = await wait(connected)
            wire = wire_of(peer)
            closed, on_close = future_and_setter()
            peer.on("close", on_close)
            chunk = b"".join(masked(HEARTBEAT.format(i)) for i in range(1000))

            async def flood() -> None:
                # CALLs for as long as the server reads them; their answers find nobody reading.
                while True:
                    writer.write(chunk)
                    await writer.drain()

            flooding = asyncio.ensure_future(flood())
            try:
                await until(lambda: wire._reading_paused and wire._held)
                transport = wire._transport
                assert transport is not None
                # What the server holds for this peer: its socket's write buffer (one
                # flush past the high-water mark at most), the frames of the read
                # under way, and the answers queued behind the send that waits.
                assert transport.get_write_buffer_size() <= 4 * WRITE_HIGH
                assert sum(len(frame) for frame in wire._frames) <= 256 * 1024
                assert len(peer._out) <= 2
                # A close frame queued behind answers nobody reads gets no answer:
                # after the drain and close_timeout the connection is dropped.
                await wait(peer.close(1000, "bye"))
                assert (await wait(closed))[0] == 1000
            finally:
                flooding.cancel()
    finally:
        await server.close()


async def test_reading_resumes_once_the_read_loop_takes_the_frames() -> None:
    """Reading paused by a flood resumes when the frames are read: every CALL is answered, in order."""
    server = await listening(ping_interval=None)
    server.on("connection", lambda client: client.on("Heartbeat", lambda request: NOW))
    try:
        connected = asyncio.ensure_future(first_connection(server))
        async with raw_client(server) as (reader, writer):
            await wait(connected)
            count = 20 * READ_HIGH
            writer.write(b"".join(masked(HEARTBEAT.format(i)) for i in range(count)))
            frames = await wait(read_frames(reader, count))
            assert [json.loads(frame.data)[1] for frame in frames] == [str(i) for i in range(count)]
    finally:
        await server.close()


# ----------------------------------------------------------------------------- keepalive


async def test_a_half_open_connection_is_closed_by_keepalive() -> None:
    """A peer gone silent without a FIN (no pong, no close frame): the server closes with 1011."""
    server = await listening(ping_interval=0.2, ping_timeout=0.2, close_timeout=0.2)
    try:
        connected = asyncio.ensure_future(first_connection(server))
        async with raw_client(server) as (reader, _):
            peer = await wait(connected)
            closed, on_close = future_and_setter()
            peer.on("close", on_close)
            assert (await wait(closed))[0] == 1011
            # What reached the silent peer: a ping, then the close frame (1011),
            # then the end of the TCP connection.
            frames = await wait(read_frames(reader, 2))
            assert frames[0].opcode is Opcode.PING
            assert frames[1].opcode is Opcode.CLOSE and frames[1].data[:2] == b"\x03\xf3"
            assert await wait(reader.read()) == b""
    finally:
        await server.close()


async def test_a_client_closes_a_half_open_connection_by_keepalive() -> None:
    """A central system that accepts, then goes silent: the Client closes with 1011."""
    answered = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept_upgrade(reader, writer)
        answered.set()
        await reader.read()  # reads, never answers, until the client drops it
        writer.close()

    tcp = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    client = Client("CP1", ping_interval=0.2, ping_timeout=0.2, close_timeout=0.2)
    try:
        closed, on_close = future_and_setter()
        client.on("close", on_close)
        await wait(client.connect(f"ws://127.0.0.1:{port}/ocpp"))
        await wait(answered.wait())
        assert (await wait(closed))[0] == 1011
    finally:
        await wait(client.close())
        tcp.close()
        await wait(tcp.wait_closed())


# ----------------------------------------------------------------------------- handshake


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    """A test certificate authority."""
    return trustme.CA()


async def test_a_tls_handshake_that_stalls_is_dropped_after_handshake_timeout(
    authority: trustme.CA,
) -> None:
    """A TCP peer that never starts TLS is dropped after handshake_timeout, not after 60 s."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    server = Server(handshake_timeout=0.2)
    await server.listen(0, host="127.0.0.1", ssl=context)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            # handshake_timeout is far below TIMEOUT (and asyncio's own 60 s default).
            assert await wait(reader.read()) == b""
        finally:
            writer.close()
    finally:
        await server.close()


# ----------------------------------------------------------------------------- framing


async def test_a_frame_split_into_one_byte_segments_is_read_whole() -> None:
    """A CALL sent one byte per TCP segment is read once, whole, and answered."""
    server = await listening(ping_interval=None)
    server.on("connection", lambda client: client.on("Heartbeat", lambda request: NOW))
    try:
        connected = asyncio.ensure_future(first_connection(server))
        async with raw_client(server) as (reader, writer):
            peer = await wait(connected)
            seen: list[str] = []
            peer.on("message", lambda direction, text: seen.append(direction))
            for byte in masked(HEARTBEAT.format("split")):
                writer.write(bytes([byte]))
                await writer.drain()
            (answer,) = await wait(read_frames(reader, 1))
            assert json.loads(answer.data)[:2] == [3, "split"]
            assert seen == ["in", "out"]
    finally:
        await server.close()


class _Recorder(asyncio.Transport):
    """A transport that records writes (for driving a Wire byte by byte)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return False

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.writes.append(b"<EOF>")


async def test_data_received_byte_by_byte_hands_the_frame_over_once() -> None:
    """Fed one byte per data_received, the wire hands over nothing until the last byte, then the text."""
    from websockets.protocol import State
    from websockets.server import ServerProtocol

    wire = Wire(
        ServerProtocol(state=State.OPEN), ping_interval=None, ping_timeout=None, close_timeout=None
    )
    wire.connection_made(_Recorder())
    text = '[2,"1","Heartbeat",{"é":"€"}]'
    frame = masked(text)
    received: list[str | bytes] = []
    wire.start_reading(received.append, lambda: None)
    for byte in frame[:-1]:
        wire.data_received(bytes([byte]))
        assert received == []
    wire.data_received(frame[-1:])
    assert received == [text]


async def test_a_thousand_frames_in_one_segment_are_answered_in_one_write() -> None:
    """1,000 CALLs in one TCP segment: 1,000 answers, in order, in as many writes as reads."""
    server = await listening(ping_interval=None)
    server.on("connection", lambda client: client.on("Heartbeat", lambda request: NOW))
    try:
        connected = asyncio.ensure_future(first_connection(server))
        async with raw_client(server) as (reader, writer):
            peer = await wait(connected)
            wire = wire_of(peer)
            transport = wire._transport
            assert transport is not None
            writes, reads = count_calls(transport, "write"), count_calls(wire.ws, "receive_data")
            # Short message ids: the 1,000 answers stay under the flush threshold.
            writer.write(b"".join(masked(HEARTBEAT.format(i)) for i in range(1000)))
            frames = await wait(read_frames(reader, 1000))
            assert [json.loads(frame.data)[1] for frame in frames] == [str(i) for i in range(1000)]
            assert 1 <= len(writes) <= len(reads)
    finally:
        await server.close()


def count_calls(target: Any, name: str) -> list[None]:
    """Count the calls of ``target.name`` from now on (an instance attribute wraps it)."""
    calls: list[None] = []
    original: Callable[..., Any] = getattr(target, name)

    def counted(*args: Any) -> Any:
        calls.append(None)
        return original(*args)

    setattr(target, name, counted)
    return calls


async def test_answers_calls_and_pongs_leave_in_the_order_made() -> None:
    """A ping between two CALLs: the pong (made as the ping is parsed), the answers, then our CALL."""
    server = await listening(ping_interval=None)
    server.on("connection", lambda client: client.on("Heartbeat", lambda request: NOW))
    try:
        connected = asyncio.ensure_future(first_connection(server))
        async with raw_client(server) as (reader, writer):
            peer = await wait(connected)
            writer.write(
                masked(HEARTBEAT.format("a"))
                + masked("ping!", Opcode.PING)
                + masked(HEARTBEAT.format("b"))
            )
            frames = await wait(read_frames(reader, 3))
            assert [frame.opcode for frame in frames] == [Opcode.PONG, Opcode.TEXT, Opcode.TEXT]
            assert frames[0].data == b"ping!"
            assert json.loads(frames[1].data)[1] == "a" and json.loads(frames[2].data)[1] == "b"
            reset = peer.call_request("Reset", {"type": "Soft"})
            (call,) = await wait(read_frames(reader, 1))
            assert json.loads(call.data)[2] == "Reset"
            reset.cancel()
    finally:
        await server.close()


# ----------------------------------------------------------------------------- closing


async def test_a_close_the_peer_never_answers_ends_after_close_timeout() -> None:
    """Our close frame gets no answer and the TCP connection stays: dropped after close_timeout."""
    server = await listening(ping_interval=None, close_timeout=0.2)
    try:
        connected = asyncio.ensure_future(first_connection(server))
        async with raw_client(server) as (reader, _):
            peer = await wait(connected)
            closed, on_close = future_and_setter()
            peer.on("close", on_close)
            await wait(peer.close(1000, "bye"))
            (frame,) = await wait(read_frames(reader, 1))
            assert frame.opcode is Opcode.CLOSE
            # The server half-closed (EOF) and, with no answer, dropped the connection.
            assert await wait(reader.read()) == b""
            assert (await wait(closed))[0] == 1000
    finally:
        await server.close()


async def test_a_client_whose_close_is_never_answered_ends_after_close_timeout() -> None:
    """A Client's close frame gets no answer: close() returns after close_timeout, code 1000."""
    accepted = asyncio.Event()

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept_upgrade(reader, writer)
        accepted.set()
        await reader.read()
        writer.close()

    tcp = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    client = Client("CP1", ping_interval=None, close_timeout=0.2)
    try:
        closed, on_close = future_and_setter()
        client.on("close", on_close)
        await wait(client.connect(f"ws://127.0.0.1:{port}/ocpp"))
        await wait(accepted.wait())
        await wait(client.close(1000, "bye"))
        assert (await wait(closed))[0] == 1000
    finally:
        tcp.close()
        await wait(tcp.wait_closed())


async def test_a_close_frame_from_the_peer_is_echoed_and_reported() -> None:
    """The peer closes with 4000: the server echoes it, ends the TCP connection, and reports 4000."""
    server = await listening(ping_interval=None)
    try:
        connected = asyncio.ensure_future(first_connection(server))
        async with raw_client(server) as (reader, writer):
            peer = await wait(connected)
            closed, on_close = future_and_setter()
            peer.on("close", on_close)
            writer.write(
                Frame(Opcode.CLOSE, (4000).to_bytes(2, "big") + b"done").serialize(
                    mask=True, extensions=[]
                )
            )
            (echo,) = await wait(read_frames(reader, 1))
            assert echo.opcode is Opcode.CLOSE and echo.data == (4000).to_bytes(2, "big") + b"done"
            assert await wait(reader.read()) == b""
            writer.close()
            assert await wait(closed) == (4000, "done")
    finally:
        await server.close()


async def test_invalid_utf8_in_a_text_frame_fails_the_connection_with_1007() -> None:
    """RFC 6455 §8.1: a text frame that is not UTF-8 closes the connection with 1007."""
    server = await listening(ping_interval=None)
    try:
        connected = asyncio.ensure_future(first_connection(server))
        async with raw_client(server) as (reader, writer):
            peer = await wait(connected)
            closed, on_close = future_and_setter()
            peer.on("close", on_close)
            writer.write(Frame(Opcode.TEXT, b"\xff\xfe").serialize(mask=True, extensions=[]))
            (frame,) = await wait(read_frames(reader, 1))
            assert frame.opcode is Opcode.CLOSE and frame.data[:2] == (1007).to_bytes(2, "big")
            writer.close()
            assert (await wait(closed))[0] == 1007
    finally:
        await server.close()


async def test_a_fragmented_message_is_assembled() -> None:
    """A CALL in three fragments (RFC 6455 §5.4) is read as one message and answered."""
    server = await listening(ping_interval=None)
    server.on("connection", lambda client: client.on("Heartbeat", lambda request: NOW))
    try:
        connected = asyncio.ensure_future(first_connection(server))
        async with raw_client(server) as (reader, writer):
            await wait(connected)
            text = HEARTBEAT.format("frag").encode()
            parts = [
                Frame(Opcode.TEXT, text[:5], fin=False),
                Frame(Opcode.CONT, text[5:12], fin=False),
                Frame(Opcode.CONT, text[12:], fin=True),
            ]
            writer.write(b"".join(part.serialize(mask=True, extensions=[]) for part in parts))
            (answer,) = await wait(read_frames(reader, 1))
            assert json.loads(answer.data)[:2] == [3, "frag"]
    finally:
        await server.close()


# ----------------------------------------------------------------------------- uvloop


def test_a_server_and_a_client_exchange_on_uvloop() -> None:
    """On uvloop, unchanged: a Client connects, boots, is called, and both close cleanly."""
    uvloop = pytest.importorskip("uvloop", reason="uvloop does not install on this platform")

    async def exchange() -> tuple[Any, Any, int]:
        server = await listening()
        server.on("connection", lambda client: client.on("Heartbeat", lambda request: NOW))
        try:
            connected = asyncio.ensure_future(first_connection(server))
            client = Client("CP1")
            client.on("Reset", lambda request: {"status": "Accepted"})
            await wait(client.connect(f"ws://127.0.0.1:{server.port}/ocpp"))
            peer = await wait(connected)
            heartbeat = await wait(client.call_request("Heartbeat"))
            reset = await wait(peer.call_request("Reset", {"type": "Hard"}))
            closed, on_close = future_and_setter()
            peer.on("close", on_close)
            await wait(client.close())
            code, _ = await wait(closed)
            return heartbeat, reset, code
        finally:
            await server.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        heartbeat, reset, code = runner.run(exchange())
    assert heartbeat == NOW and reset == {"status": "Accepted"} and code == 1000
    assert TIMEOUT > 0


# ----------------------------------------------------------------------------- compression


async def test_per_message_deflate_is_negotiated_and_bounds_the_inflated_size() -> None:
    """A Client and a Server agree on permessage-deflate; max_message_size counts inflated bytes."""
    from ocpp16.errors import ConnectionClosed

    server = await listening(max_message_size=4096)
    server.on("connection", lambda client: client.on("Heartbeat", lambda request: NOW))
    try:
        connected = asyncio.ensure_future(first_connection(server))
        client = Client("CP1")
        await wait(client.connect(f"ws://127.0.0.1:{server.port}/ocpp"))
        peer = await wait(connected)
        assert [e.name for e in wire_of(peer).ws.extensions] == ["permessage-deflate"]
        assert [e.name for e in wire_of(client).ws.extensions] == ["permessage-deflate"]
        assert await wait(client.call_request("Heartbeat")) == NOW
        closed, on_close = future_and_setter()
        peer.on("close", on_close)
        # 20 kB of one letter deflates to a few dozen bytes, but inflates past 4 kB.
        large = client.call_request(
            "DataTransfer", {"vendorId": "v", "data": "x" * 20_000}, timeout=TIMEOUT
        )
        assert (await wait(closed))[0] == 1009
        with pytest.raises(ConnectionClosed):
            await wait(large)
        await wait(client.close())
    finally:
        await server.close()


@pytest.mark.parametrize("size", [10, 125, 126, 65_535, 65_536, 200_000])
async def test_a_server_writes_frames_of_every_length_class(size: int) -> None:
    """RFC 6455 §5.2: the 7-bit, 16-bit and 64-bit lengths of the frames a server writes."""
    server = await listening(ping_interval=None)
    try:
        connected = asyncio.ensure_future(first_connection(server))
        async with raw_client(server) as (reader, _):
            peer = await wait(connected)
            call = peer.call_request("DataTransfer", {"vendorId": "v", "data": "x" * size})
            (frame,) = await wait(read_frames(reader, 1))
            assert frame.opcode is Opcode.TEXT
            message = json.loads(frame.data)
            assert message[2] == "DataTransfer" and message[3]["data"] == "x" * size
            call.cancel()
    finally:
        await server.close()


# ----------------------------------------------------------------------------- the handshake's edges


async def raw_answer(port: int, request: bytes) -> bytes:
    """Send ``request`` on a fresh TCP connection; return everything the server answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        return bytes(await wait(reader.read()))
    finally:
        writer.close()


class _Answering(Server):
    """A server whose plain-HTTP seam answers /ping (and nothing else)."""

    def _answer_http(self, method: str, path: str) -> Any:
        from ocpp16._http import HttpAnswer

        return HttpAnswer(200, "text/plain", b"pong\n") if path == "/ping" else None


async def test_a_plain_http_request_gets_the_servers_own_answer() -> None:
    """A request that is no upgrade goes to _answer_http: its status, Content-Type and body."""
    server = _Answering()
    await server.listen(0, host="127.0.0.1")
    try:
        answer = await raw_answer(server.port or 0, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"\r\nContent-Type: text/plain\r\n" in head + b"\r\n"
        assert b"\r\nContent-Length: 5" in head and body == b"pong\n"
        # Another path goes on as a handshake, and is refused as one.
        answer = await raw_answer(server.port or 0, b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400 ")
    finally:
        await server.close()


class _Broken(Server):
    """A server whose handshake decision fails (a bug of ours)."""

    async def _decide(self, *args: Any) -> Any:
        raise RuntimeError("a bug in the handshake")


async def test_a_failing_handshake_decision_answers_500_and_spares_the_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception while deciding a handshake: HTTP 500, logged; the server still serves."""
    server = _Broken()
    await server.listen(0, host="127.0.0.1")
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            "GET /ocpp/CP1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
        ).encode()
        answer = await raw_answer(server.port or 0, request)
        assert answer.startswith(b"HTTP/1.1 500 ")
        assert any("the opening handshake failed" in r.message for r in caplog.records)
        assert server.sockets
    finally:
        await server.close()


async def test_a_handshake_still_deciding_at_handshake_timeout_is_dropped() -> None:
    """An authorization listener that never decides: after handshake_timeout the TCP connection goes."""
    server = Server(handshake_timeout=0.2)
    undecided = asyncio.Event()

    async def never(cp_id: str, handshake: Any) -> None:
        undecided.set()
        await asyncio.Event().wait()

    server.on("authorization", never)
    await server.listen(0, host="127.0.0.1")
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            "GET /ocpp/CP1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
        ).encode()
        assert await raw_answer(server.port or 0, request) == b""
        assert undecided.is_set()
    finally:
        await server.close()


async def test_a_connection_factory_that_fails_closes_the_connection_with_1011(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failure while serving an accepted connection is logged, and the connection closes (1011)."""

    def factory(cp_id: str, **_: Any) -> ClientBase:
        raise RuntimeError("no connection object today")

    server = Server(connection_factory=factory)
    await server.listen(0, host="127.0.0.1")
    try:
        async with raw_client(server) as (reader, _):
            (frame,) = await wait(read_frames(reader, 1))
            assert frame.opcode is Opcode.CLOSE and frame.data[:2] == (1011).to_bytes(2, "big")
        await until(lambda: any("serving 'CP1' failed" in r.message for r in caplog.records))
    finally:
        await server.close()


# ----------------------------------------------------------------------------- the wire alone


def open_wire_alone() -> tuple[Wire, _Recorder]:
    """A server-side wire, open, over a transport that records what it writes."""
    from websockets.protocol import State
    from websockets.server import ServerProtocol

    wire = Wire(
        ServerProtocol(state=State.OPEN), ping_interval=None, ping_timeout=None, close_timeout=None
    )
    recorder = _Recorder()
    wire.connection_made(recorder)
    return wire, recorder


async def test_a_send_while_writing_is_paused_waits_and_fails_if_the_connection_goes() -> None:
    """Paused writing: send returns an awaitable; the connection lost, it raises TransportClosed."""
    from ocpp16._transport import TransportClosed

    wire, _ = open_wire_alone()
    assert wire.close_code is None and wire.close_reason == ""
    wire.pause_writing()
    waiting = wire.send('[2,"1","Heartbeat",{}]')
    assert waiting is not None
    task = asyncio.ensure_future(waiting)
    await asyncio.sleep(0)
    assert not task.done()
    wire.connection_lost(None)
    with pytest.raises(TransportClosed):
        await wait(task)
    assert wire.close_code == 1006 and wire.close_reason == ""


async def test_a_send_while_writing_is_paused_goes_on_when_it_resumes() -> None:
    """Paused writing: the awaitable finishes once the transport resumes writing."""
    wire, recorder = open_wire_alone()
    wire.pause_writing()
    waiting = wire.send('[2,"1","Heartbeat",{}]')
    assert waiting is not None
    task = asyncio.ensure_future(waiting)
    await asyncio.sleep(0)
    wire.resume_writing()
    await wait(task)
    assert b"Heartbeat" in b"".join(recorder.writes)


async def test_fragmented_binary_and_invalid_fragmented_text() -> None:
    """A fragmented binary message is handed over whole; fragmented invalid UTF-8 fails with 1007."""
    wire, recorder = open_wire_alone()
    received: list[str | bytes] = []
    wire.start_reading(received.append, lambda: None)
    parts = [Frame(Opcode.BINARY, b"\x00\x01", fin=False), Frame(Opcode.CONT, b"\x02", fin=True)]
    wire.data_received(b"".join(p.serialize(mask=True, extensions=[]) for p in parts))
    assert received == [b"\x00\x01\x02"]
    parts = [Frame(Opcode.TEXT, b"\xe2\x82", fin=False), Frame(Opcode.CONT, b"\x28", fin=True)]
    wire.data_received(b"".join(p.serialize(mask=True, extensions=[]) for p in parts))
    assert received == [b"\x00\x01\x02"]
    assert b"\x03\xef" in b"".join(recorder.writes)  # a close frame with 1007


async def test_frames_before_reading_starts_are_kept_and_bounded() -> None:
    """Frames that arrive before start_reading wait (pausing the socket at READ_HIGH), then go in order."""
    wire, _ = open_wire_alone()
    paused: list[bool] = []
    transport = wire._transport
    assert transport is not None
    transport.pause_reading = lambda: paused.append(True)  # type: ignore[method-assign]
    transport.resume_reading = lambda: paused.append(False)  # type: ignore[method-assign]
    wire.data_received(b"".join(masked(HEARTBEAT.format(i)) for i in range(READ_HIGH)))
    assert paused == [True]
    received: list[str | bytes] = []
    wire.start_reading(received.append, lambda: None)
    assert received == [HEARTBEAT.format(i) for i in range(READ_HIGH)]
    assert paused == [True, False]


async def test_reading_started_on_a_wire_already_gone_ends_at_once() -> None:
    """start_reading after the connection is gone: the frames received, then on_gone."""
    wire, _ = open_wire_alone()
    wire.data_received(masked(HEARTBEAT.format(1)))
    wire.connection_lost(None)
    seen: list[Any] = []
    wire.start_reading(seen.append, lambda: seen.append("gone"))
    assert seen == [HEARTBEAT.format(1), "gone"]


async def test_closing_a_wire_still_in_its_handshake_drops_it() -> None:
    """close() during the opening handshake drops the TCP connection; pings and pong deadlines do nothing then."""
    from websockets.server import ServerProtocol

    wire = Wire(ServerProtocol(), ping_interval=None, ping_timeout=None, close_timeout=None)
    aborted: list[bool] = []
    recorder = _Recorder()
    recorder.abort = lambda: aborted.append(True)  # type: ignore[method-assign]
    wire.connection_made(recorder)
    wire._ping()
    wire._pong_missing()
    assert recorder.writes == []
    task = asyncio.ensure_future(wire.close())
    await asyncio.sleep(0)
    assert aborted == [True]
    wire.connection_lost(None)
    await wait(task)


async def test_keepalive_settings_of_an_open_connection_reach_its_wire() -> None:
    """ping_interval and ping_timeout set on an open connection are its wire's from then on."""
    server = await listening(ping_interval=30, ping_timeout=20)
    try:
        connected = asyncio.ensure_future(first_connection(server))
        async with raw_client(server):
            peer = await wait(connected)
            peer.ping_interval, peer.ping_timeout = 5, None
            wire = wire_of(peer)
            assert (wire.ping_interval, wire.ping_timeout) == (5, None)
            assert (peer.ping_interval, peer.ping_timeout) == (5, None)
    finally:
        await server.close()


async def test_a_failure_of_ours_while_handing_a_frame_over_spares_the_connection() -> None:
    """An unexpected error while a frame is handed over is reported; the next frame is served."""
    server = await listening(ping_interval=None)
    server.on("connection", lambda client: client.on("Heartbeat", lambda request: NOW))
    try:
        connected = asyncio.ensure_future(first_connection(server))
        async with raw_client(server) as (reader, writer):
            peer = await wait(connected)
            errors, on_error = future_and_setter()
            peer.on("error", on_error)

            def broken(*args: Any) -> None:
                del peer._bad_message  # type: ignore[attr-defined]
                raise RuntimeError("a bug of ours")

            peer._bad_message = broken  # type: ignore[method-assign]
            writer.write(Frame(Opcode.BINARY, b"\x00").serialize(mask=True, extensions=[]))
            assert isinstance(await wait(errors), RuntimeError)
            writer.write(masked(HEARTBEAT.format("next")))
            (answer,) = await wait(read_frames(reader, 1))
            assert json.loads(answer.data)[:2] == [3, "next"]
    finally:
        await server.close()


async def test_a_registry_that_fails_to_release_is_reported_and_the_server_closes() -> None:
    """A registry whose release raises: the failure goes to "error"; close() still completes."""
    from ocpp16.registry import LocalRegistry

    class Failing(LocalRegistry):
        async def release(self, connection: ClientBase) -> None:
            await super().release(connection)
            raise RuntimeError("the registry is down")

    server = Server(registry=Failing(), ping_interval=None)
    errors, on_error = future_and_setter()
    server.on("error", on_error)
    await server.listen(0, host="127.0.0.1")
    try:
        connected = asyncio.ensure_future(first_connection(server))
        async with raw_client(server):
            await wait(connected)
        assert isinstance(await wait(errors), RuntimeError)
    finally:
        await wait(server.close())
