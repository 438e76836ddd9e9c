"""A job's driver killed with SIGKILL mid-stream resumes from its checkpoint with exact results.

Each case runs the job in its own driver process (with its JVM) reading files and writing JSON
batches. The test drops files, kills the process group with SIGKILL right after a file has been
admitted into a batch (planned by the DStream file source, or logged by Spark's file source),
restarts the same command, drops more files and a final "flush" record (which closes windows and
sessions in event time), and checks each key's total in the output against the input: nothing
lost, nothing counted twice. A restart with a changed state-shaping option is then refused, and
`sparkkit checkpoint inspect` reports the checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sparkkit.metrics import METRICS_FILE, read_metrics
from sparkkit.supervisor import LISTENER_SECONDS
from tests.processes import (
    batch_interval,
    descendants,
    driver_env,
    ended_output,
    json_rows,
    kill_hard,
    start_driver,
    stop_gracefully,
    wait_until,
)

pytestmark = pytest.mark.slow
BASE = datetime(2026, 1, 1)


def sum_by(field: str) -> Callable[[list[dict[str, Any]]], Counter[str]]:
    def metric(rows: list[dict[str, Any]]) -> Counter[str]:
        totals: Counter[str] = Counter()
        for row in rows:
            totals[row[field]] += row["count"]
        return totals

    return metric


def max_by_key(rows: list[dict[str, Any]]) -> Counter[str]:
    """running_counts emits running totals: the largest per key is the final total."""
    totals: Counter[str] = Counter()
    for row in rows:
        totals[row["key"]] = max(totals[row["key"]], row["count"])
    return totals


@dataclass(frozen=True)
class Case:
    job: str
    api: str
    options: tuple[str, ...]
    metric: Callable[[list[dict[str, Any]]], Counter[str]]
    changed: tuple[str, str, str, str]  # flag, new value, old value as shown, new value as shown
    json_events: bool = True


CASES = [
    Case("wordcount", "dstream", (), sum_by("word"), ("--batch-interval", "6s", "3s", "6s"),
         json_events=False),
    Case("windowed_counts", "dstream", ("--window", "6s"), sum_by("key"), ("--window", "12s", "6s", "12s")),
    Case("running_counts", "dstream", (), max_by_key, ("--key", "other", "k", "other")),
    Case("sessions", "dstream", ("--gap", "1500ms"), sum_by("key"), ("--gap", "3s", "1500ms", "3s")),
    Case("windowed_counts", "structured", ("--window", "2s", "--event-time", "ts", "--watermark", "0s"),
         sum_by("key"), ("--window", "4s", "2s", "4s")),
    Case("running_counts", "structured", (), max_by_key, ("--key", "other", "k", "other")),
    Case("sessions", "structured", ("--gap", "1500ms", "--event-time", "ts", "--watermark", "0s"),
         sum_by("key"), ("--gap", "3s", "1500ms", "3s")),
]  # fmt: skip


def file_records(i: int) -> list[str]:
    return [f"k{i % 3} common", f"common w{i}"] * (i + 1)


def admitted(query_dir: Path, name: str) -> bool:
    """Has the job taken file ``name`` into a batch (sparkkit's DStream plan log, Spark's file log)?"""
    logs = [*query_dir.glob("sparkkit/sources/*/plans.jsonl"), *query_dir.glob("sources/*/*")]
    return any(name in p.read_text(errors="replace") for p in logs if p.is_file())


def status(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sparkkit.cli", "status", "--checkpoint", str(root)],
        capture_output=True, text=True, env=driver_env(), timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.job}-{c.api}")
def test_sigkill_then_restart_is_exact(tmp_path: Path, case: Case) -> None:
    watched, staging, out, ck = (tmp_path / n for n in ("in", "staging", "out", "ck"))
    for d in (watched, staging):
        d.mkdir()
    fmt = "json" if case.json_events else "text"
    args = ["run", case.job, "--api", case.api, "--source", f"file://{watched}?format={fmt}",
            "--sink", f"json://{out}", "--checkpoint", str(ck), "--batch-interval", batch_interval(case.api),
            "--duration", "0", *(("--key", "k") if case.json_events else ()), *case.options]  # fmt: skip
    query_dir = ck / case.job / "main"
    log = tmp_path / "driver.log"
    expected: Counter[str] = Counter()

    def feed(i: int, words: list[str] | None = None, when: datetime | None = None) -> str:
        lines = words if words is not None else file_records(i)
        stamp = (when or BASE + timedelta(seconds=i)).isoformat()
        if case.json_events:
            records = [json.dumps({"k": w, "ts": stamp}) for line in lines for w in line.split()]
        else:
            records = lines
        name = f"f{i:03d}.txt"
        (staging / name).write_text("".join(r + "\n" for r in records))
        os.replace(staging / name, watched / name)
        if words is None:
            expected.update(w for line in lines for w in line.split())
        return name

    def exact() -> bool:
        totals = case.metric(json_rows(out))
        totals.pop("flush", None)
        return totals == expected

    def admit(i: int) -> None:
        name = feed(i)
        wait_until(lambda: admitted(query_dir, name), 120, f"{name} to be admitted", log)

    first = start_driver(args, log)
    for i in range(4):
        admit(i)
    kill_hard(first)  # its batch may be running, finished or not written: recovery must make it exact

    second = start_driver(args, log)
    for i in range(4, 7):
        feed(i)
    feed(99, ["flush"], when=BASE + timedelta(hours=1))  # moves event time on: closes windows and sessions
    wait_until(exact, 180, f"exact totals {dict(expected)}", log)
    metrics = read_metrics(ck / case.job / METRICS_FILE)  # both runs' batches, one line each
    queries = {record["query"] for record in metrics}
    assert queries and {record["api"] for record in metrics} == {case.api}
    running = status(ck)
    assert running.returncode == 0 and "not running" not in running.stdout, running.stdout + running.stderr
    assert all(name in running.stdout for name in queries), running.stdout
    assert stop_gracefully(second) == 0, log.read_text()[-3000:]
    assert exact(), "a record was counted twice after the totals were reached"
    assert "not running (last batch at" in status(ck).stdout

    flag, value, old_shown, new_shown = case.changed
    changed = subprocess.run(
        [sys.executable, "-m", "sparkkit.cli", *args, flag, value],
        capture_output=True, text=True, env=driver_env(), timeout=60,
    )  # fmt: skip
    assert changed.returncode == 2, changed.stderr
    assert f"{flag}: checkpoint has '{old_shown}', this run has '{new_shown}'" in changed.stderr
    assert f"sparkkit checkpoint reset {query_dir}" in changed.stderr
    assert "Traceback" not in changed.stderr

    inspected = subprocess.run(
        [sys.executable, "-m", "sparkkit.cli", "checkpoint", "inspect", str(query_dir)],
        capture_output=True, text=True, env=driver_env(), timeout=60,
    )  # fmt: skip
    assert inspected.returncode == 0, inspected.stderr
    assert f"{case.job} (--api {case.api})" in inspected.stdout
    assert "last written batch: none" not in inspected.stdout


@pytest.mark.parametrize("api", ["dstream", "structured"])
def test_kafka_wordcount_sigkill_then_restart_is_exact(
    tmp_path: Path, kafka_bootstrap: str, api: str
) -> None:
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    topic = f"rec-{api}-{os.getpid()}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    expected: Counter[str] = Counter()

    def send(start: int, stop: int) -> None:
        for i in range(start, stop):
            line = f"k{i % 3} common"
            producer.send(topic, value=line.encode(), partition=i % 2)
            producer.flush()  # one record per request: exact latest offsets on tansu
            expected.update(line.split())

    out, ck, log = tmp_path / "out", tmp_path / "ck", tmp_path / "driver.log"
    source = f"kafka://{kafka_bootstrap}/{topic}?startingOffsets=earliest"
    args = ["run", "wordcount", "--api", api, "--source", source, "--sink", f"json://{out}",
            "--checkpoint", str(ck), "--batch-interval", batch_interval(api), "--duration", "0"]  # fmt: skip

    def exact() -> bool:
        return sum_by("word")(json_rows(out)) == expected

    first = start_driver(args, log)
    send(0, 20)
    wait_until(exact, 120, "the first records counted", log)
    send(20, 40)
    kill_hard(first)  # mid-stream: the new records may be planned, running or not seen yet
    second = start_driver(args, log)
    send(40, 60)
    wait_until(exact, 180, f"exact totals {dict(expected)}", log)
    assert stop_gracefully(second) == 0, log.read_text()[-3000:]
    producer.close()
    assert exact(), "a record was counted twice after the totals were reached"


def test_a_driver_jvm_that_exits_ends_the_run_in_one_line_then_restarts_exact(tmp_path: Path) -> None:
    """A SIGTERM to the whole process group (``timeout``, systemd, ``kill -- -PGID``) reaches the
    JVM too, which runs its shutdown hooks and exits while sparkkit stops the queries: sparkkit
    does not wait for listener events that cannot come, and never prints a traceback; it says in
    one line that the JVM went first (exit 1), or stops cleanly if it won the race (exit 0). A
    JVM that exits on its own (here: SIGTERM to it alone) ends the run with that line. The
    restart is exact."""
    watched, out, ck, log = tmp_path / "in", tmp_path / "out", tmp_path / "ck", tmp_path / "driver.log"
    watched.mkdir()
    args = ["run", "wordcount", "--source", f"file://{watched}", "--sink", f"json://{out}",
            "--checkpoint", str(ck), "--batch-interval", "1s", "--duration", "0"]  # fmt: skip
    expected: Counter[str] = Counter()
    said_exit = "sparkkit: error: the Spark driver JVM exited (exit code 143 after SIGTERM) before the"

    def feed(i: int) -> None:
        lines = file_records(i)
        (watched / f".f{i}.tmp").write_text("".join(line + "\n" for line in lines))
        os.replace(watched / f".f{i}.tmp", watched / f"f{i:03d}.txt")
        expected.update(w for line in lines for w in line.split())

    def exact() -> bool:
        return sum_by("word")(json_rows(out)) == expected

    def ended(driver: subprocess.Popen[bytes]) -> tuple[int, str]:
        try:  # LISTENER_SECONDS: had it waited for the listener's events, it would not be done yet
            code = driver.wait(timeout=LISTENER_SECONDS)
        finally:
            if driver.poll() is None:
                os.killpg(driver.pid, signal.SIGKILL)
        said = ended_output(log)
        assert "Traceback" not in said, said[-3000:]
        return code, said

    first = start_driver(args, log)
    feed(0)
    wait_until(exact, 120, "the first file counted", log)
    feed(1)
    os.killpg(first.pid, signal.SIGTERM)
    code, said = ended(first)
    assert code == 0 or (code == 1 and said_exit in said), said[-3000:]

    second = start_driver(args, log)
    wait_until(exact, 120, "the second file counted", log)
    (jvm,) = [pid for pid in descendants(second.pid) if b"java" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    os.kill(jvm, signal.SIGTERM)
    code, said = ended(second)
    assert code == 1 and said_exit in said, said[-3000:]

    third = start_driver(args, log)
    feed(2)
    wait_until(exact, 180, f"exact totals {dict(expected)}", log)
    assert stop_gracefully(third) == 0, log.read_text()[-3000:]
    assert exact(), "a record was counted twice after the totals were reached"
