"""The hidden Markov models on the statistics contract: the E-step of a block of whole
sequences, additive HMMStats, and fits from Chunks of a factory of sequences, which
equal the in-memory fit(X, lengths)."""

import pickle
import warnings

import numpy as np
import pytest
from conftest import rel_err

import fastem
from fastem import CategoricalHMM, Chunks, GaussianHMM
from fastem._sources import SequenceBlock, sequence_starts

K = 3
TRANSMAT = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]])
LENGTHS = [300, 1, 450, 120, 2, 600, 327]          # 1800 rows
STARTS = np.r_[0, np.cumsum(LENGTHS)]


def gaussian_data(covariance_type):
    truth = GaussianHMM(K, covariance_type=covariance_type, init_params="")
    truth.startprob_ = np.array([0.5, 0.3, 0.2])
    truth.transmat_ = TRANSMAT
    truth.means_ = np.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 3.0]])
    truth.covars_ = {"full": np.array([np.eye(2), [[1.0, 0.3], [0.3, 0.5]], 2 * np.eye(2)]),
                     "diag": np.array([[1.0, 0.5], [0.7, 1.2], [0.4, 0.9]])}[covariance_type]
    return truth.sample(STARTS[-1], random_state=1)[0]


def symbol_data():
    truth = CategoricalHMM(K, init_params="")
    truth.startprob_ = np.array([0.5, 0.3, 0.2])
    truth.transmat_ = TRANSMAT
    truth.emissionprob_ = np.array([[0.7, 0.2, 0.1, 0.0], [0.1, 0.1, 0.4, 0.4],
                                    [0.25, 0.25, 0.25, 0.25]])
    return truth.sample(STARTS[-1], random_state=2)[0]


def sequences(X):
    return [X[a:b] for a, b in zip(STARTS[:-1], STARTS[1:])]


class Factory:
    """Yields the sequences of X one per item, or as (X, lengths) pairs of ``per_item``
    sequences; counts its calls (one per pass over the data)."""

    def __init__(self, X, per_item=None):
        self.seqs = sequences(X)
        self.per_item = per_item
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.per_item is None:
            yield from self.seqs
            return
        for i in range(0, len(self.seqs), self.per_item):
            part = self.seqs[i:i + self.per_item]
            yield np.concatenate(part), [len(s) for s in part]


def fitted_arrays(model):
    names = ["startprob_", "transmat_", "means_", "_covars_", "emissionprob_"]
    return {n: getattr(model, n) for n in names if hasattr(model, n)}


def assert_same_fit(streamed, in_memory, tol=1e-10):
    a, b = fitted_arrays(streamed), fitted_arrays(in_memory)
    assert a.keys() == b.keys()
    for name in a:
        assert rel_err(a[name], b[name]) < tol, name
    assert streamed.monitor_.iter == in_memory.monitor_.iter
    np.testing.assert_allclose(list(streamed.monitor_.history),
                               list(in_memory.monitor_.history), rtol=tol)


# ------------------------------------------------------------------ equal to in memory
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
@pytest.mark.parametrize("per_item, chunk_size", [(None, None), (None, 500), (3, 700),
                                                  (1, 1)])
def test_gaussian_streamed_fit_equals_in_memory(covariance_type, per_item, chunk_size):
    """From the same random_state (the same initialisation: all the rows are the
    sample) to 1e-10, whether the blocks are one, several joined items or one per
    sequence."""
    X = gaussian_data(covariance_type)
    make = lambda: GaussianHMM(K, covariance_type, n_iter=15, tol=-np.inf,  # noqa: E731
                               random_state=0)
    in_memory = make().fit(X, LENGTHS)
    factory = Factory(X, per_item)
    streamed = make().fit(Chunks(factory, chunk_size=chunk_size))
    assert_same_fit(streamed, in_memory)
    # one pass to validate, one for the initialisation's sample, one per iteration
    assert factory.calls == 1 + 1 + 15
    np.testing.assert_array_equal(streamed.predict(X, LENGTHS), in_memory.predict(X, LENGTHS))


