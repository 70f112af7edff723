"""A subset of Go's ``text/template`` for ``heketi-cli topology info --template``.

Supported: text and ``{{ }}`` actions with ``{{-``/``-}}`` trimming and comments; pipelines with
``|``, parenthesised sub-pipelines, field chains (``.A.B``, ``$x.A``), variables (``:=``, ``=``);
``if``/``else if``/``else``, ``range`` (slices, maps in key order, with ``$i, $e :=``), ``with``,
``break``/``continue``; the functions ``and or not len index print printf println eq ne lt
le gt ge`` plus heketi-cli's ``join kibToGib entryStateString``. Not supported: ``define``,
``template``, ``block``, method calls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from brickyard.cli.gofmt import sprint, sprintf, sprintln
from brickyard.cli.gotypes import TOPOLOGY, GoStruct, format_value, wrap

__all__ = ["TemplateError", "render", "render_topology"]

NAME = "topology"


class TemplateError(Exception):
    pass


class _Missing:
    """Go's "no value" (a pipeline that produced nothing)."""

    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()

# --- lexer -----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\\n]|\\.)+')
  | (?P<declare>:=)
  | (?P<close>\)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<punct>[|(),=])
  | (?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+
                     |\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?
                     |\.\d+(?:[eE][+-]?\d+)?))
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<dot>\.)
  | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)


@dataclass
class _Tok:
    kind: str
    text: str


def _split(source: str) -> list[tuple[str, Any]]:
    """Text and action segments, with trim markers applied."""
    parts: list[tuple[str, Any]] = []
    pos = 0
    trim_next = False
    line = 1
    while True:
        start = source.find("{{", pos)
        text = source[pos:] if start < 0 else source[pos:start]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if start < 0:
            parts.append(("text", text))
            return parts
        line += source.count("\n", pos, start)
        body_start = start + 2
        trim_left = source.startswith("- ", body_start) or source.startswith("-\t", body_start)
        if source.startswith("-\n", body_start):
            trim_left = True
        if trim_left:
            text = text.rstrip(" \t\r\n")
            body_start += 1
        parts.append(("text", text))
        tokens, end, trim_next = _lex_action(source, body_start, line)
        if tokens is not None:
            parts.append(("action", (tokens, line)))
        line += source.count("\n", start, end)
        pos = end


def _lex_action(source: str, pos: int, line: int) -> tuple[list[_Tok] | None, int, bool]:
    stripped = source[pos:].lstrip(" \t\r\n")
    if stripped.startswith("/*"):
        close = source.find("*/", pos)
        if close < 0:
            raise TemplateError(f"template: {NAME}:{line}: unclosed comment")
        rest = source[close + 2 :]
        trim = rest.lstrip(" \t\r\n").startswith("-}}")
        end = source.find("}}", close) + 2
        return None, end, trim
    tokens: list[_Tok] = []
    while True:
        if source.startswith("}}", pos):
            return tokens, pos + 2, False
        if re.match(r"[ \t\r\n]-}}", source[pos : pos + 4]):
            return tokens, pos + 4, True
        match = _TOKEN.match(source, pos)
        if match is None or not match.group():
            if pos >= len(source):
                raise TemplateError(f"template: {NAME}:{line}: unclosed action")
            raise TemplateError(f"template: {NAME}:{line}: unexpected {source[pos]!r} in command")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Tok(kind, match.group()))
        pos = match.end()


# --- parse tree ------------------------------------------------------------------------------


@dataclass
class Operand:
    kind: str  # field dot var literal ident pipe
    value: Any = None
    chain: tuple[str, ...] = ()


@dataclass
class Command:
    operands: list[Operand]


@dataclass
class Pipeline:
    commands: list[Command]
    declare: list[str] = field(default_factory=list)
    assign: bool = False


@dataclass
class Text:
    text: str


@dataclass
class Action:
    pipe: Pipeline


@dataclass
class Branch:
    kind: str  # if range with
    pipe: Pipeline
    body: list[Node]
    orelse: list[Node]


@dataclass
class Jump:
    kind: str  # break continue


Node: TypeAlias = Text | Action | Branch | Jump


