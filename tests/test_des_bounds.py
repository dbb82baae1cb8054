"""The simulator's bounds: events and kernel calls (`max_events`), wall time (`timeout_s`), progress on a terminal."""

from __future__ import annotations

import sys

import pytest

import perfmodel
from perfmodel.cli import main
from perfmodel.des import SimulationLimitError, simulate
from perfmodel.des.engine import MIN_MAX_EVENTS, default_max_events, expected_events

OP = perfmodel.get_op("centralize_w_rm")
WH = "wormhole_b0_n150"
# One core, 320 tile rows of one tile: just over the 16,384 events between two looks at the clock.
LONG = ((1, 1, 32 * 320, 32), {"grid": (1, 1)})
LONG_ARGS = ["simulate", "centralize_w_rm", "--shape", "1,1,10240,32", "--grid", "1x1"]


def test_the_bound_message_says_what_was_reached_and_how_to_raise_it() -> None:
    program = OP.build_program((64, 64), device=WH)
    with pytest.raises(SimulationLimitError) as info:
        simulate(program, max_events=50)
    message = str(info.value)
    assert "50 kernel calls" in message and "simulated cycle" in message
    assert "max_events=" in message and "--max-events" in message
    assert "\n" not in message


def test_a_wall_time_limit_stops_a_long_run_and_says_so() -> None:
    program = OP.build_program(LONG[0], device=WH, config=LONG[1])
    with pytest.raises(SimulationLimitError) as info:
        simulate(program, timeout_s=1e-6)
    message = str(info.value)
    assert "time limit of 1e-06 s" in message and "timeout_s=" in message and "--timeout" in message


def test_the_default_event_bound_follows_the_program_and_is_never_reached_by_a_valid_run() -> None:
    small = OP.build_program((64, 64), device=WH)
    big = OP.build_program((1, 1, 2**24, 32), device=WH)
    assert default_max_events(small) == MIN_MAX_EVENTS
    assert default_max_events(big) > MIN_MAX_EVENTS
    program = OP.build_program((1, 1, 1024, 32), device=WH, config={"grid": (1, 1)})
    run = simulate(program)
    assert run.details["events"] <= expected_events(program)
    assert run.details["kernel_calls"] <= expected_events(program)


def test_progress_is_shown_on_a_terminal_only(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    # (Without a terminal, stderr stays empty: every other command-line test runs that way.)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main([*LONG_ARGS, "--json"]) == 0
    assert "events" in capsys.readouterr().err


def test_the_command_line_takes_the_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*LONG_ARGS, "--timeout", "0.000001"]) == 2
    assert "time limit" in capsys.readouterr().err
    assert (
        main(["simulate", "centralize_w_rm", "--shape", "1,1,64,64", "--max-events", "100000", "--timeout", "600"]) == 0
    )
