from datetime import timedelta
from pathlib import Path

import pytest

from drorch.catalog import Catalog, open_catalog
from drorch.catalog import locks as table
from drorch.catalog.locks import Owner
from drorch.errors import LockBusy

ME = Owner(host="node1", pid=100, pid_started=1000.0)
OTHER = Owner(host="node1", pid=200, pid_started=2000.0)
LEASE = timedelta(minutes=2)


def alive_all(host: str, pid: int, started: float) -> bool:
    return True


def dead_all(host: str, pid: int, started: float) -> bool:
    return False


@pytest.fixture
def catalog(any_catalog: Catalog) -> Catalog:
    """Each test runs on SQLite and on PostgreSQL."""
    return any_catalog


def test_second_holder_is_refused_with_the_first_named(catalog: Catalog) -> None:
    held = table.acquire(
        catalog, "job:a:snapshot", ME, lease=LEASE, purpose="snapshot of a", alive=alive_all
    )
    run = catalog.create_run(
        job="a",
        action="snapshot",
        target=None,
        host="node1",
        pid=100,
        actor="t",
        lock=(held.name, held.token),
    )  # the run's id goes on the lock it runs under, in the same transaction
    with pytest.raises(LockBusy) as caught:
        table.acquire(
            catalog, "job:a:snapshot", OTHER, lease=LEASE, purpose="snapshot of a", alive=alive_all
        )
    assert str(caught.value) == f"snapshot of a: already running (run {run.id}, pid 100 on node1)"
    assert (caught.value.holder_pid, caught.value.holder_run) == (100, run.id)


def test_release_frees_and_other_names_are_independent(catalog: Catalog) -> None:
    held = table.acquire(catalog, "a", ME, lease=LEASE, purpose="p", alive=alive_all)
    table.acquire(catalog, "b", OTHER, lease=LEASE, purpose="p", alive=alive_all)
    table.release(catalog, held)
    assert [info.name for info in table.held_locks(catalog)] == ["b"]
    again = table.acquire(catalog, "a", OTHER, lease=LEASE, purpose="p", alive=alive_all)
    assert again.name == "a"


def test_a_dead_holder_is_taken_over(catalog: Catalog) -> None:
    stale = table.acquire(catalog, "a", ME, lease=LEASE, purpose="p", alive=alive_all)
    mine = table.acquire(catalog, "a", OTHER, lease=LEASE, purpose="p", alive=dead_all)
    assert mine.token != stale.token
    [info] = table.held_locks(catalog)
    assert info.pid == OTHER.pid
    # the old holder can no longer renew or release what it lost
    assert not table.renew(catalog, stale, lease=LEASE)
    table.release(catalog, stale)
    assert [i.pid for i in table.held_locks(catalog)] == [OTHER.pid]


def test_an_expired_lease_of_another_host_is_taken_over(catalog: Catalog) -> None:
    elsewhere = Owner(host="node2", pid=100, pid_started=1000.0)
    table.acquire(
        catalog, "a", elsewhere, lease=timedelta(seconds=-1), purpose="p", alive=alive_all
    )
    mine = table.acquire(catalog, "a", OTHER, lease=LEASE, purpose="p", alive=alive_all)
    assert table.renew(catalog, mine, lease=LEASE)


def test_a_live_holder_on_this_host_keeps_its_lock_past_its_lease(catalog: Catalog) -> None:
    table.acquire(catalog, "a", ME, lease=timedelta(seconds=-1), purpose="p", alive=alive_all)
    with pytest.raises(LockBusy):
        table.acquire(catalog, "a", OTHER, lease=LEASE, purpose="p", alive=alive_all)


def test_resource_lock_context_manager_across_two_catalog_handles(tmp_path: Path) -> None:
    from drorch.locks import resource_lock

    one, two = open_catalog(None, tmp_path), open_catalog(None, tmp_path)
    with (
        resource_lock(one, "repository:primary", purpose="prune of primary"),
        pytest.raises(LockBusy, match=r"prune of primary: already running \(pid "),
        resource_lock(two, "repository:primary", purpose="prune of primary"),
    ):
        pass
    with resource_lock(two, "repository:primary", purpose="check of primary"):
        assert [i.purpose for i in table.held_locks(one)] == ["check of primary"]
    assert table.held_locks(one) == []


def test_process_alive_tells_pid_reuse_apart() -> None:
    import os
    import socket

    import psutil

    from drorch.locks import process_alive

    host = socket.gethostname()
    started = psutil.Process(os.getpid()).create_time()
    assert process_alive(host, os.getpid(), started)
    assert not process_alive(host, os.getpid(), started + 3600)  # same pid, later process
    assert not process_alive(host, 2**22 + 12345, started)  # no such pid
    assert process_alive("another-node", 1, 0.0)  # elsewhere: the lease decides
