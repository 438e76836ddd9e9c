"""A graceful stop drains: no batch is interrupted, wherever the stop lands.

A Structured query whose batches take a while (a UDF works a fixed time per record) is stopped
again and again, at points chosen relative to its batches: right after a batch's progress event,
while a batch's task runs, and at fixed fractions of a batch after an event, with batches back to
back (trigger shorter than a batch) and with a gap (trigger longer). After each stop the
checkpoint's commits reach its offsets (no batch planned and left uncommitted), no batch entered
its sink without finishing it, and the stop took at most a trigger interval and one batch; after
the last restart the sink holds every input file exactly once, one batch each. A DStream stopped
gracefully while a batch runs completes that batch and every batch it had generated.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from sparkkit.progress import RunStats, reset_stats
from sparkkit.session import build_streaming_context
from sparkkit.supervisor import DStreamQuery, StructuredQuery, Supervisor

FILES = 36
ROWS = 4  # records per file, so per batch: the source reads one file per trigger
WORK = 0.08  # seconds of work per record inside a batch: a batch runs ~0.3 s and more
#: Seconds a stop may take beyond a trigger interval and the longest batch (JVM and listener).
SLACK = 3.0


def line(file: int, row: int) -> str:
    return f"f{file:02d}-r{row}"


class Signals:
    """Datagrams from the UDF's tasks ("f03-r0 started"), waited for by the test: a hook into the
    middle of a batch, in another process, without polling."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.seen: list[str] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._receive, daemon=True).start()

    def _receive(self) -> None:
        while True:
            try:
                data, _ = self.sock.recvfrom(256)
            except OSError:
                return
            with self.changed:
                self.seen.append(data.decode())
                self.changed.notify_all()

    def wait(self, name: str, timeout: float = 120.0) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: name in self.seen, timeout), f"no signal {name}"

    def wait_more(self, than: int, timeout: float = 120.0) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.seen) > than, timeout), "no task started"

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def signals() -> Iterator[Signals]:
    s = Signals()
    yield s
    s.close()


def slow_records(spark: SparkSession, directory: Path, port: int) -> DataFrame:
    """The files' lines, one file per batch, each record worked on for ``WORK`` seconds; the
    first record of each file signals when its task starts on it."""
    from pyspark.sql import functions as F

    def work(value: str) -> str:
        import socket as sk
        import time as tm

        if value.endswith("-r0"):
            with sk.socket(sk.AF_INET, sk.SOCK_DGRAM) as out:
                out.sendto(f"{value} started".encode(), ("127.0.0.1", port))
        tm.sleep(WORK)  # the batch's work, not a wait of the test
        return value

    lines = spark.readStream.option("maxFilesPerTrigger", 1).text(str(directory))
    return lines.select(F.udf(work, "string", useArrow=False)("value").alias("value"))


class Sink:
    """A ``foreachBatch`` sink that notes each batch's entry and its finished rows."""

    def __init__(self) -> None:
        self.entered: list[int] = []
        self.finished: dict[int, list[list[str]]] = {}  # batch id -> rows, once per run of it
        self.lock = threading.Lock()

    def __call__(self, df: DataFrame, batch_id: int) -> None:
        with self.lock:
            self.entered.append(batch_id)
        rows = sorted(row.value for row in df.collect())
        with self.lock:
            self.finished.setdefault(batch_id, []).append(rows)

    def unfinished(self) -> list[int]:
        with self.lock:
            runs = Counter(self.entered)
            return sorted(b for b, n in runs.items() if n != len(self.finished.get(b, [])))


def logged(directory: Path) -> list[int]:
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit()) if directory.exists() else []


def wait_batches(stats: RunStats, count: int, timeout: float = 120.0) -> None:
    assert stats.wait_for(lambda s: len(s.completed) >= count, timeout), f"{count} batches not reached"


