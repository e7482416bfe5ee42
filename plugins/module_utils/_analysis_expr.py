# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

# Argo Rollouts' condition language (successCondition / failureCondition), parsed and walked.
#
# Argo hands each condition to expr-lang/expr with one variable, ``result`` (the provider's
# value: a Prometheus vector is a list of floats, a scalar a float, a web metric the JSON value
# its jsonPath picked), and the functions asInt, asFloat, isNaN, isInf, isNil and default
# (argo-rollouts utils/evaluate/evaluate.go). This module is a small interpreter of that
# language: a tokenizer, a recursive-descent (Pratt) parser to an AST of frozen nodes, and a
# walker. Nothing here calls Python's eval; an expression can only read ``result``.
#
#   compile_expression("result[0] >= 0.95")  -> Expression (parsed once, names checked)
#   Expression.evaluate(result)              -> the value (any type)
#   Expression.test(result)                  -> bool, or ExpressionError if not a bool
#   evaluate_condition(text, result)         -> both in one call
#
# Operators and precedence are expr's (parser/operator/operator.go), lowest first:
#   ?:  ||/or  &&/and  ==/!=/</>/<=/>=/in/matches/contains/startsWith/endsWith (and their
#   "not" forms)  ..  +/-  *//,%  unary !/not  unary -/+  **/^ (right-associative)  ??
# Postfix: .name, ?.name, [index], [from:to], f(args). Literals: 42, 0x2A, 0o52, 0b101,
# 1_000, 0.5, .5, 1e3, "s", 's', `raw`, true, false, nil, [1, 2], {a: 1}. Comments // and /* */.
# Predicates (expr's closures): all, any, none, one, filter, map, count, with {# > 1} or a bare
# expression; inside them ``#`` is the element and ``.name`` its field.
#
# Runtime rules (expr's, on untyped values): ints and floats compare and add as numbers; ``/``
# always gives a float (1/0 is +Inf, 0/0 NaN, as in Go); ``%`` wants ints; ``&&``, ``||``, ``!``
# and ``?:`` want bools and short-circuit; a map's missing key reads as nil; a negative index
# counts from the end; NaN compares false with everything. Every error -- syntax, unknown name or
# function, wrong type, index out of range -- is one ExpressionError naming the column.
#
# Differences from expr, on purpose: ``==`` between a number and a string (or other mismatched
# kinds, nil aside) is an error, as expr reports it for typed values (Argo's own test:
# asFloat(result) == "1.1"); expr gives false when the types are only known at run time.
# isNil(x) and default(x, d) look at their argument x; Argo's versions look at ``result``
# whatever the argument is, which is the same thing for the documented isNil(result) and
# default(result, 0). Not supported (a clear error says so): the pipe ``|``, ``let``,
# ``$env``, method calls, and expr's date, string-formatting and reduce/groupBy families.


class ExpressionError(ValueError):
    """An expression that cannot be parsed or evaluated.

    ``reason`` says what is wrong; ``position`` is the 0-based offset in ``expression``,
    ``line`` and ``column`` are 1-based. ``str()`` is ``"<reason> at column N"`` (``"at line L,
    column N"`` when the expression has several lines); :meth:`pointer` draws a caret.
    """

    def __init__(self, reason: str, expression: str, position: int) -> None:
        self.reason = reason
        self.expression = expression
        self.position = max(0, min(position, len(expression)))
        before = expression[: self.position]
        self.line = before.count("\n") + 1
        self.column = self.position - (before.rfind("\n") + 1) + 1
        if "\n" in expression.strip("\n"):
            where = f"line {self.line}, column {self.column}"
        else:
            where = f"column {self.column}"
        super().__init__(f"{reason} at {where}")

    def pointer(self) -> str:
        """The line of the expression with a caret under the column, for a multi-line message."""
        text = self.expression.split("\n")[self.line - 1]
        return f"{text}\n{' ' * (self.column - 1)}^"


# ---------------------------------------------------------------------------------------------
# Values


