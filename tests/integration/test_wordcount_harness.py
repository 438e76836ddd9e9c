"""wordcount over scripted batches through the harness: exact per-batch counts, both APIs agree."""

from __future__ import annotations

from collections import Counter

import pytest

from sparkkit.testing import StreamHarness, as_counts

BATCHES = [
    ["the quick brown fox", "jumps over the lazy dog"],
    [],
    ["  The the THE  ", "tabs\tand\nnewlines", "unicode\u00a0nbsp\u2003em\u3000ideographic"],
    ["sep\x1cfile\x1dgroup\x1erecord\x1funit", "a", "a a"],
]


def expected(batches: list[list[str]]) -> list[dict[str, int]]:
    return [dict(Counter(word for line in batch for word in line.split())) for batch in batches]


@pytest.mark.parametrize("api", ["dstream", "structured"])
def test_counts_each_batch_exactly(stream_harness: StreamHarness, api: str) -> None:
    outputs = stream_harness.run("wordcount", BATCHES, api=api)
    assert [as_counts(rows) for rows in outputs] == expected(BATCHES)


def test_apis_agree(stream_harness: StreamHarness) -> None:
    structured = stream_harness.run("wordcount", BATCHES, api="structured")
    dstream = stream_harness.run("wordcount", BATCHES, api="dstream")
    assert [as_counts(b) for b in structured] == [as_counts(b) for b in dstream]
    assert all("batch_time" in row for rows in structured + dstream for row in rows)
