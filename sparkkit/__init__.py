"""sparkkit: build, run and test PySpark streaming jobs in both APIs (DStreams and Structured Streaming)."""

from __future__ import annotations

__version__ = "0.2.0"

from sparkkit.addresses import Address, parse_sink, parse_source
from sparkkit.config import JobConfig, load_config
from sparkkit.duration import Duration
from sparkkit.errors import (
    AddressError,
    CheckpointError,
    CheckpointMismatchError,
    ConfigError,
    SparkkitError,
    UnknownOptionError,
)

__all__ = [
    "Address",
    "AddressError",
    "CheckpointError",
    "CheckpointMismatchError",
    "ConfigError",
    "Duration",
    "JobConfig",
    "SparkkitError",
    "UnknownOptionError",
    "__version__",
    "load_config",
    "parse_sink",
    "parse_source",
]
