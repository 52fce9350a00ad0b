"""The schema of the config root: typed, frozen, every field described.

This module is the single source of truth for what a config root may say.
Unknown keys are errors; relative paths resolve against the config root
(passed as validation context `root`).
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from drorch.action_key import NAME_MAX, REPLICATE, ActionKey
from drorch.config.jurisdictions import ISO_3166_ALPHA2
from drorch.config.schedule import Schedule, parse_schedule
from drorch.config.units import parse_data_subset, parse_duration, parse_size

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _resolve(value: Path, info: ValidationInfo) -> Path:
    root = (info.context or {}).get("root")
    value = value.expanduser()
    if root is not None and not value.is_absolute():
        value = Path(root) / value
    return Path(value.as_posix())


def _name_length(value: str) -> str:
    if len(value) > NAME_MAX:  # the catalog's columns hold every name and action key
        raise ValueError(f"a name has at most {NAME_MAX} characters")
    return value


def _jurisdiction(value: str) -> str:
    if value not in ISO_3166_ALPHA2:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (such as ML, FR)")
    return value


_HOOK_IS_ARGV = (
    "a hook is an argument list such as [pg_dump, -f, /srv/db.sql], not a string; "
    "write [sh, -c, '...'] when you need a shell"
)


def _hooks(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError(f"a list of hooks is expected: {_HOOK_IS_ARGV}")
    return value


def _hook(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError(_HOOK_IS_ARGV)
    if isinstance(value, list):
        return {"command": value}
    return value


def _subset(value: str) -> str:
    parse_data_subset(value)  # kept as written: the check action turns it into restic's form
    return value


def _duration(value: Any) -> timedelta:
    # A timedelta is already parsed (a model built in Python, or validated again).
    if isinstance(value, timedelta) and value > timedelta(0):
        return value
    return parse_duration(value)


def _schedule(value: Any) -> Schedule:
    return value if isinstance(value, Schedule) else parse_schedule(value)


RootPath = Annotated[Path, AfterValidator(_resolve)]
Duration = Annotated[
    timedelta, PlainValidator(_duration), WithJsonSchema({"type": "string", "examples": ["15m"]})
]
Size = Annotated[
    int, PlainValidator(parse_size), WithJsonSchema({"type": "string", "examples": ["200MiB"]})
]
ScheduleSpec = Annotated[
    Schedule,
    PlainValidator(_schedule),
    WithJsonSchema({"type": "string", "examples": ["*/15 * * * *", "every 10m"]}),
]
Jurisdiction = Annotated[str, AfterValidator(_jurisdiction)]
Name = Annotated[str, Field(pattern=NAME_PATTERN), AfterValidator(_name_length)]


DEFAULT_RECORD_SIZE = 256 * 1024  # drorch.targets.tape.drive's default; a test keeps them equal
MAX_RECORD_SIZE = 8 * 1024**2  # what Linux st and common HBAs take in one SCSI command


def _record_size(value: int) -> int:
    if value <= 0 or value % 512 or value > MAX_RECORD_SIZE:
        raise ValueError(
            f"a record size is a multiple of 512 bytes, at most 8MiB, such as 256KiB, not {value}"
        )
    return value


@dataclass(frozen=True)
class EarlyWarning:
    """The early-warning zone before a cartridge's end: a share of its capacity, or a size."""

    share: Fraction | None = None
    size: int | None = None

    def bytes_of(self, capacity: int) -> int:
        if self.size is not None:
            return self.size
        assert self.share is not None
        return int(capacity * self.share)


def _early_warning(value: Any) -> EarlyWarning:
    if isinstance(value, EarlyWarning):
        return value
    text = str(value).strip() if isinstance(value, str | int | float) else ""
    if isinstance(value, bool) or not text:
        raise ValueError(
            f"early_warning is a share such as 2% or a size such as 4MiB, not {value!r}"
        )
    try:
        if text.endswith("%"):
            share = Fraction(text[:-1].strip()) / 100
        elif isinstance(value, float) or text.startswith(("0.", ".")):
            share = Fraction(text)
        else:
            return EarlyWarning(size=parse_size(text))
    except (ValueError, ZeroDivisionError):
        raise ValueError(
            f"early_warning is a share such as 2% or a size such as 4MiB, not {value!r}"
        ) from None
    if not 0 < share < 1:
        raise ValueError(f"early_warning as a share is more than 0% and less than 100%, not {text}")
    return EarlyWarning(share=share)


