import numpy as np
import pytest


def make_blobs(n=600, d=3, seed=0):
    """Three overlapping, anisotropic Gaussian clusters."""
    rng = np.random.RandomState(seed)
    sizes = [n // 2, n // 3, n - n // 2 - n // 3]
    shift = [np.zeros(d), np.full(d, 3.0), np.r_[-3.0, 2.0, np.ones(d - 2)]]
    mix = np.eye(d) + 0.4 * np.triu(np.ones((d, d)), 1)
    parts = [rng.randn(m, d) @ (mix * s) + c for m, s, c in zip(sizes, [1.0, 0.5, 1.2], shift)]
    X = np.vstack(parts)
    return X[rng.permutation(len(X))]


@pytest.fixture
def blobs():
    return make_blobs()


def rel_err(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


@pytest.fixture(autouse=True, scope="session")
def parallel_kernels():
    """Small passes run serially by default; the tests run every pass on the parallel
    path (so that the thread-count tests compare threaded runs), except where a test
    sets the threshold itself."""
    from fastem._kernels import _parallel

    default = _parallel.serial_work(0)
    yield default
    _parallel.serial_work(default)


def run_isolated(code, *args, timeout=120, env=None):
    """Run Python code (with sys.argv[1:] = args) in a fresh interpreter: a crash or a
    hang fails the caller's test instead of killing the test run. env adds to the
    environment. Returns the CompletedProcess."""
    import os
    import subprocess
    import sys

    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-c", code, *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=full_env)
