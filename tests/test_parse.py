"""Safe parsing of group names and rep expressions: Python semantics, round trips, error messages."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import constrainnet as cn
from constrainnet.errors import ConstrainnetError, ParseError
from constrainnet.groups import C, D, Lorentz, O, P4M, ProductGroup, S, SO, Trivial, Z
from constrainnet.parse import MAX_EXPONENT, MAX_FACTORS, MAX_INT, MAX_TEXT_LENGTH, parse_group, parse_rep
from constrainnet.reps import direct_sum
from constrainnet.reps.limits import MAX_TENSOR_ORDER
from constrainnet.testing.strategies import GROUP_ZOO, reps

# -- groups ----------------------------------------------------------------------
GROUP_NAMES = [
    ("SO(3)", lambda: SO(3)),
    ("O(2)", lambda: O(2)),
    ("SO(2)", lambda: SO(2)),
    ("O(3)", lambda: O(3)),
    ("C(4)", lambda: C(4)),
    ("Z(6)", lambda: Z(6)),
    ("D(4)", lambda: D(4)),
    ("S(5)", lambda: S(5)),
    ("P4M(8)", lambda: P4M(8)),
    ("Trivial(3)", lambda: Trivial(3)),
    ("Lorentz()", lambda: Lorentz()),
    ("Lorentz", lambda: Lorentz()),
    ("SO(3)*S(4)", lambda: SO(3) * S(4)),
    ("SO(3) × S(4)", lambda: SO(3) * S(4)),
    (" ( SO( 3 ) * S(4) ) * Z(2) ", lambda: SO(3) * S(4) * Z(2)),
]


@pytest.mark.parametrize("text, build", GROUP_NAMES, ids=[t for t, _ in GROUP_NAMES])
def test_parse_group_names(text, build):
    assert parse_group(text) == build()


@pytest.mark.parametrize("key", sorted(GROUP_ZOO))
def test_group_repr_round_trip(key):
    G = GROUP_ZOO[key]()
    assert parse_group(repr(G)) == G


GROUP_ERRORS = [
    # text, fragments of the message, position
    ("SO3x", ["unknown group 'SO3x'", "expected one of SO(n), O(n)"], 0),
    ("SO3", ["unknown group 'SO3'", "did you mean SO(3)?"], 0),
    ("so(3)", ["unknown group 'so'", "did you mean SO(n)?"], 0),
    ("SO(", ["expected a positive integer size of SO", "found end of input"], 3),
    ("SO(3", ["expected ')'", "found end of input"], 4),
    ("SO", ["expected '(' and a size after SO", "found end of input"], 2),
    ("SO(0)", ["SO(n): expected 1 <= n <= 64, got 0"], 3),
    ("SO(1000)", ["expected 1 <= n <= 64, got 1000"], 3),
    ("Lorentz(4)", ["Lorentz takes no size", "found integer 4"], 8),
    ("SO(3)*", ["expected a group name", "found end of input"], 6),
    ("SO(3) S(4)", ["expected an operator or end of input", "found 'S'"], 6),
    ("", ["expected a group name", "found end of input"], 0),
    ("SO(3.5)", ["expected ')'", "found '.'"], 4),
    ("SO($)", ["unexpected character '$'"], 3),
    ("__import__('os')", ["unexpected character \"'\""], 11),
    ("(" * 100 + "SO(3)" + ")" * 100, ["too deeply nested"], 65),
]


@pytest.mark.parametrize("text, fragments, position", GROUP_ERRORS, ids=[repr(t[0])[:20] for t in GROUP_ERRORS])
def test_parse_group_errors(text, fragments, position):
    with pytest.raises(ParseError) as info:
        parse_group(text)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message
    assert f"at position {position} of {text!r}" in message
    assert info.value.position == position and info.value.text == text
    assert "\n" not in message


def test_parse_error_is_in_the_error_family():
    assert issubclass(ParseError, ConstrainnetError) and issubclass(ParseError, ValueError)
    with pytest.raises(ValueError):
        parse_group("nope")
    with pytest.raises(TypeError, match="expected a str, got int"):
        parse_group(3)


# -- reps: Python semantics -----------------------------------------------------------
def _atoms(G):
    return cn.V(G), cn.Scalar(G), cn.PseudoScalar(G)


PRECEDENCE = [
    # text, the same expression built in Python
    ("V", lambda V, Sc, P: V),
    ("V**0", lambda V, Sc, P: Sc),
    ("Scalar", lambda V, Sc, P: Sc),
    ("PseudoScalar", lambda V, Sc, P: P),
    ("5*V**0+5*V >> V", lambda V, Sc, P: 5 * V**0 + 5 * V >> V),
    ("(5*Scalar + 5*V) >> V", lambda V, Sc, P: (5 * V**0 + 5 * V) >> V),
    ("2*V**2", lambda V, Sc, P: 2 * (V**2)),
    ("V**2*3", lambda V, Sc, P: (V**2) * 3),
    ("2*V*PseudoScalar", lambda V, Sc, P: (2 * V) * P),  # Python reads (2*V)*P, not 2*(V*P)
    ("V + V >> V", lambda V, Sc, P: (V + V) >> V),
    ("V >> V + V", lambda V, Sc, P: V >> (V + V)),
    ("V >> V >> V", lambda V, Sc, P: (V >> V) >> V),
    ("V**2**2", lambda V, Sc, P: V ** (2**2)),
    ("V.T**2", lambda V, Sc, P: (V.T) ** 2),
    ("(V + PseudoScalar).T", lambda V, Sc, P: (V + P).T),
    ("V.T.T", lambda V, Sc, P: V),
    ("2*3*V", lambda V, Sc, P: 6 * V),
    ("V**(1+1)", lambda V, Sc, P: V**2),
    ("(V+PseudoScalar)*V", lambda V, Sc, P: (V + P) * V),
    ("2*(V*PseudoScalar)", lambda V, Sc, P: 2 * (V * P)),
    ("  V\t*  PseudoScalar\n", lambda V, Sc, P: V * P),
]


@pytest.mark.parametrize("group", ["SO3", "O3", "Lorentz", "D4", "S4"])
@pytest.mark.parametrize("text, build", PRECEDENCE, ids=[t.strip() for t, _ in PRECEDENCE])
def test_parse_rep_follows_python(group, text, build):
    G = GROUP_ZOO[group]()
    assert parse_rep(text, G) == build(*_atoms(G))


def test_factor_reps_of_a_product():
    G = SO(3) * S(4)
    assert parse_rep("V[0]*V[1]", G) == cn.V(G, factor=0) * cn.V(G, factor=1)
    assert parse_rep("V[0]*V[1] >> V[0]", G).size == 36
    assert parse_rep("V", G) == cn.V(G)


@st.composite
def _expressions(draw, G, depth=3):
    """A (text, rep) pair: random expression text and the rep Python builds from it."""
    V, Sc, P = _atoms(G)
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from([("V", V), ("Scalar", Sc), ("PseudoScalar", P), ("V**0", Sc), ("V.T", V.T)]))
    op = draw(st.sampled_from(["+", "*", ">>", "n*", "*n", "**", ".T"]))
    ta, a = draw(_expressions(G, depth - 1))
    space = draw(st.sampled_from(["", " "]))
    if op in ("+", "*", ">>"):
        tb, b = draw(_expressions(G, depth - 1))
        rep = a + b if op == "+" else (a * b if op == "*" else a >> b)
        return f"({ta}){space}{op}{space}({tb})", rep
    if op == ".T":
        return f"({ta}).T", a.T
    n = draw(st.integers(1, 3) if op != "**" else st.integers(0, 2))
    if op == "n*":
        return f"{n}{space}*{space}({ta})", n * a
    if op == "*n":
        return f"({ta}){space}*{space}{n}", a * n
    return f"({ta})**{n}", a**n


@pytest.mark.parametrize("group", ["SO3", "O2", "Lorentz", "C4xS3", "Z5"])
def test_parse_rep_equals_python_on_random_expressions(group):
    G = GROUP_ZOO[group]()

    @settings(max_examples=40)
    @given(_expressions(G))
    def check(pair):
        text, rep = pair
        assert parse_rep(text, G) == rep

    check()


# -- reps: repr round trip -----------------------------------------------------------
@pytest.mark.parametrize("group", sorted(GROUP_ZOO))
def test_repr_round_trip(group):
    G = GROUP_ZOO[group]()

    @settings(max_examples=30)
    @given(reps(G))
    def check(rep):
        assert parse_rep(repr(rep), G) == rep

    check()


def test_repr_round_trip_examples():
    G = SO(3)
    V = cn.V(G)
    rep = 5 * V**0 + 5 * V >> V
    assert repr(rep) == "(5*Scalar + 5*V) >> V"
    assert parse_rep(repr(rep), G) == rep
    P = SO(3) * S(4)
    points = cn.V(P, factor=0) * cn.V(P, factor=1)
    assert parse_rep(repr(points >> points), P) == points >> points


@pytest.mark.parametrize("which", ["hom-in-sum", "multiple-of-tensor"])
def test_reprs_that_need_parentheses_round_trip(which):
    G = SO(3)
    V, P = cn.V(G), cn.PseudoScalar(G)
    rep = (V >> V) + V if which == "hom-in-sum" else 2 * (V * P)  # repr: "(V >> V) + V", "2*(V*PseudoScalar)"
    assert parse_rep(repr(rep), G) == rep


# -- reps: errors ------------------------------------------------------------------
REP_ERRORS = [
    # text, fragments, position
    ("V**2 >>", ["expected V, V[i], Scalar, PseudoScalar, an integer or '('", "found end of input"], 7),
    ("", ["found end of input"], 0),
    ("W", ["unknown name 'W'", "expected V, V[i]"], 0),
    ("V+2", ["'+' (direct sum): expected a rep on the right, found the integer 2"], 1),
    ("2>>V", ["'>>' (linear maps): expected a rep on the left"], 1),
    ("0*V", ["multiplicity: expected a positive int, got 0"], 1),
    ("V**-1", ["found '-'"], 3),
    ("V**V", ["expected a non-negative integer exponent, found the rep V"], 1),
    ("V**40", ["expected an exponent of at most 32, got 40"], 1),
    ("9**9**9", ["integer too large: expected at most 1000000"], 4),
    ("1" * 5000 + "*V", ["integer too large"], 0),
    ("V.X", ["expected 'T' after '.'", "found 'X'"], 2),
    ("2.T", ["'.T': expected a rep, found the integer 2"], 1),
    ("(V", ["expected ')' or an operator", "found end of input"], 2),
    ("V)", ["expected an operator or end of input", "found ')'"], 1),
    ("V V", ["expected an operator or end of input", "found 'V'"], 2),
    ("V $", ["unexpected character '$'"], 2),
    ("2", ["expected a rep expression, found the integer 2"], 0),
    ("V[0]", ["expected a product group"], 0),
    ("V[", ["expected a factor index"], 2),
    ("__import__('os').system('true')", ["unexpected character \"'\""], 11),  # tokenized first: nothing runs
    ("__import__(V)", ["unknown name '__import__'"], 0),
    ("V.__class__", ["expected 'T' after '.'", "found '__class__'"], 2),
    ("(" * 100 + "V" + ")" * 100, ["too deeply nested"], 64),
    ("V" + "**1" * 300, ["too deeply nested"], 193),
]


@pytest.mark.parametrize("text, fragments, position", REP_ERRORS, ids=[repr(t[0])[:20] for t in REP_ERRORS])
def test_parse_rep_errors(text, fragments, position):
    with pytest.raises(ParseError) as info:
        parse_rep(text, SO(3))
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message
    assert f"at position {position} of " in message
    assert info.value.position == position


def test_factor_index_out_of_range():
    with pytest.raises(ParseError, match=r"factor: expected an int in \[0, 2\), got 2 at position 0"):
        parse_rep("V[2]", SO(3) * S(2))


def test_parse_rep_argument_types():
    with pytest.raises(TypeError, match="expected a constrainnet Group"):
        parse_rep("V", "SO(3)")
    with pytest.raises(TypeError, match="expected a str"):
        parse_rep(None, SO(3))
    assert MAX_INT == 1_000_000


@pytest.mark.parametrize("text", ["SO(3)*SO(2)", "SO(2)*Trivial(1)"])
def test_products_of_groups_without_discrete_generators(text):
    assert parse_group(text).d == sum(f.d for f in parse_group(text).factors)


# -- bounded work: long products, long texts, large reps ------------------------------------
def test_long_group_product_is_built_once(monkeypatch):
    import constrainnet.parse as parse_module

    calls = []

    def counting_product(*factors):
        calls.append(len(factors))
        return ProductGroup(*factors)

    monkeypatch.setattr(parse_module, "ProductGroup", counting_product)
    G = parse_group("*".join(["S(3)"] * 640))
    assert calls == [640]  # one product of all factors, not 639 growing ones
    assert len(G.factors) == 640 and G.d == 1920 and G == ProductGroup(*[S(3)] * 640)


def test_long_rep_sum_is_built_once(monkeypatch):
    import constrainnet.parse as parse_module

    calls = []

    def counting_sum(*reps):
        calls.append(len(reps))
        return direct_sum(*reps)

    monkeypatch.setattr(parse_module, "direct_sum", counting_sum)
    G = SO(3)
    V, P = cn.V(G), cn.PseudoScalar(G)
    rep = parse_rep("+".join(["V", "PseudoScalar"] * 320), G)
    assert calls == [640]
    assert rep == direct_sum(*[V, P] * 320) and rep.size == 1280


def test_long_rep_product_parses():
    G = SO(3)
    assert parse_rep("*".join(["Scalar"] * 640), G) == cn.Scalar(G)
    assert parse_rep("*".join(["Scalar"] * 320 + ["V"] * 3 + ["Scalar"] * 317), G) == cn.V(G) ** 3


@pytest.mark.parametrize(
    "parse, text, fragment",
    [
        (parse_group, "Z(1)*" * MAX_FACTORS + "Z(1)", f"too many factors in a product: expected at most {MAX_FACTORS}"),
        (lambda t: parse_rep(t, SO(3)), "Scalar*" * MAX_FACTORS + "V", f"too many factors in a product: expected at most {MAX_FACTORS}"),
        (parse_group, "Z(1)*" * 2500, f"parse_group: expected a text of at most {MAX_TEXT_LENGTH} characters, got 12500"),
        (lambda t: parse_rep(t, SO(3)), "V+" * 5000 + "V", f"parse_rep: expected a text of at most {MAX_TEXT_LENGTH} characters, got 10001"),
    ],
    ids=["group-factors", "rep-factors", "group-text", "rep-text"],
)
def test_too_long_input_is_refused(parse, text, fragment):
    with pytest.raises(ParseError) as info:
        parse(text)
    assert fragment in str(info.value)


def test_product_chain_has_the_bound_of_the_power():
    assert MAX_EXPONENT == MAX_TENSOR_ORDER
    with pytest.raises(ParseError, match=r"expected an exponent of at most 32, got 40"):
        parse_rep("V**40", Trivial(1))
    text = "*".join(["V"] * 40)
    with pytest.raises(ParseError, match=r"tensor product: expected a tensor order of at most 32, got 33 \(.*at position 63 of"):
        parse_rep(text, Trivial(1))
    with pytest.raises(ParseError, match=r"tensor product: expected a rep of size at most 2147483648 .*got size 3486784401"):
        parse_rep(text, SO(3))
    with pytest.raises(ParseError, match=r"Hom \(>>\): expected a tensor order of at most 32, got 34"):
        parse_rep("V**17 >> V**17", Trivial(1))


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("S(10000)*S(3)", "ProductGroup of 2 factors: expected a defining dimension d ≤ 10000, got d = 10003"),
        ("*".join(["C(3)"] * 300), "expected at most 100000000 entries in the generator stacks, got 300 generators of 600×600"),
    ],
    ids=["dimension", "dense-generators"],
)
def test_group_products_beyond_the_limits(text, fragment):
    with pytest.raises(ParseError) as info:
        parse_group(text)
    assert fragment in str(info.value) and info.value.position == 0


@pytest.mark.parametrize(
    "text, expected",
    [
        ("GL(3)", lambda g: g.GL(3)), ("SL(2)", lambda g: g.SL(2)), ("Sp(2)", lambda g: g.Sp(2)),
        ("U(2)", lambda g: g.U(2)), ("SU(3)", lambda g: g.SU(3)), ("Rot90(4)", lambda g: g.Rot90(4)),
        ("SO13p()", lambda g: g.SO13p()), ("SO13", lambda g: g.SO13()), ("O13()", lambda g: g.O13()),
        ("Cube()", lambda g: g.Cube()), ("RubiksCube", lambda g: g.RubiksCube()),
        ("Sp(1) * Z(3)", lambda g: g.Sp(1) * g.Z(3)),
    ],
)  # fmt: skip
def test_parse_group_knows_emlps_families(text, expected):
    import constrainnet.groups as groups

    assert parse_group(text) == expected(groups)


@pytest.mark.parametrize("text, fragment", [("Sp(99)", "Sp(n): expected 1 <= n <= 32, got 99"), ("Cube(3)", "Cube takes no size"), ("GL(0)", "GL(n): expected 1 <= n")])
def test_parse_group_bounds_of_new_families(text, fragment):
    with pytest.raises(ParseError, match=re.escape(fragment)):
        parse_group(text)
