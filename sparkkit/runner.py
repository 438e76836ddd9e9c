"""Run a job: validate everything, start Spark, wire sources -> job -> sink, stop on time.

All checks that need no Spark (configuration, addresses, the checkpoint manifest) happen in
:func:`prepare`, so a bad run fails in well under a second, before the JVM starts.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkkit import __version__
from sparkkit.checkpoint import (
    CheckpointLayout,
    Manifest,
    check_restart,
    resumed,
    unwritable,
    verify,
    write_manifest,
)
from sparkkit.config import JobConfig
from sparkkit.deadletter_writer import DeadLetterWriter, dead_letter_sink, default_location
from sparkkit.deadletters import COLUMN as DEAD_LETTER_COLUMN
from sparkkit.deadletters import is_dead_letter, is_record, split_dead_letters
from sparkkit.endpoint import marked_running
from sparkkit.errors import ConfigError, JobFailedError, SparkkitError
from sparkkit.jobs import Job, get_job
from sparkkit.liveview import LiveView
from sparkkit.metrics import METRICS_FILE, MetricsLog, observed
from sparkkit.output import BatchWriter
from sparkkit.progress import BatchObserver, RunStats, reset_stats
from sparkkit.session import build_streaming_context, session_for, stop_session
from sparkkit.sinks import Sink, sink_for
from sparkkit.sources import Source, SourceContext, source_for
from sparkkit.supervisor import DStreamQuery, Query, StructuredQuery, Supervised, Supervisor, first_line

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import DataStreamWriter
    from pyspark.streaming import DStream, StreamingContext


@dataclass
class Prepared:
    """A validated run, ready to start: no Spark object yet."""

    config: JobConfig
    job: Job
    sources: list[Source]
    sink: Sink
    layout: CheckpointLayout | None
    manifest: Manifest | None
    run_id: str
    dead_letters: Sink

    @property
    def run_key(self) -> str:
        """Identifies this run's statistics; stable across restarts on one checkpoint."""
        return f"{self.job.name}/{self.config.api}/{self.run_id}"


def state_options(job: Job, config: JobConfig) -> dict[str, str]:
    """The options a checkpoint must be restarted with, as strings.

    A DStream checkpoint restores the whole graph (sources, sink, batch and checkpoint
    intervals) and ignores the new values; Structured state is keyed by source and operator.
    """
    names = ["source", *job.state_options]
    if config.api == "dstream":
        names += ["sink", "batch_interval", "checkpoint_interval"]
    values = {name: config.describe(name) for name in names}
    if config.api == "dstream":
        values["checkpoint_interval"] = str(config.effective_checkpoint_interval)
    return values


def prepare(config: JobConfig) -> Prepared:
    """Everything that can be checked before Spark starts; raises ConfigError and friends."""
    job = get_job(config.job)
    if not config.source:
        raise ConfigError(
            "--source", "", "at least one source address is needed, e.g. --source generator://words?rate=10"
        )
    sources = [source_for(address) for address in config.source]
    for source in sources:
        source.check()
        if source.record_format not in job.input_formats:
            raise ConfigError(
                "--source",
                source.address.raw,
                f"{job.name} reads {' or '.join(job.input_formats)} records; "
                f"this source gives {source.record_format}",
            )
    job.check(config)
    sink = sink_for(config.sink)
    sink.check_columns(["batch_time"] * job.has_batch_time + [name for name, _ in job.columns])
    sink.check()
    layout = manifest = None
    run_id = uuid.uuid4().hex[:12]
    if config.checkpoint:
        import pyspark

        layout = CheckpointLayout(Path(config.checkpoint), job.name)
        manifest = Manifest(
            job.name, config.api, state_options(job, config), __version__, pyspark.__version__, run_id=run_id
        )
        old = check_restart(layout, manifest)
        if old is not None:
            manifest = resumed(manifest, old)
            run_id = manifest.run_id
        verify(replace(layout, query=f"{layout.query}-dead-letters"))  # a stateful job's second query
    dead_letters = dead_letter_sink(config.dead_letters or default_location(config.checkpoint, job.name))
    dead_letters.check()
    return Prepared(config, job, sources, sink, layout, manifest, run_id, dead_letters)


