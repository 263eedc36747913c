"""Background training jobs that outlive the page (and the studio process).

A run is started as ``accelerate launch train_t3.py CONFIG --key value ...`` in a new session (its own process
group), under a small supervisor process (this module's ``__main__``) that waits for it and writes its exit code
to ``OUTPUT/studio_exit.json``. Output goes to ``OUTPUT/train.log``. A JSON record in ``WORKDIR/jobs/train.json``
(and the command in ``OUTPUT/studio_job.json``) lets a reopened page, or a restarted studio, find the run again:

- *running*: the supervisor process is alive (same pid and start time as recorded);
- *finished* / *stopped* / *failed*: its exit file says how it ended (``train_summary.json`` says whether it
  was stopped by a signal); *lost*: the supervisor vanished without writing one (killed from outside).

Stopping sends SIGTERM to the training processes (the leaves of the process tree; ``accelerate launch`` itself
would die on it at once and orphan its child): the trainer saves a checkpoint at the next step and exits 0,
accelerate returns that, and the supervisor records it. A second stop exits the trainer at once (the trainer's
own rule). Resuming starts the same command again with ``--resume_from_checkpoint latest``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

RECORD_FILE = "train.json"
JOB_FILE = "studio_job.json"
EXIT_FILE = "studio_exit.json"
LOG_FILE = "train.log"

_CHILDREN: dict[int, subprocess.Popen] = {}  # supervisors this process started (polled, so none stays a zombie)


class JobError(ValueError):
    """The job cannot be started, stopped or resumed as asked (the message says why)."""


@dataclass
class Job:
    output_dir: str
    command: list[str]
    pid: int = 0
    create_time: float = 0.0
    started: float = 0.0
    resumed: bool = False
    stop_requested: float | None = None
    env: dict = field(default_factory=dict)

    @property
    def log(self) -> Path:
        return Path(self.output_dir) / LOG_FILE


@dataclass
class JobStatus:
    state: str  # none | running | stopping | finished | stopped | failed | lost
    job: Job | None = None
    exit_code: int | None = None
    message: str = ""

    @property
    def active(self) -> bool:
        return self.state in ("running", "stopping")


def training_command(config: str | Path, *, base_model: str, tokenizer: str,
                     dataset: str, output_dir: str | Path, overrides: dict | None = None,
                     num_processes: int = 1, launcher: str = "accelerate") -> list[str]:
    """The command line of a run: ``accelerate launch -m amharic_tts.train CONFIG --key value`` (or plain
    ``python -m``): the installed package's command, so the studio needs no checkout."""
    from amharic_tts.training.args import config_to_argv

    flags = {"base_model": base_model, "tokenizer": tokenizer, "dataset": dataset, "output_dir": str(output_dir),
             **(overrides or {})}
    script = ["-m", "amharic_tts.train", str(config), *config_to_argv(flags)]
    if launcher == "python":
        return [sys.executable, *script]
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(int(num_processes))]
    if int(num_processes) > 1:
        launch.insert(3, "--multi_gpu")
    return [*launch, *script]


# ----------------------------------------------------------------------------------------------- records


def _record_path(jobs_dir: Path) -> Path:
    return Path(jobs_dir) / RECORD_FILE


def load_job(jobs_dir: str | Path) -> Job | None:
    path = _record_path(Path(jobs_dir))
    if not path.is_file():
        return None
    try:
        return Job(**json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError):
        return None


def _save_job(jobs_dir: Path, job: Job) -> None:
    jobs_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(asdict(job), indent=2) + "\n"
    tmp = _record_path(jobs_dir).with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, _record_path(jobs_dir))
    (Path(job.output_dir) / JOB_FILE).write_text(text, encoding="utf-8")


def _alive(job: Job) -> bool:
    import psutil

    child = _CHILDREN.get(job.pid)
    if child is not None and child.poll() is not None:  # reaped: it ended
        _CHILDREN.pop(job.pid, None)
        return False
    try:
        proc = psutil.Process(job.pid)
        if abs(proc.create_time() - job.create_time) > 1.0:  # the pid was reused by another process
            return False
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def status(jobs_dir: str | Path) -> JobStatus:
    """How the recorded job stands (see the module docstring)."""
    job = load_job(jobs_dir)
    if job is None:
        return JobStatus("none")
    if _alive(job):
        return JobStatus("stopping" if job.stop_requested else "running", job)
    exit_file = Path(job.output_dir) / EXIT_FILE
    if not exit_file.is_file():
        return JobStatus("lost", job, None, "the training process ended without recording how (it was killed "
                                            "from outside, or the machine restarted); see the log")
    code = json.loads(exit_file.read_text(encoding="utf-8")).get("exit_code")
    if code != 0 and job.stop_requested:  # stopped while starting up, before the trainer took the signal
        return JobStatus("stopped", job, code, "stopped before training began")
    if code != 0:
        return JobStatus("failed", job, code, f"training failed (exit code {code}); the end of the log says why")
    from amharic_tts.formats import SUMMARY_FILE

    summary = Path(job.output_dir) / SUMMARY_FILE
    stopped_by = json.loads(summary.read_text(encoding="utf-8")).get("stopped_by") if summary.is_file() else None
    if stopped_by == "signal" or job.stop_requested:
        return JobStatus("stopped", job, 0, "stopped; a checkpoint was saved, so it can be resumed")
    return JobStatus("finished", job, 0, "finished")