def _tape_device(value: str) -> str:
    # udev names the non-rewinding node /dev/nstN and its links .../by-id/NAME-nst
    name = os.path.basename(value)
    if not value.startswith("/") or not (name.startswith("nst") or name.endswith("-nst")):
        raise ValueError(
            f"{value!r} is not a non-rewinding tape device such as /dev/nst0 or "
            "/dev/tape/by-id/...-nst: a rewinding one (/dev/st0) rewinds on every close, "
            "and the next write would overwrite the cartridge from its start"
        )
    return value


def _retention(value: Any) -> timedelta | None:
    if value == "forever":
        return None
    if value is None:
        raise ValueError("retention is a duration such as 28d, or forever")
    return _duration(value)


def _globs(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


def _glob(value: str) -> str:
    if not value.strip():
        raise ValueError("a barcode pattern is not empty; write '*' for every cartridge")
    return value


EarlyWarningSpec = Annotated[
    EarlyWarning,
    PlainValidator(_early_warning),
    WithJsonSchema({"type": "string", "examples": ["2%", "4MiB"]}),
]
TapeDevice = Annotated[str, AfterValidator(_tape_device)]
RetentionSpec = Annotated[
    timedelta | None,
    PlainValidator(_retention),
    WithJsonSchema({"type": "string", "examples": ["28d", "forever"]}),
]
BarcodeGlobs = Annotated[tuple[Annotated[str, AfterValidator(_glob)], ...], BeforeValidator(_globs)]


# --- drorch.yaml -------------------------------------------------------------------------


class DiskTarget(Frozen):
    kind: Literal["disk"] = Field(
        description="A restic repository on a local or mounted filesystem."
    )
    path: RootPath = Field(description="Repository directory.", examples=["/mnt/backup1/drorch"])
    password_file: RootPath = Field(
        description="File (mode 0600) holding the repository password.",
        examples=["keys/primary.pass"],
    )
    site: str = Field(description="The site (room, building) holding this copy.", examples=["dc1"])
    jurisdiction: Jurisdiction = Field(description="ISO 3166 code of where the copy lives.")
    media: Literal["disk", "ssd", "removable-disk", "optical"] = Field(
        "disk", description="Media class, for the copy rule's media counts."
    )
    offline: bool = Field(False, description="The media is kept offline or immutable.")
    min_free: Size = Field(
        512 * 1024**2,
        description="Refuse to write when the filesystem has less free space than this.",
        examples=["10GiB"],
    )
    require_mount: bool = Field(
        True,
        description="Create the repository only on a mounted filesystem (the path or a parent "
        "below / is a mount point), so an unmounted disk's empty mount point is never filled; "
        "paths inside the config root or state dir are exempt.",
    )
    nodes: tuple[Name, ...] = Field(
        (),
        description="The nodes that reach this target (its disk mounted there, its drive "
        "attached): the runs that use it go to one of them. Empty: every node.",
        examples=[["tape-host-1"]],
    )


class VirtualLibrary(Frozen):
    path: RootPath = Field(description="Folder holding the cartridge files.", examples=["var/vtl"])
    slots: int = Field(8, ge=1, le=1000, description="Number of cartridge slots.", examples=[8])
    capacity: Size = Field(description="Capacity of one cartridge.", examples=["200MiB"])
    drives: int = Field(1, ge=1, le=16, description="Number of drives.", examples=[2])
    import_export: int = Field(
        1,
        ge=0,
        le=100,
        description="Import/export (mail) slots, through which cartridges leave and enter.",
        examples=[2],
    )
    early_warning: EarlyWarningSpec = Field(
        EarlyWarning(share=Fraction(2, 100)),
        description="Size of the early-warning zone before the end of a cartridge, where the "
        "drive warns that the cartridge is nearly full: a share of the capacity or a size.",
        examples=["2%", "4MiB"],
    )
    # The changer state file fixes these when the library is first created; a later change
    # of config does not resize an existing library.

    @model_validator(mode="after")
    def _warning_inside_the_cartridge(self) -> VirtualLibrary:
        if not 0 < self.early_warning.bytes_of(self.capacity) < self.capacity:
            raise ValueError(
                "early_warning must leave a zone of at least one byte and less than the "
                f"whole capacity ({self.capacity} bytes)"
            )
        return self


class TapeTarget(Frozen):
    kind: Literal["tape"] = Field(description="A tape drive with an optional changer.")
    virtual: VirtualLibrary | None = Field(
        None,
        description="A file-backed virtual library.",
        examples=[{"path": "var/vtl", "slots": 8, "capacity": "200MiB"}],
    )
    drive: TapeDevice | None = Field(
        None,
        description="Non-rewinding tape device of a lone drive or of a one-drive changer.",
        examples=["/dev/nst0"],
    )
    drives: tuple[TapeDevice, ...] = Field(
        (),
        description="Non-rewinding tape devices of a changer's drives, in the changer's "
        "order (its drive 0 first); instead of 'drive' when the changer has several.",
        examples=[["/dev/nst0", "/dev/nst1"]],
    )
    changer: str | None = Field(None, description="SCSI changer device.", examples=["/dev/sg3"])
    record_size: Annotated[Size, AfterValidator(_record_size)] = Field(
        DEFAULT_RECORD_SIZE,
        description="Size of the fixed records written to tape: a multiple of 512 bytes, "
        "at most 8MiB. Reading a tape needs the size it was written with.",
        examples=["256KiB", "1MiB"],
    )
    pool: Name = Field(description="Media pool the cartridges belong to.", examples=["weekly"])
    password_file: RootPath = Field(
        description="File (mode 0600) with the repository password.",
        examples=["keys/vault.pass"],
    )
    site: str = Field(description="The site holding the cartridges.", examples=["bamako-dc1"])
    jurisdiction: Jurisdiction = Field(
        description="ISO 3166 code of where the cartridges live.", examples=["ML"]
    )
    media: Literal["tape"] = Field("tape", description="Media class: always tape.")
    offline: bool = Field(True, description="Exported cartridges are offline.")
    nodes: tuple[Name, ...] = Field(
        (),
        description="The nodes that reach this target (its disk mounted there, its drive "
        "attached): the runs that use it go to one of them. Empty: every node.",
        examples=[["tape-host-1"]],
    )

    @model_validator(mode="after")
    def _one_kind_of_drive(self) -> TapeTarget:
        real = self.drive is not None or bool(self.drives)
        if (self.virtual is None) == (not real):
            raise ValueError(
                "a tape target has either 'virtual' or 'drive' (or 'drives'), exactly one of them"
            )
        if self.drive is not None and self.drives:
            raise ValueError("'drive' names one drive and 'drives' several: give one of them")
        if self.virtual is not None and self.changer is not None:
            raise ValueError(
                "'changer' is for real hardware; a virtual library has its own changer"
            )
        if len(self.drives) > 1 and self.changer is None:
            raise ValueError("several 'drives' need the 'changer' that loads them")
        repeated = sorted({d for d in self.drives if self.drives.count(d) > 1})
        if repeated:
            raise ValueError(f"drive {repeated[0]} is listed twice in 'drives'")
        return self

    @property
    def devices(self) -> tuple[str, ...]:
        """The tape devices of a real library, its drive 0 first; () for a virtual one."""
        return (self.drive,) if self.drive is not None else self.drives


class MediaSetRule(Frozen):
    max_age: Duration = Field(
        timedelta(days=7),
        description="How long a media set stays open for appending: the first write after "
        "this starts a new media set on other cartridges.",
        examples=["7d"],
    )


class Pool(Frozen):
    """A media pool: which cartridges it may take, how media sets are grouped and when a
    cartridge may be written over."""

    description: str = Field(
        "", description="What the pool is for.", examples=["Sunday tapes, vaulted on Monday"]
    )
    retention: RetentionSpec = Field(
        description="How long a media set is kept after its last write before its "
        "cartridges may be reused (written over); 'forever' never reuses them.",
        examples=["28d", "forever"],
    )
    media_set: MediaSetRule = Field(
        MediaSetRule(),
        description="How long writes append to the same media set.",
        examples=[{"max_age": "7d"}],
    )
    barcodes: BarcodeGlobs = Field(
        ("*",),
        description="Shell patterns of the barcodes this pool may take (all by default); "
        "cartridges labelled for another pool are never taken anyway.",
        examples=["VAULT*", ["WK*L8", "WK*L9"]],
    )

    def takes(self, barcode: str) -> bool:
        """Whether the barcode matches one of the pool's patterns (case-insensitively)."""
        code = barcode.upper()
        return any(fnmatch.fnmatchcase(code, pattern.upper()) for pattern in self.barcodes)


# Without a `pools:` section, each pool a tape target names is this one: media sets of a
# week, and cartridges never written over, so that no data is lost to a default.
IMPLICIT_POOL = Pool(retention="forever")


Target = Annotated[DiskTarget | TapeTarget, Field(discriminator="kind")]


def _http_url(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"an http:// or https:// URL is expected, not {value!r}")
    return value


def _loopback(value: str) -> str:
    import ipaddress

    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"HOST:PORT is expected, such as 127.0.0.1:9480, not {value!r}")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"metrics are served on loopback only (127.0.0.1, ::1 or localhost), not {host!r}; "
            "let a local Prometheus or node-exporter's textfile collector carry them further"
        )
    return value


