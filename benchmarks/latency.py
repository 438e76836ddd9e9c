"""End-to-end latency of a Kafka -> Kafka job, against the trigger interval and the input rate.

One run: an embedded broker (tansu); for each case a fresh input and output topic, then three
processes besides this one:

- the job: ``sparkkit run JOB --api API --source kafka://…/in --sink kafka://…/out
  --batch-interval INTERVAL`` (local[2], its own JVM);
- a producer: records of 5 words (1000 distinct) at a steady ``RATE`` records/s (confluent-kafka,
  librdkafka's batching: ``linger.ms`` 5); one record in ``STAMP_EVERY`` carries one more word,
  ``t<ns>``, the wall clock just before it was handed to the client;
- a reader: consumes the output topic, and for every row whose word is a stamp prints the stamp
  and the wall clock when the row arrived.

The jobs: ``wordcount`` (stateless), ``windowed_counts --window 10s --output-mode update``
(stateful), and the peer, a Bytewax dataflow (``--bytewax``: one worker, words counted in
tumbling windows of system time as long as the trigger, each count written as its window closes).

A stamp's latency is its row's arrival minus the stamp: produce, broker, the job's trigger wait,
its batch, its sink's delivery, and the reader's fetch. The measured window starts ``--warmup``
seconds after the first output row arrives and lasts ``--seconds``; a stamp produced in it whose
row never arrives within ``DRAIN_S`` after the producer stops is counted as missing (this then
fails the case: latency of a lost record is not a number, and a job that falls ever further
behind its trigger ends so). p50/p95/p99/max per case, with the machine's
load average as the case started, in ``benchmarks/results/latency.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import percentile, terminate_group, write_results
from benchmarks.kafka_throughput import free_port, record
from sparkkit.broker import EmbeddedBroker
from sparkkit.testing import new_topic

PARTITIONS = 2
STAMP_EVERY = 50
DRAIN_S = 30.0
START_TIMEOUT_S = 180.0
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Case:
    """``api`` structured or dstream (``sparkkit run JOB``), or bytewax (the peer, below)."""

    api: str
    interval: str
    rate: int
    job: str = "wordcount"

    @property
    def name(self) -> str:
        return f"{self.job}-{self.api}-{self.interval}-{self.rate}"

    @property
    def job_args(self) -> tuple[str, ...]:
        """A windowed count's rows appear at each trigger (update mode), not once a window closes."""
        return ("--window", "10s", "--output-mode", "update") if self.job == "windowed_counts" else ()


#: The trigger sweep at 10k records/s, the other rates at the interval that answers first, a
#: stateful windowed count, and Bytewax's word count in windows as long as the best trigger.
CASES = (
    *(Case("structured", i, 10_000) for i in ("2s", "1s", "500ms", "200ms", "100ms")),
    *(Case("dstream", i, 10_000) for i in ("2s", "1s", "500ms")),
    Case("structured", "200ms", 1_000),
    Case("structured", "200ms", 50_000),
    Case("structured", "200ms", 10_000, "windowed_counts"),
    Case("structured", "1s", 10_000, "windowed_counts"),
    *(Case("bytewax", "200ms", rate) for rate in (1_000, 10_000, 50_000)),
)


def bytewax_forever(bootstrap: str, source: str, sink: str, interval: str) -> None:
    """The peer: Bytewax (one worker) counts the words of each ``interval`` of system time (a
    tumbling window: what a trigger is to Spark) and writes each count to ``sink`` as it closes."""
    from datetime import datetime, timedelta, timezone

    import bytewax.operators as op
    import bytewax.operators.windowing as win
    from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource
    from bytewax.dataflow import Dataflow
    from bytewax.testing import run_main

    from sparkkit.duration import Duration

    length = timedelta(milliseconds=Duration.parse(interval).ms)
    flow = Dataflow("latency")
    lines = op.input("in", flow, KafkaSource([bootstrap], [source], tail=True, starting_offset=-2))
    words = op.flat_map("split", lines, lambda message: message.value.decode("utf-8").split())
    windower = win.TumblingWindower(length=length, align_to=datetime(2026, 1, 1, tzinfo=timezone.utc))
    counted = win.count_window("count", words, win.SystemClock(), windower, lambda word: word)
    rows = op.map(
        "row", counted.down, lambda kv: KafkaSinkMessage(None, json.dumps({"word": kv[0], "count": kv[1][1]}))
    )
    op.output("out", rows, KafkaSink([bootstrap], sink))
    run_main(flow)


def produce_forever(bootstrap: str, topic: str, rate: int) -> None:
    """The producer process: ``rate`` records/s until SIGTERM; prints each stamp it sends."""
    from confluent_kafka import Producer

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    started, sent = time.monotonic(), 0
    while not stop.is_set():
        due = int((time.monotonic() - started) * rate)
        while sent < due:
            line = record(sent)
            if sent % STAMP_EVERY == 0:
                stamp = time.time_ns()
                line = f"{line} t{stamp}"
                print(stamp, flush=False)
            while True:
                try:
                    producer.produce(topic, value=line.encode())
                    break
                except BufferError:
                    producer.poll(0.01)
            sent += 1
        producer.poll(0)
        sys.stdout.flush()
        time.sleep(0.001)
    producer.flush(30)
    sys.stdout.flush()


