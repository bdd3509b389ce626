"""Named sets of training runs, run in parallel processes, collected into one JSON.

Each run is ``run_recbole_easrec(model, dataset, config_dict=shared ∪ run overrides)`` in its own
Python process (:func:`recbole_easrec.compare.run_in_subprocess`), so a failing run only costs its
own row and several small models can share one machine (or one GPU) at once. After every finished
run ``OUT/suite.json`` is rewritten (atomically), so an interrupted suite keeps what finished;
started again with the same ``--out``, it reuses every run that finished with the same settings.

Usage::

    python benchmarks/suite.py --suite=sampled_ce --data_path=../shared/datasets --out=DIR \\
        [--workers=8] [--only=RUN,RUN] [--budget=SECONDS] [--set epochs=5 --set ...]
    python benchmarks/suite.py --list                 # the suites and their runs

Every run tests under full ranking (the headline) and, through ``extra_eval_modes``, under
``uni100`` and ``pop100`` (the papers' protocol) on the same test users.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from threading import Lock
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from harness import LOG_STAMP, network_name  # noqa: E402
from harness import PAPER_ML1M as PAPER_SIZES  # noqa: E402

from recbole_easrec.artifacts import write_json_atomic  # noqa: E402
from recbole_easrec.compare import run_in_subprocess  # noqa: E402
from recbole_easrec.defaults import PROPERTIES_DIR, read_yaml_file  # noqa: E402
from recbole_easrec.resume import STATE_FILE, WORK_DIR  # noqa: E402
from recbole_easrec.search.methods import SEARCH_METHODS as METHOD_CLASSES  # noqa: E402
from recbole_easrec.search.resource import inference_flops  # noqa: E402
from recbole_easrec.search.searched import SEARCH_FILE, SUPERNET_FILE, search_part  # noqa: E402
from recbole_easrec.search.supernet import kept_width  # noqa: E402

# EASRec Table II (ML-1M): d = 128, D = 256, N = 200, L = 4, 4 heads, dropout 0.2, lr 1e-3.
PAPER_ML1M: dict[str, Any] = {
    **PAPER_SIZES,
    "eval_batch_size": 512,
    "extra_eval_modes": ["uni100", "pop100"],
    "show_progress": False,
    "seed": 2020,
}
ML1M_FEATURES: dict[str, Any] = {
    "load_col": {
        "inter": ["user_id", "item_id", "rating", "timestamp"],
        "item": ["item_id", "genre"],
    },
    "selected_features": ["genre"],
}
# Autoregressive mode: one sequence per user per epoch; early stopping on validation NDCG@10.
AUTOREGRESSIVE: dict[str, Any] = {
    "train_mode": "autoregressive",
    "train_batch_size": 64,
    "epochs": 400,
    "stopping_step": 10,
}
PREFIX: dict[str, Any] = {"train_mode": "prefix", "train_batch_size": 1024, "epochs": 100}
EASREC: dict[str, Any] = {
    "retrain_batch_size": 128,
    "search_stopping_step": 10,
    "arch_batch_size": 256,
}


@dataclass(frozen=True)
class Run:
    """One training run: a name unique in its suite, a model and its own settings."""

    name: str
    model: str
    settings: dict[str, Any] = field(default_factory=dict)
    group: str = ""
    search_from: str | None = None  # EASRec: re-pick from this run's finished search (its folder)
    teacher: str | None = None  # EASRec: retrain_teacher is this run's trained network (its folder)


def ml1m_prefix() -> list[Run]:
    """ML-1M at the paper's sizes in RecBole's prefix protocol (the paper's), at most 100 epochs."""
    prefix = {**PAPER_ML1M, **PREFIX}
    runs = [
        Run("SASRec", "SASRec", prefix, "recbole"),
        Run("LinRec", "LinRec", prefix, "recbole"),
        Run("EASRec-prefix", "EASRec", {**prefix, **EASREC, "retrain_batch_size": 2048}, "recbole"),
    ]
    runs += [
        Run(model, model, {**prefix, **ML1M_FEATURES}, "features")
        for model in ("FDSA", "LinFDSA", "SASRecF", "LinSASRecF")
    ]
    return runs


# ml-100k on a 2-core CPU: RecBole's SASRec sizes (d = 64, D = 256, 2 heads), N = 50, L = 2.
ML100K: dict[str, Any] = {
    **PAPER_ML1M,
    "MAX_ITEM_LIST_LENGTH": 50,
    "hidden_size": 64,
    "inner_size": 256,
    "n_layers": 2,
    "n_heads": 2,
}


def dsl_cpu() -> list[Run]:
    """Dynamic sparse training (DSL, SASRec backbone) against static random masks of the same
    density and the dense SASRec architecture at CPU size (ml-100k), early stopping (issue 3)."""
    ar = {**ML100K, **AUTOREGRESSIVE}
    runs = [Run("SASRec-AR", "LinRec", {**ar, "attention_type": "softmax"}, "baselines")]
    for density in (0.5, 0.2, 0.1):
        for static in (False, True):
            name = f"DSL-{'static-' if static else ''}{density:g}"
            dsl = {**ar, "dsl_backbone": "SASRec", "density": density, "dsl_static": static}
            runs.append(Run(name, "DSL", dsl, "dsl"))
    return runs


# The search space's ground truth (issue 17): every architecture of EASRec's default space trained
# from scratch to convergence (early stopping on validation NDCG@10, patience 10, no budget).
TRUTH_SEEDS = (2020, 2021, 2022)
# CPU size: N = 50, d = 64, D = 256, L = 4, 2 heads (ml-100k and ML-1M alike).
TRUTH_CPU: dict[str, Any] = {**ML100K, **AUTOREGRESSIVE, "n_layers": 4}
TRUTH_RATIOS = (0.0, 0.25, 0.5)  # EASRec.yaml's hidden_prune_ratios = inner_prune_ratios (ML-1M)


# The space of issue 28's ground truth and searches, as factorial_ml1m decided it (issue 28 item 1):
# softmax attention without data-aware gates. At N = 50 (factorial_ml1m, 3 seeds, and its timing)
# the best linear kind, conv, scores +2.7 % full NDCG@10 (p = 0.27) at 1.09x SASRec's FLOPs but
# 1.6x its CPU inference time; causal per-token gates score -0.2 % (pop100 -1.1 %, p = 0.008) at
# 1.48x the FLOPs and 2.0x the time. Named in full, so that no request of a run trained in another
# space (or before the gate fix) matches. The paper's space (LinRec's eq. 5 with gates):
# properties/model/EASRec-paper.yaml.
TRUTH_SPACE: dict[str, Any] = {"attention_type": "softmax", "gate_layers": 0}


def full_is_sasrec(space: dict[str, Any]) -> bool:
    """Whether the space's full network is SASRec's (softmax, no gates): trained once, as SASRec."""
    return space.get("attention_type") == "softmax" and not space.get("gate_layers")


def space_truth_runs(base: dict[str, Any], seeds: Sequence[int] = TRUTH_SEEDS) -> list[Run]:
    """Every (width candidate, depth) of the space (:data:`TRUTH_SPACE`) as an ``EASRecCompact``
    trained from scratch, plus the full-size softmax SASRec architecture (our stack, no gates),
    each once per seed; the space's full network is left out where it is SASRec's. Ordered so
    that a partial suite is useful: seed by seed SASRec, the full network and every network at
    most 30 % of SASRec's FLOPs (the cheap end, where issue 28's targets lie), then seed by seed
    the rest."""
    runs = []
    for seed in seeds:
        sasrec = {**base, "attention_type": "softmax", "seed": seed}
        runs.append(Run(f"SASRec-s{seed}", "LinRec", sasrec, "sasrec"))
        for ratio in TRUTH_RATIOS:
            hidden = kept_width(base["hidden_size"], ratio)
            inner = kept_width(base["inner_size"], ratio)
            for depth in range(1, base["n_layers"] + 1):
                arch = {"hidden_size": hidden, "inner_size": inner, "n_layers": depth}
                if ratio == 0 and depth == base["n_layers"] and full_is_sasrec(TRUTH_SPACE):
                    continue
                name = f"{network_name(hidden, inner, depth)}-s{seed}"
                settings = {**base, **arch, **TRUTH_SPACE, "seed": seed}
                runs.append(Run(name, "EASRecCompact", settings, "space"))

    def later(run: Run) -> bool:
        """A network of the space above 30 % of SASRec's FLOPs, not the full one."""
        sizes = (run.settings["hidden_size"], run.settings["n_layers"])
        full = sizes == (base["hidden_size"], base["n_layers"])
        cheap = softmax_flops(run.settings) <= 0.3 * softmax_flops(base)
        return run.group == "space" and not (full or cheap)

    return sorted(runs, key=later)  # stable: seed by seed within each part


def softmax_flops(settings: dict[str, Any]) -> int:
    """Inference FLOPs of a causal softmax network of these sizes, without gates (the order of
    :func:`space_truth_runs`; the reports count each run's own)."""
    sizes = (settings["hidden_size"], settings["inner_size"], settings["n_heads"])
    length = settings["MAX_ITEM_LIST_LENGTH"]
    return inference_flops(settings["n_layers"], length, *sizes, "softmax", 0, causal=True)


def space_truth_cpu() -> list[Run]:
    """Ground truth at CPU size (``--dataset ml-100k`` or ``ml-1m``)."""
    return space_truth_runs(TRUTH_CPU)


def space_truth_paper() -> list[Run]:
    """Ground truth at the paper's ML-1M sizes (a GPU's work: N = 200, d = 128)."""
    return space_truth_runs({**PAPER_ML1M, **AUTOREGRESSIVE})


# Issue 27's factorial: attention kind × data-aware gates at the ground truth's CPU size, full
# width and depth (d 64, D 256, L 4), early stopping, 3 seeds. Gates "none" is LinRec (no gates);
# "token" and "cmean" are EASRecCompact with the search's 2-layer gates reading E_t or the causal
# mean of E up to t (gate_input). softmax-none is the ground truth's SASRec (same settings), whose
# runs the report reads from space_truth_ml1m.json, so the suite leaves it out. First the screen
# (one seed: both gate inputs on softmax, every linear variant without gates), then every cell
# seed by seed; a next session picks the factorial's remaining cells with --only.
FACTORIAL_ATTENTION: dict[str, dict[str, Any]] = {
    "softmax": {"attention_type": "softmax"},
    "linrec": {"attention_type": "linear"},  # linear_variant: linrec, the default
    **{
        variant: {"attention_type": "linear", "linear_variant": variant}
        for variant in ("count", "elu1", "norm", "conv", "decay")
    },
}
FACTORIAL_GATES: dict[str, tuple[str, dict[str, Any]]] = {
    "none": ("LinRec", {}),
    "token": ("EASRecCompact", {"gate_layers": 2, "gate_input": "token"}),
    "cmean": ("EASRecCompact", {"gate_layers": 2, "gate_input": "causal_mean"}),
}
FACTORIAL_SCREEN = (
    "linrec-none",
    "softmax-token",
    "softmax-cmean",
    "elu1-none",
    "conv-none",
    "norm-none",
    "decay-none",
    "count-none",
)


def factorial_cell(attention: str, gates: str, seed: int) -> Run:
    """One cell of the factorial (attention kind, gate input) at ``TRUTH_CPU``, one seed."""
    model, gate_settings = FACTORIAL_GATES[gates]
    settings = {**TRUTH_CPU, **FACTORIAL_ATTENTION[attention], **gate_settings, "seed": seed}
    return Run(f"{attention}-{gates}-s{seed}", model, settings, f"{attention}-{gates}")


# The linear variant that joins softmax and linrec in the full factorial: the screen's best.
# Provisional: conv, the best of the screen so far (seed 2020 full NDCG@10: conv 0.1404, elu1
# 0.1356, count 0.1348, decay 0.1328, norm 0.1321, linrec 0.1324; SASRec 0.1333): the screen is done.
FACTORIAL_BEST_VARIANT: str | None = "conv"


def factorial_cells(kinds: Sequence[str], gates: Sequence[str], seed: int) -> list[Run]:
    """The (kind, gate input) cells of ``kinds`` × ``gates`` for one seed, softmax-none (the
    reference) aside."""
    return [
        factorial_cell(attention, gate, seed)
        for attention in kinds
        for gate in gates
        if (attention, gate) != ("softmax", "none")
    ]


def after(first: list[Run], then: list[Run]) -> list[Run]:
    """``first``, then the runs of ``then`` not already in it."""
    names = {run.name for run in first}
    return first + [run for run in then if run.name not in names]


# The factorial's gate input: the screen's better one (seed 2020, softmax: token 0.1354, cmean
# 0.1299), which is EASRec's gate_input default. The causal mean's other seeds are not part of the
# factorial proper (gates are off by default: they bought no accuracy at 1.48x the FLOPs); suite
# factorial_all holds them (`--only=softmax-cmean-s2021,softmax-cmean-s2022`).
FACTORIAL_GATE = "token"


def factorial_expected() -> list[Run]:
    """The factorial proper: the screen, then seed by seed {softmax, linrec, the best variant} ×
    {none, the better gate input} (softmax-none excepted: the ground truth's SASRec)."""
    screen = [factorial_cell(*cell.split("-"), TRUTH_SEEDS[0]) for cell in FACTORIAL_SCREEN]
    kinds = ["softmax", "linrec"] + ([FACTORIAL_BEST_VARIANT] if FACTORIAL_BEST_VARIANT else [])
    cells = [
        run
        for seed in TRUTH_SEEDS
        for run in factorial_cells(kinds, ("none", FACTORIAL_GATE), seed)
    ]
    return after(screen, cells)


def factorial_all_cells() -> list[Run]:
    """Every (variant, gates, seed) cell, the factorial proper first (suite ``factorial_all``, for
    ``--only``; suite ``factorial_cpu`` is the factorial proper alone)."""
    every = [
        run
        for seed in TRUTH_SEEDS
        for run in factorial_cells(list(FACTORIAL_ATTENTION), list(FACTORIAL_GATES), seed)
    ]
    return after(factorial_expected(), every)


# Issue 28 item 6, the literature's anchor: SASRec+ (Klenitskiy & Vasilev 2023, 0.1821 full NDCG@10
# on ML-1M with seen items filtered) — N = 200, d = 64, 2 blocks, 1 head, dropout 0.1, full CE, a
# loss at every position — with our SASRec and EASRec's default search on the same settings,
# 3 seeds, to convergence; scored unfiltered (RecBole's, the headline) and filtered
# (``full_filtered``) in the same run. 1–2 CPU-hours a run: a GPU's work when one is lent.
SASREC_PLUS: dict[str, Any] = {
    "MAX_ITEM_LIST_LENGTH": 200,
    "hidden_size": 64,
    "inner_size": 256,
    "n_layers": 2,
    "n_heads": 1,
    "hidden_dropout_prob": 0.1,
    "attn_dropout_prob": 0.1,
    "learning_rate": 0.001,
    "loss_type": "CE",
    **AUTOREGRESSIVE,
    "eval_batch_size": 512,
    "extra_eval_modes": ["full_filtered", "pop100"],
    "show_progress": False,
}


def anchor_n200() -> list[Run]:
    """SASRec (our stack, softmax) and EASRec's default search at SASRec+'s settings: the search
    phase at the budget EASRec ships, as in ``search_cpu``, the retraining SASRec's training."""
    sasrec = {**SASREC_PLUS, "attention_type": "softmax"}
    easrec = {
        **SASREC_PLUS,
        **EASREC,
        "epochs": SHIPPED_SEARCH["epochs"],
        "train_batch_size": SHIPPED_SEARCH["train_batch_size"],
        "retrain_epochs": SASREC_PLUS["epochs"],
        "retrain_batch_size": SASREC_PLUS["train_batch_size"],
    }
    runs = []
    for seed in TRUTH_SEEDS:
        runs.append(Run(f"SASRec-s{seed}", "LinRec", {**sasrec, "seed": seed}, "SASRec"))
        runs.append(Run(f"EASRec-s{seed}", "EASRec", {**easrec, "seed": seed}, "EASRec"))
    return runs


# Issue 28, Table III at convergence at the ground truth's CPU size on ML-1M (SASRec, LinRec and
# EASRec come from space_truth_cpu, factorial_cpu and search_cpu): LinSASRecF autoregressively,
# 3 seeds; RecBole's FDSA and SASRecF and LinFDSA train in the prefix protocol only, one seed.
def table3_cpu() -> list[Run]:
    """The feature models of Table III (item genres) at ``TRUTH_CPU``."""
    features = {**TRUTH_CPU, **ML1M_FEATURES}
    runs = [
        Run(f"LinSASRecF-s{seed}", "LinSASRecF", {**features, "seed": seed}, "LinSASRecF")
        for seed in TRUTH_SEEDS
    ]
    prefix = {**features, **PREFIX, "stopping_step": 10, "seed": TRUTH_SEEDS[0]}
    return runs + [
        Run(f"{model}-prefix-s{TRUTH_SEEDS[0]}", model, prefix, model)
        for model in ("SASRecF", "FDSA", "LinFDSA")
    ]


# EASRec's searches on the same space and settings as the ground truth, each search phase at the budget
# EASRec ships (properties/model/EASRec.yaml: `epochs` search epochs at `train_batch_size`; a search to
# convergence costs 2-4 CPU-hours on ML-1M, ~20x ml-100k's), random search at about equal cost (each of
# its candidates trained that many epochs from scratch), then retraining to convergence at the ground
# truth's batch size, so that the retrained network and the from-scratch one are comparable.
EASREC_YAML = read_yaml_file(PROPERTIES_DIR / "model" / "EASRec.yaml")
SHIPPED_SEARCH = {key: EASREC_YAML[key] for key in ("epochs", "train_batch_size", "random_samples")}
# random: each candidate gets the search's epochs, 4 x 10 compact-network epochs against 10 supernet
# epochs (a supernet epoch costs 2-3x a full network's); the report shows each search's seconds
RANDOM_EPOCHS = SHIPPED_SEARCH["random_samples"] * SHIPPED_SEARCH["epochs"]
SEARCH_METHODS: dict[str, dict[str, Any]] = {  # in the order they run (the default method first)
    "paper": {"search_method": "paper"},
    "paper-budget0.3": {"search_method": "paper", "flops_budget": 0.3},
    "random": {"search_method": "random", "epochs": RANDOM_EPOCHS},
    # issue 28 item 4: retraining with in-place distillation from the supernet's largest path (the
    # plain runs are retraining from the supernet's weights; the ground truth is from scratch); it
    # re-picks from the paper search (repick_parent), so it costs a retraining and pairs with paper
    "paper-distill": {"search_method": "paper", "retrain_distill": True},
    "random-budget0.3": {"search_method": "random", "epochs": RANDOM_EPOCHS, "flops_budget": 0.3},
    # Table III's "DARTS + SASRec": the same supernet (SASRec's since issue 27) searched by the
    # softmax mixture without a resource term (REFERENCE.md section 2)
    "darts": {"search_method": "paper", "resource_constraint": "none"},
    "sandwich": {"search_method": "sandwich"},
    "sandwich-budget0.3": {"search_method": "sandwich", "flops_budget": 0.3},
    "proxylessnas": {"search_method": "proxylessnas"},
    "proxylessnas-budget0.3": {"search_method": "proxylessnas", "flops_budget": 0.3},
    "recnas": {"search_method": "recnas"},
    "recnas-budget0.3": {"search_method": "recnas", "flops_budget": 0.3},
    "oneshot": {"search_method": "oneshot"},
    "oneshot-budget0.3": {"search_method": "oneshot", "flops_budget": 0.3},
    # classic distillation from a trained full network: SASRec trained as the ground truth trains
    # it, on the same seed (TEACHERS), teaches the paper search's pick (a re-pick, as paper-distill).
    # Last: an option, not a default (its teacher's training would not fit the headline's time), and
    # a distilled retraining takes 2-3x a plain one's epochs (measured: 67 s against 25 s)
    "paper-distill-sasrec": {"search_method": "paper", "retrain_distill": True},
}


TEACHERS = {"paper-distill-sasrec": "SASRec-teacher"}  # variant -> its teacher runs' name


def teacher_run(name: str, seed: int) -> Run:
    """A teacher of :data:`TEACHERS`: SASRec (our stack, softmax) as ``space_truth_cpu`` trains it."""
    return Run(
        f"{name}-s{seed}",
        "LinRec",
        {**TRUTH_CPU, "attention_type": "softmax", "seed": seed},
        "teacher",
    )


def search_cpu() -> list[Run]:
    """EASRec's search methods (``search_method``, ``flops_budget``) at the ground truth's CPU
    size, 3 seeds each, to be judged against ``space_truth_cpu``. Ordered so that a partial suite
    is useful: method by method (:data:`SEARCH_METHODS`' order: the default method, its budgeted
    re-pick and random search first), each method's 3 seeds together; a re-pick after its parent."""
    base = {
        **TRUTH_CPU,
        **EASREC,
        **TRUTH_SPACE,
        "epochs": SHIPPED_SEARCH["epochs"],
        "train_batch_size": SHIPPED_SEARCH["train_batch_size"],
        "retrain_epochs": TRUTH_CPU["epochs"],
        "retrain_batch_size": TRUTH_CPU["train_batch_size"],
    }
    runs = []
    for name, settings in SEARCH_METHODS.items():
        teachers = [teacher_run(TEACHERS[name], seed) for seed in TRUTH_SEEDS if name in TEACHERS]
        runs += teachers
        runs += [
            Run(
                f"EASRec-{name}-s{seed}",
                "EASRec",
                {**base, **settings, "seed": seed},
                name,
                repick_parent(name, seed),
                f"{TEACHERS[name]}-s{seed}" if name in TEACHERS else None,
            )
            for seed in TRUTH_SEEDS
        ]
    return runs


def repick_parent(name: str, seed: int) -> str | None:
    """The run whose search the :data:`SEARCH_METHODS` variant ``name`` reuses (``search_from``):
    the first earlier variant whose settings differ from its own only in settings that act after
    the search (:data:`~recbole_easrec.search.searched.AFTER_SEARCH`: the budget, the retraining),
    for a method whose search ignores the budget. That saves the search phase, and the two
    variants then differ in nothing but those settings (a paired comparison on one search)."""
    settings = SEARCH_METHODS[name]
    if not METHOD_CLASSES[settings["search_method"]].reselectable:
        return None
    for earlier in itertools.takewhile(lambda other: other != name, SEARCH_METHODS):
        if search_part(SEARCH_METHODS[earlier]) == search_part(settings):
            return f"EASRec-{earlier}-s{seed}"
    return None


# Issue 11 items 4 and 5: the loss and the precision at convergence, LinRec's shipped defaults
# (N = 50, d = 64, D = 256, L = 2, autoregressive, batch 64), early stopping, 3 seeds. bf16 is slower
# than fp32 on the 2-core CPU (benchmarks/results/step_time.md), so its accuracy runs on ml-100k here.
LOSSES: dict[str, dict[str, Any]] = {
    "CE": {"loss_type": "CE"},
    "sampled_ce-K1000": {"loss_type": "sampled_ce", "sampled_negatives": 1000},
}
PRECISIONS: dict[str, dict[str, Any]] = {
    "fp32": {"precision": "fp32"},
    "bf16": {"precision": "bf16"},
}


def linrec_variants(variants: dict[str, dict[str, Any]]) -> list[Run]:
    """LinRec with each of ``variants`` (the first is the reference), trained to convergence."""
    base = {
        "MAX_ITEM_LIST_LENGTH": 50,
        "epochs": 300,
        "stopping_step": 10,
        "eval_batch_size": 512,
        "extra_eval_modes": ["pop100"],
        "show_progress": False,
    }
    return [
        Run(f"LinRec-{name}-s{seed}", "LinRec", {**base, **settings, "seed": seed}, name)
        for seed in TRUTH_SEEDS
        for name, settings in variants.items()
    ]


SUITES: dict[str, Callable[[], list[Run]]] = {
    "ml1m_prefix": ml1m_prefix,
    "dsl_cpu": dsl_cpu,
    "space_truth_cpu": space_truth_cpu,
    "space_truth_paper": space_truth_paper,
    "search_cpu": search_cpu,
    "factorial_cpu": factorial_expected,
    "factorial_all": factorial_all_cells,
    "anchor_n200": anchor_n200,
    "table3_cpu": table3_cpu,
    "sampled_ce": partial(linrec_variants, LOSSES),  # full cross-entropy vs the sampled softmax
    "precision": partial(linrec_variants, PRECISIONS),  # float32 vs bfloat16 autocast training
}
KEPT = (
    "best_valid_result",
    "test_result",
    "test_protocol",
    "extra_test_results",
    "efficiency",
    "architecture",
    "search_valid_result",
    "supernet_params",
    "search_iterations",
    "sparsity",
    "shared_weight_scores",
    "retraining_reused_from",
)
SETTINGS_KEPT = ("train_mode", "train_batch_size", "epochs", "max_train_seconds", "device")


def summarise(run: Run, result: dict[str, Any] | None, error: str | None, seconds: float) -> dict:
    """The suite's record of one run: its settings, status and the result's reported parts."""
    record: dict[str, Any] = {
        "name": run.name,
        "group": run.group,
        "model": run.model,
        "settings": run.settings,
        "status": "ok" if error is None else "error",
        "error": error,
        "wall_seconds": round(seconds, 1),
        **({"search_from": run.search_from} if run.search_from else {}),
        **({"teacher": run.teacher} if run.teacher else {}),
    }
    if result is not None:
        record.update({key: result[key] for key in KEPT if key in result})
        config = result.get("config") or {}
        record["resolved"] = {key: config.get(key) for key in SETTINGS_KEPT}
    return record


EPOCH_DONE = re.compile(r"INFO (train|search|retrain): epoch (\d+)/\d+ done")


def epochs_run(log: Path) -> dict[str, int]:
    """Epochs each training phase ran, from the run's ``run.log`` (the progress lines)."""
    counts: dict[str, int] = {}
    if log.is_file():
        for match in EPOCH_DONE.finditer(log.read_text(encoding="utf-8", errors="replace")):
            counts[match.group(1)] = max(counts.get(match.group(1), 0), int(match.group(2)))
    return counts


def same_request(
    run_dir: Path,
    model: str,
    settings: dict[str, Any],
    ignoring: frozenset[str] = frozenset({"output_dir"}),
) -> bool:
    """Whether ``run_dir`` was started for ``model`` with the same ``settings``, apart from the
    keys ``ignoring`` (on both sides)."""
    request = run_dir / "request.json"
    if not request.is_file():
        return False
    asked = json.loads(request.read_text(encoding="utf-8"))
    recorded = {k: v for k, v in asked["config_dict"].items() if k not in ignoring}
    wanted = {k: v for k, v in settings.items() if k not in ignoring}
    return asked["model"] == model and recorded == json.loads(json.dumps(wanted))


def finished_run(
    run_dir: Path, model: str, settings: dict[str, Any]
) -> tuple[dict[str, Any], float] | None:
    """The result and wall seconds of a run that already finished in ``run_dir`` with the same
    model and settings (a suite started again skips it), else ``None``."""
    result = run_dir / "result.json"
    if not (result.is_file() and same_request(run_dir, model, settings)):
        return None
    record = json.loads(result.read_text(encoding="utf-8"))
    seconds = run_seconds(run_dir, record)
    if seconds is None:
        seconds = result.stat().st_mtime - (run_dir / "request.json").stat().st_mtime
    return record, seconds


def unfinished_run(run_dir: Path, model: str, settings: dict[str, Any]) -> bool:
    """Whether ``run_dir`` holds a stopped run of the same model and settings with a saved
    epoch state (a suite started again continues it, :mod:`recbole_easrec.resume`)."""
    state = run_dir / WORK_DIR / STATE_FILE
    return state.is_file() and same_request(run_dir, model, settings)


# What a re-pick changes that its retraining does not read: when it chooses its parent's network,
# it would retrain that network exactly as the parent did (:func:`parent_retraining`).
CHOICE_ONLY = frozenset({"flops_budget", "selection_tolerance", "search_from", "output_dir"})
PICK_DIR = "pick"  # a re-pick's choice without retraining, inside its run folder


def clock_seconds(line: str) -> int:
    """Seconds since midnight of a log line's ``HH:MM:SS`` stamp."""
    hours, minutes, seconds = LOG_STAMP.match(line).groups()  # type: ignore[union-attr]
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds)


