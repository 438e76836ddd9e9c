"""The stream processor: a pipeline's streams and standing queries, run as supervised Structured queries.

How the records flow (one :class:`~sparkkit.supervisor.Supervisor` owns every query):

- **ingest** (``<stream>.archive``), one query per archived stream: the source is read once,
  unreadable records split off, and each record is written with its ``origin`` and
  ``arrival_time`` to Parquet under ``ARCHIVE/<stream>/arrival_date=…`` by Spark's file sink,
  whose log (``_spark_metadata``) makes the archive exactly once: ``spark.read.parquet`` reads
  each record once, also after a crash, and never half a batch;
- **dead letters** (``<stream>.dead-letters``): a second reader of a source that can meet
  unreadable input, into ``ROOT/<pipeline>/dead-letters/<stream>`` with the stream's name;
- **standing queries** read an archived stream *from the archive* with Spark's file source over
  that log, so a non-replayable source (a socket) feeds any number of queries, every query can
  be replayed, and backfill reads the very same records; a stream with ``archive = false`` is
  read from its source by each query instead (one trigger less of latency);
- **working storage** (``<stream>.working``): the newest records within the stream's bound as
  ``global_temp.<stream>``; a query whose output is ``memory://`` is ``global_temp.<query>``.

Each of these has its own checkpoint ``ROOT/<pipeline>/<query>`` and manifest.
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from sparkkit import __version__
from sparkkit.checkpoint import CheckpointLayout, Manifest, check_restart, resumed, write_manifest
from sparkkit.deadletter_writer import DeadLetterWriter, dead_letter_sink
from sparkkit.deadletters import split_dead_letters
from sparkkit.duration import Duration
from sparkkit.endpoint import ENDPOINT_FILE, LOOPBACK, new_endpoint, publish, withdraw
from sparkkit.errors import (
    CheckpointError,
    CheckpointMismatchError,
    ConfigError,
    JobFailedError,
    QueryRefusedError,
    SparkkitError,
)
from sparkkit.jobs.state import state_store_conf
from sparkkit.liveview import LiveView
from sparkkit.metrics import METRICS_FILE, MetricsLog
from sparkkit.origin import COLUMN as ORIGIN_COLUMN
from sparkkit.origin import origin_column
from sparkkit.output import BatchWriter
from sparkkit.pipeline import Pipeline, QuerySpec, StreamSpec, default_pipeline, load_pipeline
from sparkkit.progress import BatchObserver, RunStats, reset_stats
from sparkkit.sample import Reservoir
from sparkkit.session import build_spark_session, driver_exit_error, failing_with_driver_exit, stop_session
from sparkkit.sinks import MemorySink
from sparkkit.sinks.base import quoted
from sparkkit.sources import SourceContext
from sparkkit.stateviews import StateViews
from sparkkit.supervisor import Query, StructuredQuery, Supervised, Supervisor, first_line
from sparkkit.working import WorkingStorage

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass
class PreparedPipeline:
    """A pipeline checked against its checkpoints, ready to start: no Spark object yet.

    ``manifests`` holds each query's manifest by checkpoint name; each has its own run id
    (resumed from its checkpoint, new for a fresh one), which names its output files.
    """

    pipeline: Pipeline
    root: Path
    archive: Path
    manifests: dict[str, Manifest] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The pipeline's name: ``ROOT/<name>/`` holds its state."""
        return self.pipeline.name

    def layout(self, query: str) -> CheckpointLayout:
        """Where query ``query`` keeps its checkpoint: ``ROOT/<name>/<query>``."""
        return CheckpointLayout(self.root, self.pipeline.name, query)

    def run_id(self, query: str) -> str:
        """The run id of query ``query``."""
        return self.manifests[query].run_id

    def run_key(self, query: str) -> str:
        """The key of query ``query``'s statistics."""
        return f"{self.pipeline.name}/{query}/{self.run_id(query)}"

    @property
    def dead_letters(self) -> Path:
        """``ROOT/<name>/dead-letters``: one directory per stream below it."""
        return self.root / self.pipeline.name / "dead-letters"


def _query_state(pipeline: Pipeline, spec: QuerySpec, archive: Path) -> dict[str, str]:
    state = {"sql": " ".join(spec.sql.split()), "mode": spec.mode, "archive": str(archive)}
    for name in spec.streams:
        for key, value in pipeline.streams[name].describe().items():
            state[f"streams.{name}.{key}"] = value
    return state


