r"""Benchmark schema patterns, as Python's ``re`` reads them, compiled for RE2.

Why RE2. jsonschema runs ``pattern``, ``patternProperties`` and ``format: regex`` with
Python's backtracking ``re``: ``"^(a+)+$"`` against 28 ``a``s and a ``!`` held a worker
(and the GIL) for 15 s. RE2 (Google's engine) matches in time linear in the text, so no
benchmark schema can freeze a worker; ``compile_pattern`` gives what the validators in
``schema_check`` search with.

Python's meaning is kept. A pattern is parsed with Python's own parser and written out in
RE2 syntax node by node, with each node's inline flags: ``\d``, ``\w`` and ``\s`` become
the Unicode ranges Python's ``re`` matches, found by running ``re`` itself over a text of
every code point, once per process and for the three together: 60 to 85 ms, where testing
code points one by one with ``str`` methods cost 0.2 to 0.4 s for ``\w`` alone and 0.7 to
1 s for all six escapes, in each worker. ``$`` also matches before a final newline, and
``\Z`` is RE2's ``\z``. What RE2 cannot do in linear time (backreferences, lookaround,
atomic groups, possessive quantifiers, more than 1,000 repetitions, more than
``PATTERN_MAX_MEMORY`` compiled) raises ``UnusablePattern``. One difference remains:
``\b`` and ``\B`` see ASCII word characters only.
"""

from __future__ import annotations

import functools
import re
import re._constants as sre
import re._parser as sre_parser
from collections.abc import Iterable
from typing import Any

import re2


class UnusablePattern(ValueError):
    """A pattern the service cannot run in linear time; the message says why."""


class LinearPattern:
    """A compiled pattern whose ``search`` takes time linear in the text."""

    __slots__ = ("regexp",)

    def __init__(self, regexp: Any) -> None:
        self.regexp = regexp

    def search(self, text: str) -> bool:
        """Whether the pattern matches somewhere in ``text``, as ``re.search`` would."""
        try:
            return self.regexp.search(text) is not None
        except UnicodeEncodeError:  # a lone surrogate: RE2 reads UTF-8
            return self.regexp.search(text.encode("utf-8", "surrogatepass")) is not None


#: Budget of one compiled pattern: ``\w{1,64}`` (Unicode word characters) needs about a
#: tenth of it; what needs more is refused before it costs a submission seconds of CPU.
PATTERN_MAX_MEMORY = 2 << 20


def _options() -> re2.Options:
    options = re2.Options()
    options.never_capture = True
    options.log_errors = False
    options.max_mem = PATTERN_MAX_MEMORY
    return options


_RE2_OPTIONS = _options()


@functools.lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> LinearPattern:
    """The pattern, as Python's ``re`` reads it, compiled for RE2; UnusablePattern if it
    is not a regular expression or cannot run in linear time."""
    if not isinstance(pattern, str):
        raise UnusablePattern("a pattern must be a string")
    try:
        parsed = sre_parser.parse(pattern)
    except re.error as error:
        raise UnusablePattern(f"it is not a regular expression: {error}") from None
    try:
        return LinearPattern(re2.compile(_sequence(parsed, parsed.state.flags), _RE2_OPTIONS))
    except re2.error as error:
        reason = error.args[0] if error.args else "refused"
        reason = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        hint = (
            "; repeat a class with + or * and bound the length with minLength/maxLength"
            if "too large" in reason
            else ""
        )
        raise UnusablePattern(f"RE2 cannot run it ({reason}){hint}") from None


_IGNORECASE, _MULTILINE, _DOTALL, _ASCII = (
    sre.SRE_FLAG_IGNORECASE,
    sre.SRE_FLAG_MULTILINE,
    sre.SRE_FLAG_DOTALL,
    sre.SRE_FLAG_ASCII,
)
_NOT_LINEAR = {
    sre.GROUPREF: "a backreference",
    sre.GROUPREF_EXISTS: "a conditional group",
    sre.ASSERT: "a lookahead or lookbehind",
    sre.ASSERT_NOT: "a lookahead or lookbehind",
    sre.ATOMIC_GROUP: "an atomic group",
    sre.POSSESSIVE_REPEAT: "a possessive quantifier",
}
_ANCHORS = {
    sre.AT_BEGINNING_STRING: r"\A",
    sre.AT_END_STRING: r"\z",
    sre.AT_BOUNDARY: r"\b",
    sre.AT_NON_BOUNDARY: r"\B",
}
_LAST = 0x10FFFF


def _sequence(items: Iterable[tuple[Any, Any]], flags: int) -> str:
    """RE2 syntax for a parsed Python pattern, node by node, with each node's flags."""
    return "".join(_node(op, argument, flags) for op, argument in items)


