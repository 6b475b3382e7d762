"""The :class:`~ocpp16._transport.Transport` over ``websockets``' sans-I/O protocol.

:class:`Wire` is an ``asyncio.Protocol`` of ours that drives one
``websockets.protocol.Protocol`` (a ``ServerProtocol`` or a ``ClientProtocol``):
bytes come in through ``data_received``, are parsed into frames at once, and
each frame is handed to the connection there and then (``Transport.start_reading``:
no task reads). Frames to send go into one buffer, in order: everything the
frames of one read produce (their answers, pongs, the echo of a close frame)
leaves in one ``transport.write`` at the end of ``data_received``; what is sent
outside a read (CALLs, a coroutine handler's answer, a ping) leaves with
everything else sent in the same loop iteration, in one write scheduled with
``call_soon``. Keepalive, the close handshake's timeout and flow control are
timers and callbacks: no task of its own.

Flow control, both ways (README "Limits"):

* Writing: past the transport's high-water mark, ``send`` returns an
  awaitable that finishes once the buffer drained (``pause_writing`` /
  ``resume_writing``); the connection sends nothing else meanwhile, and holds
  reading (``pause_reading``) until it is done.
* Reading: while the connection holds reading, frames are kept back and the
  socket is not read; frames kept back before the connection reads are
  bounded by :data:`READ_HIGH`. So a peer that floods, or that never reads
  our answers, costs bounded memory.

Only public ``websockets`` API is used: ``websockets.protocol``,
``websockets.frames``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, cast

from websockets.frames import Frame, Opcode
from websockets.protocol import Side, State

from ocpp16._transport import OnFrame, OnGone, TransportClosed

if TYPE_CHECKING:
    from websockets.protocol import Event
    from websockets.protocol import Protocol as WsProtocol
    from websockets.typing import BytesLike

    from ocpp16.handshake import Handshake

__all__ = ["READ_HIGH", "WRITE_HIGH", "Wire"]

READ_HIGH = 64
"""Frames held back at which the socket is no longer read (until they are taken)."""
WRITE_HIGH = 65536
"""Bytes in the transport's write buffer past which ``send`` must wait."""

_OPEN = State.OPEN
_CLOSED = State.CLOSED
_CONNECTING = State.CONNECTING
_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
_CONT = Opcode.CONT
_PONG = Opcode.PONG
# The first two bytes of an unmasked text frame of each length below 126 (RFC 6455 §5.2).
_SHORT_HEADERS = [bytes((0x81, size)) for size in range(126)]