def planned_manifests(pipeline: Pipeline, archive: Path) -> dict[str, Manifest]:
    """What each of the pipeline's queries would write as its manifest, by checkpoint name.

    The ingest query's state is shaped by its source and schema only (a changed watermark
    concerns the readers of the archive, not the archive).
    """
    import pyspark

    def manifest(state: dict[str, str]) -> Manifest:
        run_id = uuid.uuid4().hex[:12]
        return Manifest(pipeline.name, "structured", state, __version__, pyspark.__version__, run_id=run_id)

    manifests = {}
    for stream in pipeline.streams.values():
        described = {f"streams.{stream.name}.{k}": v for k, v in stream.describe().items()}
        read = {key: described[f"streams.{stream.name}.{key}"] for key in ("source", "schema")}
        if stream.archive:
            manifests[f"{stream.name}.archive"] = manifest({**read, "archive": str(archive / stream.name)})
        if stream.source.dead_letters:
            manifests[f"{stream.name}.dead-letters"] = manifest(read)
        if stream.working is not None:
            manifests[f"{stream.name}.working"] = manifest({**described, "archive": str(archive)})
        if stream.sample is not None:
            manifests[f"{stream.name}.sample"] = manifest({**described, "archive": str(archive)})
    for spec in pipeline.queries.values():
        manifests[spec.name] = manifest(_query_state(pipeline, spec, archive))
    return manifests


