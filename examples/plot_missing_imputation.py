"""
Missing values: fit with NaN, then impute
=========================================

Remove 20% of the entries of the Old Faithful data at random, fit a Gaussian mixture to
what is left (exact EM for the likelihood of the observed entries), and fill the holes
in: with conditional expectations (``impute``), and with draws from the conditional
distribution (``impute(method="sample")``), as in multiple imputation.
"""

import matplotlib.pyplot as plt
import numpy as np

from fastem import GaussianMixture
from fastem.datasets import load_faithful

X, columns = load_faithful(return_columns=True)
rng = np.random.RandomState(0)
holes = X.copy()
holes[rng.uniform(size=X.shape) < 0.2] = np.nan
missing = np.isnan(holes)
print(f"{missing.sum()} entries missing; {np.all(missing, axis=1).sum()} rows empty")

gm = GaussianMixture(n_components=2, random_state=0).fit(holes)
complete = GaussianMixture(n_components=2, random_state=0).fit(X)
print("means with NaN:\n", gm.means_.round(2))
print("means of the complete data:\n", complete.means_.round(2))

# %%
# The conditional expectation uses each row's observed entry: a short eruption says
# the waiting time was short too. Filling with the column's mean ignores that.

filled = gm.impute(holes)
column_means = np.where(missing, np.nanmean(holes, axis=0), holes)
for j, name in enumerate(columns):
    rows = missing[:, j] & ~missing.all(axis=1)
    error = np.abs(filled[rows, j] - X[rows, j]).mean()
    naive = np.abs(column_means[rows, j] - X[rows, j]).mean()
    print(f"{name}: mean absolute error {error:.2f} (column mean: {naive:.2f})")

# %%
# Five draws of ``method="sample"`` give five completed data sets; their spread shows
# the uncertainty of each filled-in value. The observed entries are never changed.

draws = [gm.impute(holes, method="sample", random_state=seed) for seed in range(5)]
assert all(np.array_equal(d[~missing], holes[~missing]) for d in draws)

fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True, sharey=True)
observed = ~missing.any(axis=1)
for ax, title in zip(axes, ["conditional expectation", "five draws"]):
    ax.scatter(*X[observed].T, s=8, color="0.7", label="complete rows")
    ax.set_title(title)
    ax.set_xlabel(f"{columns[0]} (min)")
axes[0].scatter(*filled[~observed].T, s=14, color="tab:red", label="filled in")
axes[0].scatter(*X[~observed].T, s=14, facecolor="none", edgecolor="k", label="truth")
for d in draws:
    axes[1].scatter(*d[~observed].T, s=6, color="tab:purple", alpha=0.5)
axes[0].set_ylabel(f"{columns[1]} (min)")
axes[0].legend(loc="upper left")
fig.tight_layout()
plt.show()
