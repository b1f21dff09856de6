"""Subgroups: a group in its parent's defining space, checked to lie in the parent."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import GroupError
from .base import Group

__all__ = ["Subgroup"]


class Subgroup(Group):
    """A subgroup H of ``parent``, given by generators in the parent's defining space.

    Every discrete generator is checked to be an element of the parent
    (``parent.contains``) and every Lie algebra generator to lie in the
    parent's Lie algebra, so a rep of the parent restricts to H with
    ``rep.restrict(H)``.

    Args:
        parent: the group H lies in.
        discrete_generators: (k, d, d) elements of the parent (k may be 0).
        lie_algebra: (m, d, d) elements of the parent's Lie algebra (m may be 0).
        name: the name shown by ``repr``.

    Raises:
        GroupError: a generator that is not in the parent, of the wrong size,
            complex or not finite.

    Example:
        >>> import numpy as np
        >>> from constrainnet.groups import O, Subgroup
        >>> rz = np.zeros((3, 3)); rz[0, 1], rz[1, 0] = -1.0, 1.0
        >>> H = Subgroup(O(3), lie_algebra=[rz], name="SO(2)z")
        >>> H.parent
        O(3)
    """

    def __init__(
        self,
        parent: Group,
        discrete_generators: Any = None,
        lie_algebra: Any = None,
        name: str | None = None,
    ) -> None:
        if not isinstance(parent, Group):
            raise TypeError(f"parent: expected a Group, got {type(parent).__name__}")
        super().__init__(discrete_generators, lie_algebra, name, d=parent.d)
        self._parent = parent
        for i, g in enumerate(self.discrete_generators):
            if not parent.contains(g):
                raise GroupError(f"discrete_generators[{i}]: expected an element of {parent!r}, got {np.round(g, 6).tolist()}")
        for i, a in enumerate(self.lie_algebra):
            if not parent.lie_contains(a):
                raise GroupError(f"lie_algebra[{i}]: expected an element of the Lie algebra of {parent!r}, got {np.round(a, 6).tolist()}")
        if name is None:
            self._name = f"Subgroup({parent!r}, k={self.num_discrete_generators}, m={len(self.lie_algebra)})"

    @property
    def parent(self) -> Group:
        """The group this is a subgroup of."""
        return self._parent

    def is_subgroup_of(self, group: Group) -> bool:
        """True if ``group`` is this group, its parent, or an ancestor of its parent."""
        node: Group = self
        while True:
            if node == group:
                return True
            if not isinstance(node, Subgroup):
                return False
            node = node.parent

    def _key(self) -> tuple:
        return ("subgroup", self._parent._key(), self._d, self._digest)
