"""The supervisor `make run`, the e2e platform, the benchmark and chaos run their processes under."""

import io
import itertools
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from runner.supervisor import Backoff, Output, Program, Supervisor, group_alive

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = Backoff(0.05, 2, 0.4, 60)


def eventually(condition, timeout=10.0, message="condition"):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.02)
    return value


@pytest.fixture
def supervise(tmp_path):
    """Supervisors over the given shell commands, stopped at the end of the test whatever happens."""
    made = []

    def make(commands: dict[str, str], *, backoff=FAST, grace=2.0, output=None):
        programs = [Program(name, command, dict(os.environ)) for name, command in commands.items()]
        supervisor = Supervisor(programs, cwd=tmp_path, output=output or io.StringIO(), backoff=backoff, grace=grace)
        made.append(supervisor)
        return supervisor

    yield make
    for supervisor in made:
        supervisor.stop_all(signal.SIGKILL)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_backoff_doubles_from_initial_up_to_the_cap():
    backoff = Backoff(initial=0.5, factor=2, maximum=30)

    assert [backoff.delay(n) for n in range(1, 10)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]


def test_a_child_that_exits_is_restarted_with_growing_backoff_and_counted(supervise):
    # given
    output = io.StringIO()
    supervisor = supervise({"flaky": "exit 3"}, backoff=Backoff(0.1, 2, 0.8, 60), output=output)

    # when
    supervisor.start_all()
    supervisor.watch()
    eventually(lambda: supervisor.restarts["flaky"] >= 5, message="five restarts")

    # then: each death waited twice as long as the one before, up to the cap
    deaths = list(supervisor.deaths)[:5]
    assert [d.restart_in for d in deaths] == [0.1, 0.2, 0.4, 0.8, 0.8]
    assert {d.cause for d in deaths} == {"exit code 3"}
    for earlier, later in itertools.pairwise(deaths):
        assert later.at - earlier.at >= earlier.restart_in - 0.01
    assert "!!! flaky DIED: exit code 3" in output.getvalue()
    assert "restart 3 in 0.4 s" in output.getvalue()


def test_a_process_that_keeps_dying_keeps_being_restarted_at_the_capped_pace(supervise):
    # given: a command that can never start
    supervisor = supervise({"broken": "exit 1"}, backoff=Backoff(0.02, 2, 0.2, 60))

    # when: it has been failing for two seconds
    supervisor.start_all()
    supervisor.watch()
    time.sleep(2.0)
    restarts = supervisor.restarts["broken"]

    # then: never a tight loop (at most 0.02 + 0.04 + 0.08 + 0.16 s, then one each 0.2 s: 13),
    # and never given up on
    assert 4 <= restarts <= 13
    assert all(d.restart_in <= 0.2 for d in supervisor.deaths)
    eventually(lambda: supervisor.restarts["broken"] > restarts, timeout=1, message="yet another restart")


def test_a_process_that_stayed_up_a_while_is_restarted_without_the_earlier_backoff(supervise):
    supervisor = supervise({"daily": "sleep 0.4; exit 1"}, backoff=Backoff(0.05, 2, 1, stable_after=0.3))

    supervisor.start_all()
    supervisor.watch()
    eventually(lambda: len(supervisor.deaths) >= 3, message="three deaths")

    assert [d.restart_in for d in list(supervisor.deaths)[:3]] == [0.05, 0.05, 0.05]


def test_a_killed_leader_takes_what_it_left_in_its_group_and_is_restarted(supervise):
    # given: a process with a child of its own (as gunicorn has its workers)
    supervisor = supervise({"server": "sleep 1000 & exec sleep 1001"})
    supervisor.start_all()
    supervisor.watch()
    leader = supervisor.pid("server")
    [child] = eventually(lambda: psutil.Process(leader).children(), message="the child")

    # when: only the leader is SIGKILLed, as the OOM killer or `kill -9 <pid>` does
    os.kill(leader, signal.SIGKILL)

    # then
    eventually(lambda: supervisor.pid("server") not in (None, leader), message="a new server")
    assert not alive(child.pid)
    [death] = supervisor.deaths
    assert (death.pid, death.cause) == (leader, "killed by SIGKILL")
    assert supervisor.restarts == {"server": 1}


def test_stop_all_ends_every_group_grandchildren_too_and_kills_what_ignores_sigterm(supervise):
    # given: one program that stops on SIGTERM, one whose processes ignore it
    output = io.StringIO()
    supervisor = supervise(
        {"polite": "sleep 1000 & sleep 1000 & wait", "stubborn": "trap '' TERM; sleep 1000 & wait"},
        grace=0.5,
        output=output,
    )
    supervisor.start_all()
    supervisor.watch()
    groups = supervisor.pids()
    processes = eventually(
        lambda: (
            [p for pid in groups.values() for p in psutil.Process(pid).children()]
            if all(len(psutil.Process(pid).children()) >= 1 for pid in groups.values())
            else None
        ),
        message="the grandchildren",
    )

    # when
    started = time.monotonic()
    supervisor.stop_all()

    # then
    assert time.monotonic() - started < 5
    assert not any(alive(p.pid) for p in processes)
    assert not any(group_alive(pgid) for pgid in groups.values())
    assert supervisor.pids() == {}
    assert supervisor.restarts == {}
    assert "outlived the grace period: SIGKILL" in output.getvalue()


