"""Jobs run under the pip-installed spark-submit, as the README shows."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

from sparkkit.sources import generator_lines
from tests.processes import BIN, ROOT, driver_env, json_word_totals

pytestmark = pytest.mark.slow


def spark_submit(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "spark-submit"), *args],
        capture_output=True,
        text=True,
        env=driver_env(),
        cwd=ROOT,
        timeout=timeout,
    )


def test_help() -> None:
    result = spark_submit("jobs/wordcount.py", "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: spark-submit jobs/wordcount.py" in result.stdout
    assert "--batch-interval" in result.stdout


@pytest.mark.parametrize("api", ["dstream", "structured"])
def test_submitted_job_writes_exact_counts(tmp_path: Path, api: str) -> None:
    out = tmp_path / "out"
    # the 150 records are due within 0.5 s; the rest is room for a loaded machine (3 test workers)
    result = spark_submit(
        "--master", "local[2]", "jobs/wordcount.py", "--api", api,
        "--source", "generator://s?rate=300&keys=4&count=150", "--sink", f"json://{out}",
        "--batch-interval", "1s", "--duration", "30s",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert json_word_totals(out) == Counter(generator_lines("s", 0, 150, 0, 4))
    assert "[sparkkit] stopped wordcount" in result.stdout


def test_bad_option_under_spark_submit_exits_2() -> None:
    result = spark_submit("jobs/wordcount.py", "--batch-interval", "2 seconds")
    output = result.stdout + result.stderr  # spark-submit merges the Python driver's stderr into stdout
    assert result.returncode == 2
    assert "sparkkit: error: --batch-interval=2 seconds (from command line)" in output
    assert "Traceback" not in output