def test_a_graceful_stop_never_interrupts_a_batch(
    spark: SparkSession, tmp_path: Path, signals: Signals
) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    for f in range(FILES):  # read oldest first: batch f reads file f
        path = inbox / f"{f:02d}.txt"
        path.write_text("".join(f"{line(f, r)}\n" for r in range(ROWS)))
        os.utime(path, (1_700_000_000 + f, 1_700_000_000 + f))
    checkpoint = tmp_path / "ck"
    records = slow_records(spark, inbox, signals.port)
    sink = Sink()
    runs = 0

    def start(trigger_ms: int) -> tuple[Supervisor, RunStats]:
        nonlocal runs
        runs += 1
        name = f"drained_{runs}"
        writer = records.writeStream.foreachBatch(sink).trigger(processingTime=f"{trigger_ms} milliseconds")
        writer = writer.queryName(name).option("checkpointLocation", str(checkpoint))
        stats = reset_stats(f"test/{name}")
        return Supervisor(spark, [StructuredQuery(name, f"test/{name}", writer)]).start(), stats

    # where each stop lands, relative to the batches of the run
    def after_progress(stats: RunStats) -> None:
        wait_batches(stats, 1)

    def in_task(stats: RunStats) -> None:
        wait_batches(stats, 1)
        signals.wait_more(than=len(signals.seen))  # the next batch's task is working

    def fraction(part: float) -> Callable[[RunStats], None]:
        def point(stats: RunStats) -> None:
            wait_batches(stats, 1)
            time.sleep(part * stats.durations_ms[-1] / 1000)  # the moment under test, not a wait

        point.__name__ = f"{part:.0%} of a batch after a progress event"
        return point

    points = [after_progress, in_task, *(fraction(p) for p in (0.15, 0.4, 0.65, 0.9))]
    plan = [(100, point) for point in points] + [(1500, point) for point in points]
    for trigger_ms, point in plan:
        supervisor, stats = start(trigger_ms)
        point(stats)
        began = time.monotonic()
        supervisor.stop()
        took = time.monotonic() - began
        supervisor.check()
        assert not any(q.name.startswith("drained_") for q in spark.streams.active)
        offsets, commits = logged(checkpoint / "offsets"), logged(checkpoint / "commits")
        where = f"trigger {trigger_ms} ms, stop {point.__name__}"
        assert offsets[-1:] == commits[-1:], f"{where}: batch {offsets[-1]} planned, not committed"
        assert sink.unfinished() == [], f"{where}: batches entered the sink and were cut off"
        assert took <= trigger_ms / 1000 + max(stats.durations_ms) / 1000 + SLACK, f"{where}: {took:.1f} s"
        # the statistics hold the last batch when stop returns (its progress came before the end)
        assert stats.completed and stats.completed[-1] == commits[-1], where

    supervisor, stats = start(100)  # the rest of the input, then a last graceful stop
    supervisor.process_all_available()
    supervisor.stop()
    assert logged(checkpoint / "offsets") == logged(checkpoint / "commits") == list(range(FILES))

    # each batch ran once, in one run, and holds exactly its file
    assert sink.finished == {f: [[line(f, r) for r in range(ROWS)]] for f in range(FILES)}
    assert sorted(sink.entered) == list(range(FILES))


def test_a_graceful_dstream_stop_completes_the_running_batch(spark: SparkSession, signals: Signals) -> None:
    batches = [[line(b, r) for r in range(ROWS)] for b in range(12)]
    done: list[list[str]] = []
    port = signals.port

    def work(value: str) -> str:
        import socket as sk
        import time as tm

        if value.endswith("-r0"):
            with sk.socket(sk.AF_INET, sk.SOCK_DGRAM) as out:
                out.sendto(f"{value} started".encode(), ("127.0.0.1", port))
        tm.sleep(WORK)
        return value

    def keep(_: Any, rdd: Any) -> None:
        rows = rdd.collect()
        if rows:
            done.append(rows)

    interval = 0.5

    def build() -> Any:
        ssc = build_streaming_context(spark, interval)
        rdds = [spark.sparkContext.parallelize(batch, 1) for batch in batches]
        ssc.queueStream(rdds, oneAtATime=True).map(work).foreachRDD(keep)
        return ssc

    stats = reset_stats("test/slow-dstream")
    supervisor = Supervisor(spark, [DStreamQuery("slow", "test/slow-dstream", build)]).start()
    signals.wait(f"{line(3, 0)} started")  # batch 3 is being worked on
    began = time.monotonic()
    supervisor.stop()
    took = time.monotonic() - began

    assert done[:4] == batches[:4]  # the running batch completed, whole
    assert done == batches[: len(done)]  # every batch it ran, whole and in order
    # the rest of batch 3, then the batches generated before the stop and still queued
    longest = max(stats.durations_ms) / 1000
    assert took <= interval + (len(done) - 3) * longest + SLACK, f"{took:.1f} s"
