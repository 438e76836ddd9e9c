"""Turn benchmarks/results/*.json into docs/benchmarks.md and its plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "benchmarks-window-cost.png"
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


def verdict(met: bool) -> str:
    return "**met**" if met else "**not met**"


def main() -> None:
    out = ["# Benchmarks", "", "Numbers from the last `make bench` on the development machine (2 cores).", ""]
    window = load("window_cost")
    if window:
        plot_window_cost(window)
        out += window_section(window)
        out.append(f"Measured {window['machine']['when']}, Spark {window['machine']['spark']}.\n")
    state = load("state_scaling")
    if state:
        out += state_section(state)
        out.append(f"Measured {state['machine']['when']}, Spark {state['machine']['spark']}.\n")
    notes = DOC.read_text().split(NOTES, 1)[1] if DOC.exists() and NOTES in DOC.read_text() else ""
    DOC.write_text("\n".join(out) + (NOTES + notes if notes else ""))
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
