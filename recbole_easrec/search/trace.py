"""The search trace: one entry per architecture update (α, β probabilities, τ, L_t, losses),
written as ``search_trace.json`` and plotted as ``search_trace.png`` in the run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recbole_easrec.artifacts import atomic_target, write_json_atomic

TRACE_FILE = "search_trace.json"
TRACE_PLOT = "search_trace.png"


def write_trace(run_dir: Path, trace: list[dict[str, Any]]) -> Path:
    """``search_trace.json``: one entry per architecture update."""
    return write_json_atomic(run_dir / TRACE_FILE, trace)


def plot_trace(run_dir: Path, trace: list[dict[str, Any]]) -> Path | None:
    """``search_trace.png``: softmax(α) and softmax(β) over iterations (None without updates)."""
    if not trace:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    iterations = [entry["iteration"] for entry in trace]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for key, axis, label in (("alpha", top, "candidate"), ("beta", bottom, "exit after layer")):
        for index in range(len(trace[0][key])):
            values = [entry[key][index] for entry in trace]
            axis.plot(iterations, values, label=f"{label} {index + (key == 'beta')}")
        axis.set_ylabel(f"softmax({key})")
        axis.legend(fontsize="small")
    bottom.set_xlabel("iteration")
    figure.tight_layout()
    path = run_dir / TRACE_PLOT
    with atomic_target(path) as temp:
        figure.savefig(temp, dpi=100, format="png")
    plt.close(figure)
    return path
