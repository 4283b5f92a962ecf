"""Fuzzing every estimator: shapes, dtypes, values (NaN, inf, huge, tiny, offsets) and
parameters. Each example runs in a worker process (fuzz_harness), so a crash or a hang
is a failing example, not a dead test run. The only allowed outcomes are a valid result
or a clean ValueError/TypeError.

FASTEM_FUZZ_EXAMPLES sets the number of examples per estimator (default 60, run with
derandomized examples); scripts/fuzz.py runs a long campaign and prints a summary.
"""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("fuzz_harness")
from fuzz_harness import CLEAN, Worker  # noqa: E402

from fastem.mixture import ConjugatePrior  # noqa: E402

EXAMPLES = int(os.environ.get("FASTEM_FUZZ_EXAMPLES", "60"))
LONG_RUN = "FASTEM_FUZZ_EXAMPLES" in os.environ
OUTCOMES: Counter = Counter()
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG_RUN,
                database=None, suppress_health_check=list(HealthCheck))

SPECIAL = [np.nan, np.inf, -np.inf, 0.0, 1e308, -1e308, 5e-324, 1e-310]
DTYPES = ["<f8", "<f4", ">f4", ">f8", "<i8", "<i4", "<u1"]


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


@st.composite
def matrices(draw, max_rows=40, max_features=5, specials=True):
    n = draw(st.integers(1, max_rows))
    d = draw(st.integers(1, max_features))
    rng = np.random.RandomState(draw(st.integers(0, 2**31 - 1)))
    kind = draw(st.sampled_from(["normal", "clusters", "constant", "duplicates", "grid"]))
    if kind == "normal":
        X = rng.standard_normal((n, d))
    elif kind == "clusters":
        X = rng.standard_normal((n, d)) + 20.0 * rng.randint(3, size=(n, 1))
    elif kind == "constant":
        X = np.full((n, d), rng.standard_normal())
    elif kind == "duplicates":
        X = np.repeat(rng.standard_normal((1 + n // 4, d)), 4, axis=0)[:n]
    else:
        X = rng.randint(3, size=(n, d)).astype(np.float64)
    scale = draw(st.sampled_from([1.0, 1.0, 1e-300, 1e-30, 1e30, 1e150, 1e300]))
    offset = draw(st.sampled_from([0.0, 0.0, 1e4, 1e9, 1e12, -1e15]))
    with np.errstate(all="ignore"):
        X = X * scale + offset
    if specials:
        for _ in range(draw(st.integers(0, 3))):
            X[draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))] = draw(
                st.sampled_from(SPECIAL))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    with np.errstate(all="ignore"):
        if dtype.kind in "iu":
            X = np.nan_to_num(X, posinf=0, neginf=0).clip(-1e9, 1e9)
        X = X.astype(dtype)
    return X


@st.composite
def weights(draw, n):
    choice = draw(st.sampled_from(["none", "none", "random", "zeros", "huge", "bad"]))
    rng = np.random.RandomState(draw(st.integers(0, 2**31 - 1)))
    if choice == "none":
        return None
    if choice == "random":
        return rng.uniform(0, 3, size=n)
    if choice == "zeros":
        w = np.zeros(n)
        w[rng.randint(n)] = 1.0
        return w
    if choice == "huge":
        return np.full(n, draw(st.sampled_from([1e200, 1e305, 1e-300])))
    return draw(st.sampled_from([np.full(n, -1.0), np.full(n, np.nan), np.ones(n + 1)]))


@st.composite
def lengths_of(draw, n):
    kind = draw(st.sampled_from(["none", "split", "wrapping", "bad"]))
    if kind == "none":
        return None
    if kind == "split":
        cuts = sorted(set(draw(st.lists(st.integers(1, max(1, n - 1)), max_size=4))))
        cuts = [c for c in cuts if 0 < c < n]
        return list(np.diff([0, *cuts, n]))
    if kind == "wrapping":   # sums to n in int64 arithmetic only
        return [2**62, 2**62, 2**62, 2**62 + n]
    return draw(st.sampled_from([[0, n], [n + 1], [-1, n + 1], [n, 0]]))


# how the data reaches the estimator: one array, Chunks of it, or partial_fit batches
FEEDS = st.sampled_from(["array", "array", "chunks", "partial"])


def check(worker, name, *args):
    outcome, detail = worker.run(name, *args)
    OUTCOMES[(name, outcome)] += 1
    assert outcome == "ok" or outcome in CLEAN, f"{outcome}: {detail}"
    if outcome == "ok":
        assert not detail, detail


@FUZZ
@given(data=st.data())
def test_fuzz_gaussian_mixture(worker, data):
    X = data.draw(matrices())
    params = dict(
        n_components=data.draw(st.integers(1, 5)),
        covariance_type=data.draw(st.sampled_from(["full", "tied", "diag", "spherical"])),
        reg_covar=data.draw(st.sampled_from([1e-6, 0.0, 1e-3, 1e3])),
        init_params=data.draw(st.sampled_from(["kmeans", "k-means++", "random",
                                               "random_from_data", "hierarchical",
                                               "auto"])),
        init_iter=data.draw(st.sampled_from([None, None, 1, 3])),
        accelerate=data.draw(st.sampled_from([None, "squarem"])),
        max_iter=data.draw(st.integers(0, 30)),
        n_init=data.draw(st.integers(1, 3)),
        tol=data.draw(st.sampled_from([1e-3, 0.0])),
        random_state=data.draw(st.integers(0, 5)),
        prior=data.draw(st.sampled_from([None, None, "default", ConjugatePrior(
            shrinkage=0.0, dof=3.0), ConjugatePrior(shrinkage=1e3, weights_concentration=2.0,
                                                   scale=1e-300)])),
    )
    params.update(learning_decay=data.draw(st.sampled_from([0.7, 1.0, 0.51])),
                  learning_offset=data.draw(st.sampled_from([10.0, 0.0])))
    check(worker, "gaussian_mixture", X, data.draw(weights(len(X))), params,
          data.draw(st.booleans()), data.draw(FEEDS))


@FUZZ
@given(data=st.data())
def test_fuzz_kmeans(worker, data):
    X = data.draw(matrices())
    params = dict(
        n_clusters=data.draw(st.integers(1, 9)),
        init=data.draw(st.sampled_from(["k-means++", "random"])),
        n_init=data.draw(st.sampled_from(["auto", 1, 3])),
        max_iter=data.draw(st.integers(1, 50)),
        tol=data.draw(st.sampled_from([1e-4, 0.0])),
        random_state=data.draw(st.integers(0, 5)),
        n_threads=data.draw(st.sampled_from([None, 1, 2, 2**40])),
    )
    check(worker, "kmeans", X, data.draw(weights(len(X))), params, data.draw(st.booleans()),
          data.draw(FEEDS))


@FUZZ
@given(data=st.data())
def test_fuzz_kmeans_plusplus(worker, data):
    X = data.draw(matrices())
    params = dict(random_state=data.draw(st.integers(0, 5)),
                  n_local_trials=data.draw(st.sampled_from([None, 1, 5, 0])))
    check(worker, "kmeans_plusplus", X, data.draw(st.integers(1, 9)),
          data.draw(weights(len(X))), params, data.draw(st.booleans()))


@FUZZ
@given(data=st.data())
def test_fuzz_gaussian_hmm(worker, data):
    X = data.draw(matrices(max_rows=60, max_features=4))
    params = dict(
        n_components=data.draw(st.integers(1, 4)),
        covariance_type=data.draw(st.sampled_from(["full", "tied", "diag", "spherical"])),
        n_iter=data.draw(st.integers(0, 8)),
        min_covar=data.draw(st.sampled_from([1e-3, 0.0])),
        random_state=data.draw(st.integers(0, 5)),
        accelerate=data.draw(st.sampled_from([None, "squarem"])),
    )
    check(worker, "gaussian_hmm", X, data.draw(lengths_of(len(X))), params,
          data.draw(st.booleans()))


@FUZZ
@given(data=st.data())
def test_fuzz_categorical_hmm(worker, data):
    n = data.draw(st.integers(1, 60))
    rng = np.random.RandomState(data.draw(st.integers(0, 2**31 - 1)))
    high = data.draw(st.sampled_from([1, 3, 10]))
    X = rng.randint(high, size=(n, 1))
    if data.draw(st.booleans()):
        X[rng.randint(n), 0] = data.draw(st.sampled_from([-1, 200, 10**6]))
    X = X.astype(data.draw(st.sampled_from(DTYPES[4:])))    # wraps around in small types
    params = dict(n_components=data.draw(st.integers(1, 4)),
                  n_iter=data.draw(st.integers(0, 8)),
                  random_state=data.draw(st.integers(0, 5)),
                  accelerate=data.draw(st.sampled_from([None, "squarem"])))
    check(worker, "categorical_hmm", X, data.draw(lengths_of(n)), params,
          data.draw(st.booleans()))


def test_the_harness_reports_crashes_and_hangs():
    worker = Worker(timeout=2.0)
    try:
        assert worker.run("harness_crash")[0] == "crash"
        assert worker.run("harness_hang", 30)[0] == "hang"
        assert worker.run("harness_hang", 0) == ("ok", "")    # a new worker takes over
    finally:
        worker.close()
