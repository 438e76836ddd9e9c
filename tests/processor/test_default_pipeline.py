"""The default pipeline (conf/jobs/streams.toml) under the harness: scripted rounds of its three
streams, every standing query's output computed independently in plain Python."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

from sparkkit.approx import hll_rse
from sparkkit.pipeline import default_pipeline
from sparkkit.testing import StreamHarness

BASE = datetime(2026, 1, 1, tzinfo=timezone.utc)


def at(seconds: float) -> str:
    return (BASE + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return (value.replace(tzinfo=timezone.utc) - BASE).total_seconds()
    return (datetime.fromisoformat(value.replace("Z", "+00:00")) - BASE).total_seconds()


def event(user: int, seq: int, value: float, second: float) -> dict[str, Any]:
    return {"key": f"user-{user}", "seq": seq, "value": value, "ts": at(second)}


CLICKS = [event(s % 5, s, 0.0, s * 0.5) for s in range(80)]  # 40 s of clicks
PAYMENTS = [event((3 * s) % 5, s, round(1.5 * s + 0.25, 2), s * 2.0 + 0.75) for s in range(20)]
FLUSH = event(99, 999, 1.0, 300)  # moves both watermarks past every window


def test_the_default_pipeline_answers_exactly(stream_harness: StreamHarness) -> None:
    rounds = [
        {"views": ["page-1", "page-2", "page-1"], "clicks": CLICKS[:40], "payments": PAYMENTS[:10]},
        {"clicks": CLICKS[40:], "payments": PAYMENTS[10:]},
        {"clicks": [FLUSH], "payments": [FLUSH]},
    ]
    outputs = stream_harness.run_pipeline(default_pipeline(), rounds)
    rows = {query: [row for out in outputs for row in out[query]] for query in outputs[0]}

    revenue: dict[float, list[float]] = {}
    for p in PAYMENTS:
        revenue.setdefault(seconds(p["ts"]) // 10 * 10, []).append(p["value"])
    assert {
        seconds(r["window"]["start"]): (r["payments"], r["total"], r["largest"]) for r in rows["revenue"]
    } == {start: (len(v), round(sum(v), 2), max(v)) for start, v in revenue.items()}

    paid = Counter(
        (c["key"], seconds(c["ts"]), seconds(p["ts"]), p["value"])
        for c in [*CLICKS, FLUSH]
        for p in [*PAYMENTS, FLUSH]
        if c["key"] == p["key"] and 0 <= seconds(p["ts"]) - seconds(c["ts"]) <= 10
    )
    assert (
        Counter(
            (r["user"], seconds(r["clicked"]), seconds(r["paid"]), r["amount"]) for r in rows["paid_clicks"]
        )
        == paid
    )

    # distinct users per window, approximated: within 4 standard errors (small counts: exact)
    users: dict[float, list[str]] = {}
    for c in [*CLICKS, FLUSH]:
        users.setdefault(seconds(c["ts"]) // 10 * 10, []).append(c["key"])
    closed = {start: keys for start, keys in users.items() if start < 300}
    answered = {seconds(r["window"]["start"]): r for r in rows["active_users"]}
    assert sorted(answered) == sorted(closed)
    for start, keys in closed.items():
        row = answered[start]
        assert row["clicks"] == len(keys) and row["users_rse"] == hll_rse(12)
        assert abs(row["users"] - len(set(keys))) <= 4 * row["users_rse"] * len(set(keys))

    # page views are windowed on arrival time, and the views' watermark (2 s behind the newest
    # arrival) moves only with views: their one window never closes, so nothing is emitted yet;
    # working storage holds them
    assert rows["page_views"] == []
    working = stream_harness.spark.sql("SELECT value FROM global_temp.views").collect()
    assert sorted(r["value"] for r in working) == ["page-1", "page-1", "page-2"]
    processor = stream_harness.last_processor
    assert processor is not None
    assert processor.archived() == {"views": 3, "clicks": 81, "payments": 21}
