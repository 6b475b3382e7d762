"""The three security profiles of the OCPP 1.6-J security white paper, end to end.

Run:  pip install trustme && python examples/security_profiles.py

For each profile a central system listens on 127.0.0.1 and a charge point
connects to it, once as it should and once as it should not. The demo makes its
certificates at run time with ``trustme``; a deployment uses its own PKI:
``server_ssl_context("cs.pem", "cs.key")`` and so on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import trustme

from ocpp16 import Client, Handshake, HandshakeError, Server
from ocpp16.security import check_authorization_key, client_ssl_context, server_ssl_context

# The AuthorizationKey of each charge point, as set with ChangeConfiguration (hex text).
AUTHORIZATION_KEYS = {"CP-1": "8f3a00b2c91d4e7f6a5b3c2d1e0f9a8b7c6d5e4f"}


def authorize(cp_id: str, handshake: Handshake) -> bool:
    """Profiles 1 and 2: the password must be the charge point's AuthorizationKey."""
    key = AUTHORIZATION_KEYS.get(cp_id)
    return key is not None and check_authorization_key(handshake, key)


async def attempt(what: str, client: Client, url: str, **connect: object) -> None:
    """Connect, say how it went, and close."""
    try:
        await client.connect(url, **connect)  # type: ignore[arg-type]
    except (HandshakeError, OSError) as exc:
        print(f"  {what}: refused ({type(exc).__name__}: {exc})")
    else:
        print(f"  {what}: connected")
        await client.close()


@contextlib.contextmanager
def demo_pki() -> Iterator[dict[str, str]]:
    """A CA, the central system's certificate for 127.0.0.1, and one for CP-3 (files)."""
    ca = trustme.CA()
    with contextlib.ExitStack() as stack:
        files = {
            "ca": ca.cert_pem.tempfile(),
            "server": ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.tempfile(),
            "cp": ca.issue_cert("CP-3").private_key_and_cert_chain_pem.tempfile(),
            "other_ca": trustme.CA().cert_pem.tempfile(),
        }
        yield {name: str(Path(stack.enter_context(f))) for name, f in files.items()}


async def main() -> None:
    key = AUTHORIZATION_KEYS["CP-1"]
    with demo_pki() as pki:
        print("Profile 1: Basic auth over ws://")
        server = Server(security_profile=1)
        server.on("authorization", authorize)
        port = await server.listen(0, host="127.0.0.1")
        url = f"ws://127.0.0.1:{port}/ocpp"
        await attempt("the right key", Client("CP-1", password=key, security_profile=1), url)
        await attempt("a wrong key", Client("CP-1", password="00" * 20, security_profile=1), url)
        await server.close()

        print("Profile 2: Basic auth over TLS")
        server = Server(security_profile=2)
        server.on("authorization", authorize)
        port = await server.listen(0, host="127.0.0.1", ssl=server_ssl_context(pki["server"]))
        url = f"wss://127.0.0.1:{port}/ocpp"
        trust = client_ssl_context(cafile=pki["ca"])
        await attempt(
            "the right key", Client("CP-1", password=key, security_profile=2), url, ssl=trust
        )
        await attempt(
            "an unknown id", Client("CP-9", password=key, security_profile=2), url, ssl=trust
        )
        await server.close()

        print("Profile 3: TLS with client certificates")
        server = Server(security_profile=3)
        server.on(
            "authorization",
            lambda cp_id, hs: (
                print(f"  certificate of {cp_id}: {hs.peer_certificate['subject']}") or True
            ),
        )
        context = server_ssl_context(
            pki["server"], cafile=pki["ca"], require_client_certificate=True
        )
        port = await server.listen(0, host="127.0.0.1", ssl=context)
        url = f"wss://127.0.0.1:{port}/ocpp"
        with_cert = client_ssl_context(cafile=pki["ca"], certfile=pki["cp"])
        await attempt(
            "with its certificate", Client("CP-3", security_profile=3), url, ssl=with_cert
        )
        without = client_ssl_context(cafile=pki["ca"])
        await attempt("without a certificate", Client("CP-3", security_profile=3), url, ssl=without)
        await server.close()


if __name__ == "__main__":
    asyncio.run(main())
