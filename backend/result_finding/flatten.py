"""The values at many JSON paths of many documents, at the speed exports need.

An export of every result writes each document's leaves as columns: a million documents
of about 40 leaves each. Walking each parsed document generically (a stack of
(path, value) pairs, a dict of its leaves, a lookup per column) cost about 25 µs per
document, most of an export's time. Here the paths are known before the rows are read
(the first pass found them), so one Python function is generated per export that reads
every path with straight-line code: each object on a path is looked up once, the
columns come out as a list in order (about 3 µs per document).

The first pass needs the leaf paths themselves, and most documents share their
structure: ``LeafKinds`` walks a document in full only when its ``signature`` (the type
at every known path, and the size of every object there) was not seen before, which is
exact: two documents with the same signature have the same leaf paths, each with the
same type of value.

The generated source holds no text of the documents: keys are passed in a tuple and
named by their index, so a key can be any string.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson

#: The value of a path a document does not have (``None`` is JSON's null).
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()

Path = tuple[str, ...]

#: Past this many changes of the known paths, the first pass stops generating code and
#: walks every document: documents whose keys are data (a new key in each) would make it
#: compile a new function per document.
MAX_RECOMPILES = 64


def leaves(document: Any, prefix: Path = ()) -> list[tuple[Path, Any]]:
    """(path, value) of each leaf: a value that is not an object with keys."""
    found: list[tuple[Path, Any]] = []
    stack = [(prefix, document)]
    while stack:
        path, value = stack.pop()
        if type(value) is dict and value:
            stack.extend(((*path, key), item) for key, item in value.items())
        else:
            found.append((path, value))
    return found


#: Deeper than this, objects are looked up without nesting blocks (Python's parser takes
#: at most 100 levels of indentation; documents may nest 64 levels).
NESTED_LEVELS = 40


#: The kind of each type of JSON value orjson (and the json module) gives; "json" for
#: arrays and empty objects.
KINDS = {bool: "boolean", int: "integer", float: "number", str: "text", type(None): "null"}


def document_shape(document: Any) -> str:
    """A digest of the document's leaf paths with the kind of value at each: documents
    with the same shape give an export the same columns (``backend.result_finding
    .streams``), so it reads one of them. 128 bits, so that two shapes never meet."""
    found = sorted({(path, KINDS.get(type(value), "json")) for path, value in leaves(document)})
    return hashlib.blake2b(orjson.dumps(found), digest_size=16).hexdigest()


class _Code:
    """Code that binds each object on the given paths to a variable, or ``absent`` where a
    document has none. Objects under a key a document lacks are not looked up at all:
    in an export of several benchmarks, most paths are another benchmark's."""

    def __init__(self, paths: Iterable[Path], absent: str) -> None:
        self.keys: list[str] = []
        self.lines: list[str] = []
        self.absent = absent
        self.children: dict[Path, list[Path]] = {(): []}
        for path in paths:
            for depth in range(1, len(path) + 1):
                if path[:depth] not in self.children:
                    self.children[path[:depth]] = []
                    self.children[path[: depth - 1]].append(path[:depth])
        #: variable of each path (and of each of its prefixes); the document is ``d``
        self.variable = {path: f"v{i}" for i, path in enumerate(self.children)}
        self.variable[()] = "d"
        self._nest((), 1)

    def _nest(self, path: Path, level: int) -> None:
        """Lines binding the objects under ``path``, whose variable holds an object."""
        indent = "    " * level
        for child in self.children[path]:
            self.keys.append(child[-1])
            parent, name = self.variable[path], self.variable[child]
            key = f"K[{len(self.keys) - 1}]"
            self.lines.append(f"{indent}{name} = {parent}.get({key}, {self.absent})")
            if not self.children[child]:
                continue
            if level >= NESTED_LEVELS:
                self._flat(child, indent)
                continue
            self.lines.append(f"{indent}if type({name}) is dict:")
            self._nest(child, level + 1)
            self.lines.append(f"{indent}else:")
            below = [
                self.variable[p] for p in self.children if p[: len(child)] == child and p != child
            ]
            self.lines.append(f"{indent}    {' = '.join(below)} = {self.absent}")

    def _flat(self, path: Path, indent: str) -> None:
        for child in self.children[path]:
            self.keys.append(child[-1])
            parent, name = self.variable[path], self.variable[child]
            key = f"K[{len(self.keys) - 1}]"
            self.lines.append(
                f"{indent}{name} = {parent}.get({key}, {self.absent}) "
                f"if type({parent}) is dict else {self.absent}"
            )
            self._flat(child, indent)

    def function(self, result: str, arguments: str = "d", **names: Any) -> Callable[..., Any]:
        every = [v for path, v in self.variable.items() if path]
        top = [
            "    if type(d) is dict:",
            *("    " + line for line in self.lines),
            "    else:",
            f"        {' = '.join(every)} = {self.absent}",
        ]
        source = "\n".join(
            [f"def generated({arguments}):", *(top if every else []), f"    return {result}"]
        )
        scope = {"K": tuple(self.keys), "M": MISSING, **names}
        exec(compile(source, "<backend.result_finding.flatten>", "exec"), scope)
        return scope["generated"]


