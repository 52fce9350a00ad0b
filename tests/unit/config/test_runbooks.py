"""Runbooks are validated like the rest of the config root: each bad runbook below changes
exactly one thing of a good one, and the loader names the file, the line and the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from drorch.config import load_config
from drorch.config.runbooks import (
    ApproveStep,
    CommandWith,
    NoteWith,
    Precondition,
    RestoreWith,
    Runbook,
    VerifyWith,
    path_problem,
)
from tests.conftest import DRORCH_YAML, JOB_YAML, RootFactory
from tests.unit.config.conftest import problems

GOOD = """\
title: Restore app
description: Restore app to a staging folder and verify it
allowed_roots: [restore]
params:
  destination: {type: path, required: true}
  snapshot: {type: snapshot, default: latest}
  when: {type: as_of, default: "2024-03-10T02:00:00Z"}
  source: {type: target, default: replica}
  ticket: {type: string, pattern: "^CHG-[0-9]+$", default: CHG-1}
preconditions:
  - {target_online: "{source}"}
  - {free_space_for: {job: app, at: "{destination}"}}
  - {job_idle: app}
steps:
  - {name: restore, kind: restore,
     with: {job: app, snapshot: "{snapshot}", from: primary, to: "{destination}"}}
  - {name: verify, kind: verify, with: {job: app, dir: "{steps.restore.dir}", checks: [restic]}}
  - {name: check, kind: check, with: {target: "{source}"}}
  - {name: list, kind: command, with: {argv: [ls, -l, /srv], timeout: 1m}}
  - {name: ok, kind: confirm, with: {word: RESTORED}}
  - {name: boss, kind: approve}
  - {name: tell, kind: notify, with: {message: "snapshot {steps.restore.snapshot} {ticket}"}}
  - {name: bye, kind: note, with: {text: "verified: {steps.verify.passed}"}}
