"""Showing metrics records: a table of the latest batch per query, one line per batch, ``sparkkit status``.

On a terminal the live view redraws one table as batches complete; elsewhere (a log file, a
pipe, CI) it prints one line per batch, which stays readable when the output is kept. A wait
for a Kafka broker reported in the driver (``waiting for broker HOST:PORT ...``) is shown too:
under the table until the next batch, or as a line.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from sparkkit import kafka_client
from sparkkit.metrics import METRICS_FILE, latest_by_query, read_metrics

#: Shown in a table cell whose value is unknown.
MISSING = "\u2013"  # an en dash

#: The width tables get off a terminal (a log file, a pipe), where nobody resizes them.
FILE_WIDTH = 160

_COLUMNS = ("query", "batch", "input\nrows/s", "processed\nrows/s", "last\nbatch (s)", "state\nrows",
            "state\nmemory", "watermark\n(UTC)", "Kafka\nlag")  # fmt: skip


def human_bytes(size: int) -> str:
    """``1328`` -> ``1.3 KiB``: bytes in binary units, one decimal above a KiB."""
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    value, exponent = float(size), 0
    while abs(value) >= 1024 and exponent < len(units) - 1:
        value, exponent = value / 1024, exponent + 1
    return f"{size} B" if exponent == 0 else f"{value:.1f} {units[exponent]}"


def parse_time(value: Any) -> datetime:
    """A record's time (Spark's ISO form, ``...Z``, or a datetime) as an aware UTC datetime."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value)
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def clock(value: Any) -> str:
    """A time as ``HH:MM:SS`` in UTC."""
    return parse_time(value).strftime("%H:%M:%S")


def batch_label(record: Mapping[str, Any]) -> str:
    """The batch id of a micro-batch; a DStream batch's time (epoch ms) as ``HH:MM:SS``."""
    batch = record.get("batch")
    if batch is None:
        return MISSING
    if record.get("api") == "dstream":
        return clock(datetime.fromtimestamp(batch / 1000, tz=timezone.utc))
    return str(batch)


def _cells(record: Mapping[str, Any]) -> list[str]:
    def shown(key: str, form: Any = str) -> str:
        value = record.get(key)
        return MISSING if value is None else form(value)

    return [
        str(record.get("query", MISSING)),
        batch_label(record),
        shown("input_rows_per_second", lambda v: f"{v:.1f}"),
        shown("processed_rows_per_second", lambda v: f"{v:.1f}"),
        shown("batch_duration_ms", lambda v: f"{v / 1000:.2f}"),
        shown("state_rows"),
        shown("state_memory_bytes", human_bytes),
        shown("watermark", clock),
        shown("kafka_lag"),
    ]


def counts_caption(latest: Mapping[str, Mapping[str, Any]]) -> str | None:
    """One line per query with archived records or dead letters, e.g. ``page_views: 3 dead letters``."""
    lines = []
    for query, record in latest.items():
        parts = [f"{record['archived']} archived"] if record.get("archived") is not None else []
        if record.get("dead_letters") is not None:
            parts.append(f"{record['dead_letters']} dead letters")
        if parts:
            lines.append(f"{query}: {', '.join(parts)}")
    return "\n".join(lines) or None


def console_for(out: TextIO, markup: bool = True) -> Console:
    """A console on ``out``: a terminal's own width, else ``FILE_WIDTH`` (not 80: no cell is cut).

    ``markup=False`` for data (``[a, b)`` is no style), without highlighting either.
    """
    return Console(file=out, width=None if out.isatty() else FILE_WIDTH, markup=markup, highlight=markup)


def metrics_table(latest: Mapping[str, Mapping[str, Any]], title: str) -> Table:
    """A table with one row per query, from the latest record of each (``MISSING`` for unknowns).

    The caption gives each query's archived records and dead letters, when it counts them.
    """
    caption = counts_caption(latest)
    table = Table(title=Text(title), caption=Text(caption) if caption else None, caption_justify="left")
    for name in _COLUMNS:
        table.add_column(name, justify="left" if name == "query" else "right", no_wrap=True)
    for record in latest.values():
        table.add_row(*map(Text, _cells(record)))  # as they are: no rich markup in query names
    return table