class _Parser:
    def __init__(self, source: str) -> None:
        self.parts = _split(source)
        self.index = 0

    def parse(self) -> list[Node]:
        nodes, end = self.block()
        if end is not None:
            raise TemplateError(f"template: {NAME}:{end[1]}: unexpected {{{{{end[0]}}}}}")
        return nodes

    def block(self) -> tuple[list[Node], tuple[str, int, list[_Tok]] | None]:
        nodes: list[Node] = []
        while self.index < len(self.parts):
            kind, payload = self.parts[self.index]
            self.index += 1
            if kind == "text":
                if payload:
                    nodes.append(Text(payload))
                continue
            tokens, line = payload
            if not tokens:
                raise TemplateError(f"template: {NAME}:{line}: missing value for command")
            word = tokens[0].text if tokens[0].kind == "ident" else ""
            if word in ("end", "else"):
                return nodes, (word, line, tokens[1:])
            if word in ("if", "range", "with"):
                nodes.append(self.branch(word, tokens[1:], line))
            elif word in ("break", "continue"):
                nodes.append(Jump(word))
            elif word in ("define", "template", "block"):
                raise TemplateError(f"template: {NAME}:{line}: {{{{{word}}}}} is not supported")
            else:
                nodes.append(Action(_pipeline(tokens, line)))
        return nodes, None

    def branch(self, kind: str, tokens: list[_Tok], line: int) -> Branch:
        pipe = _pipeline(tokens, line)
        body, end = self.block()
        if end is None:
            raise TemplateError(f"template: {NAME}:{line}: unexpected EOF")
        orelse: list[Node] = []
        if end[0] == "else":
            rest = end[2]
            if rest and rest[0].kind == "ident" and rest[0].text in ("if", "with"):
                orelse = [self.branch(rest[0].text, rest[1:], end[1])]
                return Branch(kind, pipe, body, orelse)
            orelse, end = self.block()
            if end is None or end[0] != "end":
                raise TemplateError(f"template: {NAME}:{line}: expected end")
        return Branch(kind, pipe, body, orelse)


def _pipeline(tokens: list[_Tok], line: int) -> Pipeline:
    declare: list[str] = []
    assign = False
    for i, tok in enumerate(tokens):
        if tok.kind in ("declare", "punct") and tok.text in (":=", "="):
            names = [t.text for t in tokens[:i] if t.kind == "var"]
            if not names or any(t.kind not in ("var", "punct") for t in tokens[:i]):
                raise TemplateError(f"template: {NAME}:{line}: bad variable declaration")
            declare, assign = names, tok.text == "="
            tokens = tokens[i + 1 :]
            break
    commands, rest = _commands(tokens, line)
    if rest:
        raise TemplateError(f"template: {NAME}:{line}: unexpected {rest[0].text!r}")
    return Pipeline(commands, declare, assign)


def _commands(tokens: list[_Tok], line: int) -> tuple[list[Command], list[_Tok]]:
    commands: list[Command] = []
    operands: list[Operand] = []
    while tokens:
        tok = tokens[0]
        if tok.kind == "punct" and tok.text == "|":
            if not operands:
                raise TemplateError(f"template: {NAME}:{line}: missing command")
            commands.append(Command(operands))
            operands = []
            tokens = tokens[1:]
            continue
        if tok.kind == "close" or (tok.kind == "punct" and tok.text == ")"):
            break
        if tok.kind == "punct" and tok.text == "(":
            inner, tokens = _commands(tokens[1:], line)
            if not tokens:
                raise TemplateError(f"template: {NAME}:{line}: unclosed left paren")
            chain = tuple(tokens[0].text.split(".")[1:]) if tokens[0].kind == "close" else ()
            operands.append(Operand("pipe", Pipeline(inner), chain))
            tokens = tokens[1:]
            continue
        operands.append(_operand(tok, line))
        tokens = tokens[1:]
    if operands:
        commands.append(Command(operands))
    if not commands:
        raise TemplateError(f"template: {NAME}:{line}: missing value for command")
    return commands, tokens


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _operand(tok: _Tok, line: int) -> Operand:
    text = tok.text
    if tok.kind == "field":
        return Operand("field", chain=tuple(text.split(".")[1:]))
    if tok.kind == "dot":
        return Operand("dot")
    if tok.kind == "var":
        name, *chain = text.split(".")
        return Operand("var", name, tuple(chain))
    if tok.kind == "string":
        return Operand("literal", json.loads(text) if "\\'" not in text else text[1:-1])
    if tok.kind == "raw":
        return Operand("literal", text[1:-1])
    if tok.kind == "char":
        body = text[1:-1]
        char = _ESCAPES.get(body[1], body[1]) if body.startswith("\\") else body
        return Operand("literal", ord(char))
    if tok.kind == "number":
        clean = text.replace("_", "")
        try:
            number: float = int(clean, 0)
        except ValueError:
            number = float(clean)
        return Operand("literal", number)
    if tok.kind == "ident":
        literals = {"true": True, "false": False, "nil": None}
        if text in literals:
            return Operand("literal", literals[text])
        name, *chain = text.split(".")
        return Operand("ident", name, tuple(chain))
    raise TemplateError(f"template: {NAME}:{line}: unexpected {text!r} in operand")


