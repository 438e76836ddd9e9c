"""Durations written as ``500ms``, ``10s``, ``2m``, ``1h``: parsed once, kept as milliseconds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
_MAX_SECONDS = 10**9  # ~31 years
_PATTERN = re.compile(r"\s*(\d{1,12}(?:\.\d{1,9})?)\s*(ms|s|m|h)?\s*", re.ASCII)
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
            if not 0 <= text <= _MAX_SECONDS:  # also false for NaN
                raise ValueError(f"not a duration: {text!r}")
            return cls(round(text * 1000))
        match = _PATTERN.fullmatch(str(text))
        if not match:
            raise ValueError(f"not a duration: {text!r}")
        ms = Decimal(match.group(1)) * _UNITS_MS[match.group(2) or "s"]
        if ms != ms.to_integral_value():
            raise ValueError(f"finer than a millisecond: {text!r}")
        if ms > _MAX_SECONDS * 1000:
            raise ValueError(f"longer than {_MAX_SECONDS} seconds: {text!r}")
        return cls(int(ms))

    @property
    def seconds(self) -> float:
        return self.ms / 1000

    @property
    def pyspark_seconds(self) -> int:
        """Seconds for PySpark's DStream API, whose type stubs say ``int`` though it takes fractions."""
        return cast(int, self.ms / 1000)

    @property
    def survives_pyspark(self) -> bool:
        """PySpark turns seconds back into ms with ``int(seconds * 1000)``: 2010 ms becomes 2009."""
        return int(self.ms / 1000 * 1000) == self.ms

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
