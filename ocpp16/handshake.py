"""The OCPP-J 1.6 opening handshake, sans I/O: what a request asks for, and the answer.

Nothing here touches a socket: the functions read a request path and headers
(as any server gives them: ``websockets``, an ASGI server, a test) and decide.
The asyncio layers call them and only move the outcome onto the wire.

What a central system checks, in this order (OCPP-J 1.6 §3, security white
paper §2):

1. the charge point id, the last segment of the URL path (§3.1.1): none is a
   ``400``;
2. the connection cap (``Server(max_connections=...)``, decided by the
   server's registry): ``503``;
3. the subprotocol ``ocpp1.6`` among those offered (§3.2): else ``400``;
4. security profiles 1 and 2: the Basic-auth user name is the charge point id:
   else ``401``;
5. the ``"authorization"`` listeners: ``401``;
6. a duplicate id under ``duplicate_id="reject"`` (the registry): ``409``.

Each refusal is a :class:`Refusal`: the HTTP status, the reason (for the log,
the ``"refused"`` event and observers) and the short body the charge point
reads, which says no more than it must.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import parse_qsl, quote, unquote

__all__ = [
    "SUBPROTOCOL",
    "Accept",
    "Handshake",
    "Refusal",
    "basic_auth_header",
    "check_handshake",
    "cp_id_from_path",
    "duplicate_refusal",
    "no_room",
    "offered_subprotocols",
    "parse_basic_auth",
    "read_handshake",
    "unauthorized",
    "url_for",
]

SUBPROTOCOL: Final = "ocpp1.6"
"""The WebSocket subprotocol of OCPP 1.6-J (OCPP-J 1.6 §3.2)."""


@dataclass(frozen=True, slots=True)
class Handshake:
    """What a charge point sent when it opened its connection.

    Attributes:
        cp_id: The charge point id: the URL path's last segment, percent-decoded.
        path: The request path, query included.
        query: The query's parameters, percent-decoded (``?tenant=acme`` →
            ``{"tenant": "acme"}``); a parameter given twice keeps its first value.
        headers: The HTTP request headers (case-insensitive mapping).
        remote_address: The peer's address as the socket gives it.
        subprotocols: The subprotocols the charge point offered.
        username: The Basic-auth user name, or ``None`` without Basic auth.
        password: The Basic-auth password as bytes (OCPP passwords may be
            binary), or ``None``.
        peer_certificate: The TLS client certificate, as
            ``ssl.SSLSocket.getpeercert()`` gives it, or ``None``.
        session: What the ``"authorization"`` listeners gave when they
            accepted (``cb(session=...)``, ``Accept(session)``): the tenant,
            the charger's record. ``None`` until then, or when none gave one;
            a later listener sees what an earlier one gave. The connection
            keeps it as ``client.session``.
    """

    cp_id: str
    path: str
    headers: Mapping[str, str]
    remote_address: Any
    subprotocols: tuple[str, ...] = ()
    username: str | None = None
    password: bytes | None = None
    peer_certificate: dict[str, Any] | None = field(default=None, repr=False)
    query: Mapping[str, str] = field(default_factory=dict)
    session: Any = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Accept:
    """An ``"authorization"`` listener's acceptance, with the session it found.

    ``return Accept(session)`` from ``fn(cp_id, handshake)`` accepts as
    ``return True`` does, and hands ``session`` to the connection
    (``client.session``); ``cb(session=...)`` does the same for
    ``fn(cp_id, handshake, cb)``.

    Attributes:
        session: Anything: the tenant, the charger's database record; ``None``
            gives none.
    """

    session: Any = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A handshake the central system refuses, and how.

    Attributes:
        status: The HTTP status of the answer (400, 401, 409 or 503).
        reason: What was wrong, for the log and the ``"refused"`` event.
        body: The text of the HTTP answer, as the charge point reads it.
    """

    status: int
    reason: str
    body: str


def cp_id_from_path(path: str) -> str | None:
    """Return the charge point id of a request path.

    OCPP-J 1.6 §3.1.1: the charge point's identity is the last segment of the
    URL path; the query is not part of it.

    Args:
        path: The request path, query included.

    Returns:
        The last path segment, percent-decoded; ``None`` when it is empty or
        its escapes are not UTF-8.
    """
    segment = path.split("?", 1)[0].rsplit("/", 1)[-1]
    try:
        cp_id = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        return None
    return cp_id or None


def offered_subprotocols(values: Iterable[str]) -> tuple[str, ...]:
    """Return the subprotocols offered in ``Sec-WebSocket-Protocol`` header values.

    Args:
        values: Every value of the header (it may be repeated, each a comma list).

    Returns:
        The subprotocols, in the order offered.
    """
    return tuple(p.strip() for value in values for p in value.split(",") if p.strip())


def parse_basic_auth(value: str | None) -> tuple[str | None, bytes | None]:
    """Read an ``Authorization`` header value as HTTP Basic credentials (RFC 7617).

    Args:
        value: The header's value, or ``None`` without one.

    Returns:
        ``(user name, password)``; ``(None, None)`` when the header is missing,
        not Basic, or malformed.
    """
    if not value:
        return None, None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None, None
    # RFC 7617: user-id ":" password; the user id holds no colon, the password may.
    user, sep, password = raw.partition(b":")
    if not sep:
        return None, None
    return user.decode("utf-8", errors="replace"), password


