"""The statistics every comparison and benchmark report uses, one implementation each.

* :func:`mean_std` — mean and *sample* standard deviation over seeds. **One rule for a single
  seed:** the standard deviation of fewer than two values is undefined, so it is ``None`` (never
  ``0.0``), and :func:`format_mean_std` then shows the mean alone (no ``± 0``).
* :func:`paired_p_value` — two-sided paired t-test over the pairs where both values exist
  (``None`` below two pairs; identical differences give 1.0 if they are zero, else 0.0, where
  SciPy would return NaN).
* :func:`kendall_tau` — rank correlation of two score lists (``None`` below two pairs).
* :func:`pareto_front` — which ``(cost, quality)`` points no other point dominates.
* :func:`regret` — how far a pick falls below the best candidate within a cost limit, relative to
  that best.

Missing values (``None`` or NaN) are skipped everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any


def is_missing(value: Any) -> bool:
    """Whether ``value`` is ``None`` or a float NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def present(values: Iterable[Any]) -> list[float]:
    """The values that are not missing, as floats."""
    return [float(value) for value in values if not is_missing(value)]


def mean_std(values: Iterable[Any]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (``n − 1``) of the values that are not missing:
    ``(None, None)`` for none, ``(mean, None)`` for one (a single seed has no spread)."""
    kept = present(values)
    if not kept:
        return None, None
    mean = math.fsum(kept) / len(kept)
    if len(kept) < 2:
        return mean, None
    variance = math.fsum((value - mean) ** 2 for value in kept) / (len(kept) - 1)
    return mean, math.sqrt(variance)


def format_mean_std(mean: float | None, std: float | None, digits: int = 4) -> str:
    """``mean ± std`` with ``digits`` decimals; the mean alone without a std; ``–`` without a
    mean."""
    if mean is None:
        return "–"
    return f"{mean:.{digits}f}" + ("" if std is None else f" ± {std:.{digits}f}")


def pairs_of(xs: Sequence[Any], ys: Sequence[Any]) -> list[tuple[float, float]]:
    """``zip(xs, ys)`` without the pairs where either value is missing."""
    return [(float(x), float(y)) for x, y in zip(xs, ys) if not (is_missing(x) or is_missing(y))]


def paired_p_value(xs: Sequence[Any], ys: Sequence[Any]) -> float | None:
    """Two-sided paired t-test of ``xs`` against ``ys`` (``scipy.stats.ttest_rel``), position by
    position (e.g. seed by seed), over the pairs where both exist; ``None`` below two pairs."""
    pairs = pairs_of(xs, ys)
    if len(pairs) < 2:
        return None
    differences = [x - y for x, y in pairs]
    if all(difference == differences[0] for difference in differences):
        return 1.0 if differences[0] == 0 else 0.0
    from scipy.stats import ttest_rel

    return float(ttest_rel([x for x, _ in pairs], [y for _, y in pairs]).pvalue)


def kendall_tau(xs: Sequence[Any], ys: Sequence[Any]) -> float | None:
    """Kendall's τ between ``xs`` and ``ys`` over the pairs where both exist; ``None`` below two
    pairs."""
    pairs = pairs_of(xs, ys)
    if len(pairs) < 2:
        return None
    from scipy.stats import kendalltau

    return float(kendalltau([x for x, _ in pairs], [y for _, y in pairs]).statistic)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[bool]:
    """Whether each ``(cost, quality)`` point is Pareto-optimal: no other point is cheaper-or-equal
    and better-or-equal with one of them strict (two identical points are both optimal)."""
    return [
        not any(c <= cost and q >= quality and (c < cost or q > quality) for c, q in points)
        for cost, quality in points
    ]


def regret(quality: float, candidates: Iterable[tuple[float, float]], limit: float) -> float | None:
    """``(best − quality) / best``, where ``best`` is the highest quality among the ``(cost,
    quality)`` candidates that cost at most ``limit``; ``None`` when no candidate does. 0 means
    the pick is as good as anything it could have afforded."""
    eligible = [q for cost, q in candidates if cost <= limit]
    if not eligible:
        return None
    best = max(eligible)
    return (best - quality) / best