def type_name(value: Any) -> str:
    """The language's name of a value's type: nil, bool, int, float, string, array, map."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_array(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _show(value: Any) -> str:
    """A value in a message: short, in the language's own spelling."""
    text = _format(value)
    if isinstance(value, str):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _format(value: Any) -> str:
    """A value as string() gives it: Go's spelling of nil, bools and floats."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _format_float(value)
    if isinstance(value, str):
        return value
    if _is_array(value):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _format_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


# ---------------------------------------------------------------------------------------------
# Tokens

_WORD_OPERATORS = frozenset({"and", "or", "not", "in", "matches", "contains", "startsWith", "endsWith"})
_NEGATABLE = frozenset({"in", "matches", "contains", "startsWith", "endsWith"})
# Longest first: the tokenizer takes the first that matches.
_SYMBOLS = ("**", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "..", *"+-*/%^<>!?:.,()[]{}#")
_NAME_START = re.compile(r"[A-Za-z_]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+"
    r"|(?:[0-9][0-9_]*(?:\.[0-9][0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?"
)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "a": "\a"}


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "string", "name", "op" or "eof"
    value: Any
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ExpressionError("unclosed comment", text, i)
            i = end + 2
            continue
        if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit() and not _ends_operand(tokens)):
            match = _NUMBER.match(text, i)
            if match is None:  # pragma: no cover - the pattern matches any digit
                raise ExpressionError("invalid number", text, i)
            tokens.append(_Token("number", _number_value(match.group(0), text, i), i))
            i = match.end()
            if i < n and (text[i].isalnum() or text[i] == "_"):
                raise ExpressionError(f"invalid number {text[match.start() : i + 1]!r}", text, match.start())
            continue
        if c in "'\"":
            value, i_end = _read_string(text, i)
            tokens.append(_Token("string", value, i))
            i = i_end
            continue
        if c == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise ExpressionError("unclosed string", text, i)
            tokens.append(_Token("string", text[i + 1 : end], i))
            i = end + 1
            continue
        if _NAME_START.match(c):
            match = _NAME.match(text, i)
            if match is None:  # pragma: no cover - _NAME_START matched
                raise ExpressionError(_unexpected_character(text, i), text, i)
            after_dot = bool(tokens) and tokens[-1].kind == "op" and tokens[-1].value in (".", "?.")
            if match.group(0) == "let" and not after_dot:
                raise ExpressionError("let is not supported", text, i)
            tokens.append(_Token("name", match.group(0), i))
            i = match.end()
            continue
        if c == "$":
            raise ExpressionError(
                "$env and $-variables are not supported: the only variable is result", text, i
            )
        symbol = next((s for s in _SYMBOLS if text.startswith(s, i)), None)
        if symbol == "?." and i + 2 < n and text[i + 2].isdigit():
            symbol = "?"  # cond ?.5 : 1 is a ternary with .5
        if symbol is None:
            raise ExpressionError(_unexpected_character(text, i), text, i)
        tokens.append(_Token("op", symbol, i))
        i += len(symbol)
    tokens.append(_Token("eof", None, n))
    return tokens


def _ends_operand(tokens: list[_Token]) -> bool:
    """Whether a '.' here follows an operand (a member access, not the start of .5)."""
    if not tokens:
        return False
    last = tokens[-1]
    return last.kind in ("name", "string", "number") or (last.kind == "op" and last.value in (")", "]", "}"))


def _unexpected_character(text: str, i: int) -> str:
    c = text[i]
    hints = {
        "|": "the pipe operator | is not supported (use || for 'or')",
        "=": "unexpected '=': compare with ==",
        "&": "unexpected '&': use && for 'and'",
        ";": "unexpected ';': let and several statements are not supported",
    }
    return hints.get(c, f"unexpected character {c!r}")


def _number_value(literal: str, text: str, pos: int) -> int | float:
    digits = literal.replace("_", "")
    try:
        if digits[:2] in ("0x", "0X", "0o", "0O", "0b", "0B"):
            return int(digits, 0)
        if any(ch in digits for ch in ".eE"):
            return float(digits)
        return int(digits, 10)
    except ValueError:
        raise ExpressionError(f"invalid number {literal!r}", text, pos) from None


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == quote:
            return "".join(out), i + 1
        if c == "\n":
            break
        if c == "\\":
            if i + 1 >= n:
                break
            e = text[i + 1]
            if e in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[e])
                i += 2
            elif e in "\\'\"":
                out.append(e)
                i += 2
            elif e in "xu":
                width = 2 if e == "x" else 4
                digits = text[i + 2 : i + 2 + width]
                if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                    raise ExpressionError(f"invalid escape \\{e} in string", text, i)
                out.append(chr(int(digits, 16)))
                i += 2 + width
            else:
                raise ExpressionError(f"invalid escape \\{e} in string", text, i)
            continue
        out.append(c)
        i += 1
    raise ExpressionError("unclosed string", text, start)


# ---------------------------------------------------------------------------------------------
# The AST: frozen nodes, each with the offset it is reported at.


@dataclass(frozen=True)
class Literal:
    pos: int
    value: Any


@dataclass(frozen=True)
class Name:
    pos: int
    name: str


@dataclass(frozen=True)
class Pointer:
    """``#``: the element a predicate is looking at."""

    pos: int


@dataclass(frozen=True)
class Unary:
    pos: int
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary:
    pos: int
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Conditional:
    pos: int
    test: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True)
