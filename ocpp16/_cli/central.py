"""The central system of ``ocpp16 serve`` and ``ocpp16 demo``: a plausible answer to everything.

Every action a charge point may send (the core actions and the security white
paper's) gets a valid answer: boots and id tags are accepted, transaction ids
count up from 1, and times are the current UTC time. Built on the public API
alone, as any backend would be.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ocpp16 import ClientBase, Handshake, schemas
from ocpp16.security import check_authorization_key, check_password

from .stats import now_iso

__all__ = ["CentralSystem", "PasswordFileError", "read_passwords"]

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class PasswordFileError(ValueError):
    """A passwords file that cannot be used; the message names the file and line."""


def read_passwords(path: str) -> dict[str, str]:
    """Read a passwords file: one ``CP_ID:PASSWORD`` per line.

    Blank lines and lines starting with ``#`` are skipped. The password is
    everything after the first colon; spaces around the id and the password
    are not part of them.

    Args:
        path: The file.

    Returns:
        The password of each charge point id.

    Raises:
        PasswordFileError: The file cannot be read, or a line is not ``id:password``.
    """
    try:
        # utf-8-sig: a file saved by an editor that writes a byte order mark still
        # reads its first id right.
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise PasswordFileError(f"cannot read passwords file {path}: {exc}") from None
    passwords: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cp_id, sep, password = line.partition(":")
        cp_id, password = cp_id.strip(), password.strip()
        if not sep or not cp_id or not password:
            raise PasswordFileError(
                f"{path}, line {number}: expected CP_ID:PASSWORD, got {line[:40]!r}"
            )
        if cp_id in passwords:
            raise PasswordFileError(f"{path}, line {number}: {cp_id!r} appears twice")
        passwords[cp_id] = password
    if not passwords:
        raise PasswordFileError(f"passwords file {path} lists no charge point")
    return passwords


def password_matches(handshake: Handshake, password: str) -> bool:
    """Tell whether a handshake carries ``password`` for its charge point id.

    A password written in hexadecimal is an AuthorizationKey: the charger may send
    its raw bytes or the text, and :func:`ocpp16.security.check_authorization_key`
    takes both. Any other password must arrive as written (UTF-8).
    """
    try:
        bytes.fromhex(password)
    except ValueError:
        return check_password(handshake, password)
    return check_authorization_key(handshake, password)


class CentralSystem:
    """Answers every charge-point-initiated action with a valid, plausible response.

    Args:
        heartbeat_interval: The ``interval`` of accepted boots, in seconds.
        passwords: When given, the Basic-auth password of each charge point id
            that may connect; a charge point not listed is refused.
        on_warning: Told ``(cp_id, text)`` of what a test rig must show, such
            as a second StartTransaction on a connector already charging.

    Attributes:
        transactions_started: Transaction ids handed out.
        boots: BootNotifications accepted.
        running: The transactions running on each charge point, by id:
            transaction id -> connector id.
        statuses: The last status of each connector of each charge point, by id:
            connector id -> status.
    """

    def __init__(
        self,
        *,
        heartbeat_interval: int = 60,
        passwords: Mapping[str, str] | None = None,
        on_warning: Callable[[str, str], None] | None = None,
    ) -> None:
        self.heartbeat_interval = heartbeat_interval
        self.passwords = passwords
        self.on_warning = on_warning
        self._transaction_ids = itertools.count(1)
        self.transactions_started = 0
        self.boots = 0
        self.running: dict[str, dict[int, int]] = {}
        self.statuses: dict[str, dict[int, str]] = {}
        self.handlers: dict[str, Handler] = {
            # Core profile (OCPP 1.6 §4).
            "Authorize": self._authorize,
            "BootNotification": self._boot,
            "DataTransfer": self._data_transfer,
            "DiagnosticsStatusNotification": _empty,
            "FirmwareStatusNotification": _empty,
            "Heartbeat": self._heartbeat,
            "MeterValues": _empty,
            "StartTransaction": self._start_transaction,
            "StatusNotification": _empty,
            "StopTransaction": self._stop_transaction,
            # Security white paper (edition 2): the charge point's notifications.
            "LogStatusNotification": _empty,
            "SecurityEventNotification": _empty,
            "SignCertificate": self._sign_certificate,
            "SignedFirmwareStatusNotification": _empty,
        }

    def attach(self, connection: ClientBase) -> None:
        """Answer the calls of one connection."""
        running = self.running.setdefault(connection.cp_id, {})

        def start(request: dict[str, Any]) -> dict[str, Any]:
            connector = request["connectorId"]
            busy = [tx for tx, on in running.items() if on == connector]
            if busy and self.on_warning is not None:
                # OCPP 1.6 §4.8: a transaction starts on a connector that is free; one
                # already running there was never stopped (a lost StopTransaction?).
                self.on_warning(
                    connection.cp_id,
                    f"StartTransaction on connector {connector}, where transaction "
                    f"{busy[0]} is still running (no StopTransaction for it)",
                )
            answer = self._start_transaction(request)
            running[answer["transactionId"]] = request["connectorId"]
            return answer

        def stop(request: dict[str, Any]) -> dict[str, Any]:
            running.pop(request["transactionId"], None)
            return self._stop_transaction(request)

        statuses = self.statuses.setdefault(connection.cp_id, {})

        def status(request: dict[str, Any]) -> dict[str, Any]:
            statuses[request["connectorId"]] = request["status"]
            return {}

        handlers = {
            **self.handlers,
            "StartTransaction": start,
            "StatusNotification": status,
            "StopTransaction": stop,
        }
        for action, handler in handlers.items():
            connection.on(action, handler)

    def authorize(self, cp_id: str, handshake: Handshake) -> bool:
        """The server's ``"authorization"`` listener: check the password, if any are set."""
        if self.passwords is None:
            return True
        password = self.passwords.get(cp_id)
        return password is not None and password_matches(handshake, password)

    def _boot(self, request: dict[str, Any]) -> dict[str, Any]:
        self.boots += 1
        return {
            "status": "Accepted",
            "currentTime": now_iso(),
            "interval": self.heartbeat_interval,
        }

    def _heartbeat(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"currentTime": now_iso()}

    def _authorize(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"idTagInfo": {"status": "Accepted"}}

    def _start_transaction(self, request: dict[str, Any]) -> dict[str, Any]:
        self.transactions_started += 1
        return {"transactionId": next(self._transaction_ids), "idTagInfo": {"status": "Accepted"}}

    def _stop_transaction(self, request: dict[str, Any]) -> dict[str, Any]:
        # OCPP 1.6 §6.50: idTagInfo answers the idTag of the request, which is optional.
        if "idTag" in request:
            return {"idTagInfo": {"status": "Accepted"}}
        return {}

    def _data_transfer(self, request: dict[str, Any]) -> dict[str, Any]:
        # OCPP 1.6 §4.3: a recipient with no implementation for the vendorId
        # answers UnknownVendorId; this central system implements none.
        return {"status": "UnknownVendorId"}

    def _sign_certificate(self, request: dict[str, Any]) -> dict[str, Any]:
        # Accepting would promise a CertificateSigned that no CA here will ever sign.
        return {"status": "Rejected"}


def _empty(request: dict[str, Any]) -> dict[str, Any]:
    """The answer of the notifications whose response has no field."""
    return {}


def charge_point_actions() -> list[str]:
    """Return every action a charge point may send (direction cp_to_cs or both)."""
    return sorted(
        name for name, schema in schemas.ALL.items() if schema.direction in ("cp_to_cs", "both")
    )
