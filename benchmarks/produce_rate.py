"""Producing: ``sparkkit produce`` against a bare confluent-kafka producer loop, records/s.

One run: an embedded broker (tansu), a file of ``--records`` lines (the throughput benchmark's
records), and for each case a fresh topic of 4 partitions filled from that file by a process of
its own; records/s = records / the process's wall time (interpreter start included, for all).

- ``sparkkit-produce``: ``sparkkit produce kafka://…/TOPIC --from FILE`` as a user runs it: the
  client's batches, round robin, each partition's last record alone (the default);
- ``sparkkit-produce-flush-every-1``: the same with ``--flush-every 1``, the former default
  (one record per request), on ``--records / 50`` records;
- ``confluent-kafka-loop``: ``Producer.produce`` + ``poll(0)`` for every line, one ``flush()``.

Each case then asks the broker for the topic's end offsets with ListOffsets, as a reader other
than sparkkit's plans on them: ``offsets_exact`` says whether they add up to every record sent.
Results in ``benchmarks/results/produce.json``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import write_results
from benchmarks.kafka_throughput import PARTITIONS, free_port, record
from sparkkit.broker import EmbeddedBroker
from sparkkit.testing import new_topic

ROOT = Path(__file__).resolve().parent.parent


def bare_loop(bootstrap: str, topic: str, path: str) -> None:
    """The hand-written loop a user would write with confluent-kafka."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap})
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            while True:
                try:
                    producer.produce(topic, value=line.rstrip("\n").encode("utf-8"))
                    break
                except BufferError:
                    producer.poll(0.01)
            producer.poll(0)
    producer.flush()


def list_offsets(bootstrap: str, topic: str) -> list[int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = consumer.end_offsets(partitions)
        return [int(ends[tp]) for tp in partitions]
    finally:
        consumer.close()


def measure(name: str, command: list[str], bootstrap: str, topic: str, records: int) -> dict[str, Any]:
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    load = os.getloadavg()[0]
    started = time.monotonic()
    done = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed: {done.stderr.strip()[-500:]}")
    ends = list_offsets(bootstrap, topic)
    return {
        "records": records,
        "wall_s": round(wall, 2),
        "records_per_s": round(records / wall),
        "list_offsets": ends,
        "offsets_exact": sum(ends) == records,
        "load_before": round(load, 2),
    }


def main(records: int) -> dict[str, Any]:
    state = tempfile.TemporaryDirectory(prefix="sparkkit-bench-produce-")
    lines = Path(state.name) / "lines.txt"
    with lines.open("w", encoding="utf-8") as out:
        out.writelines(f"{record(i)}\n" for i in range(records))
    few = Path(state.name) / "few.txt"
    few.write_text("".join(f"{record(i)}\n" for i in range(records // 50)), encoding="utf-8")
    broker = EmbeddedBroker(Path(state.name) / "broker")
    status = broker.up(free_port())
    bootstrap = status.bootstrap
    assert bootstrap is not None
    results: dict[str, Any] = {"records": records, "partitions": PARTITIONS, "cases": {}}
    try:
        cases = {
            "sparkkit-produce": (lines, records, []),
            "sparkkit-produce-flush-every-1": (few, records // 50, ["--flush-every", "1"]),
            "confluent-kafka-loop": (lines, records, None),
        }
        for name, (path, count, extra) in cases.items():
            topic = new_topic(bootstrap, PARTITIONS, prefix=f"{name}-")
            if extra is None:
                command = ["-m", "benchmarks.produce_rate", "--loop", bootstrap, topic, str(path)]
            else:
                address = f"kafka://{bootstrap}/{topic}"
                command = ["-m", "sparkkit.cli", "produce", address, "--from", str(path), *extra]
            results["cases"][name] = outcome = measure(name, command, bootstrap, topic, count)
            print(name, outcome, flush=True)
    finally:
        broker.down()
        state.cleanup()
    write_results("produce", results)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.produce_rate", description=__doc__)
    parser.add_argument("--records", type=int, default=500_000, help="lines to send (500k)")
    parser.add_argument("--loop", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loop:
        bare_loop(*args.loop)
    else:
        main(args.records)