def _at_most_30s(value: timedelta) -> timedelta:
    # With 5 retries, a delivery then ends well within the outbox's 5-minute lease.
    if value > timedelta(seconds=30):
        raise ValueError("at most 30s: a slow endpoint must not hold the notifications back")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
Event = Literal["policy-violation", "policy-restored"]
EVENTS: tuple[Event, ...] = ("policy-violation", "policy-restored")
MediaClass = Literal["disk", "ssd", "removable-disk", "optical", "tape"]


class Notify(Frozen):
    webhook: HttpUrl = Field(
        description="URL receiving a JSON POST per event.",
        examples=["http://127.0.0.1:9000/hooks/drorch"],
    )
    header_files: dict[str, RootPath] = Field(
        {},
        description="HTTP headers whose values are secrets, each read from a file (mode 0600) "
        "when sending; the file's content, stripped, is the value.",
        examples=[{"Authorization": "keys/webhook.auth"}],
    )
    events: tuple[Event, ...] = Field(
        EVENTS, min_length=1, description="The events sent to this webhook."
    )
    timeout: Annotated[Duration, AfterValidator(_at_most_30s)] = Field(
        timedelta(seconds=5), description="Longest one delivery attempt may take (30s at most)."
    )
    retries: int = Field(
        3, ge=0, le=5, description="Immediate retries, with backoff, before trying later."
    )