class Inline(str):
    """A converter written as a Python expression of the value, ``{0}``, inlined in the
    generated code (calling a function for each value cost more than most conversions);
    it may use the reader's ``names``."""


Converter = Callable[[Any], Any] | Inline | None


def converter_function(convert: Converter, **names: Any) -> Callable[[Any], Any] | None:
    """The converter as a function of one value (an ``Inline`` one compiled with
    ``names``), for values converted once and then reused."""
    if isinstance(convert, Inline):
        source = "lambda v: " + convert.format("v")
        return eval(compile(source, "<backend.result_finding.flatten>", "eval"), dict(names))
    return convert


def row_reader(
    columns: Sequence[Path | str],
    *,
    leaves_only: bool,
    converters: Sequence[Converter] | None = None,
    **names: Any,
) -> Callable[[Any, Any], list[Any]]:
    """A function of (a database row ``r``, its parsed document ``d``) giving each
    column's value, passed through its converter if it has one. A path column's value
    is the document's there (None where there is none): with ``leaves_only`` an object
    with keys is not a value (its leaves are), so {"a": {"b": 1}} has none at ("a",).
    A text column is our own Python expression of ``r`` and ``names``.
    """
    paths = [column for column in columns if isinstance(column, tuple)]
    code = _Code(paths, absent="None")
    prefixes = {path[:depth] for path in paths for depth in range(len(path))}
    expressions = []
    for index, column in enumerate(columns):
        if isinstance(column, str):
            expression = f"({column})"
        elif leaves_only and column in prefixes:
            v = code.variable[column]
            expression = f"(None if type({v}) is dict and {v} else {v})"
        else:
            expression = code.variable[column]
        convert = converters[index] if converters is not None else None
        if isinstance(convert, Inline):
            expression = convert.format(expression)
        elif convert is not None:
            expression = f"C[{index}]({expression})"
        expressions.append(expression)
    return code.function(f"[{', '.join(expressions)}]", "r, d", C=converters, **names)


def value_reader(paths: Sequence[Path]) -> Callable[[Any], list[Any]]:
    """A function of a parsed document giving the value at each path (None if none)."""
    read = row_reader(paths, leaves_only=False)
    return lambda document: read(None, document)


def signature_reader(paths: Iterable[Path]) -> Callable[[Any], tuple]:
    """A function of a parsed document giving, for the document and each object or value
    on the paths, its size if it is an object, else its type (MISSING's if absent)."""
    code = _Code(paths, absent="M")
    parts = [f"(len({v}) if type({v}) is dict else type({v}))" for v in code.variable.values()]
    return code.function(f"({', '.join(parts)},)")


class LeafKinds:
    """The leaf paths of many documents, with the types of value found at each."""

    def __init__(self) -> None:
        self.types: dict[Path, set[type]] = {}
        self._seen: set[tuple] = set()
        self._signature = signature_reader(())
        self._recompiles = 0

    def add(self, document: Any) -> None:
        if self._recompiles <= MAX_RECOMPILES:
            signature = self._signature(document)
            if signature in self._seen:
                return
            self._seen.add(signature)
        grew = False
        for path, value in leaves(document):
            found = self.types.get(path)
            if found is None:
                self.types[path] = {type(value)}
                grew = True
            else:
                found.add(type(value))
        if grew and self._recompiles <= MAX_RECOMPILES:
            self._recompiles += 1
            self._signature = signature_reader(sorted(self.types))
            self._seen.clear()
