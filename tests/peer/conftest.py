"""Fixtures and settings the peer test files expect from their own conftest files."""

import os
import random
from pathlib import Path

import numpy as np
import pytest

# The peers' float32 tests run too (scikit-learn skips them unless asked).
os.environ.setdefault("SKLEARN_RUN_FLOAT32_TESTS", "1")

try:
    from sklearn.conftest import (
        global_dtype,  # noqa: F401  (a fixture)
        pytest_generate_tests,  # noqa: F401  (global_random_seed)
    )
except ImportError:  # scikit-learn absent: its suites skip themselves
    pass


@pytest.fixture(autouse=True)
def hmmlearn_seed(request):
    """hmmlearn's conftest seeds numpy's global generator from HMMLEARN_SEED once per
    run; here each test starts from that seed, so a failure reproduces alone."""
    if not getattr(request.module, "__peer_module__", "").startswith("hmmlearn"):
        yield None
        return
    seed = int(os.environ.get("HMMLEARN_SEED", "0"))
    np.random.seed(seed)
    random.seed(seed)
    yield seed


# Expected failures: one file per peer package, a line per test (a test's name without
# its parameters covers all of them): "<stub file>::<test> | <category>: <reason>".
# Only these categories are allowed; anything else that fails is a fastem bug.
CATEGORIES = ("not claimed", "private internals", "message wording")
EXPECTED = Path(__file__).parent / "expected_failures.txt"


def _expected_failures():
    entries = {}
    for number, line in enumerate(EXPECTED.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        test, _, reason = (part.strip() for part in line.partition("|"))
        category = reason.partition(":")[0]
        if category not in CATEGORIES or not reason.partition(":")[2].strip():
            raise pytest.UsageError(f"{EXPECTED.name}:{number}: the reason must be "
                                    f"'<category>: <why>' with a category in {CATEGORIES}")
        entries[test] = reason
    return entries


def pytest_collection_modifyitems(config, items):
    expected = _expected_failures()
    for item in items:
        path = Path(str(item.fspath))
        if path.parent != EXPECTED.parent:
            continue
        nodeid = f"{path.name}::{item.nodeid.partition('::')[2]}"
        for key in (nodeid, nodeid.partition("[")[0]):
            if key in expected:
                item.add_marker(pytest.mark.xfail(reason=expected[key], strict=True))
                break
