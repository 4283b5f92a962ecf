"""A downstream user of every public class, checked by mypy --strict."""
# ruff: noqa: F821  (reveal_type is mypy's)

import os
import tempfile
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

import fastem
from fastem import (
    BootstrapResult,
    CategoricalHMM,
    EMFit,
    GaussianHMM,
    GaussianMixture,
    IterationInfo,
    KMeans,
    StandardErrors,
    kmeans_plusplus,
)
from fastem.datasets import load_faithful
from fastem.hmm import ConvergenceMonitor


def on_iteration(info: IterationInfo) -> None:
    print(info.n_iter, info.lower_bound)


PATH = os.path.join(tempfile.mkdtemp(), "gm.npz")
X = load_faithful()
X2, columns = load_faithful(return_columns=True)
names: tuple[str, ...] = columns
gm = GaussianMixture(2, random_state=0, callback=on_iteration).fit(X)
means = gm.means_
total: float = float(means.sum())
labels: NDArray[np.intp] = gm.predict(X)
se: StandardErrors = gm.standard_errors(X, method="empirical", sample_weight=None)
se_weights, se_means, se_covariances = se
parameter_cov: NDArray[np.float64] = gm.parameter_covariance(X)
km = KMeans(2, random_state=0).fit(X)
centers = km.cluster_centers_
centers_again, indices = kmeans_plusplus(X, 2, random_state=0)
km_labels: NDArray[np.intc] = km.fit_predict(X)
distances = km.set_output(transform="default").fit_transform(X)
km_names = km.get_feature_names_out()
km_score: float = km.score(X)
hmm = GaussianHMM(2, random_state=0).fit(X)
hmm_means = hmm.means_
states = hmm.predict(X)
logprob, posteriors = hmm.score_samples(X)
cat = CategoricalHMM(2, random_state=0).fit(np.array([[0], [1], [1], [0], [2]]))
monitor: ConvergenceMonitor = hmm.monitor_
converged: bool = monitor.converged
history: list[float] = list(monitor.history)
map_logprob, path = hmm.decode(X, lengths=[100, 172], algorithm="map")
hmm_X, hmm_states = hmm.sample(5, random_state=0)
symbols, _ = cat.sample(5, currstate=1)
criteria: tuple[float, float] = (hmm.aic(X), cat.bic(np.array([[0], [1]])))
gm.save(PATH)
back = fastem.load(PATH, GaussianMixture)
back_means = back.means_
anything = fastem.load(PATH)
predicted = anything.predict(X)
fastem.show_config()
boot: BootstrapResult = fastem.bootstrap(gm, X, n_boot=4, random_state=0, n_jobs=1)
mean_errors = boot.standard_errors["means_"]
failed: int = boot.n_failed
hmm_boot = fastem.bootstrap(hmm, X, lengths=[100, 172], n_boot=4, kind="parametric",
                            random_state=0)
COUNTS = np.array([125, 18, 20, 34])


def linkage_e_step(t: float) -> tuple[float, float]:
    probabilities = np.array([1 / 2 + t / 4, (1 - t) / 4, (1 - t) / 4, t / 4])
    return float(COUNTS[0] * (t / 4) / (1 / 2 + t / 4)), float(COUNTS @ np.log(probabilities))


def linkage_m_step(latent: float) -> float:
    return float((latent + COUNTS[3]) / (latent + COUNTS[1:].sum()))


def linkage_start(random_state: np.random.RandomState) -> float:
    return float(random_state.uniform(0.1, 0.9))


linkage: EMFit[float] = fastem.em(linkage_e_step, linkage_m_step, 0.5, accelerate="squarem")
linkage_theta: float = linkage.theta
restarted = fastem.em(linkage_e_step, linkage_m_step, linkage_start, n_init=2, random_state=0)
linkage_history: NDArray[np.float64] = restarted.history

# the types a user sees (tests/test_typing.py checks that none of them is Any)
if TYPE_CHECKING:
    reveal_type(X)
    reveal_type(columns)
    reveal_type(gm.means_)
    reveal_type(gm.predict_proba(X))
    reveal_type(se.means)
    reveal_type(gm.parameter_covariance(X))
    reveal_type(km.cluster_centers_)
    reveal_type(km.transform(X))
    reveal_type(km.labels_)
    reveal_type(km.predict(X))
    reveal_type(distances)
    reveal_type(km_names)
    reveal_type(centers_again)
    reveal_type(indices)
    reveal_type(hmm.means_)
    reveal_type(hmm.covars_)
    reveal_type(cat.emissionprob_)
    reveal_type(back)
    reveal_type(anything)
    reveal_type(posteriors)
    reveal_type(hmm)
    reveal_type(cat)
    reveal_type(hmm.startprob_)
    reveal_type(hmm.transmat_)
    reveal_type(path)
    reveal_type(states)
    reveal_type(hmm.predict_proba(X))
    reveal_type(hmm_X)
    reveal_type(hmm_states)
    reveal_type(symbols)
    reveal_type(hmm.get_stationary_distribution())
    reveal_type(cat.n_features)
    reveal_type(mean_errors)
    reveal_type(hmm_boot.replicates["transmat_"])
    reveal_type(linkage.theta)
    reveal_type(restarted.theta)
    reveal_type(restarted.history)
    reveal_type(restarted.n_iter)
