"""Durations written as ``500ms``, ``10s``, ``2m``, ``1h``: parsed once, kept as milliseconds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import cast

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
ACCEPTED = "a duration such as 500ms, 10s, 2m or 1h"


@dataclass(frozen=True, order=True)
class Duration:
    """A non-negative span of time, exact to the millisecond."""

    ms: int

    @classmethod
    def parse(cls, text: str | int | float | Duration) -> Duration:
        """Parse ``500ms``/``10s``/``2m``/``1h``; a bare number is seconds. Raises ValueError."""
        if isinstance(text, Duration):
            return text
        if isinstance(text, bool):
            raise ValueError(f"not a duration: {text!r}")
        if isinstance(text, (int, float)):
            if text < 0:
                raise ValueError(f"negative duration: {text!r}")
            return cls(round(text * 1000))
        match = _PATTERN.match(str(text))
        if not match:
            raise ValueError(f"not a duration: {text!r}")
        ms = float(match.group(1)) * _UNITS_MS[match.group(2) or "s"]
        if ms != int(ms):
            raise ValueError(f"finer than a millisecond: {text!r}")
        return cls(int(ms))

    @property
    def seconds(self) -> float:
        return self.ms / 1000

    @property
    def pyspark_seconds(self) -> int:
        """Seconds for PySpark's DStream API, whose type stubs say ``int`` though it takes fractions."""
        return cast(int, self.ms / 1000)

    def is_multiple_of(self, other: Duration) -> bool:
        return other.ms > 0 and self.ms % other.ms == 0

    def __mul__(self, factor: int) -> Duration:
        return Duration(self.ms * factor)

    def __str__(self) -> str:
        for unit in ("h", "m", "s"):
            size = _UNITS_MS[unit]
            if self.ms and self.ms % size == 0:
                return f"{self.ms // size}{unit}"
        return f"{self.ms}ms"
