"""What every EASRec search method chooses on the tests' tiny data, with fixed seeds, as JSON.

A refactoring of the search must not change it: run this before and after and diff the outputs
(issue 29). Each case is a full run (search, choice, reconstruction, retraining) on
``tests/conftest.py``'s cycle dataset; the fingerprint holds the chosen architecture, every score
and metric, the search's counters and SHA-256 digests of ``search_trace.json`` and of the final
weights. Run on one thread (``OMP_NUM_THREADS=1``) so that floating-point sums are repeatable::

    OMP_NUM_THREADS=1 python tools/search_fingerprint.py > before.json
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recbole_easrec.quick_start import run_recbole_easrec  # noqa: E402
from tests.conftest import tiny_config, write_cycle_dataset  # noqa: E402

BASE = {"n_layers": 2, "epochs": 2, "retrain_epochs": 1, "flops_budget": None}
CASES: dict[str, dict] = {
    "paper": {"search_method": "paper"},
    "paper_holdout_warmup": {
        "search_method": "paper",
        "arch_data": "holdout",
        "arch_warmup_epochs": 1,
        "epochs": 3,
    },
    "paper_prefix": {"search_method": "paper", "train_mode": "prefix", "epochs": 1},
    "proxylessnas": {"search_method": "proxylessnas"},
    "proxylessnas_add": {"search_method": "proxylessnas", "proxyless_loss": "add"},
    "recnas": {"search_method": "recnas", "epochs": 3, "recnas_prune_ratio": 1.0},
    "sandwich": {"search_method": "sandwich"},
    "sandwich_budget": {"search_method": "sandwich", "flops_budget": 0.5},
    "oneshot": {"search_method": "oneshot"},
    "oneshot_evolution": {
        "search_method": "oneshot",
        "evolution_population": 2,
        "evolution_sample": 2,
        "evolution_cycles": 3,
    },
    "random": {"search_method": "random", "epochs": 4, "random_samples": 2},
}
RESULT_KEYS = (
    "architecture",
    "search_valid_result",
    "best_valid_result",
    "test_result",
    "search_iterations",
    "architecture_updates",
    "shared_weight_scores",
    "recnas_pruned",
)


def digest_file(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def digest_weights(path: Path) -> str:
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def fingerprint(name: str, overrides: dict, folder: Path) -> dict:
    data = write_cycle_dataset(folder / "data")
    run_dir = folder / name
    config = tiny_config(data, run_dir, **{**BASE, **overrides})
    result = run_recbole_easrec("EASRec", "tiny", config_dict=config)
    record = {key: result.get(key) for key in RESULT_KEYS}
    record["search_trace_sha256"] = digest_file(run_dir / "search_trace.json")
    record["model_sha256"] = digest_weights(run_dir / "model.pt")
    return record


def main() -> None:
    torch.set_num_threads(1)
    names = sys.argv[1:] or list(CASES)
    output = {}
    with tempfile.TemporaryDirectory() as temp:
        for name in names:
            output[name] = fingerprint(name, CASES[name], Path(temp) / name)
            print(f"{name}: {output[name]['architecture']['candidate']}", file=sys.stderr)
    print(json.dumps(output, indent=1, sort_keys=True, default=str))


if __name__ == "__main__":
    main()