class MetricsSettings(Frozen):
    textfile: RootPath | None = Field(
        None,
        description="Prometheus text file rewritten (atomically) every minute, for "
        "node-exporter's textfile collector.",
        examples=["/var/lib/prometheus/node-exporter/drorch.prom"],
    )
    listen: Annotated[str, AfterValidator(_loopback)] | None = Field(
        None,
        description="Serve /metrics over HTTP on this loopback address.",
        examples=["127.0.0.1:9480"],
    )


class ResticSettings(Frozen):
    binary: str = Field("restic", description="The restic executable, by name or path.")
    timeout: Duration = Field(
        timedelta(hours=24), description="Longest a single restic call may run.", examples=["12h"]
    )


class DaemonSettings(Frozen):
    workers: int = Field(4, ge=1, le=256, description="Runs that may go on at once.")
    misfire_grace: Duration = Field(
        timedelta(minutes=10),
        description="A slot missed by less than this (a busy pool, a short pause) still runs.",
        examples=["10m"],
    )
    node: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        pattern=NAME_PATTERN,
        description="This daemon's node name among the daemons sharing a PostgreSQL catalog "
        "(one leads, the others stand by); default: the host name.",
        examples=["backup-1"],
    )


class Settings(Frozen):
    """drorch.yaml."""

    site: str = Field(description="The site this node runs at.", examples=["bamako-dc1"])
    jurisdiction: Jurisdiction = Field(description="ISO 3166 code of this node's country.")
    state_dir: RootPath = Field(
        Path("var/state"),
        validate_default=True,
        description="Catalog, caches, run artifacts and canaries.",
    )
    catalog: str | None = Field(
        None,
        description="SQLAlchemy URL; default: SQLite file in state_dir.",
        examples=["postgresql+psycopg://drorch@db1/drorch"],
    )
    evidence_key: RootPath = Field(
        Path("keys/evidence.ed25519"),
        validate_default=True,
        description="Ed25519 private key signing evidence (drorch keys init creates it).",
    )
    targets: dict[Name, Target] = Field(min_length=1, description="Where backup data lives.")
    pools: dict[Name, Pool] | None = Field(
        None,
        description="Media pools of the tape targets. Without this section, every pool a tape "
        "target names exists with media sets of 7 days and retention forever (cartridges "
        "are never written over); with it, every pool a tape target names is defined here.",
        examples=[{"weekly": {"retention": "28d", "media_set": {"max_age": "7d"}}}],
    )
    notify: tuple[Notify, ...] = Field((), description="Webhooks receiving policy events.")
    metrics: MetricsSettings = Field(
        MetricsSettings(), description="Prometheus metrics: a text file, an HTTP endpoint."
    )
    restic: ResticSettings = Field(ResticSettings(), description="How restic is run.")
    daemon: DaemonSettings = Field(DaemonSettings(), description="How the scheduler runs.")
    allowed_roots: tuple[RootPath, ...] = Field(
        (),
        description="Folders a runbook may restore into (a runbook may name its own).",
        examples=[["/srv/restore"]],
    )

    @model_validator(mode="after")
    def _pools_defined(self) -> Settings:
        if self.pools is None:
            return self
        known = ", ".join(sorted(self.pools)) or "none defined"
        errors = [
            InitErrorDetails(
                type=PydanticCustomError(
                    "value_error", f"no pool named {target.pool!r} in pools (known: {known})"
                ),
                loc=("targets", name, "pool"),
                input=target.pool,
            )
            for name, target in self.targets.items()
            if isinstance(target, TapeTarget) and target.pool not in self.pools
        ]
        if errors:  # raised with each error's own location, so it names the target's line
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    def pool(self, name: str) -> Pool:
        """The pool of that name; without a `pools:` section, the implicit pool."""
        if self.pools is None:
            return IMPLICIT_POOL
        return self.pools[name]