class Run(Supervised):
    """A job's queries under one :class:`~sparkkit.supervisor.Supervisor`.

    ``start()`` builds them (a StreamingContext, or the Structured main query and, for a stateful
    job over sources with dead letters, its dead-letter query) and starts them; ``stop()`` may be
    called from another thread.
    """

    def __init__(
        self, prepared: Prepared, spark: SparkSession, observers: Sequence[BatchObserver] = ()
    ) -> None:
        self.prepared = prepared
        self.spark = spark
        self.observers = list(observers)
        self.stats: RunStats = reset_stats(prepared.run_key)
        self._tmp: str | None = None

    def __repr__(self) -> str:
        return f"Run({self.prepared.run_key!r})"

    def _state_dir(self) -> Path:
        if self.prepared.layout is not None:
            return self.prepared.layout.meta / "sources"
        self._tmp = tempfile.mkdtemp(prefix="sparkkit-")
        return Path(self._tmp)

    def _writer(self, per_batch: Any = None) -> BatchWriter:
        p = self.prepared
        return BatchWriter(
            p.sink, p.job.output_schema(), p.run_key, p.run_id, p.layout, p.job.has_batch_time, per_batch
        )

    def _dead_letter_writer(self) -> DeadLetterWriter:
        p = self.prepared
        return DeadLetterWriter(p.dead_letters, p.run_key, p.run_id)

    def _build_dstream_graph(self) -> StreamingContext:
        p = self.prepared
        ssc = build_streaming_context(self.spark, p.config.batch_interval.seconds)
        ctx = SourceContext(self._state_dir(), p.config.batch_interval)
        streams: list[DStream[Any]] = [source.dstream(ssc, ctx) for source in p.sources]
        stream = streams[0] if len(streams) == 1 else ssc.union(*streams)
        split = any(source.dead_letters for source in p.sources)
        if split:
            stream = stream.cache()  # read once, split in two
        p.job.dstream(stream.filter(is_record) if split else stream, p.config).foreachRDD(
            self._writer().dstream_batch
        )
        if split:
            # after the job's output, whose job reads every partition at once and caches them:
            # first, the dead letters' emptiness check would read them one at a time (take(1))
            stream.filter(is_dead_letter).foreachRDD(self._dead_letter_writer().dstream_batch)
        if p.layout is not None:
            ssc.checkpoint(str(p.layout.path))
        return ssc

    def _dstream_context(self) -> StreamingContext:
        p = self.prepared
        if p.layout is None:
            return self._build_dstream_graph()
        from pyspark.streaming import StreamingContext

        return StreamingContext.getOrCreate(str(p.layout.path), self._build_dstream_graph)

    def queries(self) -> list[Query]:
        """The run's queries, not started: dead letters first, so the main query's input is split."""
        p = self.prepared
        if p.config.api == "dstream":
            return [DStreamQuery(p.job.name, p.run_key, self._dstream_context)]
        ctx = SourceContext(self._state_dir(), p.config.batch_interval)
        for key, value in p.job.structured_conf(p.config).items():
            self.spark.conf.set(key, value)
        frames: list[DataFrame] = [source.structured(self.spark, ctx) for source in p.sources]
        stream = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
        records, letters = split_dead_letters(stream)
        plan = p.job.structured(records, p.config)
        writer = self._writer(plan.per_batch)
        if letters is not None and plan.per_batch is not None:
            # A stateless job can be planned per micro-batch: one query reads the input once
            # and splits each batch into dead letters and the job's input.
            split = _SplitBatch(
                self._dead_letter_writer(), lambda df: p.job.structured(df, p.config).stream, writer
            )
            return [self._query(stream.writeStream.foreachBatch(split), p.layout)]
        queries = []
        if letters is not None:
            dead_layout = replace(p.layout, query=f"{p.layout.query}-dead-letters") if p.layout else None
            dead = letters.writeStream.foreachBatch(self._dead_letter_writer().structured_batch)
            queries.append(self._query(dead, dead_layout, "dead-letters"))
        main = plan.stream.writeStream.outputMode(plan.output_mode).foreachBatch(writer.structured_batch)
        queries.append(self._query(main, p.layout))
        return queries

    def _query(self, writer: DataStreamWriter, layout: CheckpointLayout | None, role: str = "main") -> Query:
        p = self.prepared
        name = f"{p.job.name}_{layout.query if layout else role}"
        writer = writer.trigger(processingTime=f"{p.config.batch_interval.ms} milliseconds").queryName(name)
        if layout is not None:
            writer = writer.option("checkpointLocation", str(layout.path))
        endless = any(source.always_new_data for source in p.sources)
        run_key = p.run_key if role == "main" else f"{p.run_key}/{role}"
        return StructuredQuery(name, run_key, writer, endless)

    def start(self) -> Run:
        """Write the manifest, open the sink, start every query (or none: see Supervisor.start)."""
        p = self.prepared
        if p.layout is not None and p.manifest is not None:
            write_manifest(p.layout, p.manifest)
        try:
            p.sink.open()
            queries = self.queries()
        except SparkkitError:
            raise
        except Exception as exc:
            raise JobFailedError(f"{p.job.name} could not start: {first_line(exc)}") from exc
        self.supervisor = Supervisor(self.spark, queries, self._cleanup, self.observers)
        self.supervisor.start()
        return self

    def _cleanup(self) -> None:
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def process_all_available(self) -> None:
        """Structured only: block until every input available now is processed and written.

        Refused over a source that always has new data (``generator://``, Spark's rate source):
        there it would never return.
        """
        endless = ", ".join(str(s.address) for s in self.prepared.sources if s.always_new_data)
        if endless:
            raise SparkkitError(f"process_all_available() would never return: {endless} never runs dry")
        if self.prepared.config.api != "structured":
            raise SparkkitError("process_all_available() needs a started --api structured run")
        super().process_all_available()


