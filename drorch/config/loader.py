"""Read a config root into a Config, reporting every problem at once.

Each problem names the file (relative to the root), the line and the field:
`jobs/payroll.yaml:7: snapshot.target: no target named 'primry' (known: primary, replica)`.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from drorch.action_key import NAME_MAX
from drorch.config.model import NAME_PATTERN, Job, Policy, Settings, Target
from drorch.config.parse_cache import ParseCache
from drorch.config.placement import placement_issues
from drorch.config.places import source_overlaps, textfile_problem
from drorch.config.references import JobFile, cross_check, known
from drorch.config.runbook_refs import check_drills, check_runbooks
from drorch.config.runbooks import STEP_OUTPUTS, Runbook
from drorch.config.yamlsource import Document, FieldPath, YamlProblem, load_document
from drorch.errors import ConfigError, ConfigIssue, UnknownJob, UnknownTarget

MAIN_FILE = "drorch.yaml"
DEFAULT_ROOT = Path("/etc/drorch")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Config:
    root: Path
    settings: Settings
    jobs: Mapping[str, Job]
    policies: Mapping[str, Policy]
    runbooks: Mapping[str, Runbook]

    @property
    def state_dir(self) -> Path:
        return self.settings.state_dir

    @property
    def targets(self) -> Mapping[str, Target]:
        return self.settings.targets

    def job(self, name: str) -> Job:
        if name not in self.jobs:
            raise UnknownJob(f"no job named {name!r} in {self.root / 'jobs'}{known(self.jobs)}")
        return self.jobs[name]

    def target(self, name: str) -> Target:
        if name not in self.targets:
            raise UnknownTarget(
                f"no target named {name!r} in {self.root / MAIN_FILE}{known(self.targets)}"
            )
        return self.targets[name]

    def policy_of(self, job: Job) -> Policy:
        return self.policies[job.policy]


def resolve_root(option: str | None) -> Path:
    """--config, else $DRORCH_CONFIG, else /etc/drorch."""
    chosen = option or os.environ.get("DRORCH_CONFIG") or str(DEFAULT_ROOT)
    return Path(chosen).expanduser().absolute()


def load_config(root: Path, *, check_secrets: bool = True, check_metrics: bool = False) -> Config:
    """Parse and validate the config root; raise ConfigError listing every problem.

    `check_secrets` also checks the secret files restic and signing need; commands that
    only read the catalog pass False. `check_metrics` checks that the metrics text file
    can be written: `validate` and the daemon ask for it, while a run or a restore never
    waits on a monitoring folder.
    """
    root = root.absolute()
    issues: list[ConfigIssue] = []
    context = {"root": root}
    settings: Settings | None = None
    main = root / MAIN_FILE
    try:
        present = main.exists()  # anything but a regular file is refused when it is read
    except OSError as exc:
        raise ConfigError(
            [ConfigIssue(str(main), None, "", f"cannot read: {exc.strerror}")]
        ) from exc
    if not present:
        hint = "" if root.is_dir() else " (the directory does not exist)"
        raise ConfigError([ConfigIssue(str(main), None, "", f"missing: not a config root{hint}")])
    main_doc = _read(main, MAIN_FILE, issues)
    if main_doc is not None:
        settings = _validate(Settings, main_doc, context, issues)

    cache = ParseCache(settings.state_dir / "cache" if settings is not None else None)
    sections: dict[str, dict[str, tuple[Any, Document]]] = {}
    invalid: dict[str, set[str]] = {}  # defined, but already reported as invalid
    job_files: dict[str, JobFile] = {}  # valid or not: their references are checked
    for folder, model in (("jobs", Job), ("policies", Policy), ("runbooks", Runbook)):
        sections[folder] = {}
        invalid[folder] = set()
        for path in _definitions(root / folder, issues):
            shown = f"{folder}/{path.name}"
            if not re.fullmatch(NAME_PATTERN, path.stem):  # `$` alone allows a "\n"
                issues.append(ConfigIssue(shown, None, "", "a name uses letters, digits, _ . -"))
                continue
            if len(path.stem) > NAME_MAX:
                issues.append(
                    ConfigIssue(shown, None, "", f"a name has at most {NAME_MAX} characters")
                )
                continue
            if path.stem in sections[folder]:
                issues.append(ConfigIssue(shown, None, "", f"{path.stem!r} is defined twice"))
                continue
            doc = _read(path, shown, issues, cache.document)
            before = len(issues)
            parsed = _validate(model, doc, context, issues) if doc is not None else None
            if folder == "jobs" and doc is not None:
                refused = {issue.field for issue in issues[before:]}
                job_files[path.stem] = JobFile(
                    doc, parsed if isinstance(parsed, Job) else None, refused
                )
            if parsed is None or doc is None:
                invalid[folder].add(path.stem)
                continue
            sections[folder][path.stem] = (parsed, doc)

    jobs = {name: item for name, (item, _) in sections["jobs"].items()}
    policies = {name: item for name, (item, _) in sections["policies"].items()}
    targets = settings.targets if settings is not None else None
    issues.extend(cross_check(targets, job_files, policies, invalid["policies"]))
    issues.extend(
        check_runbooks(
            sections["runbooks"],
            jobs=set(job_files) | invalid["jobs"],
            targets=targets,
            roots=settings.allowed_roots if settings is not None else (),
            sites={t.site for t in targets.values()} if targets is not None else None,
            root=root,
        )
    )
    issues.extend(check_drills(job_files, sections["runbooks"], invalid["runbooks"]))
    if settings is not None:
        issues.extend(source_overlaps(settings, job_files))
        issues.extend(placement_issues(settings.targets, job_files))
    if settings is not None and main_doc is not None and check_secrets:
        issues.extend(_check_secrets(settings, main_doc))
    if settings is not None and main_doc is not None and check_metrics:
        textfile = settings.metrics.textfile
        problem = textfile_problem(textfile) if textfile is not None else None
        if problem:
            issues.append(main_doc.issue(("metrics", "textfile"), problem))
    if issues:
        raise ConfigError(issues)
    assert settings is not None
    cache.save()
    return Config(
        root=root,
        settings=settings,
        jobs=types.MappingProxyType(jobs),
        policies=types.MappingProxyType(policies),
        runbooks=types.MappingProxyType(
            {name: item for name, (item, _) in sections["runbooks"].items()}
        ),
    )


def _definitions(folder: Path, issues: list[ConfigIssue]) -> list[Path]:
    """The *.yaml / *.yml files of a folder; an unreadable folder is a problem, not empty."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    except OSError as exc:
        issues.append(ConfigIssue(f"{folder.name}/", None, "", f"cannot list: {exc.strerror}"))
        return []
    names = [e.name for e in entries if not e.name.startswith(".")]
    # Sorted as names (as Paths would sort them in one folder), then made Paths: 2,000
    # Path comparisons cost a parse each.
    return [folder / name for name in sorted(names) if name.endswith((".yaml", ".yml"))]