# A longer silence in a run.log is a stop (or a pause) and a later resume, not work: a working
# run logs a line at least every minute (recbole_easrec.progress, the suites' show_progress:
# False); the longest silence seen in a working run (an evaluation beside another run) was 164 s.
RESUME_GAP = 300
FRESH_START = " INFO settings of this run:"  # each process's first line (quick_start)
RESUMED = re.compile(r" INFO resumed \w+ after epoch \d+")  # trainer/base.py, a resumed process


def working_seconds(lines: Sequence[str]) -> float | None:
    """Seconds a run worked over ``lines`` of its run.log: the gaps between consecutive
    ``HH:MM:SS`` stamps (across midnight too), those longer than :data:`RESUME_GAP` left out;
    ``None`` with fewer than two stamps (a run logging warnings only)."""
    stamps = [clock_seconds(line) for line in lines if LOG_STAMP.match(line)]
    if len(stamps) < 2:
        return None
    gaps = ((later - earlier) % 86_400 for earlier, later in zip(stamps, stamps[1:]))
    return float(sum(gap for gap in gaps if gap <= RESUME_GAP))


def log_lines(log: Path) -> list[str]:
    """The lines of a run's ``log`` from its last fresh start on (a folder started again with
    other settings appends to the log; the processes that resumed that start follow it)."""
    if not log.is_file():
        return []
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    bounds = sorted({0, *(i for i, line in enumerate(lines) if FRESH_START in line), len(lines)})
    fresh = [
        start
        for start, end in zip(bounds, bounds[1:])
        if not any(RESUMED.search(line) for line in lines[start:end])
    ]
    return lines[fresh[-1] if fresh else 0 :]


