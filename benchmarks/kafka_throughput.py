"""Kafka throughput: sparkkit's word count over Kafka against what a user would write instead.

One run: an embedded broker (tansu), one topic of ``--records`` lines (default 1M) in 4
partitions, then each competitor counts every word of the topic in its own process:

- ``sparkkit-structured``: the ``wordcount`` job through sparkkit's Kafka source, local[2], with
  ``maxOffsetsPerTrigger`` = records / 5 so that query progress shows a steady state after the
  first (warm-up) micro-batch; the reader uses confluent-kafka (the ``fast`` extra);
- ``sparkkit-structured-kafka-python``: the same reading with kafka-python (``client=kafka-python``);
- ``sparkkit-dstream``: the same job on sparkkit's direct Kafka DStream (``maxRatePerPartition`` unset);
- ``kafka-python-loop``: a hand-written single-threaded kafka-python consume-and-count loop;
- ``confluent-kafka-loop``: the same loop on confluent-kafka (librdkafka), when it is installed;
- ``bytewax``: Bytewax's KafkaSource -> flat_map(split) -> count_final, when it is installed.

Each competitor's per-word totals must equal the expected ones (a wrong count fails the run).
Measured: whole-process wall time (interpreter, JVM and all) and steady-state rows/s: Structured
from query progress (input rows over batch durations, after the first batch), DStream from its
batches' processing delays, the loops and Bytewax from the first to the last record processed.
Goals: sparkkit's Structured word count >= 1.5x the kafka-python loop, and ahead of Bytewax.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyspark.sql.streaming import StreamingQueryListener

from benchmarks.common import session, write_results
from benchmarks.report import epoch_ms
from sparkkit.broker import EmbeddedBroker
from sparkkit.sources.generator import generator_lines

PARTITIONS, WORDS_PER_RECORD, KEYS, SEED, TOPIC = 4, 5, 1000, 1, "words"
TIMEOUT_S = 1800
MEMORY_SINK = "memory://kafka_throughput?view=false&keep=1000000"
SPARKKIT = ("sparkkit-structured", "sparkkit-structured-kafka-python", "sparkkit-dstream")
OTHERS = ("kafka-python-loop", "bytewax", "confluent-kafka-loop")
OPTIONAL = ("bytewax", "confluent-kafka-loop")  # a failure to run is recorded, not fatal
COMPETITORS = (
    "sparkkit-structured",
    "sparkkit-structured-kafka-python",
    "sparkkit-dstream",
    "kafka-python-loop",
    "confluent-kafka-loop",
    "bytewax",
)


def record(i: int) -> str:
    """Record ``i``: the next ``WORDS_PER_RECORD`` generator words, space-separated."""
    start = i * WORDS_PER_RECORD
    return " ".join(generator_lines("w", start, start + WORDS_PER_RECORD, SEED, KEYS))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_topic(bootstrap: str, topic: str) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    finally:
        admin.close()


def end_offsets(bootstrap: str, topic: str) -> list[int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(PARTITIONS)])
        return [int(ends[TopicPartition(topic, p)]) for p in range(PARTITIONS)]
    finally:
        consumer.close()


def produce(bootstrap: str, topic: str, records: int) -> Counter[str]:
    """Send ``records`` records round robin over the partitions; the expected per-word totals.

    All but the last record of each partition go in large batches. tansu's ListOffsets(latest)
    sees only the base offset of a partition's last batch (+1), so the last record of each
    partition is then sent alone, which makes every end offset exact.
    """
    from kafka import KafkaProducer

    expected: Counter[str] = Counter()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=256 * 1024)
    try:
        tail = max(0, records - PARTITIONS)
        for i in range(records):
            line = record(i)
            expected.update(line.split())
            if i >= tail:
                producer.flush()  # the batch before goes out alone
            producer.send(topic, value=line.encode("utf-8"), partition=i % PARTITIONS)
        producer.flush()
    finally:
        producer.close()
    return expected


def counts_from_rows(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Per-word totals from wordcount's ``word, count`` output rows of all batches."""
    totals: Counter[str] = Counter()
    for row in rows:
        totals[row["word"]] += row["count"]
    return dict(totals)


