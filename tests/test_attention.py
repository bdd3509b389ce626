"""The attention kinds (model/attention.py): each against its formula written out token by token,
causality, padding, one-query evaluation and the FLOPs the cost model reads — every kind of the
registry, so a kind added later is covered without editing this file."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from recbole_easrec.efficiency import count_flops
from recbole_easrec.model.attention import (
    ATTENTION_KINDS,
    VALUE_CONV_KERNEL,
    get_attention_kind,
    head_decays,
    linear_products,
)

KINDS = sorted(ATTENTION_KINDS)
MASK = torch.tensor([[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1]], dtype=torch.bool)


def modes(name: str) -> list[bool]:
    return [True] if ATTENTION_KINDS[name].causal_only else [False, True]


def kind_cases() -> list[tuple[str, bool]]:
    return [(name, causal) for name in KINDS for causal in modes(name)]


def inputs(seed: int = 0, batch: int = 2, heads: int = 2, length: int = 7, head_dim: int = 4):
    torch.manual_seed(seed)
    q, k, v = (torch.randn(batch, heads, length, head_dim, dtype=torch.float64) for _ in range(3))
    conv = torch.randn(heads * head_dim, VALUE_CONV_KERNEL, dtype=torch.float64)
    return q, k, v, conv


def slow_context(name, q, k, v, mask, causal, conv):
    """The kind's formula (module doc of model/attention.py), one token at a time."""
    batch, heads, length, head_dim = q.shape
    out = torch.zeros_like(v)
    l2 = lambda x: F.normalize(F.elu(x), dim=-1)  # noqa: E731
    feature = (lambda x: F.elu(x) + 1) if name in ("elu1", "conv") else l2
    gammas = head_decays(heads).double()
    for b in range(batch):
        for h in range(heads):
            for t in range(length):
                attended = [s for s in range(length) if mask[b, s] and not (causal and s > t)]
                if name == "softmax":
                    scores = torch.stack([q[b, h, t] @ k[b, h, s] for s in attended])
                    weights = torch.softmax(scores / head_dim**0.5, 0)
                    out[b, h, t] = sum(w * v[b, h, s] for w, s in zip(weights, attended))
                    continue
                weights = [feature(q[b, h, t]) @ feature(k[b, h, s]) for s in attended]
                if name == "decay":
                    weights = [w * gammas[h] ** (t - s) for w, s in zip(weights, attended)]
                total = sum(w * v[b, h, s] for w, s in zip(weights, attended))
                if name == "linrec":
                    out[b, h, t] = total / head_dim**0.5
                elif name == "count":
                    out[b, h, t] = total / max(len(attended), 1)
                elif name in ("elu1", "conv"):
                    out[b, h, t] = total / (sum(weights) + 1e-6)
                else:  # norm, decay
                    out[b, h, t] = total / (total.pow(2).mean() + 1e-6).sqrt()
                if name == "conv":
                    channels = slice(h * head_dim, (h + 1) * head_dim)
                    for j in range(VALUE_CONV_KERNEL):
                        s = t - VALUE_CONV_KERNEL + 1 + j
                        if s >= 0 and mask[b, s]:
                            out[b, h, t] += conv[channels, j] * v[b, h, s]
    return out


@pytest.mark.parametrize("name,causal", kind_cases())
def test_kind_matches_its_formula_token_by_token(name, causal):
    q, k, v, conv = inputs()
    fast = ATTENTION_KINDS[name].context(q, k, v, MASK, causal, 0.0, conv)
    slow = slow_context(name, q, k, v, MASK, causal, conv)
    real = MASK[:, None, :, None].expand_as(fast)  # padding rows are never read
    assert torch.allclose(fast[real], slow[real], atol=1e-9)


@pytest.mark.parametrize("name,causal", kind_cases())
def test_kind_is_causal_when_asked_and_ignores_padding(name, causal):
    q, k, v, conv = inputs(1)
    kind = ATTENTION_KINDS[name]
    base = kind.context(q, k, v, MASK, causal, 0.0, conv)
    later = [t.clone() for t in (q, k, v)]
    for t in later:
        t[:, :, 4:] += torch.randn_like(t[:, :, 4:])
    changed = kind.context(*later, MASK, causal, 0.0, conv)
    if causal:
        assert torch.allclose(base[:, :, :4], changed[:, :, :4], atol=1e-12)
    else:  # non-causal: the future of sequence 1 (all real) reaches its first positions
        assert not torch.allclose(base[1, :, :4], changed[1, :, :4])
    padded = [t.clone() for t in (q, k, v)]
    for t in padded:
        t[0, :, 5:] = 100.0  # padding of sequence 0
    again = kind.context(*padded, MASK, causal, 0.0, conv)
    assert torch.allclose(base[0, :, :5], again[0, :, :5], atol=1e-12)


@pytest.mark.parametrize("name,causal", kind_cases())
def test_one_query_equals_that_row_of_the_full_context(name, causal):
    q, k, v, conv = inputs(2)
    kind = ATTENTION_KINDS[name]
    last = torch.tensor([4, 6])  # each sequence's last real position
    rows = torch.arange(2)
    full = kind.context(q, k, v, MASK, causal, 0.0, conv)[rows, :, last]
    one = kind.context_at(q[rows, :, last].unsqueeze(2), k, v, MASK, last, 0.0, conv)
    assert torch.allclose(one[:, :, 0], full, atol=1e-12)


@pytest.mark.parametrize("decay", [False, True])
def test_causal_chunking_does_not_change_the_result(decay):
    torch.manual_seed(1)
    q, k, v = (torch.randn(1, 2, 50, 8, dtype=torch.float64) for _ in range(3))
    gammas = head_decays(2) if decay else None
    reference = linear_products(q, k, v, True, gammas, chunk_size=50)
    for chunk in (1, 7, 16, 64):
        chunked = linear_products(q, k, v, True, gammas, chunk_size=chunk)
        assert torch.allclose(chunked, reference, atol=1e-12)


@pytest.mark.parametrize("length", [5, 64, 150])
@pytest.mark.parametrize("name,causal", kind_cases())
def test_flops_formulas_equal_the_counted_flops(name, causal, length):
    """The cost model's numbers are what torch's counter measures, for every kind (chunks of 64:
    one short chunk, exactly one, several with a remainder)."""
    heads, head_dim = 2, 8
    q, k, v = (torch.rand(1, heads, length, head_dim) for _ in range(3))
    conv = torch.rand(heads * head_dim, VALUE_CONV_KERNEL)
    kind = ATTENTION_KINDS[name]
    counted = count_flops(lambda: kind.context(q, k, v, None, causal, 0.0, conv))
    assert counted == kind.flops(length, heads * head_dim, heads, causal)
    last = torch.tensor([length - 1])
    one = count_flops(lambda: kind.context_at(q[..., -1:, :], k, v, None, last, 0.0, conv))
    assert one == kind.query_flops(length, heads * head_dim, heads)


def test_an_unknown_kind_is_an_error_that_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown attention kind 'fast'.*linrec"):
        get_attention_kind("fast")


def test_the_config_choices_name_every_kind():
    """``attention_type: softmax`` and every ``linear_variant`` name a registered kind and back."""
    from recbole_easrec.model.attention import LINEAR_VARIANTS

    assert set(ATTENTION_KINDS) == {"softmax", *LINEAR_VARIANTS}
