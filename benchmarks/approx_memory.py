"""Memory of the stream processor with an exact against an approximate distinct count.

Two runs of ``sparkkit run streams --duration Nm`` (5 by default, ``--minutes``), one after the
other on the same machine, each in its own process session, each over conf/jobs/streams.toml plus
one standing query, ``distinct_users``: distinct users per 10-minute window (``--window-minutes``)
over clicks, in update mode, written to ``json://``. The window is placed so that it opens as the
driver is launched (``window(ts, W, W, startTime)``, startTime the launch second modulo W) and
stays open for the whole run: the exact state keeps every distinct user seen. The clicks stream's
user space and rate are raised in both runs (``keys=5000000``, ``--keys``; ``rate=3000``,
``--rate``), so that nearly every click is a new user and the exact state grows large. 3000/s is
the highest of 1500, 3000, 4500 and 6000 (2-minute runs of the exact variant) at which the clicks
ingest kept pace on the 2-core development machine beside the rest of the default pipeline: its
batches took a median 2.2 s against their 2 s trigger and every due click was archived; at 4500
and 6000 its batches ran well over the trigger (medians 2.5 and 2.9 s, p90 4.2 and 4.8 s) and
every standing query slowed:

- ``exact``: Structured Streaming refuses ``count(DISTINCT key)``, so the query is a two-level
  aggregation, (window, key) pairs first, then ``count(*)`` per window; its state holds every
  user of the open window. Spark allows two aggregations in append mode only, so this run's
  query is in append mode (its window does not close within the run: it writes no rows; it is
  here for its state);
- ``approx``: ``approx = true`` and ``count(DISTINCT key) AS users``, which sparkkit rewrites to
  an HLL sketch (``hll_sketch_agg(key, 12)``) and a bound column ``users_rse``; its state holds
  one sketch per open window. Update mode: every batch writes the open window's current estimate.

Every 5 s the process tree's resident memory, sampled as benchmarks/processor_memory.py does
(its functions, imported). From each run's ROOT/shop/metrics.jsonl: the extra query's state rows
and state memory at each batch, and the clicks ingest's batch times (does it keep pace?). The
approx query's estimate at each batch (its ``json://`` output) is checked against the exact
number of distinct users in the window among the records that batch had read: the clicks
archive files that the query's file source log (its checkpoint's ``sources/0``) lists for that
batch and the ones before, read with pyarrow; and at the last batch against the generator's
formula too. The approx run's metrics.jsonl is copied to benchmarks/results/run-metrics.jsonl
for benchmarks/run_picture.py (without each line's ``progress`` when the copy would pass 2 MB).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import tomllib

from benchmarks.common import RESULTS, percentile, terminate_group, write_results
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
MODES = {"exact": "append", "approx": "update"}  # Spark: two aggregations in append mode only
MINUTES = 5
WINDOW_MINUTES = 10
KEYS = 5_000_000
RATE = 3000
GOAL_RSE = 4  # the last estimate within this many rse of the exact count
RUN_METRICS = RESULTS / "run-metrics.jsonl"
RUN_METRICS_MAX_BYTES = 2_000_000
PER_MS = {"ms": 1, "us": 1000, "ns": 1_000_000}
BATCH_FILE = re.compile(r"-id-(\d+)\.json$")

EXACT_SQL = """
SELECT window, count(*) AS users
FROM (SELECT {window} AS window, key FROM clicks GROUP BY {window}, key)
GROUP BY window
"""
APPROX_SQL = """
SELECT {window} AS window, count(DISTINCT key) AS users
FROM clicks GROUP BY {window}
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


def window_expression(start_s: int, minutes: int) -> str:
    """``window(ts, ...)``: tumbling windows of ``minutes``, one of them starting at ``start_s`` (epoch s)."""
    offset = start_s % (minutes * 60)
    return f"window(ts, '{minutes} minutes', '{minutes} minutes', '{offset} seconds')"


