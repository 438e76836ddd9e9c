"""running_counts: totals since the start for changed keys, exact per batch; idle keys time out.

The Structured form's timeout is a processing-time TTL on each key's state: the tests set the
processing time of every batch (the harness's trigger clock) and compare outputs, state sizes
and evictions with a plain-Python model of the TTL, at the millisecond on either side of it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pytest

from sparkkit.errors import SparkkitError
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


@dataclass
class TtlModel:
    """Running totals whose keys expire ``ttl_ms`` after their last update, as Spark's TTL
    state does: a value updated by the batch at time ``t`` is gone for every batch at a time
    ``>= t + ttl_ms`` (read as absent, then evicted at the end of the batch unless updated)."""

    ttl_ms: int
    state: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (total, expires at)

    def batch(self, words: list[str], now_ms: int) -> tuple[dict[str, int], int, int]:
        """The batch's output, then how many keys it keeps and how many it evicts at its end."""
        out = {}
        for word, seen in Counter(words).items():
            total, expires = self.state.get(word, (0, 0))
            total = total if now_ms < expires else 0
            self.state[word] = (total + seen, now_ms + self.ttl_ms)
            out[word] = total + seen
        evicted = [key for key, (_, expires) in self.state.items() if now_ms >= expires]
        for key in evicted:
            del self.state[key]
        return out, len(self.state), len(evicted)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_structured_state_timeout_expires_keys_exactly_at_the_ttl(stream_harness: StreamHarness) -> None:
    ttl = 10_000
    t0 = 1_700_000_000_000
    # (processing time of the batch, its lines); the trigger is 500 ms, so each time is at or
    # after the trigger following the one before
    timeline = [
        (t0, ["a b c"]),
        (t0 + 4_000, ["a"]),
        (t0 + ttl - 1, ["d"]),  # b and c: 1 ms short of their TTL, still kept
        (t0 + ttl, ["b"]),  # b and c: exactly their TTL: b starts again at 1, c is evicted
        (t0 + 4_000 + ttl - 1, ["a"]),  # a: 1 ms short, its total goes on
        (t0 + 2 * ttl, []),  # d (1 ms past) and b (exactly) evicted with no input of theirs
        (t0 + 4_000 + 2 * ttl - 2, ["c d"]),  # a: 1 ms short again
        (t0 + 4_000 + 2 * ttl, []),  # a: 1 ms past
        (t0 + 4_000 + 3 * ttl - 2, ["a c"]),  # c and d: exactly their TTL; a: evicted, new
    ]
    times = [at for at, _ in timeline]
    model = TtlModel(ttl)
    expected = [model.batch([w for line in lines for w in line.split()], at) for at, lines in timeline]
    assert expected[3][0] == {"b": 1} and expected[8][0] == {"a": 1, "c": 1}  # the model does expire

    outputs = stream_harness.run(
        "running_counts", [lines for _, lines in timeline], options={"state_timeout": "10s"}, times_ms=times
    )

    assert [counts(rows) for rows in outputs] == [out for out, _, _ in expected]
    main = [m for m in stream_harness.last_metrics if m["query"] == "running_counts_main"]
    assert [m["time"] for m in main] == [iso(at) for at in times]  # Spark's batch timestamps
    assert [m["state_rows"] for m in main] == [kept for _, kept, _ in expected]
    operators = [m["progress"]["stateOperators"][0]["customMetrics"] for m in main]
    assert [op["numValuesRemovedDueToTTLExpiry"] for op in operators] == [n for _, _, n in expected]


def test_processing_times_must_reach_the_next_trigger(stream_harness: StreamHarness) -> None:
    with pytest.raises(SparkkitError, match=r"times_ms\[1\] = 1000499: .* next trigger .* at 1000500 ms"):
        stream_harness.run("running_counts", [["a"], ["a"]], times_ms=[1_000_000, 1_000_499])
