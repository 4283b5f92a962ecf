"""Starts that find better optima: hierarchical clustering, short runs, degenerate fits."""

import json
import warnings
from itertools import permutations
from pathlib import Path

import numpy as np
import pytest

from fastem import ConvergenceWarning, GaussianMixture
from fastem._engine import run_em
from fastem.datasets import load_faithful
from fastem.mixture._hierarchical import merge_partition, svd_scaled

DATA = Path(__file__).parent / "data"
COV_TYPES = ["full", "tied", "diag", "spherical"]
MCLUST_HC = json.loads((DATA / "mclust_hc.json").read_text())


def same_partition(a, b):
    a, b = np.asarray(a), np.asarray(b)
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("name", sorted(MCLUST_HC))
def test_hierarchical_partitions_are_mclusts(name):
    X = np.array(MCLUST_HC[name]["X"], dtype=float)
    classes = np.array(MCLUST_HC[name]["classes"])
    Z = svd_scaled(X)
    for column, k in enumerate(range(2, 6)):
        assert same_partition(merge_partition(Z, k), classes[:, column]), (name, k)


def test_svd_scaling_is_mclusts():
    rs = np.random.RandomState(0)
    X = rs.randn(50, 3) @ rs.randn(3, 3) + 10
    Z = svd_scaled(X)
    # mclust: scale(X), then X V diag(1 / sqrt(d)): Z^T Z = diag(singular values)
    gram = Z.T @ Z
    np.testing.assert_allclose(gram, np.diag(np.diag(gram)), atol=1e-10)
    _, s, _ = np.linalg.svd((X - X.mean(0)) / X.std(0, ddof=1), full_matrices=False)
    np.testing.assert_allclose(np.sort(np.diag(gram))[::-1], s, rtol=1e-10)


def test_merge_partition_small_cases():
    Z = np.array([[0.0], [0.1], [5.0], [5.2], [10.0]])
    assert same_partition(merge_partition(Z, 3), [0, 0, 1, 1, 2])
    assert same_partition(merge_partition(Z, 5), [0, 1, 2, 3, 4])
    labels = merge_partition(np.random.RandomState(0).randn(40, 2), 4)
    assert sorted(set(labels.tolist())) == [0, 1, 2, 3]


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_hierarchical_start(covariance_type):
    X = load_faithful()
    gm = GaussianMixture(2, covariance_type=covariance_type, init_params="hierarchical",
                         tol=1e-8, max_iter=1000, random_state=0).fit(X)
    assert gm.converged_ and not gm.degenerate_
    assert gm.score(X) * len(X) == pytest.approx(
        {"full": -1130.264, "tied": -1140.187, "diag": -1147.806,
         "spherical": -1709.529}[covariance_type], abs=1e-3)


def test_hierarchical_start_samples_large_data_and_missing_values():
    rs = np.random.RandomState(0)
    X = np.vstack([rs.randn(3000, 2), rs.randn(3000, 2) + 6])
    gm = GaussianMixture(2, init_params="hierarchical", random_state=0).fit(X)
    np.testing.assert_allclose(np.sort(gm.means_[:, 0]), [0, 6], atol=0.1)
    X[rs.rand(*X.shape) < 0.1] = np.nan
    gm = GaussianMixture(2, init_params="hierarchical", random_state=0).fit(X)
    np.testing.assert_allclose(np.sort(gm.means_[:, 0]), [0, 6], atol=0.1)


# -- short runs ------------------------------------------------------------------------
class Counting:
    """A toy problem: start s climbs towards the value s in 1 + s steps' worth."""

    def __init__(self):
        self.steps = {}

    def initialize(self, rs):
        start = len(self.steps)
        self.steps[start] = 0
        return (start, 0.0)

    def step(self, params):
        start, x = params
        self.steps[start] += 1
        return (start, x + (start + 1 - x) * 0.5), -(start + 1 - x) ** 2 + start


def test_short_runs_continue_only_the_best():
    problem = Counting()
    result = run_em(problem, n_init=5, max_iter=100, tol=1e-10, random_state=None,
                    init_iter=3, init_keep=1)
    assert result.params[0] == 4
    assert [problem.steps[s] for s in range(4)] == [3, 3, 3, 3]
    assert problem.steps[4] == result.n_iter > 3
    assert len(result.lower_bounds) == result.n_iter


