"""``sparkkit produce kafka://HOSTS/TOPIC``: send lines to Kafka for demos, tests and benchmarks.

Records come from a file (one per line), from a ``generator://`` address (the same records the
generator source makes), or from standard input; ``--rate`` paces them, ``--count`` stops after
that many. The address's ``client=``, ``brokerTimeout=`` and ``kafka.*`` options are those of a
Kafka sink (a broker that stops answering is waited for up to ``brokerTimeout``). By
default every record is flushed on its own, one per request: other readers of the embedded
broker (tansu) see a partition's end only up to the first record of its last batch through
ListOffsets (sparkkit's own reader does not depend on it; see
:func:`sparkkit.kafka_client.fetch_offsets`); ``--flush-every N`` batches N records.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from sparkkit.addresses import Address, parse_source
from sparkkit.errors import ConfigError, KafkaError
from sparkkit.kafka_client import Sender, checked_client, topic_partitions
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
    """Send ``records`` to the address's topic; the number sent.

    The address's options choose the client (``client=``) and its settings (``kafka.*``, as
    for a source or sink); the broker is asked for the topic with them before anything is sent.
    """
    bootstrap = address.netloc
    client = checked_client(bootstrap, address, "ADDRESS")
    if not any_answers(address.hosts):
        raise KafkaError(f"cannot reach Kafka at {bootstrap}: no broker accepts connections there")
    topic_partitions(client, [address.path])
    sender = Sender(client)  # a broker that stops answering is waited for up to brokerTimeout
    started, sent = time.monotonic(), 0
    try:
        for record in itertools.islice(records, count):
            sender.send(address.path, record.encode("utf-8"))
            sent += 1
            if sent % flush_every == 0:
                sender.flush()
            if rate:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        sender.flush()
    except KafkaError as exc:
        raise type(exc)(f"sending to {address.location} failed after {sent} records: {exc}") from None
    finally:
        sender.close()
    return sent