def pipeline_text(
    variant: str, keys: int, rate: int | None, out: Path, start_s: int, window_minutes: int
) -> tuple[str, dict[str, Any]]:
    """conf/jobs/streams.toml with the clicks source widened and the extra query appended."""
    text = PIPELINE.read_text()
    source = tomllib.loads(text)["streams"][STREAM]["source"]
    line = f'source = "{source}"'
    if text.count(line) != 1:
        raise SystemExit(f"{PIPELINE}: expected the line {line!r} once")
    wide = widened_source(source, keys, rate)
    text = text.replace(line, f'source = "{wide}"')
    window = window_expression(start_s, window_minutes)
    sql = (EXACT_SQL if variant == "exact" else APPROX_SQL).format(window=window)
    text += (
        f"\n# Added by benchmarks/approx_memory.py ({variant}): distinct users per {window_minutes}-minute"
        " window, the window open for the whole run.\n"
        f"[queries.{QUERY}]\n"
        f'sql = """{sql}"""\n'
        f'output = "json://{out}"\n'
        f'mode = "{MODES[variant]}"\n' + ("approx = true\n" if variant == "approx" else "")
    )
    parsed = tomllib.loads(text)
    return text, {
        "clicks_source": wide,
        "sql": " ".join(sql.split()),
        "mode": MODES[variant],
        "approx": variant == "approx",
        "window_start": iso(start_s * 1000),
        "window_end": iso((start_s + window_minutes * 60) * 1000),
        "streams": {name: spec.get("source") for name, spec in parsed["streams"].items()},
        "queries": {name: bool(spec.get("approx")) for name, spec in parsed["queries"].items()},
    }


# --- what the run left -------------------------------------------------------------------------


def epoch_s(iso_time: str) -> float:
    return datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp()


def iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


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
                "sst_bytes": sst_bytes(progress),
                "operators": [
                    [op.get("numRowsTotal"), op.get("memoryUsedBytes")]
                    for op in progress.get("stateOperators") or []
                ],
            }
        )
    return curve


def sst_bytes(progress: dict[str, Any]) -> int | None:
    """The size of the RocksDB files of a batch's state operators (``rocksdbSstFileSize``): state on disk."""
    sizes = [
        op["customMetrics"]["rocksdbSstFileSize"]
        for op in progress.get("stateOperators") or []
        if "rocksdbSstFileSize" in (op.get("customMetrics") or {})
    ]
    return sum(sizes) if sizes else None


