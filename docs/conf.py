"""Sphinx configuration of fastem's documentation.

Build with ``python -m sphinx -W -b html docs docs/_build/html`` after
``pip install ".[docs]"``. The build documents and runs the installed fastem, and needs
no network: no intersphinx inventories, no remote images.
"""

import os
import subprocess
import sys
from pathlib import Path

import fastem

DOCS = Path(__file__).resolve().parent

project = "fastem"
author = "fastem developers"
copyright = "fastem developers"
release = fastem.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]
default_role = "literal"

# API reference: autosummary writes one page per object into generated/.
autosummary_generate = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"          # the numpydoc sections already give the types
numpydoc_show_class_members = False  # the class template lists the members
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# The gallery: every examples/plot_*.py script runs during the build.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "abort_on_example_error": True,
    "doc_module": ("fastem",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"fastem": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "min_reported_time": 0,
}

myst_heading_anchors = 3

html_theme = "pydata_sphinx_theme"
html_title = f"fastem {release}"
html_static_path = []
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": True,
    "secondary_sidebar_items": ["page-toc"],
}


def _write_cli_help():
    """Write the --help text of each fastem command to generated/cli/, for cli.rst."""
    out = DOCS / "generated" / "cli"
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, COLUMNS="88")
    for name, args in [("fastem", []), ("fit", ["fit"]), ("select", ["select"]),
                       ("kmeans", ["kmeans"]), ("hmm-fit", ["hmm", "fit"]),
                       ("predict", ["predict"]), ("config", ["config"])]:
        result = subprocess.run(
            [sys.executable, "-m", "fastem", *args, "--help"],
            capture_output=True, text=True, check=True, env=env,
        )
        (out / f"{name}.txt").write_text(result.stdout)


_write_cli_help()
