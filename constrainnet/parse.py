"""Parse group names and rep expressions from text, safely: a tokenizer and a recursive-descent parser.

Nothing here calls ``eval``: the text is split into tokens (integers, names,
operators) and parsed by the grammar below, and only the rep algebra of
:mod:`constrainnet.reps` is applied to the values. This is what the
``constrainnet`` command uses for ``--group "SO(3)" "V**2 >> V"``.

Groups::

    product := factor (('*' | '×') factor)*
    factor  := NAME ['(' [INT] ')'] | '(' product ')'

Reps, with Python's precedence and associativity (``**`` > ``*`` > ``+`` > ``>>``)::

    expr    := sum ('>>' sum)*            left-associative: Hom
    sum     := term ('+' term)*           direct sum
    term    := power ('*' power)*         int*rep multiplicity, rep*rep tensor product
    power   := postfix ['**' power]       right-associative, non-negative int exponent
    postfix := atom ('.T')*               dual
    atom    := INT | 'V' ['[' INT ']'] | 'Scalar' | 'PseudoScalar' | '(' expr ')'

Every operator means what it means in Python on reps bound to the group:
``parse_rep(s, G)`` equals the Python expression ``s`` with ``V = cn.V(G)``.
Integers may be added, multiplied and raised to powers among themselves
(``V**(1+1)``), bounded by :data:`MAX_INT`; ``+`` and ``>>`` with a rep on
one side need a rep on the other (Python would also take ``rep + 0``).

Inputs are bounded before work is done: at most :data:`MAX_TEXT_LENGTH`
characters, :data:`MAX_FACTORS` operands of one ``*`` chain and
:data:`MAX_NESTING` levels; family sizes by the families' own caps
(:mod:`constrainnet.groups.limits`) and reps by the tensor order and size
limits of :mod:`constrainnet.reps.limits`. Every violation is a ParseError.

Example:
    >>> import constrainnet as cn
    >>> from constrainnet.parse import parse_group, parse_rep
    >>> G = parse_group("SO(3)")
    >>> rep = parse_rep("5*V**0 + 5*V >> V", G)
    >>> rep
    (5*Scalar + 5*V) >> V
    >>> rep == (5 * cn.V(G)**0 + 5 * cn.V(G) >> cn.V(G))
    True
"""

from __future__ import annotations

import contextlib
import operator
import re
from dataclasses import dataclass
from typing import Callable, Iterator, Union

from .errors import ConstrainnetError, ParseError
from .groups import (
    GL, SL, SO, SO13, SU, C, Cube, D, Group, Lorentz, O, O13, P4M, Paired, ProductGroup, Rot90, RubiksCube, S, SO13p, Sp, Trivial, U, Z,
)  # fmt: skip
from .groups.limits import MAX_DIMENSION, MAX_IMAGE_SIZE, MAX_ORTHOGONAL_N
from .reps import PseudoScalar, Rep, Scalar, V, direct_sum
from .reps.limits import MAX_TENSOR_ORDER

__all__ = [
    "parse_group",
    "parse_rep",
    "ParseError",
    "GROUP_FAMILIES",
    "MAX_INT",
    "MAX_EXPONENT",
    "MAX_NESTING",
    "MAX_TEXT_LENGTH",
    "MAX_FACTORS",
]

#: C(n) and D(n) act on R² whatever n; n is their order, kept to a size whose
#: rotations by 2π/n stay far apart on the grid that finite groups are closed on.
_MAX_PLANAR_ORDER = 10_000

