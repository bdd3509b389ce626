"""compile: True — compiled and eager encoders agree; failures fall back to eager (issue 6)."""

from __future__ import annotations

import pytest
import torch

from recbole_easrec import compiling
from recbole_easrec.config import build_config
from recbole_easrec.saving import DatasetInfo


def make_model(**overrides):
    torch.manual_seed(0)
    settings = {
        "hidden_size": 16,
        "inner_size": 32,
        "n_layers": 2,
        "n_heads": 2,
        "MAX_ITEM_LIST_LENGTH": 8,
        "train_mode": "autoregressive",
        "hidden_dropout_prob": 0.0,
        "attn_dropout_prob": 0.0,
        **overrides,
    }
    config = build_config("LinRec", "tiny", config_dict=settings)
    return config.model_class(config, DatasetInfo({"item_id": 20})).eval()


def test_compiled_and_eager_agree():
    model = make_model()
    items = torch.tensor([[3, 5, 7, 9, 11, 13, 0, 0], [2, 4, 6, 8, 10, 12, 14, 16]])
    with torch.no_grad():
        eager = model.encode(items)
    keys = set(model.state_dict())
    assert compiling.compile_encoder(model)
    assert set(model.state_dict()) == keys  # saving/loading unaffected
    try:
        with torch.no_grad():
            compiled = model.encode(items)
    except Exception as error:  # pragma: no cover - depends on the machine's toolchain
        pytest.skip(f"torch.compile cannot run here: {error}")
    assert torch.allclose(compiled, eager, atol=1e-5)


def test_compile_failure_falls_back_to_eager(monkeypatch):
    def broken_compile(function, **options):
        def fail(*args, **kwargs):
            raise RuntimeError("no compiler")

        return fail

    monkeypatch.setattr(compiling.torch, "compile", broken_compile)
    model = make_model()
    items = torch.tensor([[3, 5, 7, 0, 0, 0, 0, 0]])
    with torch.no_grad():
        eager = model.encode(items)
        compiling.compile_encoder(model)
        assert torch.equal(model.encode(items), eager)
        assert model.encoder.forward.compiled is None
