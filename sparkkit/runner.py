"""Run a job: validate everything, start Spark, wire sources -> job -> sink, stop on time.

All checks that need no Spark (configuration, addresses, the checkpoint manifest) happen in
:func:`prepare`, so a bad run fails in well under a second, before the JVM starts.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkkit import __version__
from sparkkit.checkpoint import CheckpointLayout, Manifest, check_restart, write_manifest
from sparkkit.config import JobConfig
from sparkkit.deadletters import COLUMN as DEAD_LETTER_COLUMN
from sparkkit.deadletters import (
    DeadLetterWriter,
    default_location,
    is_dead_letter,
    is_record,
    split_dead_letters,
)
from sparkkit.errors import ConfigError, SparkkitError
from sparkkit.jobs import Job, get_job
from sparkkit.output import BatchWriter
from sparkkit.progress import DStreamProgress, RunStats, StructuredProgress, reset_stats
from sparkkit.session import build_streaming_context, session_for
from sparkkit.sinks import Sink, sink_for
from sparkkit.sources import Source, SourceContext, source_for

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import DataStreamWriter
    from pyspark.streaming import DStream, StreamingContext


class JobFailedError(SparkkitError):
    """The streaming job stopped with an error."""


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
    dead_letters: Path

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
        resumed = check_restart(layout, manifest)
        if resumed is not None and resumed.run_id:
            run_id = resumed.run_id
            manifest = replace(manifest, run_id=run_id, created=resumed.created)
    dead_letters = Path(config.dead_letters or default_location(config.checkpoint, job.name))
    return Prepared(config, job, sources, sink, layout, manifest, run_id, dead_letters)


class Run:
    """A started job. ``stop()`` may be called from another thread (or a signal handler)."""

    def __init__(self, prepared: Prepared, spark: SparkSession) -> None:
        self.prepared = prepared
        self.spark = spark
        self.stats: RunStats = reset_stats(prepared.run_key)
        self._tmp: str | None = None
        self._ssc: StreamingContext | None = None
        self._query: Any = None
        self._dead_letter_query: Any = None
        self._listener: StructuredProgress | None = None
        self._stopped = threading.Event()

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
        return DeadLetterWriter(str(p.dead_letters), p.run_key, p.run_id)

    def _build_dstream_graph(self) -> StreamingContext:
        p = self.prepared
        ssc = build_streaming_context(self.spark, p.config.batch_interval.seconds)
        ctx = SourceContext(self._state_dir(), p.config.batch_interval)
        streams: list[DStream[Any]] = [source.dstream(ssc, ctx) for source in p.sources]
        stream = streams[0] if len(streams) == 1 else ssc.union(*streams)
        if any(source.dead_letters for source in p.sources):
            stream = stream.cache()  # read once, split in two
            stream.filter(is_dead_letter).foreachRDD(self._dead_letter_writer().dstream_batch)
            stream = stream.filter(is_record)
        p.job.dstream(stream, p.config).foreachRDD(self._writer().dstream_batch)
        if p.layout is not None:
            ssc.checkpoint(str(p.layout.path))
        return ssc

    def start(self) -> Run:
        p = self.prepared
        if p.layout is not None and p.manifest is not None:
            write_manifest(p.layout, p.manifest)
        p.sink.open()
        if p.config.api == "dstream":
            if p.layout is not None:
                from pyspark.streaming import StreamingContext

                self._ssc = StreamingContext.getOrCreate(str(p.layout.path), self._build_dstream_graph)
            else:
                self._ssc = self._build_dstream_graph()
            self._ssc.addStreamingListener(DStreamProgress(p.run_key))
            self._ssc.start()
        else:
            self._listener = StructuredProgress(
                p.run_key, lambda: str(self._query.id) if self._query else None
            )
            self.spark.streams.addListener(self._listener)
            self._query = self._start_structured()
        return self

    def _start_structured(self) -> Any:
        p = self.prepared
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
            return self._start_query(stream.writeStream.foreachBatch(split), "main", p.layout)
        if letters is not None:
            dead_layout = replace(p.layout, query=f"{p.layout.query}-dead-letters") if p.layout else None
            self._dead_letter_query = self._start_query(
                letters.writeStream.foreachBatch(self._dead_letter_writer().structured_batch),
                "dead_letters",
                dead_layout,
            )
        query = plan.stream.writeStream.outputMode(plan.output_mode).foreachBatch(writer.structured_batch)
        return self._start_query(query, "main", p.layout)

    def _start_query(self, writer: DataStreamWriter, name: str, layout: CheckpointLayout | None) -> Any:
        p = self.prepared
        writer = writer.trigger(processingTime=f"{p.config.batch_interval.ms} milliseconds").queryName(
            f"{p.job.name}_{layout.query if layout else name}"
        )
        if layout is not None:
            writer = writer.option("checkpointLocation", str(layout.path))
        return writer.start()

    def await_end(self, timeout: float | None = None) -> None:
        """Wait until the job ends by itself, fails, or ``timeout`` seconds pass."""
        try:
            if self._ssc is not None:
                if timeout:
                    self._ssc.awaitTerminationOrTimeout(timeout)  # type: ignore[arg-type]
                else:
                    self._ssc.awaitTermination()
            elif self._query is not None:
                if timeout:
                    self._query.awaitTermination(timeout)
                else:
                    self._query.awaitTermination()
        except Exception as exc:
            if not self._stopped.is_set():
                raise JobFailedError(f"{self.prepared.run_key} failed: {first_line(exc)}") from exc

    def process_all_available(self) -> None:
        """Structured only: block until every input available now is processed and written.

        Refused over a source that always has new data (``generator://``, Spark's rate source):
        there it would never return.
        """
        endless = ", ".join(str(s.address) for s in self.prepared.sources if s.always_new_data)
        if endless:
            raise SparkkitError(f"process_all_available() would never return: {endless} never runs dry")
        if self._query is None:
            raise SparkkitError("process_all_available() needs a started --api structured run")
        self._query.processAllAvailable()
        if self._dead_letter_query is not None:
            self._dead_letter_query.processAllAvailable()

    @staticmethod
    def _wait_between_batches(query: Any, timeout: float = 60.0) -> None:
        """Let a running micro-batch finish, so stop() lands between batches and interrupts nothing.

        (``processAllAvailable`` is no use here: a rate source always has more data.)
        """
        deadline = time.monotonic() + timeout
        while query.isActive and query.status["isTriggerActive"] and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self, graceful: bool = True) -> None:
        """Stop; gracefully, a DStream finishes its received batches, a query its running batch."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._ssc is not None:
            self._ssc.stop(stopSparkContext=False, stopGraceFully=graceful)
        if self._query is not None:
            for query in (self._query, self._dead_letter_query):
                if query is None:
                    continue
                if graceful:
                    self._wait_between_batches(query)
                query.stop()
        if self._listener is not None:
            self.spark.streams.removeListener(self._listener)
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)


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
        observed = df.observe(seen, F.count(F.col(DEAD_LETTER_COLUMN)).alias("dead"))
        records, _ = split_dead_letters(observed)
        self.writer.structured_batch(self.plan(records), batch_id)
        if seen.get.get("dead", 0):
            _, letters = split_dead_letters(df)
            assert letters is not None
            self.dead.structured_batch(letters, batch_id)