def start(jobs_dir: str | Path, command: list[str], output_dir: str | Path, *, resumed: bool = False,
          env: dict | None = None) -> Job:
    """Start ``command`` in the background (one job at a time); returns its record."""
    import psutil

    jobs_dir = Path(jobs_dir)
    current = status(jobs_dir)
    if current.active:
        raise JobError(f"a training run is already going ({current.job.output_dir}); stop it first")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / EXIT_FILE).unlink(missing_ok=True)
    extra = {"PYTHONUNBUFFERED": "1", **(env or {})}
    with open(output_dir / LOG_FILE, "ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {'resuming' if resumed else 'starting'}: "
                  f"{' '.join(command)}\n".encode())
        log.flush()
        proc = subprocess.Popen([sys.executable, "-m", "amharic_tts.studio.jobs", str(output_dir / EXIT_FILE),
                                 "--", *command], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, **extra})
    _CHILDREN[proc.pid] = proc
    try:
        created = psutil.Process(proc.pid).create_time()
    except psutil.Error:  # it already ended; the exit file tells why
        created = time.time()
    job = Job(str(output_dir), list(command), proc.pid, created, time.time(), resumed, None, extra)
    _save_job(jobs_dir, job)
    return job


def _training_processes(job: Job) -> list:
    """The processes to signal: the leaves of the supervisor's process tree (the trainers)."""
    import psutil

    try:
        root = psutil.Process(job.pid)
        below = root.children(recursive=True)
    except psutil.Error:
        return []
    pids = {p.pid for p in below}
    leaves = []
    for proc in below:
        try:
            if not any(c.pid in pids for c in proc.children()):
                leaves.append(proc)
        except psutil.Error:
            continue
    return leaves


def stop(jobs_dir: str | Path, *, now: bool = False) -> JobStatus:
    """Ask the running job to stop: SIGTERM to its training processes (a checkpoint, then exit 0).

    A job already stopping is left to finish its checkpoint unless ``now`` (a second signal: the trainer exits
    at once, without one)."""
    jobs_dir = Path(jobs_dir)
    current = status(jobs_dir)
    if not current.active:
        raise JobError("no training run is going")
    if current.state == "stopping" and not now:
        raise JobError("the run is already stopping: it saves a checkpoint at the end of the current step")
    job = current.job
    targets, deadline = _training_processes(job), time.time() + 5.0
    while not targets and time.time() < deadline and _alive(job):  # just started: no launcher yet
        time.sleep(0.1)
        targets = _training_processes(job)
    for proc in targets:
        try:
            proc.send_signal(signal.SIGTERM)
        except Exception:  # noqa: BLE001 - it ended meanwhile
            pass
    job.stop_requested = time.time()
    _save_job(jobs_dir, job)
    return status(jobs_dir)


def resume_command(command: list[str]) -> list[str]:
    """``command`` with ``--resume_from_checkpoint latest`` (replacing an earlier resume flag)."""
    out, skip = [], False
    for arg in command:
        if skip:
            skip = False
            continue
        if arg == "--resume_from_checkpoint":
            skip = True
            continue
        out.append(arg)
    return [*out, "--resume_from_checkpoint", "latest"]


def job_of_run(output_dir: str | Path) -> Job | None:
    """The record the studio wrote when it started the run in ``output_dir``."""
    path = Path(output_dir) / JOB_FILE
    if not path.is_file():
        return None
    return Job(**json.loads(path.read_text(encoding="utf-8")))


def resume(jobs_dir: str | Path, output_dir: str | Path) -> Job:
    """Start the run of ``output_dir`` again from its newest complete checkpoint."""
    from amharic_tts.formats import latest_checkpoint

    previous = job_of_run(output_dir)
    if previous is None:
        raise JobError(f"{output_dir} was not started by the studio: resume it with `accelerate launch -m "
                       "amharic_tts.train CONFIG --resume_from_checkpoint latest`")
    if latest_checkpoint(str(output_dir)) is None:
        raise JobError(f"{output_dir} has no complete checkpoint yet: start it again instead")
    return start(jobs_dir, resume_command(previous.command), output_dir, resumed=True, env=previous.env)


def wait(jobs_dir: str | Path, timeout: float = 60.0, poll: float = 0.2) -> JobStatus:
    """Wait until the job is no longer active (tests, scripts)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        current = status(jobs_dir)
        if not current.active:
            return current
        time.sleep(poll)
    raise TimeoutError(f"the training job is still going after {timeout:.0f} s")


# ----------------------------------------------------------------------------------------------- supervisor


def supervise(exit_file: str, command: list[str]) -> int:
    """Run ``command``, wait for it and write its exit code to ``exit_file``. SIGTERM/SIGINT reaching the
    supervisor are ignored (the trainer gets its own and decides); the child starts with default handlers."""
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    started = time.time()
    try:
        code = subprocess.call(command)
    except OSError as err:
        print(f"error: cannot start {command[0]}: {err}", flush=True)
        code = 127
    tmp = Path(exit_file).with_suffix(".tmp")
    tmp.write_text(json.dumps({"exit_code": code, "started": started, "ended": time.time()}) + "\n",
                   encoding="utf-8")
    os.replace(tmp, exit_file)
    print(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} exited with code {code}", flush=True)
    return code


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) < 3 or args[1] != "--":
        print("usage: python -m amharic_tts.studio.jobs EXIT_FILE -- COMMAND ...", file=sys.stderr)
        sys.exit(2)
    sys.exit(supervise(args[0], args[2:]))
