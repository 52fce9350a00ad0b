"""Load a YAML file into plain data plus the line of every field path.

Errors downstream name `file:line: field.path: message`, so every mapping key
and sequence item keeps the line it was written on.

A config file is read defensively, since the daemon and `validate` read whatever the
folders hold: only a regular file (a symlink to one is fine) is read, never a FIFO or a
device, and at most MAX_FILE_BYTES of it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from drorch.errors import ConfigIssue

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - libyaml is in Debian's and PyPI's builds
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

FieldPath = tuple[str | int, ...]

MAX_FILE_BYTES = 1024**2  # a config file is a few kilobytes


@dataclass(frozen=True)
class Document:
    file: str  # as shown to the user: relative to the config root
    data: Any
    lines: dict[FieldPath, int]

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
    try:
        text = read_regular_file(path, shown_as).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlProblem(ConfigIssue(shown_as, None, "", f"cannot read: {exc}")) from exc
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
    return Document(shown_as, data, lines)


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


@dataclass
class _Converter:
    loader: Any
    file: str
    lines: dict[FieldPath, int]

    def convert(self, node: yaml.Node, path: FieldPath) -> Any:
        return _convert(node, path, self)

    def scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return [] if isinstance(node, yaml.SequenceNode) else {}
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise YamlProblem(
                ConfigIssue(self.file, node.start_mark.line + 1, "", f"invalid value: {exc}")
            ) from exc


def _convert(node: yaml.Node, path: FieldPath, conv: _Converter) -> Any:
    lines, file = conv.lines, conv.file
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
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
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), conv) for i, item in enumerate(node.value)]
    return conv.scalar(node)
