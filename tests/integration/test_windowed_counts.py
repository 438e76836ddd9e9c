"""windowed_counts: exact windows per batch, incremental = recompute, DStream = Structured."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from sparkkit.testing import StreamHarness

INTERVAL_S = 0.5
BATCHES = [
    ["a b", "a"],
    ["b c"],
    [],
    ["a a a", "d"],
    ["c"],
    ["e a"],
    [],
    ["b"],
]


def dstream_expected(batches: list[list[str]], k: int, s: int) -> list[dict[str, int]]:
    """The window ending at batch j (emitted when (j + 1) % s == 0) covers batches j-k+1 .. j."""
    out = []
    for j in range(len(batches)):
        if (j + 1) % s:
            out.append({})
            continue
        counts = Counter(
            w for batch in batches[max(0, j - k + 1) : j + 1] for line in batch for w in line.split()
        )
        out.append(dict(counts))
    return out


def counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {row["key"]: row["count"] for row in rows}


@pytest.mark.parametrize("incremental", [True, False])
def test_dstream_windows_are_exact(stream_harness: StreamHarness, incremental: bool) -> None:
    options = {"window": "2s", "slide": "1s", "batch_interval": "500ms", "incremental": str(incremental)}
    outputs = stream_harness.run("windowed_counts", BATCHES, api="dstream", options=options)
    assert [counts(rows) for rows in outputs] == dstream_expected(BATCHES, k=4, s=2)
    for rows in outputs:
        for row in rows:
            assert row["window_end"] - row["window_start"] == timedelta(seconds=2)


def test_incremental_and_recompute_agree_and_drop_dead_keys(stream_harness: StreamHarness) -> None:
    options = {"window": "1s", "slide": "500ms", "batch_interval": "500ms"}
    batches = [["x y"], ["x"], [], [], ["y"]]
    inc = stream_harness.run("windowed_counts", batches, "dstream", {**options, "incremental": "true"})
    full = stream_harness.run("windowed_counts", batches, "dstream", {**options, "incremental": "false"})
    assert (
        [counts(r) for r in inc]
        == [counts(r) for r in full]
        == [{"x": 1, "y": 1}, {"x": 2, "y": 1}, {"x": 1}, {}, {"y": 1}]
    )


BASE = datetime(2026, 1, 1)


def as_events(batches: list[list[str]], interval: timedelta) -> list[list[dict[str, str]]]:
    """Each word of batch i as a JSON record whose event time is the batch's start, BASE + i * interval."""
    return [
        [{"k": w, "ts": (BASE + i * interval).isoformat()} for line in batch for w in line.split()]
        for i, batch in enumerate(batches)
    ]


def structured_expected(
    batches: list[list[str]], window: timedelta, slide: timedelta, until: datetime
) -> set[tuple]:
    """Event-time windows [start, start + window) with start a multiple of slide, closed by ``until``."""
    interval = timedelta(seconds=INTERVAL_S)
    found: Counter[tuple] = Counter()
    for i, batch in enumerate(batches):
        t = BASE + i * interval
        start = BASE + ((t - BASE) // slide) * slide
        while start + window > t:
            if start + window <= until:
                for line in batch:
                    for w in line.split():
                        found[(start, start + window, w)] += 1
            start -= slide
    return {(s, e, k, n) for (s, e, k), n in found.items()}


def test_structured_append_emits_each_closed_window_once(stream_harness: StreamHarness) -> None:
    interval, window, slide = timedelta(seconds=INTERVAL_S), timedelta(seconds=2), timedelta(seconds=1)
    options = {
        "window": "2s",
        "slide": "1s",
        "key": "k",
        "event_time": "ts",
        "watermark": "0s",
        "output_mode": "append",
    }
    outputs = stream_harness.run("windowed_counts", as_events(BATCHES, interval), "structured", options)
    emitted = [(r["window_start"], r["window_end"], r["key"], r["count"]) for rows in outputs for r in rows]
    assert len(emitted) == len(set(emitted)), "a window was emitted twice"
    last_event = BASE + (len(BATCHES) - 1) * interval
    assert set(emitted) == structured_expected(BATCHES, window, slide, last_event)


def test_records_behind_the_watermark_are_counted_as_dropped(stream_harness: StreamHarness) -> None:
    def at(seconds: int, key: str) -> dict[str, str]:
        return {"k": key, "ts": (BASE + timedelta(seconds=seconds)).isoformat()}

    batches = [[at(0, "a"), at(10, "a")], [at(1, "late")], [at(11, "a")]]  # watermark 10s - 2s = 8s
    options = {"window": "5s", "key": "k", "event_time": "ts", "watermark": "2s", "output_mode": "update"}
    outputs = stream_harness.run("windowed_counts", batches, "structured", options)
    assert all(r["key"] != "late" for rows in outputs for r in rows)
    assert stream_harness.last_stats is not None and stream_harness.last_stats.dropped_late == 1


def test_dstream_and_structured_agree_when_batch_time_is_event_time(stream_harness: StreamHarness) -> None:
    interval = timedelta(seconds=INTERVAL_S)
    base_options = {"window": "2s", "slide": "1s", "batch_interval": "500ms"}
    dstream = stream_harness.run("windowed_counts", BATCHES, "dstream", base_options)
    structured = stream_harness.run(
        "windowed_counts", as_events(BATCHES, interval), "structured",
        {**base_options, "key": "k", "event_time": "ts", "watermark": "0s", "output_mode": "append"},
    )  # fmt: skip
    window = timedelta(seconds=2)
    closed = (len(BATCHES) - 1) * interval  # windows the watermark has closed, relative to BASE
    from_dstream = {
        ((j + 1) * interval - window, r["key"], r["count"])
        for j, rows in enumerate(dstream)
        for r in rows
        if (j + 1) * interval <= closed
    }
    from_structured = {(r["window_start"] - BASE, r["key"], r["count"]) for rows in structured for r in rows}
    assert from_dstream == from_structured