class _SplitBatch:
    """``foreachBatch`` target of a stateless job over sources with dead letters.

    The job, planned on the batch's records, writes its output in one pass over the input, which
    also counts the dead letters (an :class:`~pyspark.sql.Observation`); only a batch that has
    some reads its input a second time, to write them. (Caching the whole batch instead cost
    more than the job itself.)
    """

    def __init__(
        self, dead: DeadLetterWriter, plan: Callable[[DataFrame], DataFrame], writer: BatchWriter
    ) -> None:
        self.dead, self.plan, self.writer = dead, plan, writer

    def __call__(self, df: DataFrame, batch_id: int) -> None:
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        seen = Observation(f"dead_letters_{batch_id}")
        watched = df.observe(seen, F.count(F.col(DEAD_LETTER_COLUMN)).alias("dead"))
        records, _ = split_dead_letters(watched)
        self.writer.structured_batch(self.plan(records), batch_id)
        if observed(seen).get("dead", 0):
            _, letters = split_dead_letters(df)
            assert letters is not None
            self.dead.structured_batch(letters, batch_id)


def run(config: JobConfig, spark: SparkSession | None = None) -> RunStats:
    """Run a job for ``config.duration`` (forever when 0, until Ctrl-C) and return its statistics."""
    prepared = prepare(config)
    own_session = spark is None
    try:
        spark = spark or session_for(config)
    except Exception as exc:
        raise JobFailedError(f"{prepared.job.name} could not start Spark: {first_line(exc)}") from exc
    layout = prepared.layout
    metrics = MetricsLog(layout.root / layout.job / METRICS_FILE) if layout is not None else None
    # plain lines go to stderr beside the per-batch lines of the sinks: stdout holds the output
    view = LiveView(f"job {prepared.job.name}", sys.stdout if sys.stdout.isatty() else sys.stderr)
    observers = [view.update] + ([metrics.append] if metrics is not None else [])
    running = marked_running(layout.root / layout.job) if layout is not None else contextlib.nullcontext()
    try:
        with running:
            try:
                job_run = Run(prepared, spark, observers).start()
                job_run.wait(config.duration.seconds if config.duration.ms else None)
            except JobFailedError as exc:  # one line naming a checkpoint directory it could not write
                failure = unwritable(exc, layout.path, prepared.job.name) if layout is not None else None
                if failure is None:
                    raise
                raise failure from exc
    finally:
        view.stop()
        if metrics is not None:
            metrics.close()
        if own_session:  # stop Spark while Python can still answer its last listener events
            stop_session(spark)
    return job_run.stats
