"""Memory of the stream processor with an exact against an approximate distinct count.

Two runs of ``sparkkit run streams --duration Nm``, one after the other on the same machine,
each in its own process session, each over conf/jobs/streams.toml plus one standing query,
``distinct_users``: distinct users per 1-minute window over clicks, written to ``json://``. The
clicks stream's user space is widened (``keys=200000`` by default, ``--keys``; same rate,
``--rate``) in both, so that an exact distinct count has state worth measuring:

- ``exact``: Structured Streaming refuses ``count(DISTINCT key)``, so the query is a two-level
  aggregation, (window, key) pairs first, then ``count(*)`` per window; its state holds every
  user of every open window (append mode: both aggregations need the watermark on ts);
- ``approx``: ``approx = true`` and ``count(DISTINCT key) AS users``, which sparkkit rewrites to
  an HLL sketch (``hll_sketch_agg(key, 12)``) and a bound column ``users_rse``; its state holds
  one sketch per open window.

Every 5 s the process tree's resident memory, sampled as benchmarks/processor_memory.py does
(its functions, imported). From each run's ROOT/shop/metrics.jsonl: the extra query's state rows
and state memory at each batch. At the end: the windows the extra query emitted (its final
answers) against the true number of distinct users in each window, counted from the clicks
archive (the records the queries read) and from the generator's formula (a check). The approx
run's metrics.jsonl is copied to benchmarks/results/run-metrics.jsonl for
benchmarks/run_picture.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import tomllib

from benchmarks.common import RESULTS, write_results
from benchmarks.processor_memory import (
    HEAP_EVERY,
    INTERVAL_S,
    Output,
    code_state,
    disk_bytes,
    read_errors,
    read_lag,
    read_summary,
    sample,
    window_stats,
)
from sparkkit.metrics import read_metrics
from sparkkit.sources.generator import generator_key

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = ROOT / "conf" / "jobs" / "streams.toml"
QUERY = "distinct_users"
STREAM = "clicks"
VARIANTS = ("exact", "approx")
WINDOW_MS = 60_000
RUN_METRICS = RESULTS / "run-metrics.jsonl"
PER_MS = {"ms": 1, "us": 1000, "ns": 1_000_000}

EXACT_SQL = """
SELECT window, count(*) AS users
FROM (SELECT window(ts, '1 minute') AS window, key FROM clicks GROUP BY window(ts, '1 minute'), key)
GROUP BY window
"""
APPROX_SQL = """
SELECT window(ts, '1 minute') AS window, count(DISTINCT key) AS users
FROM clicks GROUP BY window(ts, '1 minute')
"""


# --- the pipeline files --------------------------------------------------------------------------


def widened_source(source: str, keys: int, rate: int | None) -> str:
    """The clicks source address with ``keys`` (and ``rate``, when given) replaced."""
    parts = urlsplit(source)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    query["keys"] = str(keys)
    if rate is not None:
        query["rate"] = str(rate)
    return urlunsplit(parts._replace(query=urlencode(query, safe="/")))


def pipeline_text(variant: str, keys: int, rate: int | None, out: Path) -> tuple[str, dict[str, Any]]:
    """conf/jobs/streams.toml with the clicks source widened and the extra query appended."""
    text = PIPELINE.read_text()
    source = tomllib.loads(text)["streams"][STREAM]["source"]
    line = f'source = "{source}"'
    if text.count(line) != 1:
        raise SystemExit(f"{PIPELINE}: expected the line {line!r} once")
    wide = widened_source(source, keys, rate)
    text = text.replace(line, f'source = "{wide}"')
    sql = EXACT_SQL if variant == "exact" else APPROX_SQL
    text += (
        f"\n# Added by benchmarks/approx_memory.py ({variant}): distinct users per 1-minute window.\n"
        f"[queries.{QUERY}]\n"
        f'sql = """{sql}"""\n'
        f'output = "json://{out}"\n' + ("approx = true\n" if variant == "approx" else "")
    )
    parsed = tomllib.loads(text)
    return text, {
        "clicks_source": wide,
        "sql": " ".join(sql.split()),
        "approx": variant == "approx",
        "streams": {name: spec.get("source") for name, spec in parsed["streams"].items()},
        "queries": {name: bool(spec.get("approx")) for name, spec in parsed["queries"].items()},
    }


# --- what the run left -------------------------------------------------------------------------


def epoch_s(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def state_curve(records: list[dict[str, Any]], start_wall: float) -> list[dict[str, Any]]:
    """The extra query's state after each batch, at seconds since the driver started."""
    curve = []
    for r in records:
        if r.get("query") != QUERY or r.get("time") is None:
            continue
        progress = r.get("progress") or {}
        duration = r.get("batch_duration_ms") or 0
        curve.append(
            {
                "t_s": round(epoch_s(r["time"]) + duration / 1000 - start_wall, 1),  # the batch's end
                "batch": r.get("batch"),
                "input_rows": r.get("input_rows"),
                "batch_duration_ms": r.get("batch_duration_ms"),
                "state_rows": r.get("state_rows"),
                "state_memory_bytes": r.get("state_memory_bytes"),
                "operators": [
                    [op.get("numRowsTotal"), op.get("memoryUsedBytes")]
                    for op in progress.get("stateOperators") or []
                ],
            }
        )
    return curve


