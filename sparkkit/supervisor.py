"""The supervisor: owns a list of streaming queries, starts them, watches them, stops them together.

Every place that runs streaming work — ``sparkkit run``, the stream processor, the test harness,
the benchmarks — hands its queries to a :class:`Supervisor`, so starting, failure handling and
stopping are written once:

- ``start`` starts the queries in order; when one cannot start, those already started are
  stopped before the error is raised (nothing leaks);
- a watcher thread per query blocks in its ``awaitTermination``; the first query that fails
  stops all the others, and its error is what the supervisor raises;
- ``wait`` ends on a duration, SIGTERM, Ctrl-C, a failure, or when every query has ended by
  itself (end of input), and always stops everything.

The blocking waits run on watcher threads and the stop at the end of ``wait`` on a thread of its
own, never on the main thread: a signal landing inside a py4j call breaks the gateway ("Answer
from Java side is empty"), and a second Ctrl-C must not cut a stop short.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sparkkit.errors import JobFailedError, SparkkitError
from sparkkit.progress import BatchObserver, DStreamProgress, RunStats, StructuredProgress, stats_for

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.streaming import DataStreamWriter, StreamingQuery
    from pyspark.streaming import StreamingContext


def first_line(exc: BaseException) -> str:
    """The one line that says why: a Python error raised inside a batch (which Spark wraps in a
    Java exception with its traceback), else the first meaningful line of the message."""
    lines = [line.rstrip() for line in str(exc).splitlines()]
    if any("Traceback (most recent call last)" in line for line in lines):
        start = next(i for i, line in enumerate(lines) if "Traceback (most recent call last)" in line)
        python = []
        for line in lines[start + 1 :]:
            if line.startswith(("\tat ", "JVM stacktrace", "===")) or "SQLSTATE" in line:
                break
            if line and not line[0].isspace():
                python.append(line)
        if python:
            return python[-1]
    for line in lines:
        line = line.strip()
        if line and not line.startswith(("An error occurred while calling", "Traceback")):
            return line
    return type(exc).__name__


class Query(ABC):
    """One unit of streaming work the supervisor owns: a Structured query or a StreamingContext.

    ``run_key`` names the query's :class:`~sparkkit.progress.RunStats`.
    """

    def __init__(self, name: str, run_key: str) -> None:
        self.name = name
        self.run_key = run_key
        self.observers: list[BatchObserver] = []

    @property
    def stats(self) -> RunStats:
        return stats_for(self.run_key)

    @abstractmethod
    def start(self) -> None:
        """Start; raise when it cannot."""

    @abstractmethod
    def await_end(self) -> None:
        """Block until the query ends; raise its error when it failed."""

    @abstractmethod
    def stop(self, graceful: bool) -> None:
        """Stop (gracefully: let a running batch finish). Idempotent."""

    def process_all_available(self) -> None:
        """Block until every input available now is processed and written."""
        raise SparkkitError(f"{self.name}: process_all_available() needs a Structured query")

    @property
    def busy(self) -> bool:
        """Is a batch running now (a graceful stop waits for it)?"""
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class StructuredQuery(Query):
    """A Structured Streaming query, started from its configured ``DataStreamWriter``.

    ``endless`` marks a query over a source that always has new data (Spark's rate source), over
    which ``processAllAvailable`` would never return.
    """

    def __init__(self, name: str, run_key: str, writer: DataStreamWriter, endless: bool = False) -> None:
        super().__init__(name, run_key)
        self.writer = writer
        self.endless = endless
        self.query: StreamingQuery | None = None

    @property
    def id(self) -> str | None:
        return str(self.query.id) if self.query is not None else None

    def start(self) -> None:
        self.query = self.writer.start()

    def await_end(self) -> None:
        if self.query is not None:
            self.query.awaitTermination()

    def process_all_available(self) -> None:
        if self.endless:
            raise SparkkitError(f"{self.name}: process_all_available() would never return: endless source")
        if self.query is None:
            raise SparkkitError(f"{self.name}: process_all_available() before start()")
        self.query.processAllAvailable()

    @property
    def busy(self) -> bool:
        query = self.query
        return query is not None and query.isActive and bool(query.status["isTriggerActive"])

    def stop(self, graceful: bool) -> None:
        """Stop now; the supervisor's graceful stop calls this only between batches (see ``busy``).

        A batch interrupted all the same loses nothing: its id is not committed and it re-runs on
        restart. (``processAllAvailable`` cannot serve: a rate source always has more data.)
        """
        if self.query is not None:
            self.query.stop()


#: How long a graceful stop lets running batches finish before it interrupts them.
GRACE_SECONDS = 60.0


class DStreamQuery(Query):
    """A StreamingContext and its whole DStream graph, built by ``build`` when it starts
    (``StreamingContext.getOrCreate`` may restore it from a checkpoint instead)."""

    def __init__(self, name: str, run_key: str, build: Callable[[], StreamingContext]) -> None:
        super().__init__(name, run_key)
        self.build = build
        self.context: StreamingContext | None = None
        self._stopped = False

    def start(self) -> None:
        self.context = self.build()
        self.context.addStreamingListener(DStreamProgress(self.run_key, self.name, self.observers))
        self.context.start()

    def await_end(self) -> None:
        if self.context is not None:
            self.context.awaitTermination()

    def stop(self, graceful: bool) -> None:
        if self.context is not None and not self._stopped:
            self._stopped = True
            self.context.stop(stopSparkContext=False, stopGraceFully=graceful)


class Supervisor:
    """Starts, watches and stops a list of queries as one run.

    Parameters
    ----------
    spark : SparkSession
        The session the queries run in (its listener bus feeds the Structured progress).
    queries : sequence of Query
        Started in this order, stopped in the reverse order.
    cleanup : callable, optional
        Called once after everything has stopped (temporary directories, for instance).
    observers : sequence of callables, optional
        Each called with a query's metrics record after each of its batches (the metrics file,
        the live view, the state views).
    """

    def __init__(
        self,
        spark: SparkSession,
        queries: Sequence[Query],
        cleanup: Callable[[], None] | None = None,
        observers: Sequence[BatchObserver] = (),
    ) -> None:
        self.spark = spark
        self.queries = list(queries)
        self.cleanup = cleanup
        self.observers = list(observers)
        for query in self.queries:
            query.observers = self.observers
        self.started: list[Query] = []
        self.failure: JobFailedError | None = None
        self._ended = threading.Event()
        self._stopping = threading.Event()
        self._stop_lock = threading.RLock()
        self._running = 0
        self._all_started = False
        self._count_lock = threading.Lock()
        self._listener: StructuredProgress | None = None

    @property
    def stats(self) -> dict[str, RunStats]:
        """Each query's statistics, by query name."""
        return {query.name: query.stats for query in self.queries}

    def query(self, name: str) -> Query:
        """The query called ``name``."""
        for query in self.queries:
            if query.name == name:
                return query
        raise KeyError(name)

    def _query_of(self, query_id: str) -> tuple[str, str] | None:
        for query in self.queries:
            if isinstance(query, StructuredQuery) and query.id == query_id:
                return query.name, query.run_key
        return None

    def start(self) -> Supervisor:
        """Start every query; if one cannot start, stop the others and raise :class:`JobFailedError`."""
        if any(isinstance(q, StructuredQuery) for q in self.queries):
            self._listener = StructuredProgress(self._query_of, self.observers)
            self.spark.streams.addListener(self._listener)
        with self._stop_lock:  # a watcher that sees a failure stops everything after the starts
            for query in self.queries:
                if self._stopping.is_set():
                    break
                try:
                    query.start()
                except Exception as exc:
                    self._fail(JobFailedError(f"{query.name} could not start: {first_line(exc)}"), exc)
                    self.stop(graceful=False)
                    raise self.failure from exc  # type: ignore[misc]
                self.started.append(query)
                with self._count_lock:
                    self._running += 1
                threading.Thread(
                    target=self._watch, args=(query,), name=f"sparkkit-watch-{query.name}", daemon=True
                ).start()
            with self._count_lock:
                self._all_started = True
                if self._running == 0:  # every query ended already (end of input)
                    self._ended.set()
        self.check()
        return self

    def _fail(self, failure: JobFailedError, cause: BaseException) -> bool:
        """Note the first failure; False if one was noted already."""
        with self._count_lock:
            if self.failure is not None:
                return False
            failure.__cause__ = cause
            self.failure = failure
            return True

    def _watch(self, query: Query) -> None:
        try:
            query.await_end()
        except BaseException as exc:
            failure = JobFailedError(f"{query.name} failed: {first_line(exc)}")
            if not self._stopping.is_set() and self._fail(failure, exc):
                self._ended.set()
                self.stop(graceful=False)  # one failing stops the rest
        finally:
            with self._count_lock:
                self._running -= 1
                if self._running == 0 and self._all_started:
                    self._ended.set()

    def check(self) -> None:
        """Raise the first query's failure, if one failed."""
        if self.failure is not None:
            raise self.failure

    def process_all_available(self) -> None:
        """Block until every query has processed all the input available now; raise a failure."""
        try:
            for query in self.started:
                query.process_all_available()
        except SparkkitError:
            raise
        except Exception:
            self._ended.wait(5.0)  # the watcher notes the failure that made this call fail
            self.check()
            raise
        self.check()

    def wait_until_ended(self, timeout: float | None = None) -> bool:
        """Block until every query ended or one failed; False if ``timeout`` passed first."""
        return self._ended.wait(timeout)

    def wait(self, duration: float | None = None, before_stop: Callable[[], None] | None = None) -> None:
        """Run until ``duration`` seconds pass (None: no limit), SIGTERM or Ctrl-C arrive, one
        query fails or all end by themselves; then stop everything and raise any failure.

        ``before_stop`` runs when the duration has passed, while every query still runs (the
        ad-hoc queries of ``--ask``)."""
        terminated: list[int] = []  # set by SIGTERM; a handler must not take locks or call py4j
        on_main = threading.current_thread() is threading.main_thread()
        previous = (
            signal.signal(signal.SIGTERM, lambda signum, frame: terminated.append(signum))
            if on_main
            else None
        )
        deadline = time.monotonic() + duration if duration else None
        try:
            while not terminated and not self._ended.wait(0.2):
                if deadline is not None and time.monotonic() >= deadline:
                    if before_stop is not None and self.failure is None:
                        before_stop()
                    break
        except KeyboardInterrupt:
            pass
        finally:
            # the stop runs its py4j calls on a thread of its own: a second Ctrl-C must not leave
            # it half done (queries running, listener registered)
            stopper = threading.Thread(target=self.stop, name="sparkkit-stop")
            stopper.start()
            while stopper.is_alive():
                with contextlib.suppress(KeyboardInterrupt):
                    stopper.join(0.2)
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        self.check()

    def stop(self, graceful: bool = True) -> None:
        """Stop every started query, newest first; then the cleanup. Idempotent, any thread."""
        self._stopping.set()
        with self._stop_lock:
            pending = list(reversed(self.started))
            deadline = time.monotonic() + GRACE_SECONDS
            while graceful and pending and time.monotonic() < deadline:
                # stop each query as soon as it is between batches: one by one, the others would
                # start new batches while they wait
                for query in [q for q in pending if not q.busy]:
                    with contextlib.suppress(Exception):  # a query failing as it stops is stopped
                        query.stop(graceful)
                    pending.remove(query)
                if pending:
                    time.sleep(0.05)
            for query in pending:  # still busy after the grace period: interrupted
                with contextlib.suppress(Exception):
                    query.stop(False)
            if self._listener is not None:
                with contextlib.suppress(Exception):  # the session may be gone already
                    self.spark.streams.removeListener(self._listener)
                self._listener = None
            if self.cleanup is not None:
                cleanup, self.cleanup = self.cleanup, None
                cleanup()


class Supervised:
    """A run whose queries one :class:`Supervisor` owns (a job's ``Run``, the ``Processor``):
    waiting, stopping and draining are the supervisor's."""

    supervisor: Supervisor | None = None

    def _started(self) -> Supervisor:
        if self.supervisor is None:
            raise SparkkitError(f"{self!r} has not been started")
        return self.supervisor

    def process_all_available(self) -> None:
        """Block until every query has processed all the input available now (in start order)."""
        self._started().process_all_available()

    def wait(self, duration: float | None = None, before_stop: Callable[[], None] | None = None) -> None:
        """Run until ``duration`` seconds pass, a signal, a failure or the end of input; then stop
        (``before_stop`` first, when the duration has passed)."""
        self._started().wait(duration, before_stop)

    def stop(self, graceful: bool = True) -> None:
        """Stop every query; gracefully, each finishes its running batch first."""
        if self.supervisor is not None:
            self.supervisor.stop(graceful)
