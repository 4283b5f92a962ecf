"""
A Gaussian hidden Markov model
==============================

Sample sequences from a three-state Gaussian HMM set by hand, fit a new model to them
with :class:`fastem.GaussianHMM` (Baum-Welch, several sequences given by ``lengths``),
and decode the hidden states with the Viterbi algorithm.
"""

import matplotlib.pyplot as plt
import numpy as np

from fastem import GaussianHMM

truth = GaussianHMM(n_components=3, covariance_type="diag", init_params="")
truth.startprob_ = np.array([0.5, 0.3, 0.2])
truth.transmat_ = np.array([[0.95, 0.04, 0.01],
                            [0.03, 0.94, 0.03],
                            [0.05, 0.05, 0.90]])
truth.means_ = np.array([[-2.0], [0.0], [3.0]])
truth.covars_ = np.array([[0.6], [0.4], [1.0]])

# Ten sequences of 1,000 steps, one after the other in X.
parts = [truth.sample(1_000, random_state=seed) for seed in range(10)]
X = np.concatenate([x for x, _ in parts])
states = np.concatenate([s for _, s in parts])
lengths = [len(x) for x, _ in parts]

# %%
# Baum-Welch climbs to a local maximum of the likelihood, which depends on the random
# start (``startprob_`` and ``transmat_`` are drawn from a Dirichlet distribution, the
# means come from a k-means): fit from a few seeds and keep the best, as ``n_init`` does
# for a mixture.

fits = [GaussianHMM(n_components=3, n_iter=200, random_state=seed).fit(X, lengths)
        for seed in range(5)]
scores = [fit.score(X, lengths) for fit in fits]
print("log-likelihood of each start:", np.round(scores, 1))
model = fits[int(np.argmax(scores))]
print(f"converged: {model.monitor_.converged} after {model.monitor_.iter} iterations")

# %%
# The states of the fit are numbered in their own order: match them to the true ones
# by their means before comparing.

order = np.argsort(model.means_[:, 0])
print("means:", model.means_[order, 0].round(2))
print("transition matrix:\n", model.transmat_[np.ix_(order, order)].round(3))

logprob, path = model.decode(X, lengths)
relabel = np.empty(3, dtype=int)
relabel[order] = np.arange(3)
path = relabel[path]
print(f"Viterbi log-probability {logprob:.1f}; states recovered: {(path == states).mean():.3f}")

# %%
# The first sequence, its true states and the decoded ones, and the posterior
# probability of each state (``predict_proba``).

posteriors = model.predict_proba(X, lengths)[:, order]
steps = np.arange(300)
fig, (ax_x, ax_s, ax_p) = plt.subplots(3, 1, figsize=(9, 6), sharex=True)
ax_x.plot(steps, X[steps, 0], lw=0.8)
ax_x.set_ylabel("observation")
ax_s.step(steps, states[steps], where="mid", label="true", lw=2)
ax_s.step(steps, path[steps], where="mid", label="Viterbi", lw=1, ls="--")
ax_s.set_yticks([0, 1, 2])
ax_s.set_ylabel("state")
ax_s.legend(loc="upper right")
ax_p.stackplot(steps, posteriors[steps].T, labels=["state 0", "state 1", "state 2"])
ax_p.set_ylabel("posterior")
ax_p.set_xlabel("step")
ax_p.legend(loc="upper right", fontsize="small")
fig.tight_layout()
plt.show()
