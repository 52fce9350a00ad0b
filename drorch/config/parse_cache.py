"""Config files already parsed, remembered by their content.

A site with thousands of jobs spends most of a command's start in PyYAML: drorch composes
every file in Python to bound what its aliases expand to and to know the line of every
field (2,000 job files: about 0.5 s of `drorch status` on a quiet machine). This cache
keeps the data each file parsed to, in a JSON file in the state dir's cache folder,
keyed by the SHA-256 of the file's bytes: a file that changes in any way has another
key, so stale data is never used, whatever the file's timestamps say; and only by the
parser that wrote it (PARSER). Every file is
still read (with all of read_regular_file's checks) and hashed, and every value still
validated; only the parse is skipped.

Only data that JSON gives back exactly is kept (strings, integers, finite floats,
booleans, null, lists, and mappings with string keys): a file whose YAML yields a date,
a set or an integer key is parsed every time. A document from the cache parses its
text again for its lines the first time an issue needs one. The cache is written only
after a config root loaded without an issue, holding the files that root has now, and
only where the state dir already exists (loading a config never creates it). It is as
trusted as the rest of the state dir, which holds the catalog and the keys.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

from drorch import __version__
from drorch.cachefile import read_mapping, write_mapping
from drorch.config.yamlsource import Document, parse_document, read_text

FILE_NAME = "drorch-config.json"
# What the parse accepts and gives: raise it whenever drorch.config.yamlsource changes
# either (a new limit, another conversion). A cache written under another parser, or by
# another drorch version, is not used: its files passed checks that may not be today's.
PARSER = f"{__version__}/2"  # 2: tags on mappings and lists refused


class ParseCache:
    """The parsed files of one load: those found in the cache file, and those parsed."""

    def __init__(self, folder: Path | None) -> None:
        self._path = folder / FILE_NAME if folder is not None else None
        stored = read_mapping(self._path) if self._path is not None else {}
        files = stored.get("files") if stored.get("parser") == PARSER else None
        self._known: dict[str, Any] = files if isinstance(files, dict) else {}
        self._used: dict[str, Any] = {}

    def document(self, path: Path, shown_as: str) -> Document:
        """The document of the file at `path`: its data from the cache when its content is
        known, else parsed (YamlProblem as yamlsource.load_document raises it)."""
        text = read_text(path, shown_as)
        key = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if key in self._known:
            data = self._known[key]
            self._used[key] = data
            return Document(shown_as, data, text=text)
        doc = parse_document(text, shown_as)
        if _exact_in_json(doc.data):
            self._used[key] = doc.data
        return doc

    def save(self) -> None:
        """Remember the files of this load (only they), if anything changed and the state
        dir exists."""
        if self._path is None or self._used.keys() == self._known.keys():
            return
        if not self._path.parent.parent.is_dir():
            return
        write_mapping(self._path, {"parser": PARSER, "files": self._used})


def _exact_in_json(value: Any) -> bool:
    """Whether json.loads(json.dumps(value)) is `value`, types included."""
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_exact_in_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _exact_in_json(v) for k, v in value.items())
    return False