class Member:
    """``obj.name``, ``obj?.name`` or ``obj["name"]`` with a literal key."""

    pos: int
    obj: Node
    name: str
    optional: bool = False


@dataclass(frozen=True)
class Index:
    pos: int
    obj: Node
    index: Node


@dataclass(frozen=True)
class Slice:
    pos: int
    obj: Node
    start: Node | None
    stop: Node | None


@dataclass(frozen=True)
class Call:
    pos: int
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Predicate:
    """all(array, {...}) and its kin: the body is evaluated once per element."""

    pos: int
    name: str
    array: Node
    body: Node | None  # count(array) has none


@dataclass(frozen=True)
class ArrayLiteral:
    pos: int
    items: tuple[Node, ...]


@dataclass(frozen=True)
class MapLiteral:
    pos: int
    items: tuple[tuple[str, Node], ...]


Node = Any  # one of the classes above; Any keeps mypy from a long Union


# ---------------------------------------------------------------------------------------------
# The parser

_LEFT, _RIGHT = "left", "right"
_BINARY: dict[str, tuple[int, str]] = {
    "||": (10, _LEFT),
    "or": (10, _LEFT),
    "&&": (15, _LEFT),
    "and": (15, _LEFT),
    "==": (20, _LEFT),
    "!=": (20, _LEFT),
    "<": (20, _LEFT),
    ">": (20, _LEFT),
    "<=": (20, _LEFT),
    ">=": (20, _LEFT),
    "in": (20, _LEFT),
    "matches": (20, _LEFT),
    "contains": (20, _LEFT),
    "startsWith": (20, _LEFT),
    "endsWith": (20, _LEFT),
    "..": (25, _LEFT),
    "+": (30, _LEFT),
    "-": (30, _LEFT),
    "*": (60, _LEFT),
    "/": (60, _LEFT),
    "%": (60, _LEFT),
    "**": (100, _RIGHT),
    "^": (100, _RIGHT),
    "??": (500, _LEFT),
}
_UNARY = {"!": 50, "not": 50, "-": 90, "+": 90}
_CANONICAL = {"or": "||", "and": "&&", "^": "**"}

