"""Turn benchmarks/results/*.json into docs/benchmarks.md and its plot."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "benchmarks-window-cost.png"
MEMORY_PLOT = ROOT / "docs" / "benchmarks-processor-memory.png"
APPROX_PLOT = ROOT / "docs" / "benchmarks-approx-memory.png"
RUN_PICTURE = ROOT / "docs" / "run-metrics.png"
END_TO_END_PLOT = ROOT / "docs" / "benchmarks-end-to-end-latency.png"
KAFKA_RATE_PLOT = ROOT / "docs" / "benchmarks-kafka-rate-over-time.png"
NOTES = "\n## Reading the numbers"  # hand-written; kept when the report is regenerated


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def plot_window_cost(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    factors = sorted({int(name.split("-")[1]) for name in results["cases"]})
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for form in ("incremental", "recompute"):
        ax.plot(
            factors, [results["cases"][f"{form}-{f}"]["median_ms"] for f in factors], marker="o", label=form
        )
    ax.set_xlabel("window / slide")
    ax.set_ylabel("median batch time (ms)")
    ax.set_title("DStream windowed_counts: cost of one slide")
    ax.set_xscale("log")
    ax.set_xticks(factors, [str(f) for f in factors])
    ax.minorticks_off()
    ax.legend()
    fig.tight_layout()
    fig.savefig(PLOT, dpi=100)


def window_section(results: dict[str, Any]) -> list[str]:
    lines = [
        "## Cost of one window slide against window length",
        "",
        f"`make bench` → `benchmarks/window_cost.py`: DStream `windowed_counts`, generator input at "
        f"{results['rate_per_s']} records/s over {results['keys']} keys, slide = batch interval = "
        f"{results['interval_ms']} ms, median processing time of 8 batches after the window has filled "
        "(streaming listener), all cases in one run.",
        "",
        "| window / slide | incremental (ms) | recompute (ms) |",
        "| --- | --- | --- |",
    ]
    factors = sorted({int(name.split("-")[1]) for name in results["cases"]})
    for f in factors:
        inc, rec = results["cases"][f"incremental-{f}"], results["cases"][f"recompute-{f}"]
        lines.append(
            f"| {f} | {inc['median_ms']:.0f} (p90 {inc['p90_ms']:.0f}) | {rec['median_ms']:.0f} "
            f"(p90 {rec['p90_ms']:.0f}) |"
        )
    ratios = results.get("ratios", {})
    lines.append("")
    lines += [f"- `{name}` = {value:.2f}" for name, value in ratios.items()]
    if ratios:
        lines += [
            "",
            "Goals: incremental at 60 within 1.5x of incremental at 2 — "
            + verdict(ratios["incremental_60_over_2"] <= 1.5)
            + "; recompute visibly growing with the window (taken as 60/2 >= 1.5) — "
            + verdict(ratios["recompute_60_over_2"] >= 1.5)
            + ".",
        ]
    lines += ["", f"![window cost]({PLOT.name})", ""]
    return lines


def state_section(results: dict[str, Any]) -> list[str]:
    lines = [
        "## Cost of one batch against state size",
        "",
        "`make bench` → `benchmarks/state_scaling.py`: `running_counts`, a first batch of N distinct "
        f"keys, then batches of {results['updated_per_batch']} keys drawn from them; median of 8 batches; "
        "each case "
        "in its own driver process. JVM peak RSS is VmHWM of the single local-mode JVM (driver and "
        "executors share it in local[2]).",
        "",
        "| case | median batch (ms) | p90 (ms) | JVM peak RSS (MB) |",
        "| --- | --- | --- | --- |",
    ]
    for name, case in results["cases"].items():
        if "error" in case:
            lines.append(f"| {name} | failed | | |")
            continue
        rss = case.get("jvm_peak_rss_mb")
        lines.append(
            f"| {name} | {case['median_ms']:.0f} | {case['p90_ms']:.0f} | {rss:.0f} |"
            if rss
            else f"| {name} | {case['median_ms']:.0f} | {case['p90_ms']:.0f} | ? |"
        )
    ratios = results.get("ratios", {})
    lines.append("")
    lines += [f"- `{name}` = {value:.2f}" for name, value in ratios.items()]
    goal = next((v for k, v in ratios.items() if k.startswith("structured_")), None)
    if goal is not None:
        met = verdict(goal <= 2)
        lines += ["", f"Goal: the Structured form at the largest state within 2x of the smallest — {met}."]
    return [*lines, ""]


KAFKA_LABELS = {
    "sparkkit-structured": "sparkkit Structured, confluent-kafka reader",
    "sparkkit-structured-kafka-python": "sparkkit Structured, reader on kafka-python (client=kafka-python)",
    "sparkkit-dstream": "sparkkit direct DStream (maxRatePerPartition unset)",
    "kafka-python-loop": "hand-written kafka-python loop (1 thread)",
    "confluent-kafka-loop": "hand-written confluent-kafka loop (1 thread, librdkafka)",
    "bytewax": "Bytewax KafkaSource + flat_map + count_final (1 worker)",
}


def kafka_case_row(name: str, case: dict[str, Any]) -> str:
    label = KAFKA_LABELS.get(name, name)
    if "error" in case:
        last = case["error"].strip().splitlines()[-1] if case["error"].strip() else ""
        return f"| {label} | {case['kind']}: `{last[:160]}` | | | |"
    return (
        f"| {label} | {case['wall_s']:.1f} | {case['wall_rows_per_s']:,.0f} | "
        f"{case['steady_rows_per_s']:,.0f} | {case.get('load_before', 0):.1f} |"
    )


def plot_kafka_rate(results: dict[str, Any]) -> None:
    """Rows/s of each Structured micro-batch against the time it ended, the others' rates as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    cases = results["cases"]
    for name in ("sparkkit-structured", "sparkkit-structured-kafka-python"):
        batches = cases.get(name, {}).get("batches", [])
        if batches:
            first = epoch_ms(batches[0]["started"])
            ends = [(epoch_ms(b["started"]) - first + b["duration_ms"]) / 1000 for b in batches]
            ax.plot(ends, [b["rows_per_s"] for b in batches], marker="o", label=KAFKA_LABELS[name])
    for name, style in (("bytewax", "--"), ("confluent-kafka-loop", ":"), ("kafka-python-loop", "-.")):
        if "steady_rows_per_s" in cases.get(name, {}):
            rate = cases[name]["steady_rows_per_s"]
            ax.axhline(rate, linestyle=style, color="grey", label=KAFKA_LABELS[name])
    ax.set_xlabel("seconds since the first micro-batch started")
    ax.set_ylabel("rows/s")
    ax.set_title(f"Kafka word count over {results['records']:,} records")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(KAFKA_RATE_PLOT, dpi=100)


