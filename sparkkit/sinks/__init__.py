"""Sinks named by address strings; every job writes through one of them."""

from __future__ import annotations

from sparkkit.addresses import Address, parse_sink
from sparkkit.errors import AddressError
from sparkkit.sinks.base import BatchInfo, Sink
from sparkkit.sinks.console import ConsoleSink
from sparkkit.sinks.files import FileSink
from sparkkit.sinks.memory import MemorySink, MemoryTable, memory_table

_SINKS: dict[str, type[Sink]] = {
    "console": ConsoleSink,
    "json": FileSink,
    "parquet": FileSink,
    "memory": MemorySink,
}


def sink_for(address: Address | str) -> Sink:
    """The sink for an address; raises :class:`AddressError` for schemes not available yet."""
    if isinstance(address, str):
        address = parse_sink(address)
    try:
        cls = _SINKS[address.scheme]
    except KeyError:
        raise AddressError(
            "--sink",
            address.raw,
            f"{address.scheme}:// sinks are not available in this version; "
            f"accepted: {', '.join(s + '://' for s in _SINKS)}",
        ) from None
    return cls(address)


__all__ = [
    "BatchInfo",
    "ConsoleSink",
    "FileSink",
    "MemorySink",
    "MemoryTable",
    "Sink",
    "memory_table",
    "sink_for",
]
