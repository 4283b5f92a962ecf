"""Run scikit-learn's and hmmlearn's own test files against fastem.

A peer test file is read from the installed peer package, its imports of the estimators
fastem replaces are pointed at fastem's, and it is executed as the body of the stub
module that asked for it (so pytest collects its tests there). Nothing else in the file
changes: the same tests, data, tolerances and fixtures.
"""

import ast
import importlib
import importlib.util
import sys
import types
from pathlib import Path

import fastem
import fastem.hmm

# Which names of which peer modules fastem replaces, and with what.
SWAPS = {
    "sklearn.mixture": {"GaussianMixture": fastem.GaussianMixture},
    "sklearn.cluster": {"KMeans": fastem.KMeans, "kmeans_plusplus": fastem.kmeans_plusplus},
    "hmmlearn.hmm": {"GaussianHMM": fastem.GaussianHMM,
                     "CategoricalHMM": fastem.CategoricalHMM},
    "hmmlearn.base": {"ConvergenceMonitor": fastem.hmm.ConvergenceMonitor},
}
SHIM_PREFIX = "_fastem_peer_"
# The peer releases whose test files expected_failures.txt was written against; other
# releases have other tests, so their suites are skipped rather than misjudged.
PEER_VERSIONS = {"sklearn": "1.9.1", "hmmlearn": "0.3.3"}


def _shim(module_name):
    """A module with the peer module's attributes, the swapped ones replaced by
    fastem's; registered in sys.modules so an import statement can name it."""
    name = SHIM_PREFIX + module_name.replace(".", "_")
    if name not in sys.modules:
        shim = types.ModuleType(name)
        shim.__dict__.update(vars(importlib.import_module(module_name)))
        shim.__dict__.update(SWAPS[module_name])
        sys.modules[name] = shim
    return name


class _SwapImports(ast.NodeTransformer):
    def __init__(self, package):
        self.package = package

    def visit_ImportFrom(self, node):
        module = importlib.util.resolve_name("." * node.level + (node.module or ""),
                                             self.package)
        if module in SWAPS:
            return ast.copy_location(
                ast.ImportFrom(module=_shim(module), names=node.names, level=0), node)
        # "from hmmlearn import hmm": the swapped submodule is imported as its shim.
        shims = [a for a in node.names if f"{module}.{a.name}" in SWAPS]
        if not shims:
            return node
        out = [ast.copy_location(ast.Import(names=[ast.alias(
            name=_shim(f"{module}.{a.name}"), asname=a.asname or a.name)]), node)
            for a in shims]
        rest = [a for a in node.names if a not in shims]
        if rest:
            out.append(ast.copy_location(ast.ImportFrom(module=node.module, names=rest,
                                                        level=node.level), node))
        return out


def peer_path(module_name):
    spec = importlib.util.find_spec(module_name)
    return Path(spec.origin)


def load_into(namespace, module_name):
    """Execute peer test module `module_name`, imports swapped, in `namespace` (a stub
    module's globals)."""
    import pytest

    peer = importlib.import_module(module_name.partition(".")[0])
    wanted = PEER_VERSIONS[peer.__name__]
    if peer.__version__ != wanted:
        pytest.skip(f"the expected failures are written for {peer.__name__} {wanted}; "
                    f"{peer.__version__} is installed", allow_module_level=True)
    path = peer_path(module_name)
    package = module_name.rpartition(".")[0]
    tree = _SwapImports(package).visit(ast.parse(path.read_text(encoding="utf-8")))
    ast.fix_missing_locations(tree)
    saved = namespace.get("__package__")
    namespace["__package__"] = package
    try:
        exec(compile(tree, str(path), "exec"), namespace)
    finally:
        namespace["__package__"] = saved
    namespace["__peer_module__"] = module_name
