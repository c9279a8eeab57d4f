"""A small, honest subset of the Kusto Query Language, as Azure Resource Graph runs it.

It covers the operators egress's queries use and no more, so a query egress changes without teaching the double
fails loudly (KqlError, which the Graph endpoint answers as Graph does: 400 BadRequest / InvalidQuery):

- tables: a name (case-insensitive) or a parenthesised query;
- `where`, `project` (`a`, `b = expr`, `properties.x.y` -> column `properties_x_y`), `project-away`, `extend`,
  `order by` / `sort by` (`asc`/`desc`, KQL's default desc; nulls first ascending), `distinct`,
  `union [kind=inner|outer] (query)|Table`, `join [kind=innerunique|inner|leftouter] (query) on col` or
  `on $left.a == $right.b`, `limit` / `take` N;
- scalars: strings ('...' or "..." with backslash escapes), integers, true/false, column names, `.name` and
  `['name']` / `[index]` into dynamic values, `( )`, `and`, `or`, `not(...)`, `==`, `!=`, `=~`, `!~`, `in`,
  `!in`, `in~`, `!in~` (with a parenthesised list), `contains`, `!contains`, `startswith`, `endswith`, `has`
  (all case-insensitive as in KQL), `<`, `<=`, `>`, `>=`, and the functions tolower, toupper, tostring,
  isnull, isnotnull, isempty, isnotempty, strcat.

A column name that does not exist is a semantic error, as in Kusto ("Failed to resolve scalar expression").
Rows are dicts holding every column of their table (None for null).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class KqlError(Exception):
    """A query the double cannot run: `code` is Graph's detail code (ParserFailure, UnsupportedOperator, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Table:
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    limited: bool = False  # a limit/take ran: Graph pages such a result no further


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<num>\d+(?:\.\d+)?)
      | (?P<op>!in~|!in\b|in~|!contains\b|==|!=|=~|!~|<=|>=|project-away\b|\$left|\$right|[|(),=<>.\[\]])
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


@dataclass
class _Tok:
    kind: str  # str | num | op | ident | end
    text: str
    pos: int
    value: Any = None


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise KqlError("ParserFailure", f"Unexpected character {text[pos]!r} at position {pos}.")
        kind = m.lastgroup or ""
        raw = m.group(kind)
        value: Any = raw
        if kind == "str":
            value = _unescape(raw[1:-1])
        elif kind == "num":
            value = float(raw) if "." in raw else int(raw)
        out.append(_Tok(kind, raw, m.start(kind), value))
        pos = m.end()
    out.append(_Tok("end", "", len(text)))
    return out


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _unescape(body: str) -> str:
    out: list[str] = []
    chars = iter(body)
    for c in chars:
        if c == "\\":
            nxt = next(chars, "")
            out.append(_ESCAPES.get(nxt, nxt))
        else:
            out.append(c)
    return "".join(out)


# -- scalar expressions --------------------------------------------------------------------------------------

Expr = Callable[[Mapping[str, Any]], Any]


def _lower(v: Any) -> str:
    return _tostring(v).lower()


