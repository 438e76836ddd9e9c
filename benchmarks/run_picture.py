"""One run of the stream processor, batch by batch, from its metrics.jsonl.

Reads a run's ROOT/<pipeline>/metrics.jsonl (one JSON line per batch per query; default
benchmarks/results/run-metrics.jsonl, the approx run of benchmarks/approx_memory.py) and draws
docs/run-metrics.png: three panels over minutes since the first batch started,

- input rows/s of each ingest stream (its query ``<stream>.archive``), log scale;
- batch duration (s) of each standing query (a pipeline's own queries: names without a dot;
  sparkkit's queries of a stream are ``<stream>.<what>``);
- state memory (MiB) of each query that reports state.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS
from sparkkit.metrics import read_metrics

ROOT = Path(__file__).resolve().parent.parent
METRICS = RESULTS / "run-metrics.jsonl"
PICTURE = ROOT / "docs" / "run-metrics.png"
MIB = 1024 * 1024


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def series(records: list[dict[str, Any]], t0: float, keep: Any, value: Any) -> dict[str, tuple[list, list]]:
    """Per query that ``keep(name)`` accepts: (minutes since t0, ``value(record)``), Nones left out."""
    found: dict[str, tuple[list[float], list[float]]] = {}
    for r in records:
        name = r.get("query")
        if not isinstance(name, str) or not keep(name) or r.get("time") is None:
            continue
        y = value(r)
        if y is None:
            continue
        xs, ys = found.setdefault(name, ([], []))
        xs.append((seconds(r["time"]) - t0) / 60)
        ys.append(y)
    return dict(sorted(found.items()))


def draw(path: Path, out: Path) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [r for r in read_metrics(path) if r.get("time") is not None]
    if not records:
        raise SystemExit(f"{path}: no metrics records")
    t0 = min(seconds(r["time"]) for r in records)
    stateful = {r["query"] for r in records if r.get("state_memory_bytes") is not None}
    panels = [
        (
            "input rows/s (ingest)",
            series(
                records,
                t0,
                lambda q: q.endswith(".archive"),
                lambda r: r.get("input_rows_per_second"),
            ),
        ),
        (
            "batch duration (s)",
            series(
                records,
                t0,
                lambda q: "." not in q,
                lambda r: None if r.get("batch_duration_ms") is None else r["batch_duration_ms"] / 1000,
            ),
        ),
        (
            "state memory (MiB)",
            series(
                records,
                t0,
                lambda q: q in stateful,
                lambda r: None if r.get("state_memory_bytes") is None else r["state_memory_bytes"] / MIB,
            ),
        ),
    ]
    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    for ax, (label, lines) in zip(axes, panels, strict=True):
        for name, (xs, ys) in lines.items():
            ax.plot(xs, ys, label=name.removesuffix(".archive"), linewidth=1, marker=".", markersize=2)
        ax.set_ylabel(label)
        if lines:
            ax.legend(fontsize=7, loc="upper left", ncol=2)
    if panels[0][1]:
        axes[0].set_yscale("log")
    axes[1].set_ylim(bottom=0)
    axes[2].set_ylim(bottom=0)
    axes[-1].set_xlabel("minutes since the first batch started")
    axes[0].set_title(f"one run, batch by batch: {path.name} ({len(records)} records)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    print(f"wrote {out}")
    return {label: sorted(lines) for label, lines in panels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "metrics",
        nargs="?",
        default=str(METRICS),
        help=f"a metrics.jsonl (default {METRICS.relative_to(ROOT)})",
    )
    parser.add_argument("--out", default=str(PICTURE), help=f"the PNG (default {PICTURE.relative_to(ROOT)})")
    args = parser.parse_args()
    for label, names in draw(Path(args.metrics), Path(args.out)).items():
        print(f"{label}: {', '.join(names) or '-'}")


if __name__ == "__main__":
    main()
