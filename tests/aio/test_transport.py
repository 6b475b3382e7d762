"""The transport seam: two ClientBase ends over the in-memory transport speak the whole protocol."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from ocpp16 import ClientBase, ConnectionClosed, OcppError, Options, Server
from ocpp16._memory_transport import MemoryTransport, memory_pair
from ocpp16._transport import TransportClosed
from ocpp16._wire import Wire
from ocpp16.protocol import Role
from tests.helpers import future_and_setter, raw_peer, until, wait

BOOT = {"chargePointVendor": "eParking", "chargePointModel": "NECU-T2"}
BOOT_OK = {"status": "Accepted", "interval": 60, "currentTime": "2024-05-01T12:00:00Z"}


@asynccontextmanager
async def connected() -> AsyncIterator[tuple[ClientBase, ClientBase, MemoryTransport]]:
    """A charge point end and a central system end, connected in memory and reading.

    Also yields the central system's transport, to make frames arrive there.
    """
    charge_point = ClientBase("CP1", role=Role.CHARGE_POINT, options=Options())
    central = ClientBase("CP1", role=Role.CENTRAL_SYSTEM, options=Options())
    cp_side, cs_side = memory_pair()
    # No public way attaches a transport yet: Server and Client do it for websockets.
    charge_point._attach(cp_side)
    central._attach(cs_side)
    readers = [end._start_reading() for end in (charge_point, central)]
    try:
        yield charge_point, central, cs_side
    finally:
        await charge_point.close()
        await wait(asyncio.gather(*readers))


@pytest.fixture
async def ends() -> AsyncIterator[tuple[ClientBase, ClientBase]]:
    """A charge point end and a central system end, connected in memory."""
    async with connected() as (charge_point, central, _):
        yield charge_point, central


async def test_a_call_and_its_answer_both_ways(ends: tuple[ClientBase, ClientBase]) -> None:
    """The charge point's CALL is answered by the central system, and the other way round."""
    charge_point, central = ends
    central.on("BootNotification", lambda request: BOOT_OK)
    charge_point.on("Reset", lambda request: {"status": "Accepted"})
    assert await wait(charge_point.call_request("BootNotification", BOOT)) == BOOT_OK
    assert await wait(central.call_request("Reset", {"type": "Soft"})) == {"status": "Accepted"}
    assert charge_point.is_open and central.is_open
    assert charge_point.subprotocol == "ocpp1.6"
    assert central.remote_address == "charge-point"


async def test_a_callerror(ends: tuple[ClientBase, ClientBase]) -> None:
    """A handler's OcppError reaches the caller as that CALLERROR."""
    charge_point, central = ends

    def refuse(request: Any) -> None:
        raise OcppError("NotSupported", "not here")

    central.on("Heartbeat", refuse)
    with pytest.raises(OcppError) as info:
        await wait(charge_point.call_request("Heartbeat"))
    assert (info.value.code, info.value.description) == ("NotSupported", "not here")


async def test_frames_pass_as_they_are(ends: tuple[ClientBase, ClientBase]) -> None:
    """Each end's "message" events see the same frames, in order."""
    charge_point, central = ends
    central.on("Heartbeat", lambda request: {"currentTime": "2024-05-01T12:00:00Z"})
    sent: list[str] = []
    received: list[str] = []
    charge_point.on("message", lambda direction, text: sent.append(text))
    central.on("message", lambda direction, text: received.append(text))
    await wait(charge_point.call_request("Heartbeat"))
    assert sent == received and len(sent) == 2


async def test_close_with_code_and_reason(ends: tuple[ClientBase, ClientBase]) -> None:
    """A close reaches both ends with its code and reason; what was pending fails with them."""
    charge_point, central = ends
    central.on("Heartbeat", lambda request, cb: None)  # never answers
    closed, on_close = future_and_setter()
    central.on("close", on_close)
    pending = charge_point.call_request("Heartbeat")
    await charge_point.close(4001, "going for maintenance")
    assert await wait(closed) == (4001, "going for maintenance")
    with pytest.raises(ConnectionClosed) as info:
        await wait(pending)
    assert (info.value.code, info.value.reason) == (4001, "going for maintenance")
    assert not charge_point.is_open and not central.is_open


async def test_a_binary_frame_is_a_bad_message() -> None:
    """A binary frame from the transport is reported as a bad message; the connection goes on."""
    async with connected() as (charge_point, central, cs_side):
        central.on("BootNotification", lambda request: BOOT_OK)
        bad, on_bad = future_and_setter()
        central.on("bad_message", on_bad)
        cs_side.receive(b"\x00binary")
        text, error = await wait(bad)
        assert text == b"\x00binary" and error.code == "FormationViolation"
        assert await wait(charge_point.call_request("BootNotification", BOOT)) == BOOT_OK