def _read(
    path: Path,
    shown: str,
    issues: list[ConfigIssue],
    load: Callable[[Path, str], Document] = load_document,
) -> Document | None:
    try:
        doc = load(path, shown)
    except YamlProblem as problem:
        issues.append(problem.issue)
        return None
    if not isinstance(doc.data, dict):
        issues.append(ConfigIssue(shown, 1, "", "must be a mapping of keys to values"))
        return None
    return doc


def _validate(
    model: type[M], doc: Document, context: dict[str, Any], issues: list[ConfigIssue]
) -> M | None:
    try:
        return model.model_validate(doc.data, context=context)
    except ValidationError as exc:
        errors = exc.errors()
        for error in errors:
            loc = error["loc"]
            if error["type"] == "too_short" and any(
                len(e["loc"]) > len(loc) and e["loc"][: len(loc)] == loc for e in errors
            ):
                continue  # its items failed: those errors say why
            path = _data_path(doc.data, error["loc"], keep_last=error["type"] in _NAMES_KEY)
            issues.append(doc.issue(path, _message(model, doc.data, path, error)))
        return None


_NAMES_KEY = ("extra_forbidden", "missing")
_STEP_KINDS = ", ".join(list(STEP_OUTPUTS)[:-1]) + f" or {list(STEP_OUTPUTS)[-1]}"