class ProgressLog(StreamingQueryListener):
    """Every micro-batch's query progress; waiters block until enough input rows were processed."""

    def __init__(self) -> None:
        self.batches: list[dict[str, Any]] = []
        self.failure: str | None = None
        self._changed = threading.Condition()

    def onQueryStarted(self, event: Any) -> None:
        pass

    def onQueryProgress(self, event: Any) -> None:
        p = event.progress
        with self._changed:
            self.batches.append(
                {
                    "batch_id": p.batchId,
                    "rows": p.numInputRows,
                    "duration_ms": p.batchDuration,
                    "rows_per_s": round(p.processedRowsPerSecond),
                    "started": p.timestamp,
                    "phases_ms": dict(p.durationMs),
                }
            )
            self._changed.notify_all()

    def onQueryIdle(self, event: Any) -> None:
        pass

    def onQueryTerminated(self, event: Any) -> None:
        with self._changed:
            self.failure = event.exception or "the query stopped"
            self._changed.notify_all()

    def wait_for_rows(self, rows: int, timeout: float) -> bool:
        with self._changed:
            self._changed.wait_for(
                lambda: self.failure is not None or sum(b["rows"] for b in self.batches) >= rows, timeout
            )
            return sum(b["rows"] for b in self.batches) >= rows


def steady_rate(rows: list[int], durations_ms: list[int]) -> float:
    """Rows per second over the batches with input after the first (all of them when only one)."""
    pairs = [(r, d) for r, d in zip(rows, durations_ms, strict=True) if r > 0]
    measured = pairs[1:] or pairs
    return sum(r for r, _ in measured) / max(1e-3, sum(d for _, d in measured) / 1000)


def sparkkit_run(api: str, bootstrap: str, topic: str, workdir: Path, extra: str = "") -> tuple[Any, Any]:
    """The wordcount job through sparkkit's public pieces, checkpoint in ``workdir``; (session, Run)."""
    from sparkkit.config import load_config
    from sparkkit.jobs import get_job
    from sparkkit.runner import Run, prepare

    cli = {
        "api": api,
        "source": [f"kafka://{bootstrap}/{topic}?startingOffsets=earliest{extra}"],
        "sink": MEMORY_SINK,
        "checkpoint": str(workdir / "ck"),
        "batch_interval": "1s" if api == "dstream" else "100ms",
    }
    config = load_config("wordcount", get_job("wordcount").options, cli=cli, env={}, conf_dir=workdir / "-")
    spark = session(f"kafka-{api}")
    return spark, Run(prepare(config), spark)


def run_structured(
    bootstrap: str, topic: str, records: int, max_offsets: int, workdir: Path, client: str = ""
) -> dict[str, Any]:
    """sparkkit's Structured wordcount, stopped once query progress counts ``records`` input rows."""
    from sparkkit.sinks.memory import memory_table

    extra = (f"&maxOffsetsPerTrigger={max_offsets}" if max_offsets else "") + client
    spark, job_run = sparkkit_run("structured", bootstrap, topic, workdir, extra)
    progress = ProgressLog()
    spark.streams.addListener(progress)
    job_run.start()
    try:
        done = progress.wait_for_rows(records, TIMEOUT_S)
    finally:
        job_run.stop(graceful=False)
    if not done:
        raise RuntimeError(f"only {sum(b['rows'] for b in progress.batches)} rows: {progress.failure}")
    batches = [b for b in progress.batches if b["rows"]]
    first, last = batches[0], batches[-1]
    span_s = (last["duration_ms"] + epoch_ms(last["started"]) - epoch_ms(first["started"])) / 1000
    counts = counts_from_rows(memory_table("kafka_throughput").rows())
    spark.stop()
    return {
        "counts": counts,
        "steady_rows_per_s": steady_rate([b["rows"] for b in batches], [b["duration_ms"] for b in batches]),
        "first_to_last_rows_per_s": records / span_s,
        "max_offsets_per_trigger": max_offsets or None,
        "batches": batches,
    }


def run_dstream(bootstrap: str, topic: str, records: int, workdir: Path) -> dict[str, Any]:
    """sparkkit's direct Kafka DStream wordcount, stopped once its output counts every word."""
    from sparkkit.sinks.memory import memory_table

    spark, job_run = sparkkit_run("dstream", bootstrap, topic, workdir)
    table = memory_table("kafka_throughput")
    words = records * WORDS_PER_RECORD
    job_run.start()
    try:
        done = table.wait_for(lambda t: sum(r["count"] for r in t.rows()) >= words, TIMEOUT_S)
        job_run.stats.wait_for(lambda s: len(s.completed) >= table.total_batches, 60)
    finally:
        job_run.stop(graceful=False)
    if not done:
        raise RuntimeError(f"only {sum(r['count'] for r in table.rows())} of {words} words counted")
    snapshot = table.snapshot()
    with_rows = {info.time_ms: len(rows) for info, rows in snapshot if rows}
    delays = dict(zip(job_run.stats.completed, job_run.stats.durations_ms, strict=True))
    busy = [delays[t] for t in with_rows if t in delays]
    counts = counts_from_rows([row for _, rows in snapshot for row in rows])
    spark.stop()
    return {
        "counts": counts,
        "steady_rows_per_s": records / max(1e-3, sum(busy) / 1000),
        "batches": [{"batch_ms": t, "processing_ms": delays.get(t), "rows": n} for t, n in with_rows.items()],
    }


