"""sklearn.mixture.tests.test_mixture, run against fastem (see _suites.py)."""

import pytest

pytest.importorskip("sklearn")

from ._suites import load_into  # noqa: E402

load_into(globals(), "sklearn.mixture.tests.test_mixture")
