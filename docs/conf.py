"""Sphinx configuration: API pages from the Google-style docstrings (napoleon).

Build: pip install sphinx && sphinx-build -b html docs docs/_build/html
"""

project = "constrainnet"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "sphinx.ext.doctest"]
napoleon_google_docstring = True
napoleon_numpy_docstring = False
autodoc_member_order = "bysource"
exclude_patterns = ["_build"]
