"""Output folders that nothing can leave half-written or mixed: one run at a time, complete or not at all.

- :func:`output_lock` holds a lock on an output folder for a whole run (prepare, train, export). The lock file
  sits beside the folder (``.NAME.lock``), so it survives the folder being swapped; a second run stops at once
  with :class:`OutputLockedError` naming the process that holds it. The lock is an OS file lock
  (:mod:`filelock`), so a process that dies, even by ``kill -9``, releases it and the next run takes it over.
- :func:`replace_folder` swaps a completely written staging folder in for the output folder: an interrupt, a
  full disk or a crash before the swap leaves the old folder as it was, and one during the swap (two renames) is
  undone by :func:`recover_folder` when the next run starts.
- :func:`refuse_output_among_inputs` refuses an output that is, contains or lies inside an input folder;
  :func:`refuse_foreign_output` one that holds something other than what the command writes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from amharic_tts.cli import UserError


class OutputLockedError(UserError, RuntimeError):
    """Another run holds the output folder; the message names it."""


class ForeignOutputError(UserError, ValueError):
    """The output is a file, or a folder holding something other than this command's output: replacing it would
    delete what is there."""


def _beside(folder: Path, what: str) -> Path:
    folder = Path(os.path.abspath(folder))
    return folder.parent / f".{folder.name}.{what}"


def lock_file(folder: str | os.PathLike) -> Path:
    return _beside(Path(folder), "lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def output_lock(folder: str | os.PathLike, *, what: str = "run") -> Iterator[Path]:
    """Hold the lock on ``folder`` (see the module docstring) while the body runs."""
    from filelock import FileLock, Timeout

    folder = Path(os.path.abspath(folder))
    folder.parent.mkdir(parents=True, exist_ok=True)
    path = lock_file(folder)
    owner = path.with_name(path.name + ".owner")
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        info = {}
        for _ in range(20):  # the holder writes its name right after taking the lock
            try:
                info = json.loads(owner.read_text(encoding="utf-8"))
                break
            except (OSError, ValueError):
                time.sleep(0.05)
        holder = (f"process {info.get('pid')} on {info.get('host')} ({info.get('what')}, since "
                  f"{info.get('started')}: {info.get('command')})" if info else "another process")
        raise OutputLockedError(f"{folder} is in use by {holder}; wait for it to finish or use another output "
                                "folder") from None
    try:
        previous = {}
        try:
            previous = json.loads(owner.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        if previous.get("pid") and previous.get("host") == socket.gethostname() and not _alive(previous["pid"]):
            print(f"taking over {folder} from process {previous['pid']}, which ended without releasing it",
                  file=sys.stderr)
        owner.write_text(json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(), "what": what,
            "started": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(sys.argv)[:300],
        }), encoding="utf-8")
        recover_folder(folder)
        yield folder
    finally:
        owner.unlink(missing_ok=True)
        lock.release()


def staging_folder(folder: str | os.PathLike) -> Path:
    """An empty folder beside ``folder`` to write its next version into (on the same file system, so the swap is
    a rename)."""
    staging = _beside(Path(folder), f"new-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def recover_folder(folder: str | os.PathLike) -> None:
    """Finish or undo a swap that was interrupted, and remove staging folders of runs that ended. Call it while
    holding the folder's lock."""
    folder = Path(os.path.abspath(folder))
    backup = _beside(folder, "old")
    if backup.exists():
        if folder.exists():  # the new version was in place: only the old one's removal was cut short
            shutil.rmtree(backup, ignore_errors=True)
        else:  # cut between the two renames: the old version goes back
            backup.rename(folder)
    for stale in folder.parent.glob(f".{folder.name}.new-*"):
        shutil.rmtree(stale, ignore_errors=True)


def replace_folder(staging: str | os.PathLike, folder: str | os.PathLike) -> None:
    """Put the complete ``staging`` folder in the place of ``folder`` (which may not exist yet)."""
    folder = Path(os.path.abspath(folder))
    backup = _beside(folder, "old")
    shutil.rmtree(backup, ignore_errors=True)
    if folder.exists():
        folder.rename(backup)
    Path(staging).rename(folder)
    shutil.rmtree(backup, ignore_errors=True)


def refuse_foreign_output(folder: str | os.PathLike, *, marker: str, holds: str) -> None:
    """Raise :class:`ForeignOutputError` when ``folder`` is a file, or a non-empty folder without ``marker`` (the
    file every output of the command has); ``holds`` names that output ("a prepared dataset")."""
    folder = Path(folder)
    if folder.is_file():
        raise ForeignOutputError(f"the output {folder} is a file; give a folder")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / marker).exists():
        raise ForeignOutputError(f"the output {folder} holds something other than {holds}; give a new or empty "
                                 f"folder ({holds} there is replaced when the new one is complete)")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def refuse_output_among_inputs(output: str | os.PathLike, *, folders: Iterable[str] = (),
                               files: Iterable[str] = ()) -> None:
    """Raise ``ValueError`` when ``output`` is an input folder, lies inside one or contains one, or contains an
    input file: writing it would replace what it reads."""
    out = Path(os.path.realpath(output))
    for folder in folders:
        if not folder or not Path(folder).is_dir():
            continue
        real = Path(os.path.realpath(folder))
        if _inside(out, real) or _inside(real, out):
            raise ValueError(f"the output {output} {'is' if out == real else 'overlaps'} the input folder {folder}; "
                             "write the dataset somewhere else")
    for file in files:
        if file and _inside(Path(os.path.realpath(file)), out):
            raise ValueError(f"the output {output} contains the input {file}; write the dataset somewhere else")