def run_kafka_python_loop(bootstrap: str, topic: str, records: int) -> dict[str, Any]:
    """A single-threaded kafka-python consume-and-count loop: what a user would write without Spark."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
    consumer.seek_to_beginning()
    counts: Counter[str] = Counter()
    seen, first = 0, 0.0
    while seen < records:
        for batch in consumer.poll(timeout_ms=1000).values():
            first = first or time.monotonic()
            for message in batch:
                counts.update(message.value.decode("utf-8").split())
            seen += len(batch)
    last = time.monotonic()
    consumer.close()
    return {"counts": dict(counts), "steady_rows_per_s": records / (last - first)}


def run_confluent_kafka_loop(bootstrap: str, topic: str, records: int) -> dict[str, Any]:
    """The same hand-written loop on confluent-kafka (librdkafka underneath)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "sparkkit-bench", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    counts: Counter[str] = Counter()
    seen, first = 0, 0.0
    while seen < records:
        messages = consumer.consume(1000, 1.0)
        first = first or (time.monotonic() if messages else 0.0)
        for message in messages:
            if message.error():
                raise RuntimeError(str(message.error()))
            counts.update((message.value() or b"").decode("utf-8").split())
        seen += len(messages)
    last = time.monotonic()
    consumer.close()
    return {"counts": dict(counts), "steady_rows_per_s": records / (last - first)}


def run_bytewax(bootstrap: str, topic: str, records: int) -> dict[str, Any]:
    """Bytewax: KafkaSource (to the end of each partition) -> split -> count_final per word."""
    import bytewax.operators as op
    from bytewax.connectors.kafka import KafkaSource
    from bytewax.dataflow import Dataflow
    from bytewax.run import cli_main
    from bytewax.testing import TestingSink

    span = [0.0, 0.0]  # when the first and the latest record were processed

    def split(message: Any) -> list[str]:
        span[1] = time.monotonic()
        span[0] = span[0] or span[1]
        return message.value.decode("utf-8").split()

    flow = Dataflow("wordcount")
    lines = op.input("kafka", flow, KafkaSource([bootstrap], [topic], tail=False))
    counted = op.count_final("count", op.flat_map("split", lines, split), lambda word: word)
    out: list[tuple[str, int]] = []
    op.output("out", counted, TestingSink(out))
    cli_main(flow, workers_per_process=1)
    return {"counts": dict(out), "steady_rows_per_s": records / (span[1] - span[0])}


def one(name: str, bootstrap: str, topic: str, records: int, max_offsets: int) -> dict[str, Any]:
    """Run competitor ``name`` in this process (main runs each in a child process)."""
    with tempfile.TemporaryDirectory(prefix="sparkkit-bench-kafka-") as tmp:
        workdir = Path(tmp)
        runners: dict[str, Callable[[], dict[str, Any]]] = {
            "sparkkit-structured": lambda: run_structured(bootstrap, topic, records, max_offsets, workdir),
            "sparkkit-structured-kafka-python": lambda: run_structured(
                bootstrap, topic, records, max_offsets, workdir, "&client=kafka-python"
            ),
            "sparkkit-dstream": lambda: run_dstream(bootstrap, topic, records, workdir),
            "kafka-python-loop": lambda: run_kafka_python_loop(bootstrap, topic, records),
            "confluent-kafka-loop": lambda: run_confluent_kafka_loop(bootstrap, topic, records),
            "bytewax": lambda: run_bytewax(bootstrap, topic, records),
        }
        return runners[name]()