def final_state(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Each stateful query's state rows and memory in its last batch."""
    last: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.get("query") is not None and r.get("state_rows") is not None:
            last[r["query"]] = {"state_rows": r["state_rows"], "state_memory_bytes": r["state_memory_bytes"]}
    return last


def emitted_windows(out: Path) -> list[dict[str, Any]]:
    """The rows the extra query wrote (one per closed window, append mode), oldest first."""
    rows = []
    for path in sorted(out.glob("batch-*.json")):
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                rows.append(
                    {
                        "start": row["window"]["start"],
                        "end": row["window"]["end"],
                        "users": row["users"],
                        **({"rse": row["users_rse"]} if "users_rse" in row else {}),
                    }
                )
    return sorted(rows, key=lambda r: r["start"])


def archive_files(directory: Path) -> list[Path]:
    """The Parquet files the file sink's log (_spark_metadata) lists as added and not deleted."""
    log = directory / "_spark_metadata"
    if not log.is_dir():
        return []
    entries = sorted(log.iterdir(), key=lambda p: int(p.name.split(".")[0]) if p.name[0].isdigit() else -1)
    files: dict[str, bool] = {}
    for entry in entries:
        if not entry.name[0].isdigit():
            continue
        for line in entry.read_text().splitlines()[1:]:  # the first line is the version, "v1"
            with contextlib.suppress(ValueError):
                item = json.loads(line)
                files[item["path"]] = item.get("action") == "add"
    return [Path(urlsplit(path).path) for path, added in files.items() if added]


def archive_users(directory: Path) -> dict[int, set[str]]:
    """The distinct keys of the archived clicks per 1-minute window (start, epoch ms)."""
    import pyarrow.parquet as pq

    users: dict[int, set[str]] = {}
    for path in archive_files(directory):
        table = pq.read_table(path, columns=["key", "ts"])
        ts = table.column("ts")
        per_ms = PER_MS[ts.type.unit]  # Spark's INT96 timestamps read as ns, others as us or ms
        for key, stamp in zip(table.column("key").to_pylist(), ts.cast("int64").to_pylist(), strict=True):
            ms = stamp // per_ms
            users.setdefault(ms - ms % WINDOW_MS, set()).add(key)
    return users


def formula_users(start_ms: int, origin_ms: int, rate: int, seed: int, keys: int) -> int:
    """Distinct keys of the generator's records i with due time ts_i in [start, start + 1 min)."""

    def first_at(ms: int) -> int:  # smallest i with origin + (i * 1000) // rate >= ms
        return max(0, -(-(ms - origin_ms) * rate // 1000))

    records = range(first_at(start_ms), first_at(start_ms + WINDOW_MS))
    return len({generator_key(i, seed, keys) for i in records})


def answers(out: Path, checkpoint: Path, source: str) -> list[dict[str, Any]]:
    """Each emitted window: the query's answer, the truth from the archive and from the formula."""
    params = {name: values[0] for name, values in parse_qs(urlsplit(source).query).items()}
    rate, seed, keys = int(params["rate"]), int(params["seed"]), int(params["keys"])
    origin_file = next(checkpoint.glob(f"*/{STREAM}.archive/**/origin.json"), None)  # the ingest's source
    origin = int(json.loads(origin_file.read_text())["origin_ms"]) if origin_file else None
    archived = archive_users(checkpoint / "shop" / "archive" / STREAM)
    found = []
    for row in emitted_windows(out):
        start_ms = round(epoch_s(row["start"]) * 1000)
        truth = len(archived.get(start_ms, ()))
        row["true_users"] = truth
        if origin is not None:
            row["formula_users"] = formula_users(start_ms, origin, rate, seed, keys)
            row["partial"] = start_ms < origin  # the run began inside this window
        row["error"] = row["users"] - truth
        row["relative_error"] = round(row["error"] / truth, 5) if truth else None
        if "rse" in row and truth:
            row["errors_in_rse"] = round(row["relative_error"] / row["rse"], 2)
        found.append(row)
    return found


# --- one run -------------------------------------------------------------------------------------


def run_variant(variant: str, minutes: int, keys: int, rate: int | None, keep: bool) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"sparkkit-bench-approx-{variant}-"))
    checkpoint, log, out = workdir / "ck", workdir / "driver.log", workdir / "out" / QUERY
    pipeline_file = workdir / "streams.toml"
    text, pipeline = pipeline_text(variant, keys, rate, out)
    pipeline_file.write_text(text)
    command = [
        sys.executable, "-m", "sparkkit.cli", "run", "streams", "--pipeline", str(pipeline_file),
        "--checkpoint", str(checkpoint), "--duration", f"{minutes}m", "--show", "0",
    ]  # fmt: skip
    env = dict(os.environ)
    env.update(
        PYSPARK_PYTHON=sys.executable,
        PYSPARK_DRIVER_PYTHON=sys.executable,
        SPARKKIT_CONF_DIR=str(ROOT / "conf"),
        PYTHONUNBUFFERED="1",
    )
    load_at_start = os.getloadavg()
    print(f"== {variant}: driver log {log}", flush=True)
    start, start_wall = time.monotonic(), time.time()
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True
    )
    output = Output(proc, log, start)
    hard_limit = 300 + minutes * 60 + 900
    samples: list[dict[str, Any]] = []
    below_jvm: Counter[str] = Counter()
    timed_out, n = False, 0
    while proc.poll() is None:
        t = time.monotonic() - start
        if t > hard_limit:
            timed_out = True
            print(f"the driver is still running after {hard_limit} s: SIGTERM", flush=True)
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            break
        row = sample(proc.pid, n % HEAP_EVERY == 0, below_jvm)
        if proc.poll() is not None:
            break
        samples.append({"t_s": round(t, 1), **row})
        if n % 12 == 0:
            print(f"{t / 60:5.1f} min: total {row['total_mib']:.0f} MiB", flush=True)
        n += 1
        time.sleep(max(0.0, start + n * INTERVAL_S - time.monotonic()))
    wall_s = time.monotonic() - start
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    output.thread.join(timeout=30)

    started = output.queries_started()
    t0, t0_wall = started if started else (0.0, None)
    stop_t = t0 + minutes * 60
    last = (stop_t - 60, stop_t)
    totals = [s["total_mib"] for s in samples]
    metrics_file = checkpoint / "shop" / "metrics.jsonl"
    records = read_metrics(metrics_file) if metrics_file.exists() else []
    curve = state_curve(records, start_wall)
    end = next((c for c in reversed(curve) if c["state_rows"] is not None), None)
    summary = read_summary(output, t0_wall + minutes * 60 if t0_wall is not None else None)
    errors = read_errors(output)
    results: dict[str, Any] = {
        "variant": variant,
        "pipeline": pipeline,
        "command": " ".join(command[1:]).replace(str(workdir), "<tmp>"),
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "returncode": proc.returncode,
        "timed_out": timed_out,
        "wall_s": round(wall_s, 1),
        "queries_started_s": round(t0, 1) if started else None,
        "stop_requested_s": round(stop_t, 1),
        "stop_took_s": round(wall_s - stop_t, 1),
        "last_minute_s": last,
        "rss": {
            "peak_mib": max(totals) if totals else None,
            "last_minute_mean_mib": window_stats(samples, "total_mib", *last),
            "last_minute_jvm_mean_mib": window_stats(samples, "jvm_mib", *last),
            "last_minute_pss_mean_mib": window_stats(samples, "total_pss_mib", *last),
            "peak_jvm_mib": max((s["jvm_mib"] for s in samples), default=None),
        },
        "state_at_end": end,
        "state_peak": {
            "state_rows": max((c["state_rows"] or 0 for c in curve), default=None),
            "state_memory_bytes": max((c["state_memory_bytes"] or 0 for c in curve), default=None),
        },
        "state_at_end_all_queries": final_state(records),
        "windows": answers(out, checkpoint, pipeline["clicks_source"]) if out.exists() else [],
        "queries": summary["queries"],
        "streams": summary["streams"],
        "lag": read_lag(output, t0),
        "error_lines": len(errors),
        "errors": errors[:20],
        "metrics_records": len(records),
        "checkpoint_root_bytes": disk_bytes(checkpoint),
        "log_tail": [text for _, _, text in output.lines[-30:]],
        "log": str(log),
        "samples": samples,
        "state_curve": curve,
    }
    if variant == "approx" and metrics_file.exists():
        RESULTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(metrics_file, RUN_METRICS)
        print(f"copied {metrics_file} to {RUN_METRICS}")
    if not keep:
        shutil.rmtree(checkpoint, ignore_errors=True)
    return results


