"""The stream processor over files dropped into directories: every answer computed independently.

Three streams of different types (JSON clicks, JSON purchases, text notes), arriving in rounds
that are not synchronised; standing queries: a windowed count with a watermark (a late record
dropped and counted), a join of two streams at different rates with an event-time range, and a
stateless query over a stream read from its source. The archive, the dead letters, working
storage, file and memory outputs, and backfill over the archive are all checked whole.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from sparkkit.backfill import backfill
from sparkkit.deadletter_writer import read_dead_letters
from sparkkit.deadletters import NOT_JSON
from sparkkit.errors import CheckpointMismatchError, QueryRefusedError
from sparkkit.pipeline import load_pipeline
from sparkkit.processor import Processor, prepare_pipeline
from sparkkit.sinks import memory_table
from sparkkit.sources import generator_records
from tests.processes import json_rows

BASE = datetime(2026, 1, 1, tzinfo=timezone.utc)
WINDOW_S = 10


def at(seconds: float) -> str:
    return (BASE + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def drop(directory: Path, name: str, lines: list[str]) -> None:
    """Write elsewhere, then rename into the watched directory, as file sources require."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory.parent / f".{directory.name}-{name}"
    tmp.write_text("".join(line + "\n" for line in lines))
    tmp.rename(directory / name)


def click(user: str, page: str, second: float) -> dict[str, Any]:
    return {"user": user, "page": page, "ts": at(second)}


def buy(user: str, amount: int, second: float) -> dict[str, Any]:
    return {"user": user, "amount": amount, "ts": at(second)}


def round_clicks(first: int, last: int) -> list[dict[str, Any]]:
    return [click(f"u{s % 4}", f"p{(s * 7) % 3}", s + 0.25) for s in range(first, last + 1)]


ROUND1_CLICKS = round_clicks(1, 25)
ROUND1_BUYS = [buy("u1", 10, 5), buy("u2", 20, 12.5), buy("u3", 30, 30)]
ROUND2_CLICKS = round_clicks(26, 60)
ROUND2_BUYS = [buy("u0", 40, 40), buy("u2", 50, 55)]
LATE = click("late", "p0", 3)  # arrives after the watermark (60 - 10 s) has passed its window
FLUSH = click("flush", "flush", 200)  # moves the watermark past every other window
NOTES = ["hello", "world!", "a longer note"]


def pipeline_file(tmp: Path, queries: str | None = None) -> Path:
    out = tmp / "out"
    text = f"""
[pipeline]
name = "shop"
batch_interval = "200ms"

[streams.clicks]
source = "file://{tmp / "clicks"}?format=json"
schema = "user STRING, page STRING, ts TIMESTAMP"
event_time = "ts"
watermark = "10s"
working = "3 rows"

[streams.buys]
source = "file://{tmp / "buys"}?format=json"
schema = "user STRING, amount BIGINT, ts TIMESTAMP"
event_time = "ts"
watermark = "10s"

[streams.notes]
source = "file://{tmp / "notes"}?format=text"
archive = false
"""
    text += (
        queries
        or f"""
[queries.page_views]
sql = \"\"\"SELECT window(ts, '{WINDOW_S} seconds') AS window, page, count(*) AS views
         FROM clicks GROUP BY window(ts, '{WINDOW_S} seconds'), page\"\"\"
output = "json://{out / "page_views"}"

[queries.bought]
sql = \"\"\"SELECT c.user, c.page, b.amount, c.ts AS clicked, b.ts AS bought
         FROM clicks c JOIN buys b
         ON c.user = b.user AND b.ts BETWEEN c.ts AND c.ts + INTERVAL 20 SECONDS\"\"\"
output = "json://{out / "bought"}"

[queries.note_lengths]
sql = "SELECT value AS note, length(value) AS chars FROM notes"
"""
    )
    path = tmp / "shop.toml"
    path.write_text(text)
    return path


def seconds(text: str) -> float:
    return (datetime.fromisoformat(text.replace("Z", "+00:00")) - BASE).total_seconds()


def seconds_of(moment: datetime) -> float:
    """Seconds since BASE of a timestamp Spark returned (naive, in the session's UTC)."""
    return (moment.replace(tzinfo=timezone.utc) - BASE).total_seconds()