def first_choice(lines: Sequence[str]) -> int | None:
    """The index of an EASRec run's first line announcing the chosen network (a resumed
    retraining announces it again), ``None`` without one."""
    return next((i for i, line in enumerate(lines) if " search chose d=" in line), None)


def retraining_seconds(log: Path) -> float | None:
    """Working seconds of an EASRec run from its :func:`first_choice` on (the retraining and the
    test); ``None`` without one."""
    lines = log_lines(log)
    chose = first_choice(lines)
    return None if chose is None else working_seconds(lines[chose:])


def run_seconds(run_dir: Path, result: dict[str, Any]) -> float | None:
    """Working seconds of the finished run in ``run_dir`` from its run.log, over every stop and
    resume, with its re-pick's trial choice (``pick/``); a re-pick that took its parent's
    retraining (``retraining_reused_from``): its choice and the parent's retraining. ``None``
    where the logs do not tell."""
    choice = working_seconds(log_lines(run_dir / PICK_DIR / "run.log")) or 0.0
    parent = result.get("retraining_reused_from")
    if parent:
        own = retraining_seconds(run_dir.parent / parent / "run.log")
    else:
        own = working_seconds(log_lines(run_dir / "run.log"))
    return None if own is None else own + choice


def search_seconds(run_dir: Path, result: dict[str, Any]) -> float | None:
    """Working seconds of an EASRec run's search phase, to its first line announcing the chosen
    network, with its re-pick's trial choice (``pick/``); a re-pick that took its parent's
    retraining: the choice alone. ``None`` for a run without a search."""
    choice = working_seconds(log_lines(run_dir / PICK_DIR / "run.log"))
    if result.get("retraining_reused_from"):
        return choice
    lines = log_lines(run_dir / "run.log")
    chose = first_choice(lines)
    if chose is None:
        return None
    return (working_seconds(lines[: chose + 1]) or 0.0) + (choice or 0.0)


