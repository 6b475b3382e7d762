"""Security profiles of the OCPP 1.6-J security white paper: Basic auth and TLS."""

from __future__ import annotations

import base64
import contextlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import trustme

from ocpp16 import Client, ClientBase, Handshake, HandshakeError, Server
from ocpp16.security import check_authorization_key, client_ssl_context, server_ssl_context
from tests.helpers import over_transports, port, serve_test, wait

KEY_HEX = "00ff10aa3a" * 4  # a 20-byte AuthorizationKey, as ChangeConfiguration sets it
RAW_KEY = bytes.fromhex(KEY_HEX)  # holds b":" (0x3a) and NUL, as binary passwords may


def handshake(
    cp_id: str = "CP1", username: str | None = "CP1", password: bytes | None = RAW_KEY
) -> Handshake:
    return Handshake(
        cp_id=cp_id,
        path=f"/ocpp/{cp_id}",
        headers={},
        remote_address=None,
        username=username,
        password=password,
    )


class TestAuthorizationKey:
    """Profiles 1 and 2: the password is the AuthorizationKey, the user name the charge point id."""

    @pytest.mark.parametrize("sent", [RAW_KEY, KEY_HEX.encode(), KEY_HEX.upper().encode()])
    @pytest.mark.parametrize("configured", [KEY_HEX, KEY_HEX.upper(), RAW_KEY])
    def test_both_forms_of_the_key_are_accepted(self, sent: bytes, configured: str | bytes) -> None:
        """Chargers send the key's raw bytes or its hex text; either matches the configured key."""
        assert check_authorization_key(handshake(password=sent), configured)

    @pytest.mark.parametrize(
        "hs",
        [
            handshake(password=RAW_KEY[:-1]),
            handshake(password=RAW_KEY + b"\x00"),
            handshake(password=b"wrong"),
            handshake(password=None),
            handshake(username="CP2"),
            handshake(username=None),
            handshake(cp_id="CP2"),
        ],
    )
    def test_anything_else_is_refused(self, hs: Handshake) -> None:
        """A wrong or missing password, or a user name that is not the URL's id, is refused."""
        assert not check_authorization_key(hs, KEY_HEX)

    def test_key_text_must_be_hex(self) -> None:
        """A configured key that is not hexadecimal text is a configuration error, said at once."""
        with pytest.raises(ValueError):
            check_authorization_key(handshake(), "not hex")


@dataclass
class Pki:
    """Certificates made at test time: a CA, the central system's, and charge points'."""

    ca: str
    other_ca: str
    server: str
    charge_point: str


@pytest.fixture(scope="module")
def pki() -> Iterator[Pki]:
    ca, other = trustme.CA(), trustme.CA()
    with contextlib.ExitStack() as stack:
        yield Pki(
            ca=str(stack.enter_context(ca.cert_pem.tempfile())),
            other_ca=str(stack.enter_context(other.cert_pem.tempfile())),
            server=str(
                stack.enter_context(
                    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.tempfile()
                )
            ),
            charge_point=str(
                stack.enter_context(ca.issue_cert("CP-3").private_key_and_cert_chain_pem.tempfile())
            ),
        )


class TestContexts:
    """The TLS contexts: TLS 1.2 at least, certificates verified."""

    def test_server_context(self, pki: Pki) -> None:
        """A central system's context has TLS 1.2 as minimum, and requires client certificates for profile 3."""
        assert server_ssl_context(pki.server).minimum_version == ssl.TLSVersion.TLSv1_2
        assert server_ssl_context(pki.server, cafile=pki.ca).verify_mode == ssl.CERT_OPTIONAL
        profile3 = server_ssl_context(pki.server, cafile=pki.ca, require_client_certificate=True)
        assert profile3.verify_mode == ssl.CERT_REQUIRED
        with pytest.raises(ValueError, match="cafile"):
            server_ssl_context(pki.server, require_client_certificate=True)

    def test_client_context(self, pki: Pki) -> None:
        """A charge point's context verifies the central system's certificate and host name."""
        context = client_ssl_context(cafile=pki.ca, certfile=pki.charge_point)
        assert context.minimum_version == ssl.TLSVersion.TLSv1_2
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


class TestProfileChecks:
    """Server and Client refuse a configuration that does not meet their profile, and say why."""

    async def test_server_profiles(self, pki: Pki) -> None:
        """Profiles 1-2 need an authorization listener, 2-3 TLS, 3 required client certificates."""
        with pytest.raises(ValueError, match="0, 1, 2 or 3"):
            Server(security_profile=4)
        server = Server(security_profile=2)
        with pytest.raises(ValueError, match="'authorization' listener"):
            await server.listen(0, host="127.0.0.1")
        server.on("authorization", lambda cp_id, hs: True)
        with pytest.raises(ValueError, match="needs TLS"):
            await server.listen(0, host="127.0.0.1")
        with pytest.raises(ValueError, match="must require one"):
            await Server(security_profile=3).listen(
                0, host="127.0.0.1", ssl=server_ssl_context(pki.server)
            )

    async def test_client_profiles(self) -> None:
        """Profiles 1-2 need a password, 2-3 a wss:// URL, 3 an SSL context."""
        with pytest.raises(ValueError, match="0, 1, 2 or 3"):
            Client("CP1", security_profile=-1)
        with pytest.raises(ValueError, match="password"):
            Client("CP1", security_profile=1)
        with pytest.raises(ValueError, match="wss://"):
            await Client("CP1", security_profile=2, password="k").connect("ws://127.0.0.1:1/ocpp")
        with pytest.raises(ValueError, match="certificate"):
            await Client("CP1", security_profile=3).connect("wss://127.0.0.1:1/ocpp")