# --- execution -------------------------------------------------------------------------------


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def truth(value: Any) -> bool:
    if value is None or value is MISSING:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) > 0
    return True


def _field(value: Any, name: str) -> Any:
    if isinstance(value, GoStruct):
        try:
            return value.field(name)
        except KeyError:
            raise TemplateError(
                f"template: {NAME}: can't evaluate field {name} in type {value.type.name}"
            ) from None
    if isinstance(value, Mapping):
        return value.get(name, "")
    if value is None or value is MISSING:
        raise TemplateError(f"template: {NAME}: nil pointer evaluating {name}")
    raise TemplateError(f"template: {NAME}: can't evaluate field {name} in type {type(value)}")


def _chain(value: Any, chain: Sequence[str]) -> Any:
    for name in chain:
        value = _field(value, name)
    return value


def _length(value: Any) -> int:
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise TemplateError(f"template: {NAME}: error calling len: len of type {type(value)}")


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, Mapping):
            value = value.get(key, "")
        elif isinstance(value, list | tuple | str) and isinstance(key, int):
            if not 0 <= key < len(value):
                raise TemplateError(f"template: {NAME}: error calling index: out of range")
            value = value[key]
        else:
            raise TemplateError(f"template: {NAME}: error calling index: cannot index")
    return value


def _compare(op: str) -> Callable[..., bool]:
    def compare(a: Any, *others: Any) -> bool:
        if op == "eq":
            return any(a == b for b in others)
        (b,) = others
        try:
            result: bool = {
                "ne": lambda: a != b,
                "lt": lambda: a < b,
                "le": lambda: a <= b,
                "gt": lambda: a > b,
                "ge": lambda: a >= b,
            }[op]()
        except TypeError:
            raise TemplateError(
                f"template: {NAME}: error calling {op}: incompatible types"
            ) from None
        return result

    return compare


def _join(values: Any, sep: Any) -> str:
    return str(sep).join(str(v) for v in values)


