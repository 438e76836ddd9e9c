"""Ad-hoc queries: SQL asked of a running job at any moment, through its Spark Connect endpoint.

The job keeps what can be asked as global temporary views: each stream's working storage
(``global_temp.<stream>``), each ``memory://`` query's answer (``global_temp.<query>``), each
stateful query's current state (``global_temp.<query>_state``) and each sampled stream's
sample (``global_temp.<stream>_sample``). A Connect session is a session of the job's own
driver, so it reads them as they are now, without stopping or slowing the standing queries.

The client is PySpark's own Connect client; any other Connect client works the same way with
the ``url`` and ``token`` of ``endpoint.json``.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO

from rich import box

from sparkkit.endpoint import Endpoint
from sparkkit.errors import AdHocQueryError, NotRunningError

#: How long an ad-hoc query may take, by default, before the client gives up.
DEFAULT_TIMEOUT_SECONDS = 60.0
#: How long the job may take to answer at all (a first, trivial request).
CONNECT_TIMEOUT_SECONDS = 10.0
#: The name of the thread that waits for the job (one still alive after ``ask`` gave up holds
#: the interpreter's exit: a command leaves with ``os._exit``).
ADHOC_THREAD = "sparkkit-adhoc"


@dataclass(frozen=True)
class Answer:
    """An ad-hoc query's answer: column names and rows (plain Python values)."""

    columns: list[str]
    rows: list[dict[str, Any]]


def ask(
    endpoint: Endpoint,
    sql: str,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
) -> Answer:
    """Run ``sql`` in the job behind ``endpoint`` and collect its answer.

    The job must answer a first request (Spark's version) within ``connect_timeout`` seconds,
    and the whole query within ``timeout``: whatever keeps a client waiting (a server that
    accepts connections and never answers, gRPC retrying) ends in an error, never a hang.

    Raises
    ------
    AdHocQueryError
        The job refused the SQL (Spark's reason, one line).
    NotRunningError
        The job did not answer in time, or refused the connection.
    """
    outcome: dict[str, Any] = {}
    connected = threading.Event()

    def call() -> None:
        try:
            outcome["answer"] = _collect(endpoint, sql, connected)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc
        finally:
            connected.set()

    worker = threading.Thread(target=call, name=ADHOC_THREAD, daemon=True)
    started = time.monotonic()
    worker.start()
    first = min(connect_timeout, timeout)
    if not connected.wait(first):
        raise NotRunningError(f"job {endpoint.pipeline} at {endpoint.url} did not answer within {first:g} s")
    worker.join(max(0.0, timeout - (time.monotonic() - started)))
    if worker.is_alive():
        raise NotRunningError(
            f"job {endpoint.pipeline} at {endpoint.url} gave no answer within {timeout:g} s"
        )
    if "error" in outcome:
        raise _reason(outcome["error"], endpoint) from None
    answer: Answer = outcome["answer"]
    return answer


def _collect(endpoint: Endpoint, sql: str, connected: threading.Event) -> Answer:
    from pyspark.logger import PySparkLogger
    from pyspark.sql import SparkSession

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True  # the refusal is reported once, in one line
    session = SparkSession.builder.remote(endpoint.remote).create()
    try:
        session.version  # noqa: B018 - the first round trip: the job answers at all
        connected.set()
        df = session.sql(sql)
        rows = df.collect()
        return Answer(list(df.columns), [row.asDict(recursive=True) for row in rows])
    finally:
        session.stop()


def _reason(exc: BaseException, endpoint: Endpoint) -> Exception:
    """The error to show for ``exc``: the job's refusal of the SQL, or that it cannot be reached."""
    from sparkkit.supervisor import first_line

    text = first_line(exc)
    unreachable = ("UNAUTHENTICATED", "UNAVAILABLE", "DEADLINE_EXCEEDED", "failed to connect")
    if any(marker in str(exc) for marker in unreachable):
        return NotRunningError(f"job {endpoint.pipeline} at {endpoint.url} refused the connection: {text}")
    return AdHocQueryError(text)


def _plain(value: Any) -> Any:
    """A value as JSON can hold it: binary (a sketch) as base64, times as ISO text."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def answer_json_lines(answer: Answer) -> Iterator[str]:
    """One JSON object per row, columns in order."""
    for row in answer.rows:
        yield json.dumps({column: _plain(row[column]) for column in answer.columns})


def answer_table(answer: Answer, out: TextIO) -> None:
    """The answer as a table, and how many rows it has."""
    from rich.table import Table

    from sparkkit.liveview import console_for

    table = Table(*answer.columns, box=box.SIMPLE_HEAD, show_edge=False)
    for row in answer.rows:
        table.add_row(*(_cell(row[column]) for column in answer.columns))
    console = console_for(out, markup=False)
    console.print(table)
    console.print(f"({len(answer.rows)} row{'s' if len(answer.rows) != 1 else ''})")


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    plain = _plain(value)
    return json.dumps(plain) if isinstance(plain, (dict, list)) else str(plain)
