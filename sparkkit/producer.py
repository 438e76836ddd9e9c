"""``sparkkit produce kafka://HOSTS/TOPIC``: send lines to Kafka for demos, tests and benchmarks.

Records come from a file (one per line), from a ``generator://`` address (the same records the
generator source makes), or from standard input; ``--rate`` paces them, ``--count`` stops after
that many. By default every record is flushed on its own, one per request, which keeps
``latest`` offsets exact on brokers (such as tansu) that report only a batch's base offset.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from sparkkit.addresses import Address, parse_source
from sparkkit.errors import ConfigError, SparkkitError
from sparkkit.net import any_answers
from sparkkit.sources.generator import GeneratorSource, generator_key


def records_from(spec: str | None) -> Iterator[str]:
    """Lines of a file, records of a ``generator://`` address, or standard input (``-`` or none)."""
    if spec is None or spec == "-":
        return (line.rstrip("\n") for line in sys.stdin)
    if spec.startswith("generator://"):
        source = GeneratorSource(parse_source(spec, "--from"))
        source.check()
        name, seed, keys = source.stream_name, source.seed, source.keys
        numbers = range(source.count) if source.count is not None else itertools.count()
        return (f"{name}-{generator_key(i, seed, keys)}" for i in numbers)
    path = Path(spec)
    if not path.is_file():
        raise ConfigError("--from", spec, "a file, a generator:// address or - for standard input")
    return (line.rstrip("\n") for line in path.open(encoding="utf-8"))


def produce(
    address: Address, records: Iterable[str], rate: float | None = None, count: int | None = None,
    flush_every: int = 1,
) -> int:  # fmt: skip
    """Send ``records`` to the address's topic; the number sent."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    bootstrap = address.netloc
    if not any_answers(address.hosts):
        raise SparkkitError(f"cannot reach Kafka at {bootstrap}: no broker accepts connections there")
    try:
        producer = KafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=10_000, max_block_ms=10_000)
    except KafkaError as exc:
        raise SparkkitError(f"cannot reach Kafka at {bootstrap}: {exc}") from None
    started, sent = time.monotonic(), 0
    try:
        for record in itertools.islice(records, count):
            producer.send(address.path, value=record.encode("utf-8"))
            sent += 1
            if sent % flush_every == 0:
                producer.flush()
            if rate:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        producer.flush()
    except KafkaError as exc:
        raise SparkkitError(f"sending to {address.raw} failed after {sent} records: {exc}") from None
    finally:
        producer.close()
    return sent