async def test_sending_on_a_closed_transport_raises() -> None:
    """send() on a closed transport raises TransportClosed instead of losing the frame silently."""
    cp_side, cs_side = memory_pair()
    await cs_side.close(1000, "")
    with pytest.raises(TransportClosed):
        cp_side.send('[2,"1","Heartbeat",{}]')
    assert (cp_side.close_code, cs_side.close_code) == (1000, 1000)


class Recording(MemoryTransport):
    """An in-memory end that records each frame it was given to send."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.used: list[str] = []

    def send(self, text: str) -> None:
        """Record, then hand over as the in-memory transport does."""
        self.used.append("send")
        MemoryTransport.send(self, text)


class Closing(Recording):
    """An end whose send finds the connection gone."""

    def send(self, text: str) -> None:
        """Record, then fail as on a closed connection."""
        self.used.append("send")
        raise TransportClosed("gone")


@asynccontextmanager
async def recorded(
    cp_side: MemoryTransport, cs_side: MemoryTransport
) -> AsyncIterator[tuple[ClientBase, ClientBase]]:
    """A charge point end over ``cp_side`` and a central system end over ``cs_side``, reading."""
    cp_side.peer, cs_side.peer = cs_side, cp_side
    charge_point = ClientBase("CP1", role=Role.CHARGE_POINT, options=Options())
    central = ClientBase("CP1", role=Role.CENTRAL_SYSTEM, options=Options())
    # No public way attaches a transport yet: Server and Client do it for websockets.
    charge_point._attach(cp_side)
    central._attach(cs_side)
    readers = [end._start_reading() for end in (charge_point, central)]
    try:
        yield charge_point, central
    finally:
        await charge_point.close()
        await wait(asyncio.gather(*readers))


async def test_answers_and_calls_go_through_send() -> None:
    """An answer made while a frame is read goes through send, as a CALL made outside it does."""
    cp_side, cs_side = Recording("charge-point"), Recording("central-system")
    async with recorded(cp_side, cs_side) as (charge_point, central):
        charge_point.on("Reset", lambda request: {"status": "Accepted"})
        assert await wait(central.call_request("Reset", {"type": "Soft"})) == {"status": "Accepted"}
        assert (cs_side.used, cp_side.used) == (["send"], ["send"])


async def test_a_closed_error_of_the_transport_drops_the_answer_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Send raising TransportClosed drops the answer, logging no error."""
    cp_side = Closing("charge-point")
    async with recorded(cp_side, MemoryTransport("central-system")) as (charge_point, central):
        errors: list[BaseException] = []
        charge_point.on("error", errors.append)
        answered, on_answer = future_and_setter()

        def on_reset(request: dict[str, Any]) -> dict[str, Any]:
            on_answer(request)
            return {"status": "Accepted"}

        charge_point.on("Reset", on_reset)
        pending = central.call_request("Reset", {"type": "Soft"})
        await wait(answered)
        await until(lambda: cp_side.used == ["send"])
        assert not pending.done()  # the answer was dropped, not sent
        pending.cancel()
        assert errors == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_wire_send_on_a_closed_connection_raises_transport_closed(
    server: Server,
) -> None:
    """Wire: send on a closed connection raises TransportClosed."""
    async with raw_peer(server) as ws:
        transport = server.clients["CP1"]._transport
        assert isinstance(transport, Wire)
        await wait(ws.close())
        await wait(transport.closed)
        with pytest.raises(TransportClosed):
            transport.send('[2,"2","Heartbeat",{}]')


async def test_a_pulled_transport_holds_reading_at_max_incoming_calls() -> None:
    """Over the in-memory transport, max_incoming_calls=1 reads no second CALL until the first is answered."""
    charge_point = ClientBase("CP1", role=Role.CHARGE_POINT, options=Options(call_concurrency=2))
    central = ClientBase("CP1", role=Role.CENTRAL_SYSTEM, options=Options(max_incoming_calls=1))
    cp_side, cs_side = memory_pair()
    charge_point._attach(cp_side)
    central._attach(cs_side)
    readers = [end._start_reading() for end in (charge_point, central)]
    try:
        replies: list[Any] = []
        central.on("Heartbeat", lambda request, cb: replies.append(cb))
        first = charge_point.call_request("Heartbeat")
        second = charge_point.call_request("Heartbeat")
        await until(lambda: len(replies) == 1)
        assert cs_side._go is not None and not cs_side._go.is_set()  # held
        replies[0]({"currentTime": "2024-05-01T12:00:00Z"})
        await until(lambda: len(replies) == 2)
        replies[1]({"currentTime": "2024-05-01T12:00:01Z"})
        assert (await wait(first))["currentTime"].endswith("00Z")
        assert (await wait(second))["currentTime"].endswith("01Z")
    finally:
        await charge_point.close()
        await wait(asyncio.gather(*readers))