def _tostring(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def _isempty(v: Any) -> bool:
    return v is None or v == ""


_FUNCTIONS: dict[str, tuple[int | None, Callable[..., Any]]] = {
    "tolower": (1, lambda v: _lower(v)),
    "toupper": (1, lambda v: _tostring(v).upper()),
    "tostring": (1, _tostring),
    "isnull": (1, lambda v: v is None),
    "isnotnull": (1, lambda v: v is not None),
    "isempty": (1, _isempty),
    "isnotempty": (1, lambda v: not _isempty(v)),
    "not": (1, lambda v: not v),
    "strcat": (None, lambda *vs: "".join(_tostring(v) for v in vs)),
}


def _cmp_eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return _tostring(a) == _tostring(b)


def _order(a: Any, b: Any, op: str) -> bool:
    if a is None or b is None:
        return False
    if not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        a, b = _tostring(a), _tostring(b)
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


_BINARY: dict[str, Callable[[Any, Any], bool]] = {
    "==": _cmp_eq,
    "!=": lambda a, b: not _cmp_eq(a, b) and a is not None and b is not None,
    "=~": lambda a, b: a is not None and b is not None and _lower(a) == _lower(b),
    "!~": lambda a, b: a is not None and b is not None and _lower(a) != _lower(b),
    "contains": lambda a, b: _lower(b) in _lower(a),
    "!contains": lambda a, b: _lower(b) not in _lower(a),
    "startswith": lambda a, b: _lower(a).startswith(_lower(b)),
    "endswith": lambda a, b: _lower(a).endswith(_lower(b)),
    "has": lambda a, b: (
        re.search(rf"(?<![A-Za-z0-9]){re.escape(_lower(b))}(?![A-Za-z0-9])", _lower(a)) is not None
    ),
}
_IN = {"in", "!in", "in~", "!in~"}


class _Parser:
    def __init__(self, text: str, tables: Mapping[str, Table]) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.tables = {k.lower(): v for k, v in tables.items()}

    # token helpers
    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def next(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def at(self, *texts: str) -> bool:
        t = self.tok
        return t.kind in ("op", "ident") and t.text.lower() in texts

    def expect(self, text: str) -> _Tok:
        if not self.at(text):
            self.fail(f"expected {text!r}")
        return self.next()

    def ident(self) -> str:
        t = self.tok
        if t.kind != "ident":
            self.fail("expected a name")
        self.i += 1
        return t.text

    def fail(self, what: str) -> None:
        t = self.tok
        found = t.text or "end of query"
        raise KqlError("ParserFailure", f"Query could not be parsed at {found!r} (position {t.pos}): {what}.")

    # tabular
    def query(self) -> Table:
        table = self.source()
        while self.at("|"):
            self.next()
            table = self.operator(table)
        return table

    def run(self) -> Table:
        table = self.query()
        if self.tok.kind != "end":
            self.fail("expected '|' or the end of the query")
        return table

    def source(self) -> Table:
        if self.at("("):
            self.next()
            table = self.query()
            self.expect(")")
            return table
        name = self.ident()
        table = self.tables.get(name.lower())
        if table is None:
            raise KqlError("InvalidTable", f"Table '{name}' is not served by the ARM double.")
        return Table(list(table.columns), [dict(r) for r in table.rows])

    def operator(self, t: Table) -> Table:
        word = self.tok.text.lower() if self.tok.kind in ("ident", "op") else ""
        self.next()
        if word == "where":
            pred = self.expr(t.columns)
            return Table(t.columns, [r for r in t.rows if pred(r) is True], t.limited)
        if word == "project":
            return self.project(t)
        if word == "project-away":
            names = self.name_list(t.columns)
            cols = [c for c in t.columns if c not in names]
            return Table(cols, [{c: r[c] for c in cols} for r in t.rows], t.limited)
        if word == "extend":
            return self.extend(t)
        if word in ("order", "sort"):
            self.expect("by")
            return self.order(t)
        if word == "distinct":
            names = self.name_list(t.columns)
            seen: dict[str, dict[str, Any]] = {}
            for r in t.rows:
                row = {c: r[c] for c in names}
                seen.setdefault(json.dumps(row, sort_keys=True, default=str), row)
            return Table(names, list(seen.values()), t.limited)
        if word == "union":
            return self.union(t)
        if word == "join":
            return self.join(t)
        if word in ("limit", "take"):
            n = self.next()
            if n.kind != "num" or not isinstance(n.value, int):
                self.fail("expected a row count")
            return Table(t.columns, t.rows[: n.value], True)
        raise KqlError(
            "UnsupportedOperator",
            f"The ARM double does not run the KQL operator {word or self.toks[self.i - 1].text!r}; teach "
            "tests/armdouble/kql.py the operator before egress sends it.",
        )

    def name_list(self, columns: Sequence[str]) -> list[str]:
        names = [self.column(columns)]
        while self.at(","):
            self.next()
            names.append(self.column(columns))
        return names

    def column(self, columns: Sequence[str]) -> str:
        name = self.ident()
        if name not in columns:
            raise KqlError("SemanticError", f"Failed to resolve scalar expression named '{name}'.")
        return name

    def project(self, t: Table) -> Table:
        items: list[tuple[str, Expr]] = []
        while True:
            if self.tok.kind == "ident" and self.toks[self.i + 1].text == "=":
                name = self.ident()
                self.next()
                items.append((name, self.expr(t.columns)))
            else:
                start = self.i
                expr = self.expr(t.columns)
                words = [tok.text for tok in self.toks[start : self.i] if tok.kind in ("ident", "str")]
                simple = all(tok.text in (".",) or tok.kind == "ident" for tok in self.toks[start : self.i])
                if not simple:
                    self.fail("name a computed column (`name = expression`)")
                items.append(("_".join(words), expr))
            if not self.at(","):
                break
            self.next()
        cols = [n for n, _ in items]
        return Table(cols, [{n: e(r) for n, e in items} for r in t.rows], t.limited)

    def extend(self, t: Table) -> Table:
        items: list[tuple[str, Expr]] = []
        while True:
            name = self.ident()
            self.expect("=")
            items.append((name, self.expr([*t.columns, *(n for n, _ in items)])))
            if not self.at(","):
                break
            self.next()
        cols = list(t.columns) + [n for n, _ in items if n not in t.columns]
        rows = []
        for r in t.rows:
            row = dict(r)
            for n, e in items:
                row[n] = e(row)
            rows.append(row)
        return Table(cols, rows, t.limited)

    def order(self, t: Table) -> Table:
        keys: list[tuple[str, bool]] = []
        while True:
            name = self.column(t.columns)
            desc = True  # KQL sorts descending unless told
            if self.at("asc", "desc"):
                desc = self.next().text.lower() == "desc"
            keys.append((name, desc))
            if not self.at(","):
                break
            self.next()
        rows = list(t.rows)
        for name, desc in reversed(keys):
            present = [r for r in rows if r[name] is not None]
            nulls = [r for r in rows if r[name] is None]
            present.sort(key=lambda r, n=name: _sort_key(r[n]), reverse=desc)
            rows = present + nulls if desc else nulls + present
        return Table(t.columns, rows, t.limited)

    def union(self, t: Table) -> Table:
        kind = "outer"
        if self.at("kind"):
            self.next()
            self.expect("=")
            kind = self.ident().lower()
            if kind not in ("inner", "outer"):
                self.fail("union kind must be inner or outer")
        other = self.source()
        if kind == "inner":
            cols = [c for c in t.columns if c in other.columns]
        else:
            cols = list(t.columns) + [c for c in other.columns if c not in t.columns]
        rows = [{c: r.get(c) for c in cols} for r in (*t.rows, *other.rows)]
        return Table(cols, rows, t.limited or other.limited)

    def join(self, t: Table) -> Table:
        kind = "innerunique"
        if self.at("kind"):
            self.next()
            self.expect("=")
            kind = self.ident().lower()
            if kind not in ("innerunique", "inner", "leftouter"):
                raise KqlError("UnsupportedOperator", f"join kind={kind} is not one Resource Graph allows.")
        right = self.source()
        self.expect("on")
        if self.at("$left"):
            self.next()
            self.expect(".")
            lk = self.column(t.columns)
            self.expect("==")
            self.expect("$right")
            self.expect(".")
            rk = self.column(right.columns)
        else:
            lk = self.column(t.columns)
            if lk not in right.columns:
                raise KqlError("SemanticError", f"Failed to resolve column '{lk}' on the right of join.")
            rk = lk
        left_rows = t.rows
        if kind == "innerunique":
            firsts: dict[str, dict[str, Any]] = {}
            for r in left_rows:
                firsts.setdefault(_tostring(r[lk]), r)
            left_rows = list(firsts.values())
        renamed = {
            c: (c if c not in t.columns else _free_name(c, t.columns, right.columns)) for c in right.columns
        }
        cols = list(t.columns) + [renamed[c] for c in right.columns]
        index: dict[str, list[dict[str, Any]]] = {}
        for r in right.rows:
            if r[rk] is not None:
                index.setdefault(_tostring(r[rk]), []).append(r)
        rows = []
        for left in left_rows:
            matches = index.get(_tostring(left[lk]), []) if left[lk] is not None else []
            for m in matches:
                rows.append({**left, **{renamed[c]: m[c] for c in right.columns}})
            if not matches and kind == "leftouter":
                rows.append({**left, **{renamed[c]: None for c in right.columns}})
        return Table(cols, rows, t.limited or right.limited)

    # scalar
    def expr(self, columns: Sequence[str]) -> Expr:
        return self.or_expr(columns)

    def or_expr(self, columns: Sequence[str]) -> Expr:
        parts = [self.and_expr(columns)]
        while self.at("or"):
            self.next()
            parts.append(self.and_expr(columns))
        if len(parts) == 1:
            return parts[0]
        return lambda r: any(p(r) is True for p in parts)

    def and_expr(self, columns: Sequence[str]) -> Expr:
        parts = [self.comparison(columns)]
        while self.at("and"):
            self.next()
            parts.append(self.comparison(columns))
        if len(parts) == 1:
            return parts[0]
        return lambda r: all(p(r) is True for p in parts)

    def comparison(self, columns: Sequence[str]) -> Expr:
        left = self.primary(columns)
        t = self.tok
        op = t.text.lower() if t.kind in ("op", "ident") else ""
        if op in _BINARY or op in ("<", "<=", ">", ">="):
            self.next()
            right = self.primary(columns)
            if op in _BINARY:
                f = _BINARY[op]
                return lambda r: f(left(r), right(r))
            return lambda r: _order(left(r), right(r), op)
        if op in _IN:
            self.next()
            self.expect("(")
            start = self.i
            values = [self.primary(columns)]
            while self.at(","):
                self.next()
                values.append(self.primary(columns))
            literal = all(t.kind in ("str", "num") or t.text == "," for t in self.toks[start : self.i])
            self.expect(")")
            insensitive, negate = op.endswith("~"), op.startswith("!")
            if literal:  # the usual case (`type in~ ('a', 'b')`): compare against a set
                norm_const = _lower if insensitive else _tostring
                consts = {norm_const(x({})) for x in values}
                return lambda r: (v := left(r)) is not None and (norm_const(v) in consts) != negate

            def test(r: Mapping[str, Any]) -> bool:
                v = left(r)
                if v is None:
                    return False
                norm = _lower if insensitive else _tostring
                found = any(x(r) is not None and norm(x(r)) == norm(v) for x in values)
                return found != negate

            return test
        return left

    def primary(self, columns: Sequence[str]) -> Expr:
        t = self.tok
        if t.kind in ("str", "num"):
            self.next()
            value = t.value
            return lambda r: value
        if self.at("("):
            self.next()
            inner = self.expr(columns)
            self.expect(")")
            return inner
        if t.kind == "ident" and t.text in ("true", "false"):
            self.next()
            flag = t.text == "true"
            return lambda r: flag
        if t.kind == "ident" and self.toks[self.i + 1].text == "(":
            name = self.next().text
            self.next()
            spec = _FUNCTIONS.get(name.lower())
            if spec is None:
                raise KqlError("UnknownFunction", f"Unknown function: '{name}'.")
            args: list[Expr] = []
            if not self.at(")"):
                args.append(self.expr(columns))
                while self.at(","):
                    self.next()
                    args.append(self.expr(columns))
            self.expect(")")
            arity, fn = spec
            if arity is not None and len(args) != arity:
                raise KqlError("SemanticError", f"Function '{name}' expects {arity} argument(s).")
            return lambda r: fn(*(a(r) for a in args))
        if t.kind == "ident":
            name = self.column(columns)
            path: list[str | int] = []
            while self.at(".", "["):
                if self.next().text == ".":
                    path.append(self.ident())
                else:
                    key = self.next()
                    if key.kind not in ("str", "num"):
                        self.fail("expected a quoted name or an index")
                    path.append(key.value)
                    self.expect("]")
            return lambda r: _walk(r[name], path)
        self.fail("expected a value")
        raise AssertionError  # unreachable


def _walk(value: Any, path: Sequence[str | int]) -> Any:
    for key in path:
        if isinstance(key, int) and isinstance(value, list):
            value = value[key] if -len(value) <= key < len(value) else None
        elif isinstance(key, str) and isinstance(value, dict):
            value = value.get(key)
        else:
            return None
    return value


def _sort_key(v: Any) -> tuple[int, Any]:
    if isinstance(v, bool):
        return (0, int(v))
    if isinstance(v, (int, float)):
        return (0, v)
    return (1, _tostring(v))


def _free_name(name: str, *taken: Sequence[str]) -> str:
    n = 1
    while any(f"{name}{n}" in cols for cols in taken):
        n += 1
    return f"{name}{n}"


def run_query(text: str, tables: Mapping[str, Table]) -> Table:
    """Run `text` over `tables` (name -> Table); raise KqlError for anything outside the subset."""
    if not text.strip():
        raise KqlError("ParserFailure", "The query is empty.")
    return _Parser(text, tables).run()
