"""Backfill: a pipeline's standing queries as batch jobs over the archive — one model for both.

Each archived stream is read back with ``spark.read.parquet(ARCHIVE/<stream>)`` (through the file
sink's log: each record once), optionally cut to ``[start, end)`` on its event time (or arrival
time), and registered under the stream's name; every standing query's SQL then runs as a batch
query and its rows are written to ``OUT/<query>/`` as JSON lines with the streaming output's
columns and timestamp format. For every window the streaming run closed, the rows are the same.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sparkkit.errors import ConfigError, JobFailedError, SparkkitError
from sparkkit.pipeline import Pipeline, default_pipeline, load_pipeline
from sparkkit.sinks.base import JSON_TIMESTAMP_FORMAT
from sparkkit.supervisor import first_line

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def parse_time(option: str, text: str | None) -> datetime | None:
    """An ISO-8601 time (``2026-11-25T10:00:00Z``, ``2026-11-25 10:00+01:00``); without a zone, UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(option, text, "an ISO-8601 time such as 2026-11-25T10:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def not_archived(pipeline: Pipeline) -> dict[str, list[str]]:
    """The queries that backfill cannot run, with the streams they read that keep no archive."""
    missing = {}
    for spec in pipeline.queries.values():
        streams = [name for name in spec.streams if not pipeline.streams[name].archive]
        if streams:
            missing[spec.name] = streams
    return missing


def check_backfill(pipeline: Pipeline, archive: Path) -> None:
    """Refuse, before Spark starts, an archive directory that is not one."""
    if not archive.is_dir():
        raise ConfigError(
            "--archive", archive, "the archive directory of a pipeline run (ROOT/<pipeline>/archive)"
        )
    if len(not_archived(pipeline)) == len(pipeline.queries):
        raise ConfigError("--pipeline", pipeline.path, "a pipeline with a query over archived streams only")
    for stream in pipeline.streams.values():
        path = archive / stream.name
        if stream.archive and not (path / "_spark_metadata").is_dir():
            raise ConfigError(
                "--archive", archive, f"an archive holding stream {stream.name} ({path} has none)"
            )


def backfill(
    spark: SparkSession,
    pipeline: Pipeline,
    archive: Path,
    out: Path,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, int]:
    """Run every standing query over the archive into ``out/<query>/``; rows written per query.

    A query that reads a stream with ``archive = false`` is skipped (see :func:`not_archived`).
    """
    from pyspark.sql import functions as F

    check_backfill(pipeline, archive)
    skipped = not_archived(pipeline)
    for stream in pipeline.streams.values():
        if not stream.archive:
            continue
        path = archive / stream.name
        if not (path / "_spark_metadata").is_dir():
            raise ConfigError(
                "--archive", archive, f"an archive holding stream {stream.name} ({path} has none)"
            )
        df = spark.read.parquet(str(path))
        time = F.col(stream.event_time or "arrival_time")
        if start is not None:
            df = df.where(time >= F.lit(start))
        if end is not None:
            df = df.where(time < F.lit(end))
        df.createOrReplaceTempView(stream.name)
    written = {}
    for spec in pipeline.queries.values():
        if spec.name in skipped:
            continue
        result = spark.sql(spec.sql).persist()
        try:
            written[spec.name] = result.count()
            result.coalesce(1).write.mode("overwrite").json(
                str(out / spec.name), timestampFormat=JSON_TIMESTAMP_FORMAT
            )
        finally:
            result.unpersist()
    return written


def run_backfill(
    pipeline_file: str | Path | None,
    archive: str | Path,
    out: str | Path,
    start: str | None = None,
    end: str | None = None,
    master: str | None = None,
    report: TextIO = sys.stdout,
) -> dict[str, int]:
    """``sparkkit backfill``: check everything, start Spark, run the queries, say what was written.

    A window that straddles ``start`` or ``end`` holds only the records inside the range.
    """
    from sparkkit.session import build_spark_session, stop_session

    pipeline = load_pipeline(pipeline_file or default_pipeline())
    archive_dir, out_dir = Path(archive).resolve(), Path(out).resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError("--out", out_dir, "a directory (this is a file)")
    since, until = parse_time("--from", start), parse_time("--to", end)
    check_backfill(pipeline, archive_dir)
    try:
        spark = build_spark_session(f"sparkkit-backfill-{pipeline.name}", master)
    except Exception as exc:
        raise JobFailedError(f"backfill could not start Spark: {first_line(exc)}") from exc
    try:
        written = backfill(spark, pipeline, archive_dir, out_dir, since, until)
    except SparkkitError:
        raise
    except Exception as exc:
        raise JobFailedError(f"backfill failed: {first_line(exc)}") from exc
    finally:
        stop_session(spark)
    for query, rows in written.items():
        print(f"{query}: {rows} rows -> {out_dir / query}", file=report)
    for query, streams in not_archived(pipeline).items():
        print(
            f"{query}: skipped, it reads {', '.join(streams)}, which keep no archive (archive = false)",
            file=report,
        )
    return written
