"""Feed scripted micro-batches to a job in either API and get each batch's output rows.

Batches are written as files ``batch-NNNNNN.txt`` into an input directory read by the job's
real file source with ``maxFilesPerTrigger=1``, and the output goes through the real batch
writer into a ``memory://`` table, so the harness exercises the same path as ``sparkkit run``.
It waits on batch completion, never on the clock: DStream runs block until the memory table
has seen one output per input batch; Structured runs call ``processAllAvailable`` after each
batch, so ``outputs[i]`` is exactly what input batch ``i`` produced. A Structured run may also
say at what processing time each batch runs (``times_ms``): the queries then run on a
:class:`TriggerClock` the harness sets, and processing-time TTLs and timers fire exactly then.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sparkkit.config import JobConfig, load_config
from sparkkit.deadletter_writer import read_dead_letters
from sparkkit.duration import Duration
from sparkkit.errors import HarnessTimeoutError, SparkkitError
from sparkkit.jobs import get_job
from sparkkit.pipeline import load_pipeline
from sparkkit.processor import Processor, prepare_pipeline
from sparkkit.progress import BatchObserver, RunStats
from sparkkit.runner import Prepared, Run, prepare
from sparkkit.sinks import MemoryTable, memory_table, sink_for
from sparkkit.sources import source_for
from sparkkit.supervisor import Query, StructuredQuery

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.streaming import DataStreamWriter, StreamingQuery

Rows = list[dict[str, Any]]
#: The trigger of every query in :meth:`StreamHarness.run_pipeline`.
TRIGGER = Duration(100)


_DDL_TYPES = ((bool, "BOOLEAN"), (int, "BIGINT"), (float, "DOUBLE"), (str, "STRING"))


def infer_ddl(records: Sequence[Mapping[str, Any]]) -> str:
    """A DDL schema for JSON records: each field typed by its first non-null value (default STRING)."""
    types: dict[str, str] = {}
    for record in records:
        for name, value in record.items():
            if types.get(name, "STRING") == "STRING" and value is not None:
                types[name] = next((ddl for py, ddl in _DDL_TYPES if isinstance(value, py)), "STRING")
    return ", ".join(f"`{name}` {ddl}" for name, ddl in types.items())


def _check_times(times_ms: Sequence[int], batches: int, api: str, interval_ms: int) -> None:
    """Refuse processing times a run cannot have: each batch runs at a trigger of its own."""
    if api != "structured":
        raise SparkkitError(
            f"times_ms needs api='structured' (a DStream batch's time is its schedule), not {api!r}"
        )
    if len(times_ms) != batches:
        raise SparkkitError(f"times_ms has {len(times_ms)} times for {batches} batches")
    for i in range(1, len(times_ms)):
        trigger = (times_ms[i - 1] // interval_ms + 1) * interval_ms
        if times_ms[i] < trigger:
            raise SparkkitError(
                f"times_ms[{i}] = {times_ms[i]}: after the batch at {times_ms[i - 1]} ms the next "
                f"trigger ({interval_ms} ms interval) is at {trigger} ms; batch {i} would never run"
            )


def without(rows: Rows, *columns: str) -> Rows:
    """``rows`` with ``columns`` dropped (``batch_time`` differs from run to run)."""
    return [{k: v for k, v in row.items() if k not in columns} for row in rows]


def as_counts(rows: Rows, key: str = "word") -> dict[str, int]:
    """``{row[key]: row["count"]}`` for one batch's rows."""
    return {row[key]: row["count"] for row in rows}


