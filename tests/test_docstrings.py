"""Every public class, method and function has a complete numpydoc docstring."""

import inspect

import pytest

import fastem
import fastem.datasets
import fastem.hmm
import fastem.mixture

validate = pytest.importorskip("numpydoc.validate").validate

# numpydoc's checks, all of them except: ES01 (an extended summary is optional), GL01
# (the summary may start on the line of the opening quotes) and SA04 (a See Also entry
# needs no description).
IGNORED = {"ES01", "GL01", "SA04"}


def public_api():
    """Dotted names of the public functions and classes, and of the classes' public
    methods and properties (inherited ones included)."""
    names = []
    modules = {"fastem": fastem, "fastem.datasets": fastem.datasets, "fastem.hmm": fastem.hmm,
               "fastem.mixture": fastem.mixture}
    for module_name, module in modules.items():
        for name in module.__all__:
            obj = getattr(module, name)
            if name.startswith("__") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if module_name != "fastem" and getattr(fastem, name, None) is obj:
                continue
            names.append(f"{module_name}.{name}")
            if inspect.isclass(obj) and not issubclass(obj, BaseException):
                for attr in dir(obj):
                    if attr.startswith("_"):
                        continue
                    member = inspect.getattr_static(obj, attr)
                    if callable(member) or isinstance(member, property):
                        names.append(f"{module_name}.{name}.{attr}")
    return names


@pytest.mark.parametrize("name", public_api())
def test_numpydoc(name):
    errors = [f"{code}: {message}" for code, message in validate(name)["errors"]
              if code not in IGNORED]
    assert errors == []


def _resolve(name):
    obj = fastem
    for part in name.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("name", public_api())
def test_examples_run(name, tmp_path, monkeypatch):
    """The Examples of every docstring run and print what they show."""
    import doctest

    monkeypatch.chdir(tmp_path)      # examples that save files write here
    obj = _resolve(name)
    if isinstance(obj, property):
        obj = obj.fget
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(obj, name, globs={})
    examples = sum(len(t.examples) for t in tests)
    assert examples > 0, f"{name} has no Examples"
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