def basic_auth_header(cp_id: str, password: bytes) -> str:
    """Return the ``Authorization`` header value a charge point sends.

    Security white paper, profiles 1 and 2: HTTP Basic auth whose user name is
    the charge point id and whose password is the AuthorizationKey.

    Args:
        cp_id: The charge point id.
        password: The AuthorizationKey as sent.

    Returns:
        ``"Basic "`` and the base64 of ``id:password``.
    """
    token = base64.b64encode(cp_id.encode("utf-8") + b":" + password)
    return "Basic " + token.decode("ascii")


def url_for(base: str, cp_id: str) -> str:
    """Return the URL a charge point connects to for a central system's base URL.

    OCPP-J 1.6 §3.1.1: the charge point id is the last segment of the URL path,
    so it goes at the end of the path, before any query the base URL carries
    (``ws://h/ocpp?tenant=acme`` → ``ws://h/ocpp/CP1?tenant=acme``).

    Args:
        base: The central system's URL, such as ``"ws://host:9220/ocpp/"``.
        cp_id: The charge point id.

    Returns:
        The base URL's path without trailing slashes, ``"/"`` and the
        percent-quoted id, then the base URL's query, if any.

    Raises:
        ValueError: The base URL has a fragment (``#...``), which a WebSocket
            URL cannot carry (RFC 6455 §3).
    """
    address, hash_mark, fragment = base.partition("#")
    if hash_mark:
        raise ValueError(
            f"the central system URL {base!r} has a fragment (#{fragment}): a WebSocket URL "
            "cannot carry one (RFC 6455 §3); put parameters in the query (?key=value)"
        )
    path, question_mark, query = address.partition("?")
    return path.rstrip("/") + "/" + quote(cp_id, safe="") + question_mark + query


def read_handshake(
    path: str,
    headers: Mapping[str, str],
    *,
    subprotocols: tuple[str, ...],
    remote_address: Any = None,
    peer_certificate: dict[str, Any] | None = None,
) -> Handshake | Refusal:
    """Read an opening handshake: the first check, the charge point id.

    Args:
        path: The request path, query included.
        headers: The request headers.
        subprotocols: The subprotocols offered (:func:`offered_subprotocols`).
        remote_address: The peer's address.
        peer_certificate: The TLS client certificate, if any.

    Returns:
        The :class:`Handshake`, or a ``400`` :class:`Refusal` when the path
        names no charge point.
    """
    cp_id = cp_id_from_path(path)
    if cp_id is None:
        return Refusal(
            HTTPStatus.BAD_REQUEST,
            "no charge point id in the URL path",
            "No charge point id in the URL path.\n",
        )
    username, password = parse_basic_auth(headers.get("Authorization"))
    query: dict[str, str] = {}
    for key, value in parse_qsl(path.partition("?")[2], keep_blank_values=True):
        query.setdefault(key, value)
    return Handshake(
        cp_id=cp_id,
        path=path,
        headers=headers,
        remote_address=remote_address,
        subprotocols=subprotocols,
        username=username,
        password=password,
        peer_certificate=peer_certificate,
        query=query,
    )


def check_handshake(handshake: Handshake, *, security_profile: int) -> Refusal | None:
    """Apply the rules that need nothing but the handshake itself.

    Args:
        handshake: The handshake read by :func:`read_handshake`.
        security_profile: The central system's security profile (0 to 3).

    Returns:
        ``None`` when the handshake may go on to the ``"authorization"``
        listeners, else the :class:`Refusal`.
    """
    if SUBPROTOCOL not in handshake.subprotocols:
        # OCPP-J 1.6 §3.2: the charge point must offer ocpp1.6; a server that
        # agrees on no subprotocol refuses the handshake.
        offered = ", ".join(handshake.subprotocols) or "none"
        return Refusal(
            HTTPStatus.BAD_REQUEST,
            f"the subprotocol {SUBPROTOCOL} was not offered (offered: {offered})",
            f"This server speaks only the subprotocol {SUBPROTOCOL}.\n",
        )
    if security_profile in (1, 2) and handshake.username != handshake.cp_id:
        # Security white paper, profiles 1 and 2: the Basic-auth user name is
        # the charge point id.
        why = (
            "no Basic-auth credentials"
            if handshake.username is None
            else "the Basic-auth user name is not the charge point id"
        )
        return unauthorized(why)
    return None


def unauthorized(reason: str) -> Refusal:
    """Return the ``401`` refusal of a handshake that failed authentication.

    Args:
        reason: What was wrong, for the log; the charge point reads only
            "Unauthorized."

    Returns:
        The refusal.
    """
    return Refusal(HTTPStatus.UNAUTHORIZED, reason, "Unauthorized.\n")


def no_room(limit: int) -> Refusal:
    """Return the ``503`` refusal of a handshake past the connection cap.

    Args:
        limit: The cap (``max_connections``).

    Returns:
        The refusal.
    """
    return Refusal(
        HTTPStatus.SERVICE_UNAVAILABLE,
        f"{limit} connections is the cap",
        "Too many connections.\n",
    )


def duplicate_refusal() -> Refusal:
    """Return the ``409`` refusal of an id already connected under ``duplicate_id="reject"``.

    Returns:
        The refusal.
    """
    return Refusal(
        HTTPStatus.CONFLICT,
        "already connected (duplicate_id='reject')",
        "This charge point is already connected.\n",
    )
