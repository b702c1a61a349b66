"""Reading YAML that people hand reesim: bounded, strict, and never echoing a file back.

Every scenario, world, game and episode file goes through :func:`read_yaml_file` (or
:func:`load_yaml` for text). Beyond ``yaml.SafeLoader`` (no object-constructing tags):

* the file must be a regular file of at most :data:`MAX_BYTES` (not a device or FIFO, which
  could block or never end);
* the bytes must be UTF-8 (a UTF-8 byte-order mark is allowed); UTF-16, Latin-1 and binary
  files get a message naming the encoding problem;
* a key may appear once per mapping (YAML would silently keep the last);
* aliases may not expand the document past :data:`MAX_NODES` nodes ("billion laughs"), and
  nesting may not exceed :data:`MAX_DEPTH` levels;
* syntax errors give the line, the column and the problem, never the offending text (so that
  pointing reesim at a file that is not YAML does not print its lines).

Values echoed in messages are shortened with :func:`short`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from reesim.errors import InputError

#: Largest YAML file read (bytes): the shipped scenarios are under 10 kB.
MAX_BYTES = 1_000_000
#: Largest document after alias expansion (nodes).
MAX_NODES = 200_000
#: Deepest nesting of mappings and lists.
MAX_DEPTH = 40


def short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (with the full length said)."""
    try:
        text = repr(value)
    except Exception:  # a value whose repr fails
        text = f"<{type(value).__name__}>"
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


class StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser where PyYAML has it
    """SafeLoader that refuses duplicated keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found an unhashable key",
                    key_node.start_mark,
                ) from None
            if key in seen:
                first = seen[key].start_mark
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicated key {short(key, 40)} (first at line {first.line + 1}); each key may appear once",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


class DatesAsStringsLoader(StrictLoader):
    """StrictLoader that leaves dates as strings, so the models validate them (with their YAML path)."""


DatesAsStringsLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in StrictLoader.yaml_implicit_resolvers.items()
}


def _check_size(root: yaml.Node, label: str) -> None:
    """Refuse documents whose alias expansion or nesting is too large (counted on the node graph)."""
    sizes: dict[int, int] = {}
    depth_of: dict[int, int] = {}

    def visit(node: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise InputError(f"{label}: nested more than {MAX_DEPTH} levels deep; a scenario needs a few")
        key = id(node)
        if key in sizes and depth_of[key] >= depth:
            return sizes[key]
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        total = 1
        for child in children:
            total += visit(child, depth + 1)
            if total > MAX_NODES:
                raise InputError(
                    f"{label}: the document expands to more than {MAX_NODES:,} values "
                    "(anchors and aliases repeated within each other); write the values out"
                )
        sizes[key], depth_of[key] = total, depth
        return total

    visit(root, 0)


def _yaml_error(exc: yaml.YAMLError, label: str) -> InputError:
    """The error's position and problem, without quoting the text."""
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow
        # libyaml gives the character's code and a byte offset; PyYAML's reader the character
        coded = isinstance(exc.character, int)
        char = chr(exc.character) if coded else exc.character
        where = "byte offset" if coded else "offset"
        return InputError(
            f"{label}: not valid YAML: character {char!r} at {where} {exc.position} is not allowed "
            "(control characters other than tab and newline)"
        )
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or type(exc).__name__
    if "maximum nesting depth" in str(problem):  # libyaml's own limit (1,000 levels), met first
        return InputError(f"{label}: nested more than {MAX_DEPTH} levels deep; a scenario needs a few")
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return InputError(f"{label}: not valid YAML{where}: {problem}")


def load_yaml(text: str, label: str, *, dates_as_strings: bool = False) -> Any:
    """Parse YAML ``text`` with the checks of this module; errors are :class:`InputError`."""
    if len(text) > MAX_BYTES:
        raise InputError(f"{label}: {len(text):,} characters; a YAML input may have at most {MAX_BYTES:,}")
    if "\x00" in text:
        raise InputError(f"{label}: contains NUL characters: a binary file, not YAML")
    try:
        loader = (DatesAsStringsLoader if dates_as_strings else StrictLoader)(text)  # checks characters
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, label) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node, label)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, label) from None
    except ValueError as exc:  # a value YAML reads as a date that is not one (2025-13-45)
        raise InputError(
            f"{label}: a value written as a date is not a valid date ({exc}); quote it to keep it as text"
        ) from None
    except RecursionError:
        raise InputError(
            f"{label}: nested more than {MAX_DEPTH} levels deep; a scenario needs a few"
        ) from None
    finally:
        loader.dispose()


def decode(data: bytes, label: str) -> str:
    """UTF-8 text of a file's bytes, or an :class:`InputError` naming the encoding problem."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{label}: the file is UTF-16 encoded; save it as UTF-8")
    if b"\x00" in data:
        raise InputError(f"{label}: contains NUL bytes: a binary file, not YAML")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{label}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8 (Latin-1 or Windows-1252 text needs converting)"
        ) from None


def read_text_file(path: Path, label: str | None = None) -> str:
    """The UTF-8 text of a regular file of at most :data:`MAX_BYTES`."""
    label = label or path.name
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InputError(f"{label}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{label}: not a regular file; give a YAML file")
    if st.st_size > MAX_BYTES:
        raise InputError(f"{label}: {st.st_size:,} bytes; a YAML input may have at most {MAX_BYTES:,}")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{label}: cannot be read ({exc.strerror})") from None
    if len(data) > MAX_BYTES:
        raise InputError(f"{label}: more than {MAX_BYTES:,} bytes; a YAML input may have at most that")
    return decode(data, label)


def read_yaml_file(path: Path, label: str | None = None, *, dates_as_strings: bool = False) -> Any:
    """Read and parse a YAML file with every check of this module."""
    label = label or path.name
    return load_yaml(read_text_file(path, label), label, dates_as_strings=dates_as_strings)


#: Most problems listed in one error message (the rest are counted).
MAX_PROBLEMS = 15


def require_mapping(data: Any, label: str, kind: str, keys: Any) -> dict:
    """``data`` if it is a mapping sharing at least one key with ``keys``; else an :class:`InputError`.

    A file that shares no key with the format is not echoed back (it may not be a
    ``kind`` at all: a password file, a CSV, a document).
    """
    allowed = sorted(keys)
    a = "an" if kind[:1] in "aeiou" else "a"
    if not isinstance(data, dict):
        raise InputError(f"{label}: {a} {kind} is a mapping with keys {allowed}; this file is not one")
    if data and not set(map(str, data)) & set(allowed):
        raise InputError(
            f"{label}: does not look like {a} {kind}: none of its {len(data)} top-level keys is one of "
            f"{allowed} (its content is not shown)"
        )
    return data


def join_problems(lines: list[str], sep: str = "\n") -> str:
    """At most :data:`MAX_PROBLEMS` lines, then a count of the rest."""
    if len(lines) <= MAX_PROBLEMS:
        return sep.join(lines)
    return sep.join([*lines[:MAX_PROBLEMS], f"... and {len(lines) - MAX_PROBLEMS} more problems"])
