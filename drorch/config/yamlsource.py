"""Load a YAML file into plain data plus the line of every field path.

Errors downstream name `file:line: field.path: message`, so every mapping key
and sequence item keeps the line it was written on.

A config file is read defensively, since the daemon and `validate` read whatever the
folders hold: only a regular file (a symlink to one is fine) is read, never a FIFO or a
device; at most MAX_FILE_BYTES of it; nested at most MAX_DEPTH levels; and its aliases
may expand to at most MAX_ALIAS_VALUES values, where a "billion laughs" file of a few
hundred bytes would expand to billions. An alias inside the value it names is refused.
"""

from __future__ import annotations

import functools
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from yaml.composer import Composer, ComposerError

from drorch.errors import ConfigIssue

try:
    from yaml import CSafeLoader as _Base
except ImportError:  # pragma: no cover - libyaml is in Debian's and PyPI's builds
    from yaml import SafeLoader as _Base  # type: ignore[assignment]

FieldPath = tuple[str | int, ...]

MAX_FILE_BYTES = 1024**2  # a config file is a few kilobytes
MAX_DEPTH = 100  # levels of mappings and sequences; drorch's own schema needs 6
MAX_ALIAS_VALUES = 100_000  # values that the aliases of one file may expand to


@dataclass(frozen=True)
class Document:
    """A parsed file: its data, and the line of every field path. A document from the
    parse cache (drorch.config.parse_cache) holds the file's text instead of its lines,
    and parses it again for them the first time an issue needs one."""

    file: str  # as shown to the user: relative to the config root
    data: Any
    known_lines: dict[FieldPath, int] | None = field(default=None, repr=False, compare=False)
    text: str | None = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def lines(self) -> dict[FieldPath, int]:
        if self.known_lines is not None:
            return self.known_lines
        assert self.text is not None, "a document holds its lines or its text"
        return parse_document(self.text, self.file).lines

    def line_of(self, path: FieldPath) -> int | None:
        """The line of the deepest known prefix of path."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def issue(self, path: FieldPath, message: str) -> ConfigIssue:
        return ConfigIssue(self.file, self.line_of(path), dotted(path), message)


def dotted(path: FieldPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class YamlProblem(Exception):
    def __init__(self, issue: ConfigIssue) -> None:
        self.issue = issue
        super().__init__(str(issue))


def load_document(path: Path, shown_as: str) -> Document:
    """Parse one YAML file; raise YamlProblem naming file and line on any problem."""
    return parse_document(read_text(path, shown_as), shown_as)


def read_text(path: Path, shown_as: str) -> str:
    """The text of a config file (read_regular_file's checks, then UTF-8)."""
    try:
        return read_regular_file(path, shown_as).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlProblem(ConfigIssue(shown_as, None, "", f"cannot read: {exc}")) from exc


def parse_document(text: str, shown_as: str) -> Document:
    """Parse the text of one YAML file, shown as `shown_as` in issues."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        reason = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise YamlProblem(ConfigIssue(shown_as, line, "", f"invalid YAML: {reason}")) from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(ConfigIssue(shown_as, None, "", f"invalid YAML: {exc}")) from exc
    finally:
        loader.dispose()
    lines: dict[FieldPath, int] = {}
    data = _Converter(loader, shown_as, lines).convert(node, ()) if node is not None else None
    return Document(shown_as, data, known_lines=lines)


def read_regular_file(path: Path, shown_as: str) -> bytes:
    """The content of `path` if it is a regular file of at most MAX_FILE_BYTES.

    Opened non-blocking (a FIFO nobody writes to would block a plain open forever) and
    checked on the open descriptor, so nothing can be swapped in between check and read.
    """

    def problem(message: str) -> YamlProblem:
        return YamlProblem(ConfigIssue(shown_as, None, "", message))

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise problem(f"cannot read: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _FILE_KINDS.get(stat.S_IFMT(info.st_mode), "not a file")
            raise problem(f"not a regular file ({kind}); drorch reads only files")
        chunks, size = [], 0
        while size <= MAX_FILE_BYTES and (chunk := os.read(fd, MAX_FILE_BYTES + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise problem(f"cannot read: {exc.strerror}") from exc
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        raise problem(
            f"{max(size, info.st_size)} bytes, more than the {MAX_FILE_BYTES // 1024**2} MiB "
            "a config file may have"
        )
    return b"".join(chunks)


_FILE_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class _AliasNode(yaml.Node):
    """An alias (`*name`) where it is written; `value` is the node it names."""

    id = "alias"

    def __init__(self, target: yaml.Node, name: str, start: Any, end: Any) -> None:
        super().__init__(target.tag, target, start, end)
        self.name = name


class _Composer(Composer):
    """PyYAML's composer, over libyaml's events, that keeps every alias as a node of its
    own (instead of the node it names), so that the converter can bound and locate what
    aliases expand to, and that refuses nesting deeper than MAX_DEPTH."""

    _depth = 0

    if TYPE_CHECKING:  # the parser it is mixed with (libyaml's) provides the events

        def check_event(self, *choices: type[yaml.Event]) -> bool: ...
        def peek_event(self) -> Any: ...
        def get_event(self) -> Any: ...

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()
            target = self.anchors.get(event.anchor)
            if target is None:
                raise ComposerError(
                    None, None, f"found undefined alias {event.anchor!r}", event.start_mark
                )
            return _AliasNode(target, event.anchor, event.start_mark, event.end_mark)
        if not self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        if self._depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Loader(_Composer, _Base):
    def __init__(self, text: str) -> None:
        _Base.__init__(self, text)
        _Composer.__init__(self)


@dataclass
class _Converter:
    loader: Any
    file: str
    lines: dict[FieldPath, int]
    expanded: int = 0  # values produced by expanding aliases so far
    aliases: list[tuple[_AliasNode, FieldPath]] = field(default_factory=list)  # outermost first
    open: set[int] = field(default_factory=set)  # ids of the collections being converted

    def convert(self, node: yaml.Node, path: FieldPath) -> Any:
        return _convert(node, path, self)

    def scalar(self, node: yaml.Node) -> Any:
        if isinstance(node, _AliasNode):  # an alias as a mapping key
            self.count()
            node = node.value
        if not isinstance(node, yaml.ScalarNode):
            return [] if isinstance(node, yaml.SequenceNode) else {}
        try:  # a scalar node holds no other node: nothing here expands
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise YamlProblem(
                ConfigIssue(self.file, node.start_mark.line + 1, "", f"invalid value: {exc}")
            ) from exc

    def expand(self, alias: _AliasNode, path: FieldPath) -> Any:
        if id(alias.value) in self.open:
            raise YamlProblem(
                ConfigIssue(
                    self.file,
                    alias.start_mark.line + 1,
                    dotted(path),
                    f"alias *{alias.name} refers to the value that contains it (a cycle)",
                )
            )
        self.lines.setdefault(path, alias.start_mark.line + 1)
        self.aliases.append((alias, path))
        try:
            return _convert(alias.value, path, self)
        finally:
            self.aliases.pop()

    def count(self) -> None:
        """One more value produced by an alias; refuse once they are too many."""
        self.expanded += 1
        if self.expanded > MAX_ALIAS_VALUES:
            raise self.problem(
                (),
                f"YAML aliases expand to more than {MAX_ALIAS_VALUES} values (an alias bomb?)",
            )

    def problem(self, path: FieldPath, message: str) -> YamlProblem:
        """At the outermost alias being expanded, if any: that is what the user wrote."""
        if self.aliases:
            alias, path = self.aliases[0]
            line = alias.start_mark.line + 1
        else:
            line = self.lines.get(path)
        return YamlProblem(ConfigIssue(self.file, line, dotted(path), message))


# A mapping or a list as YAML means it. Any other tag on one (`!!python/object:...`,
# `!!set`, `!custom`) asks for something else, which drorch would silently not give.
_COLLECTION_TAGS = frozenset(("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"))


def _shown_tag(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org") else tag


def _convert(node: yaml.Node, path: FieldPath, conv: _Converter) -> Any:
    if isinstance(node, _AliasNode):
        return conv.expand(node, path)
    lines, file = conv.lines, conv.file
    lines.setdefault(path, node.start_mark.line + 1)
    if conv.aliases:
        conv.count()
    if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        return conv.scalar(node)
    if node.tag not in _COLLECTION_TAGS:  # a scalar's tag is refused by its constructor
        raise YamlProblem(
            ConfigIssue(
                file,
                node.start_mark.line + 1,
                dotted(path),
                f"the YAML tag {_shown_tag(node.tag)} is not allowed: drorch reads plain "
                "mappings, lists and values",
            )
        )
    if len(path) >= MAX_DEPTH:  # only an alias gets here: the composer bounds the rest
        raise conv.problem(path, f"nested more than {MAX_DEPTH} levels deep")
    conv.open.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            return [_convert(item, (*path, i), conv) for i, item in enumerate(node.value)]
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = conv.scalar(key_node)
            if isinstance(key, list | dict):
                raise YamlProblem(
                    ConfigIssue(
                        file,
                        key_node.start_mark.line + 1,
                        dotted(path),
                        "a key must be a plain value",
                    )
                )
            if key in out:
                raise YamlProblem(
                    ConfigIssue(
                        file,
                        key_node.start_mark.line + 1,
                        dotted((*path, str(key))),
                        "duplicate key",
                    )
                )
            lines[(*path, str(key))] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, (*path, str(key)), conv)
        return out
    finally:
        conv.open.discard(id(node))
