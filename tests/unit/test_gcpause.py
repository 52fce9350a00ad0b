"""paused_gc: the cyclic collector off inside, as it was after."""

from __future__ import annotations

import gc

from drorch.gcpause import paused_gc


def test_the_collector_is_off_inside_and_on_after() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner one leaves it to the outer
    assert gc.isenabled()


def test_an_error_inside_turns_it_back_on() -> None:
    try:
        with paused_gc():
            raise ValueError
    except ValueError:
        pass
    assert gc.isenabled()


def test_a_collector_already_off_stays_off() -> None:
    gc.disable()
    try:
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