# --- jobs/NAME.yaml ------------------------------------------------------------------------


class HookSpec(Frozen):
    command: tuple[str, ...] = Field(
        min_length=1,
        description="Argument list; no shell.",
        examples=[["pg_dump", "-f", "/srv/db.sql", "app"]],
    )
    timeout: Duration = Field(timedelta(minutes=10), description="Longest the hook may run.")


Hook = Annotated[HookSpec, BeforeValidator(_hook)]
Hooks = Annotated[tuple[Hook, ...], BeforeValidator(_hooks)]


class Source(Frozen):
    paths: tuple[RootPath, ...] = Field(
        min_length=1, description="What to back up.", examples=[["/srv/payroll"]]
    )
    exclude: tuple[str, ...] = Field(
        (), description="restic exclude patterns.", examples=[["*.tmp"]]
    )
    before: Hooks = Field((), description="Commands run before the snapshot.")
    after: Hooks = Field((), description="Commands run after the snapshot.")


class SnapshotSpec(Frozen):
    target: Name = Field(description="The target written by snapshots (the primary copy).")
    schedule: ScheduleSpec | None = Field(None, description="When to snapshot.")
    timeout: Duration | None = Field(None, description="Longest a snapshot run may take.")


class ReplicateSpec(Frozen):
    to: Name = Field(description="The target receiving copies.")
    schedule: ScheduleSpec | None = Field(None, description="When to replicate.")
    verify_read_subset: Annotated[str, AfterValidator(_subset)] | None = Field(
        None,
        description="After a copy, let restic check read this share of the destination "
        "(as check.read_data_subset: each time the next part in turn).",
        examples=["1%"],
    )
    timeout: Duration | None = Field(None, description="Longest a replication may take.")


class CommandCheck(Frozen):
    command: tuple[str, ...] = Field(
        min_length=1,
        description="Argument list; {restore_dir} is replaced.",
        examples=[["sqlite3", "{restore_dir}/app.db", "PRAGMA integrity_check"]],
    )
    timeout: Duration = Field(timedelta(minutes=5), description="Longest the check may run.")


VerifyItem = Literal["restic", "canary", "listing"] | CommandCheck


class RestoreTestSpec(Frozen):
    schedule: ScheduleSpec | None = Field(None, description="When to run restore tests.")
    from_: tuple[Name, ...] = Field((), alias="from", description="Copies tested in turn.")
    verify: tuple[VerifyItem, ...] = Field(
        ("restic", "canary", "listing"), description="Checks applied to the restored data."
    )
    snapshot: Literal["latest", "random"] = Field("latest", description="Which snapshot to test.")


class DrillSpec(Frozen):
    runbook: Name = Field("drill", description="A runbook with drill: true in runbooks/.")
    schedule: ScheduleSpec | None = Field(None, description="When the daemon runs the drill.")
    params: dict[Name, str] = Field(
        {},
        description="The runbook's parameters; `job` is this job unless given. A relative "
        "path is relative to the config root.",
        examples=[{"from": "replica", "scratch": "var/restore/drill-payroll"}],
    )


