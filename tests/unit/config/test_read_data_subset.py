"""`check.read_data_subset` and `replicate[].verify_read_subset` are validated when the
config is read: a share that reads nothing or more than everything is a problem named
with file, line and field, not a check that fails (or reads another share) at run time."""

from __future__ import annotations

import pytest

from drorch.config import load_config
from tests.conftest import JOB_YAML, RootFactory
from tests.unit.config.conftest import problems

FORMS = "read_data_subset is a percentage (5%), n/N (1/10) or a size, not"


def job_with(subset: str) -> str:
    return (
        JOB_YAML
        + f'replicate: [{{to: replica, verify_read_subset: "{subset}"}}]\n'
        + f'check: {{read_data_subset: "{subset}"}}\n'
    )


@pytest.mark.parametrize(
    "subset", ["5%", "0.5%", "100%", "1/10", "3/10", "10/10", "1/1", "500MiB", "2G", "1 KiB"]
)
def test_a_share_that_reads_something_is_accepted(make_root: RootFactory, subset: str) -> None:
    config = load_config(make_root(keys=False, jobs={"app": job_with(subset)}), check_secrets=False)
    job = config.jobs["app"]
    assert job.check is not None and job.check.read_data_subset == subset
    assert job.replicate[0].verify_read_subset == subset


@pytest.mark.parametrize(
    ("subset", "reason"),
    [
        ("0%", "a percentage is more than 0% and at most 100%, not '0%'"),
        ("0.0%", "a percentage is more than 0% and at most 100%, not '0.0%'"),
        ("150%", "a percentage is more than 0% and at most 100%, not '150%'"),
        ("1/0", "n/N is part n of N parts, 1 <= n <= N, not '1/0'"),
        ("0/3", "n/N is part n of N parts, 1 <= n <= N, not '0/3'"),
        ("5/3", "n/N is part n of N parts, 1 <= n <= N, not '5/3'"),
        ("0MiB", "a size reads more than nothing, not '0MiB'"),
        ("lots", f"{FORMS} 'lots'"),
        ("-5%", f"{FORMS} '-5%'"),
    ],
)
def test_a_share_that_reads_nothing_or_too_much_is_refused(
    make_root: RootFactory, subset: str, reason: str
) -> None:
    root = make_root(keys=False, jobs={"app": job_with(subset)})
    assert problems(root) == [
        f"jobs/app.yaml:4: replicate[0].verify_read_subset: {reason}",
        f"jobs/app.yaml:5: check.read_data_subset: {reason}",
    ]
