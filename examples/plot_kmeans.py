"""
K-means: seeding, clusters and the number of clusters
=====================================================

Cluster points drawn around five centers with :class:`fastem.KMeans`, show the
k-means++ seeds it starts from (:func:`fastem.kmeans_plusplus`), follow the inertia over
the Lloyd iterations with a ``callback``, and look at the inertia against the number of
clusters.
"""

import matplotlib.pyplot as plt
import numpy as np

from fastem import KMeans, kmeans_plusplus

rng = np.random.RandomState(0)
centers = np.array([[-8.0, -7.0], [-7.0, 6.0], [0.0, 0.0], [7.0, -6.0], [8.0, 7.0]])
X = np.concatenate([c + rng.normal(scale=1.5, size=(400, 2)) for c in centers])

seeds, indices = kmeans_plusplus(X, n_clusters=5, random_state=0)
inertias = []
km = KMeans(n_clusters=5, init=seeds, n_init=1,
            callback=lambda info: inertias.append(-info.lower_bound)).fit(X)
print(f"{km.n_iter_} iterations, inertia {km.inertia_:.1f}")
print("inertia at the start of each iteration:", np.round(inertias, 1))

# %%
# The same fit from ``init="k-means++"`` and the same seed starts from the same rows.

same = KMeans(n_clusters=5, random_state=0).fit(X)
print("same centers:", np.allclose(np.sort(same.cluster_centers_, axis=0),
                                   np.sort(km.cluster_centers_, axis=0)))

fig, ax = plt.subplots(figsize=(6, 5))
ax.scatter(*X.T, s=4, c=km.labels_, cmap="tab10", alpha=0.5)
ax.scatter(*seeds.T, marker="x", s=80, color="k", label="k-means++ seeds")
ax.scatter(*km.cluster_centers_.T, marker="o", s=80, facecolor="none", edgecolor="k",
           lw=2, label="fitted centers")
ax.legend(loc="lower left")
ax.set_title("KMeans(n_clusters=5)")
fig.tight_layout()

# %%
# The inertia always falls with more clusters; its bend (the "elbow") is at the true
# number of clusters.

ks = range(1, 10)
curve = [KMeans(n_clusters=k, random_state=0).fit(X).inertia_ for k in ks]
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(list(ks), curve, marker="o")
ax.set_xlabel("n_clusters")
ax.set_ylabel("inertia")
fig.tight_layout()
plt.show()
