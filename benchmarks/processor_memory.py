"""Memory of the stream processor over the default pipeline: does it stay flat?

``sparkkit run streams --duration Nm`` over conf/jobs/streams.toml (three generator streams at
~2000/s, ~300/s and ~20/s, archived to Parquet, working storage, three standing SQL queries into
``memory://`` outputs) runs in its own process session. Every 5 s this samples from /proc the
resident memory (RSS) of the Python driver, of its JVM (driver and executors are one JVM in local
mode), the summed RSS of every process below the JVM (pyspark.daemon and its Python workers when
a query needs them, and helpers the JVM runs, such as Hadoop's chmod; their command names are
recorded; forked processes share pages, so a sum of RSS over-counts: the PSS total is recorded
too) and the total of the whole process tree; every 15 s the JVM's heap use from ``jcmd PID GC.heap_info``
when the JDK has jcmd. At the end: the archive's size on disk, the records archived per stream
and the driver's final summary, read from its output.

Minutes count from the moment the driver printed its outputs (the queries started and the
``--duration`` clock began). Goal (the issue): flat memory, the last minute's mean total RSS
within 10% of the second minute's mean. ``--minutes 2`` is a quick try (then both are the same
minute).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import tomllib

from benchmarks.common import terminate_group, write_results

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = ROOT / "conf" / "jobs" / "streams.toml"
INTERVAL_S = 5.0
HEAP_EVERY = 3  # samples: jcmd starts a JVM of its own, so not at every sample
FLAT_WITHIN = 0.10
SERIES = ("driver", "jvm", "workers", "total")
MIB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")

FALLING_BEHIND = re.compile(r"falling behind\. The trigger interval is (\d+) milliseconds, but spent (\d+)")
QUERY_SUMMARY = re.compile(r"^== (\S+): (\d+) batches, (\d+) rows written -> (\S+)")
STREAM_SUMMARY = re.compile(r"^== stream (\S+): (\d+) records archived in (\S+?)(?:, (\d+) dead letters)?$")
MEDIAN_BATCH = re.compile(r"^   median batch ([\d.]+) s, trigger (\S+)( \(slower)?")
CLOCK = re.compile(r"\b(\d{2}):(\d{2}):(\d{2})\b")
HEAP = re.compile(r"total (\d+)K, used (\d+)K")


# --- /proc -------------------------------------------------------------------------------------


def children_of() -> dict[int, list[int]]:
    """Every process's children, from /proc/PID/stat (the field after the command's ')')."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def below(pid: int, children: dict[int, list[int]]) -> list[int]:
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo += children.get(child, [])
    return found


def command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def executable(pid: int | None) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0  # ended between the scan and the read


def pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def heap(jvm: int) -> tuple[float, float] | None:
    """(used, committed) MiB of the Java heap, summed over its generations; None without jcmd."""
    jcmd = shutil.which("jcmd")
    if jcmd is None:
        return None
    try:
        out = subprocess.run(
            [jcmd, str(jvm), "GC.heap_info"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except subprocess.TimeoutExpired:
        return None
    found = HEAP.findall(out)
    if not found:
        return None
    return sum(int(u) for _, u in found) / 1024, sum(int(t) for t, _ in found) / 1024


def sample(driver: int, with_heap: bool, seen: Counter[str]) -> dict[str, Any]:
    children = children_of()
    tree = below(driver, children)
    jvm = next((pid for pid in tree if command_name(pid) == "java"), None)
    below_jvm = below(jvm, children) if jvm is not None else []
    # a child the JVM is starting (vfork, before exec) shares the JVM's memory: not counted again
    spawning = [pid for pid in below_jvm if executable(pid) == executable(jvm)]
    workers = [pid for pid in below_jvm if pid not in spawning]
    other = [pid for pid in tree if pid != jvm and pid not in below_jvm]
    everything = [pid for pid in (driver, *tree) if pid not in spawning]
    seen.update(name for name in map(command_name, workers) if name)  # "": ended meanwhile
    row: dict[str, Any] = {
        "driver_mib": rss(driver) / MIB,
        "jvm_mib": rss(jvm) / MIB if jvm is not None else 0.0,
        "workers_mib": sum(map(rss, workers)) / MIB,
        "workers": len(workers),
        "spawning": len(spawning),
        "other_mib": sum(map(rss, other)) / MIB,
        "total_pss_mib": sum(map(pss, everything)) / MIB,
        "load1": os.getloadavg()[0],
    }
    row["total_mib"] = row["driver_mib"] + row["jvm_mib"] + row["workers_mib"] + row["other_mib"]
    if with_heap and jvm is not None:
        used = heap(jvm)
        if used is not None:
            row["heap_used_mib"], row["heap_committed_mib"] = used
    return {key: round(value, 1) if isinstance(value, float) else value for key, value in row.items()}


def disk_bytes(path: Path) -> int:
    """Bytes allocated on disk under ``path`` (as du counts them)."""
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


# --- the driver's output -------------------------------------------------------------------------


class Output:
    """The driver's stdout and stderr, copied to a log file, each line kept with its arrival time."""

    def __init__(self, proc: subprocess.Popen[bytes], log: Path, start: float) -> None:
        self.lines: list[tuple[float, float, str]] = []  # (seconds since start, wall clock, text)
        self.start = start
        self.thread = threading.Thread(target=self._copy, args=(proc, log), daemon=True)
        self.thread.start()

    def _copy(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        assert proc.stdout is not None
        with open(log, "w") as out:
            for raw in proc.stdout:
                text = raw.decode(errors="replace").rstrip("\n")
                self.lines.append((time.monotonic() - self.start, time.time(), text))
                out.write(text + "\n")
                out.flush()

    def queries_started(self) -> tuple[float, float] | None:
        """When the driver printed its outputs: the queries run, the --duration clock started."""
        seen = [(t, wall) for t, wall, text in self.lines if re.match(r"\[sparkkit\] \S+ -> ", text)]
        return seen[-1] if seen else None


def rates() -> dict[str, float]:
    """Each stream's nominal records/s from the pipeline file's generator:// source addresses."""
    streams = tomllib.loads(PIPELINE.read_text()).get("streams", {})
    found = {}
    for name, spec in streams.items():
        rate = parse_qs(urlsplit(spec.get("source", "")).query).get("rate")
        if rate:
            found[name] = float(rate[0])
    return found


def newest_clock(rows: list[str], wall: float) -> float | None:
    """The newest HH:MM:SS (local time) in an answer's rows, as a wall-clock time near ``wall``."""
    times = [int(h) * 3600 + int(m) * 60 + int(s) for row in rows for h, m, s in CLOCK.findall(row)]
    if not times:
        return None
    local = time.localtime(wall)
    midnight = wall - (local.tm_hour * 3600 + local.tm_min * 60 + local.tm_sec)
    newest = midnight + max(times)
    return newest - 86400 if newest > wall + 3600 else newest


def read_summary(output: Output, stop_wall: float | None) -> dict[str, Any]:
    """The final answer of each query (and how old its newest event time is), each stream's archive."""
    queries: dict[str, Any] = {}
    streams: dict[str, Any] = {}
    current: dict[str, Any] | None = None
    for _, wall, text in output.lines:
        if m := STREAM_SUMMARY.match(text):
            current = None
            streams[m[1]] = {"records": int(m[2]), "path": m[3], "dead_letters": int(m[4] or 0)}
        elif m := QUERY_SUMMARY.match(text):
            current = queries[m[1]] = {
                "batches": int(m[2]),
                "rows": int(m[3]),
                "rows_shown": [],
                "wall": wall,
            }
        elif current is not None and (m := MEDIAN_BATCH.match(text)):
            current.update(median_batch_s=float(m[1]), trigger=m[2], slower_than_trigger=bool(m[3]))
        elif current is not None and text.startswith("   ") and not text.startswith("   ..."):
            current["rows_shown"].append(text.strip())
    for query in queries.values():
        wall = query.pop("wall")
        newest = newest_clock(query["rows_shown"], wall)
        query["rows_shown"] = len(query["rows_shown"])
        if newest is not None:
            query["newest_event_time"] = time.strftime("%H:%M:%S", time.localtime(newest))
            query["behind_at_summary_s"] = round(wall - newest, 1)
            if stop_wall is not None:
                query["behind_at_stop_request_s"] = round(stop_wall - newest, 1)
    return {"queries": queries, "streams": streams}


def read_lag(output: Output, started: float) -> dict[str, Any]:
    """Spark's 'falling behind' warnings (a micro-batch took longer than its trigger), per minute."""
    per_minute: dict[int, list[int]] = {}
    for t, _, text in output.lines:
        if m := FALLING_BEHIND.search(text):
            per_minute.setdefault(int((t - started) // 60), []).append(int(m[2]))
    spent = [ms for values in per_minute.values() for ms in values]
    return {
        "falling_behind_warnings": len(spent),
        "spent_ms_median": statistics.median(spent) if spent else None,
        "spent_ms_max": max(spent) if spent else None,
        "per_minute": [
            {"minute": minute, "warnings": len(values), "spent_ms_max": max(values)}
            for minute, values in sorted(per_minute.items())
        ],
    }


def read_errors(output: Output) -> list[dict[str, Any]]:
    found = []
    for t, _, text in output.lines:
        if text.startswith(("\tat ", "\t... ")):
            continue
        if re.search(r"Exception|Error\b|\bERROR\b|Traceback", text):
            found.append({"t_s": round(t, 1), "line": text[:400]})
    return found


# --- the run ------------------------------------------------------------------------------------


def window_stats(samples: list[dict[str, Any]], key: str, lo: float, hi: float) -> float | None:
    values = [s[key] for s in samples if lo <= s["t_s"] < hi and key in s]
    return round(statistics.mean(values), 1) if values else None


def code_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.rstrip("\n")

    return {"commit": git("rev-parse", "HEAD"), "uncommitted": git("status", "--short").splitlines()}


def measure(minutes: int, keep: bool) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="sparkkit-bench-memory-"))
    checkpoint, log = workdir / "ck", workdir / "driver.log"
    command = [
        sys.executable, "-m", "sparkkit.cli", "run", "streams",
        "--checkpoint", str(checkpoint), "--duration", f"{minutes}m", "--show", "0",
    ]  # fmt: skip
    env = dict(os.environ)
    env.update(
        PYSPARK_PYTHON=sys.executable,
        PYSPARK_DRIVER_PYTHON=sys.executable,
        SPARKKIT_CONF_DIR=str(ROOT / "conf"),
        PYTHONUNBUFFERED="1",  # lines arrive (and are timed) when printed, not at exit
    )
    load_at_start, code = os.getloadavg(), code_state()  # the driver imports the code as it starts
    print(f"driver log: {log}", flush=True)
    start = time.monotonic()
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True
    )
    output = Output(proc, log, start)
    hard_limit = 300 + minutes * 60 + 900  # start-up, the run, then 15 minutes to stop
    samples: list[dict[str, Any]] = []
    timed_out = False
    jcmd_s: list[float] = []
    below_jvm: Counter[str] = Counter()  # command names of the processes below the JVM, per sample
    n = 0
    while proc.poll() is None:
        t = time.monotonic() - start
        if t > hard_limit:
            timed_out = True
            print(f"the driver is still running after {hard_limit} s: SIGTERM", flush=True)
            terminate_group(proc)
            break
        before = time.monotonic()
        row = sample(proc.pid, n % HEAP_EVERY == 0, below_jvm)
        if "heap_used_mib" in row:
            jcmd_s.append(time.monotonic() - before)
        if proc.poll() is not None:
            break
        samples.append({"t_s": round(t, 1), **row})
        if n % 12 == 0:
            print(
                f"{t / 60:5.1f} min: total {row['total_mib']:.0f} MiB (driver {row['driver_mib']:.0f}, "
                f"JVM {row['jvm_mib']:.0f}, workers {row['workers_mib']:.0f} in {row['workers']})",
                flush=True,
            )
        n += 1
        time.sleep(max(0.0, start + n * INTERVAL_S - time.monotonic()))
    wall_s = time.monotonic() - start
    with contextlib.suppress(ProcessLookupError):  # anything left of the session (normally nothing)
        os.killpg(proc.pid, signal.SIGKILL)
    output.thread.join(timeout=30)

    started = output.queries_started()
    t0, t0_wall = started if started else (0.0, None)
    stop_t = t0 + minutes * 60
    stop_wall = t0_wall + minutes * 60 if t0_wall is not None else None
    second, last = (t0 + 60, t0 + 120), (stop_t - 60, stop_t)
    series: dict[str, Any] = {}
    for name in (*SERIES, "total_pss", "heap_used"):
        key = f"{name}_mib"
        values = [s[key] for s in samples if key in s]
        if not values:
            continue
        a, b = window_stats(samples, key, *second), window_stats(samples, key, *last)
        ratio = round(b / a, 3) if a and b is not None else None
        series[name] = {
            "second_minute_mean_mib": a,
            "last_minute_mean_mib": b,
            "ratio": ratio,
            "flat": ratio is not None and abs(ratio - 1) <= FLAT_WITHIN,
            "peak_mib": max(values),
        }

    per_minute = [
        {
            "minute": m + 1,
            **{
                f"{name}_mean_mib": window_stats(samples, f"{name}_mib", t0 + 60 * m, t0 + 60 * (m + 1))
                for name in ("total", "jvm", "heap_committed")
            },
        }
        for m in range(minutes)
    ]
    summary = read_summary(output, stop_wall)
    nominal = rates()
    archive_root = next(checkpoint.glob("*/archive"), None)
    archive: dict[str, Any] = {"bytes_on_disk": disk_bytes(archive_root) if archive_root else 0}
    for name, stream in summary["streams"].items():
        stream["bytes_on_disk"] = disk_bytes(Path(stream.pop("path")))
        if name in nominal:
            stream["rate_per_s"] = nominal[name]
            stream["seconds_of_input"] = round(stream["records"] / nominal[name], 1)
    archive["streams"] = summary["streams"]
    first_summary = next((i for i, (_, _, text) in enumerate(output.lines) if text.startswith("== ")), None)
    errors = read_errors(output)
    results = {
        "minutes": minutes,
        "command": " ".join(command[1:]).replace(str(checkpoint), "<tmp>/ck"),
        "interval_s": INTERVAL_S,
        "heap_every_s": INTERVAL_S * HEAP_EVERY if shutil.which("jcmd") else None,
        "jcmd_sample_s_mean": round(statistics.mean(jcmd_s), 2) if jcmd_s else None,
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "code": code,
        "returncode": proc.returncode,
        "timed_out": timed_out,
        "wall_s": round(wall_s, 1),
        "queries_started_s": round(t0, 1) if started else None,
        "stop_requested_s": round(stop_t, 1),
        "stop_took_s": round(wall_s - stop_t, 1),
        "windows_s": {"second_minute": second, "last_minute": last},
        "flat_within": FLAT_WITHIN,
        "flat": series.get("total", {}).get("flat", False),
        "series": series,
        "per_minute": per_minute,
        "below_jvm_commands": dict(below_jvm.most_common()),
        "archive": archive,
        "checkpoint_root_bytes": disk_bytes(checkpoint),
        "queries": summary["queries"],
        "lag": read_lag(output, t0),
        "error_lines": len(errors),
        "errors": errors[:20],
        "sparkkit_lines": [text for _, _, text in output.lines if text.startswith("[sparkkit]")][:50],
        "summary_lines": [text for _, _, text in output.lines[first_summary:]][:200]
        if first_summary is not None
        else [],
        "log_tail": [text for _, _, text in output.lines[-40:]],
        "log": str(log),
        "samples": samples,
    }
    if not keep:
        shutil.rmtree(checkpoint, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10, help="minutes of input (>= 2; default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the checkpoint and archive")
    args = parser.parse_args()
    if args.minutes < 2:
        parser.error("--minutes must be at least 2 (the second minute is the baseline)")
    results = measure(args.minutes, args.keep)
    for name, s in results["series"].items():
        print(
            f"{name}: minute 2 {s['second_minute_mean_mib']} MiB, last minute {s['last_minute_mean_mib']} "
            f"MiB, ratio {s['ratio']}, peak {s['peak_mib']} MiB, flat {s['flat']}"
        )
    print(f"returncode {results['returncode']}, {results['wall_s']} s, stop took {results['stop_took_s']} s")
    write_results("processor_memory", results)
    from benchmarks.report import plot_processor_memory

    plot_processor_memory(results)


if __name__ == "__main__":
    main()