def expected_views(clicks: list[dict[str, Any]]) -> Counter[tuple[float, str]]:
    return Counter((seconds(c["ts"]) // WINDOW_S * WINDOW_S, c["page"]) for c in clicks)


def expected_pairs(clicks: list[dict[str, Any]], buys: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    return Counter(
        (c["user"], c["page"], b["amount"], seconds(c["ts"]), seconds(b["ts"]))
        for c in clicks
        for b in buys
        if c["user"] == b["user"] and 0 <= seconds(b["ts"]) - seconds(c["ts"]) <= 20
    )


def views_of(rows: list[dict[str, Any]]) -> Counter[tuple[float, str]]:
    views: Counter[tuple[float, str]] = Counter()
    for row in rows:
        assert seconds(row["window"]["end"]) - seconds(row["window"]["start"]) == WINDOW_S
        views[(seconds(row["window"]["start"]), row["page"])] += row["views"]
    return views


def pairs_of(rows: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    return Counter(
        (r["user"], r["page"], r["amount"], seconds(r["clicked"]), seconds(r["bought"])) for r in rows
    )


def archived(spark: SparkSession, path: Path, columns: list[str]) -> Counter[tuple[Any, ...]]:
    df = spark.read.parquet(str(path)).withColumn("ts", F.date_format("ts", "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"))
    return Counter(tuple(row) for row in df.select(*columns).collect())


def as_tuples(records: list[dict[str, Any]], columns: list[str]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(r[c] for c in columns) for r in records)


def last_run_batch(query: StreamingQuery) -> int:
    """The id of the query's last batch run. Not ``lastProgress``: while a query idles, Spark
    adds a report to it every ``noDataProgressEventInterval`` that carries the next batch's id,
    and listeners get ``onQueryIdle`` for it, not its progress."""
    return max(p["batchId"] for p in query.recentProgress if "addBatch" in p["durationMs"])


def test_streams_queries_archive_and_backfill_are_exact(spark: SparkSession, tmp_path: Path) -> None:
    pipeline = load_pipeline(pipeline_file(tmp_path))
    prepared = prepare_pipeline(pipeline, tmp_path / "ck")
    processor = Processor(prepared, spark).start()
    try:
        drop(tmp_path / "clicks", "r1.json", [json.dumps(c) for c in ROUND1_CLICKS] + ['{"user": "broken'])
        drop(tmp_path / "buys", "r1.json", [json.dumps(b) for b in ROUND1_BUYS])
        drop(tmp_path / "notes", "n1.txt", NOTES)
        processor.process_all_available()
        drop(tmp_path / "buys", "r2.json", [json.dumps(b) for b in ROUND2_BUYS])
        processor.process_all_available()
        drop(tmp_path / "clicks", "r2.json", [json.dumps(c) for c in ROUND2_CLICKS])
        processor.process_all_available()
        drop(tmp_path / "clicks", "r3.json", [json.dumps(LATE), json.dumps(FLUSH)])
        processor.process_all_available()
        working = spark.sql("SELECT user FROM global_temp.clicks").collect()
        for name in ("page_views", "bought"):  # the state views are made after each batch's progress
            last = last_run_batch(processor.supervisor.query(name).query)  # type: ignore[union-attr]
            assert processor.state_views.wait_refreshed(name, last, 60)
        assert sorted(processor.state_views.views) == [
            "bought_state_left",
            "bought_state_right",
            "page_views_state",
        ]
        state = spark.sql("SELECT window, page, count FROM global_temp.page_views_state").collect()
        left = spark.sql("SELECT * FROM global_temp.bought_state_left").collect()
        right = spark.sql("SELECT * FROM global_temp.bought_state_right").collect()
    finally:
        processor.stop()

    clicks = ROUND1_CLICKS + ROUND2_CLICKS + [LATE, FLUSH]
    buys = ROUND1_BUYS + ROUND2_BUYS
    on_time = ROUND1_CLICKS + ROUND2_CLICKS
    out = tmp_path / "out"
    # the windowed count: every window the flush closed, the late record dropped and counted
    assert views_of(json_rows(out / "page_views")) == expected_views(on_time)
    assert processor.stats("page_views").dropped_late == 1
    # the state still held: each open window's count is exact; the join buffers real records
    views = expected_views([*on_time, FLUSH])
    assert state and all(views[(seconds_of(r["window"]["start"]), r["page"])] == r["count"] for r in state)
    assert (200.0, "flush") in {(seconds_of(r["window"]["start"]), r["page"]) for r in state}
    assert {(r["user"], seconds_of(r["ts"])) for r in left} <= {(c["user"], seconds(c["ts"])) for c in clicks}
    assert {(r["user"], seconds_of(r["ts"])) for r in right} <= {(b["user"], seconds(b["ts"])) for b in buys}
    # the join of two streams at different rates, with an event-time range
    assert pairs_of(json_rows(out / "bought")) == expected_pairs(clicks, buys)
    # a stream read from its source (archive = false), into memory://
    assert memory_table("note_lengths").rows() == [{"note": n, "chars": len(n)} for n in NOTES]
    # the archive: every good record once, with its origin and arrival
    archive = prepared.archive
    assert archived(spark, archive / "clicks", ["user", "page", "ts"]) == as_tuples(
        clicks, ["user", "page", "ts"]
    )
    assert archived(spark, archive / "buys", ["user", "amount", "ts"]) == as_tuples(
        buys, ["user", "amount", "ts"]
    )
    origins = spark.read.parquet(str(archive / "clicks")).select(
        "origin.source", "origin.file", "arrival_time"
    )
    files = {Path(r["file"].removeprefix("file:")).name for r in origins.collect()}
    assert files == {"r1.json", "r2.json", "r3.json"}
    assert {r["source"] for r in origins.collect()} == {f"file://{tmp_path / 'clicks'}"}
    assert origins.where("arrival_time IS NULL").count() == 0
    assert "arrival_date" in spark.read.parquet(str(archive / "clicks")).columns
    assert not (archive / "notes").exists()
    # dead letters: the broken line, with its stream and reason; good + dead = input
    letters = read_dead_letters(prepared.dead_letters / "clicks")
    assert [(d["stream"], d["reason"], d["value"]) for d in letters] == [
        ("clicks", NOT_JSON, '{"user": "broken')
    ]
    assert len(clicks) + len(letters) == len(ROUND1_CLICKS) + 1 + len(ROUND2_CLICKS) + 2
    # working storage: the newest 3 clicks, the last batch's two among them
    assert len(working) == 3 and {"late", "flush"} <= {r["user"] for r in working}

    # backfill: the same queries as batch jobs over the archive
    backfilled = tmp_path / "backfill"
    written = backfill(spark, pipeline, archive, backfilled)
    assert written["bought"] == sum(expected_pairs(clicks, buys).values())
    batch_views = views_of(_read_json_dir(backfilled / "page_views"))
    streamed = views_of(json_rows(out / "page_views"))
    # identical for every window the stream closed, but for the late record, which the stream
    # dropped and the archive keeps; the flush window was never closed
    assert batch_views - streamed == Counter({(0.0, "p0"): 1, (200.0, "flush"): 1})
    assert streamed - batch_views == Counter()
    assert pairs_of(_read_json_dir(backfilled / "bought")) == pairs_of(json_rows(out / "bought"))


def _read_json_dir(directory: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(directory.glob("part-*")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def test_a_changed_query_is_refused_and_an_added_one_starts_fresh(
    spark: SparkSession, tmp_path: Path
) -> None:
    count = """
[queries.per_page]
sql = "SELECT page, count(*) AS n FROM clicks GROUP BY page"
mode = "complete"
"""

    def drain(queries: str) -> Processor:
        """Run the pipeline with ``queries`` over what is in the directories, then stop."""
        pipeline = load_pipeline(pipeline_file(tmp_path, queries))
        processor = Processor(prepare_pipeline(pipeline, tmp_path / "ck"), spark).start()
        try:
            processor.process_all_available()
        finally:
            processor.stop()
        return processor

    drop(tmp_path / "clicks", "r1.json", [json.dumps(c) for c in ROUND1_CLICKS])
    drain(count)
    first = {r["page"]: r["n"] for r in memory_table("per_page").rows()}
    assert first == Counter(c["page"] for c in ROUND1_CLICKS)

    changed = count.replace("count(*) AS n", "count(*) AS n, max(ts) AS last")
    with pytest.raises(CheckpointMismatchError) as refused:
        prepare_pipeline(load_pipeline(pipeline_file(tmp_path, changed)), tmp_path / "ck")
    message = str(refused.value)
    assert message.startswith("query per_page: ")
    assert f"sparkkit checkpoint reset {tmp_path / 'ck' / 'shop' / 'per_page'}" in message
    assert "nothing was started" in message

    added = (
        count
        + """
[queries.per_user]
sql = "SELECT user, count(*) FROM clicks GROUP BY user"
mode = "complete"
"""
    )
    drop(tmp_path / "clicks", "r2.json", [json.dumps(c) for c in ROUND2_CLICKS])
    processor = drain(added)
    everything = ROUND1_CLICKS + ROUND2_CLICKS
    # the resumed query went on from its state; the added one read the whole archive
    assert {r["page"]: r["n"] for r in memory_table("per_page").rows()} == Counter(
        c["page"] for c in everything
    )
    # (an unnamed column keeps the name Spark gives it)
    per_user = {r["user"]: r["count(1)"] for r in memory_table("per_user").rows()}
    assert per_user == Counter(c["user"] for c in everything)
    assert processor.stats("per_page").batches == 1


@pytest.mark.parametrize(
    ("sql", "mode", "reason"),
    [
        ("SELECT count(DISTINCT user) AS users FROM clicks", "complete", "[Dd]istinct aggregations"),
        ("SELECT page, count(*) AS n FROM clicks GROUP BY page", "append", "output mode: append"),
        ("SELECT nope FROM clicks", "append", "nope"),
    ],
)
def test_a_query_spark_refuses_is_reported_before_anything_starts(
    spark: SparkSession, tmp_path: Path, sql: str, mode: str, reason: str
) -> None:
    queries = '\n[queries.fine]\nsql = "SELECT user FROM clicks"\n'
    queries += f'\n[queries.bad]\nsql = "{sql}"\nmode = "{mode}"\n'
    prepared = prepare_pipeline(load_pipeline(pipeline_file(tmp_path, queries)), tmp_path / "ck")
    before = {q.id for q in spark.streams.active}
    with pytest.raises(QueryRefusedError, match=rf"^query bad: .*{reason}") as refused:
        Processor(prepared, spark).start()
    assert "\n" not in str(refused.value)
    assert {q.id for q in spark.streams.active} == before
    assert not (tmp_path / "ck" / "shop" / "fine").exists()


def test_seeded_generator_streams_of_different_rates_are_exact(spark: SparkSession, tmp_path: Path) -> None:
    """Two JSON generators at different rates, per-window sums and a join: every answer from the
    same records computed in plain Python (generator_records)."""
    start_ms = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    fast, slow = (400, 2000), (40, 200)  # (rate per second, records)
    text = f"""
[pipeline]
name = "gen"
batch_interval = "500ms"

[streams.fast]
source = "generator://fast?format=json&rate={fast[0]}&keys=7&seed=1&count={fast[1]}&start={start_ms}"
event_time = "ts"
watermark = "1s"

[streams.slow]
source = "generator://slow?format=json&rate={slow[0]}&keys=7&seed=2&count={slow[1]}&start={start_ms}&prefix=fast"
event_time = "ts"
watermark = "1s"

[queries.sums]
sql = "SELECT key, count(*) AS n, round(sum(value), 2) AS total FROM fast GROUP BY key"
mode = "complete"
output = "memory://gen_sums?keep=1"

[queries.pairs]
sql = \"\"\"SELECT f.seq AS fast_seq, s.seq AS slow_seq FROM fast f JOIN slow s
         ON f.key = s.key AND f.ts BETWEEN s.ts AND s.ts + INTERVAL 100 MILLISECONDS\"\"\"
output = "memory://gen_pairs?keep=100000"
"""
    path = tmp_path / "gen.toml"
    path.write_text(text)
    fast_records = generator_records("fast", 0, fast[1], 1, 7, fast[0], start_ms)
    slow_records = generator_records("slow", 0, slow[1], 2, 7, slow[0], start_ms, prefix="fast")
    sums: dict[str, list[float]] = {}
    for r in fast_records:
        sums.setdefault(r["key"], []).append(r["value"])
    expected_sums = {k: (len(v), round(sum(v), 2)) for k, v in sums.items()}
    expected_pairs = Counter(
        (f["seq"], s["seq"])
        for f in fast_records
        for s in slow_records
        if f["key"] == s["key"] and 0 <= f["ts"] - s["ts"] <= 100
    )
    processor = Processor(prepare_pipeline(load_pipeline(path), tmp_path / "ck"), spark).start()
    pairs, totals = memory_table("gen_pairs"), memory_table("gen_sums")
    try:
        # a generator never runs dry: wait for the answers, then for two more ingest batches of
        # each stream, then drain the standing queries, which read the archive
        assert totals.wait_for(lambda t: sum(r["n"] for r in t.rows()) == fast[1], 120), totals.rows()
        assert pairs.wait_for(lambda t: len(t.rows()) >= sum(expected_pairs.values()), 120)
        for stream in ("fast", "slow"):
            ingest = processor.stats(f"{stream}.archive")
            seen = len(ingest.completed)
            assert ingest.wait_for(lambda s, seen=seen: len(s.completed) >= seen + 2, 60)
        assert processor.supervisor is not None
        for query in ("sums", "pairs"):
            processor.supervisor.query(query).process_all_available()
    finally:
        processor.stop()
    assert {r["key"]: (r["n"], r["total"]) for r in totals.rows()} == expected_sums
    assert Counter((r["fast_seq"], r["slow_seq"]) for r in pairs.rows()) == expected_pairs
