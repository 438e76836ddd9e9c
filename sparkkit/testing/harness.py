"""Feed scripted micro-batches to a job in either API and get each batch's output rows.

Batches are written as files ``batch-NNNNNN.txt`` into an input directory read by the job's
real file source with ``maxFilesPerTrigger=1``, and the output goes through the real batch
writer into a ``memory://`` table, so the harness exercises the same path as ``sparkkit run``.
It waits on batch completion, never on the clock: DStream runs block until the memory table
has seen one output per input batch; Structured runs call ``processAllAvailable`` after each
batch, so ``outputs[i]`` is exactly what input batch ``i`` produced.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sparkkit.config import JobConfig, load_config
from sparkkit.deadletter_writer import read_dead_letters
from sparkkit.duration import Duration
from sparkkit.errors import HarnessTimeoutError
from sparkkit.jobs import get_job
from sparkkit.pipeline import load_pipeline
from sparkkit.processor import Processor, prepare_pipeline
from sparkkit.progress import BatchObserver, RunStats
from sparkkit.runner import Prepared, Run, prepare
from sparkkit.sinks import MemoryTable, memory_table, sink_for
from sparkkit.sources import source_for

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

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


def without(rows: Rows, *columns: str) -> Rows:
    """``rows`` with ``columns`` dropped (``batch_time`` differs from run to run)."""
    return [{k: v for k, v in row.items() if k not in columns} for row in rows]


def as_counts(rows: Rows, key: str = "word") -> dict[str, int]:
    """``{row[key]: row["count"]}`` for one batch's rows."""
    return {row[key]: row["count"] for row in rows}


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
    ) -> list[Rows]:
        """Run ``job`` over ``batches`` and return the output rows of each batch.

        Each batch is a list of records: text lines, or dicts (written as JSON lines and read
        with ``format=json``; pass ``key``/``event_time`` in ``options``). ``outputs[i]`` is what
        the job wrote at input batch ``i``: for DStreams the output of the batch that read it
        (empty where a windowed job does not emit), for Structured Streaming all micro-batches
        run while it was processed. A fresh checkpoint is used unless ``options`` names one.
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
        if api == "dstream":
            for i, batch_lines in enumerate(lines):
                self._write_batch(input_dir, i, batch_lines)
        prepared = prepare(config)
        job_run = Run(prepared, self.spark, self._observers()).start()
        self.last_stats = job_run.stats
        try:
            if api == "dstream":
                return self._dstream_outputs(job_run, prepared, table, len(batches))
            outputs: list[Rows] = []
            for i, batch_lines in enumerate(lines):
                before = table.total_batches
                self._write_batch(input_dir, i, batch_lines)
                job_run.process_all_available()
                outputs.append([row for _, rows in table.snapshot()[before:] for row in rows])
            return outputs
        finally:
            job_run.stop(graceful=False)

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