class TriggerClock:
    """A processing-time clock for Structured queries, set by the test instead of the wall.

    A Structured query reads the time from its trigger clock: when to start the next trigger
    (every ``batch_interval``, on multiples of it), and each batch's timestamp, logged with its
    offsets, which is what ``current_timestamp()``, processing-time timers and state TTLs see.
    ``DataStreamWriter.start()`` always gives it the system clock; Spark's own tests give it a
    ``ManualClock`` through ``StreamingQueryManager.startQuery`` (``StreamTest``'s
    ``StartStream(triggerClock=...)``), and :meth:`start` does the same from Python. A query on
    this clock runs a trigger only when :meth:`set` moves the time to or past its next trigger
    time; the batch it runs then has exactly that time as its timestamp.

    Parameters
    ----------
    spark : SparkSession
        A classic (Py4J) session.
    start_ms : int
        The time, in milliseconds since the epoch, when the queries start (their first trigger).
    """

    def __init__(self, spark: SparkSession, start_ms: int) -> None:
        self._jvm: Any = spark.sparkContext._jvm
        if self._jvm is None:
            raise SparkkitError("a trigger clock needs a classic (Py4J) SparkSession")
        self._clock = self._jvm.org.apache.spark.util.ManualClock(start_ms)

    @property
    def now_ms(self) -> int:
        return int(self._clock.getTimeMillis())

    def set(self, ms: int) -> None:
        """Move the time to ``ms`` (never back): a query waiting for a trigger time up to ``ms``
        runs that trigger at once."""
        if ms < self.now_ms:
            raise SparkkitError(f"the trigger clock cannot go back from {self.now_ms} to {ms} ms")
        self._clock.setTime(ms)

    def start(self, writer: DataStreamWriter) -> StreamingQuery:
        """Start ``writer``'s query (a ``foreachBatch`` one, as sparkkit's are) on this clock.

        What ``DataStreamWriter.start()`` does for ``foreachBatch``, with this clock: the sink is a
        ``ForeachBatchSink`` of the writer's function, and every other setting is the writer's,
        read from its fields (Spark 4's ``classic.DataStreamWriter``).
        """
        from pyspark.sql.streaming import StreamingQuery

        jwriter = writer._jwrite

        def field(name: str) -> Any:
            handle = jwriter.getClass().getDeclaredField(name)
            handle.setAccessible(True)
            return handle.get(jwriter)

        if field("source") != "foreachBatch":
            raise SparkkitError(f"a trigger clock starts foreachBatch queries only, not {field('source')}")
        options, frame = field("extraOptions"), field("ds")
        sink = self._jvm.org.apache.spark.sql.execution.streaming.sources.ForeachBatchSink(
            field("foreachBatchWriter"), frame.exprEnc()
        )
        manager = frame.sparkSession().streams()
        arity = {
            len(m.getParameterTypes()) for m in manager.getClass().getMethods() if m.getName() == "startQuery"
        }
        if not arity & {12, 13}:
            raise SparkkitError(
                f"no StreamingQueryManager.startQuery of a known Spark 4 form: {sorted(arity)}"
            )
        # Spark 4.3 names the sink too (``sinkName``); 4.0's startQuery has one argument fewer
        named = [options.get("queryName"), field("sinkName")] if 13 in arity else [options.get("queryName")]
        none = self._jvm.scala.Option.empty()
        jquery = manager.startQuery(
            *named,
            options.get("checkpointLocation"),
            frame,
            options.originalMap(),
            sink,
            field("outputMode"),
            True,  # useTempCheckpointLocation, as for every foreachBatch query
            True,  # recoverFromCheckpointLocation
            field("trigger"),
            self._clock,
            none,
            none,
        )
        return StreamingQuery(jquery)


class _ClockedRun(Run):
    """A job's run whose Structured queries start on a :class:`TriggerClock`."""

    def __init__(
        self, prepared: Prepared, spark: SparkSession, observers: list[BatchObserver], clock: TriggerClock
    ) -> None:
        super().__init__(prepared, spark, observers)
        self.clock = clock
        self.clocked: list[StructuredQuery] = []
        self.batches_before: list[int] = []

    def queries(self) -> list[Query]:
        queries = super().queries()
        self.clocked = [query for query in queries if isinstance(query, StructuredQuery)]
        self.batches_before = [len(query.stats.completed) for query in self.clocked]
        for query in self.clocked:
            query.starter = self.clock.start
        return queries

    def wait_batches(self, count: int, timeout: float) -> None:
        """Block until each query has completed ``count`` batches in this run; raise a failure."""
        supervisor = self._started()
        deadline = time.monotonic() + timeout
        for query, before in zip(self.clocked, self.batches_before, strict=True):
            while not query.stats.wait_for(_completed(before + count), 0.2):
                supervisor.check()
                if time.monotonic() > deadline:
                    raise HarnessTimeoutError(
                        f"{query.name}: {len(query.stats.completed) - before} of {count} batches "
                        f"after {timeout} s on the trigger clock at {self.clock.now_ms} ms"
                    )