@pytest.mark.parametrize("per_item, chunk_size", [(None, None), (2, 400), (None, 1)])
def test_categorical_streamed_fit_equals_in_memory(per_item, chunk_size):
    S = symbol_data()
    make = lambda: CategoricalHMM(K, n_iter=20, tol=-np.inf, random_state=0)  # noqa: E731
    in_memory = make().fit(S, LENGTHS)
    factory = Factory(S, per_item)
    streamed = make().fit(Chunks(factory, chunk_size=chunk_size))
    assert_same_fit(streamed, in_memory)
    assert streamed.n_features == in_memory.n_features == 4
    assert factory.calls == 1 + 20        # no sample: the emissions are drawn


def test_streamed_fit_from_set_parameters():
    X = gaussian_data("full")
    start = GaussianHMM(K, "full", n_iter=1, random_state=3).fit(X, LENGTHS)

    def make():
        model = GaussianHMM(K, "full", n_iter=10, tol=-np.inf, init_params="",
                            params="tmc")
        for name in ("startprob_", "transmat_", "means_", "covars_"):
            setattr(model, name, getattr(start, name).copy())
        return model

    factory = Factory(X, 2)
    assert_same_fit(make().fit(Chunks(factory, chunk_size=300)), make().fit(X, LENGTHS))
    assert factory.calls == 1 + 10        # nothing to initialise: no sample


@pytest.mark.parametrize("kind", ["gaussian", "categorical"])
def test_squarem_on_streamed_sequences(kind):
    data = gaussian_data("diag") if kind == "gaussian" else symbol_data()
    cls = GaussianHMM if kind == "gaussian" else CategoricalHMM

    def make(**kw):
        return cls(K, n_iter=200, tol=1e-6, random_state=0, **kw)

    in_memory = make(accelerate="squarem").fit(data, LENGTHS)
    factory = Factory(data, 2)
    streamed = make(accelerate="squarem").fit(Chunks(factory, chunk_size=500))
    assert_same_fit(streamed, in_memory, tol=1e-8)
    # cycles of up to three E-steps, each a pass over the factory's sequences
    history = np.array(streamed.monitor_.history)
    assert len(history) < streamed.monitor_.iter
    sample_pass = kind == "gaussian"          # k-means and the covariance of X
    assert factory.calls == 1 + sample_pass + streamed.monitor_.iter
    assert (np.diff(history) >= -1e-8 * abs(history[1:])).all()


def test_streamed_fit_is_bitwise_the_same_for_any_thread_count():
    X = gaussian_data("full")
    fits = [GaussianHMM(K, "full", n_iter=5, tol=-np.inf, random_state=0, n_threads=t)
            .fit(Chunks(Factory(X, 2), chunk_size=600)) for t in (1, 2, 4)]
    for fit in fits[1:]:
        assert list(fit.monitor_.history) == list(fits[0].monitor_.history)
        for name, value in fitted_arrays(fit).items():
            np.testing.assert_array_equal(value, fitted_arrays(fits[0])[name])


def test_initialisation_reads_a_bounded_sample(monkeypatch):
    """More rows than INIT_SAMPLE_ROWS: the emission is initialised from a sample of
    that many (50 per state at least), and the fit still finds the states."""
    import fastem.hmm._base as base

    X = gaussian_data("diag")
    monkeypatch.setattr(base, "INIT_SAMPLE_ROWS", 200)
    seen = []
    real = fastem.KMeans.fit

    def spy(self, data, *args, **kwargs):
        seen.append(np.shape(data))
        return real(self, data, *args, **kwargs)

    monkeypatch.setattr(fastem.KMeans, "fit", spy)
    streamed = GaussianHMM(K, "diag", n_iter=50, random_state=0).fit(
        Chunks(Factory(X, 2), chunk_size=500))
    assert seen == [(200, 2)]
    means = streamed.means_[np.argsort(streamed.means_[:, 0])]
    assert np.abs(means - [[-2.0, 3.0], [0.0, 0.0], [3.0, 1.0]]).max() < 0.35
    GaussianHMM(K, "diag", n_iter=1, random_state=0).fit(X, LENGTHS)
    assert seen[1] == X.shape                 # the in-memory path reads every row


