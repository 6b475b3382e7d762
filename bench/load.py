"""The raw load process: no OCPP library, frames built before the clock starts.

Two engines speak WebSocket for it (``--engine``):

* ``raw`` (default): an asyncio socket, a hand-written opening handshake, CALL frames
  encoded and masked in advance, and a minimal frame parser for the replies. It costs a
  few microseconds per message, so the server under test, not the load, sets the pace.
* ``websockets``: the ``websockets`` client. It spends about as much CPU per message as a
  plain ``websockets`` server does, so it caps what the fastest servers can show.

Modes:

``pipeline``: one connection; a warm-up burst, then ``--repeat`` times ``--calls`` CALLs
sent back to back while the replies are collected; the clock stops at the last reply, and
the median of the bursts' rates is reported. Every reply must be a CALLRESULT with the id
of a CALL sent (errors are counted, never hidden).

``burst``: one connection; ``--repeat`` times, ``--calls`` CALLs back to back and the time
until all of their replies are in (the server's handlers sleep; scenario 4).

``many``: ``--connections`` connections, at most ``--concurrency`` opening at once; each
sends a BootNotification and ``--heartbeats`` Heartbeats, one after another, and stays
open. Prints ``READY {json}`` when all are done, waits for a line on standard input (the
harness reads the server's memory meanwhile), counts the connections still open, and
prints ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import statistics
import time
from typing import Any

from benchlib import (
    DEFAULT_LIFETIME,
    HOST,
    REQUESTS,
    SUBPROTOCOL,
    emit,
    exit_on_stdin_eof,
    start_process,
)

MAX_SAMPLES = 5  # error descriptions kept in a RESULT


def frame(message_id: str, action: str) -> str:
    return json.dumps([2, message_id, action, REQUESTS[action]], separators=(",", ":"))


def check_replies(replies: list[str], expected: set[str]) -> tuple[int, list[str]]:
    """Count the replies that are not a CALLRESULT to a CALL we sent, and those missing."""
    errors = 0
    samples: list[str] = []
    seen: set[str] = set()
    for text in replies:
        try:
            reply = json.loads(text)
            ok = (
                isinstance(reply, list)
                and len(reply) == 3
                and reply[0] == 3
                and reply[1] in expected
                and reply[1] not in seen
                and isinstance(reply[2], dict)
            )
        except ValueError:
            ok = False
        if ok:
            seen.add(reply[1])
        else:
            errors += 1
            if len(samples) < MAX_SAMPLES:
                samples.append(text[:200])
    missing = len(expected) - len(seen)
    if missing:
        errors += missing
        if len(samples) < MAX_SAMPLES:
            samples.append(f"{missing} replies missing")
    return errors, samples


# --------------------------------------------------------------------------- raw engine


def encode_client_frame(data: str | bytes, opcode: int = 0x1) -> bytes:
    """One complete, masked client frame (RFC 6455 §5.2)."""
    payload = data.encode() if isinstance(data, str) else data
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    key = (mask * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
    return head + mask + masked


class RawConnection(asyncio.Protocol):
    """A WebSocket client connection over a bare asyncio transport."""

    def __init__(self, path: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self.path, self.port = path, port
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.replies: list[bytes] = []
        self.want = 0
        self.waiter: asyncio.Future[None] | None = None
        self.open = False
        self.protocol_errors: list[str] = []

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {self.path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {SUBPROTOCOL}\r\n\r\n"
        )
        transport.write(request.encode())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.opened.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            del self.buffer[: end + 4]
            status = head.split("\r\n", 1)[0]
            if " 101 " not in status + " " or SUBPROTOCOL not in head:
                self.opened.set_exception(ConnectionError(f"handshake refused: {status!r}"))
                return
            self.open = True
            self.opened.set_result(None)
        self.parse()

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        error = ConnectionError(f"connection lost: {exc!r}")
        if not self.opened.done():
            self.opened.set_exception(error)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)

    def parse(self) -> None:
        buf, pos, end = self.buffer, 0, len(self.buffer)
        while end - pos >= 2:
            first, second = buf[pos], buf[pos + 1]
            length, header = second & 0x7F, 2
            if length == 126:
                if end - pos < 4:
                    break
                length, header = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if end - pos < 10:
                    break
                length, header = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if second & 0x80:
                header += 4  # a masked server frame is wrong, but parse on and count it
                self.protocol_errors.append("masked server frame")
            if end - pos < header + length:
                break
            payload = bytes(buf[pos + header : pos + header + length])
            pos += header + length
            opcode = first & 0x0F
            if opcode == 0x1 and first & 0x80:
                self.replies.append(payload)
            elif opcode == 0x9:  # ping: answer it
                assert self.transport is not None
                self.transport.write(encode_client_frame(payload, 0xA))
            elif opcode == 0x8:
                self.open = False
            elif opcode != 0xA:
                self.protocol_errors.append(f"unexpected frame opcode {opcode} fin {first >> 7}")
        del buf[:pos]
        if self.waiter is not None and len(self.replies) >= self.want and not self.waiter.done():
            self.waiter.set_result(None)

    # what the modes use
    async def wait_replies(self, count: int, timeout: float) -> None:
        if len(self.replies) >= count:
            return
        self.want = count
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self.waiter, timeout)
        finally:
            self.waiter = None

    async def send_and_collect(self, frames: list[Any], timeout: float) -> tuple[float, list[str]]:
        assert self.transport is not None
        data = b"".join(frames)
        self.replies.clear()
        start = time.perf_counter()
        self.transport.write(data)
        with contextlib.suppress(TimeoutError, ConnectionError):
            await self.wait_replies(len(frames), timeout)
        elapsed = time.perf_counter() - start
        replies = [r.decode("utf-8", "replace") for r in self.replies]
        replies.extend(self.protocol_errors)
        return elapsed, replies

    async def request(self, prepared: Any, timeout: float) -> str:
        assert self.transport is not None
        self.replies.clear()
        self.transport.write(prepared)
        await self.wait_replies(1, timeout)
        return self.replies[0].decode()

    def is_open(self) -> bool:
        return self.open and self.transport is not None and not self.transport.is_closing()

    async def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_client_frame((1000).to_bytes(2, "big"), 0x8))
            self.transport.close()


class RawEngine:
    name = "raw"

    @staticmethod
    def prepare(text: str) -> bytes:
        return encode_client_frame(text)

    @staticmethod
    async def connect(port: int, cp_id: str, open_timeout: float) -> RawConnection:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(open_timeout):
            _, conn = await loop.create_connection(
                lambda: RawConnection(f"/ocpp/{cp_id}", port), HOST, port
            )
            try:
                await conn.opened
            except BaseException:
                assert conn.transport is not None
                conn.transport.close()
                raise
        return conn


# --------------------------------------------------------------------------- websockets engine


class WsConnection:
    """The same operations over a ``websockets`` client connection."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send_and_collect(self, frames: list[Any], timeout: float) -> tuple[float, list[str]]:
        ws, replies, count = self.ws, [], len(frames)

        async def read() -> None:
            while len(replies) < count:
                replies.append(await ws.recv())

        reader = asyncio.create_task(read())
        start = time.perf_counter()
        for text in frames:
            await ws.send(text)
        try:
            await asyncio.wait_for(reader, timeout)
        except (TimeoutError, ConnectionError):
            reader.cancel()
        except Exception:  # websockets' ConnectionClosed: count what arrived
            pass
        return time.perf_counter() - start, replies

    async def request(self, prepared: Any, timeout: float) -> str:
        async with asyncio.timeout(timeout):
            await self.ws.send(prepared)
            return await self.ws.recv()  # type: ignore[no-any-return]

    def is_open(self) -> bool:
        from websockets.protocol import State

        return self.ws.state is State.OPEN  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self.ws.close()


