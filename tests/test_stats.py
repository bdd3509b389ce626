"""recbole_easrec.stats: the one implementation of mean ± std, paired t-test, Kendall τ, Pareto
front and regret that compare.py and the benchmark reports share."""

from __future__ import annotations

import math

import pytest
from scipy import stats as scipy_stats

from recbole_easrec import stats


def test_mean_std_is_the_sample_std_and_skips_missing_values() -> None:
    mean, std = stats.mean_std([0.30, None, 0.32, float("nan"), 0.31])
    assert mean == pytest.approx(0.31)
    assert std == pytest.approx(0.01)


def test_a_single_seed_has_a_mean_and_no_std() -> None:
    assert stats.mean_std([0.25]) == (0.25, None)
    assert stats.mean_std([0.25, None]) == (0.25, None)
    assert stats.mean_std([]) == (None, None)
    assert stats.mean_std([None, float("nan")]) == (None, None)


def test_format_mean_std_shows_the_mean_alone_for_a_single_seed() -> None:
    assert stats.format_mean_std(*stats.mean_std([0.1, 0.3])) == "0.2000 ± 0.1414"
    assert stats.format_mean_std(*stats.mean_std([0.1])) == "0.1000"
    assert stats.format_mean_std(None, None) == "–"
    assert stats.format_mean_std(0.12345, 0.001, digits=2) == "0.12 ± 0.00"


def test_paired_p_value_is_scipys_paired_test_over_complete_pairs() -> None:
    xs, ys = [0.40, 0.41, None, 0.43], [0.30, 0.32, 0.50, 0.31]
    expected = scipy_stats.ttest_rel([0.40, 0.41, 0.43], [0.30, 0.32, 0.31]).pvalue
    assert stats.paired_p_value(xs, ys) == pytest.approx(expected)
    # not the unpaired test: the same numbers give another p when unpaired
    unpaired = scipy_stats.ttest_ind([0.40, 0.41, 0.43], [0.30, 0.32, 0.31]).pvalue
    assert stats.paired_p_value(xs, ys) != pytest.approx(unpaired)


def test_paired_p_value_needs_two_pairs_and_handles_constant_differences() -> None:
    assert stats.paired_p_value([0.1], [0.2]) is None
    assert stats.paired_p_value([0.1, None], [0.2, 0.3]) is None
    assert stats.paired_p_value([0.1, 0.2], [0.1, 0.2]) == 1.0
    assert stats.paired_p_value([3.0, 5.0], [1.0, 3.0]) == 0.0


def test_kendall_tau_ranks_and_needs_two_pairs() -> None:
    assert stats.kendall_tau([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert stats.kendall_tau([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    assert stats.kendall_tau([1, 2, None], [30, 20, 10]) == pytest.approx(-1.0)
    assert stats.kendall_tau([1], [2]) is None


def test_pareto_front_marks_non_dominated_points() -> None:
    # (cost, quality): the second is dominated by the first (more cost, less quality)
    points = [(1.0, 0.5), (2.0, 0.4), (3.0, 0.6), (0.5, 0.1)]
    assert stats.pareto_front(points) == [True, False, True, True]
    # equal cost, lower quality, and equal quality at a higher cost are both dominated
    assert stats.pareto_front([(1.0, 0.5), (1.0, 0.4), (2.0, 0.5)]) == [True, False, False]
    assert stats.pareto_front([]) == []


def test_regret_is_relative_to_the_best_affordable_candidate() -> None:
    candidates = [(1.0, 0.40), (2.0, 0.50), (4.0, 0.60)]
    assert stats.regret(0.50, candidates, limit=2.0) == 0.0
    assert stats.regret(0.45, candidates, limit=2.0) == pytest.approx(0.1)
    assert stats.regret(0.45, candidates, limit=4.0) == pytest.approx(0.25)
    assert stats.regret(0.45, candidates, limit=0.5) is None


def test_compare_uses_the_shared_statistics() -> None:
    from recbole_easrec import compare

    assert compare.mean_std is stats.mean_std
    assert compare.paired_p_value is stats.paired_p_value
    assert compare.pareto_front is stats.pareto_front
    assert not math.isnan(stats.paired_p_value([0.1, 0.3, 0.2], [0.2, 0.2, 0.25]))
