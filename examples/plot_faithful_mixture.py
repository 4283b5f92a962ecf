"""
Old Faithful: a Gaussian mixture and its ellipses
=================================================

Fit a two-component Gaussian mixture to the Old Faithful data (the duration of 272
eruptions of the geyser and the waiting time to each, in minutes), draw each
component's 1- and 2-sigma ellipses, follow the log-likelihood over the EM iterations,
and choose the number of components by BIC.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse

from fastem import GaussianMixture
from fastem.datasets import load_faithful

X, columns = load_faithful(return_columns=True)
gm = GaussianMixture(n_components=2, random_state=0).fit(X)

print("weights:", gm.weights_.round(3))
print("means:\n", gm.means_.round(2))
print(f"log-likelihood: {gm.score(X) * len(X):.3f}  (the known maximum is -1130.264)")

# %%
# Each component's covariance gives an ellipse: its axes are the eigenvectors of the
# covariance, and the half-lengths are ``n`` times the square roots of the eigenvalues
# for the ``n``-sigma ellipse.


def add_ellipses(ax, mean, cov, color):
    values, vectors = np.linalg.eigh(cov)
    angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
    for n in (1, 2):
        width, height = 2 * n * np.sqrt(values[::-1])
        ax.add_patch(Ellipse(mean, width, height, angle=angle, fill=False,
                             color=color, lw=2 if n == 1 else 1))


labels = gm.predict(X)
colors = ["tab:blue", "tab:orange"]
fig, ax = plt.subplots(figsize=(6, 4.5))
for k in range(gm.n_components):
    ax.scatter(*X[labels == k].T, s=10, color=colors[k], alpha=0.6)
    add_ellipses(ax, gm.means_[k], gm.covariances_[k], colors[k])
ax.set_xlabel(f"{columns[0]} (min)")
ax.set_ylabel(f"{columns[1]} (min)")
ax.set_title("two components, 1- and 2-sigma ellipses")
fig.tight_layout()

# %%
# ``lower_bounds_`` holds the mean log-likelihood per sample at every iteration of the
# run that was kept: EM never decreases it. A k-means initialisation starts close to
# the optimum, a random one further away.

fig, ax = plt.subplots(figsize=(6, 4))
for init in ["kmeans", "random"]:
    run = GaussianMixture(n_components=2, init_params=init, random_state=1, tol=1e-6,
                          max_iter=500).fit(X)
    print(f"init_params={init!r}: {run.n_iter_} iterations, "
          f"final mean log-likelihood {run.lower_bounds_[-1]:.4f}")
    ax.plot(np.arange(1, run.n_iter_ + 1), run.lower_bounds_, marker=".",
            label=f"init_params={init!r}")
ax.set_xscale("log")
ax.set_xlabel("iteration")
ax.set_ylabel("mean log-likelihood")
ax.legend()
fig.tight_layout()

# %%
# The number of components: the Bayesian information criterion (lower is better) picks
# two.

ks = range(1, 7)
bics = [GaussianMixture(n_components=k, n_init=3, random_state=0).fit(X).bic(X) for k in ks]
for k, bic in zip(ks, bics):
    print(f"{k} components: BIC {bic:.1f}")

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(list(ks), bics, marker="o")
ax.set_xlabel("n_components")
ax.set_ylabel("BIC")
fig.tight_layout()
plt.show()
