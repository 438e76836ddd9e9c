"""The stream processor's driver killed with SIGKILL mid-stream: archive and every query exact.

The driver (``sparkkit run streams``) runs in its own process over JSON files; the test kills its
process group right after a file has been taken into the archive's ingest batch, restarts the
same command, feeds more files and a flush record, stops it with SIGTERM, and checks the archive
(every record once), a windowed count and a copy of the stream against the input. A restart
with a changed SQL is then refused, naming the query and its reset command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from tests.processes import driver_env, json_rows, kill_hard, start_driver, stop_gracefully, wait_until

pytestmark = pytest.mark.slow
BASE = datetime(2026, 1, 1, tzinfo=timezone.utc)

PIPELINE = """
[pipeline]
name = "shop"
batch_interval = "500ms"

[streams.clicks]
source = "file://{inbox}?format=json"
schema = "user STRING, page STRING, ts TIMESTAMP"
event_time = "ts"
watermark = "0s"

[queries.page_views]
sql = "SELECT window(ts, '2 seconds') AS window, page, count(*) AS views FROM clicks GROUP BY {group}"
output = "json://{out}/page_views"

[queries.copy]
sql = "SELECT user, page, ts FROM clicks"
output = "json://{out}/copy"
"""


def records(i: int) -> list[dict[str, Any]]:
    stamp = (BASE + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return [{"user": f"u{(i + n) % 3}", "page": f"p{n % 2}", "ts": stamp} for n in range(i + 2)]


def admitted(query_dir: Path, name: str) -> bool:
    """Has Spark's file source logged ``name`` in an offset of the ingest query?"""
    return any(name in p.read_text(errors="replace") for p in query_dir.glob("sources/*/*") if p.is_file())


def test_sigkill_then_restart_keeps_archive_and_queries_exact(spark: SparkSession, tmp_path: Path) -> None:
    inbox, staging, out, ck = (tmp_path / n for n in ("in", "staging", "out", "ck"))
    for d in (inbox, staging):
        d.mkdir()
    group = "window(ts, '2 seconds'), page"
    pipeline = tmp_path / "shop.toml"
    pipeline.write_text(PIPELINE.format(inbox=inbox, out=out, group=group))
    args = ["run", "streams", "--pipeline", str(pipeline), "--checkpoint", str(ck), "--show", "0"]
    log = tmp_path / "driver.log"
    fed: list[dict[str, Any]] = []

    def feed(i: int, batch: list[dict[str, Any]] | None = None) -> str:
        name = f"f{i:03d}.json"
        batch = batch if batch is not None else records(i)
        (staging / name).write_text("".join(json.dumps(r) + "\n" for r in batch))
        os.replace(staging / name, inbox / name)
        fed.extend(batch)
        return name

    def windows() -> Counter[tuple[str, str]]:
        return Counter(
            (r["window"]["start"], r["page"])
            for r in json_rows(out / "page_views")
            for _ in range(r["views"])
        )

    def expected_windows() -> Counter[tuple[str, str]]:
        def start(ts: str) -> str:
            moment = datetime.fromisoformat(ts.replace("Z", "+00:00"))
            floor = moment - timedelta(seconds=moment.second % 2)
            return floor.strftime("%Y-%m-%dT%H:%M:%S.000Z")

        return Counter((start(r["ts"]), r["page"]) for r in fed if r["user"] != "flush")

    def copied() -> Counter[tuple[str, str, str]]:
        return Counter((r["user"], r["page"], r["ts"]) for r in json_rows(out / "copy"))

    def exact() -> bool:
        return (
            copied() == Counter((r["user"], r["page"], r["ts"]) for r in fed)
            and windows() == expected_windows()
        )

    first = start_driver(args, log)
    for i in range(3):
        feed(i)
    wait_until(lambda: len(json_rows(out / "copy")) > 0, 180, "the first rows copied", log)
    name = feed(3)
    wait_until(lambda: admitted(ck / "shop" / "clicks.archive", name), 120, f"{name} to be admitted", log)
    kill_hard(first)  # its batches may be running, finished or not written: recovery must make it exact

    second = start_driver(args, log)
    for i in range(4, 7):
        feed(i)
    feed(99, [{"user": "flush", "page": "flush", "ts": "2026-01-01T01:00:00.000Z"}])  # closes the windows
    wait_until(exact, 180, "exact outputs", log)
    assert stop_gracefully(second) == 0, log.read_text()[-3000:]
    assert exact(), "a record was written twice after the outputs were exact"
    archive = spark.read.parquet(str(ck / "shop" / "archive" / "clicks"))
    archive = archive.withColumn("ts", F.date_format("ts", "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"))
    assert Counter(tuple(r) for r in archive.select("user", "page", "ts").collect()) == Counter(
        (r["user"], r["page"], r["ts"]) for r in fed
    )
    assert "== stream clicks: " in log.read_text()

    pipeline.write_text(PIPELINE.format(inbox=inbox, out=out, group=group.replace("page", "page, ts")))
    changed = subprocess.run(
        [sys.executable, "-m", "sparkkit.cli", *args],
        capture_output=True,
        text=True,
        env=driver_env(),
        timeout=60,
    )
    assert changed.returncode == 2, changed.stderr
    assert changed.stderr.startswith("sparkkit: error: query page_views: "), changed.stderr
    assert f"sparkkit checkpoint reset {ck / 'shop' / 'page_views'}" in changed.stderr
    assert "Traceback" not in changed.stderr