class Wire(asyncio.Protocol):
    """One WebSocket connection: ``websockets``' sans-I/O protocol over an asyncio transport.

    Args:
        ws: The sans-I/O protocol (``ServerProtocol`` or ``ClientProtocol``).
        ping_interval: Seconds between keepalive pings; ``None`` for none.
        ping_timeout: Seconds to wait for a pong before failing the
            connection with 1011; ``None`` to wait forever.
        close_timeout: Seconds the closing handshake waits for the peer
            before the TCP connection is dropped; ``None`` waits forever.

    Attributes:
        ws: The sans-I/O protocol.
        ping_interval: Seconds between keepalive pings; read each time a ping
            is due, so a change takes effect after the current interval.
        ping_timeout: Seconds to wait for a pong; read when a ping goes out.
        close_timeout: Seconds the closing handshake waits for the peer.
    """

    # Slots: a connection's wire is one of the objects every charge point costs.
    __slots__ = (
        "_buffered",
        "_close_timer",
        "_eof_written",
        "_flushing",
        "_frames",
        "_handshake",
        "_held",
        "_loop",
        "_lost",
        "_on_frame",
        "_on_gone",
        "_out",
        "_parts",
        "_parts_text",
        "_ping_data",
        "_ping_timer",
        "_plain",
        "_pong_timer",
        "_reading_paused",
        "_receiving",
        "_transport",
        "_writable",
        "_writing_paused",
        "close_timeout",
        "ping_interval",
        "ping_timeout",
        "ws",
    )

    def __init__(
        self,
        ws: WsProtocol,
        *,
        ping_interval: float | None,
        ping_timeout: float | None,
        close_timeout: float | None,
    ) -> None:
        self.ws = ws
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._handshake: Handshake | None = None
        # Who takes each frame and hears of the end (Transport.start_reading); frames
        # held back while the connection holds reading (or before it reads);
        # whether it holds; whether the socket is not being read.
        self._on_frame: OnFrame | None = None
        self._on_gone: OnGone | None = None
        self._frames: list[str | bytes] = []
        self._held = False
        self._reading_paused = False
        # The parts of a fragmented message (RFC 6455 §5.4), while one arrives.
        self._parts: list[BytesLike] | None = None
        self._parts_text = True
        # Writing: a flush scheduled for the end of this loop iteration; set
        # while the transport's buffer is past its high-water mark.
        self._flushing: asyncio.Handle | None = None
        self._writing_paused = False
        self._writable: asyncio.Future[None] | None = None
        self._eof_written = False
        # True while data_received runs: what it produces is written at its end.
        self._receiving = False
        # Bytes to write at the end of this loop iteration, in order; whether
        # text frames are serialized here (see _opened).
        self._out: list[bytes] = []
        self._plain = False
        # Bytes of frames sent since the last flush.
        self._buffered = 0
        # Timers: the close handshake's deadline, the next ping, the pong's deadline.
        self._close_timer: asyncio.TimerHandle | None = None
        self._ping_timer: asyncio.TimerHandle | None = None
        self._pong_timer: asyncio.TimerHandle | None = None
        self._ping_data: bytes | None = None
        self._lost: asyncio.Future[None] = self._loop.create_future()

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport and set its write buffer's high-water mark."""
        # uvloop's transports are not subclasses of asyncio.Transport, but alike.
        transport = cast("asyncio.Transport", transport)
        self._transport = transport
        transport.set_write_buffer_limits(WRITE_HIGH)

    def data_received(self, data: bytes) -> None:
        """Parse ``data`` into frames and hand each over; write what they produced, at once."""
        self._receiving = True
        try:
            self._read(data)
        finally:
            self._receiving = False
            # Everything the frames of this read produced (answers, pongs), and what was
            # queued before in this iteration, leaves in one write.
            if self._out or self._flushing is not None:
                self._flush()

    def _read(self, data: bytes) -> None:
        ws = self.ws
        ws.receive_data(data)
        events = ws.events_received()
        writes = ws.data_to_send()
        if writes:
            # Pongs, the echo of a close frame: they leave with this read's answers.
            self._out += writes
        for event in events:
            if type(event) is Frame:
                opcode = event.opcode
                if opcode is _TEXT and event.fin:
                    try:
                        text = str(event.data, "utf-8")
                    except UnicodeDecodeError as exc:
                        self._invalid_text(exc)
                        break
                    on_frame = self._on_frame
                    if on_frame is not None and not self._held and not self._frames:
                        on_frame(text)
                    else:
                        self._keep(text)
                elif opcode is _PONG:
                    self._pong(event.data)
                elif (
                    opcode is _TEXT or opcode is _BINARY or opcode is _CONT
                ) and not self._fragment(event):
                    break
            else:
                self._handshake_event(event)
        if ws.state is not _OPEN and ws.close_expected():
            self._closing()
        if ws.handshake_exc is not None:
            self._handshake_progress()

    def eof_received(self) -> bool | None:
        """The peer half-closed the TCP connection: let the protocol finish the close."""
        ws = self.ws
        ws.receive_eof()
        for event in ws.events_received():
            # Only an HTTP response without Content-Length ends at EOF.
            self._handshake_event(event)
        self._flush()
        self._handshake_progress()
        # RFC 6455 §7.1.1: both ends close the TCP connection after the closing
        # handshake; asyncio closes it when this returns a false value.
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        """The TCP connection is gone: tell the connection, fail waiting writes, stop timers."""
        ws = self.ws
        ws.receive_eof()  # idempotent; the protocol is CLOSED from here on
        ws.data_to_send()
        self._out.clear()
        for timer in (self._flushing, self._close_timer, self._ping_timer, self._pong_timer):
            if timer is not None:
                timer.cancel()
        self._flushing = self._close_timer = self._ping_timer = self._pong_timer = None
        writable = self._writable
        if writable is not None and not writable.done():
            writable.set_result(None)
        if not self._lost.done():
            self._lost.set_result(None)
        self._handshake_progress()
        self._end()

    def _end(self) -> None:
        """The connection is gone: the frames held back, then ``on_gone``.

        Frames held back while the connection holds reading are dropped:
        nothing can be answered any more.
        """
        on_gone = self._on_gone
        if on_gone is None:
            return
        if not self._held:
            self._deliver()
        self._frames = []
        self._on_frame = self._on_gone = None
        on_gone()

    def pause_writing(self) -> None:
        """The transport's buffer passed its high-water mark: sends must wait."""
        self._writing_paused = True

    def resume_writing(self) -> None:
        """The transport's buffer drained: sends go on."""
        self._writing_paused = False
        writable = self._writable
        if writable is not None and not writable.done():
            writable.set_result(None)

    # ------------------------------------------------------------------ hooks of a side

    def _handshake_event(self, event: Event) -> None:
        """An HTTP request or response arrived (the opening handshake): the side's own."""

    def _handshake_progress(self) -> None:
        """The handshake may have moved on (failed, the connection lost): the side's own."""

    # ------------------------------------------------------------------ reading

    def _fragment(self, frame: Frame) -> bool:
        """Collect a fragmented message; False when it failed the connection."""
        if frame.opcode is not _CONT:
            if not frame.fin:
                self._parts, self._parts_text = [frame.data], frame.opcode is _TEXT
                return True
            # A whole binary frame (whole text frames never come here).
            self._keep(bytes(frame.data))
            return True
        parts = self._parts
        assert parts is not None  # the protocol refuses an unexpected continuation
        parts.append(frame.data)
        if not frame.fin:
            return True
        self._parts = None
        data = b"".join(parts)
        if not self._parts_text:
            self._keep(data)
            return True
        try:
            text = str(data, "utf-8")
        except UnicodeDecodeError as exc:
            self._invalid_text(exc)
            return False
        self._keep(text)
        return True

    def _invalid_text(self, exc: UnicodeDecodeError) -> None:
        # RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection (1007).
        self.ws.fail(1007, f"{exc.reason} at position {exc.start}")
        self._schedule_flush()

    def _keep(self, frame: str | bytes) -> None:
        """Hand ``frame`` over now, or keep it behind those held back (in order)."""
        frames = self._frames
        on_frame = self._on_frame
        if on_frame is not None and not self._held and not frames:
            on_frame(frame)
            return
        frames.append(frame)
        if len(frames) >= READ_HIGH and not self._reading_paused:
            # Bounded: the socket is no longer read until they are taken.
            self._pause_socket()

    def _pause_socket(self) -> None:
        self._reading_paused = True
        transport = self._transport
        if transport is not None and not self._lost.done():
            transport.pause_reading()

    def _deliver(self) -> None:
        """Hand the frames held back to the connection, until it holds reading again."""
        frames = self._frames
        taken = 0
        while taken < len(frames) and not self._held:
            on_frame = self._on_frame
            if on_frame is None:
                break
            frame = frames[taken]
            taken += 1
            on_frame(frame)
        if taken:
            del frames[:taken]

    def start_reading(self, on_frame: OnFrame, on_gone: OnGone) -> None:
        """Hand each frame to ``on_frame`` from now on (those received already first).

        Args:
            on_frame: Called with each incoming frame.
            on_gone: Called once the connection is gone.
        """
        self._on_frame, self._on_gone = on_frame, on_gone
        self._deliver()
        if self._lost.done():
            self._end()
        elif self._reading_paused and not self._held and not self._frames:
            self.resume_reading()

    def pause_reading(self) -> None:
        """Hand over no frame, and stop reading the socket, until :meth:`resume_reading`."""
        self._held = True
        if not self._reading_paused:
            self._pause_socket()

    def resume_reading(self) -> None:
        """Hand over the frames held back, then read the socket again."""
        self._held = False
        self._deliver()
        if self._held or self._frames or not self._reading_paused:
            return
        self._reading_paused = False
        transport = self._transport
        if transport is not None and not self._lost.done():
            transport.resume_reading()

    # ------------------------------------------------------------------ writing

    def _schedule_flush(self) -> None:
        """Take what the protocol produced; write it at the end of this read or iteration."""
        writes = self.ws.data_to_send()
        if writes:
            self._out += writes
        if self._flushing is None and not self._receiving:
            self._flushing = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Write everything buffered in one system call, in order."""
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None
        self._buffered = 0
        ws = self.ws
        out = self._out
        writes = ws.data_to_send()
        if writes:
            out += writes
        transport = self._transport
        if transport is None or self._eof_written or transport.is_closing():
            out.clear()
            return
        if out:
            self._out = []
            # SEND_EOF (b"") adds nothing to the join; eof_sent says whether it came.
            transport.write(b"".join(out))
        if ws.eof_sent:
            self._eof_written = True
            if transport.can_write_eof():
                transport.write_eof()
            else:
                transport.close()

    def send(self, text: str) -> Awaitable[None] | None:
        """Send one text frame; an awaitable to await first while writing must wait.

        Args:
            text: The frame.

        Raises:
            TransportClosed: The connection is closing or closed.
        """
        ws = self.ws
        if ws.state is not _OPEN:
            raise TransportClosed(f"the connection is {ws.state.name.lower()}")
        data = text.encode()
        if self._plain:
            # RFC 6455 §5.2: FIN, opcode 1 (text), no mask (a server's frame), the
            # length; what ws.send_text() writes, without a Frame object per frame.
            size = len(data)
            out = self._out
            if size < 126:
                out.append(_SHORT_HEADERS[size])
            elif size < 65536:
                out.append(b"\x81\x7e" + size.to_bytes(2, "big"))
            else:
                out.append(b"\x81\x7f" + size.to_bytes(8, "big"))
            out.append(data)
        else:
            ws.send_text(data)
            self._out += ws.data_to_send()
        if self._writing_paused:
            self._schedule_flush()
            return self._wait_writable()
        self._buffered += len(data)
        if self._buffered > WRITE_HIGH:
            # As much as the transport's buffer may hold: write it now, so that
            # a burst of sends in one iteration meets the backpressure too.
            self._flush()
            if self._writing_paused:
                return self._wait_writable()
        elif self._flushing is None and not self._receiving:
            # Sent outside a read: with whatever else this loop iteration sends.
            self._flushing = self._loop.call_soon(self._flush)
        return None

    async def _wait_writable(self) -> None:
        """Wait until the transport's buffer drained; raise if the connection went meanwhile."""
        while self._writing_paused and not self._lost.done():
            writable = self._writable
            if writable is None or writable.done():
                writable = self._writable = self._loop.create_future()
            await asyncio.shield(writable)
        if self._lost.done():
            raise TransportClosed("the connection closed while a frame waited to be written")

    # ------------------------------------------------------------------ keepalive

    def _opened(self) -> None:
        """The opening handshake succeeded: choose how to write frames, start the pings."""
        ws = self.ws
        # A server's frames without an extension are written here; a client's are
        # masked, and an extension (permessage-deflate) transforms them: websockets'.
        self._plain = ws.side is Side.SERVER and not ws.extensions
        # RFC 6455 §5.5.2: pings keep the connection alive and find a dead peer.
        interval = self.ping_interval
        if interval is not None:
            self._ping_timer = self._loop.call_later(interval, self._ping)

    def _ping(self) -> None:
        self._ping_timer = None
        ws = self.ws
        if ws.state is not _OPEN:
            return
        self._ping_data = data = os.urandom(4)
        ws.send_ping(data)
        self._schedule_flush()
        timeout = self.ping_timeout
        if timeout is not None:
            self._pong_timer = self._loop.call_later(timeout, self._pong_missing)
        else:
            self._next_ping()

    def _next_ping(self) -> None:
        interval = self.ping_interval
        if interval is not None and self.ws.state is _OPEN and self._ping_timer is None:
            self._ping_timer = self._loop.call_later(interval, self._ping)

    def _pong(self, data: BytesLike) -> None:
        # RFC 6455 §5.5.3: an unsolicited pong expects no answer; it proves nothing either.
        if self._ping_data is None or bytes(data) != self._ping_data:
            return
        self._ping_data = None
        if self._pong_timer is not None:
            self._pong_timer.cancel()
            self._pong_timer = None
            self._next_ping()

    def _pong_missing(self) -> None:
        self._pong_timer = None
        ws = self.ws
        if ws.state is not _OPEN:
            return
        ws.logger.info("no pong within %s s: closing (1011)", self.ping_timeout)
        ws.fail(1011, "keepalive ping timeout")
        self._schedule_flush()
        self._closing()

    # ------------------------------------------------------------------ closing

    def _closing(self) -> None:
        """The TCP connection should close soon: drop it if it has not after ``close_timeout``."""
        if self._close_timer is None and not self._lost.done():
            timeout = self.close_timeout
            if timeout is not None:
                self._close_timer = self._loop.call_later(timeout, self.abort)

    def abort(self) -> None:
        """Drop the TCP connection at once."""
        self._close_timer = None
        transport = self._transport
        if transport is not None:
            transport.abort()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (RFC 6455 §7.1.2) and wait until the TCP connection is gone.

        Args:
            code: The close code.
            reason: The close reason.
        """
        ws = self.ws
        if ws.state is _OPEN:
            ws.send_close(code, reason)
            self._schedule_flush()
            self._closing()
        elif ws.state is _CONNECTING:
            self.abort()
        await asyncio.shield(self._lost)

    @property
    def closed(self) -> asyncio.Future[None]:
        """Resolved once the TCP connection is gone."""
        return self._lost

    @property
    def close_code(self) -> int | None:
        """How the connection closed; ``None`` until it is closed.

        The code the peer sent, else the one this end sent (a failure: 1009,
        1011), else 1006 (the TCP connection dropped).
        """
        ws = self.ws
        if ws.state is not _CLOSED:
            return None
        close = ws.close_rcvd or ws.close_sent
        return 1006 if close is None else int(close.code)

    @property
    def close_reason(self) -> str:
        """The close reason that goes with :attr:`close_code`."""
        ws = self.ws
        if ws.state is not _CLOSED:
            return ""
        close = ws.close_rcvd or ws.close_sent
        return "" if close is None else close.reason

    # ------------------------------------------------------------------ what it is

    @property
    def remote_address(self) -> Any:
        """The peer's address as the socket gives it."""
        transport = self._transport
        return transport.get_extra_info("peername") if transport is not None else None

    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol."""
        subprotocol = self.ws.subprotocol
        return None if subprotocol is None else str(subprotocol)

    @property
    def handshake(self) -> Handshake | None:
        """What the charge point opened the connection with (central system's side)."""
        return self._handshake