class WsEngine:
    name = "websockets"
    compression: str | None = "deflate"

    @staticmethod
    def prepare(text: str) -> str:
        return text

    @classmethod
    async def connect(cls, port: int, cp_id: str, open_timeout: float) -> WsConnection:
        from websockets.asyncio.client import connect

        ws = await connect(
            f"ws://{HOST}:{port}/ocpp/{cp_id}",
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
            open_timeout=open_timeout,
            ping_interval=None,
            compression=cls.compression,
            proxy=None,
        )
        return WsConnection(ws)


# --------------------------------------------------------------------------- modes


async def pipeline(args: argparse.Namespace, engine: Any) -> dict[str, Any]:
    conn = await engine.connect(args.port, "LOAD1", args.timeout)
    rates: list[float] = []
    cpu_shares: list[float] = []
    errors = 0
    samples: list[str] = []
    try:
        warm_ids = [f"w{i}" for i in range(args.warmup)]
        warm = [engine.prepare(frame(i, args.action)) for i in warm_ids]
        _, warm_replies = await conn.send_and_collect(warm, args.timeout)
        warm_errors, _ = check_replies(warm_replies, set(warm_ids))
        for r in range(args.repeat):
            ids = [f"p{r}-{i:07d}" for i in range(args.calls)]
            frames = [engine.prepare(frame(message_id, args.action)) for message_id in ids]
            cpu = time.process_time()
            elapsed, replies = await conn.send_and_collect(frames, args.timeout)
            cpu = time.process_time() - cpu
            bad, bad_samples = check_replies(replies, set(ids))
            errors += bad
            samples.extend(bad_samples[: MAX_SAMPLES - len(samples)])
            rates.append(args.calls / elapsed if elapsed > 0 else 0.0)
            cpu_shares.append(cpu / elapsed if elapsed > 0 else 0.0)
    finally:
        await conn.close()
    rate = statistics.median(rates)
    return {
        "calls": args.calls,
        "rates": rates,
        "rate": rate,
        "elapsed": args.calls / rate if rate else 0.0,
        "errors": errors,
        "warmup_errors": warm_errors,
        "error_samples": samples,
        # Near 1.0: the load process itself was busy all along (it may be what limits).
        "load_cpu_share": statistics.median(cpu_shares),
        "engine": engine.name,
    }


