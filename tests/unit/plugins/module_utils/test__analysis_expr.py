# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import math

import pytest

from ansible_collections.openrollout.k8s.plugins.module_utils._analysis_expr import (
    ExpressionError,
    compile_expression,
    evaluate_condition,
    type_name,
)

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    HAS_HYPOTHESIS = True
except ImportError:  # pragma: no cover - hypothesis is in requirements-dev.txt
    HAS_HYPOTHESIS = False

NAN = float("nan")
INF = float("inf")
APDEX = {"service_apdex": {"label": None, "values": {"values": [2.0, 2.0]}}}


# Conditions as Argo Rollouts documents them, with the value its provider would hand over.
# docs/features/analysis.md, docs/analysis/web.md, docs/analysis/prometheus.md, the Metric type's
# comment (pkg/apis/rollouts/v1alpha1) and utils/evaluate/evaluate_test.go.
@pytest.mark.parametrize(
    ("condition", "result", "expected"),
    [
        # analysis.md: background analysis, inline analysis, multiple templates (Prometheus vectors)
        ("result[0] >= 0.95", [0.96], True),
        ("result[0] >= 0.95", [0.95], True),
        ("result[0] >= 0.95", [0.9412], False),
        ("result[0] <= 0.95", [0.01], True),
        # analysis.md: failure conditions and failure limit
        ("result[0] >= 10", [12.0], True),
        ("result[0] >= 10", [3.0], False),
        # analysis.md: inconclusive runs
        ("result[0] >= 0.90", [0.7], False),
        ("result[0] < 0.50", [0.7], False),
        # analysis.md: NaN and infinity (scalar results)
        ("isNaN(result) || result >= 0.95", NAN, True),
        ("result >= 0.95", NAN, False),
        ("result < 0.95", NAN, False),
        ("result >= 0.95", INF, True),
        ("isInf(result)", INF, True),
        ("isInf(result)", -INF, True),
        ("isInf(result)", 0.5, False),
        # analysis.md: empty array (no data from Prometheus)
        ("len(result) == 0 || result[0] >= 0.95", [], True),
        ("len(result) > 0 && result[0] >= 0.95", [], False),
        ("len(result) > 0 && result[0] >= 0.95", [0.99], True),
        # analysis.md: Datadog's nil result
        ("default(result, 0) < 0.05", None, True),
        ("default(result, 0) < 0.05", 0.2, False),
        # analysis.md: args example (web metric, a string result)
        ("result == 'true'", "true", True),
        ("result == 'true'", "false", False),
        # web.md
        ("result == true", True, True),
        ("result.ok && result.successPercent >= 0.90", {"ok": True, "successPercent": 0.95}, True),
        ("result.ok && result.successPercent >= 0.90", {"ok": False, "successPercent": 0.95}, False),
        ("asInt(result) > 5", "7", True),
        ("asFloat(result) >= 0.9", "0.95", True),
        # the Metric type's comment
        ("result > 10", 11, True),
        (
            "(result.requests_made * result.requests_succeeded / 100) >= 90",
            {"requests_made": 100, "requests_succeeded": 95},
            True,
        ),
        # the brief's own examples
        ("result.ok == true", {"ok": True}, True),
        ("len(result) > 0", [1.0], True),
        ("isNaN(result)", NAN, True),
        ("isNaN(result)", 1.0, False),
        # evaluate_test.go
        ("result == true", True, True),
        ("result == false", True, False),
        ("all(result.service_apdex.values.values, {# > 1})", APDEX, True),
        ("2 in result", [2.0, 2.0], True),
        ("result > 1", 5.0, True),
        ("asInt(result) == 1", "1", True),
        ("asInt(result) == 1", 1, True),
        ("asInt(result) == 1", 1.123, True),
        ("asFloat(result) == 1.1", "1.1", True),
        ("asFloat(result) >= 1.1", "1.1", True),
        ("asFloat(result) <= 1.1", "1.1", True),
        ("asFloat(result) == 1.1", 1.1, True),
        ("asFloat(result) == 1", 1, True),
        ("asFloat(result) >= 1", 1, True),
        ("true", True, True),
        ("false", True, False),
    ],
)
def test_argo_documented_conditions(condition, result, expected):
    assert evaluate_condition(condition, result) is expected


