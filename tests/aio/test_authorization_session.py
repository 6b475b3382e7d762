"""A session from authorization: what the "authorization" listener found reaches the connection."""

from __future__ import annotations

import asyncio
from typing import Any

from ocpp16 import Accept, Client, Handshake, Server
from tests.helpers import connect_pair, future_and_setter, over_transports, port, wait

# Every test here runs over listen() and mounted under uvicorn.
pytestmark = over_transports


class Tenant:
    """What a central system looks up while it authorizes a charge point."""

    def __init__(self, name: str) -> None:
        self.name = name


ACME = Tenant("acme")


class TestSessionFromAuthorization:
    """cb(session=...) and Accept(session) hand the session to client.session; a real Server and Client."""

    async def test_cb_with_a_session(self, server: Server) -> None:
        """A listener with cb accepts with cb(session=...): the connection's session is it."""

        def authorize(cp_id: str, handshake: Handshake, cb: Any) -> None:
            cb(session=ACME)

        server.on("authorization", authorize)
        client, peer = await connect_pair(server)
        try:
            assert peer.session is ACME
            assert peer.handshake is not None and peer.handshake.session is ACME
            assert client.session is None  # the charge point side has none
        finally:
            await client.close()

    async def test_cb_with_a_session_later(self, server: Server) -> None:
        """An async listener that calls cb(session=...) after awaiting works the same."""

        async def authorize(cp_id: str, handshake: Handshake, cb: Any) -> None:
            await asyncio.sleep(0)
            asyncio.get_running_loop().call_soon(lambda: cb(session={"tenant": "acme"}))

        server.on("authorization", authorize)
        client, peer = await connect_pair(server)
        try:
            assert peer.session == {"tenant": "acme"}
        finally:
            await client.close()

    async def test_returned_accept(self, server: Server) -> None:
        """A listener without cb returns Accept(session): accepted, with that session."""

        async def authorize(cp_id: str, handshake: Handshake) -> Accept | bool:
            return Accept(ACME) if handshake.query.get("tenant") == "acme" else False

        server.on("authorization", authorize)
        seen, on_connection = future_and_setter()
        server.on("connection", on_connection)
        client = Client("CP1")
        await wait(client.connect(f"ws://127.0.0.1:{port(server)}/ocpp?tenant=acme"))
        try:
            peer = await wait(seen)
            assert peer.session is ACME
        finally:
            await client.close()

    async def test_true_and_cb_give_no_session(self, server: Server) -> None:
        """True and cb() accept as before, with no session."""
        server.on("authorization", lambda cp_id, handshake: True)
        server.on("authorization", lambda cp_id, handshake, cb: cb())
        client, peer = await connect_pair(server)
        try:
            assert peer.session is None
        finally:
            await client.close()

    async def test_later_listener_sees_the_session(self, server: Server) -> None:
        """A later listener sees what an earlier one gave; the last session given is kept."""
        seen: list[Any] = []

        def first(cp_id: str, handshake: Handshake) -> Accept:
            return Accept(ACME)

        def second(cp_id: str, handshake: Handshake) -> Accept:
            seen.append(handshake.session)
            return Accept({"tenant": handshake.session.name, "charger": cp_id})

        def third(cp_id: str, handshake: Handshake) -> bool:
            return True  # gives none: the session stays

        for listener in (first, second, third):
            server.on("authorization", listener)
        client, peer = await connect_pair(server)
        try:
            assert seen == [ACME]
            assert peer.session == {"tenant": "acme", "charger": "CP1"}
        finally:
            await client.close()

    async def test_session_is_per_connection(self, server: Server) -> None:
        """Each charge point's connection gets the session found for it."""
        server.on("authorization", lambda cp_id, handshake: Accept(Tenant(cp_id)))
        one, peer_one = await connect_pair(server, "CP1")
        two, peer_two = await connect_pair(server, "CP2")
        try:
            assert (peer_one.session.name, peer_two.session.name) == ("CP1", "CP2")
        finally:
            await one.close()
            await two.close()
