"""The examples of the user guide (docs/guide/*.rst) run and print what they show.

The documentation build (``python -m sphinx -W -b html docs docs/_build/html``) renders
these pages but does not run them; the gallery scripts in examples/ it does run.
"""

import doctest
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide"
PAGES = sorted(GUIDE.glob("*.rst"))


def test_the_guide_is_there():
    if not GUIDE.is_dir():
        pytest.skip("no docs/ next to tests/ (e.g. a copy of tests/ alone)")
    assert len(PAGES) >= 7


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_guide_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)      # examples that save files write here
    text = page.read_text()
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