# The only variable. Argo's environment also holds its functions under their names.
VARIABLES = frozenset({"result"})


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.closures = 0  # how many predicate bodies we are in: # and .name are allowed there

    # -- token helpers
    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> _Token:
        token = self.tokens[self.i]
        if token.kind != "eof":
            self.i += 1
        return token

    def is_op(self, value: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == "op" and token.value == value

    def expect(self, value: str, what: str) -> _Token:
        token = self.peek()
        if token.kind == "op" and token.value == value:
            return self.next()
        raise self.error(f"expected {value!r} {what}, found {self.describe(token)}", token.pos)

    def error(self, reason: str, pos: int) -> ExpressionError:
        return ExpressionError(reason, self.text, pos)

    def describe(self, token: _Token) -> str:
        if token.kind == "eof":
            return "the end of the expression"
        if token.kind == "string":
            return f"string {token.value!r}"
        if token.kind == "number":
            return f"number {self.text[token.pos : self.token_end(token)]}"
        return repr(token.value)

    def token_end(self, token: _Token) -> int:
        following = self.tokens[self.tokens.index(token) + 1]
        return following.pos

    # -- grammar
    def parse(self) -> Node:
        if self.peek().kind == "eof":
            raise self.error("empty expression", 0)
        node = self.expression(0)
        token = self.peek()
        if token.kind != "eof":
            raise self.error(f"unexpected {self.describe(token)} after a complete expression", token.pos)
        return node

    def binary_operator(self) -> tuple[str, int, int] | None:
        """The binary operator at the current token: (operator, its token count, position)."""
        token = self.peek()
        if token.kind == "op" and token.value in _BINARY:
            return token.value, 1, token.pos
        if token.kind == "name":
            if token.value == "not":
                after = self.peek(1)
                if after.kind == "name" and after.value in _NEGATABLE:
                    return "not " + after.value, 2, token.pos
                return None
            if token.value in _BINARY:
                return token.value, 1, token.pos
        return None

    def expression(self, min_precedence: int) -> Node:
        left = self.unary()
        while True:
            found = self.binary_operator()
            if found is None:
                break
            op, width, pos = found
            base = op[4:] if op.startswith("not ") else op
            precedence, assoc = _BINARY[base]
            if precedence < min_precedence:
                break
            for _token in range(width):
                self.next()
            right = self.expression(precedence + 1 if assoc == _LEFT else precedence)
            left = Binary(pos, _CANONICAL.get(op, op), left, right)
        if min_precedence == 0 and self.is_op("?"):
            pos = self.next().pos
            then = self.expression(0)
            self.expect(":", "in a ternary a ? b : c")
            otherwise = self.expression(0)
            left = Conditional(pos, left, then, otherwise)
        return left

    def unary(self) -> Node:
        token = self.peek()
        op = None
        if token.kind == "op" and token.value in ("!", "-", "+"):
            op = token.value
        elif token.kind == "name" and token.value == "not":
            op = "not"
        if op is None:
            return self.postfix(self.primary())
        self.next()
        operand = self.expression(_UNARY[op])
        return Unary(token.pos, "!" if op == "not" else op, operand)

    def primary(self) -> Node:
        token = self.next()
        if token.kind in ("number", "string"):
            return Literal(token.pos, token.value)
        if token.kind == "name":
            word = token.value
            if word == "true":
                return Literal(token.pos, True)
            if word == "false":
                return Literal(token.pos, False)
            if word == "nil":
                return Literal(token.pos, None)
            if word in _WORD_OPERATORS:
                raise self.error(f"unexpected {word!r}: an operand is missing", token.pos)
            if self.is_op("("):
                return self.call(token)
            if word in VARIABLES:
                return Name(token.pos, word)
            if word in FUNCTIONS or word in PREDICATES:
                raise self.error(f"{word} is a function: call it as {word}(...)", token.pos)
            raise self.error(f"unknown name {word} (the only variable is result)", token.pos)
        if token.kind == "op":
            value = token.value
            if value == "(":
                node = self.expression(0)
                self.expect(")", "to close '('")
                return node
            if value == "[":
                return ArrayLiteral(token.pos, tuple(self.items("]", "an array")))
            if value == "{":
                return self.map_literal(token)
            if value == "#":
                if not self.closures:
                    raise self.error(
                        "# can only be used inside a predicate such as all(array, # > 0)", token.pos
                    )
                return Pointer(token.pos)
            if value == ".":
                name = self.peek()
                if name.kind != "name":
                    raise self.error(
                        f"expected a field name after '.', found {self.describe(name)}", name.pos
                    )
                if not self.closures:
                    raise self.error(
                        f".{name.value} can only be used inside a predicate"
                        f" (outside one, write result.{name.value})",
                        token.pos,
                    )
                self.next()
                return Member(token.pos, Pointer(token.pos), name.value)
        if token.kind == "eof":
            raise self.error("unexpected end of the expression: an operand is missing", token.pos)
        raise self.error(f"unexpected {self.describe(token)}", token.pos)

    def items(self, closing: str, what: str) -> list[Node]:
        items: list[Node] = []
        while not self.is_op(closing):
            items.append(self.expression(0))
            if self.is_op(","):
                self.next()
                continue
            if not self.is_op(closing):
                token = self.peek()
                raise self.error(
                    f"expected ',' or {closing!r} in {what}, found {self.describe(token)}", token.pos
                )
        self.next()
        return items

    def map_literal(self, opening: _Token) -> Node:
        items: list[tuple[str, Node]] = []
        while not self.is_op("}"):
            key = self.next()
            if key.kind not in ("name", "string", "number"):
                raise self.error(f"expected a key in a map, found {self.describe(key)}", key.pos)
            self.expect(":", "after a map key")
            items.append((str(key.value), self.expression(0)))
            if self.is_op(","):
                self.next()
            elif not self.is_op("}"):
                token = self.peek()
                raise self.error(f"expected ',' or '}}' in a map, found {self.describe(token)}", token.pos)
        self.next()
        return MapLiteral(opening.pos, tuple(items))

    def call(self, name: _Token) -> Node:
        word = name.value
        self.expect("(", "")
        if word in PREDICATES:
            array = self.expression(0)
            body = None
            if self.is_op(","):
                self.next()
                body = self.predicate_body()
            elif word != "count":
                token = self.peek()
                raise self.error(
                    f"{word}() takes an array and a predicate: {word}(array, {{# > 0}})", token.pos
                )
            self.expect(")", f"to close {word}(")
            return Predicate(name.pos, word, array, body)
        if word not in FUNCTIONS:
            if word in VARIABLES:
                raise self.error(f"{word} is not a function", name.pos)
            raise self.error(f"unknown function {word}()", name.pos)
        args = tuple(self.items(")", f"the arguments of {word}()"))
        low, high = FUNCTIONS[word][:2]
        if not low <= len(args) <= high:
            wanted = str(low) if low == high else f"{low} to {high}" if high < 99 else f"at least {low}"
            raise self.error(f"{word}() takes {wanted} argument(s), not {len(args)}", name.pos)
        return Call(name.pos, word, args)

    def predicate_body(self) -> Node:
        self.closures += 1
        try:
            if self.is_op("{"):
                self.next()
                body = self.expression(0)
                self.expect("}", "to close the predicate")
                return body
            return self.expression(0)
        finally:
            self.closures -= 1

    def postfix(self, node: Node) -> Node:
        while True:
            token = self.peek()
            if token.kind != "op":
                return node
            if token.value in (".", "?."):
                self.next()
                name = self.next()
                if name.kind != "name":
                    raise self.error(
                        f"expected a field name after {token.value!r}, found {self.describe(name)}", name.pos
                    )
                if self.is_op("("):
                    raise self.error(f"method calls such as .{name.value}() are not supported", name.pos)
                node = Member(token.pos, node, name.value, token.value == "?.")
            elif token.value == "[":
                self.next()
                node = self.subscript(token, node)
            elif token.value == "(":
                raise self.error("only functions can be called", token.pos)
            else:
                return node

    def subscript(self, bracket: _Token, node: Node) -> Node:
        start = None
        if not self.is_op(":"):
            start = self.expression(0)
            if self.is_op("]"):
                self.next()
                if isinstance(start, Literal) and isinstance(start.value, str):
                    return Member(bracket.pos, node, start.value)
                return Index(bracket.pos, node, start)
        if not self.is_op(":"):
            self.expect("]", "to close '['")
        self.next()
        stop = None if self.is_op("]") else self.expression(0)
        self.expect("]", "to close '['")
        return Slice(bracket.pos, node, start, stop)


# ---------------------------------------------------------------------------------------------
# Functions


class _Failure(Exception):
    """Raised by a function's implementation; turned into an ExpressionError at the call."""


def _number_arg(name: str, value: Any) -> int | float:
    if not _is_number(value):
        raise _Failure(f"{name}() expects a number, got {type_name(value)} {_show(value)}")
    return value  # type: ignore[no-any-return]


def _array_arg(name: str, value: Any) -> list[Any]:
    if not _is_array(value):
        raise _Failure(f"{name}() expects an array, got {type_name(value)} {_show(value)}")
    return list(value)


def _string_arg(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _Failure(f"{name}() expects a string, got {type_name(value)} {_show(value)}")
    return value


_GO_INT = re.compile(r"[+-]?[0-9]+\Z")
_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)\Z", re.IGNORECASE
)


