"""How the docs build runs ``examples/`` through sphinx-gallery: arguments in, pictures out.

The example scripts draw on :class:`matplotlib.figure.Figure` objects and save
them as PNG files under ``--out DIR`` (they never touch pyplot, so
sphinx-gallery's matplotlib scraper sees nothing). The gallery therefore runs
each script with ``--out`` pointing at a fresh folder of its own
(:func:`reset_argv`) and, after the script has run, moves the PNG files it
wrote into the gallery's image folder (:func:`png_scraper`). Scripts whose full
run takes more than a few seconds also get ``--quick`` (smaller training runs,
the outcome unchanged; see ``--help`` of each script), so that the whole docs
build stays under about two minutes on two CPU cores.

conf.py names these functions by their fully qualified names (strings), which
keeps Sphinx's configuration picklable.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from sphinx_gallery.scrapers import figure_rst

#: The examples that take ``--quick`` in the docs build (each documents what it shrinks).
QUICK = {"dipole", "double_pendulum", "hypernetwork", "o2_frames", "so3_invariance", "soft_equivariance", "steerable_patterns", "symmetry_tasks"}

#: One folder per build process; a subfolder per example.
_OUT_ROOT = Path(tempfile.mkdtemp(prefix="constrainnet-gallery-"))


def _out_dir(src_file: str) -> Path:
    """The folder given to the example ``src_file`` as ``--out``."""
    return _OUT_ROOT / Path(src_file).stem


def reset_argv(gallery_conf: dict, script_vars: dict) -> list[str]:
    """The command-line arguments of one example: ``--out`` its own folder, and ``--quick`` where it has one."""
    name = Path(script_vars["src_file"]).stem
    if name == "quickstart":
        return []
    out = _out_dir(script_vars["src_file"])
    out.mkdir(parents=True, exist_ok=True)
    return ["--out", str(out)] + (["--quick"] if name in QUICK else [])


def png_scraper(block, block_vars: dict, gallery_conf: dict) -> str:
    """Move the PNG files the example wrote to its ``--out`` folder into the gallery, in name order."""
    out = _out_dir(block_vars["src_file"])
    if not out.is_dir():
        return ""
    images = []
    for png in sorted(out.glob("*.png")):
        target = block_vars["image_path_iterator"].next()
        shutil.move(os.fspath(png), target)
        images.append(target)
    return figure_rst(images, gallery_conf["src_dir"])


class ReadmeOrder:
    """Sort key of the gallery: the quickstart first, then the examples in the README's order."""

    ORDER = ("quickstart", "symmetry_tasks", "dipole", "hexagon_z6", "p4m_image", "so3_invariance", "o2_frames", "steerable_patterns", "hypernetwork")

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        stem = Path(filename).stem
        return (self.ORDER.index(stem) if stem in self.ORDER else len(self.ORDER), stem)
