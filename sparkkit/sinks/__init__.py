"""Sinks named by address strings; every job writes through one of them."""

from __future__ import annotations

from sparkkit.addresses import Address, implementation, parse_sink
from sparkkit.sinks.base import BatchInfo, Delivery, Sink
from sparkkit.sinks.console import ConsoleSink
from sparkkit.sinks.files import FileSink
from sparkkit.sinks.kafka import KafkaSink
from sparkkit.sinks.memory import MemorySink, MemoryTable, memory_table

_SINKS: dict[str, type[Sink]] = {
    "console": ConsoleSink,
    "json": FileSink,
    "parquet": FileSink,
    "memory": MemorySink,
    "kafka": KafkaSink,
}


def sink_for(address: Address | str) -> Sink:
    """The sink for an address; raises :class:`AddressError` for schemes not available yet."""
    if isinstance(address, str):
        address = parse_sink(address)
    return implementation(_SINKS, address, "--sink", "sinks")(address)


__all__ = [
    "BatchInfo",
    "ConsoleSink",
    "Delivery",
    "FileSink",
    "KafkaSink",
    "MemorySink",
    "MemoryTable",
    "Sink",
    "memory_table",
    "sink_for",
]