def parent_retraining(
    run: Run, dataset: str, settings: dict[str, Any], run_dir: Path, parent_dir: Path
) -> tuple[dict[str, Any], float] | None:
    """A re-pick (``search_from``) that chooses its parent's network, with no retraining setting
    of its own, would only retrain that network again as the parent did: the parent's retrained
    result (and its retraining time) then stands for it, marked ``retraining_reused_from``. The
    choice itself costs a minute (``retrain_epochs: 0`` in ``run_dir/pick``). ``None``: retrain."""
    if not same_request(parent_dir, run.model, settings, ignoring=CHOICE_ONLY):
        return None
    start = time.perf_counter()
    choice = run_in_subprocess(
        run.model, dataset, None, {**settings, "retrain_epochs": 0}, run_dir / PICK_DIR
    )
    parent = json.loads((parent_dir / "result.json").read_text(encoding="utf-8"))
    network = ("hidden_size", "inner_size", "n_layers", "attention_type", "gate_layers")
    if any(choice["architecture"].get(k) != parent["architecture"].get(k) for k in network):
        return None
    result = {
        **parent,
        "architecture": choice["architecture"],
        "config": choice["config"],
        "retraining_reused_from": parent_dir.name,
    }
    request = {"model": run.model, "config_dict": {**settings, "output_dir": str(run_dir)}}
    write_json_atomic(run_dir / "request.json", request)
    write_json_atomic(run_dir / "result.json", result)  # a suite started again keeps it
    seconds = run_seconds(run_dir, result)
    return result, time.perf_counter() - start if seconds is None else seconds


