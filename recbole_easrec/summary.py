"""The one-screen summary a finished run ends with (``run_recbole_easrec.py``, ``make demo``).

``run_summary(result)`` reads a run's ``result.json`` content: the model and dataset, the selected
architecture against the supernet's full network (EASRec), the test metrics and protocol, and the
cost — FLOPs, parameters, full-ranking inference time — with the full network's cost measured in
the same run where the trainer reports it (``full_network_efficiency``).
"""

from __future__ import annotations

from typing import Any

METRICS = ("recall@10", "mrr@10", "ndcg@10")


def architecture_lines(result: dict[str, Any]) -> list[str]:
    """The selected network against the supernet's full path (EASRec runs only)."""
    arch = result.get("architecture")
    config = result["config"]
    if not arch:
        return [f"model: {result['model']} (no architecture search in this run)"]
    full = f"d={config['hidden_size']}, D={config['inner_size']}, L={config['n_layers']}"
    chosen = f"d={arch['hidden_size']}, D={arch['inner_size']}, L={arch['n_layers']}"
    if arch.get("attention"):
        chosen += f", {arch['attention']} attention"
    gates = arch["gate_layers"]
    chosen += f", {gates}-layer data-aware gates" if gates else ", no data-aware gates"
    return [
        f"selected architecture: {chosen}  (full network: {full})",
        f"  width pruning γ={arch['hidden_prune_ratio']:g}, γ'={arch['inner_prune_ratio']:g}",
    ]


def _against(value: float, reference: float | None) -> str:
    return f" = {100 * value / reference:.1f} % of the full network's" if reference else ""


def cost_lines(result: dict[str, Any]) -> list[str]:
    """FLOPs, parameters and inference time, each against the full network where it is known."""
    efficiency = result.get("efficiency", {})
    full = result.get("full_network_efficiency") or {}
    flops, params = efficiency.get("flops"), efficiency.get("params")
    fraction = (result.get("architecture") or {}).get("flops_fraction")
    full_flops = full.get("flops") or (round(flops / fraction) if flops and fraction else None)
    lines = []
    if flops:
        lines.append(
            f"cost: {flops:,} FLOPs per full-ranking forward pass{_against(flops, full_flops)}"
            + (f" {full_flops:,}" if full_flops else "")
        )
    if params:
        supernet = result.get("supernet_params")
        extra = f" (the searched supernet: {supernet:,})" if supernet else ""
        full_params = full.get("params")
        against = f"{_against(params, full_params)} {full_params:,}" if full_params else ""
        lines.append(f"parameters: {params:,}{against}{extra}")
    seconds = efficiency.get("inference_seconds")
    if seconds is not None:
        full_seconds = full.get("inference_seconds")
        lines.append(
            f"inference: {seconds:.3f} s for the test users' full ranking"
            + (f"{_against(seconds, full_seconds)} {full_seconds:.3f} s" if full_seconds else "")
        )
    return lines


def metric_lines(result: dict[str, Any]) -> list[str]:
    """Test metrics under the run's protocol, then any extra protocols (pop100, uni100)."""
    lines = []
    protocols = {result.get("test_protocol", "full"): result.get("test_result") or {}}
    protocols.update(result.get("extra_test_results") or {})
    for protocol, metrics in protocols.items():
        shown = ", ".join(f"{name} {metrics[name]:.4f}" for name in METRICS if name in metrics)
        lines.append(f"test ({protocol} ranking): {shown}")
    return lines


def run_summary(result: dict[str, Any]) -> str:
    """The summary of one finished run (see module docstring)."""
    lines = [f"{result['model']} on {result['dataset']} ({result['output_dir']})"]
    lines += architecture_lines(result) + metric_lines(result) + cost_lines(result)
    return "\n".join(lines)