"""

KNOWN_PARAMS = "params: destination, snapshot, source, ticket, when"
STEP_KINDS = (
    "'restore', 'verify', 'check', 'command', 'confirm', 'approve', 'notify', 'cleanup', 'note'"
)


def test_a_good_runbook_round_trips_into_frozen_models(make_root: RootFactory) -> None:
    root = make_root(keys=False, runbooks={"app": GOOD})
    runbook = load_config(root, check_secrets=False).runbooks["app"]
    assert runbook.title == "Restore app"
    assert runbook.allowed_roots == (root / "restore",)
    assert {name: p.type for name, p in runbook.params.items()} == {
        "destination": "path",
        "snapshot": "snapshot",
        "when": "as_of",
        "source": "target",
        "ticket": "string",
    }
    assert runbook.params["ticket"].pattern == "^CHG-[0-9]+$"
    assert runbook.preconditions[1] == Precondition.model_validate(
        {"free_space_for": {"job": "app", "at": "{destination}"}}
    )
    assert [s.kind for s in runbook.steps] == [
        "restore",
        "verify",
        "check",
        "command",
        "confirm",
        "approve",
        "notify",
        "note",
    ]
    assert runbook.steps[0].with_ == RestoreWith(
        job="app", snapshot="{snapshot}", from_="primary", to="{destination}"
    )
    assert runbook.steps[1].with_ == VerifyWith(
        job="app", dir="{steps.restore.dir}", checks=("restic",)
    )
    assert runbook.steps[3].with_ == CommandWith(
        argv=("ls", "-l", "/srv"), timeout=timedelta(minutes=1)
    )
    assert isinstance(runbook.steps[5], ApproveStep)
    assert runbook.steps[5].with_.who == ()
    assert runbook.steps[7].with_ == NoteWith(text="verified: {steps.verify.passed}")
    with pytest.raises(ValidationError):
        runbook.steps[0].with_.to = "/elsewhere"  # type: ignore[misc]
    assert Runbook.model_validate(runbook.model_dump(by_alias=True)) == runbook


def test_the_allowed_roots_of_drorch_yaml_serve_a_runbook_naming_none(
    make_root: RootFactory,
) -> None:
    text = GOOD.replace("allowed_roots: [restore]\n", "")
    drorch_root = make_root(keys=False, runbooks={"app": text})
    assert problems(drorch_root)[0] == (
        "runbooks/app.yaml:4: params.destination.type: a path parameter needs allowed_roots, "
        "in this runbook or in drorch.yaml"
    )
    root = make_root(
        keys=False, drorch=DRORCH_YAML + "allowed_roots: [/srv/restore]\n", runbooks={"app": text}
    )
    config = load_config(root, check_secrets=False)
    assert config.settings.allowed_roots == (Path("/srv/restore"),)


BAD = [
    # (what changes: old, new), the one problem reported
    (
        ('dir: "{steps.restore.dir}"', 'dir: "{destination2}"'),
        f"runbooks/app.yaml:17: steps[1].with.dir: {{destination2}} is not a parameter of "
        f"this runbook ({KNOWN_PARAMS})",
    ),
    (
        ('dir: "{steps.restore.dir}"', 'dir: "{steps.restore.size}"'),
        "runbooks/app.yaml:17: steps[1].with.dir: {steps.restore.size}: a restore step has no "
        "output 'size' (outputs: snapshot, snapshot_time, dir, bytes, files, seconds, job, "
        "target, kept)",
    ),
    (
        ('dir: "{steps.restore.dir}"', 'dir: "{steps.tell.dir}"'),
        "runbooks/app.yaml:17: steps[1].with.dir: {steps.tell.dir}: step 'tell' comes later; "
        "a step uses earlier outputs",
    ),
    (
        ('dir: "{steps.restore.dir}"', 'dir: "{steps.nope.dir}"'),
        "runbooks/app.yaml:17: steps[1].with.dir: {steps.nope.dir}: no earlier step named "
        "'nope' (known: restore)",
    ),
    (
        ("verified: {steps.verify.passed}", "verified: {steps.ok.passed}"),
        "runbooks/app.yaml:23: steps[7].with.text: {steps.ok.passed}: a confirm step has no "
        "output 'passed' (outputs: none)",
    ),
    (
        ('with: {job: app, snapshot: "{snapshot}"', 'with: {job: ap, snapshot: "{snapshot}"'),
        "runbooks/app.yaml:16: steps[0].with.job: no job named 'ap' (known: app)",
    ),
    (
        ("from: primary", "from: primry"),
        "runbooks/app.yaml:16: steps[0].with.from: no target named 'primry' "
        "(known: primary, replica)",
    ),
    (
        ('snapshot: "{snapshot}", from', 'snapshot: "{source}", from'),
        "runbooks/app.yaml:16: steps[0].with.snapshot: {source} is a target parameter; this "
        "field takes a snapshot",
    ),
    (
        ('snapshot: "{snapshot}", from', 'snapshot: "{snapshot}", as_of: "{when}", from'),
        "runbooks/app.yaml:16: steps[0].with: a restore names either snapshot or as_of",
    ),
    (
        ('to: "{destination}"', "to: /etc/app"),
        "runbooks/app.yaml:16: steps[0].with.to: /etc/app is not under the allowed roots "
        "(ROOT/restore)",
    ),
    (
        ('to: "{destination}"', "to: restore/../etc"),
        "runbooks/app.yaml:16: steps[0].with.to: 'restore/../etc' contains '..'; give the "
        "folder itself",
    ),
    (
        ("argv: [ls, -l, /srv]", 'argv: [ls, -l, "{destination}"]'),
        "runbooks/app.yaml:19: steps[3].with: '{destination}': argv comes from the runbook "
        "itself, never from a parameter",
    ),
    (
        ("{name: bye, kind: note", "{name: ok, kind: note"),
        "runbooks/app.yaml:23: steps[7].name: 'ok' already names steps[4]",
    ),
    (
        ("kind: approve", "kind: approval"),
        f"runbooks/app.yaml:21: steps[5]: kind must be one of {STEP_KINDS}, not 'approval'",
    ),
    (
        ("{name: boss, kind: approve}", "{name: boss}"),
        "runbooks/app.yaml:21: steps[5]: 'kind' is required (restore, verify, check, command, "
        "confirm, approve, notify, cleanup or note)",
    ),
    (
        ("{word: RESTORED}", "{}"),
        "runbooks/app.yaml:20: steps[4].with.word: required, but missing",
    ),
    (
        ("checks: [restic]", "checks: [restic, md5]"),
        "runbooks/app.yaml:17: steps[1].with.checks[1]: must be 'restic', 'canary', "
        "'listing' or 'commands' (got 'md5')",
    ),
    (
        ("{type: snapshot, default: latest}", "{type: snapshot, default: newest}"),
        "runbooks/app.yaml:6: params.snapshot: default: a snapshot is 'latest' or a hex id or "
        "prefix, not 'newest'",
    ),
    (
        ('default: "2024-03-10T02:00:00Z"', 'default: "2024-03-10 02:00"'),
        "runbooks/app.yaml:7: params.when: default: an as-of time names its time zone "
        "(Z or +01:00), not '2024-03-10 02:00'",
    ),
    (
        ("{type: target, default: replica}", "{type: target, default: tape}"),
        "runbooks/app.yaml:8: params.source.default: no target named 'tape' "
        "(known: primary, replica)",
    ),
    (
        ('pattern: "^CHG-[0-9]+$"', 'pattern: "^CHG-[0-9+$"'),
        "runbooks/app.yaml:9: params.ticket.pattern: not a regular expression: unterminated "
        "character set at position 5",
    ),
    (
        ("default: CHG-1}", "default: INC-1}"),
        "runbooks/app.yaml:9: params.ticket: default: 'INC-1' does not match the pattern "
        "'^CHG-[0-9]+$'",
    ),
    (
        ("{type: path, required: true}", "{type: folder, required: true}"),
        "runbooks/app.yaml:5: params.destination.type: must be 'job', 'snapshot', 'as_of', "
        "'target', 'path' or 'string' (got 'folder')",
    ),
    (
        ('{target_online: "{source}"}', '{target_online: "{src}"}'),
        f"runbooks/app.yaml:11: preconditions[0].target_online: {{src}} is not a parameter "
        f"of this runbook ({KNOWN_PARAMS})",
    ),
    (
        ("{job_idle: app}", "{job_idle: app, target_online: primary}"),
        "runbooks/app.yaml:13: preconditions[2]: a precondition is one of target_online, "
        "free_space_for, job_idle",
    ),
    (
        ("title: Restore app\n", ""),
        "runbooks/app.yaml:1: title: required, but missing",
    ),
]


@pytest.mark.parametrize(("change", "expected"), BAD, ids=[b[1].split(": ")[1] for b in BAD])
def test_a_bad_runbook_is_refused_with_file_line_and_field(
    make_root: RootFactory, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert GOOD.count(old) == 1, old
    root = make_root(keys=False, runbooks={"app": GOOD.replace(old, new)})
    assert problems(root) == [expected.replace("ROOT", str(root))]


def test_every_problem_of_a_runbook_at_once(make_root: RootFactory) -> None:
    text = GOOD.replace("job: app, snapshot", "job: ap, snapshot").replace(
        '"{steps.restore.dir}"', '"{dest}"'
    )
    assert problems(make_root(keys=False, runbooks={"app": text})) == [
        "runbooks/app.yaml:16: steps[0].with.job: no job named 'ap' (known: app)",
        f"runbooks/app.yaml:17: steps[1].with.dir: {{dest}} is not a parameter of this "
        f"runbook ({KNOWN_PARAMS})",
    ]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("/srv/restore/app", None),
        ("/srv/restore", "/srv/restore is not under the allowed roots (/srv/restore)"),
        ("/", "/ is not under the allowed roots (/srv/restore)"),
        (
            "/srv/restore/../../etc",
            "'/srv/restore/../../etc' contains '..'; give the folder itself",
        ),
        ("app", "'app' is not an absolute path"),
    ],
)
def test_a_destination_lies_under_an_allowed_root(value: str, problem: str | None) -> None:
    assert path_problem(value, (Path("/srv/restore"),)) == problem


def test_each_job_binds_job_and_names_a_known_site(make_root: RootFactory) -> None:
    site = """\
        title: Site
        description: Every job of a site
        allowed_roots: [/srv/restore]
        steps:
          - {name: restore, kind: restore, each_job: dc1,
             with: {job: "{job}", snapshot: latest, from: primary, to: "/srv/restore/{job}"}}
          - {name: verify, kind: verify, each_job: nowhere,
             with: {job: "{job}", dir: "{steps.restore.dir}"}}
          - {name: tidy, kind: cleanup, with: {dir: "{job}"}}
        """
    root = make_root(runbooks={"site": site})
    assert problems(root) == [
        "runbooks/site.yaml:7: steps[1].each_job: no target is at site 'nowhere' (sites: dc1, dc2)",
        "runbooks/site.yaml:9: steps[2].with.dir: {job} is not a parameter of this runbook "
        "(params: none declared)",
    ]


def test_verify_and_cleanup_work_on_a_folder_a_restore_step_made(
    make_root: RootFactory,
) -> None:
    runbook = """\
        title: Odd
        description: Verify a folder no restore made
        allowed_roots: [/srv/restore]
        steps:
          - {name: tell, kind: note, with: {text: hi}}
          - {name: verify, kind: verify, with: {job: app, dir: /srv/restore/x}}
          - {name: tidy, kind: cleanup, with: {dir: "{steps.tell.text}"}}
        """
    root = make_root(runbooks={"odd": runbook})
    found = problems(root)
    assert found[0] == (
        "runbooks/odd.yaml:6: steps[1].with.dir: '/srv/restore/x': name the folder an earlier "
        "restore step made, as {steps.NAME.dir}"
    )
    assert found[1].startswith("runbooks/odd.yaml:7: steps[2].with.dir: {steps.tell.text}: a note")


DRILL_RUNBOOK = """\
    title: Drill
    description: Restore to scratch, verify, clean up
    drill: true
    allowed_roots: [restore]
    params:
      job: {type: job, default: app}
      scratch: {type: path, default: restore/drill}
    steps:
      - {name: restore, kind: restore,
         with: {job: "{job}", snapshot: latest, from: primary, to: "{scratch}"}}
      - {name: cleanup, kind: cleanup, with: {dir: "{steps.restore.dir}"}}
    """


def test_a_job_schedules_only_a_drill_with_parameters_it_declares(
    make_root: RootFactory,
) -> None:
    job = JOB_YAML + "drill: {runbook: DRILL, schedule: '0 4 * * 6', params: {scrach: x}}\n"
    approving = DRILL_RUNBOOK.replace(
        "      - {name: cleanup", "      - {name: ok, kind: approve}\n      - {name: cleanup"
    )
    root = make_root(
        jobs={
            "app": job.replace("DRILL", "drill"),
            "b": job.replace("DRILL", "plain"),
            "c": job.replace("DRILL", "nope"),
            "d": job.replace("DRILL", "approving"),
        },
        runbooks={
            "drill": DRILL_RUNBOOK,
            "plain": DRILL_RUNBOOK.replace("drill: true", "drill: false"),
            "approving": approving,
        },
    )
    assert problems(root) == [
        "jobs/app.yaml:4: drill.params.scrach: runbook 'drill' has no parameter 'scrach' "
        "(params: job, scratch)",
        "jobs/b.yaml:4: drill.runbook: runbook 'plain' is not a drill (drill: true): a job "
        "schedules only drills",
        "jobs/b.yaml:4: drill.params.scrach: runbook 'plain' has no parameter 'scrach' "
        "(params: job, scratch)",
        "jobs/c.yaml:4: drill.runbook: no runbook named 'nope' (known: approving, drill, plain)",
        "jobs/d.yaml:4: drill.params.scrach: runbook 'approving' has no parameter 'scrach' "
        "(params: job, scratch)",
        "jobs/d.yaml:4: drill.runbook: runbook 'approving' waits for an approval; a scheduled "
        "drill runs unattended",
    ]


def test_a_relative_path_default_is_read_from_the_config_root(make_root: RootFactory) -> None:
    root = make_root(runbooks={"drill": DRILL_RUNBOOK})
    config = load_config(root)
    assert config.runbooks["drill"].params["scratch"].default == "restore/drill"
    outside = DRILL_RUNBOOK.replace("default: restore/drill", "default: elsewhere/drill")
    root = make_root(runbooks={"drill": outside})
    [problem] = problems(root)
    assert problem.startswith("runbooks/drill.yaml:7: params.scratch.default: ")
    assert problem.endswith(f"/elsewhere/drill is not under the allowed roots ({root}/restore)")