# evaluate_test.go's error cases: each is an ExpressionError (a measurement in Error).
@pytest.mark.parametrize(
    ("condition", "result", "reason"),
    [
        ("1", True, "expected bool, but got int 1"),
        ("invalidVariable", True, "unknown name invalidVariable (the only variable is result)"),
        ("result.Name() == 'hi'", True, "method calls such as .Name() are not supported"),
        ("asInt(result) == 1.1", "1.1", 'asInt() cannot parse "1.1" as an int'),
        ("asFloat(result) == 1.1", "NotANum", 'asFloat() cannot parse "NotANum" as a float'),
        ('asFloat(result) == "1.1"', "1.1", "invalid operation: == (mismatched types float and string)"),
        ("a == true", True, "unknown name a (the only variable is result)"),
        # analysis.md, Datadog: nil compared with a number
        ("result < 0.05", None, "invalid operation: < (mismatched types nil and float)"),
    ],
)
def test_argo_documented_errors(condition, result, reason):
    with pytest.raises(ExpressionError) as err:
        evaluate_condition(condition, result)
    assert err.value.reason == reason


@pytest.mark.parametrize(
    ("expression", "result", "expected"),
    [
        # literals
        ("42", None, 42),
        ("0x2A", None, 42),
        ("0o52", None, 42),
        ("0b101010", None, 42),
        ("1_000", None, 1000),
        ("0.5", None, 0.5),
        (".5", None, 0.5),
        ("1e3", None, 1000.0),
        ("2.5e-1", None, 0.25),
        ('"a\\tb"', None, "a\tb"),
        ("'it\\'s'", None, "it's"),
        ('"\\u00e9\\x41"', None, "\u00e9A"),
        ("`raw \\n`", None, "raw \\n"),
        ("nil", 1, None),
        ("[1, 'a', nil, true,]", None, [1, "a", None, True]),
        ("{a: 1, 'b c': 2}", None, {"a": 1, "b c": 2}),
        ("[]", None, []),
        ("{}", None, {}),
        # arithmetic, Go's rules
        ("1 + 2 * 3", None, 7),
        ("(1 + 2) * 3", None, 9),
        ("7 / 2", None, 3.5),
        ("6 / 3", None, 2.0),
        ("7 % 3", None, 1),
        ("-7 % 3", None, -1),
        ("7 % -3", None, 1),
        ("2 ** 10", None, 1024.0),
        ("2 ^ 3 ^ 2", None, 512.0),
        ("-2 ** 2", None, -4.0),
        ("10 - 2 - 3", None, 5),
        ("-result", 3, -3),
        ("+result", 3, 3),
        ("--1", None, 1),
        ("1 + 0.5", None, 1.5),
        ("'a' + 'b'", None, "ab"),
        ("[1] + [2]", None, [1, 2]),
        # comparison
        ("1 == 1.0", None, True),
        ("1 != 2", None, True),
        ("'a' < 'b'", None, True),
        ("nil == nil", None, True),
        ("result == nil", None, True),
        ("result == nil", 0, False),
        ("result != nil", {"a": 1}, True),
        ("[1, 2] == [1.0, 2]", None, True),
        ("{a: 1} == {a: 1}", None, True),
        ("[1, 'a'] == [1, 2]", None, False),
        # logic: words and symbols, short-circuit
        ("true && false", None, False),
        ("true and true", None, True),
        ("false || true", None, True),
        ("false or false", None, False),
        ("!true", None, False),
        ("not false", None, True),
        ("not true or true", None, True),  # unary not binds tighter than or
        ("!(1 > 2)", None, True),
        ("false && result[5] > 0", [], False),
        ("true || result[5] > 0", [], True),
        ("1 < 2 && 2 < 3 || false", None, True),
        ("true || false && false", None, True),  # && binds tighter than ||
        # membership and strings
        ("'a' in ['a', 'b']", None, True),
        ("'c' in ['a', 'b']", None, False),
        ("'c' not in ['a', 'b']", None, True),
        ("'ok' in result", {"ok": 1}, True),
        ("1 in result", [1.0, 2.0], True),
        ("'1' in result", [1.0, 2.0], False),
        ("'hello' contains 'ell'", None, True),
        ("'hello' not contains 'x'", None, True),
        ("'hello' startsWith 'he'", None, True),
        ("'hello' endsWith 'lo'", None, True),
        ("'hello' matches '^h.*o$'", None, True),
        ("'hello' not matches '^x'", None, True),
        ("result matches '5..'", "503", True),
        # member access, indexing, slices
        ("result.a.b", {"a": {"b": 3}}, 3),
        ('result["a"]["b"]', {"a": {"b": 3}}, 3),
        ("result.missing", {"a": 1}, None),
        ("result.missing == nil", {"a": 1}, True),
        ("result?.a", None, None),
        ("result?.a", {"a": 2}, 2),
        ("result.a?.b", {"a": None}, None),
        ("result[0]", [5, 6], 5),
        ("result[-1]", [5, 6], 6),
        ("result[1 + 0]", [5, 6], 6),
        ("result[0][1]", [[1, 2]], 2),
        ("result[1:3]", [0, 1, 2, 3], [1, 2]),
        ("result[:2]", [0, 1, 2, 3], [0, 1]),
        ("result[2:]", [0, 1, 2, 3], [2, 3]),
        ("result[:]", [0, 1], [0, 1]),
        ("result[1:-1]", [0, 1, 2, 3], [1, 2]),
        ("result[0]", "abc", "a"),
        ("result[1:]", "abc", "bc"),
        ("result['k']", {"k": "v"}, "v"),
        ("result.values", {"values": [1]}, [1]),  # a field named like a function
        # conditional, nil coalescing, range
        ("result > 1 ? 'big' : 'small'", 5, "big"),
        ("result > 1 ? 'big' : 'small'", 0, "small"),
        ("true ? 1 : false ? 2 : 3", None, 1),
        ("result ?? 7", None, 7),
        ("result ?? 7", 0, 0),
        ("result.a ?? 'none'", {}, "none"),
        ("1..3", None, [1, 2, 3]),
        ("len(1..10)", None, 10),
        # comments and whitespace
        ("result > 1 // more than one", 2, True),
        ("/* first */ result[0]\n  >= 0.95\n", [0.99], True),
    ],
)
def test_language(expression, result, expected):
    value = compile_expression(expression).evaluate(result)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("expression", "result", "expected"),
    [
        ("all(result, # > 0)", [1, 2], True),
        ("all(result, {# > 1})", [1, 2], False),
        ("all(result, # > 0)", [], True),
        ("any(result, # > 1)", [1, 2], True),
        ("any(result, # > 5)", [], False),
        ("none(result, # > 5)", [1, 2], True),
        ("one(result, # > 1)", [1, 2, 0], True),
        ("one(result, # > 0)", [1, 2], False),
        ("filter(result, # % 2 == 0)", [1, 2, 3, 4], [2, 4]),
        ("map(result, # * 2)", [1, 2], [2, 4]),
        ("map(result, {.name})", [{"name": "a"}, {"name": "b"}], ["a", "b"]),
        ("all(result, .ok)", [{"ok": True}, {"ok": True}], True),
        ("count(result, .code >= 500)", [{"code": 200}, {"code": 503}, {"code": 500}], 2),
        ("count(result)", [True, False, True], 2),
        ("len(filter(result, # > 0.5)) > 1", [0.9, 0.7, 0.1], True),
        ("all(result, {all(#, # > 0)})", [[1, 2], [3]], True),  # nested: # is the innermost
        ("any(result, # == result[0])", [3, 4], True),  # result is still reachable
        ("all(result.service_apdex.values.values, {# > 1})", APDEX, True),
    ],
)
def test_predicates(expression, result, expected):
    assert compile_expression(expression).evaluate(result) == expected


