"""
Covariance types
================

The four forms of ``covariance_type`` on the Old Faithful data: ``full`` (each component
its own covariance matrix), ``tied`` (one shared matrix), ``diag`` (diagonal matrices,
axis-aligned ellipses) and ``spherical`` (one variance per component). The columns are
standardised first, so that a spherical component is not forced to fit minutes of
eruption and minutes of waiting with one variance.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse

from fastem import GaussianMixture
from fastem.datasets import load_faithful

X = load_faithful()
X = (X - X.mean(axis=0)) / X.std(axis=0)


def full_covariances(gm):
    """The covariance matrix of every component, whatever the covariance type."""
    cov, k, d = gm.covariances_, gm.n_components, gm.means_.shape[1]
    if gm.covariance_type == "full":
        return cov
    if gm.covariance_type == "tied":
        return np.broadcast_to(cov, (k, d, d))
    if gm.covariance_type == "diag":
        return np.array([np.diag(c) for c in cov])
    return np.array([c * np.eye(d) for c in cov])


fig, axes = plt.subplots(2, 2, figsize=(8, 7), sharex=True, sharey=True)
for ax, kind in zip(axes.flat, ["full", "tied", "diag", "spherical"]):
    gm = GaussianMixture(n_components=2, covariance_type=kind, random_state=0).fit(X)
    ax.scatter(*X.T, s=6, c=gm.predict(X), cmap="coolwarm", alpha=0.5)
    for mean, cov in zip(gm.means_, full_covariances(gm)):
        values, vectors = np.linalg.eigh(cov)
        angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
        for n in (1, 2):
            width, height = 2 * n * np.sqrt(values[::-1])
            ax.add_patch(Ellipse(mean, width, height, angle=angle, fill=False, lw=1.5))
    ax.set_title(f"{kind}: BIC {gm.bic(X):.1f}")
    print(f"{kind:9s} covariances_ {gm.covariances_.shape}  BIC {gm.bic(X):.1f}")
fig.suptitle("standardised Old Faithful data, two components")
fig.tight_layout()
plt.show()
