"""The benchmark harness (bench/run.py) still runs: once, at its tiniest size.

This checks that the harness works, not how fast anything is: the numbers of a
``--quick`` run mean nothing. BENCHMARKS.md says how to run the real thing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.redis_server import REDIS_SERVER

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "bench" / "run.py"
SCENARIOS = {"roundtrip", "pipeline", "many", "concurrency"}
IMPLS = {"ocpp16", "plain", "mobilityhouse"}

# The harness bounds every step itself (each process has a lifetime and is killed
# when it overruns); this is only the hang guard, generous for a busy machine, as is
# pytest-timeout's for the test that runs the fixture.
HANG_GUARD = 480
pytestmark = pytest.mark.timeout(HANG_GUARD + 60)


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The JSON report of one ``--quick`` run, which must exit 0."""
    out = tmp_path_factory.mktemp("bench") / "latest.json"
    # The harness's processes are not measured for coverage (`patch = ["subprocess"]`
    # passes COVERAGE_PROCESS_CONFIG on to every Python child). They end as the
    # harness ends them: os._exit(0) once their standard input closes, which the
    # harness does as soon as a client has printed its RESULT. A client still writing
    # its coverage data at exit was cut off mid-write, and left a data file without
    # the coverage schema ("isn't a coverage data file" when combined).
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")
    }
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--fail-on-error", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return report


def test_quick_run_covers_every_scenario_and_implementation(quick_report: dict[str, Any]) -> None:
    """A quick run measures every scenario of every implementation, and ocpp16's extras.

    Those are its queue (scenario 5), its cluster (scenario 6), the pipelined scenario with
    metrics on, and the server mounted under uvicorn (round trips and pipelined).
    """
    if REDIS_SERVER is None and os.environ.get("OCPP16_REQUIRE_REDIS"):
        pytest.fail("redis-server is not installed and OCPP16_REQUIRE_REDIS is set")
    seen = {(s["scenario"], s["impl"]) for s in quick_report["summaries"]}
    cluster = {("cluster", "ocpp16")} if REDIS_SERVER is not None else set()
    assert (
        seen
        == {(scenario, impl) for scenario in SCENARIOS for impl in IMPLS}
        | {
            ("queue", "ocpp16"),
            ("pipeline", "ocpp16-metrics"),
            ("roundtrip", "ocpp16-asgi"),
            ("pipeline", "ocpp16-asgi"),
        }
        | cluster
    )
    if REDIS_SERVER is None:
        assert "redis-server" in quick_report["skipped"]["cluster"]


def test_quick_run_has_positive_rates_and_no_errors(quick_report: dict[str, Any]) -> None:
    """Every measurement of a quick run succeeded, with positive figures and no errors."""
    for s in quick_report["summaries"]:
        where = f"{s['scenario']} {s['impl']}"
        assert s["rounds_ok"] == 1 and s["rounds_failed"] == 0, (where, s["failures"])
        assert s["errors"] == 0, (where, [r.get("error_samples") for r in s["runs"]])
        if s["scenario"] in ("roundtrip", "pipeline"):
            assert s["median_rate"] > 0, where
        elif s["scenario"] == "concurrency":
            assert s["median_seconds"] > 0, where
        elif s["scenario"] == "queue":
            assert s["median_plain_rate"] > 0 and s["median_sqlite_ratio"] > 0, where
        elif s["scenario"] == "cluster":
            assert s["median_local_rate"] > 0 and s["median_remote_rate"] > 0, where
            assert s["median_rate_ratio"] > 0 and s["median_p99_ratio"] > 0, where
        else:
            assert s["runs"][0]["opened"] == s["size"], where
            assert s["median_handshake_rate"] > 0, where
            assert s["median_rss_open_kib"] > 0, where


def test_quick_run_reports_machine_table_and_targets(quick_report: dict[str, Any]) -> None:
    """The report names the machine and package versions, and has a table and the targets."""
    machine = quick_report["machine"]
    assert machine["cpus"] >= 1 and machine["python"]
    assert {"ocpp16", "websockets", "ocpp"} <= set(machine["packages"])
    assert "**1. Sequential round trips**" in quick_report["markdown"]
    assert "**5. The cost of queueing**" in quick_report["markdown"]
    if REDIS_SERVER is not None:
        assert "**6. The cost of a cluster**" in quick_report["markdown"]
        assert "cross-node ÷ local" in quick_report["markdown"]
    assert {t["target"].split(":")[0] for t in quick_report["targets"]} == {"1", "2", "3", "4"}
