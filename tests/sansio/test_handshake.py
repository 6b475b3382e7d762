"""The opening handshake, sans I/O: strings in, a Handshake or a Refusal out (OCPP-J 1.6 §3)."""

from __future__ import annotations

import base64

import pytest

from ocpp16.handshake import (
    SUBPROTOCOL,
    Handshake,
    Refusal,
    basic_auth_header,
    check_handshake,
    cp_id_from_path,
    duplicate_refusal,
    no_room,
    offered_subprotocols,
    parse_basic_auth,
    read_handshake,
    unauthorized,
    url_for,
)


def _read(path: str = "/ocpp/CP1", **headers: str) -> Handshake:
    offered = offered_subprotocols([headers.pop("protocols", SUBPROTOCOL)])
    handshake = read_handshake(path, headers, subprotocols=offered, remote_address=("h", 1))
    assert isinstance(handshake, Handshake)
    return handshake


class TestConnectionUrl:
    """§3.1.1: the charge point's identity is the last segment of the URL path."""

    @pytest.mark.parametrize(
        ("path", "cp_id"),
        [
            ("/ocpp/CP1", "CP1"),
            ("/CP1?x=1", "CP1"),
            ("/ocpp/%E2%82%AC", "€"),
            ("/ocpp/", None),
            ("/ocpp/%FF", None),
            ("/ocpp/?CP1", None),
        ],
    )
    def test_cp_id_from_path(self, path: str, cp_id: str | None) -> None:
        """The id is the last segment, percent-decoded as UTF-8; empty or undecodable is no id."""
        assert cp_id_from_path(path) == cp_id

    def test_a_path_without_an_id_is_refused_with_400(self) -> None:
        """§3.1.1: a request that names no charge point gets HTTP 400."""
        refusal = read_handshake("/ocpp/", {}, subprotocols=(SUBPROTOCOL,))
        assert isinstance(refusal, Refusal)
        assert refusal.status == 400 and "no charge point id" in refusal.reason

    def test_url_for_appends_the_quoted_id(self) -> None:
        """§3.1.1: the charge point appends its id, percent-encoded, to the central system's URL."""
        assert url_for("ws://h/ocpp/", "CP 1/2") == "ws://h/ocpp/CP%201%2F2"
        assert cp_id_from_path("/ocpp/CP%201%2F2") == "CP 1/2"

    def test_url_for_keeps_the_query_after_the_id(self) -> None:
        """§3.1.1: the id is the path's last segment, so it goes before the base URL's query."""
        assert url_for("ws://h/ocpp?tenant=acme", "CP1") == "ws://h/ocpp/CP1?tenant=acme"
        assert url_for("ws://h/ocpp/?a=1&b=x%2Fy", "CP1") == "ws://h/ocpp/CP1?a=1&b=x%2Fy"
        assert cp_id_from_path("/ocpp/CP1?tenant=acme") == "CP1"

    def test_url_for_refuses_a_fragment(self) -> None:
        """RFC 6455 §3: a WebSocket URL has no fragment; a base URL with one is a clear error."""
        with pytest.raises(ValueError, match="fragment"):
            url_for("ws://h/ocpp#x", "CP1")

    def test_the_query_is_parsed(self) -> None:
        """The handshake's query is a mapping of decoded parameters; the first of a repeat wins."""
        handshake = _read("/ocpp/CP1?tenant=acme%20co&x=1&x=2&empty=")
        assert handshake.query == {"tenant": "acme co", "x": "1", "empty": ""}
        assert _read("/ocpp/CP1").query == {}

    def test_the_handshake_keeps_what_was_sent(self) -> None:
        """The Handshake carries the id, path, headers, address and offered subprotocols."""
        handshake = _read("/a/CP7?t=1", protocols="ocpp2.0, ocpp1.6", Host="h")
        assert handshake.cp_id == "CP7" and handshake.path == "/a/CP7?t=1"
        assert handshake.subprotocols == ("ocpp2.0", "ocpp1.6")
        assert handshake.headers["Host"] == "h" and handshake.remote_address == ("h", 1)


