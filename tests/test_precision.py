"""``precision: bf16``: training forward passes under bfloat16 autocast, evaluation in float32."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from recbole_easrec.errors import ConfigError
from recbole_easrec.precision import training_precision
from recbole_easrec.quick_start import run_recbole_easrec


@pytest.fixture
def linear_output_dtypes():
    """(training?, dtype) of every ``nn.Linear`` output while the test runs."""
    seen: set[tuple[bool, torch.dtype]] = set()

    def hook(module: nn.Module, _inputs: object, output: object) -> None:
        if isinstance(module, nn.Linear) and isinstance(output, torch.Tensor):
            seen.add((module.training, output.dtype))

    handle = nn.modules.module.register_module_forward_hook(hook)
    yield seen
    handle.remove()


def test_training_precision_context() -> None:
    a, b = torch.randn(4, 8), torch.randn(8, 2)
    with training_precision("bf16", torch.device("cpu")):
        assert (a @ b).dtype == torch.bfloat16
        target = torch.tensor([0, 1, 0, 1])
        loss = nn.functional.cross_entropy(a @ b, target)
        assert loss.dtype == torch.float32  # autocast's float32 list
    with training_precision("fp32", torch.device("cpu")):
        assert (a @ b).dtype == torch.float32


def test_every_step_of_a_bf16_epoch_sees_the_weights_the_last_step_left() -> None:
    """The epoch-long region must not reuse autocast's bfloat16 copy of a weight after the
    optimiser changed it (that trained every step of an epoch on its first step's weights)."""
    torch.manual_seed(0)
    layer, x = nn.Linear(8, 8), torch.randn(4, 8)
    optimiser = torch.optim.SGD(layer.parameters(), lr=1.0)
    with training_precision("bf16", torch.device("cpu")):
        for _ in range(2):  # RecBole's loop: one inner autocast per step
            with torch.autocast(device_type="cpu", enabled=True):
                loss = layer(x).float().square().sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        with torch.autocast(device_type="cpu", enabled=True):
            inside = layer(x)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        fresh = layer(x)
    assert inside.dtype == torch.bfloat16
    torch.testing.assert_close(inside, fresh, rtol=0, atol=0)


# ours (RecBole's training loop), RecBole's own SASRec, EASRec (its own search epochs)
@pytest.mark.parametrize("model", ["LinRec", "SASRec", "EASRec"])
def test_bf16_trains_in_bfloat16_and_evaluates_in_float32(
    tiny_run_config, linear_output_dtypes, model
) -> None:
    result = run_recbole_easrec(
        model, "tiny", config_dict=tiny_run_config(precision="bf16", train_mode="prefix")
    )
    assert (True, torch.bfloat16) in linear_output_dtypes
    assert (True, torch.float32) not in linear_output_dtypes  # every training forward autocast
    assert (False, torch.float32) in linear_output_dtypes
    assert (False, torch.bfloat16) not in linear_output_dtypes  # evaluation stays fp32
    assert all(math.isfinite(value) for value in result["test_result"].values())


def test_bf16_keeps_float32_weights(tiny_run_config, tmp_path) -> None:
    run_recbole_easrec("LinRec", "tiny", config_dict=tiny_run_config(precision="bf16"))
    weights = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    tensors = [value for value in weights.values() if torch.is_floating_point(value)]
    assert tensors and all(value.dtype == torch.float32 for value in tensors)


def test_fp32_never_autocasts(tiny_run_config, linear_output_dtypes) -> None:
    run_recbole_easrec("LinRec", "tiny", config_dict=tiny_run_config())
    assert {dtype for _, dtype in linear_output_dtypes} == {torch.float32}


@pytest.mark.parametrize("value", ["fp16", "bfloat16", 16])
def test_invalid_precision_is_a_one_line_error(tiny_run_config, value) -> None:
    with pytest.raises(ConfigError, match="precision must be one of fp32, bf16") as error:
        run_recbole_easrec("LinRec", "tiny", config_dict=tiny_run_config(precision=value))
    assert "\n" not in str(error.value)