@pytest.mark.parametrize(
    ("expression", "result", "expected"),
    [
        ("len(result)", [1, 2, 3], 3),
        ("len(result)", "abcd", 4),
        ("len(result)", {"a": 1}, 1),
        ("abs(-2)", None, 2),
        ("abs(-2.5)", None, 2.5),
        ("ceil(1.2)", None, 2.0),
        ("floor(1.8)", None, 1.0),
        ("ceil(3)", None, 3),
        ("round(2.5)", None, 3.0),  # half away from zero, as Go's math.Round
        ("round(-2.5)", None, -3.0),
        ("round(2.4)", None, 2.0),
        ("int(3.9)", None, 3),
        ("int('42')", None, 42),
        ("float('1.5')", None, 1.5),
        ("float(2)", None, 2.0),
        ("string(1.0)", None, "1"),
        ("string(0.25)", None, "0.25"),
        ("string(true)", None, "true"),
        ("string(nil)", None, "<nil>"),
        ("max(1, 5, 3)", None, 5),
        ("min(result)", [4, 2, 8], 2),
        ("max(result)", [0.1, 0.9], 0.9),
        ("sum(result)", [1, 2, 3.5], 6.5),
        ("sum(result)", [], 0),
        ("mean(result)", [1, 2, 3], 2.0),
        ("first(result)", [7, 8], 7),
        ("first(result)", [], None),
        ("last(result)", [7, 8], 8),
        ("keys(result)", {"b": 1, "a": 2}, ["a", "b"]),
        ("values(result)", {"b": 1, "a": 2}, [2, 1]),
        ("lower('AbC')", None, "abc"),
        ("upper('AbC')", None, "ABC"),
        ("trim('  x ')", None, "x"),
        ("trim('__x__', '_')", None, "x"),
        ("hasPrefix('hello', 'he')", None, True),
        ("hasSuffix('hello', 'xo')", None, False),
        # Argo's functions
        ("asInt(result)", "-12", -12),
        ("asInt(result)", 3.99, 3),
        ("asFloat(result)", "1e-3", 0.001),
        ("isNaN(asFloat(result))", "NaN", True),
        ("isInf(asFloat(result))", "+Inf", True),
        ("isNaN(result)", 3, False),
        ("isNil(result)", None, True),
        ("isNil(result)", [], False),
        ("isNil(result.a)", {"a": None}, True),
        ("default(result, 5)", None, 5),
        ("default(result, 5)", 0, 0),
        ("default(result.a, 'x')", {}, "x"),
    ],
)
def test_functions(expression, result, expected):
    value = compile_expression(expression).evaluate(result)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("expression", "result", "expected"),
    [
        ("1 / 0", None, INF),
        ("-1 / 0", None, -INF),
        ("result / 0", 0.0, NAN),
        ("0 ** -1", None, INF),
        ("10.0 ** 400", None, INF),
        ("(-8) ** 0.5", None, NAN),
    ],
)
def test_floats_as_go(expression, result, expected):
    value = compile_expression(expression).evaluate(result)
    if math.isnan(expected):
        assert math.isnan(value)
    else:
        assert value == expected


