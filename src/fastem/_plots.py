"""The command line's plots (matplotlib, an optional dependency).

Each ``*_figure`` function returns a matplotlib Figure (built without pyplot, so no
global state or GUI backend is involved); ``save`` writes it. Tests inspect the Figure.
"""

from __future__ import annotations

import numpy as np

from ._tables import UsageError

_MARKERS = {"full": "o", "tied": "s", "diag": "^", "spherical": "D"}


def _matplotlib():
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import Ellipse
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'fastem[plot]'") from None
    return Figure, Ellipse, MaxNLocator


def save(fig, path):
    fig.savefig(path, dpi=110)


def histogram_bins(x):
    """Bin edges for a density histogram of x: numpy's 'auto' width, except for values
    on a grid (integers, or numbers rounded to a fixed step), where each bin holds a whole
    number of grid points and the edges fall halfway between them, so that no bin is
    empty only because it fell between two neighbouring values."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    edges = np.histogram_bin_edges(x, "auto")
    values = np.unique(x)
    if values.size < 2:
        return edges
    step = np.diff(values).min()
    units = (values - values[0]) / step
    if not np.allclose(units, np.round(units), rtol=0, atol=1e-6):
        return edges                        # not on a grid: numpy's bins
    width = step * max(1.0, np.ceil((edges[1] - edges[0]) / step - 1e-9))
    low = values[0] - step / 2
    n_bins = int(np.ceil((values[-1] + step / 2 - low) / width - 1e-9))
    return low + width * np.arange(n_bins + 1)


def _component_covariance(gm, j, pair):
    ct = gm.covariance_type
    if ct == "full":
        return gm.covariances_[j][np.ix_(pair, pair)]
    if ct == "tied":
        return gm.covariances_[np.ix_(pair, pair)]
    if ct == "diag":
        return np.diag(gm.covariances_[j][pair])
    return np.eye(len(pair)) * gm.covariances_[j]


def _color(j):
    return f"C{j % 10}"


def _density_panel(ax, gm, x, name):
    """1-D: a density histogram, the mixture density, each weighted component."""
    x = x[~np.isnan(x)]
    ax.hist(x, bins=histogram_bins(x), density=True, color="#c9d6e3", label="data")
    grid = np.linspace(x.min(), x.max(), 400)
    ax.plot(grid, np.exp(gm.score_samples(grid[:, None])), color="black",
            label="mixture density")
    peaks = []
    for j in range(gm.n_components):
        var = _component_covariance(gm, j, [0])[0, 0]
        mean, weight = gm.means_[j, 0], gm.weights_[j]
        pdf = weight * np.exp(-0.5 * (grid - mean) ** 2 / var) / np.sqrt(2 * np.pi * var)
        ax.plot(grid, pdf, ls="--", color=_color(j),
                label=f"component {j} (weight {weight:.2f})")
        peaks.append(weight / np.sqrt(2 * np.pi * var))
    ax.plot(gm.means_[:, 0], peaks, "X", ls="none", color="black", ms=9, mec="white",
            label="component means")
    ax.set_xlabel(name)
    ax.set_ylabel("density")


def _scatter_panel(ax, gm, X, names, pair, Ellipse):
    """2-D: the rows coloured by component, 1- and 2-SD ellipses, the means."""
    labels = gm.predict(X)
    seen = ~np.isnan(X[:, pair]).any(axis=1)
    for j in range(gm.n_components):
        rows = seen & (labels == j)
        ax.scatter(X[rows, pair[0]], X[rows, pair[1]], s=8, color=_color(j), alpha=0.7,
                   label=f"component {j} (weight {gm.weights_[j]:.2f})")
    for j in range(gm.n_components):
        vals, vecs = np.linalg.eigh(_component_covariance(gm, j, pair))
        angle = np.degrees(np.arctan2(vecs[1, -1], vecs[0, -1]))
        for scale in (1, 2):
            ax.add_patch(Ellipse(gm.means_[j, pair], 2 * scale * np.sqrt(vals[-1]),
                                 2 * scale * np.sqrt(vals[0]), angle=angle, fill=False,
                                 lw=1.5 / scale, color="black",
                                 label="1 and 2 SD ellipses" if (j, scale) == (0, 1) else None))
    ax.plot(gm.means_[:, pair[0]], gm.means_[:, pair[1]], "X", ls="none", color="black",
            ms=9, mec="white", label="component means")
    ax.set_xlabel(names[pair[0]])
    ax.set_ylabel(names[pair[1]])


def fit_figure(gm, X, names, pair, equal_aspect=False):
    """The data with the fitted components, and the log-likelihood per EM iteration.

    One column: a density histogram with the mixture and its weighted components. More:
    the columns ``pair`` as a scatter coloured by component, with 1- and 2-SD ellipses.
    ``equal_aspect``: one unit is as long on both axes (for columns in the same units).
    """
    Figure, Ellipse, MaxNLocator = _matplotlib()
    fig = Figure(figsize=(11.5, 4.6))
    left, right = fig.subplots(1, 2)
    if X.shape[1] == 1:
        _density_panel(left, gm, X[:, 0], names[0])
    else:
        _scatter_panel(left, gm, X, names, pair, Ellipse)
        if equal_aspect:
            left.set_aspect("equal", adjustable="datalim")
    left.set_title(f"{gm.n_components}-component Gaussian mixture, "
                   f"{gm.covariance_type} covariance")
    left.legend(fontsize="small", framealpha=0.8)
    iterations = np.arange(1, len(gm.lower_bounds_) + 1)
    right.plot(iterations, gm.lower_bounds_, marker="o", ms=3)
    right.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.set_xlabel("EM iteration")
    right.set_ylabel("mean log-likelihood per row")
    runs = f" (best of {gm.n_init} runs)" if gm.n_init > 1 else ""
    right.set_title(f"Log-likelihood at each EM iteration{runs}\n"
                    f"{'converged' if gm.converged_ else 'not converged'} after "
                    f"{gm.n_iter_} iterations, tol {gm.tol:g}")
    fig.tight_layout()
    return fig


def select_figure(results, source):
    """BIC against the number of components, one line per covariance type (as mclust's
    BIC plot, with scikit-learn's sign: smaller is better); the best model circled.
    ``results``: dicts with n_components, covariance_type and bic (None: the fit failed).
    """
    Figure, _, _ = _matplotlib()
    fig = Figure(figsize=(7.5, 4.8))
    ax = fig.subplots()
    select_axes(ax, results, "bic")
    ax.set_title(f"BIC of Gaussian mixtures: {source}")
    fig.tight_layout()
    return fig


def select_axes(ax, results, criterion):
    """Draw ``criterion`` of each row against K on ax, one line per covariance type,
    the best row (the smallest, not degenerate when possible) circled; degenerate fits
    drawn hollow."""
    from matplotlib.ticker import MaxNLocator

    from ._selection import best_index

    def value(r):
        v = r.get(criterion)
        return None if v is None or v != v else v

    types = list(dict.fromkeys(r["covariance_type"] for r in results))
    for i, ct in enumerate(types):
        rows = [r for r in results if r["covariance_type"] == ct and value(r) is not None]
        label = "categorical" if ct is None else ct
        ax.plot([r["n_components"] for r in rows], [value(r) for r in rows],
                marker=_MARKERS.get(ct, "o"), ms=5, color=_color(i), label=label)
    for i, ct in enumerate(types):     # after the lines, so that they come first
        hollow = [r for r in results if r["covariance_type"] == ct and r.get("degenerate")
                  and value(r) is not None]
        if hollow:
            ax.plot([r["n_components"] for r in hollow], [value(r) for r in hollow],
                    _MARKERS.get(ct, "o"), ms=5, mfc="white", mec=_color(i), ls="none")
    rows = [{"degenerate": False, **r, criterion: value(r)} for r in results]
    best = results[best_index(rows, criterion)[0]]
    where = f"K={best['n_components']}" + (
        f", {best['covariance_type']}" if best["covariance_type"] is not None else "")
    ax.plot([best["n_components"]], [value(best)], "o", ms=15, mfc="none", mec="black",
            mew=1.5, label=f"best: {where}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("number of components K")
    ax.set_ylabel(f"{criterion.upper()} (smaller is better)")
    ax.legend(title="covariance type", fontsize="small")
    ax.grid(alpha=0.3)
    return ax