def _as_int(value: Any) -> int:
    # Argo's asInt: numbers are truncated, strings parsed as base-10 integers (strconv.ParseInt).
    if _is_number(value):
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            raise _Failure(f"asInt() cannot convert {_show(value)} to an int")
        return int(value)
    if isinstance(value, str):
        if not _GO_INT.match(value):
            raise _Failure(f'asInt() cannot parse "{value}" as an int')
        return int(value)
    raise _Failure(f"asInt() not supported on {type_name(value)} {_show(value)}")


def _as_float(value: Any) -> float:
    # Argo's asFloat: numbers as they are, strings parsed as Go's strconv.ParseFloat does.
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        if not _GO_FLOAT.match(value):
            raise _Failure(f'asFloat() cannot parse "{value}" as a float')
        return float(value)
    raise _Failure(f"asFloat() not supported on {type_name(value)} {_show(value)}")


def _to_int(value: Any) -> int:
    if _is_number(value):
        return _as_int(value)
    if isinstance(value, str):
        if not _GO_INT.match(value.strip()):
            raise _Failure(f'int() cannot parse "{value}" as an int')
        return int(value)
    raise _Failure(f"int() expects a number or a string, got {type_name(value)} {_show(value)}")


def _to_float(value: Any) -> float:
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        if not _GO_FLOAT.match(value.strip()):
            raise _Failure(f'float() cannot parse "{value}" as a float')
        return float(value)
    raise _Failure(f"float() expects a number or a string, got {type_name(value)} {_show(value)}")


def _length(value: Any) -> int:
    if isinstance(value, (str, list, tuple, Mapping)):
        return len(value)
    raise _Failure(f"len() expects an array, a map or a string, got {type_name(value)} {_show(value)}")


def _round(value: Any) -> int | float:
    number = _number_arg("round", value)
    if isinstance(number, int):
        return number
    if math.isnan(number) or math.isinf(number):
        return number
    return math.copysign(math.floor(abs(number) + 0.5), number)  # half away from zero, as Go


def _rounding(name: str, how: Callable[[float], int]) -> Callable[[Any], int | float]:
    def apply(value: Any) -> int | float:
        number = _number_arg(name, value)
        if isinstance(number, int) or math.isnan(number) or math.isinf(number):
            return number
        return float(how(number))

    return apply


def _extreme(name: str, pick: Callable[..., Any]) -> Callable[..., Any]:
    def apply(*args: Any) -> Any:
        values = list(args[0]) if len(args) == 1 and _is_array(args[0]) else list(args)
        if not values:
            raise _Failure(f"{name}() of an empty array")
        for value in values:
            _number_arg(name, value)
        return pick(values)

    return apply