def epoch_ms(timestamp: str) -> float:
    """A query progress timestamp (``2026-01-01T00:00:00.000Z``) in epoch milliseconds."""
    from datetime import datetime

    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000


def kafka_section(results: dict[str, Any]) -> list[str]:
    cases, ratios = results["cases"], results.get("ratios", {})
    lines = [
        f"## Kafka throughput over {results['records']:,} records: word count against a hand-written "
        "loop and Bytewax",
        "",
        f"`make bench` → `benchmarks/kafka_throughput.py`: {results['records']:,} records of "
        f"{results['words_per_record']} words ({results['distinct_words']} distinct) in "
        f"{results['partitions']} partitions on the embedded broker (tansu), produced once; every "
        "competitor then counts every word in its own process, all in the same run, and its per-word "
        "totals are checked against the expected ones. Wall time is the whole process (interpreter, "
        "JVM, connection); steady rows/s is from query progress for Structured (input rows over batch "
        "durations, after the first micro-batch), from batch processing delays for the DStream, and "
        "from the first to the last record processed for the others. Spark runs on local[2]. The "
        "last column is the machine's 1-minute load average as each case started (2 cores: above "
        "about 2, other processes were competing). sparkkit's Structured runs read "
        f"{results['max_offsets_per_trigger']:,} records per micro-batch (maxOffsetsPerTrigger).",
        "",
        "| competitor | wall (s) | rows/s over the wall time | steady rows/s | load before |",
        "| --- | --- | --- | --- | --- |",
        *(kafka_case_row(name, case) for name, case in cases.items()),
        "",
        "sparkkit's rates over the others' (> 1: sparkkit is faster; steady rows/s, and wall time):",
        "",
        "| sparkkit | vs kafka-python loop | vs Bytewax | vs confluent-kafka loop |",
        "| --- | --- | --- | --- |",
    ]
    for ours, against in ratios.items():
        cells = [
            f"{against[t]['steady']:.2f}x / {against[t]['wall']:.2f}x" if t in against else "-"
            for t in ("kafka-python-loop", "bytewax", "confluent-kafka-loop")
        ]
        lines.append(f"| {KAFKA_LABELS.get(ours, ours)} | {' | '.join(cells)} |")
    batches = cases.get("sparkkit-structured", {}).get("batches", [])
    if len(batches) > 1:
        rest = sorted(b["duration_ms"] for b in batches[1:])
        lines += [
            "",
            f"Structured micro-batches: the first ({batches[0]['rows']:,} rows) took "
            f"{batches[0]['duration_ms'] / 1000:.1f} s, the {len(rest)} others "
            f"({batches[1]['rows']:,} rows each) a median {rest[len(rest) // 2] / 1000:.1f} s.",
        ]
    mine = ratios.get("sparkkit-structured", {})
    if "kafka-python-loop" in mine:
        loop, bytewax = mine["kafka-python-loop"], mine.get("bytewax")
        ahead = (
            verdict(bytewax["steady"] > 1)
            + f" ({bytewax['steady']:.2f}x steady, {bytewax['wall']:.2f}x wall)"
            if bytewax
            else "not measured (" + cases.get("bytewax", {}).get("kind", "not run") + ")"
        )
        lines += [
            "",
            "Goals, on steady-state throughput (what grows with the stream; the wall time of a "
            "1M-record run is dominated by starting a JVM and Spark): sparkkit's Structured word count "
            ">= 1.5x the kafka-python loop — "
            + verdict(loop["steady"] >= 1.5)
            + f" ({loop['steady']:.2f}x steady, {loop['wall']:.2f}x wall); ahead of Bytewax — {ahead}.",
        ]
    return [*lines, ""]


MEMORY_LABELS = {
    "driver": "Python driver",
    "jvm": "JVM (driver + executors)",
    "workers": "processes below the JVM (Python workers, helpers)",
    "total": "total (the process tree)",
    "total_pss": "total PSS (shared pages split)",
    "heap_used": "JVM heap used (jcmd)",
}


