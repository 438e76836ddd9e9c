"""sessions: each closed session emitted once with exact start, end and count; both APIs agree."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest

from sparkkit.testing import StreamHarness

INTERVAL = timedelta(milliseconds=500)
GAP = timedelta(seconds=1)
# a: active in batches 0,1 then again at 4 (1.5 s later > 1 s gap: a new session)
# b: 0 and 2 (exactly the gap: one session, as Spark's session_window), then 5 (a new one)
# c: 3 only; trailing empty batches close everything
BATCHES = [["a b", "a"], ["a"], ["b"], ["c c"], ["a"], ["b"], [], [], [], []]
BASE = datetime(2026, 1, 1)

Session = tuple[str, timedelta, timedelta, int]


def expected_sessions(
    batches: list[list[str]], gap: timedelta, closed_by: timedelta | None = None
) -> set[Session]:
    """Sessions over event times i * INTERVAL (relative), split where the next event is > gap later."""
    events: dict[str, list[timedelta]] = {}
    for i, batch in enumerate(batches):
        for line in batch:
            for key in line.split():
                events.setdefault(key, []).append(i * INTERVAL)
    found: set[Session] = set()
    for key, times in events.items():
        start = last = times[0]
        count = 0
        for t in times:
            if t - last > gap:
                found.add((key, start, last + gap, count))
                start, count = t, 0
            last, count = t, count + 1
        found.add((key, start, last + gap, count))
    return {s for s in found if closed_by is None or s[2] <= closed_by}


def test_dstream_sessions(stream_harness: StreamHarness) -> None:
    outputs = stream_harness.run(
        "sessions", BATCHES, api="dstream", options={"gap": "1s", "batch_interval": "500ms"}
    )
    rows = [r for batch in outputs for r in batch]
    origin = min(r["session_start"] for r in rows)  # batch 0's start: every test session has a key there
    got = [(r["key"], r["session_start"] - origin, r["session_end"] - origin, r["count"]) for r in rows]
    assert len(got) == len(set(got)), "a session was emitted twice"
    assert set(got) == expected_sessions(BATCHES, GAP)


@pytest.mark.parametrize("sessionizer", ["session_window", "timers"])
def test_structured_sessions(stream_harness: StreamHarness, sessionizer: str) -> None:
    events = [
        [{"k": w, "ts": (BASE + i * INTERVAL).isoformat()} for line in batch for w in line.split()]
        for i, batch in enumerate(BATCHES)
    ]
    events[-1] = [{"k": "flush", "ts": (BASE + timedelta(minutes=1)).isoformat()}]  # moves the watermark on
    options = {"gap": "1s", "key": "k", "event_time": "ts", "watermark": "0s", "sessionizer": sessionizer}
    outputs = stream_harness.run("sessions", events, api="structured", options=options)
    got = [
        (r["key"], r["session_start"] - BASE, r["session_end"] - BASE, r["count"]) for b in outputs for r in b
    ]
    assert len(got) == len(set(got)), "a session was emitted twice"
    assert Counter(r[0] for r in got)["flush"] == 0  # still open
    assert set(got) == expected_sessions(BATCHES, GAP)
