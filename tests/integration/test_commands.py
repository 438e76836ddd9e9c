"""The README's commands as a user types them: `make run`, `sparkkit jobs`, `--help` everywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import ROOT, driver_env

pytestmark = pytest.mark.slow
VENV = Path(sys.prefix)


def test_make_run_shows_the_stream_processor_and_stops_by_itself() -> None:
    stamp = VENV / ".sparkkit-installed"
    result = subprocess.run(
        ["make", "-s", "-o", str(stamp), "run", f"VENV={VENV}", "DURATION=45s"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=driver_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "[sparkkit] paid_clicks -> memory:///paid_clicks (global_temp.paid_clicks)" in out, out[-3000:]
    assert "[paid_clicks] batch " in out, out[-3000:]  # results shown as they come
    for query in ("page_views", "paid_clicks", "revenue"):
        assert f"== {query}: " in out, out[-3000:]  # every query's final answer
    for stream in ("views", "clicks", "payments"):
        archived = [line for line in out.splitlines() if line.startswith(f"== stream {stream}: ")]
        assert archived and int(archived[0].split()[3]) > 0, out[-3000:]


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["run", "--help"], ["run", "wordcount", "--help"], ["run", "streams", "--help"],
     ["backfill", "--help"], ["jobs", "--help"],
     ["checkpoint", "--help"], ["checkpoint", "inspect", "--help"], ["checkpoint", "reset", "--help"]],
)  # fmt: skip
def test_every_command_has_help(argv: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sparkkit.cli", *argv],
        capture_output=True,
        text=True,
        env=driver_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: sparkkit")


def test_jobs_lists_every_job() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sparkkit.cli", "jobs"],
        capture_output=True,
        text=True,
        env=driver_env(),
        timeout=60,
    )
    assert result.returncode == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == ["wordcount", "windowed_counts", "running_counts", "sessions"]
