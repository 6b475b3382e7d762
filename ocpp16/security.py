"""Security profiles of the OCPP 1.6-J security white paper: Basic auth and TLS.

* Profile 1: HTTP Basic authentication over ``ws://``. The user name is the
  charge point id, the password the AuthorizationKey.
* Profile 2: the same over TLS (``wss://``), the central system proving its
  identity with its certificate.
* Profile 3: TLS with client certificates: both sides prove their identity
  with certificates; no password.

This module builds the pieces: :func:`check_authorization_key` and
:func:`check_password` for an ``"authorization"`` listener, and :func:`server_ssl_context` /
:func:`client_ssl_context` for ``Server.listen(ssl=...)`` and
``Client.connect(ssl=...)``. ``Server(security_profile=N)`` and
``Client(security_profile=N)`` refuse a configuration that does not meet
profile N, and say why.
"""

from __future__ import annotations

import hmac
import ssl
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ocpp16.handshake import Handshake

__all__ = [
    "SECURITY_PROFILES",
    "check_authorization_key",
    "check_password",
    "client_ssl_context",
    "server_ssl_context",
]

SECURITY_PROFILES: Final = (0, 1, 2, 3)
"""The profiles: 0 for none (no authentication), 1 to 3 as the white paper numbers them."""


def check_password(handshake: Handshake, password: bytes | str) -> bool:
    """Tell whether a handshake carries Basic-auth credentials with exactly this password.

    The user name must be the charge point id of the URL (security white paper,
    profiles 1 and 2), and the password ``password`` as written: for a key that
    chargers may also send as hexadecimal text, use
    :func:`check_authorization_key`. The comparison takes constant time.

    Args:
        handshake: The handshake of the ``"authorization"`` event.
        password: The expected password; text is compared as UTF-8.

    Returns:
        True when the user name is the charge point id and the password matches.
    """
    expected = password.encode("utf-8") if isinstance(password, str) else bytes(password)
    return _credentials_match(handshake, (expected,))


def check_authorization_key(handshake: Handshake, key: bytes | str) -> bool:
    """Tell whether a handshake carries the right Basic-auth credentials (profiles 1 and 2).

    The user name must be the charge point id of the URL (the white paper anchors
    the credentials on it), and the password the AuthorizationKey. Chargers send
    the key in one of two forms, and both are accepted: the raw bytes of the key,
    or its hexadecimal text (either case). Comparisons take constant time.

    Args:
        handshake: The handshake of the ``"authorization"`` event.
        key: The charge point's AuthorizationKey: its raw bytes, or its
            hexadecimal text as configured with ChangeConfiguration.

    Returns:
        True when the user name is the charge point id and the password is the key.

    Raises:
        ValueError: ``key`` is text that is not hexadecimal.
    """
    raw = bytes.fromhex(key) if isinstance(key, str) else bytes(key)
    return _credentials_match(
        handshake, (raw, raw.hex().encode("ascii"), raw.hex().upper().encode("ascii"))
    )


def _credentials_match(handshake: Handshake, candidates: tuple[bytes, ...]) -> bool:
    password = handshake.password if handshake.password is not None else b""
    username = (handshake.username or "").encode("utf-8", "surrogatepass")
    # Every comparison runs, whatever the outcome of the others.
    matches = [hmac.compare_digest(password, candidate) for candidate in candidates]
    user_ok = hmac.compare_digest(username, handshake.cp_id.encode("utf-8", "surrogatepass"))
    return handshake.password is not None and user_ok and any(matches)


def server_ssl_context(
    certfile: str,
    keyfile: str | None = None,
    *,
    cafile: str | None = None,
    require_client_certificate: bool = False,
) -> ssl.SSLContext:
    """Build the TLS context of a central system (profiles 2 and 3).

    Args:
        certfile: The central system's certificate chain (PEM).
        keyfile: Its private key (PEM), if not in ``certfile``.
        cafile: The CA certificates that sign charge point certificates (profile 3).
        require_client_certificate: Profile 3: refuse a charge point without a
            certificate signed by ``cafile``.

    Returns:
        An ``SSLContext`` with TLS 1.2 as its minimum version.

    Raises:
        ValueError: Client certificates are required but no ``cafile`` is given.
    """
    if require_client_certificate and cafile is None:
        raise ValueError("requiring client certificates needs the CA that signs them (cafile)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # Security white paper: TLS 1.2 or above.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    if cafile is not None:
        context.load_verify_locations(cafile)
        context.verify_mode = ssl.CERT_REQUIRED if require_client_certificate else ssl.CERT_OPTIONAL
    return context


def client_ssl_context(
    *,
    cafile: str | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
) -> ssl.SSLContext:
    """Build the TLS context of a charge point (profiles 2 and 3).

    The central system's certificate is always verified, host name included.

    Args:
        cafile: The CA certificates to trust; the system's by default.
        certfile: The charge point's certificate chain (PEM), for profile 3.
        keyfile: Its private key (PEM), if not in ``certfile``.

    Returns:
        An ``SSLContext`` with TLS 1.2 as its minimum version.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if certfile is not None:
        context.load_cert_chain(certfile, keyfile)
    return context