def final_state(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Each stateful query's state rows and memory in its last batch."""
    last: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.get("query") is not None and r.get("state_rows") is not None:
            last[r["query"]] = {"state_rows": r["state_rows"], "state_memory_bytes": r["state_memory_bytes"]}
    return last


def quantile(values: list[float], q: float) -> float | None:
    return percentile(values, q) if values else None


def ingest_pace(records: list[dict[str, Any]], interval_ms: int, rate: int) -> dict[str, Any]:
    """The clicks ingest's batches: their times against the trigger, the rate they archived at."""
    batches = [r for r in records if r.get("query") == f"{STREAM}.archive" and r.get("time") is not None]
    if len(batches) < 3:
        return {}
    first = epoch_s(batches[0]["time"])
    later = [b for b in batches if epoch_s(b["time"]) - first >= 60] or batches[1:]  # after the first minute
    durations = [b["batch_duration_ms"] for b in later if b.get("batch_duration_ms") is not None]
    span_s = (
        epoch_s(later[-1]["time"])
        + (later[-1].get("batch_duration_ms") or 0) / 1000
        - epoch_s(later[0]["time"])
    )
    rows = sum(b.get("input_rows") or 0 for b in later)
    half = len(durations) // 2
    return {
        "batches": len(batches),
        "batches_after_first_minute": len(later),
        "trigger_ms": interval_ms,
        "median_batch_ms": statistics.median(durations) if durations else None,
        "p90_batch_ms": quantile(durations, 0.9),
        "max_batch_ms": max(durations, default=None),
        "over_trigger": sum(d > interval_ms for d in durations),
        "first_half_median_batch_ms": statistics.median(durations[:half]) if half else None,
        "second_half_median_batch_ms": statistics.median(durations[half:]) if half else None,
        "rows_per_s": round(rows / span_s, 1) if span_s > 0 else None,
        "rate": rate,
    }


def emitted(out: Path) -> dict[int, list[dict[str, Any]]]:
    """The rows the extra query wrote, by batch id (update mode: the windows each batch changed)."""
    found: dict[int, list[dict[str, Any]]] = {}
    for path in out.glob("batch-*.json"):
        m = BATCH_FILE.search(path.name)
        if not m:
            continue
        rows = found.setdefault(int(m[1]), [])
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                rows.append(
                    {
                        "start": row["window"]["start"],
                        "users": row["users"],
                        **({"rse": row["users_rse"]} if "users_rse" in row else {}),
                    }
                )
    return found


def source_log(query_checkpoint: Path) -> dict[int, list[Path]]:
    """The archive files the query's file source read, by batch id (its log, compacted or not)."""
    log = query_checkpoint / "sources" / "0"
    first: dict[str, int] = {}
    if log.is_dir():
        for entry in log.iterdir():
            if not entry.name.split(".")[0].isdigit():
                continue
            for line in entry.read_text().splitlines()[1:]:  # the first line is the version, "v1"
                with contextlib.suppress(ValueError, KeyError):
                    item = json.loads(line)
                    path, batch = item["path"], int(item["batchId"])
                    first[path] = min(batch, first.get(path, batch))
    by_batch: dict[int, list[Path]] = {}
    for path, batch in first.items():
        by_batch.setdefault(batch, []).append(Path(urlsplit(path).path))
    return by_batch


def formula_users(first: int, last: int, seed: int, keys: int) -> int:
    """Distinct keys of the generator's records first .. last (inclusive)."""
    return len({generator_key(i, seed, keys) for i in range(first, last + 1)})


def true_counts(
    query_checkpoint: Path, window_start_ms: int, window_ms: int, batch_times: dict[int, float]
) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    """Per batch of the query: the distinct users in the window among the records read so far.

    Also how far the query's input was behind at each batch: the batch's end (epoch s, from
    ``batch_times``) less the newest event time read by then."""
    import pyarrow.parquet as pq

    users: set[str] = set()
    seqs: set[int] = set()
    outside = records = 0
    newest_ms: int | None = None
    counts: dict[int, dict[str, Any]] = {}
    for batch, files in sorted(source_log(query_checkpoint).items()):
        for path in files:
            table = pq.read_table(path, columns=["key", "seq", "ts"])
            ts = table.column("ts")
            per_ms = PER_MS[ts.type.unit]  # Spark's INT96 timestamps read as ns, others as us or ms
            stamps = [stamp // per_ms for stamp in ts.cast("int64").to_pylist()]
            for key, seq, ms in zip(
                table.column("key").to_pylist(), table.column("seq").to_pylist(), stamps, strict=True
            ):
                records += 1
                newest_ms = ms if newest_ms is None else max(newest_ms, ms)
                if window_start_ms <= ms < window_start_ms + window_ms:
                    users.add(key)
                    seqs.add(seq)
                else:
                    outside += 1
        behind = None
        if batch in batch_times and newest_ms is not None:
            behind = round(batch_times[batch] - newest_ms / 1000, 1)
        counts[batch] = {"true_users": len(users), "records": records, "behind_s": behind}
    facts = {
        "records_read": records,
        "records_outside_window": outside,
        "records_in_window": len(seqs),
        "first_seq": min(seqs, default=None),
        "last_seq": max(seqs, default=None),
    }
    return counts, facts


def estimates(
    out: Path,
    query_checkpoint: Path,
    source: str,
    window_start_ms: int,
    window_ms: int,
    times: dict[int, Any],
) -> dict[str, Any]:
    """Each batch's answer for the open window against the exact count at that batch."""
    params = {name: values[0] for name, values in parse_qs(urlsplit(source).query).items()}
    seed, keys = int(params["seed"]), int(params["keys"])
    batch_ends = {batch: t["end_wall"] for batch, t in times.items()}
    counts, facts = true_counts(query_checkpoint, window_start_ms, window_ms, batch_ends)
    rows = []
    other_windows = 0
    for batch, answers in sorted(emitted(out).items()):
        for answer in answers:
            if round(epoch_s(answer["start"]) * 1000) != window_start_ms:
                other_windows += 1
                continue
            truth = counts.get(batch, {}).get("true_users")
            row = {
                "batch": batch,
                "t_s": times.get(batch, {}).get("t_s"),
                "users": answer["users"],
                "true_users": truth,
            }
            if truth:
                row["error"] = answer["users"] - truth
                row["relative_error"] = round(row["error"] / truth, 5)
                if "rse" in answer:
                    row["rse"] = answer["rse"]
                    row["errors_in_rse"] = round(row["relative_error"] / answer["rse"], 2)
            rows.append(row)
    if facts["last_seq"] is not None:
        facts["seq_gaps"] = facts["last_seq"] - facts["first_seq"] + 1 - facts["records_in_window"]
        facts["formula_users"] = formula_users(facts["first_seq"], facts["last_seq"], seed, keys)
        facts["true_users_at_last_batch"] = counts[max(counts)]["true_users"] if counts else None
    behind = [c["behind_s"] for c in counts.values() if c["behind_s"] is not None]
    facts["query_behind_s"] = {
        "median": statistics.median(behind) if behind else None,
        "max": max(behind, default=None),
        "last": behind[-1] if behind else None,
    }
    facts["rows_for_other_windows"] = other_windows
    checked = [r for r in rows if "errors_in_rse" in r]
    last = rows[-1] if rows else None
    summary: dict[str, Any] = {"batches": len(rows), "last": last, "facts": facts}
    if checked:
        summary.update(
            within_1_rse=sum(abs(r["errors_in_rse"]) <= 1 for r in checked),
            within_2_rse=sum(abs(r["errors_in_rse"]) <= 2 for r in checked),
            within_goal=sum(abs(r["errors_in_rse"]) <= GOAL_RSE for r in checked),
            largest_errors_in_rse=max((r["errors_in_rse"] for r in checked), key=abs),
            below_truth=sum(r["error"] < 0 for r in checked),
            goal_met=bool(last and "errors_in_rse" in last and abs(last["errors_in_rse"]) <= GOAL_RSE),
        )
    elif rows:
        summary["all_exact"] = all(r.get("error") == 0 for r in rows)
    summary["rows"] = rows
    return summary


def per_minute(
    samples: list[dict[str, Any]], curve: list[dict[str, Any]], t0: float, minutes: int
) -> list[dict[str, Any]]:
    """For each minute since the queries started: mean total RSS, the extra query's state at its end."""
    found = []
    for m in range(1, minutes + 1):
        lo, hi = t0 + (m - 1) * 60, t0 + m * 60
        at = [c for c in curve if c["t_s"] < hi and c["state_rows"] is not None]
        found.append(
            {
                "minute": m,
                "total_mean_mib": window_stats(samples, "total_mib", lo, hi),
                "state_rows": at[-1]["state_rows"] if at else None,
                "state_memory_bytes": at[-1]["state_memory_bytes"] if at else None,
            }
        )
    return found


def copy_metrics(metrics_file: Path) -> dict[str, Any]:
    """The approx run's metrics.jsonl to benchmarks/results/, without ``progress`` when too large."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(metrics_file, RUN_METRICS)
    dropped = False
    if RUN_METRICS.stat().st_size > RUN_METRICS_MAX_BYTES:
        lines = []
        for line in metrics_file.read_text().splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                record.pop("progress", None)
                line = json.dumps(record)
            lines.append(line)
        RUN_METRICS.write_text("\n".join(lines) + "\n")
        dropped = True
    print(f"copied {metrics_file} to {RUN_METRICS}" + (" (without progress)" if dropped else ""))
    return {"bytes": RUN_METRICS.stat().st_size, "progress_dropped": dropped}


# --- one run -------------------------------------------------------------------------------------


def run_variant(
    variant: str, minutes: int, keys: int, rate: int, window_minutes: int, keep: bool
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"sparkkit-bench-approx-{variant}-"))
    checkpoint, log, out = workdir / "ck", workdir / "driver.log", workdir / "out" / QUERY
    pipeline_file = workdir / "streams.toml"
    window_start_s = int(time.time())  # the window opens as the driver is launched
    text, pipeline = pipeline_text(variant, keys, rate, out, window_start_s, window_minutes)
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
            terminate_group(proc)
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
    interval_ms = 2000
    with contextlib.suppress(KeyError, ValueError):
        interval_ms = int(tomllib.loads(text)["pipeline"]["batch_interval"].removesuffix("s")) * 1000
    times = {c["batch"]: {"t_s": c["t_s"], "end_wall": c["t_s"] + start_wall} for c in curve}
    window_ms = window_minutes * 60_000
    answers = (
        estimates(
            out,
            checkpoint / "shop" / QUERY,
            pipeline["clicks_source"],
            window_start_s * 1000,
            window_ms,
            times,
        )
        if (checkpoint / "shop" / QUERY).exists()
        else {}
    )
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
        "per_minute": per_minute(samples, curve, t0, minutes),
        "state_at_end": end,
        "state_peak": {
            "state_rows": max((c["state_rows"] or 0 for c in curve), default=None),
            "state_memory_bytes": max((c["state_memory_bytes"] or 0 for c in curve), default=None),
            "sst_bytes": max((c["sst_bytes"] or 0 for c in curve), default=None),
        },
        "state_at_end_all_queries": final_state(records),
        "ingest": ingest_pace(records, interval_ms, rate),
        "estimates": answers,
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
        results["run_metrics_copy"] = copy_metrics(metrics_file)
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
        "sst_at_end": over(end_e.get("sst_bytes"), end_a.get("sst_bytes")),
        "state_memory_peak": over(
            exact["state_peak"]["state_memory_bytes"], approx["state_peak"]["state_memory_bytes"]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes", type=int, default=MINUTES, help=f"minutes each variant runs (default {MINUTES})"
    )
    parser.add_argument("--keys", type=int, default=KEYS, help=f"clicks' users (default {KEYS})")
    parser.add_argument("--rate", type=int, default=RATE, help=f"clicks per second (default {RATE})")
    parser.add_argument(
        "--window-minutes",
        type=int,
        default=WINDOW_MINUTES,
        help=f"the query's window, open for the whole run (default {WINDOW_MINUTES})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the checkpoints and archives")
    args = parser.parse_args()
    if args.minutes < 1:
        parser.error("--minutes must be at least 1")
    if args.window_minutes < args.minutes + 3:
        parser.error("--window-minutes must be at least --minutes + 3 (start-up and stop), to stay open")
    code = code_state()
    variants = {}
    for variant in VARIANTS:
        variants[variant] = run_variant(
            variant, args.minutes, args.keys, args.rate, args.window_minutes, args.keep
        )
        v = variants[variant]
        end, ingest = v["state_at_end"] or {}, v["ingest"]
        print(
            f"{variant}: peak RSS {v['rss']['peak_mib']} MiB, "
            f"last minute {v['rss']['last_minute_mean_mib']} MiB; "
            f"state at the end {end.get('state_rows')} rows, {end.get('state_memory_bytes')} bytes; "
            f"clicks ingest median batch {ingest.get('median_batch_ms')} ms "
            f"(p90 {ingest.get('p90_batch_ms')}, {ingest.get('rows_per_s')} rows/s); "
            f"returncode {v['returncode']}, {v['error_lines']} error lines",
            flush=True,
        )
        last = (v["estimates"] or {}).get("last")
        if last:
            print(
                f"   last batch {last['batch']}: {last['users']} users (true {last['true_users']}, "
                f"{last.get('errors_in_rse')} rse); facts {v['estimates']['facts']}"
            )
    results = {
        "minutes": args.minutes,
        "keys": args.keys,
        "rate": args.rate,
        "window_minutes": args.window_minutes,
        "goal_rse": GOAL_RSE,
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