#: The group families ``parse_group`` knows: name -> (constructor, largest n).
#: The bounds are the families' own (:mod:`constrainnet.groups.limits`): so(n)
#: has n(n-1)/2 generators of n×n, and P4M(n) acts on n² pixels.
GROUP_FAMILIES: dict[str, tuple[Callable[..., Group], int]] = {
    "SO": (SO, MAX_ORTHOGONAL_N), "O": (O, MAX_ORTHOGONAL_N), "C": (C, _MAX_PLANAR_ORDER),
    "Z": (Z, MAX_DIMENSION), "D": (D, _MAX_PLANAR_ORDER), "S": (S, MAX_DIMENSION),
    "P4M": (P4M, MAX_IMAGE_SIZE), "Trivial": (Trivial, MAX_DIMENSION), "Lorentz": (Lorentz, 0),
    "GL": (GL, MAX_ORTHOGONAL_N), "SL": (SL, MAX_ORTHOGONAL_N), "Sp": (Sp, MAX_ORTHOGONAL_N // 2),
    "U": (U, MAX_ORTHOGONAL_N // 2), "SU": (SU, MAX_ORTHOGONAL_N // 2), "Rot90": (Rot90, MAX_IMAGE_SIZE),
    "SO13p": (SO13p, 0), "SO13": (SO13, 0), "O13": (O13, 0), "Cube": (Cube, 0), "RubiksCube": (RubiksCube, 0),
}  # fmt: skip

_FAMILY_HELP = (
    "SO(n), O(n), C(n), Z(n), D(n), S(n), P4M(n), Trivial(n), GL(n), SL(n), Sp(n), U(n), SU(n), Rot90(n), "
    "Lorentz(), SO13p(), SO13(), O13(), Cube(), RubiksCube(), products G1*G2 and Paired(G_in, G_out)"
)

#: Largest integer literal or integer result in a rep expression: a
#: multiplicity beyond this cannot be solved or trained, and the bound keeps
#: integer powers (``9**9**9``) from running away.
MAX_INT = 1_000_000

#: Largest tensor power ``rep**n``: the reps' own bound on the tensor order
#: (:data:`constrainnet.reps.limits.MAX_TENSOR_ORDER`), which also bounds
#: ``V*V*…*V`` and Homs. V**32 of even a 2-dimensional V has 4·10⁹ entries.
MAX_EXPONENT = MAX_TENSOR_ORDER
_MAX_INT_EXPONENT = 64  # of int ** int; results are bounded by MAX_INT anyway

#: Deepest nesting of parentheses and ``**`` chains: each costs a few frames of Python's 1000.
MAX_NESTING = 64

#: Longest text accepted, checked before it is tokenized: a group name or rep
#: expression is a line, and the bound keeps the parse cheap whatever the text.
MAX_TEXT_LENGTH = 10_000

#: Most operands of one ``*`` chain (group factors or rep factors): a product
#: is built once from all its factors, so its cost grows linearly with them.
MAX_FACTORS = 1024

_REP_NAMES = "V, V[i], Scalar, PseudoScalar, an integer or '('"

_TOKEN = re.compile(r"(?P<int>[0-9]+)|(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<op>\*\*|>>|[-+*/()\[\].,×])")


@dataclass(frozen=True)
class _Token:
    kind: str  # "int", "name", "op" or "end"
    text: str
    pos: int

    def describe(self) -> str:
        return {"end": "end of input", "int": f"integer {self.text}"}.get(self.kind, repr(self.text))


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            expected = "a name, an integer or one of + * ** >> . ( ) [ ]"
            where = f"at position {pos} of {text!r}"
            raise ParseError(f"unexpected character {text[pos]!r} {where}; expected {expected}", text, pos)
        kind = m.lastgroup or "op"
        tokens.append(_Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    """Token cursor shared by the group and rep grammars."""

    def __init__(self, text: str, what: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"{what}: expected a str, got {type(text).__name__}")
        if len(text) > MAX_TEXT_LENGTH:
            message = f"{what}: expected a text of at most {MAX_TEXT_LENGTH} characters, got {len(text)}"
            raise ParseError(message, text, MAX_TEXT_LENGTH)
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    @contextlib.contextmanager
    def nested(self, tok: _Token) -> Iterator[None]:
        """Guard a recursive descent: deep nesting is a ParseError, not a RecursionError."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.fail(f"expression too deeply nested: expected at most {MAX_NESTING} levels", tok.pos)
        try:
            yield
        finally:
            self.depth -= 1

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        tok, self.i = self.tokens[self.i], min(self.i + 1, len(self.tokens) - 1)
        return tok

    def error(self, expected: str) -> ParseError:
        tok = self.tok
        where = f"at position {tok.pos} of {self.text!r}"
        return ParseError(f"expected {expected} {where}, found {tok.describe()}", self.text, tok.pos)

    def fail(self, message: str, pos: int) -> ParseError:
        return ParseError(f"{message} at position {pos} of {self.text!r}", self.text, pos)

    def expect(self, op: str, expected: str | None = None) -> _Token:
        if self.tok.kind != "op" or self.tok.text != op:
            raise self.error(expected or repr(op))
        return self.advance()

    def accept(self, *ops: str) -> _Token | None:
        if self.tok.kind == "op" and self.tok.text in ops:
            return self.advance()
        return None

    def integer(self, what: str) -> int:
        if self.tok.kind != "int":
            raise self.error(what)
        tok = self.advance()
        if len(tok.text.lstrip("0")) > len(str(MAX_INT)):  # before int(): 10**5000 digits is slow or refused
            raise self.fail(f"integer too large: expected at most {MAX_INT}, got {tok.text[:12]}...", tok.pos)
        return self.check_int(int(tok.text), tok.pos)

    def check_int(self, value: int, pos: int) -> int:
        if value > MAX_INT:
            raise self.fail(f"integer too large: expected at most {MAX_INT}, got {value}", pos)
        return value

    def finish(self) -> None:
        if self.tok.kind != "end":
            raise self.error("an operator or end of input")


# -- groups --------------------------------------------------------------------
def parse_group(text: str) -> Group:
    """The group named by ``text``: a family with its size, or a product of them.

    Known names: ``SO(n)``, ``O(n)``, ``C(n)``, ``Z(n)``, ``D(n)``, ``S(n)``,
    ``P4M(n)``, ``Trivial(n)``, ``Lorentz()`` (also ``Lorentz``); products
    with ``*`` or ``×`` (``"SO(3)*S(4)"``), parentheses allowed; and
    ``Paired(G_in, G_out)`` (:class:`~constrainnet.groups.Paired`). The repr of
    any group built from these parses back to an equal group.

    Args:
        text: the group's name.

    Returns:
        The :class:`~constrainnet.groups.Group`.

    Raises:
        ParseError: an unknown name, a missing or out-of-range size, or a
            syntax error; the message gives the position, what was expected
            and what was found.
        TypeError: ``text`` is not a str.

    Example:
        >>> parse_group("SO(3) × S(4)").factors
        (SO(3), S(4))
        >>> parse_group("SO3x")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        constrainnet.errors.ParseError: unknown group 'SO3x' at position 0 of 'SO3x'; expected one of SO(n), O(n), ...
    """
    p = _Parser(text, "parse_group")
    group = _group_product(p)
    p.finish()
    return group


def _group_product(p: _Parser) -> Group:
    # All factors first, then one product: folding G1*G2 pairwise would rebuild
    # the growing product at every step (cubic in the number of factors).
    start = p.tok.pos
    factors = [_group_factor(p)]
    while (op := p.accept("*", "×")) is not None:
        if len(factors) == MAX_FACTORS:
            raise p.fail(f"too many factors in a product: expected at most {MAX_FACTORS}", op.pos)
        factors.append(_group_factor(p))
    if len(factors) == 1:
        return factors[0]
    try:
        return ProductGroup(*factors)
    except ConstrainnetError as exc:
        raise p.fail(str(exc), start) from exc


def _group_factor(p: _Parser) -> Group:
    if p.accept("("):
        with p.nested(p.tok):
            group = _group_product(p)
        p.expect(")")
        return group
    tok = p.tok
    if tok.kind != "name":
        raise p.error(f"a group name ({_FAMILY_HELP})")
    if tok.text == "Paired":
        return _paired(p)
    if tok.text not in GROUP_FAMILIES:
        where = f"at position {tok.pos} of {p.text!r}{_did_you_mean(tok.text)}"
        raise ParseError(f"unknown group {tok.text!r} {where}; expected one of {_FAMILY_HELP}", p.text, tok.pos)
    p.advance()
    family, max_n = GROUP_FAMILIES[tok.text]
    if max_n == 0:  # Lorentz(), Cube(), ...: no size, optional empty parentheses
        if p.accept("("):
            p.expect(")", f"')' ({tok.text} takes no size)")
        return family()
    p.expect("(", f"'(' and a size after {tok.text}, as in {tok.text}(3)")
    n_tok = p.tok
    n = p.integer(f"a positive integer size of {tok.text}")
    p.expect(")")
    if not 1 <= n <= max_n:
        raise p.fail(f"{tok.text}(n): expected 1 <= n <= {max_n}, got {n}", n_tok.pos)
    return family(n)


def _paired(p: _Parser) -> Group:
    """``Paired(G_in, G_out)``: two groups (products allowed) whose generators are paired in order."""
    start = p.tok.pos
    p.advance()
    p.expect("(", "'(' after Paired, as in Paired(Z(6), Z(3))")
    with p.nested(p.tok):
        on_input = _group_product(p)
        p.expect(",", "',' between the input's and the output's group, as in Paired(Z(6), Z(3))")
        on_output = _group_product(p)
    p.expect(")")
    try:
        return Paired(on_input, on_output)
    except ConstrainnetError as exc:
        raise p.fail(str(exc), start) from exc


def _did_you_mean(name: str) -> str:
    """A hint for near misses: 'so' -> SO, 'SO3' -> SO(3)."""
    for known in sorted(GROUP_FAMILIES, key=len, reverse=True):
        size = name[len(known) :]
        if name[: len(known)].lower() == known.lower() and (size.isdigit() or not size):
            if GROUP_FAMILIES[known][1] == 0:
                return f" (did you mean {known}()?)"
            return f" (did you mean {known}({size or 'n'})?)"
    return ""


# -- reps ----------------------------------------------------------------------
_Value = Union[int, Rep]


def parse_rep(text: str, group: Group) -> Rep:
    """The rep of ``group`` written by ``text``, an expression over ``V`` in Python's syntax.

    Atoms ``V``, ``V[i]`` (``cn.V(group, factor=i)`` of a product group),
    ``Scalar``, ``PseudoScalar`` and integers; operators ``.T``, ``**``,
    ``*``, ``+`` and ``>>`` by Python's precedence (see the module grammar).
    The result equals the expression evaluated in Python with
    ``V = cn.V(group)``, so a rep's repr parses back to it wherever that
    repr is a faithful Python expression.

    Args:
        text: the expression.
        group: the group the atoms are bound to.

    Returns:
        The :class:`~constrainnet.reps.Rep`.

    Raises:
        ParseError: a syntax error, an unknown name, an operator applied to
            the wrong kind of operand or an out-of-range integer; the message
            gives the position, what was expected and what was found.
        TypeError: ``text`` is not a str or ``group`` not a Group.

    Example:
        >>> from constrainnet.groups import SO, S
        >>> parse_rep("V**2 >> V", SO(3)).size
        27
        >>> parse_rep("V[0]*V[1]", SO(3) * S(4)).size
        12
        >>> parse_rep("V**2 >> ", SO(3))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        constrainnet.errors.ParseError: expected V, V[i], ... at position 8 of 'V**2 >> ', found end of input
    """
    if not isinstance(group, Group):
        raise TypeError(f"parse_rep: expected a constrainnet Group, got {type(group).__name__}")
    p = _Parser(text, "parse_rep")
    value = _RepGrammar(p, group).expr()
    p.finish()
    if not isinstance(value, Rep):
        raise p.fail(f"expected a rep expression, found the integer {value}", p.tokens[0].pos)
    return value


class _RepGrammar:
    def __init__(self, p: _Parser, group: Group) -> None:
        self.p = p
        self.G = group

    def apply(self, op: _Token, fn: Callable[[], _Value]) -> _Value:
        """Apply a rep-algebra operation, turning its errors into a ParseError at ``op``."""
        try:
            value = fn()
        except ConstrainnetError as exc:
            where = f" (operator {op.text!r})" if op.kind == "op" else ""
            raise self.p.fail(f"{exc}{where}", op.pos) from exc
        if isinstance(value, int):
            self.p.check_int(value, op.pos)
        return value

    def need_reps(self, op: _Token, a: _Value, b: _Value, meaning: str) -> None:
        for side, v in (("left", a), ("right", b)):
            if not isinstance(v, Rep):
                message = f"{op.text!r} ({meaning}): expected a rep on the {side}, found the integer {v}"
                raise self.p.fail(message, op.pos)

    def expr(self) -> _Value:
        value = self.sum()
        while (op := self.p.accept(">>")) is not None:
            right = self.sum()
            self.need_reps(op, value, right, "linear maps")
            value = self.apply(op, lambda a=value, b=right: a >> b)
        return value

    def sum(self) -> _Value:
        # A chain of reps is summed once at the end (direct sums are associative):
        # adding one term at a time would copy the growing sum at every '+'.
        value = self.term()
        terms: list[Rep] = []
        last = None
        while (op := self.p.accept("+")) is not None:
            right = self.term()
            if isinstance(value, int) and isinstance(right, int):  # int + int is arithmetic
                value = self.apply(op, lambda a=value, b=right: a + b)
                continue
            self.need_reps(op, value, right, "direct sum")
            terms.append(right)
            last = op
        if last is None:
            return value
        return self.apply(last, lambda: direct_sum(value, *terms))

    def term(self) -> _Value:
        value = self.power()
        count = 1
        while (op := self.p.accept("*")) is not None:
            count += 1
            if count > MAX_FACTORS:
                raise self.p.fail(f"too many factors in a product: expected at most {MAX_FACTORS}", op.pos)
            right = self.power()
            value = self.apply(op, lambda a=value, b=right: operator.mul(a, b))
        return value

    def power(self) -> _Value:
        base = self.postfix()
        op = self.p.accept("**")
        if op is None:
            return base
        with self.p.nested(op):
            exponent = self.power()
        if not isinstance(exponent, int):
            raise self.p.fail(f"'**': expected a non-negative integer exponent, found the rep {exponent!r}", op.pos)
        limit = MAX_EXPONENT if isinstance(base, Rep) else _MAX_INT_EXPONENT
        if exponent > limit:
            raise self.p.fail(f"'**': expected an exponent of at most {limit}, got {exponent}", op.pos)
        return self.apply(op, lambda: base**exponent)

    def postfix(self) -> _Value:
        value = self.atom()
        while (dot := self.p.accept(".")) is not None:
            if self.p.tok.kind != "name" or self.p.tok.text != "T":
                raise self.p.error("'T' after '.' (the dual, rep.T)")
            self.p.advance()
            if not isinstance(value, Rep):
                raise self.p.fail(f"'.T': expected a rep, found the integer {value}", dot.pos)
            value = value.T
        return value

    def atom(self) -> _Value:
        p = self.p
        tok = p.tok
        if tok.kind == "int":
            return p.integer("an integer")
        if p.accept("("):
            with p.nested(tok):
                value = self.expr()
            p.expect(")", "')' or an operator")
            return value
        if tok.kind == "name":
            p.advance()
            if tok.text == "V":
                if p.accept("[") is None:
                    return V(self.G)
                factor = p.integer("a factor index, as in V[0]")
                p.expect("]")
                return self.apply(tok, lambda: V(self.G, factor=factor))
            if tok.text == "Scalar":
                return Scalar(self.G)
            if tok.text == "PseudoScalar":
                return PseudoScalar(self.G)
            where = f"at position {tok.pos} of {p.text!r}"
            raise ParseError(f"unknown name {tok.text!r} {where}; expected {_REP_NAMES}", p.text, tok.pos)
        if tok.text == "-":
            where = f"at position {tok.pos} of {p.text!r}"
            raise ParseError(f"a rep has no negative multiples or minus sign {where}; expected {_REP_NAMES}, found '-'", p.text, tok.pos)
        raise p.error(_REP_NAMES)
