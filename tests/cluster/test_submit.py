"""``sparkkit submit`` on a real standalone cluster (1 master, 2 workers): exact results, a lost worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sparkkit.cluster import LocalCluster
from sparkkit.testing import topic_with
from tests.processes import (
    ROOT,
    batch_interval,
    json_rows,
    json_word_totals,
    start_driver,
    stop_submitted,
    wait_until,
)

pytestmark = pytest.mark.slow
TIMEOUT = 240


def drop(directory: Path, name: str, lines: list[str]) -> None:
    """A file moved into ``directory`` whole, as file sources require."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{name}.tmp"
    tmp.write_text("".join(f"{line}\n" for line in lines))
    tmp.rename(directory / name)


def submit(cluster: LocalCluster, job: str, log: Path, *options: str) -> subprocess.Popen[bytes]:
    assert cluster.master_url is not None
    api = options[options.index("--api") + 1] if "--api" in options else "structured"  # every job's default
    return start_driver(
        ["submit", job, "--master", cluster.master_url, "--batch-interval", batch_interval(api), *options],
        log,
    )


def run_until(cluster: LocalCluster, job: str, tmp: Path, done: Any, *options: str) -> str:
    """Submit ``job``, wait until ``done()`` holds, stop it as a user would; the driver's log."""
    log = tmp / "submit.log"
    proc = submit(cluster, job, log, *options)
    try:
        wait_until(done, TIMEOUT, f"{job} on the cluster to produce the expected output", log)
    finally:
        code = stop_submitted(proc)
    text = log.read_text(errors="replace")
    assert code == 0, text[-3000:]
    return text


def sum_by(rows: list[dict[str, Any]], field: str) -> Counter[str]:
    totals: Counter[str] = Counter()
    for row in rows:
        totals[row[field]] += row["count"]
    return totals


@pytest.mark.parametrize("api", ["structured", "dstream"])
def test_wordcount_from_files(spark_cluster: LocalCluster, tmp_path: Path, api: str) -> None:
    lines = [f"w{i % 5} w{i % 3} all" for i in range(60)]
    for n in range(3):
        drop(tmp_path / "in", f"part-{n}.txt", lines[n * 20 : (n + 1) * 20])
    expected = Counter(w for line in lines for w in line.split())
    out = tmp_path / "out"
    log = run_until(
        spark_cluster, "wordcount", tmp_path, lambda: json_word_totals(out) == expected,
        "--api", api, "--source", f"file://{tmp_path / 'in'}", "--sink", f"json://{out}",
        "--checkpoint", str(tmp_path / "ck"),
    )  # fmt: skip
    assert json_word_totals(out) == expected  # and nothing more after the graceful stop
    assert "sparkkit-wordcount" in log or "[sparkkit] stopped wordcount" in log


@pytest.mark.parametrize("api", ["structured", "dstream"])
def test_wordcount_from_kafka(
    spark_cluster: LocalCluster, kafka_bootstrap: str, tmp_path: Path, api: str
) -> None:
    records = [f"k{i % 4} shared" for i in range(40)]
    topic = topic_with(kafka_bootstrap, records)
    expected = Counter(w for line in records for w in line.split())
    out = tmp_path / "out"
    run_until(
        spark_cluster, "wordcount", tmp_path, lambda: json_word_totals(out) == expected,
        "--api", api, "--source", f"kafka://{kafka_bootstrap}/{topic}?startingOffsets=earliest",
        "--sink", f"json://{out}", "--checkpoint", str(tmp_path / "ck"),
    )  # fmt: skip
    assert json_word_totals(out) == expected


BASE = datetime(2026, 1, 1)


def test_structured_windowed_counts_from_kafka(
    spark_cluster: LocalCluster, kafka_bootstrap: str, tmp_path: Path
) -> None:
    events = [
        json.dumps({"k": f"e{i % 2}", "ts": (BASE + timedelta(seconds=i)).isoformat()}) for i in range(20)
    ]
    closer = json.dumps({"k": "closer", "ts": (BASE + timedelta(hours=1)).isoformat()})
    topic = topic_with(kafka_bootstrap, [*events, closer])
    expected = {((BASE + timedelta(seconds=s)).isoformat(), f"e{k}"): 5 for s in (0, 10) for k in (0, 1)}
    out = tmp_path / "out"

    def windows() -> dict[tuple[str, str], int]:
        return {(r["window_start"][:19], r["key"]): r["count"] for r in json_rows(out)}

    run_until(
        spark_cluster, "windowed_counts", tmp_path, lambda: windows() == expected,
        "--source", f"kafka://{kafka_bootstrap}/{topic}?startingOffsets=earliest&format=json&schema=k%20STRING,%20ts%20TIMESTAMP",
        "--key", "k", "--event-time", "ts", "--window", "10s", "--watermark", "0s",
        "--sink", f"json://{out}", "--checkpoint", str(tmp_path / "ck"),
    )  # fmt: skip
    assert windows() == expected and len(json_rows(out)) == 4  # append mode: each window once