@over_transports
class TestProfile2:
    """Basic auth over TLS, end to end: everything wrong is refused before any OCPP message."""

    @pytest.fixture
    async def server(self, pki: Pki, served_by: str) -> Any:
        keys = {"CP1": KEY_HEX}
        server = Server(security_profile=2)
        server.asked: list[str] = []  # type: ignore[attr-defined]
        server.connected: list[str] = []  # type: ignore[attr-defined]

        @server.on("authorization")
        def authorize(cp_id: str, hs: Handshake) -> bool:
            server.asked.append(cp_id)  # type: ignore[attr-defined]
            key = keys.get(cp_id)
            return key is not None and check_authorization_key(hs, key)

        server.on("connection", lambda client: server.connected.append(client.cp_id))  # type: ignore[attr-defined]
        await serve_test(server, certfile=pki.server)
        yield server
        await server.close()

    def url(self, server: Server) -> str:
        return f"wss://127.0.0.1:{port(server)}/ocpp"

    async def test_right_password_connects(self, server: Server, pki: Pki) -> None:
        """The charge point with its key, over TLS, is accepted."""
        client = Client("CP1", password=RAW_KEY, security_profile=2)
        await wait(client.connect(self.url(server), ssl=client_ssl_context(cafile=pki.ca)))
        assert server.connected == ["CP1"]  # type: ignore[attr-defined]
        await client.close()

    @pytest.mark.parametrize(
        ("cp_id", "password", "header"),
        [
            ("CP1", b"wrong", None),  # wrong password
            ("CP9", RAW_KEY, None),  # unknown id
            ("CP1", None, "CP2:" + KEY_HEX),  # user name is not the id
            ("CP1", None, None),  # no credentials at all
        ],
    )
    async def test_refused_before_any_message(
        self, server: Server, pki: Pki, cp_id: str, password: bytes | None, header: str | None
    ) -> None:
        """Wrong password, unknown id, user name other than the id, no credentials: HTTP 401."""
        client = Client(cp_id, password=password)
        headers = (
            {"Authorization": "Basic " + base64.b64encode(header.encode()).decode()}
            if header
            else None
        )
        with pytest.raises(HandshakeError) as info:
            await wait(
                client.connect(
                    self.url(server), headers=headers, ssl=client_ssl_context(cafile=pki.ca)
                )
            )
        assert info.value.status == 401
        assert server.connected == [] and server.clients == {}  # type: ignore[attr-defined]
        if header is not None or password is None:
            assert server.asked == []  # type: ignore[attr-defined]  # refused by the anchor check


class TestProfile3:
    """TLS with client certificates: a charge point without a trusted certificate never connects."""

    @pytest.fixture
    async def server(self, pki: Pki) -> Any:
        server = Server(security_profile=3)
        server.connected: list[ClientBase] = []  # type: ignore[attr-defined]
        server.on("connection", server.connected.append)  # type: ignore[attr-defined]
        context = server_ssl_context(pki.server, cafile=pki.ca, require_client_certificate=True)
        await server.listen(0, host="127.0.0.1", ssl=context)
        yield server
        await server.close()

    async def test_certificate_reaches_authorization(self, server: Server, pki: Pki) -> None:
        """The charge point's certificate is in the handshake the authorization listener sees."""
        seen: list[Handshake] = []
        server.on("authorization", lambda cp_id, hs: seen.append(hs) or True)
        client = Client("CP-3", security_profile=3)
        context = client_ssl_context(cafile=pki.ca, certfile=pki.charge_point)
        await wait(client.connect(f"wss://127.0.0.1:{server.port}/ocpp", ssl=context))
        assert seen[0].peer_certificate is not None
        assert dict(seen[0].peer_certificate["subjectAltName"])["DNS"].upper() == "CP-3"
        await client.close()

    @pytest.mark.parametrize("case", ["no client certificate", "untrusted central system"])
    async def test_refused(self, server: Server, pki: Pki, case: str) -> None:
        """Without a client certificate, or trusting another CA, the TLS handshake fails: no connection."""
        if case == "no client certificate":
            context = client_ssl_context(cafile=pki.ca)
        else:
            context = client_ssl_context(cafile=pki.other_ca, certfile=pki.charge_point)
        client = Client("CP-3", security_profile=3)
        with pytest.raises((HandshakeError, OSError)):
            await wait(client.connect(f"wss://127.0.0.1:{server.port}/ocpp", ssl=context))
        assert server.connected == [] and server.clients == {}  # type: ignore[attr-defined]