def plot_processor_memory(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = results["samples"]
    minutes = [s["t_s"] / 60 for s in samples]
    fig, ax = plt.subplots(figsize=(7, 4))
    for name in ("total", "jvm", "workers", "driver"):
        ax.plot(minutes, [s[f"{name}_mib"] for s in samples], label=MEMORY_LABELS[name])
    heap = [(s["t_s"] / 60, s["heap_used_mib"]) for s in samples if "heap_used_mib" in s]
    if heap:
        ax.plot(
            [t for t, _ in heap],
            [h for _, h in heap],
            linestyle=":",
            marker=".",
            label=MEMORY_LABELS["heap_used"],
        )
    for lo, hi in results["windows_s"].values():
        ax.axvspan(lo / 60, hi / 60, color="grey", alpha=0.15)
    if results.get("queries_started_s") is not None:
        ax.axvline(results["queries_started_s"] / 60, color="grey", linestyle="--", linewidth=0.8)
    ax.axvline(results["stop_requested_s"] / 60, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("minutes since the driver started (dashed: queries started, stop requested)")
    ax.set_ylabel("MiB (RSS; dotted: heap used)")
    ax.set_title(f"sparkkit run streams, default pipeline, {results['minutes']} min: memory")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(MEMORY_PLOT, dpi=100)
    plt.close(fig)


def mib(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def per_query_sentence(
    results: dict[str, Any], key: str, shown: Callable[[dict[str, Any]], str], opening: str
) -> list[str]:
    """A paragraph naming each query that has ``key`` with ``shown(query)``; nothing when none has."""
    parts = [f"{name} {shown(q)}" for name, q in results.get("queries", {}).items() if key in q]
    return ["", opening + ", ".join(parts) + "."] if parts else []


def memory_section(results: dict[str, Any]) -> list[str]:
    n, archive = results["minutes"], results["archive"]
    load = [s["load1"] for s in results["samples"] if "load1" in s]
    lines = [
        "## Memory of the stream processor over the default pipeline",
        "",
        f"`make bench` → `benchmarks/processor_memory.py`: `sparkkit run streams --duration {n}m` over "
        "conf/jobs/streams.toml (generator streams at about 2000, 300 and 20 records/s, archived to "
        "Parquet, working storage, three standing SQL queries into `memory://`), in its own process; "
        f"every {results['interval_s']:.0f} s the resident memory (RSS, from /proc) of the Python driver, "
        "its JVM, every process below the JVM (Python workers when a query needs them, and helpers "
        "the JVM runs; RSS counts shared pages in each process, so the PSS total is given too) and "
        "their total"
        + (
            f"; every {results['heap_every_s']:.0f} s the JVM's heap use (`jcmd GC.heap_info`)"
            if results.get("heap_every_s")
            else ""
        )
        + ". The goal compares the mean of minute 2 with the mean of minute "
        f"{n}, minutes counted from when the queries started (the `--duration` clock; the plot's axis "
        "counts from the driver's start, the two minutes shaded). The machine's load average as it started: "
        + ", ".join(f"{x:.1f}" for x in results["load_average_at_start"])
        + (
            f"; during the run (1-minute load at each sample; 2 cores) mean {statistics.mean(load):.1f}, "
            f"max {max(load):.1f}"
            if load
            else ""
        )
        + ".",
        "",
        f"| series | minute 2 mean (MiB) | minute {n} mean (MiB) | ratio | peak (MiB) | within "
        f"{results['flat_within']:.0%} |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in results["series"].items():
        ratio = "-" if s["ratio"] is None else f"{s['ratio']:.2f}"
        lines.append(
            f"| {MEMORY_LABELS.get(name, name)} | {mib(s['second_minute_mean_mib'])} | "
            f"{mib(s['last_minute_mean_mib'])} | {ratio} | {mib(s['peak_mib'])} | "
            f"{'n/a (GC sawtooth)' if name == 'heap_used' else 'yes' if s['flat'] else 'no'} |"
        )
    lines += [
        "",
        f"Goal: flat memory, the last minute's mean total RSS within {results['flat_within']:.0%} of the "
        f"second minute's — {verdict(results['flat'])}.",
        "",
    ]
    per_minute = [m for m in results.get("per_minute", []) if m.get("total_mean_mib") is not None]
    if per_minute:
        lines += [
            "Mean total RSS per minute (MiB): "
            + ", ".join(f"{m['minute']}: {m['total_mean_mib']:,.0f}" for m in per_minute)
            + ".",
            "",
        ]
        full = next(
            (
                m["minute"]
                for m in per_minute
                if m.get("heap_committed_mean_mib")
                and m["heap_committed_mean_mib"]
                >= max(x.get("heap_committed_mean_mib") or 0 for x in per_minute)
            ),
            None,
        )
        if full is not None:
            line = f"The JVM's committed heap reached its largest size in minute {full}"
            first, last = next(m for m in per_minute if m["minute"] == full), per_minute[-1]
            if last["minute"] > first["minute"]:
                growth = last["total_mean_mib"] - first["total_mean_mib"]
                line += (
                    f"; from then to minute {last['minute']} the mean total grew by {growth:,.0f} MiB "
                    f"({growth / first['total_mean_mib']:+.1%}, "
                    f"{growth / (last['minute'] - first['minute']):.1f} MiB a minute)"
                )
            lines += [line + ".", ""]
    commands = results.get("below_jvm_commands")
    if commands:
        lines += [
            "Processes seen below the JVM (command name: in how many samples): "
            + ", ".join(f"`{name}` {count}" for name, count in commands.items() if name)
            + ".",
            "",
        ]
    streams = archive.get("streams", {})
    if streams:
        lines.append(
            f"Archive at the end: {archive['bytes_on_disk'] / 1e6:,.1f} MB on disk; "
            + "; ".join(
                f"{name} {s['records']:,} records ({s['bytes_on_disk'] / 1e6:,.1f} MB"
                + (
                    f", {s['seconds_of_input']:,.0f} s of input at {s['rate_per_s']:,.0f}/s"
                    if "rate_per_s" in s
                    else ""
                )
                + ")"
                for name, s in streams.items()
            )
            + "."
        )
    started = results.get("queries_started_s")
    lines += [
        "",
        f"The driver: exit code {results['returncode']}"
        + (" (killed: it did not end in time)" if results.get("timed_out") else "")
        + f", {results['wall_s'] / 60:.1f} min in all"
        + (f" (queries started after {started:.0f} s; " if started is not None else " (")
        + f"it ended {results['stop_took_s']:.0f} s after the stop was due); "
        + (
            f"{results['lag']['falling_behind_warnings']} 'falling behind' warnings from Spark (a "
            f"micro-batch longer than its trigger), longest {results['lag']['spent_ms_max'] / 1000:.1f} s; "
            if results["lag"]["falling_behind_warnings"]
            else ""
        )
        + f"{results['error_lines']} error lines in its output.",
    ]
    lines += per_query_sentence(
        results,
        "median_batch_s",
        lambda q: f"{q['median_batch_s']:.1f} s (trigger {q['trigger']})",
        "Median batch time of each standing query, from the driver's summary: ",
    )
    lines += per_query_sentence(
        results,
        "behind_at_stop_request_s",
        lambda q: f"{q['behind_at_stop_request_s'] + 0:.0f} s",
        "Newest event time in each query's final answer, against the moment the stop was due "
        "(positive: that much older; negative: batches run while stopping went past it): ",
    )
    errors = results.get("errors", [])
    if errors:
        lines += ["", "First error lines of the driver's output:", ""]
        lines += [f"- at {e['t_s'] / 60:.1f} min: `{e['line'][:200]}`" for e in errors[:5]]
    lines += ["", f"![processor memory]({MEMORY_PLOT.name})", ""]
    return lines


def latency_section(results: dict[str, Any]) -> list[str]:
    cases = results["cases"]
    rows = [
        ("read from the source (`archive = false`)", cases["from_source"]),
        ("read from the archive (the default)", cases["from_archive"]),
    ]
    return [
        "## Standing queries over the archive or over the source: latency",
        "",
        "`make bench` → `benchmarks/archive_latency.py`: one pipeline, two text file streams fed the same "
        f"{results['files']} files at the same moments (trigger {results['batch_interval']}), one "
        "archived, one not; latency = from a file's rename into the watched directory to its row in "
        "the query's `memory://` output, as the driver sees it.",
        "",
        "| standing query | p50 (ms) | p95 (ms) | max (ms) |",
        "| --- | --- | --- | --- |",
        *(f"| {name} | {c['p50_ms']:.0f} | {c['p95_ms']:.0f} | {c['max_ms']:.0f} |" for name, c in rows),
        "",
        f"Reading the archive costs {results['archive_over_source_p50']:.2f}x the latency at the median "
        "(about one ingest trigger more); in exchange a non-replayable source feeds any number of "
        "queries, every query can be replayed after a crash, and backfill reads the same records.",
        "",
    ]


def interval_ms(text: str) -> float:
    return float(text[:-2]) if text.endswith("ms") else float(text[:-1]) * 1000


def plot_end_to_end(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for api in ("structured", "dstream", "bytewax"):
        cases = sorted(
            (
                c
                for c in results["cases"].values()
                if c["api"] == api
                and c["rate"] == 10_000
                and c.get("job", "wordcount") == "wordcount"
                and "error" not in c
            ),
            key=lambda c: interval_ms(c["interval"]),
        )
        if not cases:
            continue
        x = [interval_ms(c["interval"]) for c in cases]
        for q, style in (("p50_ms", "-"), ("p99_ms", "--")):
            ax.plot(x, [c[q] for c in cases], style, marker="o", label=f"{api} {q[:-3]}")
    ax.set_xlabel("trigger / batch interval (ms)")
    ax.set_ylabel("end-to-end latency (ms)")
    ax.set_title("Kafka -> word count -> Kafka at 10k records/s")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(END_TO_END_PLOT, dpi=100)


def end_to_end_section(results: dict[str, Any]) -> list[str]:
    failed = [c for c in results["cases"].values() if "error" in c]
    order = {"structured": 0, "dstream": 1, "bytewax": 2}
    cases = sorted(
        (c for c in results["cases"].values() if "error" not in c),
        key=lambda c: (
            c.get("job", "wordcount"),
            order.get(c["api"], 3),
            c["rate"],
            -interval_ms(c["interval"]),
        ),
    )
    best = min(
        (
            c
            for c in cases
            if c["api"] == "structured" and c["rate"] == 10_000 and c.get("job", "wordcount") == "wordcount"
        ),
        key=lambda c: c["p99_ms"],
        default=None,
    )
    lines = [
        "## End-to-end latency: Kafka -> word count -> Kafka",
        "",
        "`make bench` → `benchmarks/latency.py`: for each case a fresh input and output topic on the "
        "embedded broker; a producer process sends records of 5 words at a steady rate, one in "
        f"{results['stamp_every']} carrying its produce time as one more word; `sparkkit run wordcount` "
        "(local[2]) reads the input and writes its rows to the output topic; a separate reader process "
        "notes when each stamp's row arrives. Latency = arrival minus produce time, over "
        f"{results['seconds']:.0f} s of steady input after a {results['warmup_s']:.0f} s warm-up; "
        "a case where a stamped record of the window never came out is listed below the table, not measured.",
        "",
        "Rows: sparkkit's `wordcount` (stateless: each batch's words counted on their own) and "
        "`windowed_counts --window 10s --output-mode update` (stateful: RocksDB, a second query for "
        "dead letters), and the peer, Bytewax (one worker): its words counted in tumbling windows of "
        "system time as long as the trigger (what a trigger is to Spark), each count written as "
        "its window closes. Spark's other triggers are no way out here: continuous processing "
        "runs no aggregation and reads no Python data source (sparkkit's reader), the real-time "
        "trigger (PySpark 4.3, at least 5 s) refuses Python data sources, and available-now is a "
        "batch run to the end of the input.",
        "",
        "| job | API | trigger | records/s | samples | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) "
        "| load before |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {c.get('job', 'wordcount')} | {c['api']} | {c['interval']} | {c['rate']:,} | "
            f"{c['samples']} | {c['p50_ms']:.0f} | "
            f"{c['p95_ms']:.0f} | {c['p99_ms']:.0f} | {c['max_ms']:.0f} | {c['load_before']:.1f} |"
            for c in cases
        ),
        "",
        *(
            f"- {c.get('job', 'wordcount')} {c['api']} at {c['interval']}, {c['rate']:,} records/s: "
            f"{c['error']}"
            for c in failed
        ),
        "",
        "![end-to-end latency](benchmarks-end-to-end-latency.png)",
        "",
    ]
    if best is not None:
        lines += [
            f"Goal: p99 <= 1 s at 10k records/s with the best trigger — best here {best['interval']}: "
            f"p99 {best['p99_ms']:.0f} ms — **{'met' if best['p99_ms'] <= 1000 else 'not met'}**.",
            "",
        ]
    return lines


def startup_section(results: dict[str, Any]) -> list[str]:
    cases = results["cases"]
    settings = list(results.get("settings") or {"": {}})
    c1_options = next(
        (s.get("java_options") for s in (results.get("settings") or {}).values() if s.get("java_options")),
        "-XX:TieredStopAtLevel=1",
    )
    jobs = list(dict.fromkeys(c.get("job", name) for name, c in cases.items()))

    def case(job: str, setting: str) -> dict[str, Any] | None:
        return next(
            (c for name, c in cases.items() if c.get("job", name) == job and c.get("setting", "") == setting),
            None,
        )

    def cell(c: dict[str, Any] | None) -> str:
        if c is None:
            return ""
        runs = ", ".join(f"{t:.1f}" for t in c["first_output_s"])
        return f"**{c['median_s']:.1f}** ({runs})"

    warm = results.get("warm_up")
    lines = [
        "## Start-up: from `sparkkit run` to the first output",
        "",
        "`make bench` → `benchmarks/startup.py`: a fresh `sparkkit run wordcount` process (local[*], "
        "console sink, 1 s trigger) per run, timed from its spawn to the first row under a batch's "
        f"header; {results['repeat']} runs per case, the settings interleaved run by run. Settings: "
        "without the driver's class archive (`SPARKKIT_CLASS_ARCHIVE=off`: the launcher gets sparkkit's "
        "configuration the same way, the JVM no archive), "
        "from the archive `sparkkit warm-up` wrote, and from the archive with the JIT at C1 only "
        f"(`{c1_options}` in `spark.driver.extraJavaOptions`: a trade, not a default).",
        "",
        "| job | command | " + " | ".join(f"{s}: median s (runs)" for s in settings) + " |",
        "| --- | --- | " + " | ".join("---" for _ in settings) + " |",
        *(
            f"| {job} | `{next(c for c in cases.values() if c.get('job', job) == job)['command']}` | "
            + " | ".join(cell(case(job, s)) for s in settings)
            + " |"
            for job in jobs
        ),
        "",
    ]
    if warm:
        lines += [f"`sparkkit warm-up` (once per Java and Spark install): {warm['wall_s']:.0f} s.", ""]
    best = min(c["median_s"] for c in cases.values() if "C1" not in c.get("setting", ""))
    lines += [
        "Goal: the first output of a local job within 5 s — "
        + verdict(best <= 5)
        + f" (best median with the default JIT: {best:.1f} s).",
        "",
    ]
    return lines


def seen_by_list_offsets(case: dict[str, Any]) -> str:
    return "yes" if case["offsets_exact"] else f"no: {sum(case['list_offsets']):,} records"


def produce_section(results: dict[str, Any]) -> list[str]:
    cases = results["cases"]
    bare = cases.get("confluent-kafka-loop", {}).get("records_per_s")
    lines = [
        "## Producing: `sparkkit produce` against a bare confluent-kafka loop",
        "",
        "`make bench` → `benchmarks/produce_rate.py`: the throughput benchmark's records from a file "
        f"into a fresh topic of {results['partitions']} partitions, each case a process of its own "
        "(records/s over its whole wall time). Then the topic's end offsets as ListOffsets gives them "
        "(what a reader other than sparkkit's plans on): the embedded broker counts a partition only up "
        "to the first record of its last batch there, so a batching producer that ends mid-batch hides "
        "its tail; `sparkkit produce` sends each partition's last record alone.",
        "",
        "| case | records | wall (s) | records/s | vs the bare loop | ListOffsets sees every record |",
        "| --- | --- | --- | --- | --- | --- |",
        *(
            f"| {name} | {c['records']:,} | {c['wall_s']:.1f} | {c['records_per_s']:,} | "
            f"{c['records_per_s'] / bare:.2f}x | {seen_by_list_offsets(c)} |"
            for name, c in cases.items()
            if bare
        ),
        "",
    ]
    return lines


APPROX_COLORS = {"exact": "tab:red", "approx": "tab:blue"}


def plot_approx_memory(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, memory, rows, accuracy) = plt.subplots(
        4, 1, figsize=(7, 9), sharex=True, gridspec_kw={"height_ratios": [3, 3, 3, 2]}
    )
    for name, v in results["variants"].items():
        color = APPROX_COLORS.get(name)
        samples, curve = v["samples"], [c for c in v["state_curve"] if c["state_rows"] is not None]
        top.plot([s["t_s"] / 60 for s in samples], [s["total_mib"] for s in samples], color=color, label=name)
        minutes = [c["t_s"] / 60 for c in curve]
        memory.plot(minutes, [(c["state_memory_bytes"] or 0) / 2**20 for c in curve], color=color, label=name)
        disk = [(c["t_s"] / 60, c["sst_bytes"] / 2**20) for c in curve if c.get("sst_bytes") is not None]
        if disk:
            memory.plot(
                [t for t, _ in disk],
                [b for _, b in disk],
                color=color,
                linestyle=":",
                label=f"{name}: on disk",
            )
        rows.plot(minutes, [max(c["state_rows"], 1) for c in curve], color=color, label=name)
        checked = [r for r in (v.get("estimates") or {}).get("rows", []) if "errors_in_rse" in r]
        if checked:
            accuracy.plot(
                [r["t_s"] / 60 for r in checked],
                [r["errors_in_rse"] for r in checked],
                color=color,
                marker=".",
                markersize=3,
                linewidth=0.8,
                label=f"{name}: (estimate - exact) / (rse x exact)",
            )
        for ax in (top, memory, rows, accuracy):
            for key in ("queries_started_s", "stop_requested_s"):
                if v.get(key) is not None:
                    ax.axvline(v[key] / 60, color=color, linestyle="--", linewidth=0.6, alpha=0.6)
    query, goal = results["query"], results.get("goal_rse", 4)
    top.set_ylabel("total RSS (MiB)")
    top.set_ylim(bottom=0)
    top.set_title(
        f"+ {query}: {results.get('window_minutes', '?')}-min window, {results['rate']:,} clicks/s, "
        f"{results['minutes']} min each"
    )
    top.legend(fontsize=8, loc="lower right")
    memory.set_ylabel(f"{query} state (MiB)\nmemory; dotted: on disk")
    memory.set_ylim(bottom=0)
    memory.legend(fontsize=7, loc="upper left")
    rows.set_ylabel(f"{query}\nstate rows")
    rows.set_yscale("log")
    for sign in (-1, 1):
        accuracy.axhline(sign * goal, color="grey", linestyle=":", linewidth=0.8)
    accuracy.axhline(0, color="grey", linewidth=0.5)
    accuracy.set_ylim(-goal - 1, goal + 1)
    accuracy.set_ylabel("error (rse)")
    if accuracy.get_legend_handles_labels()[0]:
        accuracy.legend(fontsize=7, loc="lower right")
    accuracy.set_xlabel("minutes since the driver started (dashed: queries started, stop requested)")
    fig.tight_layout()
    fig.savefig(APPROX_PLOT, dpi=100)
    plt.close(fig)


def human_bytes(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, size in (("MiB", 2**20), ("KiB", 2**10)):
        if value >= size:
            return f"{value / size:,.1f} {unit}"
    return f"{value:,.0f} B"


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def times(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}x" if value >= 100 else f"{value:,.2f}x"


def approx_section(results: dict[str, Any]) -> list[str]:
    query, variants, ratios = results["query"], results["variants"], results.get("ratios", {})
    first = next(iter(variants.values()))
    others = [name for name, approx in first["pipeline"]["queries"].items() if name != query]
    hll = [name for name in others if first["pipeline"]["queries"][name]]
    window, goal = results.get("window_minutes"), results.get("goal_rse", 4)
    lines = [
        "## Exact against approximate distinct counts: memory",
        "",
        f"`make bench` → `benchmarks/approx_memory.py`: two runs of `sparkkit run streams --duration "
        f"{results['minutes']}m`, one after the other, each over conf/jobs/streams.toml (standing queries "
        + ", ".join(f"`{name}`" for name in others)
        + (f"; {', '.join(f'`{n}`' for n in hll)} already `approx = true`" if hll else "")
        + f") plus one query, `{query}`: distinct users per {window}-minute window over clicks, into "
        "`json://`. The window is placed to open as the driver is launched "
        f"(`window(ts, '{window} minutes', '{window} minutes', startTime)`, startTime the launch second "
        f"modulo {window} minutes), so it stays open for the whole run and an exact count has to keep "
        "every user seen so far. The clicks source is raised to "
        f"`{first['pipeline']['clicks_source'].split('?', 1)[1]}` in both runs, so that nearly every "
        "click is a user not seen before. "
        "**exact**: Structured Streaming refuses `count(DISTINCT key)`, so a two-level aggregation "
        "(`GROUP BY window, key`, then `count(*) GROUP BY window`); Spark chains aggregations in append "
        "mode only, so this query is in append mode and, its window never closing, writes nothing: it "
        "is measured for its state. **approx**: `approx = true` and `count(DISTINCT key) AS users` "
        "(an HLL sketch, `hll_sketch_agg(key, 12)`, plus `users_rse`), in update mode: every batch "
        "writes the open window's current estimate. Memory is sampled every "
        f"{results['interval_s']:.0f} s as in the processor-memory benchmark below (RSS of the whole "
        "process tree); the state is the query's `state_rows` and `state_memory_bytes` (RocksDB) from "
        "ROOT/shop/metrics.jsonl. The machine's 1-minute load as each run started: "
        + ", ".join(f"{name} {v['load_average_at_start'][0]:.1f}" for name, v in variants.items())
        + " (2 cores).",
        "",
        f"| variant | peak RSS (MiB) | last-minute mean RSS (MiB) | `{query}` state rows at the end (peak) | "
        "its state memory at the end (peak) | its state on disk at the end |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, v in variants.items():
        end, peak = v.get("state_at_end") or {}, v["state_peak"]
        lines.append(
            f"| {name} | {mib(v['rss']['peak_mib'])} | {mib(v['rss']['last_minute_mean_mib'])} | "
            f"{count(end.get('state_rows'))} ({count(peak['state_rows'])}) | "
            f"{human_bytes(end.get('state_memory_bytes'))} ({human_bytes(peak['state_memory_bytes'])}) | "
            f"{human_bytes(end.get('sst_bytes'))} |"
        )
    if ratios:
        lines.append(
            f"| exact / approx | {times(ratios.get('peak_rss'))} | {times(ratios.get('last_minute_rss'))} | "
            f"{times(ratios.get('state_rows_at_end'))} ({times(ratios.get('state_rows_peak'))}) | "
            f"{times(ratios.get('state_memory_at_end'))} ({times(ratios.get('state_memory_peak'))}) | "
            f"{times(ratios.get('sst_at_end'))} |"
        )
    lines += [
        "",
        "State memory is Spark's `memoryUsedBytes`, its estimate of the RocksDB state store's memory (all "
        "RocksDB instances of the process share one bounded budget); state on disk is the size of the "
        "RocksDB files (`rocksdbSstFileSize`); both summed over the query's state operators.",
    ]
    minutes = {name: v.get("per_minute") or [] for name, v in variants.items()}
    if all(minutes.values()):
        names = list(variants)
        lines += [
            "",
            f"Over time, minute by minute since the queries started: the mean total RSS in the minute, "
            f"and `{query}`'s state at its last batch in the minute (rows / memory).",
            "",
            "| minute | "
            + " | ".join(f"{n} RSS (MiB)" for n in names)
            + " | "
            + " | ".join(f"{n} state" for n in names)
            + " |",
            "| --- |" + " --- |" * (2 * len(names)),
        ]
        for i, row in enumerate(minutes[names[0]]):
            at = [minutes[n][i] if i < len(minutes[n]) else {} for n in names]
            lines.append(
                f"| {row['minute']} | "
                + " | ".join(mib(m.get("total_mean_mib")) for m in at)
                + " | "
                + " | ".join(
                    f"{count(m.get('state_rows'))} / {human_bytes(m.get('state_memory_bytes'))}" for m in at
                )
                + " |"
            )
    load = {name: [s["load1"] for s in v["samples"] if "load1" in s] for name, v in variants.items()}
    if all(load.values()):
        lines += [
            "",
            "1-minute load during the runs (at each sample): "
            + "; ".join(f"{name} mean {statistics.mean(x):.1f}, max {max(x):.1f}" for name, x in load.items())
            + ".",
        ]
    operators = [
        f"{name} "
        + ", ".join(f"{count(rows)} rows / {human_bytes(memory)}" for rows, memory in end["operators"])
        for name, v in variants.items()
        if (end := v.get("state_at_end")) and end.get("operators")
    ]
    if operators:
        lines += [
            "",
            f"`{query}`'s state operators in its last batch (rows / memory each): "
            + "; ".join(operators)
            + ". "
            "The other stateful queries at their last batch (approx run): "
            + ", ".join(
                f"{q} {count(s['state_rows'])} rows / {human_bytes(s['state_memory_bytes'])}"
                for q, s in variants.get("approx", first)["state_at_end_all_queries"].items()
                if q != query
            )
            + ".",
        ]
    lines += accuracy_lines(variants.get("approx", {}), goal, results["minutes"])
    lines += pace_lines(variants, query)
    for name, v in variants.items():
        lag = v["lag"]
        medians = ", ".join(
            f"{q} {s['median_batch_s']:.1f} s"
            for q, s in v.get("queries", {}).items()
            if "median_batch_s" in s
        )
        lines += [
            "",
            f"The {name} run: exit code {v['returncode']}"
            + (" (killed: it did not end in time)" if v.get("timed_out") else "")
            + f", {v['wall_s'] / 60:.1f} min in all, {v['error_lines']} error lines"
            + (
                f", {lag['falling_behind_warnings']} 'falling behind' warnings"
                if lag["falling_behind_warnings"]
                else ""
            )
            + "; median batch time "
            + medians
            + ".",
        ]
    lines += ["", f"![approx memory]({APPROX_PLOT.name})", ""]
    return lines


def accuracy_lines(approx: dict[str, Any], goal: float, minutes: int) -> list[str]:
    """The approx run's estimates of the open window against the exact count at the same batch."""
    found = approx.get("estimates") or {}
    rows = [r for r in found.get("rows", []) if "errors_in_rse" in r]
    if not rows:
        return []
    started = approx.get("queries_started_s") or 0
    shown: dict[int, dict[str, Any]] = {}
    for r in rows:  # the last batch of each minute since the queries started
        shown[max(0, int((r["t_s"] - started) // 60)) + 1] = r
    last = rows[-1]
    lines = [
        "",
        "Accuracy while the window is open: the approx run's estimate at each batch (its `json://` "
        "output) against the exact number of distinct users in the window among the clicks that batch "
        "and the ones before it had read (the archive files its file source log lists, read with "
        "pyarrow). The last batch of each minute since the queries started:",
        "",
        "| minute | batch | estimate | exact | error | error / rse |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for minute, r in sorted(shown.items()):
        after = " (stopping)" if minute > minutes else ""
        lines.append(
            f"| {minute}{after} | {r['batch']} | {r['users']:,} | {r['true_users']:,} | "
            f"{r['error']:+,} ({r['relative_error']:+.2%}) | {r['errors_in_rse']:+.2f} |"
        )
    lines += [
        "",
        f"At the last batch ({last['batch']}): estimate {last['users']:,}, exact {last['true_users']:,}, "
        f"error {last['relative_error']:+.2%} = {last['errors_in_rse']:+.2f} rse (rse "
        f"{last['rse']:.2%}). Goal: within {goal:g} rse — {verdict(found.get('goal_met', False))}. "
        f"Over all {len(rows)} batches: {found['within_1_rse']} within one rse, {found['within_2_rse']} "
        f"within two, {found['within_goal']} within {goal:g}, the largest "
        f"{found['largest_errors_in_rse']:+.2f} rse, {found['below_truth']} below the exact count "
        "(successive estimates come from one growing sketch: they are not independent draws).",
    ]
    facts = found.get("facts") or {}
    if facts.get("formula_users") is not None:
        agrees = facts["formula_users"] == facts.get("true_users_at_last_batch")
        lines += [
            "",
            f"The records the last batch had read in the window are the generator's records "
            f"{facts['first_seq']:,} to {facts['last_seq']:,} ({facts['records_in_window']:,}, "
            + ("none missing" if not facts["seq_gaps"] else f"{facts['seq_gaps']:,} missing")
            + f"; {facts['records_outside_window']:,} read outside the window); the generator's formula "
            f"gives {facts['formula_users']:,} distinct users for them, "
            + ("as the archive does." if agrees else f"the archive {facts['true_users_at_last_batch']:,}."),
        ]
    return lines


def pace_lines(variants: dict[str, Any], query: str) -> list[str]:
    """Did the clicks ingest, and the extra query behind it, keep pace with the raised rate?"""
    parts = []
    for name, v in variants.items():
        ingest = v.get("ingest") or {}
        if not ingest.get("median_batch_ms"):
            continue
        behind = ((v.get("estimates") or {}).get("facts") or {}).get("query_behind_s") or {}
        parts.append(
            f"{name} run: median {ingest['median_batch_ms'] / 1000:.1f} s (p90 "
            f"{ingest['p90_batch_ms'] / 1000:.1f}, max {ingest['max_batch_ms'] / 1000:.1f}; first half "
            f"{ingest['first_half_median_batch_ms'] / 1000:.1f}, second half "
            f"{ingest['second_half_median_batch_ms'] / 1000:.1f}), {ingest['over_trigger']} of "
            f"{ingest['batches_after_first_minute']} batches over the trigger, {ingest['rows_per_s']:,.0f} "
            f"rows/s archived"
            + (
                f"; `{query}` a median {behind['median']:.1f} s behind, {behind['last']:.1f} s at its "
                "last batch"
                if behind.get("median") is not None
                else ""
            )
        )
    if not parts:
        return []
    first = next(v for v in variants.values() if v.get("ingest"))
    return [
        "",
        f"Does the clicks ingest keep pace at {first['ingest']['rate']:,} clicks/s? Its batch times after "
        f"its first minute (trigger {first['ingest']['trigger_ms'] / 1000:.0f} s), "
        + "; ".join(parts)
        + f". (Behind: the end of a `{query}` batch less the newest event time it had read from the "
        "archive.)",
    ]


def run_picture_section() -> list[str]:
    return [
        "## One run, batch by batch",
        "",
        "`make bench` → `benchmarks/run_picture.py` over benchmarks/results/run-metrics.jsonl (the metrics "
        "file of the approx run above, one JSON line per batch per query): input rows/s of each ingest "
        "query, batch time of each standing query, state memory of each stateful query.",
        "",
        f"![run metrics]({RUN_PICTURE.name})",
        "",
    ]


def verdict(met: bool) -> str:
    return "**met**" if met else "**not met**"


def measured(results: dict[str, Any]) -> str:
    """The line under each section: when its results were measured, and on which Spark."""
    return f"Measured {results['machine']['when']}, Spark {results['machine']['spark']}.\n"


def main() -> None:
    out = ["# Benchmarks", "", "Numbers from the last `make bench` on the development machine (2 cores).", ""]
    window = load("window_cost")
    if window:
        plot_window_cost(window)
        out += window_section(window)
        out.append(measured(window))
    state = load("state_scaling")
    if state:
        out += state_section(state)
        out.append(measured(state))
    kafka = load("kafka_throughput")
    if kafka:
        out += kafka_section(kafka)
        out.append(measured(kafka))
    longer = load("kafka_throughput_5m")
    if longer:
        plot_kafka_rate(longer)
        out += kafka_section(longer)
        out += [f"![rows/s over time]({KAFKA_RATE_PLOT.name})", ""]
        out.append(measured(longer))
    startup = load("startup")
    if startup:
        out += startup_section(startup)
        out.append(measured(startup))
    producing = load("produce")
    if producing:
        out += produce_section(producing)
        out.append(measured(producing))
    memory = load("processor_memory")
    if memory:
        plot_processor_memory(memory)
        out += memory_section(memory)
        out.append(measured(memory))
    approx = load("approx_memory")
    if approx:
        plot_approx_memory(approx)
        out += approx_section(approx)
        out.append(measured(approx))
        if RUN_PICTURE.exists():
            out += run_picture_section()
    latency = load("archive_latency")
    if latency:
        out += latency_section(latency)
        out.append(measured(latency))
    end_to_end = load("latency")
    if end_to_end:
        plot_end_to_end(end_to_end)
        out += end_to_end_section(end_to_end)
        out.append(measured(end_to_end))
    notes = DOC.read_text().split(NOTES, 1)[1] if DOC.exists() and NOTES in DOC.read_text() else ""
    DOC.write_text("\n".join(out) + (NOTES + notes if notes else ""))
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