# Every error names where it is: the column of the offending token (1-based).
@pytest.mark.parametrize(
    ("expression", "result", "reason", "column"),
    [
        # syntax
        ("", None, "empty expression", 1),
        ("result[0] >=", [1], "unexpected end of the expression: an operand is missing", 13),
        ("result[0", [1], "expected ']' to close '[', found the end of the expression", 9),
        ("(result > 1", 1, "expected ')' to close '(', found the end of the expression", 12),
        ("result > 1)", 1, "unexpected ')' after a complete expression", 11),
        ("result = 1", 1, "unexpected '=': compare with ==", 8),
        ("result | len()", 1, "the pipe operator | is not supported (use || for 'or')", 8),
        ("result & 1", 1, "unexpected '&': use && for 'and'", 8),
        ("let x = 1; x", 1, "let is not supported", 1),
        ("$env['result']", 1, "$env and $-variables are not supported: the only variable is result", 1),
        ("result @ 1", 1, "unexpected character '@'", 8),
        ("'abc", 1, "unclosed string", 1),
        ("'a\\qb'", 1, "invalid escape \\q in string", 3),
        ("1 > 2 ? 3", 1, "expected ':' in a ternary a ? b : c, found the end of the expression", 10),
        ("result and", 1, "unexpected end of the expression: an operand is missing", 11),
        ("and result", 1, "unexpected 'and': an operand is missing", 1),
        ("result.", {}, "expected a field name after '.', found the end of the expression", 8),
        ("12abc > 1", 1, "invalid number '12a'", 1),
        ("/* open", 1, "unclosed comment", 1),
        ("[1, 2", 1, "expected ',' or ']' in an array, found the end of the expression", 6),
        ("{a 1}", 1, "expected ':' after a map key, found number 1", 4),
        # names and functions, found when parsing
        ("results[0] > 1", [1], "unknown name results (the only variable is result)", 1),
        ("result[0] > 1 && ok", [1], "unknown name ok (the only variable is result)", 18),
        ("result[k]", {}, "unknown name k (the only variable is result)", 8),
        ("foo(result)", 1, "unknown function foo()", 1),
        ("result(1)", 1, "result is not a function", 1),
        ("len", 1, "len is a function: call it as len(...)", 1),
        ("len(result, 1)", 1, "len() takes 1 argument(s), not 2", 1),
        ("default(result)", 1, "default() takes 2 argument(s), not 1", 1),
        ("all(result)", [1], "all() takes an array and a predicate: all(array, {# > 0})", 11),
        ("# > 1", 1, "# can only be used inside a predicate such as all(array, # > 0)", 1),
        (".ok", 1, ".ok can only be used inside a predicate (outside one, write result.ok)", 1),
        ("result.len()", 1, "method calls such as .len() are not supported", 8),
        # types and values, found when evaluating
        ("result[0] >= 0.95", [], "index 0 out of range (array length 0)", 7),
        ("result[3]", [1, 2], "index 3 out of range (array length 2)", 7),
        ("result[-3]", [1, 2], "index -3 out of range (array length 2)", 7),
        ("result['a'] > 1", [1], "cannot fetch a from array [1]", 7),
        ("result.a > 1", None, "cannot fetch a from nil", 7),
        ("result.a.b", {"a": 1}, "cannot fetch b from int 1", 9),
        ("result[0] > 1", None, "cannot index nil", 7),
        ("result[0] > 1", 5, "cannot index int 5", 7),
        ("result[0.5]", [1], "an index must be an int, not float 0.5", 7),
        ("result > 'a'", 1, "invalid operation: > (mismatched types int and string)", 8),
        ("result >= 0.95", [0.99], "invalid operation: >= (mismatched types array and float)", 8),
        ("result == 'true'", True, "invalid operation: == (mismatched types bool and string)", 8),
        ("true == 1", None, "invalid operation: == (mismatched types bool and int)", 6),
        ("result + 1", "a", "invalid operation: + (mismatched types string and int)", 8),
        ("result % 2", 1.5, "invalid operation: % (mismatched types float and int)", 8),
        ("result % 0", 1, "integer divide by zero", 8),
        ("result && true", 1, "invalid operation: && expects a bool, got int 1", 8),
        ("true || result", 1, "", 0),  # short-circuit: no error
        ("false || result", 1, "invalid operation: || expects a bool, got int 1", 7),
        ("!result", "x", "invalid operation: ! expects a bool, got string 'x'", 1),
        ("-result", "x", "invalid operation: unary - on string 'x'", 1),
        ("result ? 1 : 2", 1, "invalid operation: ?: expects a bool, got int 1", 8),
        ("1 in result", 5, "invalid operation: in expects an array or a map on its right, got int", 3),
        ("'x' matches '('", None, "invalid regular expression '('", 13),
        ("len(result) > 0", None, "len() expects an array, a map or a string, got nil nil", 1),
        ("isNaN(result)", [0.5], "isNaN() expects a number, got array [0.5]", 1),
        ("asInt(result) > 1", True, "asInt() not supported on bool true", 1),
        ("asFloat(result) > 1", [1], "asFloat() not supported on array [1]", 1),
        ("all(result, # > 0)", {"a": 1}, "all() expects an array, got map {a: 1}", 1),
        ("all(result, #)", [1], "invalid operation: the predicate of all() expects a bool, got int 1", 13),
        ("mean(result) > 1", [], "mean() of an empty array", 1),
        ("max(result)", [], "max() of an empty array", 1),
        ("result[0]", [1], "expected bool, but got int 1", 1),
        ("result.a", {"a": "yes"}, "expected bool, but got string 'yes'", 1),
        ("1..'a'", None, "invalid operation: .. (mismatched types int and string)", 2),
        ("result[1:'x']", [1], "a slice bound must be an int, not string 'x'", 10),
        ("result[1:2]", 5, "cannot slice int 5", 7),
    ],
)
def test_errors_name_the_column(expression, result, reason, column):
    if not reason:
        assert compile_expression(expression).evaluate(result) is True
        return
    with pytest.raises(ExpressionError) as err:
        compile_expression(expression).test(result)
    assert err.value.reason.startswith(reason)
    assert err.value.column == column
    assert str(err.value) == f"{err.value.reason} at column {column}"