def measure(
    name: str, bootstrap: str, records: int, max_offsets: int, expected: dict[str, int]
) -> dict[str, Any]:
    """One competitor in a child process: its wall time, rates, and whether its totals are right."""
    command = [sys.executable, "-m", "benchmarks.kafka_throughput", "--one", name, "--bootstrap", bootstrap,
               "--records", str(records), "--max-offsets-per-trigger", str(max_offsets)]  # fmt: skip
    load = os.getloadavg()[0]  # another busy process on the machine skews every number
    started = time.monotonic()
    try:
        child = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S + 120, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"no result in {TIMEOUT_S + 120} s", "kind": "failed"}
    wall_s = time.monotonic() - started
    if child.returncode != 0:
        missing = "ModuleNotFoundError" in child.stderr and name in OPTIONAL
        return {"error": child.stderr.strip()[-3000:], "kind": "unavailable" if missing else "failed"}
    result = json.loads(child.stdout.strip().splitlines()[-1])
    counts = result.pop("counts")
    wrong = sorted(w for w in set(counts) | set(expected) if counts.get(w) != expected.get(w))
    if wrong:
        sample = ", ".join(f"{w}: {counts.get(w)} not {expected.get(w)}" for w in wrong[:5])
        return {"error": f"wrong totals for {len(wrong)} words ({sample})", "kind": "wrong totals"}
    return {"wall_s": round(wall_s, 2), "wall_rows_per_s": records / wall_s, "load_before": load, **result}


def ratios(cases: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """Each sparkkit case's rates over each other competitor's (> 1: sparkkit is faster).

    ``steady``: steady-state rows/s over theirs; ``wall``: their wall time over sparkkit's.
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    for ours in SPARKKIT:
        mine = cases.get(ours, {})
        for theirs in OTHERS:
            other = cases.get(theirs, {})
            if "wall_s" in mine and "wall_s" in other:
                out.setdefault(ours, {})[theirs] = {
                    "steady": mine["steady_rows_per_s"] / other["steady_rows_per_s"],
                    "wall": other["wall_s"] / mine["wall_s"],
                }
    return out


def main(
    records: int,
    max_offsets: int,
    only: tuple[str, ...] = COMPETITORS,
    results_name: str = "kafka_throughput",
) -> dict[str, Any]:
    state = tempfile.TemporaryDirectory(prefix="sparkkit-bench-broker-")
    broker = EmbeddedBroker(Path(state.name))
    status = broker.up(free_port())
    assert status.bootstrap is not None
    try:
        create_topic(status.bootstrap, TOPIC)
        started = time.monotonic()
        expected = dict(produce(status.bootstrap, TOPIC, records))
        produce_s = time.monotonic() - started
        ends = end_offsets(status.bootstrap, TOPIC)
        if sum(ends) != records:
            raise RuntimeError(f"end offsets {ends} sum to {sum(ends)}, not the {records} records produced")
        print(f"produced {records} records in {produce_s:.1f} s; end offsets {ends}", flush=True)
        cases: dict[str, Any] = {}
        for name in only:
            cases[name] = measure(name, status.bootstrap, records, max_offsets, expected)
            print(name, _summary(cases[name]), flush=True)
    finally:
        broker.down()
        state.cleanup()
    results = {
        "records": records,
        "partitions": PARTITIONS,
        "words_per_record": WORDS_PER_RECORD,
        "distinct_words": len(expected),
        "max_offsets_per_trigger": max_offsets,
        "produce_s": round(produce_s, 1),
        "cases": cases,
        "ratios": ratios(cases),
    }
    write_results(results_name, results)
    return results


def _summary(case: dict[str, Any]) -> str:
    if "error" in case:
        return f"{case['kind']}: {case['error'].splitlines()[-1] if case['error'] else ''}"
    return f"{case['wall_s']:.1f} s wall, {case['steady_rows_per_s']:,.0f} rows/s steady"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kafka_throughput", description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000, help="records in the topic (1M)")
    parser.add_argument(
        "--max-offsets-per-trigger", type=int, default=0, metavar="N",
        help="sparkkit-structured's maxOffsetsPerTrigger (default: records // 5)",
    )  # fmt: skip
    parser.add_argument("--only", nargs="+", choices=COMPETITORS, default=list(COMPETITORS))
    parser.add_argument(
        "--results", default="kafka_throughput", metavar="NAME", help="benchmarks/results/NAME.json"
    )
    parser.add_argument("--one", choices=COMPETITORS, help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args(sys.argv[1:])
    per_trigger = args.max_offsets_per_trigger or max(1, args.records // 5)
    if args.one:
        print(json.dumps(one(args.one, args.bootstrap, TOPIC, args.records, per_trigger)))
    else:
        outcome = main(args.records, per_trigger, tuple(args.only), args.results)
        for name, case in outcome["cases"].items():
            if case.get("kind") == "wrong totals" or (case.get("kind") == "failed" and name not in OPTIONAL):
                sys.exit(f"{name}: {case['kind']}")