async def burst(args: argparse.Namespace, engine: Any) -> dict[str, Any]:
    conn = await engine.connect(args.port, "LOAD1", args.timeout)
    times: list[float] = []
    errors = 0
    samples: list[str] = []
    try:
        for r in range(args.warmup + args.repeat):
            ids = [f"b{r}-{i}" for i in range(args.calls)]
            frames = [engine.prepare(frame(message_id, args.action)) for message_id in ids]
            elapsed, replies = await conn.send_and_collect(frames, args.timeout)
            bad, bad_samples = check_replies(replies, set(ids))
            if r >= args.warmup:
                times.append(elapsed)
                errors += bad
                samples.extend(bad_samples[: MAX_SAMPLES - len(samples)])
    finally:
        await conn.close()
    return {
        "calls": args.calls,
        "times": times,
        "elapsed": statistics.median(times),
        "errors": errors,
        "error_samples": samples,
        "engine": engine.name,
    }


async def many(args: argparse.Namespace, engine: Any) -> None:
    loop = asyncio.get_running_loop()
    proceed = asyncio.Event()
    exit_on_stdin_eof(lambda line: loop.call_soon_threadsafe(proceed.set))
    semaphore = asyncio.Semaphore(args.concurrency)
    connections: list[Any] = []
    handshake_done: list[float] = []
    errors: dict[str, int] = {}
    samples: list[str] = []
    actions = ["BootNotification"] + ["Heartbeat"] * args.heartbeats

    def fail(kind: str, exc: BaseException | str) -> None:
        errors[kind] = errors.get(kind, 0) + 1
        if len(samples) < MAX_SAMPLES:
            samples.append(f"{kind}: {exc!r}"[:200])

    async def one(n: int) -> None:
        try:
            async with semaphore:
                conn = await engine.connect(args.port, f"CP{n:06d}", args.open_timeout)
        except Exception as exc:
            fail("connect", exc)
            return
        handshake_done.append(time.perf_counter())
        connections.append(conn)
        try:
            for i, action in enumerate(actions):
                message_id = f"{n}-{i}"
                reply = json.loads(
                    await conn.request(engine.prepare(frame(message_id, action)), args.timeout)
                )
                if not (reply[0] == 3 and reply[1] == message_id):
                    fail("reply", str(reply))
                    return
        except Exception as exc:
            fail("exchange", exc)

    start = time.perf_counter()
    tasks = [asyncio.create_task(one(n)) for n in range(args.connections)]
    await asyncio.wait(tasks)
    done = time.perf_counter()
    opened = len(handshake_done)
    handshake_elapsed = (max(handshake_done) - start) if handshake_done else 0.0
    result: dict[str, Any] = {
        "connections": args.connections,
        "opened": opened,
        "handshake_elapsed": handshake_elapsed,
        "handshake_rate": opened / handshake_elapsed if handshake_elapsed > 0 else 0.0,
        "completion_time": done - start,
        "engine": engine.name,
    }
    emit("READY", result)
    try:
        await asyncio.wait_for(proceed.wait(), args.hold)
    except TimeoutError:
        fail("hold", "the harness did not answer READY in time")
    dropped = sum(1 for conn in connections if not conn.is_open())
    if dropped:
        errors["dropped"] = dropped
    result.update(
        errors=sum(errors.values()),
        error_kinds=errors,
        error_samples=samples,
        still_open=len(connections) - dropped,
    )
    emit("RESULT", result)
    # Stay until the harness closes our standard input (after it has stopped the server,
    # so that the server's ends close first), or until the lifetime alarm.
    await asyncio.Event().wait()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="mode", required=True)
    for name in ("pipeline", "burst", "many"):
        p = sub.add_parser(name)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--engine", choices=["raw", "websockets"], default="raw")
        p.add_argument(
            "--compression",
            choices=["deflate", "none"],
            default="none",
            help="websockets engine: offer permessage-deflate or not",
        )
        p.add_argument("--timeout", type=float, default=120.0, help="seconds a burst may take")
        p.add_argument("--lifetime", type=float, default=DEFAULT_LIFETIME)
    pipe = sub.choices["pipeline"]
    pipe.add_argument("--calls", type=int, default=5000)
    pipe.add_argument("--warmup", type=int, default=100)
    pipe.add_argument("--repeat", type=int, default=3, help="bursts; the median rate is kept")
    pipe.add_argument("--action", choices=sorted(REQUESTS), default="BootNotification")
    bur = sub.choices["burst"]
    bur.add_argument("--calls", type=int, default=20)
    bur.add_argument("--repeat", type=int, default=5)
    bur.add_argument("--warmup", type=int, default=1)
    bur.add_argument("--action", choices=sorted(REQUESTS), default="Heartbeat")
    man = sub.choices["many"]
    man.add_argument("--connections", type=int, default=1000)
    man.add_argument("--concurrency", type=int, default=100)
    man.add_argument("--heartbeats", type=int, default=2)
    man.add_argument("--open-timeout", type=float, default=120.0)
    man.add_argument("--hold", type=float, default=120.0, help="seconds to wait for the harness")
    return parser.parse_args(argv)


def main() -> None:
    args = parse()
    start_process(args.lifetime)
    engine: Any = RawEngine
    if args.engine == "websockets":
        engine = WsEngine
        WsEngine.compression = None if args.compression == "none" else "deflate"
    if args.mode == "pipeline":
        exit_on_stdin_eof()
        emit("RESULT", asyncio.run(pipeline(args, engine)))
    elif args.mode == "burst":
        exit_on_stdin_eof()
        emit("RESULT", asyncio.run(burst(args, engine)))
    else:
        asyncio.run(many(args, engine))


if __name__ == "__main__":
    main()