def _sum(value: Any) -> int | float:
    total: int | float = 0
    for item in _array_arg("sum", value):
        total += _number_arg("sum", item)
    return total


def _mean(value: Any) -> float:
    items = _array_arg("mean", value)
    if not items:
        raise _Failure("mean() of an empty array")
    return float(_sum(items)) / len(items)


def _first(value: Any) -> Any:
    items = _array_arg("first", value)
    return items[0] if items else None


def _last(value: Any) -> Any:
    items = _array_arg("last", value)
    return items[-1] if items else None


def _keys(value: Any) -> list[Any]:
    if not isinstance(value, Mapping):
        raise _Failure(f"keys() expects a map, got {type_name(value)} {_show(value)}")
    return sorted(value, key=str)


def _values(value: Any) -> list[Any]:
    return [value[key] for key in _keys(value)]


def _trim(value: Any, chars: Any = None) -> str:
    text = _string_arg("trim", value)
    return text.strip() if chars is None else text.strip(_string_arg("trim", chars))


def _is_nan(value: Any) -> bool:
    number = _number_arg("isNaN", value)
    return isinstance(number, float) and math.isnan(number)


def _is_inf(value: Any) -> bool:
    number = _number_arg("isInf", value)
    return isinstance(number, float) and math.isinf(number)


# name -> (fewest arguments, most arguments, implementation)
FUNCTIONS: dict[str, tuple[int, int, Callable[..., Any]]] = {
    # Argo Rollouts' own (utils/evaluate/evaluate.go)
    "asInt": (1, 1, _as_int),
    "asFloat": (1, 1, _as_float),
    "isNaN": (1, 1, _is_nan),
    "isInf": (1, 1, _is_inf),
    "isNil": (1, 1, lambda value: value is None),
    "default": (2, 2, lambda value, fallback: fallback if value is None else value),
    # expr-lang/expr built-ins
    "len": (1, 1, _length),
    "abs": (1, 1, lambda value: abs(_number_arg("abs", value))),
    "ceil": (1, 1, _rounding("ceil", math.ceil)),
    "floor": (1, 1, _rounding("floor", math.floor)),
    "round": (1, 1, _round),
    "int": (1, 1, _to_int),
    "float": (1, 1, _to_float),
    "string": (1, 1, lambda value: "<nil>" if value is None else _format(value)),
    "max": (1, 99, _extreme("max", max)),
    "min": (1, 99, _extreme("min", min)),
    "sum": (1, 1, _sum),
    "mean": (1, 1, _mean),
    "first": (1, 1, _first),
    "last": (1, 1, _last),
    "keys": (1, 1, _keys),
    "values": (1, 1, _values),
    "lower": (1, 1, lambda value: _string_arg("lower", value).lower()),
    "upper": (1, 1, lambda value: _string_arg("upper", value).upper()),
    "trim": (1, 2, _trim),
    "hasPrefix": (
        2,
        2,
        lambda value, prefix: _string_arg("hasPrefix", value).startswith(_string_arg("hasPrefix", prefix)),
    ),
    "hasSuffix": (
        2,
        2,
        lambda value, suffix: _string_arg("hasSuffix", value).endswith(_string_arg("hasSuffix", suffix)),
    ),
}
PREDICATES = frozenset({"all", "any", "none", "one", "filter", "map", "count"})


# ---------------------------------------------------------------------------------------------
# The walker


