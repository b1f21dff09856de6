"""Sphinx configuration: API pages from the Google-style docstrings (napoleon), examples run by sphinx-gallery.

Build (what CI runs; the examples are executed, so this takes about a minute
on two CPU cores, under two minutes while other jobs share them):

    pip install -e '.[docs]'
    python -m sphinx -W -b html docs docs/_build/html
"""

import importlib
import inspect
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for _gallery (the gallery's hooks)

project = "constrainnet"
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.doctest",
    "sphinx_gallery.gen_gallery",
]
napoleon_google_docstring = True
napoleon_numpy_docstring = False
autodoc_member_order = "bysource"
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip"]

# The six examples of the README (and the quickstart), executed at build time;
# their pictures are the ones the scripts draw in this build (docs/_gallery.py).
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"\.py$",  # execute every script, not only plot_*.py
    "within_subsection_order": "_gallery.ReadmeOrder",
    "reset_argv": "_gallery.reset_argv",
    "image_scrapers": ("_gallery.png_scraper",),
    "abort_on_example_error": True,
    "download_all_examples": False,
    "show_memory": False,
}


def _inherited_from_torch(name: str, obj: object) -> bool:
    """Whether autodoc found ``obj``'s docstring on a torch base class rather than on ``obj`` itself.

    Our ``torch.autograd.Function`` and ``torch.nn.Module`` subclasses override
    ``forward``/``backward``/``setup_context`` without always repeating a
    docstring; autodoc then inherits torch's, written for torch's own docs:
    they cross-reference labels that exist only there
    (``extending-autograd``, ``combining-forward-context``) and describe the
    base class, not our method (``sphinx -W`` fails on those labels). Such
    members are left out of the API pages, and a documented object whose
    only docstring is torch's shows none; our own docstrings, and docstrings
    inherited from our own base classes, are kept. Members that torch's
    classes define and we do not override are not documented at all, since
    no ``automodule`` here uses ``:inherited-members:``.
    """
    if getattr(obj, "__doc__", None) is not None and not inspect.isclass(obj):
        return False
    if inspect.isclass(obj):
        if "__doc__" in vars(obj) and obj.__doc__ is not None:
            return False
        return any(c.__module__.startswith("torch") and c.__doc__ for c in obj.__mro__[1:])
    owner_name, _, attr = name.rpartition(".")
    try:
        owner = importlib.import_module(owner_name)
    except ImportError:
        module_name, _, cls_name = owner_name.rpartition(".")
        try:
            owner = getattr(importlib.import_module(module_name), cls_name)
        except (ImportError, AttributeError):
            return False
    if not inspect.isclass(owner):
        return False
    for base in owner.__mro__[1:]:
        member = vars(base).get(attr)
        if member is not None and getattr(member, "__doc__", None):
            return base.__module__.startswith("torch")
    return False


def _skip_torch_documented(app, what, name, obj, skip, options):
    """Leave out members (``forward``, ``extra_repr``, ...) whose only docstring is torch's."""
    full_name = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
    if not skip and "." in getattr(obj, "__qualname__", "") and _inherited_from_torch(full_name, obj):
        return True
    return None


def _drop_torch_docstrings(app, what, name, obj, options, lines):
    """Drop torch's docstring where autodoc inherited it for an object that is still documented."""
    if _inherited_from_torch(name, obj):
        lines.clear()


def setup(app):
    app.connect("autodoc-skip-member", _skip_torch_documented)
    app.connect("autodoc-process-docstring", _drop_torch_docstrings)
