"""Instructions per pipelined message, counted by callgrind in the server process.

``python bench/instructions.py [--impls ocpp16,plain] [--small 500] [--large 2500]``

For each implementation: its server runs under ``valgrind --tool=callgrind``; the
raw-socket load (``bench/load.py pipeline``, as in scenario 2) sends ``--small``
BootNotification CALLs on one connection, then, with a fresh server, ``--large``; the
difference of the two instruction counts divided by the difference of the calls is the
cost of one message (start-up, imports and the connection cancel out). Counts are
deterministic: a busy machine does not change them, which is why BENCHMARKS.md's CPU
target is measured this way rather than with the scheduler's 10 ms ticks.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def count(impl: str, calls: int, loop: str) -> int:
    """Instructions the server of ``impl`` executes in its whole life, serving ``calls``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "OCPP16_BENCH_LOOP": loop}
        server_cmd = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
            sys.executable, str(BENCH / f"impl_{impl}.py"), "server", "--no-ping",
            "--lifetime", "600",
        ]  # fmt: skip
        server = subprocess.Popen(
            server_cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        try:
            assert server.stdout is not None
            port = None
            for line in server.stdout:
                if line.startswith("PORT "):
                    port = int(line.split()[1])
                    break
            if port is None:
                raise SystemExit(f"{impl}: the server printed no port")
            load_cmd = [
                sys.executable, str(BENCH / "load.py"), "pipeline", "--port", str(port),
                "--calls", str(calls), "--warmup", "0", "--repeat", "1",
                "--timeout", "600", "--lifetime", "900",
            ]  # fmt: skip
            subprocess.run(
                load_cmd,
                check=True,
                stdout=subprocess.DEVNULL,
                env={**os.environ, "OCPP16_BENCH_LOOP": "asyncio"},
            )
        finally:
            assert server.stdin is not None
            server.stdin.close()  # the server exits when its standard input closes
            server.wait(timeout=120)
        text = out.read_text(errors="replace")
        match = re.search(r"^summary:\s+(\d+)", text, re.MULTILINE) or re.search(
            r"^totals:\s+(\d+)", text, re.MULTILINE
        )
        if match is None:
            raise SystemExit(f"{impl}: no instruction count in {out}")
        return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impls", default="ocpp16,plain")
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--large", type=int, default=2500)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")
    results: dict[str, float] = {}
    for impl in args.impls.split(","):
        small, large = count(impl, args.small, args.loop), count(impl, args.large, args.loop)
        results[impl] = (large - small) / (args.large - args.small)
        print(f"{impl}: {results[impl]:,.0f} instructions per message", flush=True)
    if "ocpp16" in results and "plain" in results:
        print(f"ocpp16 / plain: {results['ocpp16'] / results['plain']:.2f}")


if __name__ == "__main__":
    main()
