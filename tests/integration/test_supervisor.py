"""The supervisor owns a run's queries: a start that fails or a query that fails stops them all.

These are the three defects of the single-query runner, each with real Structured queries: a
stateful job over a JSON source runs two (its dead letters and the main query).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from sparkkit.config import load_config
from sparkkit.errors import JobFailedError
from sparkkit.jobs import get_job
from sparkkit.runner import Run, prepare, run
from sparkkit.supervisor import StructuredQuery, Supervisor


def our_active(spark: SparkSession, names: set[str]) -> set[str]:
    return {q.name for q in spark.streams.active if q.name in names}


def running_counts(tmp_path: Path, **cli: object):  # type: ignore[no-untyped-def]
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    (inbox / "events.json").write_text('{"user": "ann"}\nnot json\n{"user": "bob"}\n')
    options = {
        "source": [f"file://{inbox}?format=json&schema=user%20STRING"],
        "key": "user",
        "sink": "memory://supervised?view=false",
        "checkpoint": str(tmp_path / "ck"),
        "batch_interval": "200ms",
        **cli,
    }
    job = get_job("running_counts")
    return load_config(job.name, job.options, cli=options, env={}, conf_dir=tmp_path / "no-conf")


def test_a_query_that_cannot_start_stops_those_already_started(spark: SparkSession, tmp_path: Path) -> None:
    prepared = prepare(running_counts(tmp_path))
    assert prepared.layout is not None
    # Spark reads ROOT/JOB/main/metadata as a file when the main query starts: a directory there
    # makes that start fail after the dead-letter query has started.
    (prepared.layout.path / "metadata").mkdir(parents=True)
    job_run = Run(prepared, spark)
    names = {"running_counts_main", "running_counts_main-dead-letters"}
    with pytest.raises(JobFailedError, match=r"^running_counts_main could not start: "):
        job_run.start()
    assert job_run.supervisor is not None
    assert [q.name for q in job_run.supervisor.started] == ["running_counts_main-dead-letters"]
    assert our_active(spark, names) == set()


def test_a_failing_dead_letter_query_fails_the_run_and_stops_the_main_query(
    spark: SparkSession, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.mkdir()  # a directory while the options are checked, a file when the run writes there
    config = running_counts(tmp_path, dead_letters=str(blocked / "letters"), duration="120s")
    blocked.rmdir()
    blocked.write_text("a file where the dead letters should go\n")
    with pytest.raises(JobFailedError, match=r"^running_counts_main-dead-letters failed: "):
        run(config, spark)
    assert our_active(spark, {"running_counts_main", "running_counts_main-dead-letters"}) == set()


def test_one_failing_query_stops_the_others_with_its_error(spark: SparkSession, tmp_path: Path) -> None:
    inbox = tmp_path / "lines"
    inbox.mkdir()
    (inbox / "a.txt").write_text("one\ntwo\n")
    lines = spark.readStream.format("text").load(str(inbox))

    def boom(df: DataFrame, batch_id: int) -> None:
        raise RuntimeError(f"boom in batch {batch_id}")

    def keep(df: DataFrame, batch_id: int) -> None:
        df.count()

    def query(name: str, target) -> StructuredQuery:  # type: ignore[no-untyped-def]
        writer = lines.writeStream.foreachBatch(target).queryName(name)
        writer = writer.option("checkpointLocation", str(tmp_path / name))
        return StructuredQuery(name, f"test/{name}", writer)

    supervisor = Supervisor(spark, [query("steady", keep), query("failing", boom)]).start()
    with pytest.raises(JobFailedError, match=r"^failing failed: .*boom in batch 0"):
        supervisor.wait(duration=120)
    assert our_active(spark, {"steady", "failing"}) == set()


def test_a_start_refused_by_spark_leaves_nothing_running(spark: SparkSession, tmp_path: Path) -> None:
    inbox = tmp_path / "words"
    inbox.mkdir()
    words = spark.readStream.format("text").load(str(inbox))
    fine = StructuredQuery("fine", "test/fine", words.writeStream.format("noop").queryName("fine"))
    # an aggregation without a watermark cannot be written in append mode: refused at start
    refused_writer = words.groupBy("value").count().writeStream.outputMode("append").format("noop")
    refused = StructuredQuery("refused", "test/refused", refused_writer.queryName("refused"))
    with pytest.raises(JobFailedError, match=r"^refused could not start: .*output mode: append"):
        Supervisor(spark, [fine, refused]).start()
    assert our_active(spark, {"fine", "refused"}) == set()
