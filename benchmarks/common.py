"""Shared benchmark plumbing: one Spark session, runs measured by batch listeners, JSON results."""

from __future__ import annotations

import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from sparkkit.config import load_config
from sparkkit.jobs import get_job
from sparkkit.runner import Run, prepare
from sparkkit.session import build_spark_session

RESULTS = Path(__file__).resolve().parent / "results"
CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.driver.memory": "4g",
}


def session(name: str) -> SparkSession:
    spark = build_spark_session(f"sparkkit-bench-{name}", "local[2]", CONF)
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def jvm_peak_rss_mb(spark: SparkSession) -> float | None:
    """Peak resident memory (VmHWM) of the JVM: in local mode the driver and executors are one process."""
    proc = getattr(spark.sparkContext._gateway, "proc", None)  # type: ignore[attr-defined]
    if proc is None:
        return None
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run_measured(
    spark: SparkSession, job: str, cli: dict[str, Any], batches: int, skip: int = 0, timeout: float = 900
) -> dict[str, Any]:
    """Run ``job`` until ``skip + batches`` batches completed; per-batch durations after ``skip``."""
    workdir = Path(tempfile.mkdtemp(prefix="sparkkit-bench-"))
    cli = {"checkpoint": str(workdir / "ck"), "sink": "memory://bench?view=false&keep=1", **cli}
    config = load_config(job, get_job(job).options, cli=cli, env={}, conf_dir=workdir / "no-conf")
    started = time.monotonic()
    job_run = Run(prepare(config), spark).start()
    try:
        done = job_run.stats.wait_for(lambda s: len(s.completed) >= skip + batches, timeout)
    finally:
        job_run.stop(graceful=False)
    durations = job_run.stats.durations_ms[skip : skip + batches]
    if not done or len(durations) < batches:
        raise RuntimeError(f"{job} {cli}: only {len(job_run.stats.completed)} batches in {timeout} s")
    return {
        "median_ms": statistics.median(durations),
        "p90_ms": sorted(durations)[int(0.9 * (len(durations) - 1))],
        "batches": durations,
        "wall_s": round(time.monotonic() - started, 1),
    }


def percentile(values: list[float], q: float) -> float:
    """The value below which a fraction ``q`` of ``values`` lies (nearest rank, no interpolation)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def terminate_group(proc: subprocess.Popen[Any], timeout: float = 120) -> None:
    """SIGTERM a process started in a session of its own, and everything it started; SIGKILL them
    if they have not ended ``timeout`` seconds later."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def write_results(name: str, results: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "spark": __import__("pyspark").__version__,
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    path.write_text(json.dumps(results, indent=2))
    print(f"wrote {path}")
    return path
