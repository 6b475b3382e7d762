"""A cluster node in a process of its own, for the process tests; also the local traffic they share.

Run as ``python tests/cluster/node.py REDIS_URL NODE_ID [--ttl S] [--local CP_ID]``: a
``Server`` with a ``RedisCluster`` listening on 127.0.0.1 port 0, which prints
``PORT <port> <pid>`` once listening. With ``--local CP_ID`` the process also runs
a charge point of its own, connected to its own server, and local traffic between
them both ways (see :class:`LocalTraffic`). The charge point answers:

- ``Reset``: ``{"status": "Accepted"}``;
- ``ChangeConfiguration``: Accepted, and the key is recorded in the order received;
- ``DataTransfer``: a CALLERROR ``NotSupported`` with a description and details
  (:data:`REFUSAL`), to check that they cross nodes intact.

It reads commands on standard input, one a line, and answers each on stdout:
``counts`` prints ``COUNTS {"ok": n, "errors": n, "samples": [...], "pid": pid}``;
``seen`` prints ``SEEN [keys]``; ``quit`` (or the end of standard input) closes the
server cleanly and exits.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

if __name__ == "__main__":  # run as a script: the repository's root on the path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))

from ocpp16 import Client, ClientBase, OcppError, Server
from ocpp16.cluster import RedisCluster

NOW = {"currentTime": "2024-05-01T12:00:00Z"}
REFUSAL = ("NotSupported", "no data transfer on this charge point", {"vendor": ["x", 1], "n": None})


def serve_charge_point(client: Client, seen: list[str]) -> None:
    """Give ``client`` the answers this module's charge points give (see the module)."""

    def change(request: Any) -> dict[str, Any]:
        seen.append(request["key"])
        return {"status": "Accepted"}

    def refuse(request: Any) -> None:
        raise OcppError(*REFUSAL)

    client.on("Reset", lambda request: {"status": "Accepted"})
    client.on("ChangeConfiguration", change)
    client.on("DataTransfer", refuse)


def answer_heartbeats(server: Server) -> None:
    """Make ``server`` answer Heartbeat and BootNotification on every connection."""

    def on_connection(connection: ClientBase) -> None:
        connection.on("Heartbeat", lambda request: NOW)
        connection.on(
            "BootNotification", lambda request: {**NOW, "status": "Accepted", "interval": 60}
        )

    server.on("connection", on_connection)


class LocalTraffic:
    """A charge point connected to its own node, and calls both ways between them, counted.

    Each round the charge point sends a Heartbeat to the server and the server sends
    a Reset to the charge point, one after the other; every failure is an error.

    Args:
        server: The node (listening).
        cp_id: The charge point's id.
    """

    def __init__(self, server: Server, cp_id: str) -> None:
        self.server = server
        self.cp_id = cp_id
        self.client = Client(cp_id)
        self.seen: list[str] = []
        serve_charge_point(self.client, self.seen)
        self.ok = 0
        self.errors = 0
        self.samples: list[str] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect the charge point and start the traffic."""
        await self.client.connect(f"ws://127.0.0.1:{self.server.port}/ocpp")
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            for call in (
                lambda: self.client.call_request("Heartbeat", {}, timeout=10),
                lambda: self.server.call_request(self.cp_id, "Reset", {"type": "Soft"}, timeout=10),
            ):
                try:
                    await call()
                    self.ok += 1
                except Exception as exc:
                    self.errors += 1
                    if len(self.samples) < 5:
                        self.samples.append(repr(exc))
            await asyncio.sleep(0.005)  # pacing only: leave the machine to the others

    def counts(self) -> dict[str, Any]:
        """The calls that succeeded and failed so far, with a few failures as text."""
        return {"ok": self.ok, "errors": self.errors, "samples": self.samples, "pid": os.getpid()}

    async def stop(self) -> None:
        """Stop the traffic and disconnect the charge point."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.close()


async def main(argv: list[str]) -> None:
    """Run a node until ``quit`` or the end of standard input."""
    url, node_id = argv[0], argv[1]
    ttl = float(argv[argv.index("--ttl") + 1]) if "--ttl" in argv else 1.0
    local = argv[argv.index("--local") + 1] if "--local" in argv else None
    server = Server(
        cluster=RedisCluster(url, node_id=node_id, presence_ttl=ttl, retry_interval=0.1)
    )
    answer_heartbeats(server)
    port = await server.listen(0, host="127.0.0.1")
    traffic = LocalTraffic(server, local) if local is not None else None
    if traffic is not None:
        await traffic.start()
    print(f"PORT {port} {os.getpid()}", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := (await reader.readline()).decode().strip():
            if line == "quit":
                break
            if line == "counts":
                counts = traffic.counts() if traffic else {"ok": 0, "errors": 0, "pid": os.getpid()}
                print("COUNTS " + json.dumps(counts), flush=True)
            elif line == "seen":
                print("SEEN " + json.dumps(traffic.seen if traffic else []), flush=True)
    finally:
        if traffic is not None:
            await traffic.stop()
        await server.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