def _node(op: Any, argument: Any, flags: int) -> str:
    if op in _NOT_LINEAR:
        raise UnusablePattern(
            f"it uses {_NOT_LINEAR[op]}, which can take exponential time; the service "
            "runs patterns on RE2, which has none"
        )
    if op == sre.LITERAL:
        return _folded(_char(argument), flags)
    if op == sre.NOT_LITERAL:
        return _char_class([(sre.NEGATE, None), (sre.LITERAL, argument)], flags)
    if op == sre.IN:
        return _char_class(argument, flags)
    if op == sre.ANY:
        return "(?s:.)" if flags & _DOTALL else "."
    if op == sre.AT:
        return _anchor(argument, flags)
    if op == sre.BRANCH:
        return "(?:" + "|".join(_sequence(branch, flags) for branch in argument[1]) + ")"
    if op == sre.SUBPATTERN:
        _group, added, removed, items = argument
        return "(?:" + _sequence(items, (flags | added) & ~removed) + ")"
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
        low, high, items = argument
        bounds = f"{low}," if high == sre.MAXREPEAT else f"{low},{high}"
        lazy = "?" if op == sre.MIN_REPEAT else ""
        return f"(?:{_sequence(items, flags)}){{{bounds}}}{lazy}"
    raise UnusablePattern(f"it uses {op}, which the service cannot translate")


def _anchor(code: Any, flags: int) -> str:
    if code == sre.AT_BEGINNING:
        return "(?m:^)" if flags & _MULTILINE else r"\A"
    if code == sre.AT_END:
        # Python's $ also matches before a newline that ends the text.
        return "(?m:$)" if flags & _MULTILINE else r"(?:\n?\z)"
    return _ANCHORS[code]


def _char(code: int) -> str:
    return rf"\x{{{code:X}}}"


def _folded(text: str, flags: int) -> str:
    return f"(?i:{text})" if flags & _IGNORECASE else text


def _char_class(items: Iterable[tuple[Any, Any]], flags: int) -> str:
    negate, ranges = False, []
    for op, argument in items:
        if op == sre.NEGATE:
            negate = True
        elif op == sre.LITERAL:
            ranges.append((argument, argument))
        elif op == sre.RANGE:
            ranges.append(argument)
        elif op == sre.CATEGORY:
            ranges.extend(_category(argument, ascii_only=bool(flags & _ASCII)))
        else:
            raise UnusablePattern(f"it uses {op} in a character class")
    body = "".join(
        _char(low) if low == high else f"{_char(low)}-{_char(high)}"
        for low, high in _merged(ranges)
    )
    return _folded(f"[{'^' if negate else ''}{body}]", flags)


#: Each category escape: the letter of the escape whose ranges it uses, and whether it
#: is their complement.
_CATEGORIES: dict[Any, tuple[str, bool]] = {
    sre.CATEGORY_DIGIT: ("d", False),
    sre.CATEGORY_NOT_DIGIT: ("d", True),
    sre.CATEGORY_WORD: ("w", False),
    sre.CATEGORY_NOT_WORD: ("w", True),
    sre.CATEGORY_SPACE: ("s", False),
    sre.CATEGORY_NOT_SPACE: ("s", True),
}


@functools.cache
def _category(code: Any, *, ascii_only: bool) -> tuple[tuple[int, int], ...]:
    """The code point ranges of a category escape, as Python's ``re`` matches it."""
    letter, negated = _CATEGORIES[code]
    ranges = list(_category_ranges(ascii_only)[letter])
    return tuple(_complement(ranges) if negated else ranges)


@functools.cache
def _category_ranges(ascii_only: bool) -> dict[str, tuple[tuple[int, int], ...]]:
    r"""The ranges of ``\d``, ``\w`` and ``\s``, found by Python's ``re`` itself: it cuts
    a text of every code point into runs of the escape and runs of its complement (with
    the ASCII flag, every match lies below 128)."""
    text = _every_code_point()
    if ascii_only:
        text, flags = text[:128], re.ASCII
    else:
        flags = 0
    return {
        letter: tuple(
            (run.start(), run.end() - 1)
            for run in re.finditer(rf"(\{letter}+)|\{letter.upper()}+", text, flags)
            if run.start(1) >= 0
        )
        for letter in "dws"
    }


def _every_code_point() -> str:
    """The text of code points 0 to U+10FFFF, lone surrogates included, decoded from its
    UTF-32-LE bytes written one byte column at a time (about 20 ms, where joining ``chr``
    of each code point took 0.25 s)."""
    count = _LAST + 1
    units = bytearray(4 * count)
    units[0::4] = bytes(range(256)) * (count // 256)
    units[1::4] = b"".join(bytes([byte]) * 256 for byte in range(256)) * (count // 65536)
    units[2::4] = b"".join(bytes([plane]) * 65536 for plane in range(count // 65536))
    return units.decode("utf-32-le", "surrogatepass")


def _merged(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return merged


def _complement(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    gaps, start = [], 0
    for low, high in ranges:
        if low > start:
            gaps.append((start, low - 1))
        start = high + 1
    if start <= _LAST:
        gaps.append((start, _LAST))
    return gaps
