"""A reader for ``extensions.conf`` and Asterisk's ``${…}`` / ``$[…]`` expressions.

Only what the callcenter dialplans use: contexts, ``exten =>``/``same =>`` lines
with ``n`` priorities and labels, ``_`` patterns (X Z N . ! [..]), ``[globals]``,
variables, a few functions (CALLERID, CHANNEL, IF, LEN, EPOCH) and integer /
string comparisons. Anything else raises :class:`DialplanError` instead of
being silently misread.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class DialplanError(Exception):
    """The dialplan uses syntax the simulator does not understand."""


@dataclass
class Step:
    priority: int
    app: str
    data: str
    label: str = ""


@dataclass
class Extension:
    pattern: str
    steps: dict[int, Step] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)


@dataclass
class Context:
    name: str
    extensions: list[Extension] = field(default_factory=list)

    def find(self, exten: str) -> Extension | None:
        """Exact names first, then patterns (most specific first, as Asterisk sorts them)."""
        for ext in self.extensions:
            if not ext.pattern.startswith("_") and ext.pattern == exten:
                return ext
        matches = [
            e
            for e in self.extensions
            if e.pattern.startswith("_") and pattern_matches(e.pattern, exten)
        ]
        if not matches:
            return None
        return min(matches, key=lambda e: _specificity(e.pattern))


def _pattern_regex(pattern: str) -> str:
    out = []
    body = pattern[1:]
    i = 0
    while i < len(body):
        ch = body[i]
        if ch in "Xx":
            out.append("[0-9]")
        elif ch in "Zz":
            out.append("[1-9]")
        elif ch in "Nn":
            out.append("[2-9]")
        elif ch == ".":
            out.append(".+")
        elif ch == "!":
            out.append(".*")
        elif ch == "[":
            end = body.index("]", i)
            out.append("[" + re.escape(body[i + 1 : end]).replace("\\-", "-") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def pattern_matches(pattern: str, exten: str) -> bool:
    return re.fullmatch(_pattern_regex(pattern), exten) is not None


def _specificity(pattern: str) -> tuple[int, int]:
    # Longer literal patterns win over wildcards ("." and "!" last).
    wild = pattern.count(".") + pattern.count("!")
    return (wild, -len(pattern))


@dataclass
class Dialplan:
    contexts: dict[str, Context]
    globals: dict[str, str]

    def context(self, name: str) -> Context | None:
        return self.contexts.get(name)

    def locate(self, context: str, exten: str) -> Extension | None:
        ctx = self.contexts.get(context)
        return ctx.find(exten) if ctx else None


def _strip_comment(line: str) -> str:
    out = []
    i = 0
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line):
            out.append(line[i + 1])
            i += 2
            continue
        if line[i] == ";":
            break
        out.append(line[i])
        i += 1
    return "".join(out).strip()


def parse(text: str) -> Dialplan:
    contexts: dict[str, Context] = {}
    globals_: dict[str, str] = {}
    current: str | None = None
    last: Extension | None = None
    last_priority = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        if not line:
            continue
        if line.startswith("["):
            current = line[1 : line.index("]")]
            last = None
            if current not in ("general", "globals"):
                contexts.setdefault(current, Context(current))
            continue
        if current is None:
            raise DialplanError(f"line {lineno}: text outside a context")
        if current == "general":
            continue
        if current == "globals":
            key, _, value = line.partition("=")
            globals_[key.strip()] = value.strip()
            continue
        match = re.match(r"(exten|same)\s*=>?\s*(.*)$", line)
        if not match:
            if line.startswith(("include", "switch", "ignorepat")):
                raise DialplanError(f"line {lineno}: {line.split()[0]} is not supported")
            raise DialplanError(f"line {lineno}: cannot read {line!r}")
        kind, rest = match.groups()
        if kind == "exten":
            name, _, rest = rest.partition(",")
            name = name.strip()
            ctx = contexts[current]
            ext = next((e for e in ctx.extensions if e.pattern == name), None)
            if ext is None:
                ext = Extension(name)
                ctx.extensions.append(ext)
            last = ext
        elif last is None:
            raise DialplanError(f"line {lineno}: 'same' without an extension")
        prio_text, _, call = rest.partition(",")
        prio_text = prio_text.strip()
        label = ""
        label_match = re.fullmatch(r"(\w+|n)\((\w+)\)", prio_text)
        if label_match:
            prio_text, label = label_match.groups()
        if prio_text == "n":
            priority = last_priority + 1
        elif prio_text.isdigit():
            priority = int(prio_text)
        else:
            raise DialplanError(f"line {lineno}: priority {prio_text!r} not supported")
        last_priority = priority
        call = call.strip()
        app, paren, data = call.partition("(")
        if paren:
            if not data.endswith(")"):
                raise DialplanError(f"line {lineno}: unbalanced parentheses in {call!r}")
            data = data[:-1]
        assert last is not None
        last.steps[priority] = Step(priority, app.strip(), data, label)
        if label:
            last.labels[label] = priority
    return Dialplan(contexts, globals_)


_INCLUDE = re.compile(r'^#(include|tryinclude)\s+"?([^"\s]+)"?\s*$')


def read_config(path: str | Path, _depth: int = 0) -> str:
    """A config file's text with ``#include``/``#tryinclude`` lines replaced by the named files.

    As Asterisk does: a relative name is looked up next to the including file, a
    missing ``#include`` is an error, a missing ``#tryinclude`` is skipped.
    """
    path = Path(path)
    if _depth > 8:
        raise DialplanError(f"{path}: #include nested too deeply")
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        match = _INCLUDE.match(raw.strip())
        if not match:
            lines.append(raw)
            continue
        kind, name = match.groups()
        target = path.parent / name
        if not target.is_file():
            if kind == "tryinclude":
                continue
            raise DialplanError(f"{path}: #include {name}: no such file")
        lines.extend(read_config(target, _depth + 1).splitlines())
    return "\n".join(lines) + "\n"


def load(path: str | Path) -> Dialplan:
    return parse(read_config(path))


# --------------------------------------------------------------------------- expressions

Lookup = Callable[[str], str]


def _find_close(text: str, start: int, open_ch: str, close_ch: str) -> int:
    depth = 0
    i = start
    while i < len(text):
        if text.startswith(open_ch, i):
            depth += 1
            i += len(open_ch)
            continue
        if text[i] == close_ch:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise DialplanError(f"unbalanced {open_ch!r} in {text!r}")


def substitute(text: str, lookup: Lookup) -> str:
    """Expand ``${…}`` (variables and functions) and ``$[…]`` (expressions), innermost first."""
    out = []
    i = 0
    while i < len(text):
        if text.startswith("${", i):
            end = _find_close(text, i + 1, "{", "}")
            inner = substitute(text[i + 2 : end], lookup)
            out.append(_variable(inner, lookup))
            i = end + 1
        elif text.startswith("$[", i):
            end = _find_close(text, i + 1, "[", "]")
            inner = substitute(text[i + 2 : end], lookup)
            out.append(evaluate(inner))
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _variable(expr: str, lookup: Lookup) -> str:
    substring = re.fullmatch(r"(.+?):(-?\d+)(?::(-?\d+))?", expr)
    if substring and "(" not in expr:
        value = _variable(substring.group(1), lookup)
        offset = int(substring.group(2))
        length = substring.group(3)
        value = value[offset:]
        return value[: int(length)] if length is not None else value
    func = re.fullmatch(r"([A-Z_]+)\((.*)\)", expr, re.S)
    if func:
        name, args = func.groups()
        if name == "IF":
            cond, _, branches = args.partition("?")
            yes, _, no = branches.partition(":")
            return yes if _truthy(evaluate(cond)) else no
        if name == "LEN":
            return str(len(args))
        return lookup(f"{name}({args})")
    return lookup(expr)


def _truthy(value: str) -> bool:
    value = value.strip()
    return value not in ("", "0")


_TOKEN = re.compile(r'\s*("(?:[^"]*)"|>=|<=|!=|=~|[=<>+\-*/%&|!()]|[^\s=<>+\-*/%&|!()"]+)')


def evaluate(expr: str) -> str:
    """Asterisk ``$[…]``: comparisons, + - * / %, & |, strings in quotes or bare."""
    tokens = [t for t in _TOKEN.findall(expr) if t]
    if not tokens:
        return ""
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def atom() -> str:
        tok = take()
        if tok == "(":
            value = or_()
            if peek() == ")":
                take()
            return value
        if tok == "-" and peek() is not None:
            return str(-_num(atom()))
        if tok == "!":
            return "0" if _truthy(atom()) else "1"
        if tok.startswith('"'):
            return tok[1:-1]
        return tok

    def mul() -> str:
        left = atom()
        while peek() in ("*", "/", "%"):
            op = take()
            a, b = _num(left), _num(atom())
            left = (
                str(a * b if op == "*" else (a // b if op == "/" else a % b))
                if b or op == "*"
                else "0"
            )
        return left

    def add() -> str:
        left = mul()
        while peek() in ("+", "-"):
            op = take()
            right = mul()
            left = str(_num(left) + _num(right) if op == "+" else _num(left) - _num(right))
        return left

    def cmp() -> str:
        left = add()
        while peek() in ("=", "!=", "<", ">", "<=", ">="):
            op = take()
            right = add()
            left = "1" if _compare(left, op, right) else "0"
        return left

    def and_() -> str:
        left = cmp()
        while peek() == "&":
            take()
            right = cmp()
            left = right if _truthy(left) and _truthy(right) else "0"
        return left

    def or_() -> str:
        left = and_()
        while peek() == "|":
            take()
            right = and_()
            left = left if _truthy(left) else right
        return left

    return or_()


def _num(value: str) -> int:
    try:
        return int(float(value.strip()))
    except ValueError:
        return 0


def _compare(left: str, op: str, right: str) -> bool:
    try:
        a: float | str = float(left)
        b: float | str = float(right)
    except ValueError:
        a, b = left, right
    return {
        "=": a == b,
        "!=": a != b,
        "<": a < b,  # type: ignore[operator]
        ">": a > b,  # type: ignore[operator]
        "<=": a <= b,  # type: ignore[operator]
        ">=": a >= b,  # type: ignore[operator]
    }[op]


def split_args(data: str) -> list[str]:
    """Split application data on top-level commas (parentheses and quotes nest)."""
    args: list[str] = []
    depth = 0
    quoted = False
    current: list[str] = []
    for ch in data:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "([{":
            depth += 1
        elif not quoted and ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            args.append("".join(current))
            current = []
        else:
            current.append(ch)
    args.append("".join(current))
    return args
