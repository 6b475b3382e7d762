"""What a simulated charge point keeps on disk with ``simulate --store DIR``.

Two files per charge point, named by its id (percent-quoted, so that any id
is one file name):

* ``DIR/<id>.sqlite3``: its offline queue, an :class:`ocpp16.SQLiteStore`.
  The library keeps there every StartTransaction, StopTransaction and
  MeterValues of a transaction until the central system has answered it, and
  sends what it holds when the charge point starts again.
* ``DIR/<id>.json``: what the queue cannot say, each connector's energy
  register and the transaction running on it (its transactionId, or, while
  the StartTransaction is unanswered, that request). Written whole to a
  temporary file that is then renamed over the old one, so that it is always
  one complete version.

Both survive a killed process (SIGKILL), not a power cut: the queue is
written with SQLite's ``synchronous=NORMAL`` and the state file without an
fsync, which spares the disk of a thousand simulated charge points.

On a restart the state file says which transactions were running; the queue
says which of them had their StopTransaction queued already (those are over).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ocpp16 import SQLiteStore

__all__ = ["STATE_VERSION", "SavedConnector", "StateError", "StateFile", "open_store"]

STATE_VERSION = 1
"""The version of the state file this release writes and reads."""


class StateError(Exception):
    """A state file that cannot be used; the message names the file and says why."""


@dataclass
class SavedConnector:
    """One connector as the state file keeps it.

    Attributes:
        meter_wh: The energy register, exactly.
        transaction_id: The running transaction's id, once the central system gave it.
        start: The StartTransaction request of the running transaction while
            its answer is unknown; else ``None``.
        id_tag: The running transaction's idTag.
        meter_start: The register when it started, in whole Wh.
    """

    meter_wh: float
    transaction_id: int | None = None
    start: dict[str, Any] | None = None
    id_tag: str | None = None
    meter_start: int = 0

    @property
    def running(self) -> bool:
        """Whether a transaction is running on it (its id known or not yet)."""
        return self.transaction_id is not None or self.start is not None


def _path(directory: str | os.PathLike[str], cp_id: str, suffix: str) -> Path:
    # Quoted: any id (one with "/" in it, say) is one file name in the directory.
    return Path(directory) / f"{quote(cp_id, safe='')}{suffix}"


def open_store(directory: str | os.PathLike[str], cp_id: str) -> SQLiteStore:
    """Open (or create) the offline queue of ``cp_id`` in ``directory``.

    Raises:
        StoreError: The file cannot be used (in use by another process, damaged, newer).
    """
    return SQLiteStore(_path(directory, cp_id, ".sqlite3"), synchronous="NORMAL")


class StateFile:
    """The state file of one charge point.

    Args:
        directory: The ``--store`` directory.
        cp_id: The charge point's id.
    """

    def __init__(self, directory: str | os.PathLike[str], cp_id: str) -> None:
        self.path = _path(directory, cp_id, ".json")

    def read(self) -> dict[int, SavedConnector]:
        """Return the connectors it holds, by connector id; none when there is no file.

        Raises:
            StateError: The file cannot be read or is not a state file of this version.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise StateError(f"cannot read the state file {str(self.path)!r}: {exc}") from None
        try:
            data = json.loads(text)
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"version {data.get('version')!r}, expected {STATE_VERSION}")
            return {int(key): _connector(value) for key, value in data["connectors"].items()}
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise StateError(
                f"the state file {str(self.path)!r} is damaged ({exc}); "
                "remove it to start afresh (its queue is kept)"
            ) from None

    def write(self, connectors: dict[int, SavedConnector]) -> None:
        """Replace the file with ``connectors`` in one step.

        Raises:
            OSError: It could not be written.
        """
        data = {
            "version": STATE_VERSION,
            "connectors": {
                str(number): {
                    "meter_wh": saved.meter_wh,
                    "transaction_id": saved.transaction_id,
                    "start": saved.start,
                    "id_tag": saved.id_tag,
                    "meter_start": saved.meter_start,
                }
                for number, saved in connectors.items()
            },
        }
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
        # A rename replaces the file whole: a process killed at any moment leaves
        # the old version or the new one, never half of one.
        os.replace(temporary, self.path)


def _connector(value: Any) -> SavedConnector:
    """One connector of the file, checked."""
    meter_wh = value["meter_wh"]
    transaction_id = value["transaction_id"]
    start = value["start"]
    id_tag = value["id_tag"]
    meter_start = value["meter_start"]
    if (
        isinstance(meter_wh, bool)
        or not isinstance(meter_wh, int | float)
        or not 0 <= meter_wh < 1e15
        or not (transaction_id is None or type(transaction_id) is int)
        or not (start is None or isinstance(start, dict))
        or not (id_tag is None or isinstance(id_tag, str))
        or type(meter_start) is not int
    ):
        raise ValueError(f"a connector holds values of the wrong type: {value!r}")
    return SavedConnector(float(meter_wh), transaction_id, start, id_tag, meter_start)