def wait_for_run(
    folder: Path, records: dict[str, dict], name: str, scheduled: bool, role: str
) -> None:
    """Block until run ``name`` (this run's ``role``: the search it re-picks from, its teacher)
    has finished in ``folder``; a RuntimeError if it failed, or if it has not finished and is not
    part of this invocation."""
    while not (folder / "result.json").is_file():
        if not scheduled or records.get(name, {}).get("status") == "error":
            raise RuntimeError(
                f"{name}, {role}, has not finished: run it first (it is in the same suite)"
            )
        time.sleep(30)


def with_reachable_parent(run: Run, out: Path, names: set[str]) -> Run:
    """``run`` as it can run in ``out``: a re-pick whose parent neither runs in this invocation
    nor has its search in ``out`` (a suite continued in a fresh checkout: the parent's result is
    committed, its supernet is not) searches anew, with the same settings."""
    parent = out / "runs" / str(run.search_from)
    if run.search_from is None or run.search_from in names or has_search(parent):
        return run
    print(
        f"[suite] {run.name}: {parent} holds no search to re-pick from; it searches anew",
        flush=True,
    )
    return dataclasses.replace(run, search_from=None)


def has_search(folder: Path) -> bool:
    """Whether ``folder`` holds a finished EASRec run and its search."""
    return all((folder / name).is_file() for name in ("result.json", SEARCH_FILE, SUPERNET_FILE))