def metrics_line(record: Mapping[str, Any]) -> str:
    """One record on one line, leaving out what is unknown, e.g.
    ``[sparkkit] page_views batch 12: 2000 rows in (1000.0/s), 1800.0/s processed, 1.21 s``."""
    parts = []
    if record.get("input_rows") is not None:
        rate = record.get("input_rows_per_second")
        parts.append(f"{record['input_rows']} rows in" + (f" ({rate:.1f}/s)" if rate is not None else ""))
    if record.get("processed_rows_per_second") is not None:
        parts.append(f"{record['processed_rows_per_second']:.1f}/s processed")
    if record.get("batch_duration_ms") is not None:
        parts.append(f"{record['batch_duration_ms'] / 1000:.2f} s")
    if record.get("state_rows") is not None or record.get("state_memory_bytes") is not None:
        state = ["state"]
        if record.get("state_rows") is not None:
            state.append(f"{record['state_rows']} rows")
        if record.get("state_memory_bytes") is not None:
            state.append(human_bytes(record["state_memory_bytes"]))
        parts.append(" ".join(state))
    if record.get("watermark") is not None:
        parts.append(f"watermark {clock(record['watermark'])}")
    if record.get("kafka_lag") is not None:
        parts.append(f"lag {record['kafka_lag']}")
    if record.get("archived") is not None:
        parts.append(f"{record['archived']} archived")
    if record.get("dead_letters") is not None:
        parts.append(f"{record['dead_letters']} dead letters")
    head = f"[sparkkit] {record.get('query')} batch {batch_label(record)}"
    return f"{head}: {', '.join(parts)}" if parts else head


class LiveView:
    """Shows each record as it comes: a redrawn table when live, else one printed line per record.

    Parameters
    ----------
    title : str
        The table's title.
    out : text stream
        Where to draw or print.
    live : bool, optional
        Redraw a table; by default when ``out`` is a terminal.

    ``update`` may be called from listener threads. After ``stop`` nothing more is drawn or
    printed (the metrics file keeps every record). Until then the view listens for the Kafka
    client's waits for a broker (:meth:`note`).
    """

    def __init__(self, title: str, out: TextIO = sys.stdout, live: bool | None = None) -> None:
        self.title = title
        self.out = out
        self.live = out.isatty() if live is None else live
        self.latest: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._display: Live | None = None
        self._stopped = False
        self.notice: str | None = None
        kafka_client.wait_listeners.append(self.note)

    def update(self, record: Mapping[str, Any]) -> None:
        """Show a record: redraw the table with it, or print its line (a batch observer)."""
        with self._lock:
            if self._stopped:
                return
            self.latest[str(record.get("query"))] = dict(record)
            self.notice = None  # a batch completed: whatever was awaited answered
            if not self.live:
                self.out.write(metrics_line(record) + "\n")
                self.out.flush()
                return
            self._draw()

    def note(self, text: str) -> None:
        """Show a passing condition (``waiting for broker ...``): a line, or under the table until
        the next batch."""
        with self._lock:
            if self._stopped:
                return
            if not self.live:
                self.out.write(f"[sparkkit] {text}\n")
                self.out.flush()
                return
            self.notice = text
            self._draw()

    def _draw(self) -> None:
        table = metrics_table(self.latest, self.title)
        if self.notice:
            table.caption = Text(f"{table.caption}\n{self.notice}" if table.caption else self.notice)
        if self._display is None:
            self._display = Live(table, console=console_for(self.out), auto_refresh=False, transient=False)
            self._display.start(refresh=True)
        else:
            self._display.update(table, refresh=True)

    def stop(self) -> None:
        """End the live display, leaving the last table on screen (idempotent)."""
        with self._lock:
            self._stopped = True
            display, self._display = self._display, None
        if self.note in kafka_client.wait_listeners:
            kafka_client.wait_listeners.remove(self.note)
        if display is not None:
            display.stop()

    def __enter__(self) -> LiveView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def status_text(path: Path, running: bool, title: str) -> Table | str:
    """What ``sparkkit status`` shows of a run's metrics file: the latest batch of each query.

    The caption says whether the run is running or when its last batch ended; a missing file
    gives one line saying so.
    """
    path = Path(path)
    if not path.exists():
        return f"no metrics found at {path}"
    latest = latest_by_query(read_metrics(path))
    table = metrics_table(latest, title)
    times = [parse_time(r["time"]) for r in latest.values() if r.get("time") is not None]
    if running:
        state = "running"
    elif times:
        state = f"not running (last batch at {max(times):%Y-%m-%d %H:%M:%S} UTC)"
    else:
        state = "not running (no batch recorded)"
    table.caption = Text(f"{table.caption}\n{state}" if table.caption else state)
    return table


def print_status(root: Path, name: str | None, out: TextIO) -> int:
    """``sparkkit status``: print the status of the job or pipeline ``name`` on state root ``root``.

    Without ``name`` the only metrics file under ``root`` is shown. The run counts as running
    while its process, named in ``endpoint.json`` or ``run.json``, is alive. Returns
    the exit code: 0 with a table, 2 when there are no metrics to show.
    """
    from sparkkit.endpoint import is_running, job_file

    path = job_file(Path(root), name, METRICS_FILE, "keep metrics") or Path(root) / "*" / METRICS_FILE
    running = is_running(path.parent)
    shown = status_text(path, running, path.parent.name)
    if isinstance(shown, str):
        print(shown, file=out, flush=True)
        return 2
    console_for(out).print(shown)
    return 0