def test_dstream_windowed_counts_from_files(spark_cluster: LocalCluster, tmp_path: Path) -> None:
    lines = [f"d{i % 3}" for i in range(45)]
    for n in range(3):
        drop(tmp_path / "in", f"part-{n}.txt", lines[n * 15 : (n + 1) * 15])
    out = tmp_path / "out"
    expected = Counter(lines)  # tumbling windows: each record in exactly one window
    run_until(
        spark_cluster, "windowed_counts", tmp_path, lambda: sum_by(json_rows(out), "key") == expected,
        "--api", "dstream", "--window", "6s", "--source", f"file://{tmp_path / 'in'}?maxFilesPerTrigger=1",
        "--sink", f"json://{out}", "--checkpoint", str(tmp_path / "ck"),
    )  # fmt: skip
    assert sum_by(json_rows(out), "key") == expected


def test_a_worker_killed_mid_batch_loses_nothing(spark_cluster: LocalCluster, tmp_path: Path) -> None:
    """running_counts keeps state on the executors. SIGKILL one worker, and the executor it
    launched, while that executor runs tasks of a batch: the tasks rerun on the other executor,
    the state is restored from the checkpoint, and the totals are exact.

    The worker is frozen (SIGSTOP) before the batch's input arrives, so a task the driver starts
    on its executor (logged by Spark's TaskSetManager) cannot finish before the kill.
    """
    inbox, out, log, events = tmp_path / "in", tmp_path / "out", tmp_path / "submit.log", tmp_path / "events"
    events.mkdir()
    log4j = tmp_path / "log4j2.properties"  # sparkkit's quiet logging, plus task starts
    log4j.write_text(
        (ROOT / "conf" / "log4j2.properties").read_text()
        + "\nlogger.tasks.name = org.apache.spark.scheduler.TaskSetManager\nlogger.tasks.level = info\n"
    )
    first = [f"s{i % 4}" for i in range(40)]
    big = [[f"s{i % 4}" for i in range(1_000_000)] for _ in range(3)]
    proc = submit(
        spark_cluster, "running_counts", log, "--conf", "spark.eventLog.enabled=true",
        "--conf", f"spark.eventLog.dir=file://{events}", "--conf", "spark.eventLog.compress=false",
        "--conf", "spark.eventLog.rolling.enabled=false",
        "--conf", f"spark.driver.extraJavaOptions=-Dlog4j2.configurationFile=file:{log4j}",
        "--source", f"file://{inbox}", "--sink", f"json://{out}", "--checkpoint", str(tmp_path / "ck"),
    )  # fmt: skip

    def latest() -> dict[str, int]:
        rows = sorted(json_rows(out), key=lambda r: (r["batch_time"], r["count"]))
        return {r["key"]: r["count"] for r in rows}

    victim = spark_cluster.workers()[1]
    try:
        drop(inbox, "part-0.txt", first)
        wait_until(
            lambda: latest() == {f"s{k}": 10 for k in range(4)}, TIMEOUT, "the first file counted", log
        )
        apps = sorted(victim.log_file.with_suffix("").glob("app-*"))  # the worker's work dir: app/executor id
        executor = sorted(p.name for p in apps[-1].iterdir())[0]
        assert victim.pid is not None
        os.killpg(victim.pid, signal.SIGSTOP)  # the worker, its executor and their Python workers
        started_before = log.read_text(errors="replace").count(f"executor {executor}, partition")
        for n, lines in enumerate(big, 1):
            drop(inbox, f"part-{n}.txt", lines)
        wait_until(
            lambda: log.read_text(errors="replace").count(f"executor {executor}, partition") > started_before,
            TIMEOUT, f"a task started on the frozen executor {executor}", log,
        )  # fmt: skip
        os.killpg(victim.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        expected = {f"s{k}": 10 + 750_000 for k in range(4)}
        wait_until(lambda: latest() == expected, TIMEOUT, "every file counted after the worker died", log)
        recovered_s = time.monotonic() - killed_at
    finally:
        code = stop_submitted(proc)
        spark_cluster.up(workers=2, cores=1, memory="1g")  # bring the lost worker back for later tests
    text = log.read_text(errors="replace")
    assert code == 0, text[-3000:]
    assert latest() == expected
    assert f"Lost executor {executor}" in text, text[-3000:]
    failures = failed_tasks(events)
    # Tasks running on the killed executor fail (ExecutorLostFailure), or those reading its
    # shuffle output do (FetchFailed) and the lost map outputs are recomputed: either way retried.
    assert {"ExecutorLostFailure", "FetchFailed"} & set(failures), (
        f"no task failed and was retried: {failures}"
    )
    print(
        f"worker loss: executor {executor} lost; task failures retried: {dict(Counter(failures))}; "
        f"every file counted {recovered_s:.1f} s after the kill"
    )


def failed_tasks(event_dir: Path) -> list[str]:
    """The end reasons of the tasks that did not succeed, from Spark's event log."""
    reasons = []
    for path in event_dir.glob("app-*"):
        for line in path.read_text(errors="replace").splitlines():
            event = json.loads(line)
            if event.get("Event") == "SparkListenerTaskEnd":
                reason = event["Task End Reason"]["Reason"]
                if reason != "Success":
                    reasons.append(reason)
    return reasons
