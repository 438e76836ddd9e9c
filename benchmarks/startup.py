"""Start-up: from ``sparkkit run …`` to the first output batch, as a user sees it.

Each case is a fresh ``sparkkit run wordcount`` process (local[*], its own JVM) writing to the
console; the clock starts just before the process is spawned and stops when the console shows
the first batch that has rows. Where the time went comes from the job's own lines (each stamped
as it arrives): the SparkSession up, the query started, each batch. ``--repeat`` runs of each
case, the settings of a case interleaved run by run (the machine's noise falls on all alike);
the median is reported. Settings: without the class archive (``SPARKKIT_CLASS_ARCHIVE=off``),
from the archive ``sparkkit warm-up`` wrote (in a cache of the benchmark's own), and from the
archive with the JIT at C1 only (``-XX:TieredStopAtLevel=1`` with the tiered code cache's size,
a trade measured, not a default).
Results in ``benchmarks/results/startup.json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import terminate_group, write_results
from sparkkit.class_archive import MODE_ENV

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 120.0

#: setting -> (SPARKKIT_CLASS_ARCHIVE, extra driver Java options).
SETTINGS = {
    "no class archive": ("off", ""),
    "class archive": ("use", ""),
    "class archive, C1 JIT only": ("use", "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m"),
}
#: name -> the job's arguments after ``sparkkit run``.
CASES = {
    "structured-generator": ["wordcount", "--source", "generator://words?rate=1000&keys=50"],
    "dstream-generator": ["wordcount", "--api", "dstream", "--source", "generator://words?rate=1000&keys=50"],
    "structured-files": ["wordcount", "--source", "file://{input}"],
}


def first_output(args: list[str], workdir: Path, env: dict[str, str]) -> dict[str, Any]:
    """Spawn one run; seconds to the first console batch with rows, and the stamped lines."""
    inputs = workdir / "input"
    inputs.mkdir(parents=True, exist_ok=True)
    (inputs / "words.txt").write_text("one two three\nfour five\n", encoding="utf-8")
    args = [a.replace("{input}", str(inputs)) for a in args]
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


def setting_env(cache: Path, conf_dir: Path, archive: str, java_options: str) -> dict[str, str]:
    """The environment of a run: its own cache, and a conf directory with the extra Java options."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "conf" / "log4j2.properties", conf_dir / "log4j2.properties")
    defaults = (ROOT / "conf" / "spark-defaults.conf").read_text(encoding="utf-8")
    if java_options:
        defaults += f"spark.driver.extraJavaOptions {java_options}\n"
    (conf_dir / "spark-defaults.conf").write_text(defaults, encoding="utf-8")
    return {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "XDG_CACHE_HOME": str(cache),
        "SPARKKIT_CONF_DIR": str(conf_dir),
        MODE_ENV: archive,
    }


def main(repeat: int) -> dict[str, Any]:
    results: dict[str, Any] = {"repeat": repeat, "settings": {}, "cases": {}}
    with tempfile.TemporaryDirectory(prefix="sparkkit-bench-startup-cache-") as cache_tmp:
        cache = Path(cache_tmp)
        envs = {
            name: setting_env(cache, cache / f"conf-{i}", archive, options)
            for i, (name, (archive, options)) in enumerate(SETTINGS.items())
        }
        started = time.monotonic()
        warm_env = {**envs["class archive"], MODE_ENV: "auto"}
        warm = subprocess.run(
            [sys.executable, "-m", "sparkkit.cli", "warm-up"], env=warm_env,
            capture_output=True, text=True, cwd=ROOT, check=True,
        )  # fmt: skip
        results["warm_up"] = {"wall_s": round(time.monotonic() - started, 1), "said": warm.stdout.strip()}
        print("warm-up", results["warm_up"], flush=True)
        for name, args in CASES.items():
            runs: dict[str, list[dict[str, Any]]] = {setting: [] for setting in SETTINGS}
            for _ in range(repeat):
                for setting in SETTINGS:
                    with tempfile.TemporaryDirectory(prefix="sparkkit-bench-startup-") as tmp:
                        runs[setting].append(first_output(args, Path(tmp), envs[setting]))
            for setting, setting_runs in runs.items():
                firsts = [r["first_output_s"] for r in setting_runs]
                results["cases"][f"{name}, {setting}"] = {
                    "command": "sparkkit run " + " ".join(args),
                    "job": name,
                    "setting": setting,
                    "first_output_s": firsts,
                    "median_s": statistics.median(firsts),
                    "lines": setting_runs[-1]["lines"],
                    "load_before": [r["load_before"] for r in setting_runs],
                }
                print(name, setting, firsts, flush=True)
    results["settings"] = {name: {"archive": a, "java_options": o} for name, (a, o) in SETTINGS.items()}
    write_results("startup", results)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case (3)")
    main(parser.parse_args().repeat)