class PruneSpec(Frozen):
    schedule: ScheduleSpec | None = Field(None, description="When to forget and prune.")
    timeout: Duration | None = Field(None, description="Longest a prune run may take.")


class CheckSpec(Frozen):
    schedule: ScheduleSpec | None = Field(None, description="When to check the repository.")
    timeout: Duration | None = Field(None, description="Longest a check run may take.")
    read_data_subset: Annotated[str, AfterValidator(_subset)] | None = Field(
        None,
        description="Share of pack data read per check, each check the next part in turn: "
        "a percentage (more than 0%, at most 100%), part n of N (1 <= n <= N, the first "
        "check reads part n) or a size (more than 0).",
        examples=["5%", "1/10", "500MiB"],
    )


def _ping(value: Any) -> Any:
    return {"url": value} if isinstance(value, str) else value


class PingSpec(Frozen):
    url: HttpUrl = Field(
        description="A healthchecks-style check URL: pinged at URL/start when a run starts, "
        "URL on success and URL/fail on failure.",
        examples=["https://hc.example.org/ping/5f1c0e1e-0d1a-4bb7-9a1f-8f5b1c1f2d3e"],
    )
    actions: tuple[str, ...] = Field(
        ("snapshot",),
        min_length=1,
        description="The scheduled actions pinged (snapshot, replicate:TARGET, ...).",
    )


class Job(Frozen):
    description: str = Field("", description="What this dataset is.")
    policy: Name = Field(description="Name of the policy in policies/.")
    source: Source = Field(description="What to back up and the hooks around it.")
    snapshot: SnapshotSpec = Field(description="The primary copy and its schedule.")
    replicate: tuple[ReplicateSpec, ...] = Field((), description="Further copies.")
    restore_test: RestoreTestSpec | None = Field(None, description="Proving restores.")
    prune: PruneSpec | None = Field(None, description="Applying retention.")
    check: CheckSpec | None = Field(None, description="Verifying repository integrity.")
    drill: DrillSpec | None = Field(None, description="A recovery drill the daemon runs.")
    ping: Annotated[PingSpec, BeforeValidator(_ping)] | None = Field(
        None, description="A dead man's switch pinged at the start and end of scheduled runs."
    )

    def timeout_of(self, action: str) -> timedelta | None:
        """The job's own limit for one run of `action`, if it sets one."""
        key = ActionKey.parse(action)
        if key.verb == REPLICATE:
            return next((r.timeout for r in self.replicate if r.to == key.target), None)
        spec = {"snapshot": self.snapshot, "prune": self.prune, "check": self.check}.get(key.verb)
        return getattr(spec, "timeout", None)


# --- policies/NAME.yaml --------------------------------------------------------------------


class Retention(Frozen):
    hourly: int = Field(0, ge=0, description="Hourly snapshots kept.")
    daily: int = Field(0, ge=0, description="Daily snapshots kept.")
    weekly: int = Field(0, ge=0, description="Weekly snapshots kept.")
    monthly: int = Field(0, ge=0, description="Monthly snapshots kept.")
    yearly: int = Field(0, ge=0, description="Yearly snapshots kept.")
    within: Duration | None = Field(None, description="Keep everything younger than this.")


class CopyRule(Frozen):
    min: int = Field(1, ge=1, description="Copies at least (the 3 of 3-2-1-1-0).")
    media: int = Field(1, ge=1, description="Distinct media classes (the 2).")
    offsite: int = Field(0, ge=0, description="Copies at another site (the 1).")
    offline: int = Field(0, ge=0, description="Offline or immutable copies (the other 1).")
    media_classes: tuple[MediaClass, ...] = Field(
        (),
        description="Media classes that must each hold a copy (disk, ssd, removable-disk, "
        "optical, tape).",
        examples=[["disk", "tape"]],
    )


class Policy(Frozen):
    description: str = Field("", description="What this policy is for.")
    rpo: Duration = Field(description="Largest age of the newest good snapshot.", examples=["15m"])
    rto: Duration = Field(description="Longest a full restore may take.", examples=["1h"])
    restore_test_every: Duration | None = Field(None, description="Restore-test cadence.")
    retention: Retention = Field(Retention(), description="What prune keeps.")
    copies: CopyRule = Field(CopyRule(), description="The copy rule (3-2-1-1-0).")
    residency: tuple[Jurisdiction, ...] = Field(
        min_length=1, description="Jurisdictions a copy may be in.", examples=[["ML", "BF"]]
    )
