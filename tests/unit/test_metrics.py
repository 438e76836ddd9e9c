"""Metrics records from real Spark progress, and the JSON-lines metrics file.

The progress files in tests/data/progress were captured from PySpark 4.3 queries reading a
two-partition topic through sparkkit's Kafka source (maxOffsetsPerTrigger=1000):

- kafka_windowed_counts: a 5-second windowed count with a 10-second watermark, batch 1; Spark
  reports ``latestOffset: null`` (the source does not implement ``reportLatestOffset``);
- kafka_reported_latest: the same query over a subclass of the reader that implements
  ``reportLatestOffset``, batch 0 (before any watermark), where Spark fills ``latestOffset``;
- kafka_foreach_batch: a stateless query into ``foreachBatch`` (numOutputRows -1), batch 1.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sparkkit.metrics import (
    MetricsLog,
    dstream_record,
    iso_time,
    kafka_lag,
    kafka_offsets,
    latest_by_query,
    read_metrics,
    structured_record,
)
from tests.captures import LATEST, captured


def test_a_windowed_kafka_batch_gives_its_fields_and_keeps_the_whole_progress() -> None:
    progress = captured("kafka_windowed_counts")
    record = structured_record(progress, "page_views", {"rows_written": 1, "dead_letters": 2})
    assert record == {
        "time": "2026-11-25T14:08:37.203Z",
        "query": "page_views",
        "api": "structured",
        "batch": 1,
        "input_rows": 1000,
        "input_rows_per_second": 159.3,
        "processed_rows_per_second": 910.7,
        "batch_duration_ms": 1098,
        "state_rows": 1,
        "state_memory_bytes": 1328,
        "watermark": "2026-11-25T14:07:58.436Z",
        "kafka_lag": None,  # Spark reports latestOffset null for sparkkit's source
        "output_rows": 1,
        "rows_written": 1,
        "dead_letters": 2,
        "progress": captured("kafka_windowed_counts"),
    }
    assert list(record)[-1] == "progress"
    assert progress["sources"][0]["latestOffset"] is None


def test_lag_comes_from_the_callers_latest_offsets_when_spark_reports_none() -> None:
    record = structured_record(captured("kafka_windowed_counts"), "page_views", latest_offsets=LATEST)
    assert record["kafka_lag"] == (1309 - 1019) + (1262 - 981)


def test_lag_comes_from_sparks_latest_offset_when_the_source_reports_it() -> None:
    progress = captured("kafka_reported_latest")
    assert progress["sources"][0]["latestOffset"] == LATEST
    expected = (1309 - 510) + (1262 - 490)
    assert structured_record(progress, "q")["kafka_lag"] == expected
    # Spark's figure, taken with the batch's end offsets, wins over the caller's
    assert structured_record(progress, "q", latest_offsets={"views:0": 9999})["kafka_lag"] == expected


def test_the_epoch_watermark_spark_reports_before_the_first_one_is_none() -> None:
    progress = captured("kafka_reported_latest")
    assert progress["eventTime"]["watermark"] == "1970-01-01T00:00:00.000Z"
    record = structured_record(progress, "q")
    assert (record["watermark"], record["batch"], record["input_rows_per_second"]) == (None, 0, 0.0)


def test_a_stateless_foreach_batch_query_has_no_state_watermark_or_output_count() -> None:
    progress = captured("kafka_foreach_batch")
    assert "eventTime" not in progress and progress["sink"]["numOutputRows"] == -1
    record = structured_record(progress, "lines", latest_offsets={"views:0": 2517, "views:1": 2483})
    unknown = ("state_rows", "state_memory_bytes", "watermark", "output_rows")
    assert {k: record[k] for k in unknown} == dict.fromkeys(unknown)
    assert (record["batch"], record["input_rows"], record["batch_duration_ms"]) == (1, 2000, 567)
    assert record["kafka_lag"] == (2517 - 2014) + (2483 - 1986)


def test_offsets_older_than_the_batch_end_give_no_negative_lag() -> None:
    assert structured_record(captured("kafka_foreach_batch"), "q", latest_offsets=LATEST)["kafka_lag"] == 0


def test_batch_duration_falls_back_to_the_trigger_execution_time() -> None:
    progress = captured("kafka_foreach_batch")
    del progress["batchDuration"]
    assert structured_record(progress, "q")["batch_duration_ms"] == progress["durationMs"]["triggerExecution"]


def test_counts_may_not_overwrite_the_records_own_keys() -> None:
    with pytest.raises(ValueError, match="batch, progress"):
        structured_record(captured("kafka_foreach_batch"), "q", {"batch": 1, "progress": 2})


def test_kafka_offsets_read_sparkkits_and_the_connectors_forms_only() -> None:
    assert kafka_offsets({"views:0": 5, "a:b:1": 7}) == {"views:0": 5, "a:b:1": 7}
    assert kafka_offsets('{"views:0": 5}') == {"views:0": 5}
    assert kafka_offsets({"views": {"0": 5, "1": 6}}, "KafkaV2[Subscribe[views]]") == {
        "views:0": 5,
        "views:1": 6,
    }
    assert kafka_offsets({"views": {"0": 5}}, "SomeOtherSource") is None
    assert kafka_offsets({"logOffset": 3}, "FileStreamSource[file:/in]") is None
    assert kafka_offsets(41, "RateStreamV2[rowsPerSecond=1]") is None
    assert kafka_offsets(None) is None


def test_lag_is_summed_over_kafka_sources_and_ignores_others() -> None:
    sources = [
        {
            "description": "KafkaV2[Subscribe[a]]",
            "endOffset": {"a": {"0": 10}},
            "latestOffset": {"a": {"0": 15}},
        },
        {"description": "python", "endOffset": {"b:0": 3, "b:1": 4}, "latestOffset": None},
        {"description": "FileStreamSource[file:/in]", "endOffset": {"logOffset": 3}, "latestOffset": None},
    ]
    assert kafka_lag(sources, {"b:0": 5, "b:1": 4, "c:0": 100}) == 5 + 2
    assert kafka_lag(sources[2:], {"b:0": 5}) is None
    assert kafka_lag(sources[1:2]) is None


def test_a_dstream_record_has_the_same_keys_where_they_mean_something() -> None:
    record = dstream_record("wordcount", 1_764_079_717_000, 2000, 1250, 12, {"dead_letters": 3})
    assert record == {
        "time": "2025-11-25T14:08:37.000Z",
        "query": "wordcount",
        "api": "dstream",
        "batch": 1_764_079_717_000,
        "input_rows": 2000,
        "input_rows_per_second": None,
        "processed_rows_per_second": 1600.0,
        "batch_duration_ms": 1250,
        "scheduling_delay_ms": 12,
        "state_rows": None,
        "state_memory_bytes": None,
        "watermark": None,
        "kafka_lag": None,
        "output_rows": None,
        "dead_letters": 3,
    }


def test_unknown_dstream_delays_are_none() -> None:
    record = dstream_record("wc", 1000, 0, -1, -1)
    assert (record["batch_duration_ms"], record["scheduling_delay_ms"]) == (None, None)
    assert record["processed_rows_per_second"] is None
    assert iso_time(1_764_079_717_203) == "2025-11-25T14:08:37.203Z"


def test_two_threads_appending_500_records_each_write_1000_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "run" / "metrics.jsonl"
    log = MetricsLog(path)
    progress = captured("kafka_windowed_counts")

    def append(query: str) -> None:
        for batch in range(500):
            log.append({**structured_record(progress, query), "batch": batch})

    threads = [threading.Thread(target=append, args=(q,)) for q in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()

    lines = path.read_text().splitlines()
    assert len(lines) == 1000
    records = [json.loads(line) for line in lines]
    for query in ("a", "b"):
        assert [r["batch"] for r in records if r["query"] == query] == list(range(500))
    assert read_metrics(path) == records
    assert records[0]["progress"] == progress


def test_a_reopened_log_continues_the_file_and_writes_datetimes_as_text(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    with MetricsLog(path) as log:
        log.append(dstream_record("wc", 1000, 1, 1, 1))
    with MetricsLog(path) as log:
        log.append({"query": "wc", "time": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)})
    records = read_metrics(path)
    assert [r["time"] for r in records] == ["1970-01-01T00:00:01.000Z", "2026-01-02 03:04:05+00:00"]
    log.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        log.append({"query": "wc"})


def test_a_torn_last_line_is_skipped_and_a_restart_writes_after_it(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    whole = json.dumps(dstream_record("wc", 1000, 1, 1, 1))
    path.write_text(whole + "\n" + whole[:37])
    assert [r["batch"] for r in read_metrics(path)] == [1000]
    with MetricsLog(path) as log:
        log.append(dstream_record("wc", 2000, 1, 1, 1))
    assert [r["batch"] for r in read_metrics(path)] == [1000, 2000]
    assert path.read_text().splitlines()[1] == whole[:37]


def test_the_latest_record_of_each_query_in_first_seen_order() -> None:
    records = [{"query": "b", "batch": 0}, {"query": "a", "batch": 0}, {"query": "b", "batch": 1}]
    latest = latest_by_query(records)
    assert list(latest) == ["b", "a"]
    assert latest["b"]["batch"] == 1
