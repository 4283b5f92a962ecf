"""hmmlearn.tests.test_base, run against fastem (see _suites.py)."""

import pytest

pytest.importorskip("hmmlearn")

from ._suites import load_into  # noqa: E402

load_into(globals(), "hmmlearn.tests.test_base")
