"""Autoregressive training puts a loss at every position, so the output at position t must not
depend on any item after t (issue 27). The property is checked for every model of the registry
that supports ``train_mode: autoregressive`` — a model added later is covered without editing this
file — in eval mode and in train mode with dropout off, on full and right-padded sequences."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from recbole_easrec.config import build_config
from recbole_easrec.model.attention import LINEAR_VARIANTS
from recbole_easrec.model.dsl import BACKBONES
from recbole_easrec.model.elastic import GATE_INPUTS, Architecture
from recbole_easrec.model.elastic import Path as SupernetPath
from recbole_easrec.quick_start import prepare_data
from recbole_easrec.registry import plugin_model_names, resolve_model
from tests.conftest import tiny_config, write_cycle_dataset

pytestmark = pytest.mark.usefixtures("one_thread")

AUTOREGRESSIVE_MODELS = [
    name
    for name in plugin_model_names()
    if getattr(resolve_model(name), "supports_autoregressive", False)
]
FEATURES = {
    "load_col": {
        "inter": ["user_id", "item_id", "timestamp"],
        "item": ["item_id", "category", "tags"],
    },
    "selected_features": ["category", "tags"],
}
ATTENTIONS = [{"attention_type": "softmax"}] + [
    {"attention_type": "linear", "linear_variant": variant} for variant in LINEAR_VARIANTS
]
# Settings worth checking beyond a model's defaults; a model not listed runs with its defaults.
SETTINGS: dict[str, list[dict]] = {
    "LinRec": ATTENTIONS,
    "EASRecCompact": [
        {"gate_layers": layers, "gate_input": gate_input, **attention}
        for layers in (0, 1, 2)
        for gate_input in GATE_INPUTS
        for attention in (ATTENTIONS[0], ATTENTIONS[1])
    ]
    + [{"gate_layers": 2, **attention} for attention in ATTENTIONS[2:]],
    "EASRec": [{"gate_input": gate_input} for gate_input in GATE_INPUTS]
    + [{"gate_layers": 2, **attention} for attention in ATTENTIONS]
    + [{"attention_candidates": ["softmax", "linrec", "conv"]}],
    "DSL": [{"dsl_backbone": backbone} for backbone in BACKBONES],
    "LinSASRecF": [FEATURES],
}


def case_id(settings: dict) -> str:
    short = {k: v for k, v in settings.items() if k not in FEATURES}
    return "-".join(map(str, short.values())).replace(" ", "") or (
        "features" if settings else "defaults"
    )


CASES = [
    pytest.param(name, settings, id=f"{name}-{case_id(settings)}")
    for name in AUTOREGRESSIVE_MODELS
    for settings in SETTINGS.get(name, [{}])
]
LENGTH, CUT = 10, 5  # items at positions >= CUT change; outputs at positions < CUT must not


@pytest.fixture(scope="module")
def feature_data(tmp_path_factory) -> Path:
    return write_cycle_dataset(tmp_path_factory.mktemp("data"), with_item_features=True)


def build(name: str, settings: dict, data: Path, tmp: Path):
    config_dict = tiny_config(
        data,
        train_mode="autoregressive",
        MAX_ITEM_LIST_LENGTH=LENGTH,
        n_layers=2,
        hidden_dropout_prob=0.0,
        attn_dropout_prob=0.0,
        checkpoint_dir=str(tmp / "ckpt"),
        **settings,
    )
    config = build_config(name, "tiny", config_dict=config_dict)
    torch.manual_seed(0)
    return resolve_model(name)(config, prepare_data(config)[0])


def sequences(n_items: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two batches equal before position CUT and different from it on (padding kept)."""
    generator = torch.Generator().manual_seed(1)
    seq = torch.randint(1, n_items, (4, LENGTH), generator=generator)
    seq[2:, LENGTH - 2 :] = 0  # two right-padded sequences
    later = seq.clone()
    real_later = later[:, CUT:] > 0
    shifted = (later[:, CUT:] % (n_items - 1)) + 1  # another real item
    later[:, CUT:] = torch.where(real_later, shifted, later[:, CUT:])
    return seq, later


def outputs(model, seq: torch.Tensor, train: bool, path: SupernetPath | None) -> torch.Tensor:
    model.train(train)
    torch.manual_seed(7)  # the same random draws (e.g. dropout) for both batches
    with torch.no_grad():
        return model.encode(seq) if path is None else model.encode(seq, path)


def paths(model) -> list[SupernetPath | None]:
    """EASRec's supernet: the controllers' choice (None), a soft Gumbel-softmax mixture of every
    path (eq. 10–11) and every hard path; other models: None."""
    if not hasattr(model, "using"):
        return [None]
    torch.manual_seed(3)
    soft = model.controller.sample(1.0)
    widths, depth = len(model.encoder.widths), len(model.encoder.layers)
    hard = [Architecture(c, d) for c in range(widths) for d in range(1, depth + 1)]
    return [None, soft, *hard]


@pytest.mark.parametrize("name,settings", CASES)
def test_outputs_before_t_ignore_the_items_after_t(name, settings, feature_data, tmp_path):
    model = build(name, settings, feature_data, tmp_path)
    seq, later = sequences(model.n_items)
    for path in paths(model):
        for train in (False, True):
            before = outputs(model, seq, train, path)
            after = outputs(model, later, train, path)
            where = f"{name} {settings} path={path} train={train}"
            assert torch.allclose(before[:, :CUT], after[:, :CUT], atol=1e-6), where
            # not vacuous: the changed positions do change
            assert not torch.allclose(before[:, CUT:], after[:, CUT:], atol=1e-6), where


def test_every_autoregressive_model_is_discovered_and_every_listed_model_exists():
    assert {"LinRec", "EASRec", "EASRecCompact", "DSL", "LinSASRecF"} <= set(AUTOREGRESSIVE_MODELS)
    assert set(SETTINGS) <= set(AUTOREGRESSIVE_MODELS)