def test_blocks_join_whole_sequences_up_to_chunk_size():
    X = gaussian_data("diag")
    source = GaussianHMM(K)._problem(Chunks(Factory(X), chunk_size=500), None).source
    sizes = [int(starts[-1]) for starts in source.block_starts]
    # 300 + 1 | 450 | 120 + 2 | 600 (longer than a block: alone) | 327
    assert sizes == [301, 450, 122, 600, 327]
    assert [block.start for block in source.blocks()] == [0, 301, 751, 873, 1473]
    assert [block.first for block in source.blocks()] == [0, 2, 3, 5, 6]
    joined = next(iter(source.blocks()))
    np.testing.assert_array_equal(joined.starts, [0, 300, 301])
    np.testing.assert_array_equal(joined.X, X[:301])
    assert (source.n_samples, source.n_sequences, source.n_features) == (1800, 7, 2)


# ------------------------------------------------------------------ the E-step itself
def test_e_step_is_picklable_and_its_stats_add():
    """The statistics of two blocks add up to those of the joined block, and the bound
    E-step survives pickling (for workers) with the same result."""
    X = gaussian_data("full")
    model = GaussianHMM(K, "full", random_state=0)
    problem = model._problem(X, LENGTHS)
    params = problem.initialize(None)
    whole = problem.e_step(problem.source.block, params)
    cut = 3                                   # sequences 0-2 and 3-6
    row = STARTS[cut]
    first = SequenceBlock(X[:row], STARTS[:cut + 1])
    second = SequenceBlock(X[row:], STARTS[cut:] - row)
    e_step = pickle.loads(pickle.dumps(problem.e_step))
    total = e_step(first, params) + e_step(second, params)
    assert rel_err(total.loglik, whole.loglik) < 1e-13
    for name in ("start", "trans"):
        assert rel_err(getattr(total, name), getattr(whole, name)) < 1e-12
    for name in ("nk", "s1", "s2"):
        assert rel_err(getattr(total.emission, name), getattr(whole.emission, name)) < 1e-12
    assert np.isclose(total.start.sum(), len(LENGTHS))
    assert np.isclose(total.trans.sum(), STARTS[-1] - len(LENGTHS))
    half = 0.5 * whole
    assert half.loglik == 0.5 * whole.loglik and half.params is whole.params
    # the M-step of the statistics is the fit's first iteration
    one = GaussianHMM(K, "full", n_iter=1, random_state=0).fit(X, LENGTHS)
    new = problem.m_step(whole)
    np.testing.assert_array_equal(new.transmat, one.transmat_)
    np.testing.assert_array_equal(new.emission.means, one.means_)


def test_categorical_e_step_counts_symbols():
    S = symbol_data()
    model = CategoricalHMM(K, random_state=0)
    problem = model._problem(S, LENGTHS)
    params = problem.initialize(None)
    stats = pickle.loads(pickle.dumps(problem.e_step))(problem.source.block, params)
    assert stats.emission.shape == (4, K)
    np.testing.assert_allclose(stats.emission.sum(axis=1),
                               np.bincount(S[:, 0], minlength=4), rtol=1e-12)
    fixed = CategoricalHMM(K, params="st", random_state=0)._problem(S, LENGTHS)
    assert type(fixed.e_step(fixed.source.block, params).emission).__name__ == "NoStats"


# ------------------------------------------------------------------ bad sequences
def gaussian_items(*items):
    return Chunks(lambda: iter(items))


def test_a_sequence_with_other_features_is_named():
    X = gaussian_data("diag")
    with pytest.raises(ValueError, match=r"sequence 2 of X has 3 feature\(s\), expected 2"):
        GaussianHMM(K).fit(gaussian_items(X[:50], X[50:90], np.ones((40, 3))))
    with pytest.raises(ValueError, match=r"item 1 of X \(from sequence 2\) has 3 feature"):
        GaussianHMM(K).fit(gaussian_items((X[:90], [50, 40]), (np.ones((40, 3)), [40])))
    model = GaussianHMM(K, init_params="st").fit(X, LENGTHS)
    with pytest.raises(ValueError, match="sequence 0 of X has 3 features, but GaussianHMM "
                                         "is expecting 2"):
        model.fit(gaussian_items(np.ones((40, 3))))