def _directory(option: str, path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise ConfigError(option, path, "a directory (this is a file)")
    return path


def prepare_pipeline(
    pipeline: Pipeline, checkpoint: str | Path, archive: str | Path | None = None
) -> PreparedPipeline:
    """Check every query's checkpoint against the pipeline; refuse (starting nothing) when one differs.

    Parameters
    ----------
    pipeline : Pipeline
        From :func:`~sparkkit.pipeline.load_pipeline`.
    checkpoint : path
        The state root: ``ROOT/<pipeline>/<query>`` per query.
    archive : path, optional
        The archive directory (default ``ROOT/<pipeline>/archive``).

    Raises
    ------
    CheckpointMismatchError
        A query's checkpoint was written for another SQL, mode or stream definition; the message
        names each such query, what differs and its reset command.
    CheckpointError
        A query directory that sparkkit did not write, or a fresh ingest over an existing archive.
    """
    root = _directory("--checkpoint", Path(checkpoint).resolve())
    archive_dir = _directory(
        "--archive", Path(archive).resolve() if archive else root / pipeline.name / "archive"
    )
    prepared = PreparedPipeline(pipeline, root, archive_dir)
    refusals = []
    for name, manifest in planned_manifests(pipeline, archive_dir).items():
        layout = prepared.layout(name)
        try:
            old = check_restart(layout, manifest, spell=str)
        except CheckpointMismatchError as exc:
            hint = ""
            if name.endswith(".archive"):
                hint = f"\n  and move its archive {archive_dir / name.removesuffix('.archive')} away"
            refusals.append(f"query {name}: {exc}{hint}")
            continue
        log = archive_dir / name.removesuffix(".archive") / "_spark_metadata"
        if old is None and name.endswith(".archive") and log.is_dir() and any(log.iterdir()):
            raise CheckpointError(
                f"{log.parent} holds an archive that another ingest checkpoint wrote; a fresh ingest "
                "would skip as many new batches as it holds (Spark's file sink log counts them). "
                "Move that archive away, or choose another --archive"
            )
        prepared.manifests[name] = manifest if old is None else resumed(manifest, old)
    if refusals:
        raise CheckpointMismatchError("\n".join(refusals) + "\nnothing was started")
    return prepared


@contextlib.contextmanager
def _refused(what: str) -> Iterator[None]:
    """Turn Spark's refusal of a stream or query being planned into one line naming it (exit 2)."""
    try:
        yield
    except SparkkitError:
        raise
    except Exception as exc:
        raise QueryRefusedError(f"{what}: {first_line(exc)}") from None


class _ShowBatch:
    """``foreachBatch`` target of a standing query: write the batch, then show its newest rows."""

    def __init__(self, writer: BatchWriter, name: str, show: int) -> None:
        self.writer, self.name, self.show = writer, name, show

    def __call__(self, df: DataFrame, batch_id: int) -> None:
        self.writer.structured_batch(df, batch_id)
        if self.show and isinstance(self.writer.sink, MemorySink):
            table = self.writer.sink.table
            latest = table.snapshot()[-1:]
            rows = latest[0][1] if latest else []
            if rows:
                print(f"[{self.name}] batch {batch_id}: {len(rows)} rows", flush=True)
                for row in rows[: self.show]:
                    print(_row_line(row), flush=True)


def _row_line(row: dict[str, Any]) -> str:
    """One output row as the run prints it: ``   name=value  name=value``."""
    return "   " + "  ".join(f"{k}={_short(v)}" for k, v in row.items())


def _short(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"start", "end"}:
        return f"[{value['start']:%H:%M:%S}, {value['end']:%H:%M:%S})"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


class Processor(Supervised):
    """A prepared pipeline's queries under one supervisor.

    Parameters
    ----------
    prepared : PreparedPipeline
        From :func:`prepare_pipeline`.
    spark : SparkSession
        The session; the streams become its temporary views.
    show : int
        Print up to this many rows of each ``memory://`` query's batches as they come (0: none).
    observers : sequence of callables, optional
        Each called with a query's metrics record after each of its batches (an
        ingest query's record carries ``archived``: the records it archived in this run).
    """

    def __init__(
        self,
        prepared: PreparedPipeline,
        spark: SparkSession,
        show: int = 0,
        observers: Sequence[BatchObserver] = (),
    ) -> None:
        self.prepared = prepared
        self.spark = spark
        self.show = show
        self.observers = list(observers)
        self.working: dict[str, WorkingStorage] = {}
        self.state_views = StateViews(
            spark, {name: str(prepared.layout(name).path) for name in prepared.pipeline.queries}
        )
        self._stats: dict[str, RunStats] = {}
        self._ingest: dict[str, DataFrame] = {}
        self._archived: dict[str, int] = {}
        #: Seeds each stream's sample (tests); None draws a new sample each run.
        self.sample_seed: int | None = None

    @property
    def pipeline(self) -> Pipeline:
        return self.prepared.pipeline

    def __repr__(self) -> str:
        return f"Processor({self.pipeline.name!r})"

    def stats(self, query: str) -> RunStats:
        """The statistics of a query (by checkpoint name: ``page_views``, ``clicks.archive``, ...)."""
        return self._stats[query]

    def _context(self, query: str) -> SourceContext:
        return SourceContext(self.prepared.layout(query).meta / "sources", self.pipeline.batch_interval)

    def _source_frame(self, stream: StreamSpec, query: str) -> DataFrame:
        """The stream read from its source for ``query``: records and ``_dead_letter``, with ``_origin``."""
        df = stream.source.structured(self.spark, self._context(query))
        if ORIGIN_COLUMN not in df.columns:
            df = df.withColumn(ORIGIN_COLUMN, origin_column(stream.source.address.location))
        return df

    @staticmethod
    def _with_arrival(records: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F

        own = [F.col(quoted(c)) for c in records.columns if c != ORIGIN_COLUMN]
        return records.select(
            *own,
            F.col(ORIGIN_COLUMN).alias("origin"),
            F.current_timestamp().alias("arrival_time"),
            F.to_date(F.current_timestamp()).alias("arrival_date"),
        )

    def _archive_path(self, stream: str) -> str:
        return str(self.prepared.archive / stream)

    def _ingest_frame(self, stream: StreamSpec) -> DataFrame:
        """The records as the ingest query archives them (built once per stream)."""
        if stream.name not in self._ingest:
            records, _ = split_dead_letters(self._source_frame(stream, f"{stream.name}.archive"))
            self._ingest[stream.name] = self._with_arrival(records)
        return self._ingest[stream.name]

    def stream_frame(self, stream: StreamSpec, reader: str) -> DataFrame:
        """What SQL sees of ``stream`` in the query ``reader``: the archive, or the source itself."""
        if stream.archive:
            schema = self._ingest_frame(stream).schema
            path = Path(self._archive_path(stream.name))
            path.mkdir(parents=True, exist_ok=True)  # the file source needs it before the first batch
            df = self.spark.readStream.schema(schema).parquet(str(path))
        else:
            df = self._with_arrival(split_dead_letters(self._source_frame(stream, reader))[0])
        if stream.watermark is not None and stream.event_time is not None:
            df = df.withWatermark(stream.event_time, f"{stream.watermark.ms} milliseconds")
        return df

    def _structured(self, name: str, writer: Any, interval_ms: int, endless: bool) -> StructuredQuery:
        layout = self.prepared.layout(name)
        writer = (
            writer.trigger(processingTime=f"{interval_ms} milliseconds")
            .queryName(f"{self.pipeline.name}.{name}")
            .option("checkpointLocation", str(layout.path))
        )
        run_key = self.prepared.run_key(name)
        self._stats[name] = reset_stats(run_key)
        return StructuredQuery(name, run_key, writer, endless)

    def _ingest_queries(self, stream: StreamSpec) -> list[Query]:
        from pyspark.sql import functions as F

        interval = self.pipeline.batch_interval.ms
        endless = stream.source.always_new_data
        queries: list[Query] = []
        if stream.archive:
            writer = (
                self._ingest_frame(stream)
                .writeStream.format("parquet")
                .partitionBy("arrival_date")
                .option("path", self._archive_path(stream.name))
            )
            queries.append(self._structured(f"{stream.name}.archive", writer, interval, endless))
        if stream.source.dead_letters:
            name = f"{stream.name}.dead-letters"
            _, letters = split_dead_letters(self._source_frame(stream, name))
            assert letters is not None
            sink = dead_letter_sink(self.prepared.dead_letters / stream.name)
            dead = DeadLetterWriter(sink, self.prepared.run_key(name), self.prepared.run_id(name))
            named = letters.select(F.lit(stream.name).alias("stream"), "*")
            queries.append(
                self._structured(
                    name, named.writeStream.foreachBatch(dead.structured_batch), interval, endless
                )
            )
        if stream.working is not None:
            bound = stream.working
            storage = WorkingStorage(
                stream.name,
                stream.event_time or "arrival_time",
                bound.span.ms if bound.span else None,
                bound.rows,
            )
            self.working[stream.name] = storage
            name = f"{stream.name}.working"
            frame = self.stream_frame(stream, name)
            endless = endless and not stream.archive
            queries.append(self._structured(name, frame.writeStream.foreachBatch(storage), interval, endless))
        if stream.sample is not None:
            name = f"{stream.name}.sample"
            reservoir = Reservoir(f"{stream.name}_sample", stream.sample, self.sample_seed)
            frame = self.stream_frame(stream, name)
            endless = stream.source.always_new_data and not stream.archive
            queries.append(
                self._structured(name, frame.writeStream.foreachBatch(reservoir), interval, endless)
            )
        return queries

    def plan_query(self, spec: QuerySpec) -> DataFrame:
        """The standing query's streaming DataFrame; :class:`QueryRefusedError` if Spark refuses it."""
        for name in spec.streams:
            with _refused(f"stream {name}"):
                self.stream_frame(self.pipeline.streams[name], spec.name).createOrReplaceTempView(name)
        with _refused(f"query {spec.name}"):
            df = self.spark.sql(spec.sql)
            if not df.isStreaming:
                raise QueryRefusedError(f"query {spec.name}: it reads no stream")
            check_output_mode(self.spark, df, spec)
        return df

    def _standing_query(self, spec: QuerySpec, df: DataFrame) -> Query:
        run_key = self.prepared.run_key(spec.name)
        writer = BatchWriter(
            spec.output,
            df.schema,
            run_key,
            self.prepared.run_id(spec.name),
            self.prepared.layout(spec.name),
            with_batch_time=False,
        )
        target = _ShowBatch(writer, spec.name, self.show)
        # an archived stream is read from the archive, which runs dry; a source read directly may not
        streams = [self.pipeline.streams[s] for s in spec.streams]
        endless = any(s.source.always_new_data and not s.archive for s in streams)
        stream_writer = df.writeStream.outputMode(spec.mode).foreachBatch(target)
        return self._structured(spec.name, stream_writer, spec.batch_interval.ms, endless)

    def queries(self) -> list[Query]:
        """Every query, not started: each standing query is planned and checked first, so a
        query that Spark refuses is reported before anything starts."""
        planned = {spec.name: self.plan_query(spec) for spec in self.pipeline.queries.values()}
        queries: list[Query] = []
        for stream in self.pipeline.streams.values():
            with _refused(f"stream {stream.name}"):
                queries += self._ingest_queries(stream)
        queries += [self._standing_query(self.pipeline.queries[name], df) for name, df in planned.items()]
        return queries

    def start(self) -> Processor:
        """Plan and check every query, write the manifests, then start them all."""
        queries = self.queries()
        for name, manifest in self.prepared.manifests.items():
            write_manifest(self.prepared.layout(name), manifest)
        for spec in self.pipeline.queries.values():
            spec.output.open()
        self.supervisor = Supervisor(self.spark, queries, self._release, [self._on_batch]).start()
        return self

    def _on_batch(self, record: dict[str, Any]) -> None:
        """After each batch: count what was archived, renew the query's state views, tell the observers."""
        query = record["query"]
        if query.endswith(".archive"):
            stream = query.removesuffix(".archive")
            self._archived[stream] = self._archived.get(stream, 0) + int(record.get("input_rows") or 0)
            record["archived"] = self._archived[stream]
        if query in self.pipeline.queries and record.get("state_rows") is not None:
            self.state_views.request(query, int(record["batch"]))
        for observer in self.observers:
            observer(record)

    def _release(self) -> None:
        self.state_views.drop()
        for storage in self.working.values():
            storage.close()

    def archived(self) -> dict[str, int]:
        """How many records each archived stream holds in the archive now."""
        counts = {}
        for stream in self.pipeline.streams.values():
            path = Path(self._archive_path(stream.name))
            if stream.archive:
                counts[stream.name] = (
                    self.spark.read.parquet(str(path)).count() if (path / "_spark_metadata").is_dir() else 0
                )
        return counts

    def dead_letter_count(self, stream: str) -> int:
        """How many unreadable records of ``stream`` this run wrote as dead letters."""
        stats = self._stats.get(f"{stream}.dead-letters")
        return stats.dead_letters if stats else 0

    def describe_outputs(self) -> list[str]:
        """One line per standing query: where it writes and with which guarantee."""
        lines = []
        for spec in self.pipeline.queries.values():
            view = f" (global_temp.{spec.output.address.path})" if isinstance(spec.output, MemorySink) else ""
            where = f"{spec.output.address.location}{view}"
            bounds = ", ".join(bound.name for bound in spec.bounds)
            approximate = f"; approximate, bounds in {bounds}" if bounds else ""
            guarantee = f"{spec.mode} mode, {spec.output.delivery.value}{approximate}"
            lines.append(f"{spec.name} -> {where}: {guarantee}")
        return lines


def check_output_mode(spark: SparkSession, df: DataFrame, spec: QuerySpec) -> None:
    """Ask Spark's own checker whether ``df`` can run in ``spec.mode``, without starting it."""
    jvm = spark._jvm
    if jvm is None:
        return
    modes = jvm.org.apache.spark.sql.streaming.OutputMode
    mode = {"append": modes.Append, "update": modes.Update, "complete": modes.Complete}[spec.mode]()
    checker = getattr(
        getattr(jvm.org.apache.spark.sql.catalyst.analysis, "UnsupportedOperationChecker$"), "MODULE$"
    )
    try:
        checker.checkForStreaming(df._jdf.queryExecution().analyzed(), mode)
    except Exception as exc:
        raise QueryRefusedError(f"query {spec.name}: {first_line(exc)}") from None


def _raise_driver_exit(status: int) -> NoReturn:
    raise driver_exit_error(status) from None


def print_summary(processor: Processor, out: Any = sys.stdout, rows: int = 20) -> None:
    """Every query's final answer (the rows of its view, or what it wrote) and each stream's archive."""
    for spec in processor.pipeline.queries.values():
        stats = processor.stats(spec.name)
        where = spec.output.address.location
        print(f"== {spec.name}: {stats.batches} batches, {stats.rows} rows written -> {where}", file=out)
        if stats.durations_ms:
            median = statistics.median(stats.durations_ms) / 1000
            slow = (
                " (slower than its trigger: it falls behind)" if median > spec.batch_interval.seconds else ""
            )
            print(f"   median batch {median:.1f} s, trigger {spec.batch_interval}{slow}", file=out)
        if isinstance(spec.output, MemorySink):
            table = spec.output.table.rows()
            for row in table[-rows:]:
                print(_row_line(row), file=out)
            if len(table) > rows:
                view = spec.output.address.path
                print(f"   ... {len(table)} rows in global_temp.{view}; the last {rows} shown", file=out)
        if stats.dropped_late:
            print(f"   {stats.dropped_late} records dropped as later than the watermark", file=out)
    for stream, count in processor.archived().items():
        dead = processor.dead_letter_count(stream)
        extra = f", {dead} dead letters" if dead else ""
        archive = processor.prepared.archive / stream
        print(f"== stream {stream}: {count} records archived in {archive}{extra}", file=out)


#: A long-running driver: its heap committed at its full size from the start (a heap that grows
#: for minutes looks like a leak in every memory graph, and resizing costs pauses).
PROCESSOR_CONF = {"spark.driver.defaultJavaOptions": "-Xms1g"}  # extraJavaOptions stay the user's


def run_pipeline(
    pipeline_file: str | Path | None,
    checkpoint: str | Path | None,
    archive: str | Path | None = None,
    duration: Duration | None = None,
    master: str | None = None,
    show: int = 5,
    out: Any = sys.stdout,
    connect: tuple[str, int] = (LOOPBACK, 0),
    ask: Sequence[str] = (),
) -> Processor:
    """``sparkkit run streams``: check everything, start Spark and every query, run for ``duration``
    (None or 0: until Ctrl-C or SIGTERM), stop, print every query's final answer.

    While it runs: the live view on ``out``, each batch in ``ROOT/<pipeline>/metrics.jsonl``, and
    a Spark Connect endpoint (``connect``: address and port, 0 for a free one) for ad-hoc
    queries, published in ``ROOT/<pipeline>/endpoint.json``. ``ask``: ad-hoc queries put to the
    still-running job by ``sparkkit query`` just before it stops, their answers printed.
    """
    pipeline = load_pipeline(pipeline_file or default_pipeline())
    if checkpoint is None:
        checkpoint = tempfile.mkdtemp(prefix="sparkkit-streams-")
        print(f"[sparkkit] state and archive in {checkpoint} (pass --checkpoint ROOT to choose)", file=out)
    prepared = prepare_pipeline(pipeline, checkpoint, archive)
    endpoint, connect_conf = new_endpoint(pipeline.name, *connect)
    state_dir = prepared.root / pipeline.name
    try:
        spark = build_spark_session(
            f"sparkkit-{pipeline.name}",
            master,
            {**PROCESSOR_CONF, **state_store_conf("rocksdb"), **connect_conf},
        )
    except Exception as exc:
        raise JobFailedError(f"pipeline {pipeline.name} could not start Spark: {first_line(exc)}") from exc
    metrics = MetricsLog(state_dir / METRICS_FILE)
    view = LiveView(f"pipeline {pipeline.name}", out)
    try:
        processor = Processor(prepared, spark, show, [metrics.append, view.update])
        processor.start()
        publish(endpoint, state_dir / ENDPOINT_FILE)
        for line in processor.describe_outputs():
            print(f"[sparkkit] {line}", file=out, flush=True)
        print(
            f'[sparkkit] ad-hoc queries: sparkkit query --checkpoint {prepared.root} "SQL" '
            f"(endpoint {endpoint.url}, token in {state_dir / ENDPOINT_FILE})",
            file=out,
            flush=True,
        )
        processor.wait(
            duration.seconds if duration and duration.ms else None,
            before_stop=_asking(prepared.root, pipeline.name, ask, out),
        )
        view.stop()
        with failing_with_driver_exit(spark, _raise_driver_exit):
            print_summary(processor, out)  # reads the archive through Spark
    finally:
        view.stop()
        withdraw(endpoint, state_dir / ENDPOINT_FILE)
        metrics.close()
        stop_session(spark)
    return processor


def _asking(root: Path, pipeline: str, questions: Sequence[str], out: Any) -> Callable[[], None] | None:
    """What runs just before the stop: each question asked by ``sparkkit query``, a separate
    Connect client, while every query still runs."""
    if not questions:
        return None

    def ask_all() -> None:
        for sql in questions:
            print(f"[sparkkit] ad-hoc query: {sql}", file=out, flush=True)
            command = [
                sys.executable,
                "-m",
                "sparkkit",
                "query",
                "--checkpoint",
                str(root),
                "--pipeline",
                pipeline,
                sql,
            ]
            answer = subprocess.run(command, capture_output=True, text=True, timeout=120)
            print(answer.stdout.rstrip() or answer.stderr.rstrip(), file=out, flush=True)

    return ask_all
