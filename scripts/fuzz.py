"""A long fuzz campaign over every estimator (and model files), crash-safe.

    python scripts/fuzz.py                 # 10,000 examples in all
    python scripts/fuzz.py --examples 50000

Runs the hypothesis tests of tests/test_fuzz.py (and the fuzz tests of tests/test_io.py
when present) with random examples, each in a worker process, and prints how many
examples ended in which outcome: "ok" (a valid result), a clean ValueError/TypeError,
or a failure (a crash, a hang, another exception, an invalid result).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
CASES = {
    "test_fuzz": ["test_fuzz_gaussian_mixture", "test_fuzz_kmeans",
                  "test_fuzz_kmeans_plusplus", "test_fuzz_gaussian_hmm",
                  "test_fuzz_categorical_hmm"],
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=10_000, help="examples in all")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(TESTS))
    io_tests = [name for name in dir(_import("test_io") or object)
                if name.startswith("test_fuzz")]
    if io_tests:
        CASES["test_io"] = io_tests
    n_tests = sum(len(v) for v in CASES.values())
    os.environ["FASTEM_FUZZ_EXAMPLES"] = str(max(1, args.examples // n_tests))
    from fuzz_harness import Worker

    failures = []
    scratch = Path(tempfile.mkdtemp(prefix="fastem-fuzz-"))
    started = time.perf_counter()
    worker = Worker()
    counters = []
    for module_name, names in CASES.items():
        module = importlib.reload(_import(module_name))
        for name in names:
            test = getattr(module, name)
            t0 = time.perf_counter()
            wanted = test.hypothesis.inner_test.__code__.co_varnames
            fixtures = {"worker": worker, "fuzz_dir": scratch}
            try:
                test(**{k: v for k, v in fixtures.items() if k in wanted})
                status = "passed"
            except Exception:  # noqa: BLE001 - report every failure and go on
                failures.append((name, traceback.format_exc(limit=3)))
                status = "FAILED"
            print(f"{module_name}::{name}: {status} ({time.perf_counter() - t0:.0f} s)",
                  flush=True)
        counters.append(getattr(module, "OUTCOMES", {}))
    worker.close()
    shutil.rmtree(scratch, ignore_errors=True)
    total = {}
    for counter in counters:
        for key, count in counter.items():
            total[key] = total.get(key, 0) + count
    print(f"\n{sum(total.values())} examples in {time.perf_counter() - started:.0f} s")
    print(f"{'case':<20} {'outcome':<16} {'examples':>8}")
    for (case, outcome), count in sorted(total.items()):
        print(f"{case:<20} {outcome:<16} {count:>8}")
    for name, text in failures:
        print(f"\nFAILED {name}\n{text}")
    return 1 if failures else 0


def _import(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


if __name__ == "__main__":
    sys.exit(main())
