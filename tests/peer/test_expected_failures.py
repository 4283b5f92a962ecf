"""The list of expected peer failures names tests that exist, for known peer versions."""

import importlib

from .conftest import _expected_failures


def test_every_expected_failure_names_a_peer_test():
    missing = []
    for entry in _expected_failures():
        stub, *path = entry.partition("[")[0].split("::")
        try:
            obj = importlib.import_module(f"peer.{stub.removesuffix('.py')}")
        except ImportError:   # that peer is not installed: its suite skips
            continue
        for name in path:
            obj = getattr(obj, name, None)
        if obj is None:
            missing.append(entry)
    assert missing == []
