"""The shared transformer stack: linear attention (LinRec eq. 5), padding, FLOPs scaling."""

from __future__ import annotations

import pytest
import torch

from recbole_easrec.efficiency import count_flops
from recbole_easrec.model.layers import TransformerStack


def make_stack(attention_type: str, causal: bool) -> TransformerStack:
    torch.manual_seed(0)
    stack = TransformerStack(
        2, hidden_size=16, inner_size=32, n_heads=2, attention_type=attention_type, causal=causal
    )
    return stack.eval()


@pytest.mark.parametrize("attention_type", ["linear", "softmax"])
@pytest.mark.parametrize("causal", [False, True])
def test_padding_never_changes_real_positions(attention_type, causal):
    stack = make_stack(attention_type, causal)
    torch.manual_seed(2)
    real = torch.randn(1, 5, 16)
    short_padding = torch.cat([real, torch.randn(1, 3, 16)], dim=1)
    long_padding = torch.cat([real, 100 * torch.randn(1, 11, 16)], dim=1)
    outputs = []
    for x in (short_padding, long_padding):
        mask = torch.zeros(1, x.shape[1], dtype=torch.bool)
        mask[:, :5] = True
        outputs.append(stack(x, mask)[-1][:, :5])
    assert torch.allclose(outputs[0], outputs[1], atol=1e-5)


def test_padding_matters_without_mask_so_the_test_above_can_fail():
    stack = make_stack("linear", causal=False)
    torch.manual_seed(2)
    real = torch.randn(1, 5, 16)
    a = torch.cat([real, torch.randn(1, 3, 16)], dim=1)
    b = torch.cat([real, torch.randn(1, 3, 16)], dim=1)
    assert not torch.allclose(stack(a)[-1][:, :5], stack(b)[-1][:, :5], atol=1e-5)


def attention_flops(attention_type: str, length: int) -> int:
    stack = TransformerStack(
        1, hidden_size=64, inner_size=64, n_heads=2, attention_type=attention_type
    ).eval()
    x = torch.randn(1, length, 64)
    return count_flops(lambda: stack(x))


def test_flops_grow_linearly_for_linear_and_quadratically_for_softmax():
    lengths = (128, 256, 512)
    linear = [attention_flops("linear", n) for n in lengths]
    softmax = [attention_flops("softmax", n) for n in lengths]
    for previous, current in zip(linear, linear[1:]):
        assert current / previous == pytest.approx(2.0, rel=0.02)
    # softmax: per-token projections grow ×2, the N² d product ×4, so the total ratio rises towards 4
    ratios = [current / previous for previous, current in zip(softmax, softmax[1:])]
    assert all(ratio > 2.3 for ratio in ratios)
    assert ratios[1] > ratios[0]
    assert softmax[-1] > 2 * linear[-1]


@pytest.mark.parametrize("attention_type", ["linear", "softmax"])
@pytest.mark.parametrize("causal", [False, True])
def test_last_position_shortcut_equals_full_stack(attention_type, causal):
    stack = make_stack(attention_type, causal)
    torch.manual_seed(3)
    x = torch.randn(3, 9, 16)
    lengths = torch.tensor([9, 4, 1])
    mask = torch.arange(9)[None, :] < lengths[:, None]
    full = stack(x, mask)[-1][torch.arange(3), lengths - 1]
    short = stack(x, mask, lengths - 1)[-1][:, 0]
    assert torch.allclose(full, short, atol=1e-5)
