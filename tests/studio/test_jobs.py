"""Background jobs: a run outlives the page and the studio process, stops gracefully, and says how it ended.

The commands here are small Python stand-ins for ``accelerate launch train_t3.py``: a launcher that dies on
SIGTERM (as accelerate's does) with a trainer child that saves and exits 0 on SIGTERM (as ours does)."""

import json
import os
import signal
import sys
import textwrap
import time

import pytest

from amharic_tts.studio import jobs

TRAINER = textwrap.dedent("""
    import signal, sys, time, pathlib
    out = pathlib.Path(sys.argv[1])
    def stop(signum, frame):
        (out / "checkpoint-1").mkdir()
        (out / "train_summary.json").write_text('{"stopped_by": "signal"}')
        print("saved a checkpoint, exiting", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    print("training", sys.argv[2:], flush=True)
    while True:
        time.sleep(0.05)
""")
# like accelerate's simple launcher: runs the trainer as a child and dies at once on SIGTERM itself
LAUNCHER = "import subprocess, sys; sys.exit(subprocess.call([sys.executable, '-c', sys.argv[1], *sys.argv[2:]]))"


def command(output_dir, *extra):
    return [sys.executable, "-c", LAUNCHER, TRAINER, str(output_dir), *extra]


def wait_for(predicate, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_start_reattach_stop(tmp_path, monkeypatch):
    jobs_dir, out = tmp_path / "jobs", tmp_path / "runs" / "a"
    job = jobs.start(jobs_dir, command(out, "--lr", "1"), out)
    try:
        assert jobs.status(jobs_dir).state == "running"
        wait_for(lambda: "training ['--lr', '1']" in (out / jobs.LOG_FILE).read_text())
        with pytest.raises(jobs.JobError, match="already going"):
            jobs.start(jobs_dir, command(out), out)
        # a reopened page or a restarted studio: only the record is left to go by
        monkeypatch.setattr(jobs, "_CHILDREN", {})
        again = jobs.status(jobs_dir)
        assert again.state == "running" and again.job.pid == job.pid and again.job.command == job.command
        assert jobs.job_of_run(out).pid == job.pid
        assert jobs.stop(jobs_dir).state == "stopping"
        done = jobs.wait(jobs_dir, timeout=20)
    finally:
        _kill(job)
    assert done.state == "stopped" and done.exit_code == 0, done
    assert json.loads((out / jobs.EXIT_FILE).read_text())["exit_code"] == 0  # the launcher returned its child's 0
    log = (out / jobs.LOG_FILE).read_text()
    assert "saved a checkpoint, exiting" in log and "exited with code 0" in log
    with pytest.raises(jobs.JobError, match="no training run is going"):
        jobs.stop(jobs_dir)


def test_resume_runs_the_same_command_from_the_latest_checkpoint(tmp_path, monkeypatch):
    jobs_dir, out = tmp_path / "jobs", tmp_path / "runs" / "a"
    with pytest.raises(jobs.JobError, match="was not started by the studio"):
        jobs.resume(jobs_dir, out)
    first = jobs.start(jobs_dir, command(out, "--lr", "1"), out)
    try:
        wait_for(lambda: "training [" in (out / jobs.LOG_FILE).read_text())
        jobs.stop(jobs_dir)
        jobs.wait(jobs_dir)
    finally:
        _kill(first)
    monkeypatch.setattr("amharic_tts.formats.latest_checkpoint", lambda d: str(out / "checkpoint-1"))
    resumed = jobs.resume(jobs_dir, out)
    try:
        assert resumed.resumed and resumed.pid != first.pid
        assert resumed.command == [*first.command, "--resume_from_checkpoint", "latest"]
        wait_for(lambda: "'--resume_from_checkpoint', 'latest'" in (out / jobs.LOG_FILE).read_text())
        assert jobs.status(jobs_dir).state == "running"
    finally:
        _kill(resumed)
    assert jobs.resume_command(["x", "--resume_from_checkpoint", "checkpoint-5", "--y", "1"]) == \
        ["x", "--y", "1", "--resume_from_checkpoint", "latest"]


def test_a_failing_run_and_a_vanished_one_are_told_apart(tmp_path):
    jobs_dir, out = tmp_path / "jobs", tmp_path / "runs" / "bad"
    jobs.start(jobs_dir, [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], out)
    failed = jobs.wait(jobs_dir)
    assert failed.state == "failed" and failed.exit_code == 3 and "exit code 3" in failed.message
    jobs.start(jobs_dir, [sys.executable, "-c", "print('never starts')"], tmp_path / "runs" / "x")  # a new job
    assert jobs.wait(jobs_dir).state == "finished"
    lost = jobs.start(jobs_dir, command(tmp_path / "runs" / "lost"), tmp_path / "runs" / "lost")
    try:
        wait_for(lambda: "training [" in (tmp_path / "runs" / "lost" / jobs.LOG_FILE).read_text())
    finally:
        os.killpg(lost.pid, signal.SIGKILL)  # killed from outside: supervisor and all
        jobs._CHILDREN[lost.pid].wait()
    assert jobs.status(jobs_dir).state == "lost"
    missing = jobs.start(jobs_dir, ["/no/such/program"], tmp_path / "runs" / "missing")
    assert jobs.wait(jobs_dir).exit_code == 127 and missing.log.read_text().count("cannot start /no/such/program")


def test_the_command_line_of_a_run():
    cmd = jobs.training_command("smoke.yaml", base_model="b", tokenizer="t", dataset="d",
                                output_dir="o", overrides={"max_steps": 5, "use_cpu": True})
    assert cmd == [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "-m",
                   "amharic_tts.train", "smoke.yaml", "--base_model", "b", "--tokenizer", "t", "--dataset", "d",
                   "--output_dir", "o", "--max_steps", "5", "--use_cpu", "true"]
    assert jobs.training_command("c.yaml", base_model="b", tokenizer="t", dataset="d", output_dir="o",
                                 launcher="python")[:4] == [sys.executable, "-m", "amharic_tts.train", "c.yaml"]


def _kill(job):
    try:
        os.killpg(job.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child = jobs._CHILDREN.pop(job.pid, None)
    if child is not None:
        child.wait()


def test_a_stop_right_after_the_start_still_reaches_the_run(tmp_path):
    jobs_dir, out = tmp_path / "jobs", tmp_path / "runs" / "quick"
    job = jobs.start(jobs_dir, command(out), out)
    try:
        jobs.stop(jobs_dir)  # the launcher or the trainer may not exist yet
        done = jobs.wait(jobs_dir, timeout=20)
    finally:
        _kill(job)
    assert done.state == "stopped", done


def test_a_second_stop_does_not_cut_the_checkpoint_short(tmp_path):
    slow_saver = TRAINER.replace('(out / "checkpoint-1").mkdir()', 'time.sleep(1.5); (out / "checkpoint-1").mkdir()')
    jobs_dir, out = tmp_path / "jobs", tmp_path / "runs" / "slow"
    job = jobs.start(jobs_dir, [sys.executable, "-c", LAUNCHER, slow_saver, str(out)], out)
    try:
        wait_for(lambda: "training [" in (out / jobs.LOG_FILE).read_text())
        jobs.stop(jobs_dir)
        with pytest.raises(jobs.JobError, match="already stopping"):
            jobs.stop(jobs_dir)
        assert jobs.wait(jobs_dir, timeout=20).state == "stopped"
    finally:
        _kill(job)
    assert (out / "checkpoint-1").is_dir()