def test_short_runs_keep_several():
    problem = Counting()
    run_em(problem, n_init=5, max_iter=100, tol=1e-10, random_state=None,
           init_iter=3, init_keep=2)
    assert sorted(problem.steps.values())[-2] > 3        # two continued


def test_init_iter_on_gaussian_mixture():
    X = load_faithful()
    seen = []
    gm = GaussianMixture(3, n_init=4, init_iter=2, random_state=0, tol=1e-6,
                         callback=seen.append).fit(X)
    runs = [info.init for info in seen]
    assert [runs.count(i) for i in range(4)].count(2) == 3     # three short runs stopped
    assert gm.n_iter_ == max(runs.count(i) for i in range(4))
    with pytest.raises(ValueError, match="init_iter"):
        GaussianMixture(2, init_iter=0).fit(X)


# -- degenerate fits ---------------------------------------------------------------------
def tied_values(seed=0):
    """Two clusters, and five identical rows: a component on them is spurious."""
    rs = np.random.RandomState(seed)
    return np.vstack([rs.randn(100, 2), rs.randn(100, 2) + 5, np.full((5, 2), 2.5)])


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_a_collapsed_component_is_flagged(covariance_type):
    X = tied_values()
    start = {"weights_init": [0.45, 0.45, 0.1],
             "means_init": [[0.0, 0.0], [5.0, 5.0], [2.5, 2.5]],
             "precisions_init": {"full": np.array([np.eye(2), np.eye(2), 1e4 * np.eye(2)]),
                                 "diag": np.array([[1.0, 1.0], [1.0, 1.0], [1e4, 1e4]]),
                                 "spherical": np.array([1.0, 1.0, 1e4])}[covariance_type]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(3, covariance_type=covariance_type, max_iter=300,
                             **start).fit(X)
    assert gm.degenerate_
    clean = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    assert not clean.degenerate_


def test_few_points_per_dimension_is_degenerate():
    rs = np.random.RandomState(0)
    X = np.vstack([rs.randn(200, 5), rs.randn(4, 5) * 0.3 + 8])
    gm = GaussianMixture(2, random_state=0).fit(X)
    assert gm.weights_.min() * len(X) < 6 and gm.degenerate_


def test_a_degenerate_run_is_never_preferred():
    X = tied_values()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in range(5):
            gm = GaussianMixture(3, covariance_type="diag", init_params="random_from_data",
                                 n_init=8, random_state=seed, max_iter=300).fit(X)
            single = [GaussianMixture(3, covariance_type="diag",
                                      init_params="random_from_data", random_state=s,
                                      max_iter=300).fit(X) for s in range(3)]
            if any(not s.degenerate_ for s in single):
                assert not gm.degenerate_


# -- auto --------------------------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_auto_reaches_the_best_of_many_starts(covariance_type):
    X = load_faithful()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        best = max(
            GaussianMixture(3, covariance_type=covariance_type, init_params=init,
                            random_state=seed, max_iter=1000, tol=1e-8).fit(X).score(X)
            for init in ("kmeans", "k-means++", "random") for seed in range(8))
        auto = GaussianMixture(3, covariance_type=covariance_type, init_params="auto",
                               n_init=10, random_state=0, max_iter=1000, tol=1e-8).fit(X)
    assert not auto.degenerate_
    assert auto.score(X) >= best - 1e-6 * abs(best)


def test_auto_order_of_starts():
    X = load_faithful()
    seen = []
    GaussianMixture(2, init_params="auto", n_init=6, random_state=0,
                    callback=seen.append).fit(X)
    assert sorted({info.init for info in seen}) == list(range(6))
    one = GaussianMixture(2, init_params="auto", random_state=0).fit(X)
    hier = GaussianMixture(2, init_params="hierarchical", random_state=0).fit(X)
    np.testing.assert_array_equal(one.means_, hier.means_)


def test_permutation_helper():
    assert same_partition([0, 0, 1], [2, 2, 0])
    assert not same_partition([0, 0, 1], [0, 1, 1])
    for p in permutations(range(3)):
        assert same_partition([0, 1, 2, 2], [p[0], p[1], p[2], p[2]])
