"""sklearn.cluster.tests.test_k_means, run against fastem (see _suites.py)."""

import pytest

pytest.importorskip("sklearn")

from ._suites import load_into  # noqa: E402

load_into(globals(), "sklearn.cluster.tests.test_k_means")