class TestSubprotocol:
    """§3.2: the charge point offers ocpp1.6; a server that agrees on none refuses."""

    def test_offered_subprotocols_reads_every_header_value(self) -> None:
        """The header may be repeated and each value is a comma-separated list."""
        assert offered_subprotocols(["ocpp2.0.1, ocpp1.6", " ocpp1.5 ", ""]) == (
            "ocpp2.0.1",
            "ocpp1.6",
            "ocpp1.5",
        )

    def test_no_ocpp16_offered_is_refused_with_400(self) -> None:
        """§3.2: without ocpp1.6 among the offered subprotocols, HTTP 400 naming what was offered."""
        refusal = check_handshake(_read(protocols="ocpp2.0.1"), security_profile=0)
        assert refusal is not None and refusal.status == 400
        assert "ocpp2.0.1" in refusal.reason and SUBPROTOCOL in refusal.body

    def test_ocpp16_offered_goes_on(self) -> None:
        """§3.2: with ocpp1.6 offered and profile 0, nothing more is checked here."""
        assert check_handshake(_read(), security_profile=0) is None


class TestBasicAuth:
    """Security white paper profiles 1 and 2: Basic auth, user name = charge point id."""

    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            ("Basic " + base64.b64encode(b"CP1:secret").decode(), ("CP1", b"secret")),
            ("basic " + base64.b64encode(b"CP1:").decode(), ("CP1", b"")),
            ("Basic " + base64.b64encode(b"CP1:a:b").decode(), ("CP1", b"a:b")),
            ("Basic " + base64.b64encode(b"no-colon").decode(), (None, None)),
            ("Basic !!!not-base64", (None, None)),
            ("Digest abc", (None, None)),
            ("", (None, None)),
            (None, (None, None)),
        ],
    )
    def test_basic_auth(
        self, header: str | None, expected: tuple[str | None, bytes | None]
    ) -> None:
        """RFC 7617: user-id ":" password; anything malformed is no credentials."""
        assert parse_basic_auth(header) == expected

    def test_the_header_a_charge_point_sends_reads_back(self) -> None:
        """The charge point's header carries its id and its binary key unchanged."""
        header = basic_auth_header("CP1", b"\x00\xffkey")
        assert parse_basic_auth(header) == ("CP1", b"\x00\xffkey")

    @pytest.mark.parametrize("profile", [1, 2])
    def test_profiles_1_and_2_refuse_a_user_name_other_than_the_id(self, profile: int) -> None:
        """The user name must be the charge point id: else HTTP 401, saying which is wrong."""
        other = _read(Authorization=basic_auth_header("CP2", b"pw"))
        refusal = check_handshake(other, security_profile=profile)
        assert refusal is not None and refusal.status == 401
        assert refusal.reason == "the Basic-auth user name is not the charge point id"
        missing = check_handshake(_read(), security_profile=profile)
        assert missing is not None and missing.reason == "no Basic-auth credentials"
        right = _read(Authorization=basic_auth_header("CP1", b"pw"))
        assert check_handshake(right, security_profile=profile) is None

    @pytest.mark.parametrize("profile", [0, 3])
    def test_profiles_0_and_3_take_no_password(self, profile: int) -> None:
        """Profiles 0 and 3 do not authenticate by password: no credentials is fine."""
        assert check_handshake(_read(), security_profile=profile) is None


class TestRefusals:
    """Each refusal has its HTTP status, a reason for the log, and a body that says no more."""

    def test_statuses(self) -> None:
        """Cap 503, authorization 401, duplicate 409; the 401 body hides the reason."""
        assert no_room(5).status == 503 and "5 connections" in no_room(5).reason
        assert unauthorized("wrong password").status == 401
        assert "wrong password" not in unauthorized("wrong password").body
        assert duplicate_refusal().status == 409