def _values_equal(a: Any, b: Any) -> bool:
    """Equality as the language has it: numbers by value, bool never equal to a number."""
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if type_name(a) != type_name(b):
        return False
    if _is_array(a):
        return len(a) == len(b) and all(_values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, Mapping):
        return set(a) == set(b) and all(_values_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _go_mod(a: int, b: int) -> int:
    # Go's % truncates toward zero: the result has the sign of the dividend.
    result = abs(a) % abs(b)
    return -result if a < 0 else result


def _divide(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * (math.copysign(1.0, b))
    return a / b


def _power(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf
    except ValueError:  # 0 ** -1 is +Inf in Go, a negative base with a fractional exponent NaN
        return math.inf if a == 0 else math.nan


@dataclass(frozen=True)
class _Scope:
    result: Any
    elements: tuple[Any, ...] = ()  # the predicates' current elements, innermost last


class _Walker:
    def __init__(self, text: str) -> None:
        self.text = text

    def fail(self, reason: str, node: Node) -> ExpressionError:
        return ExpressionError(reason, self.text, node.pos)

    def mismatch(self, op: str, node: Node, a: Any, b: Any) -> ExpressionError:
        return self.fail(
            f"invalid operation: {op} (mismatched types {type_name(a)} and {type_name(b)})", node
        )

    def bool_operand(self, op: str, node: Node, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(
                f"invalid operation: {op} expects a bool, got {type_name(value)} {_show(value)}", node
            )
        return value

    def walk(self, node: Node, scope: _Scope) -> Any:
        method: Callable[[Any, _Scope], Any] = getattr(self, "walk_" + type(node).__name__)
        return method(node, scope)

    def walk_Literal(self, node: Literal, scope: _Scope) -> Any:
        return node.value

    def walk_Name(self, node: Name, scope: _Scope) -> Any:
        return scope.result

    def walk_Pointer(self, node: Pointer, scope: _Scope) -> Any:
        return scope.elements[-1]

    def walk_ArrayLiteral(self, node: ArrayLiteral, scope: _Scope) -> Any:
        return [self.walk(item, scope) for item in node.items]

    def walk_MapLiteral(self, node: MapLiteral, scope: _Scope) -> Any:
        return {key: self.walk(value, scope) for key, value in node.items}

    def walk_Unary(self, node: Unary, scope: _Scope) -> Any:
        value = self.walk(node.operand, scope)
        if node.op == "!":
            return not self.bool_operand("!", node, value)
        if not _is_number(value):
            raise self.fail(f"invalid operation: unary {node.op} on {type_name(value)} {_show(value)}", node)
        return -value if node.op == "-" else value

    def walk_Conditional(self, node: Conditional, scope: _Scope) -> Any:
        test = self.walk(node.test, scope)
        if self.bool_operand("?:", node, test):
            return self.walk(node.then, scope)
        return self.walk(node.otherwise, scope)

    def walk_Binary(self, node: Binary, scope: _Scope) -> Any:
        op = node.op
        if op in ("&&", "||"):
            left = self.bool_operand(op, node, self.walk(node.left, scope))
            if (op == "&&" and not left) or (op == "||" and left):
                return left
            return self.bool_operand(op, node, self.walk(node.right, scope))
        if op == "??":
            left = self.walk(node.left, scope)
            return self.walk(node.right, scope) if left is None else left
        a = self.walk(node.left, scope)
        b = self.walk(node.right, scope)
        if op.startswith("not "):
            return not self.binary(op[4:], node, a, b)
        return self.binary(op, node, a, b)

    def binary(self, op: str, node: Node, a: Any, b: Any) -> Any:
        if op in ("==", "!="):
            mixed = a is not None and b is not None and type_name(a) != type_name(b)
            if mixed and not (_is_number(a) and _is_number(b)):
                raise self.mismatch(op, node, a, b)
            equal = _values_equal(a, b)
            return equal if op == "==" else not equal
        if op in ("<", ">", "<=", ">="):
            if not ((_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str))):
                raise self.mismatch(op, node, a, b)
            if op == "<":
                return a < b
            if op == ">":
                return a > b
            if op == "<=":
                return a <= b
            return a >= b
        if op == "in":
            if _is_array(b):
                return any(_values_equal(a, item) for item in b)
            if isinstance(b, Mapping):
                return any(_values_equal(a, key) for key in b)
            raise self.fail(
                f"invalid operation: in expects an array or a map on its right, got {type_name(b)}", node
            )
        if op in ("contains", "startsWith", "endsWith", "matches"):
            if not (isinstance(a, str) and isinstance(b, str)):
                raise self.mismatch(op, node, a, b)
            if op == "contains":
                return b in a
            if op == "startsWith":
                return a.startswith(b)
            if op == "endsWith":
                return a.endswith(b)
            try:
                return re.search(b, a) is not None
            except re.error as err:
                raise self.fail(f"invalid regular expression {b!r}: {err}", node.right) from None
        if op == "..":
            if not (isinstance(a, int) and isinstance(b, int)) or isinstance(a, bool) or isinstance(b, bool):
                raise self.mismatch(op, node, a, b)
            return list(range(a, b + 1))
        if op == "+" and isinstance(a, str) and isinstance(b, str):
            return a + b
        if op == "+" and _is_array(a) and _is_array(b):
            return list(a) + list(b)
        if not (_is_number(a) and _is_number(b)):
            raise self.mismatch(op, node, a, b)
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return _divide(float(a), float(b))
        if op == "%":
            if isinstance(a, float) or isinstance(b, float):
                raise self.mismatch(op, node, a, b)
            if b == 0:
                raise self.fail("integer divide by zero", node)
            return _go_mod(a, b)
        if op == "**":
            return _power(float(a), float(b))
        raise self.fail(f"unknown operator {op}", node)  # pragma: no cover - the parser knows them all

    def walk_Member(self, node: Member, scope: _Scope) -> Any:
        obj = self.walk(node.obj, scope)
        if obj is None:
            if node.optional:
                return None
            raise self.fail(f"cannot fetch {node.name} from nil", node)
        if isinstance(obj, Mapping):
            return obj.get(node.name)
        raise self.fail(f"cannot fetch {node.name} from {type_name(obj)} {_show(obj)}", node)

    def walk_Index(self, node: Index, scope: _Scope) -> Any:
        obj = self.walk(node.obj, scope)
        index = self.walk(node.index, scope)
        if isinstance(obj, Mapping):
            return obj.get(index) if isinstance(index, (str, int)) else None
        if _is_array(obj) or isinstance(obj, str):
            if not isinstance(index, int) or isinstance(index, bool):
                raise self.fail(f"an index must be an int, not {type_name(index)} {_show(index)}", node)
            size = len(obj)
            position = index + size if index < 0 else index
            if not 0 <= position < size:
                kind = "array" if _is_array(obj) else "string"
                raise self.fail(f"index {index} out of range ({kind} length {size})", node)
            return obj[position]
        if obj is None:
            raise self.fail("cannot index nil", node)
        raise self.fail(f"cannot index {type_name(obj)} {_show(obj)}", node)

    def walk_Slice(self, node: Slice, scope: _Scope) -> Any:
        obj = self.walk(node.obj, scope)
        if not (_is_array(obj) or isinstance(obj, str)):
            raise self.fail(f"cannot slice {type_name(obj)} {_show(obj)}", node)
        bounds = []
        for part in (node.start, node.stop):
            value = None if part is None else self.walk(part, scope)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise self.fail(f"a slice bound must be an int, not {type_name(value)} {_show(value)}", part)
            bounds.append(value)
        return obj[bounds[0] : bounds[1]] if isinstance(obj, str) else list(obj[bounds[0] : bounds[1]])

    def walk_Call(self, node: Call, scope: _Scope) -> Any:
        args = [self.walk(arg, scope) for arg in node.args]
        implementation = FUNCTIONS[node.name][2]
        try:
            return implementation(*args)
        except _Failure as failure:
            raise self.fail(str(failure), node) from None

    def walk_Predicate(self, node: Predicate, scope: _Scope) -> Any:
        array = self.walk(node.array, scope)
        if not _is_array(array):
            raise self.fail(f"{node.name}() expects an array, got {type_name(array)} {_show(array)}", node)
        if node.body is None:  # count(array): how many are true
            return sum(1 for item in array if self.bool_operand("count", node, item))
        values = []
        for item in array:
            values.append(self.walk(node.body, _Scope(scope.result, (*scope.elements, item))))
        if node.name == "map":
            return values
        tests = [self.bool_operand(f"the predicate of {node.name}()", node.body, value) for value in values]
        if node.name == "all":
            return all(tests)
        if node.name == "any":
            return any(tests)
        if node.name == "none":
            return not any(tests)
        if node.name == "one":
            return tests.count(True) == 1
        if node.name == "count":
            return tests.count(True)
        return [item for item, test in zip(array, tests) if test]  # filter


# ---------------------------------------------------------------------------------------------
# The public interface


@dataclass(frozen=True)
class Expression:
    """A parsed condition: compile once with :func:`compile_expression`, evaluate per measurement."""

    text: str
    node: Node = field(repr=False, compare=False)

    def evaluate(self, result: Any) -> Any:
        """The expression's value with ``result`` bound to the given value."""
        try:
            return _Walker(self.text).walk(self.node, _Scope(result))
        except RecursionError:
            raise ExpressionError("the expression is nested too deeply", self.text, 0) from None

    def test(self, result: Any) -> bool:
        """The expression's value, which must be a bool (Argo: ``expected bool, but got int``)."""
        value = self.evaluate(result)
        if not isinstance(value, bool):
            raise ExpressionError(
                f"expected bool, but got {type_name(value)} {_show(value)}", self.text, _start(self.node)
            )
        return value


def _start(node: Node) -> int:
    """Where an expression's text begins (a binary node is reported at its operator)."""
    for attribute in ("left", "obj", "test"):
        child = getattr(node, attribute, None)
        if child is not None:
            return _start(child)
    return int(node.pos)


def compile_expression(text: str) -> Expression:
    """Parse ``text``; raise ExpressionError (with the column) for a syntax error or an unknown name."""
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be a string, not {type_name(text)}", "", 0)
    try:
        return Expression(text, _Parser(text).parse())
    except RecursionError:
        raise ExpressionError("the expression is nested too deeply", text, 0) from None


def evaluate_condition(text: str, result: Any) -> bool:
    """Parse and test a condition in one call: ``evaluate_condition("result > 1", 5.0)`` is True."""
    return compile_expression(text).test(result)