def read_forever(bootstrap: str, topic: str) -> None:
    """The reader process: prints ``stamp arrival`` (ns) for each stamp row of the output topic."""
    from confluent_kafka import Consumer

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"latency-{os.getpid()}",
                         "auto.offset.reset": "earliest", "fetch.wait.max.ms": 10,
                         "enable.auto.commit": False})  # fmt: skip
    consumer.subscribe([topic])
    while not stop.is_set():
        message = consumer.poll(0.05)
        if message is None or message.error():
            continue
        arrived = time.time_ns()
        row = json.loads(message.value())
        word = row.get("word", row.get("key", ""))
        if word.startswith("t") and word[1:].isdigit():
            print(word[1:], arrived, flush=True)
    consumer.close()


class Lines:
    """A child process's stdout lines, collected by a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc, self.lines = proc, []  # type: list[str]
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.changed:
                self.lines.append(line.strip())
                self.changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.lines) >= count, timeout)


def child(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """This interpreter running ``args`` in a session of its own (:func:`terminate_group` ends it
    with every process it started: the job's JVM and Python workers)."""
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    return subprocess.Popen(
        [sys.executable, *args], text=True, cwd=ROOT, env=env, start_new_session=True, **kwargs
    )


def measure(case: Case, bootstrap: str, warmup: float, seconds: float, workdir: Path) -> dict[str, Any]:
    source = new_topic(bootstrap, PARTITIONS, prefix=f"in-{case.name}-")
    sink = new_topic(bootstrap, PARTITIONS, prefix=f"out-{case.name}-")
    load = os.getloadavg()[0]
    job_log = (workdir / f"{case.name}.log").open("w")
    if case.api == "bytewax":
        job = child("-m", "benchmarks.latency", "--bytewax", bootstrap, source, sink, case.interval,
                    stdout=job_log, stderr=subprocess.STDOUT)  # fmt: skip
    else:
        job = child("-m", "sparkkit.cli", "run", case.job, "--api", case.api,
                    "--batch-interval", case.interval, "--source", f"kafka://{bootstrap}/{source}?startingOffsets=earliest",
                    "--sink", f"kafka://{bootstrap}/{sink}", "--checkpoint", str(workdir / case.name),
                    "--duration", "0", *case.job_args, stdout=job_log, stderr=subprocess.STDOUT)  # fmt: skip
    reader = Lines(child("-m", "benchmarks.latency", "--read", bootstrap, sink, stdout=subprocess.PIPE))
    producer = Lines(
        child(
            "-m", "benchmarks.latency", "--produce", bootstrap, source, str(case.rate), stdout=subprocess.PIPE
        )
    )
    try:
        if not reader.wait_for(1, START_TIMEOUT_S):
            raise RuntimeError(f"{case.name}: no output within {START_TIMEOUT_S} s (see {job_log.name})")
        window_start = time.time_ns() + int(warmup * 1e9)
        time.sleep(warmup + seconds)
        window_end = time.time_ns()
        terminate_group(producer.proc, 60)
        sent = [int(s) for s in producer.lines]
        measured = {s for s in sent if window_start <= s < window_end}
        deadline = time.monotonic() + DRAIN_S
        arrivals: dict[int, int] = {}
        while time.monotonic() < deadline:
            arrivals = {int(s): int(a) for s, a in (line.split() for line in list(reader.lines))}
            if measured <= arrivals.keys():
                break
            time.sleep(0.2)
    finally:
        for proc in (producer.proc, reader.proc, job):
            terminate_group(proc, 60)
        job_log.close()
    missing = len(measured - arrivals.keys())
    latencies = [(arrivals[s] - s) / 1e6 for s in measured if s in arrivals]
    if missing or not latencies:
        raise RuntimeError(f"{case.name}: {missing} of {len(measured)} stamped records never came out")
    return {
        **case.__dict__,
        "samples": len(latencies),
        "records_per_s": case.rate,
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
        "load_before": round(load, 2),
    }


def main(cases: list[Case], warmup: float, seconds: float) -> dict[str, Any]:
    state = tempfile.TemporaryDirectory(prefix="sparkkit-bench-latency-")
    broker = EmbeddedBroker(Path(state.name) / "broker")
    status = broker.up(free_port())
    assert status.bootstrap is not None
    results: dict[str, Any] = {"warmup_s": warmup, "seconds": seconds, "stamp_every": STAMP_EVERY,
                               "partitions": PARTITIONS, "cases": {}}  # fmt: skip
    try:
        for case in cases:
            try:
                outcome = measure(case, status.bootstrap, warmup, seconds, Path(state.name))
            except RuntimeError as exc:  # a job that falls behind for good: recorded, the others still run
                outcome = {**case.__dict__, "error": str(exc)}
            results["cases"][case.name] = outcome
            print(
                case.name, {k: v for k, v in outcome.items() if k.endswith("_ms") or k == "error"}, flush=True
            )
    finally:
        broker.down()
        state.cleanup()
    write_results("latency", results)
    return results


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window per case (60)")
    parser.add_argument("--warmup", type=float, default=10.0, help="after the first output row (10)")
    parser.add_argument(
        "--only", nargs="+", metavar="CASE", help="case names, e.g. wordcount-structured-1s-10000"
    )
    parser.add_argument("--produce", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--read", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--bytewax", nargs=4, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args(sys.argv[1:])
    if args.produce:
        produce_forever(args.produce[0], args.produce[1], int(args.produce[2]))
    elif args.read:
        read_forever(*args.read)
    elif args.bytewax:
        bytewax_forever(*args.bytewax)
    else:
        chosen = [c for c in CASES if not args.only or c.name in args.only]
        main(chosen, args.warmup, args.seconds)