def first_line(exc: BaseException) -> str:
    """The first meaningful line of a (possibly Java) exception's message."""
    for line in str(exc).splitlines():
        line = line.strip()
        if line and not line.startswith(("An error occurred while calling", "Traceback")):
            return line
    return type(exc).__name__


def run(config: JobConfig, spark: SparkSession | None = None) -> RunStats:
    """Run a job for ``config.duration`` (forever when 0, until Ctrl-C) and return its statistics."""
    prepared = prepare(config)
    own_session = spark is None
    try:
        spark = spark or session_for(config)
        job_run = Run(prepared, spark).start()
    except SparkkitError:
        raise
    except Exception as exc:
        raise JobFailedError(f"{prepared.job.name} could not start: {first_line(exc)}") from exc
    ended = threading.Event()
    failures: list[BaseException] = []

    def watch() -> None:
        # Blocking py4j calls run here, never on the main thread: a signal landing inside one
        # would break the gateway connection ("Answer from Java side is empty").
        try:
            job_run.await_end(None)
        except BaseException as exc:
            failures.append(exc)
        finally:
            ended.set()

    threading.Thread(target=watch, name="sparkkit-await", daemon=True).start()
    terminated: list[int] = []  # set by SIGTERM; a handler must not take locks or raise into py4j
    previous = (
        signal.signal(signal.SIGTERM, lambda signum, frame: terminated.append(signum))
        if _on_main_thread()
        else None
    )
    deadline = time.monotonic() + config.duration.seconds if config.duration.ms else None
    try:
        while not terminated and not ended.wait(0.2):
            if deadline is not None and time.monotonic() >= deadline:
                break
    except KeyboardInterrupt:
        pass
    finally:
        job_run.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if own_session:  # stop Spark while Python can still answer its last listener events
            spark.stop()
    if failures:
        raise failures[0]
    return job_run.stats


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