def _data_path(data: Any, loc: tuple[int | str, ...], *, keep_last: bool) -> FieldPath:
    """Drop the parts of a pydantic location that are not in the data (union tags)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:  # noqa: SIM114 - separate for type narrowing
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        elif keep_last and isinstance(node, dict) and part == loc[-1]:
            path.append(part)  # a missing or unknown key: still name it
    return tuple(path)


def _message(model: type[BaseModel], data: Any, path: FieldPath, error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _known_keys(model, data, path[:-1])
        guess = difflib.get_close_matches(str(path[-1]), known, n=1)
        hint = f"did you mean {guess[0]!r}? " if guess else ""
        return f"unknown key ({hint}known: {', '.join(known)})" if known else "unknown key"
    if kind == "missing":
        return "required, but missing"
    if kind == "union_tag_invalid":
        return f"kind must be one of {error['ctx']['expected_tags']}, not {error['ctx']['tag']!r}"
    if kind == "union_tag_not_found":
        kinds = _STEP_KINDS if path[:1] == ("steps",) else "disk or tape"
        return f"'kind' is required ({kinds})"
    if kind == "too_short" and error["ctx"].get("min_length") == 1:
        return "must not be empty"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if message.startswith("Input should be"):
        message = "must be" + message[len("Input should be") :]
    value = error.get("input")
    if (
        kind not in ("value_error",)
        and isinstance(value, str | int | float)
        and not isinstance(value, bool)
    ):
        message += f" (got {value!r})"
    return message


def _known_keys(model: type[BaseModel], data: Any, path: FieldPath) -> list[str]:
    """The keys a mapping at `path` may have, by walking the schema along the data."""
    current: Any = model
    node = data
    for part in path:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
        current = _step(current, part, node)
        if current is None:
            return []
    current = _pick_model(current, node)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(f.alias or name for name, f in current.model_fields.items())
    return []


def _step(current: Any, part: str | int, node: Any) -> Any:
    current = _pick_model(current, node)
    if isinstance(current, type) and issubclass(current, BaseModel):
        by_alias = {f.alias or name: f for name, f in current.model_fields.items()}
        field = by_alias.get(str(part))
        return field.annotation if field else None
    origin = typing.get_origin(current)
    args = typing.get_args(current)
    if origin in (tuple, list) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _pick_model(current: Any, node: Any) -> Any:
    """Unwrap Annotated and unions, choosing a union member by the data's `kind`."""
    while typing.get_origin(current) is typing.Annotated:
        current = typing.get_args(current)[0]
    if typing.get_origin(current) in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(current) if m is not type(None)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        kind = node.get("kind") if isinstance(node, dict) else None
        for member in models:
            field = member.model_fields.get("kind")
            if kind is None or (field is not None and kind in typing.get_args(field.annotation)):
                return member
        return members[0] if len(members) == 1 else None
    return current


def _check_secrets(settings: Settings, doc: Document) -> list[ConfigIssue]:
    issues = []
    for name, target in settings.targets.items():
        problem = secret_file_problem(target.password_file)
        if problem:
            issues.append(doc.issue(("targets", name, "password_file"), problem))
    problem = secret_file_problem(settings.evidence_key)
    if problem:
        issues.append(doc.issue(("evidence_key",), problem))
    for i, hook in enumerate(settings.notify):
        for header, path in hook.header_files.items():
            problem = secret_file_problem(path)
            if problem:
                issues.append(doc.issue(("notify", i, "header_files", header), problem))
    return issues


def secret_file_problem(path: Path) -> str | None:
    """Why a secret file is unusable, or None. Missing, not a file, or readable by others."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return f"{path} does not exist (create it with 'drorch keys init')"
    except OSError as exc:
        return f"{path} cannot be read: {exc.strerror}"
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a regular file"
    if info.st_mode & 0o077:
        return (
            f"{path} is readable by group or others (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"run 'chmod 600 {path}'"
        )
    return None