def _kib_to_gib(value: Any) -> str:
    return str(int(value) // (1024 * 1024))


def _entry_state(value: Any) -> str:
    return "removed" if value == "failed" else str(value)


FUNCS: dict[str, Callable[..., Any]] = {
    "not": lambda v: not truth(v),
    "len": _length,
    "index": _index,
    "print": sprint,
    "printf": sprintf,
    "println": sprintln,
    "eq": _compare("eq"),
    "ne": _compare("ne"),
    "lt": _compare("lt"),
    "le": _compare("le"),
    "gt": _compare("gt"),
    "ge": _compare("ge"),
    "join": _join,
    "kibToGib": _kib_to_gib,
    "entryStateString": _entry_state,
}


class _Exec:
    def __init__(self, root: Any) -> None:
        self.scopes: list[dict[str, Any]] = [{"$": root}]
        self.out: list[str] = []

    def lookup(self, name: str) -> Any:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        raise TemplateError(f'template: {NAME}: undefined variable "{name}"')

    def assign(self, name: str, value: Any) -> None:
        for scope in reversed(self.scopes):
            if name in scope:
                scope[name] = value
                return
        raise TemplateError(f'template: {NAME}: undefined variable "{name}"')

    def run(self, nodes: list[Node], dot: Any) -> None:
        for node in nodes:
            if isinstance(node, Text):
                self.out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipeline(node.pipe, dot)
                if not node.pipe.declare:
                    self.out.append("<no value>" if value is MISSING else format_value(value))
            elif isinstance(node, Jump):
                raise _Break() if node.kind == "break" else _Continue()
            else:
                self.branch(node, dot)

    def scoped(self, nodes: list[Node], dot: Any, names: dict[str, Any] | None = None) -> None:
        self.scopes.append(dict(names or {}))
        try:
            self.run(nodes, dot)
        finally:
            self.scopes.pop()

    def branch(self, node: Branch, dot: Any) -> None:
        self.scopes.append({})
        try:
            value = self.pipeline(node.pipe, dot, bind=node.kind != "range")
            if node.kind == "range":
                self.loop(node, dot, value)
            elif truth(value):
                self.scoped(node.body, value if node.kind == "with" else dot)
            else:
                self.scoped(node.orelse, dot)
        finally:
            self.scopes.pop()

    def loop(self, node: Branch, dot: Any, value: Any) -> None:
        items: Iterator[tuple[Any, Any]]
        if isinstance(value, Mapping):
            items = ((k, value[k]) for k in sorted(value))
        elif isinstance(value, list | tuple):
            items = iter(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            items = ((i, i) for i in range(value))
        elif value is None or value is MISSING:
            items = iter(())
        else:
            raise TemplateError(f"template: {NAME}: range can't iterate over {format_value(value)}")
        ran = False
        names = node.pipe.declare
        for key, element in items:
            ran = True
            bound = {}
            if len(names) == 1:
                bound[names[0]] = element
            elif len(names) == 2:
                bound = {names[0]: key, names[1]: element}
            try:
                self.scoped(node.body, element, bound)
            except _Break:
                break
            except _Continue:
                continue
        if not ran:
            self.scoped(node.orelse, dot)

    def pipeline(self, pipe: Pipeline, dot: Any, *, bind: bool = True) -> Any:
        value: Any = MISSING
        for command in pipe.commands:
            value = self.command(command, dot, value)
        if pipe.declare and bind:
            if pipe.assign:
                self.assign(pipe.declare[0], value)
            else:
                self.scopes[-1][pipe.declare[0]] = value
        return value

    def command(self, command: Command, dot: Any, final: Any) -> Any:
        first, *rest = command.operands
        if first.kind == "ident" and not first.chain:
            func = FUNCS.get(first.value)
            if first.value in ("and", "or"):
                return self.logic(first.value, rest, dot, final)
            if func is None:
                raise TemplateError(f'template: {NAME}: function "{first.value}" not defined')
            args = [self.operand(op, dot) for op in rest]
            if final is not MISSING:
                args.append(final)
            try:
                return func(*args)
            except TemplateError:
                raise
            except (TypeError, ValueError) as exc:
                raise TemplateError(
                    f"template: {NAME}: error calling {first.value}: {exc}"
                ) from None
        if rest or final is not MISSING:
            raise TemplateError(f"template: {NAME}: can't give argument to non-function")
        return self.operand(first, dot)

    def logic(self, name: str, operands: list[Operand], dot: Any, final: Any) -> Any:
        values: list[Any] = [lambda op=op: self.operand(op, dot) for op in operands]
        if final is not MISSING:
            values.append(lambda: final)
        if not values:
            raise TemplateError(f"template: {NAME}: wrong number of args for {name}")
        result: Any = None
        for get in values:
            result = get()
            if truth(result) == (name == "or"):
                return result
        return result

    def operand(self, op: Operand, dot: Any) -> Any:
        if op.kind == "field":
            return _chain(dot, op.chain)
        if op.kind == "dot":
            return dot
        if op.kind == "var":
            return _chain(self.lookup(op.value), op.chain)
        if op.kind == "literal":
            return op.value
        if op.kind == "pipe":
            return _chain(self.pipeline(op.value, dot), op.chain)
        if op.kind == "ident" and op.value in FUNCS:
            return self.command(Command([Operand("ident", op.value)]), dot, MISSING)
        raise TemplateError(f'template: {NAME}: function "{op.value}" not defined')


def render(source: str, data: Any) -> str:
    """Execute the template ``source`` with ``data`` as dot."""
    nodes = _Parser(source).parse()
    runner = _Exec(data)
    try:
        runner.run(nodes, data)
    except (_Break, _Continue):
        raise TemplateError(f"template: {NAME}: break or continue outside range") from None
    return "".join(runner.out)


def render_topology(source: str, topology: Mapping[str, Any]) -> str:
    """``topology info --template``: ``source`` over the api.TopologyInfoResponse."""
    return render(source, wrap(topology, TOPOLOGY))
