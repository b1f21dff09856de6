"""Helpers for the tests of the example scripts: import a script of ``examples/`` by path.

The examples are scripts, not a package, so a test loads one with
:func:`load_example` (importlib, by file path) and calls its
``main(argv)`` with small sizes and ``--out`` in a temporary folder.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module named ``example_<name>`` (cached in ``sys.modules``).

    Args:
        name: the script's file name without ``.py``.

    Returns:
        The imported module.

    Raises:
        FileNotFoundError: there is no such script.
    """
    module_name = f"example_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = EXAMPLES / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"load_example: expected a script {path.name} in examples/, got none")
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


@pytest.fixture(scope="session")
def example():
    """The :func:`load_example` function, as a fixture: ``example("dipole").main([...])``."""
    return load_example
