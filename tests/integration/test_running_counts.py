"""running_counts: totals since the start for changed keys, exact per batch; idle keys time out."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from sparkkit.testing import StreamHarness

BATCHES = [["a b", "a"], ["b c"], [], ["a"], ["d d"], ["c"]]


def expected(batches: list[list[str]]) -> list[dict[str, int]]:
    totals: Counter[str] = Counter()
    out = []
    for batch in batches:
        words = [w for line in batch for w in line.split()]
        totals.update(words)
        out.append({w: totals[w] for w in set(words)})
    return out


def counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {row["key"]: row["count"] for row in rows}


@pytest.mark.parametrize("api", ["dstream", "structured"])
def test_totals_of_changed_keys_per_batch(stream_harness: StreamHarness, api: str) -> None:
    outputs = stream_harness.run("running_counts", BATCHES, api=api)
    assert [counts(rows) for rows in outputs] == expected(BATCHES)


def test_dstream_state_timeout_forgets_idle_keys(stream_harness: StreamHarness) -> None:
    batches = [["a b"], ["b"], ["b"], ["b"], ["a b"]]
    options = {"state_timeout": "1s", "batch_interval": "500ms"}  # idle for 2 batches: forgotten
    outputs = stream_harness.run("running_counts", batches, api="dstream", options=options)
    assert [counts(rows) for rows in outputs] == [
        {"a": 1, "b": 1},
        {"b": 2},
        {"b": 3},
        {"b": 4},
        {"a": 1, "b": 5},
    ]