def test_an_empty_sequence_is_named():
    X = gaussian_data("diag")
    with pytest.raises(ValueError, match="sequence 1 of X is empty"):
        GaussianHMM(K).fit(gaussian_items(X[:50], X[50:50], X[50:90]))
    with pytest.raises(ValueError, match=r"the lengths of item 1 of X \(from sequence 2\): "
                                         r"lengths must be positive: lengths\[1\] = 0"):
        GaussianHMM(K).fit(gaussian_items((X[:90], [50, 40]), (X[90:130], [40, 0])))
    with pytest.raises(ValueError, match="sequence 0 of X is empty"):
        CategoricalHMM(K).fit(Chunks(lambda: iter([np.empty((0, 1), dtype=int)])))
    with pytest.raises(ValueError, match="yielded no sequences"):
        GaussianHMM(K).fit(gaussian_items())


def test_bad_symbols_and_values_are_named():
    S = symbol_data()
    with pytest.raises(ValueError, match="sequence 1 of X holds the symbol -1"):
        CategoricalHMM(K).fit(Chunks(lambda: iter([S[:10], np.array([[0], [-1]])])))
    with pytest.raises(ValueError, match="sequence 1 of X holds the symbol 7, but the "
                                         "model emits symbols 0 .. 4"):
        CategoricalHMM(K, n_features=5).fit(Chunks(lambda: iter([S[:10], [[1], [7]]])))
    with pytest.raises(ValueError, match=r"sequence 1 of X must have shape \(n_samples, 1\)"):
        CategoricalHMM(K).fit(Chunks(lambda: iter([S[:10], np.zeros((3, 2), dtype=int)])))
    X = gaussian_data("diag")
    bad = X[:20].copy()
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="sequence 1 of X"):
        GaussianHMM(K).fit(gaussian_items(X[:50], bad))
    # n_features comes from the largest symbol of every sequence
    fitted = CategoricalHMM(2, n_iter=2).fit(Chunks(lambda: iter([S[:10] % 2, [[5]]])))
    assert fitted.n_features == 6


def test_a_factory_that_changes_between_passes_is_refused():
    X = gaussian_data("diag")
    passes = []

    def shrinking():
        passes.append(None)
        return iter(sequences(X)[:len(sequences(X)) - len(passes) + 1])

    with pytest.raises(ValueError, match="yielded fewer items than on its first pass"):
        GaussianHMM(K, init_params="").fit(Chunks(shrinking))

    def reshaped():
        passes.append(None)
        yield X[:100] if len(passes) < 6 else X[:99]

    with pytest.raises(ValueError, match="changed between passes"):
        GaussianHMM(K, n_iter=5).fit(Chunks(reshaped))


def test_what_chunks_of_sequences_refuse():
    X = gaussian_data("diag")
    with pytest.raises(TypeError, match="Chunks of a function that yields sequences"):
        GaussianHMM(K).fit(Chunks(X))
    with pytest.raises(ValueError, match="Chunks give the lengths in their items"):
        GaussianHMM(K).fit(Chunks(Factory(X)), LENGTHS)
    with pytest.raises(ValueError, match="take no sample weights"):
        GaussianHMM(K).fit(Chunks(Factory(X), sample_weight=np.ones(len(X))))
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        GaussianHMM(K).fit(Chunks(Factory(X), chunk_size=0))
    with pytest.raises(TypeError, match="must return an iterable of sequences"):
        GaussianHMM(K).fit(Chunks(lambda: X))
    with pytest.raises(ValueError, match="a tuple of 3"):
        GaussianHMM(K).fit(Chunks(lambda: iter([(X, None, None)])))
    model = GaussianHMM(K, n_iter=2).fit(X, LENGTHS)
    with pytest.raises(TypeError, match="only fit reads Chunks"):
        model.score(Chunks(Factory(X)))


def test_a_failed_streamed_fit_leaves_the_model_as_it_was():
    X = gaussian_data("diag")
    model = GaussianHMM(K, n_iter=3).fit(X, LENGTHS)
    before = {name: value.copy() for name, value in fitted_arrays(model).items()}
    monitor = model.monitor_
    with pytest.raises(ValueError):
        model.fit(gaussian_items(X[:50], np.ones((40, 3))))
    for name, value in fitted_arrays(model).items():
        np.testing.assert_array_equal(value, before[name])
    assert model.monitor_ is monitor


def test_sequence_starts_moved_but_still_importable():
    from fastem.hmm._base import sequence_starts as from_base

    assert from_base is sequence_starts
    np.testing.assert_array_equal(sequence_starts([2, 3], 5), [0, 2, 5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "Chunks" in fastem.__all__
