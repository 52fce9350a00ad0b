import pytest

from drorch.actions.check import rotating_subset
from drorch.errors import UsageError


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("1/3", ["1/3", "2/3", "3/3", "1/3"]),
        ("2/4", ["2/4", "3/4", "4/4", "1/4"]),  # the first check reads part n, as restic would
        ("4/4", ["4/4", "1/4", "2/4", "3/4"]),
        ("25%", ["1/4", "2/4", "3/4", "4/4"]),
        ("5%", ["1/20", "2/20", "3/20", "4/20"]),
        ("30%", ["1/3", "2/3", "3/3", "1/3"]),  # 3 parts of 33%: at least the 30% asked
        ("35%", ["1/2", "2/2", "1/2", "2/2"]),  # 2 parts of 50%, never 3 of 33%
        ("100%", ["1/1", "1/1", "1/1", "1/1"]),
        ("0.5%", ["1/200", "2/200", "3/200", "4/200"]),
    ],
)
def test_subset_rotates_so_n_runs_read_everything(configured: str, expected: list[str]) -> None:
    assert [rotating_subset(configured, earlier) for earlier in range(4)] == expected


def test_subset_continues_after_many_runs() -> None:
    assert rotating_subset("10%", 57) == "8/10"


@pytest.mark.parametrize(
    ("configured", "expected"),
    # restic 0.14 takes only a whole number and K/M/G/T (powers of 1024): not 500MiB,
    # not 1.5G, not a bare number of bytes.
    [
        ("500MiB", "500M"),
        ("2GiB", "2G"),
        ("1.5GiB", "1536M"),
        ("1M", "977K"),  # drorch's M is 1000**2
        ("3T", "2794G"),
        ("1KiB", "1K"),
        ("10B", "1K"),
    ],
)
def test_size_subset_is_written_as_restic_reads_it(configured: str, expected: str) -> None:
    assert rotating_subset(configured, 3) == expected


def test_no_subset_is_a_plain_check() -> None:
    assert rotating_subset(None, 3) is None


@pytest.mark.parametrize("configured", ["0%", "150%", "1/0", "5/3", "0MiB"])
def test_a_subset_the_config_refuses_is_refused_here_too(configured: str) -> None:
    with pytest.raises(UsageError, match=f"read_data_subset {configured!r}: "):
        rotating_subset(configured, 0)


@pytest.mark.parametrize("configured", ["1/7", "5/7", "7/7", "100%", "50%", "35%", "12.5%", "3%"])
def test_every_accepted_subset_reads_the_whole_repository_in_turn(configured: str) -> None:
    """Whatever the config accepts, N checks read each of the N parts once, and a part is
    never smaller than the percentage asked."""
    first = rotating_subset(configured, 0)
    assert first is not None
    parts = int(first.split("/")[1])
    assert sorted(rotating_subset(configured, k) for k in range(parts)) == sorted(
        f"{n}/{parts}" for n in range(1, parts + 1)
    )
    if configured.endswith("%"):
        assert 100 / parts >= float(configured[:-1])
