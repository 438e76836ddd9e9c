"""The supervisor: owns a list of streaming queries, starts them, watches them, stops them together.

Every place that runs streaming work — ``sparkkit run``, the stream processor, the test harness,
the benchmarks — hands its queries to a :class:`Supervisor`, so starting, failure handling and
stopping are written once:

- ``start`` starts the queries in order; when one cannot start, those already started are
  stopped before the error is raised (nothing leaks);
- a watcher thread per query blocks in its ``awaitTermination``; the first query that fails
  stops all the others, and its error is what the supervisor raises;
- ``wait`` ends on a duration, SIGTERM, Ctrl-C, a failure, or when every query has ended by
  itself (end of input), and always stops everything;
- a graceful ``stop`` drains: each Structured query ends between two batches, after the batch it
  is running has committed and before another can begin (:meth:`StructuredQuery.drain`), all
  queries at once; a StreamingContext stops with ``stopGraceFully``.

The blocking waits run on watcher threads and the stop at the end of ``wait`` on a thread of its
own, never on the main thread: a signal landing inside a py4j call breaks the gateway ("Answer
from Java side is empty"), and a second Ctrl-C must not cut a stop short.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sparkkit.errors import JobFailedError, SparkkitError
from sparkkit.progress import BatchObserver, DStreamProgress, RunStats, StructuredProgress, stats_for
from sparkkit.session import (
    DRIVER_EXIT_WAIT_SECONDS,
    broke_connection,
    driver_exit_error,
    driver_exit_status,
    failing_with_driver_exit,
)

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
            # sparkkit's own errors say everything in their message: drop the class's name
            own = python[-1].startswith("sparkkit.errors.")
            return python[-1].split(": ", 1)[-1] if own else python[-1]
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

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class StructuredQuery(Query):
    """A Structured Streaming query, started from its configured ``DataStreamWriter``.

    ``endless`` marks a query over a source that always has new data (Spark's rate source), over
    which ``processAllAvailable`` would never return. ``starter``, when set, starts the query
    instead of ``writer.start()`` (the test harness starts queries on a clock it sets).
    """

    def __init__(self, name: str, run_key: str, writer: DataStreamWriter, endless: bool = False) -> None:
        super().__init__(name, run_key)
        self.writer = writer
        self.endless = endless
        self.query: StreamingQuery | None = None
        self.starter: Callable[[DataStreamWriter], StreamingQuery] | None = None
        self._id: str | None = None

    @property
    def id(self) -> str | None:
        """The query's id, read once at start (stopping must not need the JVM to answer)."""
        return self._id

    def start(self) -> None:
        self.query = self.writer.start() if self.starter is None else self.starter(self.writer)
        self._id = str(self.query.id)

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
        """Is a trigger running now (the fallback stop, without Spark's internals, waits for it)?"""
        query = self.query
        return query is not None and query.isActive and bool(query.status["isTriggerActive"])

    def stop(self, graceful: bool) -> None:
        """Stop now: a running batch is interrupted (see :meth:`drain` for a graceful stop).

        An interrupted batch loses nothing: its id is not committed and it re-runs on restart.
        """
        if self.query is not None:
            self.query.stop()

    def drain(self, deadline: float) -> None:
        """Stop between two batches: after the batch running now has committed, before another
        begins; past ``deadline`` (``time.monotonic()``), stop at once.

        ``query.stop()`` interrupts whatever the query's micro-batch thread is doing, and no public
        API says when that thread is between batches: ``status`` and the progress events (posted
        asynchronously, after the thread has moved on) are always late, so a stop "right after a
        progress event" interrupts the next batch whenever batches run back to back, and one
        "when not busy" whenever a trigger starts in between. The drain works with the thread
        itself instead (:class:`_BatchLoop`): it holds the query's progress lock, without which the
        thread can neither plan a batch (write its offsets) nor commit one, looks where the thread
        waits, and sets the query's stop flag only where the next thing the thread does with it is
        to leave its loop (see :meth:`_BatchLoop.end_between_batches`). So every batch the query
        began is committed, and the checkpoint's offsets and commits end at the same batch: a
        restart plans a new batch instead of re-running one, and a sink that is not idempotent
        sees each batch once. It takes at most the rest of the running batch, or one whole batch
        when a trigger was just starting.

        Over a query whose internals are out of reach (another Spark version, Spark Connect) it
        falls back to stopping the query as soon as ``status`` says no trigger is active, which
        interrupts a trigger that starts in between.
        """
        query = self.query
        if query is None:
            return
        try:
            loop = _BatchLoop(query)
        except Exception:  # not a classic micro-batch query of a known Spark
            self._stop_when_idle(deadline)
            return
        try:
            how = loop.end_between_batches(deadline)
        except Exception:  # the session is going away: nothing to drain any more
            how = _LATE
        if how == _AFTER_BATCH:  # the thread leaves its loop once the batch has committed
            with contextlib.suppress(Exception):  # a failure of that last batch is the watcher's
                query.awaitTermination(max(1, math.ceil(deadline - time.monotonic())))
        # _BETWEEN: the thread waits for its next trigger, and will see the flag and leave when
        # it wakes: interrupting the wait only makes that sooner. _ENDED: nothing left to stop.
        # _LATE: the grace period is over, the running batch is interrupted.
        self.stop(graceful=False)

    def _stop_when_idle(self, deadline: float) -> None:
        while self.busy and time.monotonic() < deadline:
            time.sleep(0.05)
        self.stop(graceful=False)


#: How :meth:`_BatchLoop.end_between_batches` ended a query's loop.
_ENDED, _AFTER_BATCH, _BETWEEN, _LATE = "ended", "after the running batch", "between batches", "late"
#: Where a micro-batch thread is, as :meth:`_BatchLoop.position` sees it.
_CONSTRUCTING = "parked before planning a batch"
_COMMITTING = "parked before committing its batch"
_FINISHING = "parked after its trigger"
_PARKED = "parked elsewhere"
_WAITING = "waiting for its next trigger"
_RUNNING = "running"
#: Seconds between two looks at a micro-batch thread that is running a batch.
_LOOK_INTERVAL = 0.01


class _BatchLoop:
    """A classic micro-batch query's own loop, through Py4J: its thread, its progress lock and
    its state flag (``StreamExecution.queryExecutionThread``, ``awaitProgressLock``, ``state``).

    One iteration of the thread's loop (``ProcessingTimeExecutor.execute`` calling
    ``MicroBatchExecution.executeOneBatch``, Spark 4): wait until the next trigger time; check the
    flag (``isActive``) and leave the loop if it is set; otherwise, holding the progress lock,
    plan the next batch (ask the sources for offsets, write them to the offset log); plan the
    query, then check the flag again and interrupt itself if it is set (so a flag set while a
    batch is being planned aborts that batch); run the batch (the sink, ``foreachBatch``); holding
    the lock, write the commit log; post the progress event; take the lock once more to wake
    ``processAllAvailable`` waiters; then return the flag's negation, ending the loop if set.
    The lock is fair, and ``lock()`` cannot be interrupted.
    """

    def __init__(self, query: StreamingQuery) -> None:
        from pyspark import SparkContext

        jvm: Any = SparkContext._jvm
        execution = query._jsq.streamingQuery()
        self.jvm = jvm
        self.lock = execution.awaitProgressLock()
        self.thread = execution.queryExecutionThread()
        self.state = execution.state()
        package = self.state.get().getClass().getName().rpartition(".")[0]
        self.active = self._module(f"{package}.ACTIVE$")
        self.terminated = self._module(f"{package}.TERMINATED$")
        self.millis = jvm.java.util.concurrent.TimeUnit.MILLISECONDS

    def _module(self, name: str) -> Any:
        return self.jvm.java.lang.Class.forName(name).getField("MODULE$").get(None)

    def _methods(self) -> list[str]:
        """The thread's stack, innermost first, as ``Class.method`` names."""
        trace = self.jvm.java.lang.Throwable()
        trace.setStackTrace(self.thread.getStackTrace())
        lines = str(self.jvm.org.apache.spark.util.Utils.exceptionString(trace)).splitlines()
        frames = [line.strip()[3:] for line in lines if line.startswith("\tat ")]
        return [frame.split("(")[0].rpartition("/")[2] for frame in frames]

    def position(self) -> str:
        """Where the thread is. Parked on the lock while this side holds it, it stays there."""
        if not self.thread.isAlive():
            return _ENDED
        if self.lock.hasQueuedThread(self.thread):
            methods = self._methods()
            locked = next((i for i, m in enumerate(methods) if m.endswith(_LOCKED)), len(methods))
            for caller in methods[locked + 1 :]:
                if caller.endswith(_CONSTRUCT):
                    return _CONSTRUCTING
                if caller.endswith(_RUN):
                    return _COMMITTING
                if caller.endswith(_ONE_BATCH):
                    return _FINISHING
            if any("runStream" in m for m in methods):
                return _ENDED  # out of its loop, about to end (the query is terminated already)
            return _PARKED
        if str(self.thread.getState()) == "RUNNABLE":
            return _RUNNING
        methods = self._methods()
        for i, method in enumerate(methods[:-1]):
            if method.endswith(".waitTillTime") and methods[i + 1].endswith("ProcessingTimeExecutor.execute"):
                return _WAITING  # before the trigger's flag check
        ours = [m for m in methods if not m.startswith(("java.", "jdk."))]
        sleeping = bool(methods) and methods[0].startswith("java.lang.Thread.sleep")
        if sleeping and bool(ours) and ours[0].endswith(_ONE_BATCH):
            return _WAITING  # the pause after a trigger without data, before the flag is returned
        return _RUNNING

    def end_between_batches(self, deadline: float) -> str:
        """Set the stop flag where the thread's next use of it ends its loop with no batch begun
        and none interrupted; how it ended (``_AFTER_BATCH``, ``_BETWEEN``, ``_ENDED``, ``_LATE``).

        Holding the lock, look where the thread is until it stays put:

        - parked before committing (``runBatch``) or after its trigger (``executeOneBatch``): the
          batch is past its planning, so the flag aborts nothing; the thread commits, posts the
          batch's progress and leaves the loop when the batch returns the flag: ``_AFTER_BATCH``;
        - waiting for its next trigger (or pausing after a trigger without data): set the flag,
          then look again. Still waiting: its next step is the flag check, which now ends the loop
          (``_BETWEEN``). Parked before planning a batch: it checked the flag before it was set,
          so unset it (the thread has not read it since) and let that batch run, as below;
        - parked before planning a batch (or anywhere else not known to be safe): release the
          lock; the fair lock lets the thread plan the batch first, then this side takes it again
          and waits for the batch to come to its commit;
        - ended, or leaving its loop (parked in ``runStream``'s cleanup): ``_ENDED``;
        - running (a batch, or between two of these places): look again shortly.
        """
        flagged = False
        if not self._acquire(deadline):
            return _ENDED if not self.thread.isAlive() else _LATE
        try:
            while time.monotonic() < deadline:
                where = self.position()
                if where == _ENDED:
                    return _ENDED
                if where in (_COMMITTING, _FINISHING):
                    self.state.compareAndSet(self.active, self.terminated)
                    return _AFTER_BATCH
                if where == _WAITING:
                    if flagged:
                        return _BETWEEN
                    self.state.compareAndSet(self.active, self.terminated)
                    flagged = bool(self.state.get().equals(self.terminated))
                    continue
                if where in (_CONSTRUCTING, _PARKED):
                    if flagged:  # it read the flag before it was set, and has not since
                        self.state.compareAndSet(self.terminated, self.active)
                        flagged = False
                    self.lock.unlock()
                    if not self._acquire(deadline):
                        return _ENDED if not self.thread.isAlive() else _LATE
                    continue
                time.sleep(_LOOK_INTERVAL)
            return _LATE
        finally:
            if self.lock.isHeldByCurrentThread():
                self.lock.unlock()

    def _acquire(self, deadline: float) -> bool:
        """Take the lock (fairly: behind a thread already waiting for it); False past ``deadline``
        or once the query's thread has ended."""
        while time.monotonic() < deadline:
            if self.lock.tryLock(50, self.millis):
                return True
            if not self.thread.isAlive():
                return False
        return False


#: The methods of Spark's ``MicroBatchExecution`` that :meth:`_BatchLoop.position` recognises.
_LOCKED = "MicroBatchExecution.withProgressLocked"
_CONSTRUCT = "MicroBatchExecution.constructNextBatch"
_RUN = "MicroBatchExecution.runBatch"
_ONE_BATCH = "MicroBatchExecution.executeOneBatch"


#: How long a graceful stop lets running batches finish before it interrupts them.
GRACE_SECONDS = 60.0
#: How long a stop waits for Spark's listener bus to deliver the stopped queries' last events.
LISTENER_SECONDS = 10.0


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
        """Stop the context (the SparkContext stays). Gracefully (``stopGraceFully``), it drains
        already: Spark stops generating batches, then runs every batch generated so far, the
        running one included, to completion (past ``spark.streaming.gracefulStopTimeout``, ten
        batch intervals by default, it stops waiting: the jobs already queued still run, but the
        checkpoints of the last batches may not be written)."""
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
        self._stopped = False
        self._ended = threading.Event()
        self._stopping = threading.Event()
        self._stop_lock = threading.RLock()
        self._running = 0
        self._all_started = False
        self._count_lock = threading.Lock()
        self._listener: StructuredProgress | None = None
        self._terminated: list[int] = []  # set by SIGTERM; a handler must not take locks or call py4j
        self._previous_handler: Any = None

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
        """Start every query; if one cannot start, stop the others and raise :class:`JobFailedError`.

        SIGTERM is noted from here on (on the main thread), so one that comes while queries start
        (a recovering DStream can take long) stops the run gracefully once :meth:`wait` runs.
        """
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(
                signal.SIGTERM, lambda signum, frame: self._terminated.append(signum)
            )
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
            if not self._stopping.is_set() and self._fail(self._failure_of(query, exc), exc):
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
        terminated = self._terminated
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
            self._restore_handler()
        self.check()

    def _restore_handler(self) -> None:
        if self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
            self._previous_handler = None

    def stop(self, graceful: bool = True) -> None:
        """Stop every started query, then the cleanup. Idempotent, any thread.

        Gracefully, the Structured queries drain all at once (each on a thread of its own, so none
        begins a batch while another finishes one): each ends between two batches, every batch it
        began committed (:meth:`StructuredQuery.drain`), within :data:`GRACE_SECONDS`; a
        StreamingContext stops with ``stopGraceFully``. Otherwise each query is stopped at once,
        newest first. Either way the progress listener is removed only once it has seen every
        stopped query end (Spark posts that after the query's last progress), so the observers
        and the statistics have every batch that ran when ``stop`` returns. A driver JVM that
        exited meanwhile (a SIGTERM to the whole process group) ends the wait at once and fails
        the run with :func:`~sparkkit.session.driver_exit_error`, if a stop did not complete.
        """
        self._stopping.set()
        with self._stop_lock:
            if self._stopped and self._driver_exited():
                return  # stopped already; the JVM has exited since: nothing left to stop
            queries = list(reversed(self.started))
            unstopped: list[str] = []  # queries whose stop raised
            if graceful:
                deadline = time.monotonic() + GRACE_SECONDS
                drains = [
                    threading.Thread(
                        target=_drain, args=(q, deadline, unstopped), name=f"sparkkit-drain-{q.name}"
                    )
                    for q in queries
                    if isinstance(q, StructuredQuery)
                ]
                for drain in drains:
                    drain.start()
                for query in queries:
                    if not isinstance(query, StructuredQuery):
                        _stop(query, True, unstopped)
                for drain in drains:
                    drain.join()
            else:
                for query in queries:
                    _stop(query, False, unstopped)
            heard_every_end = True
            if self._listener is not None:
                ids = [q.id for q in queries if isinstance(q, StructuredQuery) and q.id is not None]
                heard_every_end = self._listener.wait_ended(
                    ids, LISTENER_SECONDS, abandon=self._driver_exited
                )
                if not self._driver_exited():
                    with contextlib.suppress(Exception):  # the session may be gone already
                        self.spark.streams.removeListener(self._listener)
                self._listener = None
            unclean = bool(unstopped) or not heard_every_end
            status = driver_exit_status(self.spark, DRIVER_EXIT_WAIT_SECONDS if unclean else 0.0)
            if status is not None and (unclean or self.failure is not None):
                self._driver_failed(status)  # killed with its process group, say
            if self.cleanup is not None:
                cleanup, self.cleanup = self.cleanup, None
                with failing_with_driver_exit(self.spark, self._driver_failed):
                    cleanup()
            self._stopped = True
        if threading.current_thread() is threading.main_thread():
            self._restore_handler()  # else wait() restores it, on the main thread

    def _failure_of(self, query: Query, exc: BaseException) -> JobFailedError:
        """What a query's end with ``exc`` is reported as: the driver JVM's exit when it went
        (killed, out of memory, its shutdown hooks stopping the queries), else the query's error.
        A broken connection anywhere in ``exc``'s chain waits longer for the exit to show."""
        status = driver_exit_status(self.spark, DRIVER_EXIT_WAIT_SECONDS if broke_connection(exc) else 1.0)
        if status is not None:
            return driver_exit_error(status)
        return JobFailedError(f"{query.name} failed: {first_line(exc)}")

    def _driver_failed(self, status: int) -> None:
        """The run fails because its driver JVM exited before sparkkit stopped it: that is the
        cause to report, over what the queries failed with as it went."""
        failure = driver_exit_error(status)
        failure.__cause__ = RuntimeError(f"driver JVM exit status {status}")
        with self._count_lock:
            self.failure = failure

    def _driver_exited(self) -> bool:
        return driver_exit_status(self.spark) is not None


def _drain(query: StructuredQuery, deadline: float, unstopped: list[str]) -> None:
    try:
        query.drain(deadline)
    except Exception:  # a query failing as it stops is stopped; noted for the driver's check
        unstopped.append(query.name)


def _stop(query: Query, graceful: bool, unstopped: list[str]) -> None:
    try:
        query.stop(graceful=graceful)
    except Exception:  # a query failing as it stops is stopped; noted for the driver's check
        unstopped.append(query.name)


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
