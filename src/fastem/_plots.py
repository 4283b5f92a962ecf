"""The command line's plots (matplotlib, an optional dependency)."""

from __future__ import annotations

import numpy as np

from ._tables import UsageError


def _component_covariance(gm, j, pair):
    ct = gm.covariance_type
    if ct == "full":
        return gm.covariances_[j][np.ix_(pair, pair)]
    if ct == "tied":
        return gm.covariances_[np.ix_(pair, pair)]
    if ct == "diag":
        return np.diag(gm.covariances_[j][pair])
    return np.eye(2) * gm.covariances_[j]


def plot(gm, X, names, path, pair):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Ellipse
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'fastem[plot]'") from None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    labels = gm.predict(X)
    if X.shape[1] == 1:
        left.hist(X[:, 0][~np.isnan(X[:, 0])], bins=40, density=True, color="#9bb7d4")
        grid = np.linspace(np.nanmin(X), np.nanmax(X), 400)[:, None]
        left.plot(grid[:, 0], np.exp(gm.score_samples(grid)), color="black")
        left.set_xlabel(names[0])
    else:
        seen = ~np.isnan(X[:, pair]).any(axis=1)
        left.scatter(X[seen, pair[0]], X[seen, pair[1]], c=labels[seen], s=8, cmap="tab10",
                     vmin=0, vmax=9, alpha=0.7)
        for j in range(gm.n_components):
            vals, vecs = np.linalg.eigh(_component_covariance(gm, j, pair))
            angle = np.degrees(np.arctan2(vecs[1, -1], vecs[0, -1]))
            for scale in (1, 2):
                left.add_patch(Ellipse(gm.means_[j, pair], 2 * scale * np.sqrt(vals[-1]),
                                       2 * scale * np.sqrt(vals[0]), angle=angle, fill=False,
                                       lw=1.5 / scale, color="black"))
        left.set_xlabel(names[pair[0]])
        left.set_ylabel(names[pair[1]])
    left.set_title(f"{gm.n_components} components, {gm.covariance_type} covariance")
    right.plot(range(1, len(gm.lower_bounds_) + 1), gm.lower_bounds_, marker="o", ms=3)
    right.set_xlabel("EM iteration")
    right.set_ylabel("mean log-likelihood per row")
    right.set_title("EM never decreases the log-likelihood")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


