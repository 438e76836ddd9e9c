"""Ask a running job: `sparkkit run streams` in its own process, asked by real Spark Connect clients.

The job reads files written before it starts (seeded, so every answer is computed here in plain
Python): working storage, a sample, a stateful query's state, approximate distinct counts,
quantiles and heavy hitters with their bound columns, and per-window sketches merged by an
ad-hoc query. The endpoint's token must be refused when wrong or missing, and must appear in
nothing the job printed or wrote except ``endpoint.json``.
"""

from __future__ import annotations

import json
import math
import random
import stat
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from sparkkit.approx import hll_rse
from sparkkit.metrics import read_metrics
from tests.processes import ROOT, driver_env, start_driver, stop_gracefully, wait_until

BASE = datetime(2026, 3, 1, tzinfo=timezone.utc)
WINDOW_S = 10
WINDOWS = 8
SAMPLE = 200
WORKING = 500
LG_K = 12
ACCURACY = 200


def events() -> list[dict[str, Any]]:
    """Window w has users drawn from a pool of 40 * 3**(w % 4) users: small and large distinct counts."""
    rng = random.Random(20261125)
    records = []
    seq = 0
    for w in range(WINDOWS):
        pool = 40 * 3 ** (w % 4)
        for _ in range(1500):
            user = f"user-{rng.randrange(pool)}" if rng.random() > 0.2 else f"hot-{rng.randrange(3)}"
            second = w * WINDOW_S + rng.random() * WINDOW_S
            stamp = (BASE + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            records.append({"key": user, "seq": seq, "value": round(rng.expovariate(0.1), 3), "ts": stamp})
            seq += 1
    return records


RECORDS = events()


def window_of(record: dict[str, Any]) -> int:
    ts = datetime.strptime(record["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return int((ts - BASE).total_seconds() // WINDOW_S)


def pipeline_text(data: Path) -> str:
    window = f"window(ts, '{WINDOW_S} seconds')"
    return f"""
[pipeline]
name = "asked"
batch_interval = "300ms"

[streams.events]
source = "file://{data}?format=json"
schema = "key STRING, seq BIGINT, value DOUBLE, ts TIMESTAMP"
event_time = "ts"
watermark = "1h"
working = "{WORKING} rows"
sample = {SAMPLE}

[queries.per_key]
sql = "SELECT key, count(*) AS n FROM events GROUP BY key"
mode = "update"
output = "memory://per_key?keep=1"

[queries.users]
sql = "SELECT {window} AS window, count(DISTINCT key) AS users, count(*) AS n FROM events GROUP BY {window}"
mode = "update"
approx = true
lg_config_k = {LG_K}

[queries.amounts]
sql = '''SELECT {window} AS window, percentile_approx(value, 0.5, {ACCURACY}) AS median,
         approx_top_k(key, 3) AS top, count(*) AS n FROM events GROUP BY {window}'''
mode = "update"
approx = true

[queries.user_sketches]
sql = "SELECT {window} AS window, hll_sketch_agg(key, {LG_K}) AS users FROM events GROUP BY {window}"
mode = "update"
"""


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("adhoc")
    data = tmp / "events"
    data.mkdir()
    for part in range(4):
        lines = [json.dumps(r) for r in RECORDS[part::4]]
        staged = tmp / f".part-{part}.json"
        staged.write_text("\n".join(lines) + "\n")
        staged.rename(data / f"part-{part}.json")
    pipeline = tmp / "asked.toml"
    pipeline.write_text(pipeline_text(data))
    root = tmp / "state"
    log = tmp / "driver.log"
    proc = start_driver(["run", "streams", "--pipeline", str(pipeline), "--checkpoint", str(root)], log)
    state = root / "asked"

    def processed(query: str) -> int:
        path = state / "metrics.jsonl"
        records = read_metrics(path) if path.exists() else []
        return sum(r["input_rows"] or 0 for r in records if r["query"] == query)

    queries = ("per_key", "users", "amounts", "user_sketches", "events.sample", "events.working")
    try:
        wait_until(
            lambda: (state / "endpoint.json").exists() and all(processed(q) >= len(RECORDS) for q in queries),
            240,
            "every query to process every record",
            log,
        )
        yield {"proc": proc, "root": root, "state": state, "log": log, "tmp": tmp}
    finally:
        if proc.poll() is None:
            stop_gracefully(proc)


def query(root: Path, sql: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sparkkit", "query", "--checkpoint", str(root), *args, sql],
        capture_output=True,
        text=True,
        env=driver_env(),
        cwd=ROOT,
        timeout=120,
    )


def rows(root: Path, sql: str) -> list[dict[str, Any]]:
    answer = query(root, sql, "--json")
    assert answer.returncode == 0, answer.stderr
    return [json.loads(line) for line in answer.stdout.splitlines()]


def test_endpoint_is_published_for_the_owner_only(job: dict[str, Any]) -> None:
    path = job["state"] / "endpoint.json"
    endpoint = json.loads(path.read_text())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert endpoint["url"].startswith("sc://localhost:")
    assert len(endpoint["token"]) >= 32
    assert endpoint["pid"] == job["proc"].pid


def test_working_storage_and_state_answer_exactly(job: dict[str, Any]) -> None:
    assert rows(job["root"], "SELECT count(*) AS n FROM global_temp.events") == [{"n": WORKING}]
    exact = Counter(r["key"] for r in RECORDS)
    # the state views are made again on a thread of their own after each batch: the job may still
    # be making them from its last batch; ask until they show every record (or time runs out)
    deadline = time.monotonic() + 60
    state = rows(job["root"], "SELECT key, count FROM global_temp.per_key_state")
    while sum(r["count"] for r in state) < len(RECORDS) and time.monotonic() < deadline:
        state = rows(job["root"], "SELECT key, count FROM global_temp.per_key_state")
    assert {r["key"]: r["count"] for r in state} == dict(exact)
    assert len(state) == len(exact)


def test_query_prints_a_table(job: dict[str, Any]) -> None:
    answer = query(job["root"], "SELECT 'hot-1' AS key, 42 AS n")
    assert answer.returncode == 0, answer.stderr
    lines = answer.stdout.splitlines()
    assert lines[0].split() == ["key", "n"]
    assert any(line.split() == ["hot-1", "42"] for line in lines)
    assert lines[-1] == "(1 row)"


def test_sql_error_exits_1_with_sparks_reason(job: dict[str, Any]) -> None:
    answer = query(job["root"], "SELECT * FROM global_temp.no_such_view")
    assert answer.returncode == 1
    lines = answer.stderr.strip().splitlines()
    assert len(lines) == 1 and "TABLE_OR_VIEW_NOT_FOUND" in lines[0], answer.stderr


def test_no_running_job_exits_2(tmp_path: Path) -> None:
    answer = query(tmp_path, "SELECT 1")
    assert answer.returncode == 2
    assert answer.stderr.strip().splitlines() == [
        f"sparkkit: error: no running job under {tmp_path} (no {tmp_path}/*/endpoint.json)"
    ]


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_wrong_or_missing_token_is_refused(job: dict[str, Any], token: str) -> None:
    url = json.loads((job["state"] / "endpoint.json").read_text())["url"]
    remote = f"{url}/;token={token}" if token else url
    script = (
        "from pyspark.sql import SparkSession\n"
        f"spark = SparkSession.builder.remote({remote!r}).create()\n"
        "try:\n"
        "    spark.sql('SELECT 1').collect()\n"
        "    print('ANSWERED')\n"
        "except Exception as exc:\n"
        "    print('REFUSED', 'UNAUTHENTICATED' in str(exc))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=driver_env(), timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "REFUSED True", done.stdout + done.stderr


def exact_by_window() -> dict[int, list[dict[str, Any]]]:
    windows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for record in RECORDS:
        windows[window_of(record)].append(record)
    return windows


def start_of(row: dict[str, Any]) -> int:
    start = datetime.fromisoformat(row["window"]["start"]).replace(tzinfo=timezone.utc)
    return int((start - BASE).total_seconds() // WINDOW_S)


def windows_answered(job: dict[str, Any], sql: str) -> list[tuple[int, list[dict[str, Any]], dict[str, Any]]]:
    """(window, its records, the query's latest row for it) for every window; the query answers
    exactly the windows the records fall in."""
    exact = exact_by_window()
    latest = {start_of(r): r for r in rows(job["root"], sql)}
    assert sorted(latest) == sorted(exact)
    return [(w, records, latest[w]) for w, records in exact.items()]


def test_approximate_distinct_counts_lie_within_4_standard_errors(job: dict[str, Any]) -> None:
    for w, records, row in windows_answered(job, "SELECT window, users, users_rse, n FROM global_temp.users"):
        distinct = len({r["key"] for r in records})
        assert row["n"] == len(records)
        assert row["users_rse"] == pytest.approx(hll_rse(LG_K))
        error = (row["users"] - distinct) / distinct
        print(f"window {w}: {distinct} distinct, estimate {row['users']}, {error / hll_rse(LG_K):+.2f} rse")
        assert abs(row["users"] - distinct) <= 4 * row["users_rse"] * distinct, (w, row, distinct)


def test_quantiles_and_heavy_hitters_lie_within_their_bounds(job: dict[str, Any]) -> None:
    for w, records, row in windows_answered(job, "SELECT * FROM global_temp.amounts"):
        n = len(records)
        values = sorted(r["value"] for r in records)
        assert row["median_rank_error"] == pytest.approx(1 / ACCURACY)
        low = sum(v < row["median"] for v in values)
        high = sum(v <= row["median"] for v in values)
        slack = row["median_rank_error"] * n
        assert low - slack <= n * 0.5 <= high + slack, (w, row["median"], low, high)
        print(f"window {w}: median rank {low}..{high} of {n} (asked {n // 2}, bound ±{slack:.1f})")
        counts = Counter(r["key"] for r in records)
        for item in row["top"]:
            assert abs(item["count"] - counts[item["item"]]) <= row["top_max_error"], (w, item)
            print(f"window {w}: {item['item']} counted {item['count']}, exact {counts[item['item']]}")
        assert {i["item"] for i in row["top"]} == {k for k, _ in counts.most_common(3)}


def test_window_sketches_merge_into_any_range(job: dict[str, Any]) -> None:
    first, last = 2, 6  # windows [2, 6): 40 s
    start = (BASE + timedelta(seconds=first * WINDOW_S)).strftime("%Y-%m-%d %H:%M:%S")
    end = (BASE + timedelta(seconds=last * WINDOW_S)).strftime("%Y-%m-%d %H:%M:%S")
    sql = (
        "SELECT hll_sketch_estimate(hll_union_agg(users)) AS users FROM global_temp.user_sketches "
        f"WHERE window.start >= TIMESTAMP'{start}' AND window.end <= TIMESTAMP'{end}'"
    )
    [answer] = rows(job["root"], sql)
    distinct = len({r["key"] for r in RECORDS if first <= window_of(r) < last})
    print(f"windows {first}..{last - 1} merged: {distinct} distinct, estimate {answer['users']}")
    assert abs(answer["users"] - distinct) <= 4 * hll_rse(LG_K) * distinct, (answer, distinct)


def test_sample_is_uniform_and_states_its_error(job: dict[str, Any]) -> None:
    sample = rows(
        job["root"], "SELECT key, seq, sample_weight, fraction_error FROM global_temp.events_sample"
    )
    assert len(sample) == SAMPLE
    by_seq = {r["seq"]: r for r in RECORDS}
    assert all(by_seq[r["seq"]]["key"] == r["key"] for r in sample)
    assert len({r["seq"] for r in sample}) == SAMPLE
    n = len(RECORDS)
    error = 0.5 / math.sqrt(SAMPLE) * math.sqrt((n - SAMPLE) / (n - 1))
    assert [r["sample_weight"] for r in sample] == pytest.approx([n / SAMPLE] * SAMPLE)
    assert [r["fraction_error"] for r in sample] == pytest.approx([error] * SAMPLE)
    hot = sum(r["key"].startswith("hot-") for r in RECORDS) / n
    hot_in_sample = sum(r["key"].startswith("hot-") for r in sample) / SAMPLE
    print(f"sample: hot fraction {hot_in_sample:.3f}, exact {hot:.3f}, fraction_error {error:.4f}")
    assert abs(hot_in_sample - hot) <= 4 * error


def test_status_shows_every_query_while_running(job: dict[str, Any]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sparkkit", "status", "--checkpoint", str(job["root"])],
        capture_output=True,
        text=True,
        env=driver_env(),
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for name in ("per_key", "users", "amounts", "user_sketches", "events.archive", "events.sample"):
        assert name in done.stdout
    assert "running" in done.stdout and "not running" not in done.stdout


def test_zz_stop_removes_the_endpoint_and_the_token_is_nowhere(job: dict[str, Any]) -> None:
    token = json.loads((job["state"] / "endpoint.json").read_text())["token"]
    assert stop_gracefully(job["proc"]) == 0
    assert not (job["state"] / "endpoint.json").exists()
    answer = query(job["root"], "SELECT 1")
    assert answer.returncode == 2 and "no running job" in answer.stderr
    leaks = [
        str(path) for path in job["tmp"].rglob("*") if path.is_file() and token.encode() in path.read_bytes()
    ]
    assert leaks == []
    assert "per_key" in job["log"].read_text()