def _completed(count: int) -> Callable[[RunStats], bool]:
    return lambda stats: len(stats.completed) >= count


class StreamHarness:
    """Runs jobs over scripted batches on one SparkSession.

    Parameters
    ----------
    spark : SparkSession
        The session (the plugin's ``spark`` fixture).
    workdir : Path
        A fresh directory for input files and checkpoints.
    timeout : float
        Seconds to wait for all batches before failing with :class:`HarnessTimeoutError`.
    """

    def __init__(self, spark: SparkSession, workdir: Path, timeout: float = 120.0) -> None:
        self.spark = spark
        self.workdir = Path(workdir)
        self.timeout = timeout
        #: The statistics of the last run (batches, durations, rows dropped by the watermark).
        self.last_stats: RunStats | None = None
        #: The processor of the last :meth:`run_pipeline` (its ``stats(query)``, ``archived()``).
        self.last_processor: Processor | None = None
        #: The metrics record of every batch of the last run, as ``metrics.jsonl`` holds them (a
        #: batch's record is here once ``last_stats`` counts the batch complete).
        self.last_metrics: list[dict[str, Any]] = []

    def _observers(self) -> list[BatchObserver]:
        """A fresh ``last_metrics``, and the observer that fills it."""
        self.last_metrics = []
        records = self.last_metrics
        return [records.append]

    @property
    def dead_letter_dir(self) -> Path:
        """Where runs keep unreadable input records, unless ``options`` name another place."""
        return self.workdir / "dead-letters"

    def dead_letters(self) -> list[dict[str, Any]]:
        """The dead letters written so far (source, topic, partition, offset, file, reason, value)."""
        return read_dead_letters(self.dead_letter_dir)

    def _input_dir(self) -> Path:
        path = self.workdir / f"input-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path

    @staticmethod
    def _write_batch(directory: Path, index: int, lines: Sequence[str], mtime: float | None = None) -> None:
        final = directory / f"batch-{index:06d}.txt"
        tmp = directory / f".{final.name}.tmp"
        tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        os.replace(tmp, final)

    def _config(
        self, job: str, api: str, sources: Sequence[str], table: str, options: Mapping[str, Any] | None
    ) -> JobConfig:
        job_obj = get_job(job)
        cli: dict[str, Any] = {
            "batch_interval": "500ms",
            "dead_letters": str(self.dead_letter_dir),
            **(options or {}),
            "api": api,
            "source": list(sources),
            "sink": f"memory://{table}?view=false",
        }
        return load_config(job_obj.name, job_obj.options, cli, env={}, conf_dir=self.workdir / "no-conf")

    def run_live(
        self,
        job: str,
        sources: Sequence[str],
        until: Callable[[Rows], bool],
        api: str = "structured",
        options: Mapping[str, Any] | None = None,
        during: Callable[[], None] | None = None,
        settle_batches: int = 2,
    ) -> Rows:
        """Run ``job`` on real sources until ``until(all rows so far)`` holds; all output rows.

        ``during`` runs once the job has started (to feed a socket or drop files). After the
        condition holds, a DStream job runs ``settle_batches`` more batches and a Structured
        query processes all available input, so a record counted twice would show up.
        """
        table_name = f"live_{uuid.uuid4().hex[:12]}"
        table = memory_table(table_name, keep=None)
        config = self._config(job, api, sources, table_name, options)
        job_run = Run(prepare(config), self.spark, self._observers()).start()
        self.last_stats = job_run.stats
        try:
            if during is not None:
                during()
            if not table.wait_for(lambda t: until(t.rows()), self.timeout):
                raise HarnessTimeoutError(
                    f"{job} --api {api}: condition not met after {self.timeout} s and "
                    f"{table.total_batches} batches; last rows: {table.rows()[-5:]}"
                )
            if api == "structured" and not any(source.always_new_data for source in job_run.prepared.sources):
                job_run.process_all_available()  # a micro-batch runs only when there is new input
            else:  # processAllAvailable would wait for ever on a source that always has new data
                seen = table.total_batches
                if not table.wait_for(lambda t: t.total_batches >= seen + settle_batches, self.timeout):
                    raise HarnessTimeoutError(f"{job} --api {api}: no further batches after {self.timeout} s")
            return table.rows()
        finally:
            job_run.stop(graceful=False)

    def run(
        self,
        job: str,
        batches: Sequence[Sequence[str | Mapping[str, Any]]],
        api: str = "structured",
        options: Mapping[str, Any] | None = None,
        times_ms: Sequence[int] | None = None,
    ) -> list[Rows]:
        """Run ``job`` over ``batches`` and return the output rows of each batch.

        Each batch is a list of records: text lines, or dicts (written as JSON lines and read
        with ``format=json``; pass ``key``/``event_time`` in ``options``). ``outputs[i]`` is what
        the job wrote at input batch ``i``: for DStreams the output of the batch that read it
        (empty where a windowed job does not emit), for Structured Streaming all micro-batches
        run while it was processed. A fresh checkpoint is used unless ``options`` names one.

        ``times_ms`` (Structured only) gives the processing time, in milliseconds since the epoch,
        at which each batch runs: the queries start on a :class:`TriggerClock` at ``times_ms[0]``
        and the clock is set to ``times_ms[i]`` once batch ``i`` is written, so the micro-batch
        that reads it has that batch timestamp (``current_timestamp()``, TTLs, timers). Each time
        must reach the trigger after the one before: ``times_ms[i] >= (times_ms[i - 1] // T + 1)
        * T`` for the trigger interval ``T`` (``batch_interval``, 500 ms unless ``options`` say).
        """
        input_dir = self._input_dir()
        table_name = f"harness_{uuid.uuid4().hex[:12]}"
        is_json = any(isinstance(record, Mapping) for batch in batches for record in batch)
        source = f"file://{input_dir}?format={'json' if is_json else 'text'}&maxFilesPerTrigger=1"
        if is_json:
            source += "&schema=" + quote(
                infer_ddl([r for batch in batches for r in batch if isinstance(r, Mapping)])
            )
        options = {"checkpoint": str(input_dir.with_name(input_dir.name + "-ck")), **(options or {})}
        config = self._config(job, api, [source], table_name, options)
        table = memory_table(table_name, keep=None)
        lines = [[json.dumps(r) if isinstance(r, Mapping) else str(r) for r in batch] for batch in batches]
        if times_ms is not None:
            _check_times(times_ms, len(batches), api, config.batch_interval.ms)
        if api == "dstream":
            for i, batch_lines in enumerate(lines):
                self._write_batch(input_dir, i, batch_lines)
        prepared = prepare(config)
        if times_ms is None:
            job_run = Run(prepared, self.spark, self._observers()).start()
        else:
            if lines:  # there before the start: the first trigger reads it, at times_ms[0]
                self._write_batch(input_dir, 0, lines[0])
            clock = TriggerClock(self.spark, times_ms[0] if times_ms else 0)
            job_run = _ClockedRun(prepared, self.spark, self._observers(), clock).start()
        self.last_stats = job_run.stats
        try:
            if api == "dstream":
                return self._dstream_outputs(job_run, prepared, table, len(batches))
            if isinstance(job_run, _ClockedRun):
                return self._clocked_outputs(job_run, input_dir, lines, times_ms or [], table)
            outputs: list[Rows] = []
            for i, batch_lines in enumerate(lines):
                before = table.total_batches
                self._write_batch(input_dir, i, batch_lines)
                job_run.process_all_available()
                outputs.append([row for _, rows in table.snapshot()[before:] for row in rows])
            return outputs
        finally:
            job_run.stop(graceful=False)

    def _clocked_outputs(
        self,
        job_run: _ClockedRun,
        input_dir: Path,
        lines: list[list[str]],
        times_ms: Sequence[int],
        table: MemoryTable,
    ) -> list[Rows]:
        """Run batch ``i`` at ``times_ms[i]``; the rows each wrote."""
        outputs: list[Rows] = []
        for i, batch_lines in enumerate(lines):
            before = table.total_batches
            if i:
                self._write_batch(input_dir, i, batch_lines)
                job_run.clock.set(times_ms[i])
            job_run.wait_batches(i + 1, self.timeout)
            outputs.append([row for _, rows in table.snapshot()[before:] for row in rows])
        return outputs

    def _dstream_outputs(
        self, job_run: Run, prepared: Prepared, table: MemoryTable, count: int
    ) -> list[Rows]:
        """Wait until the batch that read the last input file has completed; outputs by input batch."""
        assert prepared.layout is not None
        plans_log = prepared.layout.source_dir(prepared.sources[0].name) / "plans.jsonl"

        def planned() -> list[int]:
            try:
                return [
                    json.loads(line)["batch"] for line in plans_log.read_text().splitlines() if line.strip()
                ]
            except (FileNotFoundError, ValueError):
                return []

        def done(stats: RunStats) -> bool:
            times = planned()
            return len(times) >= count and max(stats.completed, default=0) >= times[count - 1]

        if not job_run.stats.wait_for(done, self.timeout):
            raise HarnessTimeoutError(
                f"{prepared.job.name} --api dstream: {len(planned())} of {count} input batches planned, "
                f"{len(job_run.stats.completed)} batches completed after {self.timeout} s"
            )
        by_time: dict[int, Rows] = {}
        for info, rows in table.snapshot():
            by_time.setdefault(info.time_ms, []).extend(rows)
        return [by_time.get(t, []) for t in planned()[:count]]

    def run_pipeline(
        self, pipeline: str | Path, rounds: Sequence[Mapping[str, Sequence[str | Mapping[str, Any]]]]
    ) -> list[dict[str, Rows]]:
        """Run a pipeline file's standing queries over scripted rounds of input.

        Every stream's source is replaced by a directory read by the real file source (text lines,
        or JSON records of the stream's schema), every query's output by a memory table and every
        trigger by a short one (rounds are drained, so the trigger changes no answer); the rest —
        archive, watermarks, working storage, SQL — runs as ``sparkkit run streams`` runs it.
        Each round is ``{stream: records}``: one file per stream, then all available input is
        processed. ``outputs[i][query]`` is what ``query`` wrote while round ``i`` was processed.
        """
        spec = load_pipeline(pipeline)
        run = f"pipeline_{uuid.uuid4().hex[:8]}"
        directories = {name: self.workdir / run / name for name in spec.streams}
        streams = {}
        for name, stream in spec.streams.items():
            if stream.source.record_format == "text":
                address = f"file://{directories[name]}?format=text"
            else:
                address = f"file://{directories[name]}?format=json&schema={quote(stream.schema or '')}"
            streams[name] = replace(stream, source=source_for(address))
        tables = {name: f"{run}_{name}" for name in spec.queries}
        memory = {
            name: sink_for(f"memory://{table}?keep=1000000&view=false") for name, table in tables.items()
        }
        queries = {
            name: replace(query, output=memory[name], batch_interval=TRIGGER)
            for name, query in spec.queries.items()
        }
        pipeline_run = replace(spec, streams=streams, queries=queries, batch_interval=TRIGGER)
        processor = Processor(
            prepare_pipeline(pipeline_run, self.workdir / run / "ck"), self.spark, observers=self._observers()
        )
        self.last_processor = processor
        for directory in directories.values():
            directory.mkdir(parents=True)
        processor.start()
        outputs: list[dict[str, Rows]] = []
        try:
            for i, round_records in enumerate(rounds):
                before = {name: memory_table(table).total_batches for name, table in tables.items()}
                for stream_name, records in round_records.items():
                    if stream_name not in directories:
                        known = ", ".join(directories)
                        raise KeyError(f"{stream_name!r} is not a stream of {spec.name}: {known}")
                    lines = [json.dumps(r) if isinstance(r, Mapping) else str(r) for r in records]
                    self._write_batch(directories[stream_name], i, lines)
                processor.process_all_available()
                outputs.append(
                    {
                        name: [
                            row for _, rows in memory_table(table).snapshot()[before[name] :] for row in rows
                        ]
                        for name, table in tables.items()
                    }
                )
            return outputs
        finally:
            processor.stop(graceful=False)