def test_a_program_stopped_for_good_stays_down_until_started_again_with_its_environment(supervise, tmp_path):
    supervisor = supervise({"worker": 'echo "delay=${FAULT_DELAY:-none}" >> seen; exec sleep 1000'})
    supervisor.start_all()
    supervisor.watch()
    eventually(lambda: (tmp_path / "seen").exists(), message="the first start")

    supervisor.stop("worker", signal.SIGKILL)
    time.sleep(0.3)  # several backoff periods
    assert supervisor.pid("worker") is None
    supervisor.start("worker", FAULT_DELAY="30")
    # killed only once it has started (under load a kill could land before its first line)
    eventually(lambda: (tmp_path / "seen").read_text().count("\n") == 2, message="the second start")
    supervisor.send_signal("worker", signal.SIGKILL)  # a crash: restarted with the same environment
    eventually(lambda: supervisor.restarts["worker"] == 1, message="the restart")

    eventually(lambda: (tmp_path / "seen").read_text().count("\n") == 3, message="three starts")
    assert (tmp_path / "seen").read_text().splitlines() == ["delay=none", "delay=30", "delay=30"]
    assert len(supervisor.deaths) == 1  # stopping on purpose is no death


def test_output_lines_carry_the_time_and_the_name_honcho_style(supervise):
    stream = io.StringIO()
    supervisor = supervise({"greeter": "echo hello; echo world; exec sleep 1000"}, output=Output(stream, width=10))

    supervisor.start_all()
    supervisor.watch()
    eventually(lambda: "world" in stream.getvalue(), message="the output")

    lines = stream.getvalue().splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d supervisor \| started greeter \(pid \d+\)", lines[0])
    assert re.fullmatch(r"\d\d:\d\d:\d\d greeter    \| hello", lines[1])
    assert lines[2].endswith("greeter    | world")


def test_output_to_a_log_file_appends_across_restarts(tmp_path):
    log = tmp_path / "logs" / "once.log"
    supervisor = Supervisor(
        [Program("once", "echo ran", dict(os.environ), log=log)],
        cwd=tmp_path,
        output=tmp_path / "logs" / "supervisor.log",
        backoff=Backoff(0.05, 1, 0.05, 60),
    )
    supervisor.start_all()
    supervisor.watch()
    try:
        eventually(lambda: log.exists() and log.read_text().count("ran") >= 3, message="three runs")
    finally:
        supervisor.stop_all()
        supervisor.output.close()

    assert "!!! once DIED: exit code 0" in (tmp_path / "logs" / "supervisor.log").read_text()


FOREGROUND = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from runner.supervisor import Program, Supervisor
    programs = [Program(name, "sleep 1000 & exec sleep 1001", dict(os.environ)) for name in ("one", "two")]
    sys.exit(Supervisor(programs, cwd=Path.cwd()).run())
    """
)


def test_run_in_the_foreground_stops_every_group_on_ctrl_c_with_exit_code_130(tmp_path):
    # given: `make run`'s form, its own process in the foreground
    out = (tmp_path / "out").open("w+")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", FOREGROUND], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
    )
    try:
        text = eventually(
            lambda: (t := (tmp_path / "out").read_text()).count("started") == 2 and t, message="both started"
        )
        groups = [int(pid) for pid in re.findall(r"started \w+ \(pid (\d+)\)", text)]
        members = [p for pid in groups for p in [psutil.Process(pid), *psutil.Process(pid).children()]]

        # when: asked how it is doing, then Ctrl-C
        process.send_signal(signal.SIGUSR1)
        eventually(lambda: "two: pid" in (tmp_path / "out").read_text(), message="the status")
        process.send_signal(signal.SIGINT)

        # then
        assert process.wait(timeout=15) == 130
        assert not any(alive(p.pid) for p in members)
        text = (tmp_path / "out").read_text()
        assert re.search(rf"one: pid {groups[0]}, up \d+ s, restarts 0", text)
        assert "SIGINT received" in text
        assert "all stopped; restarts: none" in text
    finally:
        if process.poll() is None:
            process.kill()


def test_output_to_a_closed_stream_is_dropped_not_raised():
    # given: the terminal went away (or `| tee` died)
    stream = io.StringIO()
    stream.close()

    # then: the supervisor goes on (and stops its children) all the same
    Output(stream).line("cart-web", "a line nobody will read")
