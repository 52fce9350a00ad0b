import os
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from drorch.catalog import Catalog, RunStatus, open_catalog
from drorch.catalog import locks as table
from drorch.catalog.locks import Owner
from drorch.errors import CatalogError, LockBusy
from drorch.locks import process_alive, this_process
from drorch.process import process_identity

ME = Owner(host="node1", pid=100, pid_started=1000.0)
OTHER = Owner(host="node1", pid=200, pid_started=2000.0)
LEASE = timedelta(minutes=2)


def alive_all(holder: Owner) -> bool:
    return True


def dead_all(holder: Owner) -> bool:
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
    me = this_process()
    assert me.process is not None
    assert process_alive(me)
    # the wall clock stepped an hour since the holder was recorded: still the same process
    assert process_alive(replace(me, pid_started=me.pid_started - 3600))
    boot, ticks = me.process.split()
    assert not process_alive(replace(me, process=f"{boot} {int(ticks) + 1}"))  # reused pid
    assert not process_alive(replace(me, process=f"{uuid.uuid4()} {ticks}"))  # before a reboot
    assert not process_alive(replace(me, pid=2**22 + 12345))  # no such pid
    assert process_alive(Owner("another-node", 1, 0.0, "x 1"))  # elsewhere: the lease decides


def test_a_child_forked_after_its_parent_asked_is_itself() -> None:
    """The cli-server forks a child per command: the child's locks and runs name the
    child, even when the parent had already asked who it is."""
    parent = this_process()
    child = os.fork()
    if child == 0:  # the child: exit 0 only if it names itself, not its parent
        me = this_process()
        os._exit(0 if (me.pid, me.process) == (os.getpid(), process_identity(os.getpid())) else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert this_process() == parent


def test_a_holder_recorded_before_identities_is_compared_by_start_time() -> None:
    legacy = replace(this_process(), process=None)
    assert process_alive(legacy)
    assert not process_alive(replace(legacy, pid_started=legacy.pid_started + 3600))


def test_the_holders_identity_is_recorded_and_read_back(catalog: Catalog) -> None:
    seen: list[Owner] = []

    def record(holder: Owner) -> bool:
        seen.append(holder)
        return False

    me = this_process()
    table.acquire(catalog, "a", me, lease=LEASE, purpose="p", alive=alive_all)
    table.acquire(catalog, "a", OTHER, lease=LEASE, purpose="p", alive=record)
    assert seen == [me]


RUN = {"job": "a", "action": "snapshot", "target": None, "host": "node1", "pid": 100, "actor": "t"}


def test_a_lock_taken_for_a_run_records_the_run_under_it(catalog: Catalog, tmp_path: Path) -> None:
    held = table.acquire(
        catalog,
        "job:a:snapshot",
        ME,
        lease=LEASE,
        purpose="snapshot of a",
        alive=alive_all,
        run={**RUN, "artifacts_root": tmp_path / "runs"},
    )
    run = held.run
    assert run is not None
    assert catalog.run(run.id) == run
    assert run.artifacts == str(tmp_path / "runs" / str(run.id))
    [info] = table.held_locks(catalog)
    assert (info.name, info.run_id) == (held.name, run.id)


def test_a_busy_lock_records_no_run(catalog: Catalog) -> None:
    table.acquire(catalog, "job:a:snapshot", ME, lease=LEASE, purpose="p", alive=alive_all)
    with pytest.raises(LockBusy):
        table.acquire(
            catalog, "job:a:snapshot", OTHER, lease=LEASE, purpose="p", alive=alive_all, run=RUN
        )
    assert catalog.runs() == []


def test_a_lock_of_a_dead_holder_is_taken_over_with_the_run(catalog: Catalog) -> None:
    table.acquire(catalog, "job:a:snapshot", ME, lease=LEASE, purpose="p", alive=alive_all)
    held = table.acquire(
        catalog, "job:a:snapshot", OTHER, lease=LEASE, purpose="p", alive=dead_all, run=RUN
    )
    assert held.run is not None
    [info] = table.held_locks(catalog)
    assert (info.pid, info.run_id) == (OTHER.pid, held.run.id)
    assert table.renew(catalog, held, lease=LEASE)


def test_a_run_lost_in_a_race_for_the_lock_is_rolled_back(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process takes the lock between our read and our write, every time: LockBusy,
    and none of the runs inserted on the way stays."""

    def other_takes_it(holder: Owner) -> bool:
        # called between the read and the write: the holder looks dead, and meanwhile
        # another process takes the lock over (its token changes under us)
        table.acquire(catalog, "job:a:snapshot", OTHER, lease=LEASE, purpose="p", alive=dead_all)
        return False

    table.acquire(catalog, "job:a:snapshot", OTHER, lease=LEASE, purpose="p", alive=alive_all)
    with pytest.raises(LockBusy, match="contended"):
        table.acquire(
            catalog, "job:a:snapshot", ME, lease=LEASE, purpose="p", alive=other_takes_it, run=RUN
        )
    assert catalog.runs() == []
    assert [info.pid for info in table.held_locks(catalog)] == [OTHER.pid]


def test_the_final_transition_releases_the_lock_and_records_the_snapshots(
    catalog: Catalog,
) -> None:
    from tests.unit.catalog.test_store import snapshot_of

    held = table.acquire(
        catalog, "job:a:snapshot", ME, lease=LEASE, purpose="p", alive=alive_all, run=RUN
    )
    run = held.run
    assert run is not None
    written = snapshot_of(run.id)
    done = catalog.transition(
        run.id, RunStatus.SUCCEEDED, snapshots=[written], lock=(held.name, held.token)
    )
    assert done.status is RunStatus.SUCCEEDED
    assert catalog.snapshots(job="a") == [written]
    assert table.held_locks(catalog) == []


def test_a_run_s_end_on_a_server_carries_a_snapshot_and_the_lock_in_its_statement(
    catalog: Catalog,
) -> None:
    """Each statement to PostgreSQL is a round trip that a hundred runs ending at once queue
    for: there the first snapshot's insert and the lock's release ride in the run's UPDATE
    (a snapshot run's end is one statement); SQLite, in-process, runs them one by one. The
    snapshots are recorded in their order either way."""
    from dataclasses import replace

    from tests.unit.catalog.test_store import snapshot_of

    held = table.acquire(
        catalog, "job:a:snapshot", ME, lease=LEASE, purpose="p", alive=alive_all, run=RUN
    )
    assert held.run is not None
    first = snapshot_of(held.run.id)
    written = [first, replace(first, target="replica", snapshot_id="ef" * 32, original_id="cd")]
    statements: list[str] = []
    event.listen(catalog.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    done = catalog.transition(
        held.run.id, RunStatus.SUCCEEDED, snapshots=written, lock=(held.name, held.token)
    )
    server = catalog.engine.dialect.name == "postgresql"
    assert len(statements) == (2 if server else 4)
    assert done.status is RunStatus.SUCCEEDED
    assert catalog.snapshots(job="a") == written
    assert table.held_locks(catalog) == []


def test_a_refused_transition_keeps_the_lock_and_records_no_snapshot(catalog: Catalog) -> None:
    from tests.unit.catalog.test_store import snapshot_of

    held = table.acquire(
        catalog, "job:a:snapshot", ME, lease=LEASE, purpose="p", alive=alive_all, run=RUN
    )
    run = held.run
    assert run is not None
    catalog.transition(run.id, RunStatus.FAILED)
    with pytest.raises(CatalogError, match="cannot go from FAILED to SUCCEEDED"):
        catalog.transition(
            run.id,
            RunStatus.SUCCEEDED,
            snapshots=[snapshot_of(run.id)],
            lock=(held.name, held.token),
        )
    assert catalog.snapshots(job="a") == []
    assert [info.name for info in table.held_locks(catalog)] == [held.name]


def test_a_lock_taken_for_a_run_reads_the_repositories_it_names(catalog: Catalog) -> None:
    """Read in the lock's transaction, so that the run opening them needs no session of its
    own: a recorded row as it is, a target with none as None."""
    recorded = catalog.record_repository(
        target="primary", location="/srv/repo", repo_id="a" * 64, restic_version="0.16.4"
    )
    held = table.acquire(
        catalog,
        "job:a:snapshot",
        ME,
        lease=LEASE,
        purpose="p",
        alive=alive_all,
        run=RUN,
        repositories=("primary", "replica"),
    )
    assert held.repositories == {"primary": recorded, "replica": None}
    plain = table.acquire(catalog, "b", ME, lease=LEASE, purpose="p", alive=alive_all)
    assert plain.repositories == {}