def run_suite(
    runs: list[Run], dataset: str, shared: dict[str, Any], out: Path, workers: int
) -> list[dict]:
    """Run ``runs`` with ``workers`` processes at a time; ``out/suite.json`` after each."""
    out.mkdir(parents=True, exist_ok=True)
    records: dict[str, dict] = {}
    names = {run.name for run in runs}
    runs = [with_reachable_parent(run, out, names) for run in runs]
    lock = Lock()

    def one(run: Run) -> None:
        start = time.perf_counter()
        settings = {**run.settings, **shared}
        if run.model == "EASRec" and settings.get("max_train_seconds"):
            # two phases (search, retraining): the same total training time as the other runs
            settings["max_train_seconds"] = settings["max_train_seconds"] / 2
        error, result, seconds = None, None, None
        run_dir = out / "runs" / run.name
        if run.search_from:
            settings["search_from"] = str(out / "runs" / run.search_from)
        if run.teacher:
            settings["retrain_teacher"] = str(out / "runs" / run.teacher)
        kept = finished_run(run_dir, run.model, settings)
        try:
            if not kept and run.teacher:
                role = "whose network teaches this run (retrain_teacher)"
                teacher = out / "runs" / run.teacher
                wait_for_run(teacher, records, run.teacher, run.teacher in names, role)
            if not kept and run.search_from:
                role = "whose search this run re-picks from (search_from)"
                parent = out / "runs" / run.search_from
                wait_for_run(parent, records, run.search_from, run.search_from in names, role)
                kept = parent_retraining(run, dataset, settings, run_dir, parent)
            if kept:
                result, seconds = kept
            else:
                resume = unfinished_run(run_dir, run.model, settings)
                result = run_in_subprocess(run.model, dataset, None, settings, run_dir, resume)
                seconds = run_seconds(run_dir, result)  # every stop and resume of it
        except RuntimeError as exc:
            error = str(exc)
        elapsed = time.perf_counter() - start
        record = summarise(run, result, error, elapsed if seconds is None else seconds)
        record["epochs_run"] = epochs_run(run_dir / "run.log")
        if result and run.model == "EASRec":
            record["search_seconds"] = search_seconds(run_dir, result)
        with lock:
            records[run.name] = record
            ordered = [records[r.name] for r in runs if r.name in records]
            write_json_atomic(out / "suite.json", {"dataset": dataset, "runs": ordered})
            test = (record.get("test_result") or {}).get("ndcg@10")
            print(
                f"[suite {time.strftime('%H:%M:%S')}] {run.name}: {record['status']}"
                f" in {record['wall_seconds']:.0f} s, test ndcg@10 {test} {error or ''}",
                flush=True,
            )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in as_completed([pool.submit(one, run) for run in runs]):
            future.result()
    return [records[r.name] for r in runs]


