"""Start-up: from ``sparkkit run …`` to the first output batch, as a user sees it.

Each case is a fresh ``sparkkit run wordcount`` process (local[*], its own JVM) writing to the
console; the clock starts just before the process is spawned and stops when the console shows
the first batch that has rows. Where the time went comes from the job's own lines (each stamped
as it arrives): the SparkSession up, the query started, each batch. ``--repeat`` runs of each
case; the median is reported. Results in ``benchmarks/results/startup.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import terminate_group, write_results

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 120.0

#: name -> the job's arguments after ``sparkkit run``.
CASES = {
    "structured-generator": ["wordcount", "--source", "generator://words?rate=1000&keys=50"],
    "dstream-generator": ["wordcount", "--api", "dstream", "--source", "generator://words?rate=1000&keys=50"],
    "structured-files": ["wordcount", "--source", "file://{input}"],
}


def first_output(args: list[str], workdir: Path) -> dict[str, Any]:
    """Spawn one run; seconds to the first console batch with rows, and the stamped lines."""
    inputs = workdir / "input"
    inputs.mkdir(parents=True, exist_ok=True)
    (inputs / "words.txt").write_text("one two three\nfour five\n", encoding="utf-8")
    args = [a.replace("{input}", str(inputs)) for a in args]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    load = os.getloadavg()[0]
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparkkit.cli", "run", *args, "--duration", "0", "--batch-interval", "1s"],
        cwd=workdir, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    lines: list[tuple[float, str]] = []
    seen = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        header = False  # the line after a batch's column names is its first row
        for line in proc.stdout:
            lines.append((round(time.monotonic() - started, 2), line.rstrip()))
            if line.startswith("word "):
                header = True
            elif header and line.strip() and not line.startswith(("-", "[", "(")):
                seen.set()
            elif line.startswith("Batch:"):
                header = False

    threading.Thread(target=read, daemon=True).start()
    try:
        if not seen.wait(TIMEOUT_S):
            raise RuntimeError(f"no output within {TIMEOUT_S} s: {lines[-5:]}")
        first = time.monotonic() - started
    finally:
        terminate_group(proc, 30)
    return {"first_output_s": round(first, 2), "load_before": round(load, 2), "lines": lines[:40]}


def main(repeat: int) -> dict[str, Any]:
    results: dict[str, Any] = {"repeat": repeat, "cases": {}}
    for name, args in CASES.items():
        runs = []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory(prefix="sparkkit-bench-startup-") as tmp:
                runs.append(first_output(args, Path(tmp)))
        firsts = [r["first_output_s"] for r in runs]
        results["cases"][name] = {
            "command": "sparkkit run " + " ".join(args),
            "first_output_s": firsts,
            "median_s": statistics.median(firsts),
            "lines": runs[-1]["lines"],
            "load_before": [r["load_before"] for r in runs],
        }
        print(name, firsts, flush=True)
    write_results("startup", results)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case (3)")
    main(parser.parse_args().repeat)