def test_error_on_a_later_line():
    text = "len(result) > 0 &&\n  result[0] >= 0.95 &&\n  resul[1] > 0"
    with pytest.raises(ExpressionError) as err:
        compile_expression(text)
    assert (err.value.line, err.value.column, err.value.position) == (3, 3, 44)
    assert str(err.value) == "unknown name resul (the only variable is result) at line 3, column 3"
    assert err.value.pointer() == "  resul[1] > 0\n  ^"


def test_error_pointer_on_one_line():
    with pytest.raises(ExpressionError) as err:
        evaluate_condition("result[0] >= 0.95", [])
    assert err.value.pointer() == "result[0] >= 0.95\n      ^"
    assert err.value.expression == "result[0] >= 0.95"


def test_a_trailing_newline_is_one_line():
    # YAML's `successCondition: |` leaves a newline at the end
    with pytest.raises(ExpressionError) as err:
        evaluate_condition("result[0] >= 0.95\n", [])
    assert str(err.value) == "index 0 out of range (array length 0) at column 7"


def test_compiled_once_evaluated_many_times():
    condition = compile_expression("result[0] >= 0.95")
    assert [condition.test([v]) for v in (0.9, 0.95, 1.0)] == [False, True, True]
    assert condition == compile_expression("result[0] >= 0.95")
    assert repr(condition) == "Expression(text='result[0] >= 0.95')"