def ratios(variants: dict[str, Any]) -> dict[str, float | None]:
    exact, approx = variants.get("exact"), variants.get("approx")
    if not exact or not approx:
        return {}

    def over(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a is not None and b else None

    end_e, end_a = exact.get("state_at_end") or {}, approx.get("state_at_end") or {}
    return {
        "peak_rss": over(exact["rss"]["peak_mib"], approx["rss"]["peak_mib"]),
        "last_minute_rss": over(exact["rss"]["last_minute_mean_mib"], approx["rss"]["last_minute_mean_mib"]),
        "state_rows_at_end": over(end_e.get("state_rows"), end_a.get("state_rows")),
        "state_rows_peak": over(exact["state_peak"]["state_rows"], approx["state_peak"]["state_rows"]),
        "state_memory_at_end": over(end_e.get("state_memory_bytes"), end_a.get("state_memory_bytes")),
        "state_memory_peak": over(
            exact["state_peak"]["state_memory_bytes"], approx["state_peak"]["state_memory_bytes"]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=4, help="minutes each variant runs (default 4)")
    parser.add_argument("--keys", type=int, default=200_000, help="clicks' users (default 200000)")
    parser.add_argument("--rate", type=int, default=None, help="clicks per second (default: the pipeline's)")
    parser.add_argument("--keep", action="store_true", help="keep the checkpoints and archives")
    args = parser.parse_args()
    if args.minutes < 1:
        parser.error("--minutes must be at least 1")
    code = code_state()
    variants = {}
    for variant in VARIANTS:
        variants[variant] = run_variant(variant, args.minutes, args.keys, args.rate, args.keep)
        v = variants[variant]
        end = v["state_at_end"] or {}
        print(
            f"{variant}: peak RSS {v['rss']['peak_mib']} MiB, "
            f"last minute {v['rss']['last_minute_mean_mib']} MiB; "
            f"state at the end {end.get('state_rows')} rows, {end.get('state_memory_bytes')} bytes; "
            f"returncode {v['returncode']}, {v['error_lines']} error lines",
            flush=True,
        )
        for w in v["windows"]:
            print(f"   {w['start']}: {w['users']} users (true {w['true_users']}, rse {w.get('rse')})")
    results = {
        "minutes": args.minutes,
        "keys": args.keys,
        "rate": args.rate,
        "query": QUERY,
        "interval_s": INTERVAL_S,
        "code": code,
        "ratios": ratios(variants),
        "variants": variants,
    }
    print(f"exact over approx: {results['ratios']}")
    write_results("approx_memory", results)
    from benchmarks.report import plot_approx_memory

    plot_approx_memory(results)


if __name__ == "__main__":
    main()