def not_finished_in(runs: list[Run], result: dict[str, Any]) -> list[Run]:
    """``runs`` without those a committed result already holds finished (same name, same
    settings): a suite continued in a fresh checkout, where ``saved/`` is empty, trains only what
    is missing."""
    done = {
        record["name"]: record.get("settings")
        for key in ("runs", "truth_runs", "search_runs")
        for record in result.get(key, [])
        if record.get("status") == "ok"
    }
    return [run for run in runs if done.get(run.name) != json.loads(json.dumps(run.settings))]


def with_teachers(every: list[Run], runs: list[Run], out: Path) -> list[Run]:
    """``runs`` with the teachers they need (of ``every``) whose trained network is not in
    ``out``: a suite continued in a fresh checkout trains again a teacher whose result is
    committed but whose network is not."""
    needed = {run.teacher for run in runs if run.teacher}
    absent = {name for name in needed if not (out / "runs" / name / "model.json").is_file()}
    names = {run.name for run in runs} | absent
    return [run for run in every if run.name in names]


def parse_value(text: str) -> Any:
    """``--set key=value`` values: JSON where it parses (numbers, lists, true), else a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=sorted(SUITES))
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument(
        "--data_path", default=None, help="folder holding <dataset>/ (ml-100k: RecBole's own)"
    )
    parser.add_argument("--out", default="saved/suite")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--only", default="", help="comma-separated run names")
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="training seconds per run (max_train_seconds; EASRec: half for each of its 2 phases)",
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--skip_from",
        type=Path,
        help="a committed result JSON: its finished runs (same name and settings) are not rerun",
    )
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    if args.list:
        for name in [args.suite] if args.suite else SUITES:
            for run in SUITES[name]():
                print(f"{name:18s} {run.name:20s} {run.model:10s} {run.group}")
        return 0
    if not args.suite:
        parser.error("--suite is needed (--list names every suite's runs)")
    runs = SUITES[args.suite]()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {run.name for run in runs}
        if unknown:
            parser.error(f"unknown run names for suite {args.suite}: {', '.join(sorted(unknown))}")
        runs = [run for run in runs if run.name in wanted]
    if args.skip_from is not None and args.skip_from.is_file():
        kept = not_finished_in(runs, json.loads(args.skip_from.read_text(encoding="utf-8")))
        runs = with_teachers(runs, kept, Path(args.out).resolve())
    shared: dict[str, Any] = {}
    if args.data_path:
        shared["data_path"] = str(Path(args.data_path).resolve())
    if args.budget is not None:
        shared["max_train_seconds"] = args.budget
    for item in args.set:
        key, _, value = item.partition("=")
        shared[key] = parse_value(value)
    run_suite(runs, args.dataset, shared, Path(args.out).resolve(), args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
