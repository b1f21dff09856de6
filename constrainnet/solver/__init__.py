"""The equivariant solver: nullspaces of the generators' constraints, canonical and cached."""

from .basis import Basis, BasisBlock, Projector
from .blocks import LeafBlocks, block_structure
from .budget import estimate_memory, memory_limit, set_memory_limit
from .canonical import canonical_basis
from .decompose import Component, Decomposition, decompose, decomposition_cache_clear, decomposition_cache_info
from .dense import dense_basis
from .irreps import IrrepType, irreps_seen
from .iterative import iterative_basis, iterative_plan, supports_iterative
from .strategy import (
    STRATEGIES,
    cache_clear,
    cache_info,
    equivariant_basis,
    equivariant_projector,
    leaf_basis,
    select_strategy,
)

__all__ = [
    "Basis",
    "BasisBlock",
    "Projector",
    "LeafBlocks",
    "block_structure",
    "canonical_basis",
    "dense_basis",
    "Component",
    "Decomposition",
    "IrrepType",
    "decompose",
    "decomposition_cache_clear",
    "decomposition_cache_info",
    "irreps_seen",
    "iterative_basis",
    "iterative_plan",
    "supports_iterative",
    "STRATEGIES",
    "select_strategy",
    "equivariant_basis",
    "equivariant_projector",
    "leaf_basis",
    "cache_clear",
    "cache_info",
    "estimate_memory",
    "memory_limit",
    "set_memory_limit",
]
