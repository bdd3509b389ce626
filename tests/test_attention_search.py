"""The attention kind as a searchable dimension (``attention_candidates``, issue 28): candidates
are every width option with every listed kind, sharing the supernet's weights; each hard path is
exactly the reconstructed network of its kind, costs are counted per kind, bad lists are one-line
errors, and a search over them runs end to end."""

from __future__ import annotations

import pytest
import torch
from recbole.data.interaction import Interaction

from recbole_easrec.efficiency import count_flops
from recbole_easrec.errors import ConfigError
from recbole_easrec.model.elastic.paths import Architecture
from recbole_easrec.quick_start import run_recbole_easrec
from recbole_easrec.search.reconstruct import compact_settings, reconstruct
from recbole_easrec.search.space import SearchSpace
from tests.test_easrec import N_ITEMS, build_model, perturb, random_batch, set_choice

pytestmark = pytest.mark.usefixtures("one_thread")
KINDS = ["softmax", "linrec", "conv"]


def test_candidates_are_every_width_with_every_kind(tiny_run_config, tmp_path):
    model, config = build_model(tiny_run_config, tmp_path, attention_candidates=KINDS)
    widths = model.encoder.widths
    assert len(widths) == 9 and model.encoder.kinds == [k for k in KINDS for _ in range(3)]
    assert widths[:3] == widths[3:6] == widths[6:]
    assert model.controller.alpha.numel() == 9
    assert model.encoder.layers[0].attention.value_conv is not None  # conv needs the kernel


@pytest.mark.parametrize("candidate,depth", [(0, 2), (4, 3), (8, 1), (7, 2)])
def test_each_hard_path_equals_the_reconstructed_network_of_its_kind(
    tiny_run_config, tmp_path, candidate, depth
):
    torch.manual_seed(0)
    model, config = build_model(tiny_run_config, tmp_path, attention_candidates=KINDS)
    perturb(model)
    set_choice(model, candidate, depth)
    model.eval()
    compact = reconstruct(model, config).eval()
    kind = KINDS[candidate // 3]
    assert compact.encoder.layers[0].attention.kind.name == kind
    assert compact_settings(model)["attention_type"] == (
        "softmax" if kind == "softmax" else "linear"
    )
    batch = random_batch(model, 1)
    with torch.no_grad():
        assert torch.allclose(
            model.full_sort_predict(batch), compact.full_sort_predict(batch), atol=1e-5, rtol=1e-4
        )


@pytest.mark.parametrize("train_mode", ["prefix", "autoregressive"])
def test_flops_fractions_are_the_counted_flops_of_every_kind(tiny_run_config, tmp_path, train_mode):
    model, config = build_model(
        tiny_run_config, tmp_path, attention_candidates=KINDS, train_mode=train_mode
    )
    space = SearchSpace.of(model, config)
    seq = torch.randint(1, N_ITEMS, (1, model.max_seq_length))
    batch = Interaction({model.ITEM_SEQ: seq, model.ITEM_SEQ_LEN: torch.tensor([seq.shape[1]])})
    counted = {}
    for arch in space.fractions:
        compact = reconstruct(model, config, arch).eval()
        counted[arch] = count_flops(lambda c=compact: c.full_sort_predict(batch))
    largest = max(counted.values())
    assert space.largest_flops == largest
    for arch, fraction in space.fractions.items():
        assert counted[arch] / largest == pytest.approx(fraction, rel=1e-6)
    assert space.describe(Architecture(3, 1))["attention"] == "linrec"


@pytest.mark.parametrize(
    "candidates,overrides,message",
    [
        (["softmax", "fast"], {}, "unknown kind 'fast'"),
        (["linrec", "linrec"], {}, "distinct"),
        ([], {}, "list of distinct"),
        ("softmax", {}, "list of distinct"),
        (["decay"], {"train_mode": "prefix"}, "decay needs causal attention"),
    ],
)
def test_bad_attention_candidates_are_one_line_errors(
    tiny_run_config, tmp_path, candidates, overrides, message
):
    with pytest.raises(ConfigError, match=message) as error:
        build_model(tiny_run_config, tmp_path, attention_candidates=candidates, **overrides)
    assert "\n" not in str(error.value)


def test_a_search_over_attention_kinds_runs_and_records_the_kind(tiny_run_config):
    settings = tiny_run_config(
        epochs=1, retrain_epochs=1, n_layers=2, attention_candidates=["softmax", "linrec"]
    )
    result = run_recbole_easrec("EASRec", "tiny", config_dict=settings)
    chosen = result["architecture"]
    assert chosen["attention_type"] in ("softmax", "linear")
    assert 0 < result["test_result"]["ndcg@10"] <= 1


def test_the_architecture_record_names_the_width_option_and_kind_of_any_candidate(
    tiny_run_config, tmp_path
):
    from recbole_easrec.search.reconstruct import architecture_record

    model, config = build_model(tiny_run_config, tmp_path, attention_candidates=KINDS)
    set_choice(model, 5, 2)  # linrec with the third width option
    record = architecture_record(model, config, compact_settings(model), 0.5)
    assert record["attention"] == "linrec" and record["attention_type"] == "linear"
    assert record["hidden_prune_ratio"] == config["hidden_prune_ratios"][2]
    assert record["hidden_size"] == model.encoder.widths[2][0]