def test_the_result_is_not_changed():
    result = {"values": [3, 1, 2]}
    compile_expression("sum(result.values) > 0 && len(map(result.values, # * 2)) == 3").test(result)
    assert result == {"values": [3, 1, 2]}


def test_tuples_are_arrays():
    assert evaluate_condition("result[1] == 2 && len(result) == 2", (1, 2.0))
    assert type_name((1,)) == "array"


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (None, "nil"),
        (True, "bool"),
        (1, "int"),
        (1.5, "float"),
        ("a", "string"),
        ([], "array"),
        ({}, "map"),
        (object(), "object"),
    ],
)
def test_type_name(value, name):
    assert type_name(value) == name


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "result.__class__",
        "open('/etc/passwd')",
        "exec('1')",
        "eval('1')",
        "result.__class__.__mro__",
        "lambda: 1",
        "[x for x in result]",
    ],
)
def test_never_python(expression):
    # Only `result` and the language's functions exist: Python's names are unknown, and a dunder
    # is just a missing key of a map.
    try:
        value = compile_expression(expression).evaluate({"a": 1})
    except ExpressionError:
        return
    assert value is None


def test_not_a_string():
    with pytest.raises(ExpressionError, match="an expression must be a string, not int"):
        compile_expression(5)


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(ExpressionError, match="nested too deeply"):
        compile_expression("(" * 5000 + "1" + ")" * 5000)


if HAS_HYPOTHESIS:
    _TOKENS = st.sampled_from(
        [
            "result",
            "[0]",
            ".a",
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            " >= ",
            " == ",
            " && ",
            " || ",
            "!",
            " not ",
            " in ",
            "0.95",
            "1",
            "'s'",
            "nil",
            "true",
            ",",
            "len(",
            "all(",
            "#",
            " ? ",
            " : ",
            " ?? ",
            "-",
            "/",
            "%",
            "..",
            "default(",
            "asInt(",
            "isNaN(",
        ]
    )
    _RESULTS = st.recursive(
        st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True) | st.text(max_size=3),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2)
        ),
        max_leaves=6,
    )

    @settings(max_examples=300, deadline=None)
    @given(st.lists(_TOKENS, max_size=12).map("".join), _RESULTS)
    def test_any_text_gives_a_value_or_an_expression_error(text, result):
        try:
            compile_expression(text).test(result)
        except ExpressionError as err:
            assert 1 <= err.column <= len(text) + 1
            assert str(err).startswith(err.reason)
