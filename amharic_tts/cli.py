"""What every command-line entry point shares: errors as one readable line, tracebacks only with ``--debug``,
and the check of an output path before any work is done."""

from __future__ import annotations

import errno
import logging
import os
import sys
from pathlib import Path
from typing import Callable, Iterable

# exit statuses: 2 for what the user can fix in the command (input, settings, output path), 1 for a full disk
# in the middle of the work
EXIT_USER_ERROR = 2
EXIT_DISK_FULL = 1


class UserError(Exception):
    """An error caused by the user's input or environment; printed without a traceback."""


class DiskFullError(OSError):
    """The disk filled up while writing (``errno.ENOSPC``); the message says what was being written."""

    def __init__(self, message: str):
        super().__init__(errno.ENOSPC, message)

    def __str__(self) -> str:
        return self.strerror


def expected_errors() -> tuple[type[BaseException], ...]:
    from amharic_tts.model.base import BaseModelError
    from amharic_tts.outputs import OutputLockedError

    # ValueError covers the package's input errors (TokenizerBuildError, bad batches, bad settings)
    return (UserError, BaseModelError, FileNotFoundError, NotADirectoryError, FileExistsError, IsADirectoryError,
            PermissionError, ValueError, OutputLockedError)


_DISK_FULL_WORDS = ("No space left on device", "Disk quota exceeded", "StorageFull", "os error 28")


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` (or an error it was raised from) is a full disk or quota: an ``OSError`` with ENOSPC or
    EDQUOT, or an error of another library whose message carries one (safetensors: ``StorageFull``)."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(word in str(err) for word in _DISK_FULL_WORDS):
            return True
        err = err.__cause__ or err.__context__
    return False


def error_message(err: BaseException) -> str:
    """One line for an error: an operating-system error as ``what happened: path`` (no ``[Errno n]``)."""
    if isinstance(err, OSError) and not isinstance(err, DiskFullError) and err.strerror and err.filename:
        where = f"{err.filename} -> {err.filename2}" if err.filename2 else str(err.filename)
        return f"{err.strerror}: {where}"
    return " ".join(str(err).split()) or type(err).__name__


def run_cli(fn: Callable[[], int | None], *, debug: bool = False) -> int:
    """Run ``fn``; turn the errors users cause into one line ``error: ...`` on stderr and exit status 2, and a
    full disk into one line and exit status 1."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(fn() or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if debug:
            raise
        _close_progress_bars()
        if is_disk_full(err):
            message = error_message(err) if isinstance(err, DiskFullError) else \
                f"the disk is full ({error_message(err)}): free some space and run again"
            print(f"error: {message}", file=sys.stderr)
            return EXIT_DISK_FULL
        if isinstance(err, expected_errors()):
            print(f"error: {error_message(err)}", file=sys.stderr)
            return EXIT_USER_ERROR
        raise


def _close_progress_bars() -> None:
    """End the progress bars an error interrupted, so the error starts a line of its own."""
    tqdm = sys.modules.get("tqdm.std")
    if tqdm is not None:
        for bar in list(getattr(tqdm.tqdm, "_instances", ())):
            try:
                bar.close()
            except Exception:  # a bar of a broken stream: the message matters more
                pass


def check_output_path(path: str | os.PathLike, *, kind: str = "dir", suffixes: Iterable[str] = (),
                      name: str = "--output") -> Path:
    """Refuse, before any work, an output that cannot be written: ``kind="dir"`` (a folder, made if missing) that
    is an existing file, ``kind="file"`` that is an existing folder or lacks one of ``suffixes`` (``.wav``), a path
    under a file, or a folder that cannot be written to. Raises :class:`UserError` naming ``name`` (the flag or
    setting), else returns the path."""
    path = Path(path)
    shown = f"{name} {path}"
    if kind not in ("dir", "file"):
        raise ValueError(f"kind must be 'dir' or 'file', not {kind!r}")
    suffixes = tuple(s.lower() for s in suffixes)
    if kind == "file" and suffixes and path.suffix.lower() not in suffixes:
        listed = f"{', '.join(suffixes[:-1])} or {suffixes[-1]}" if len(suffixes) > 1 else suffixes[0]
        raise UserError(f"{shown} must end in {listed}")
    if path.is_dir() and kind == "file":
        raise UserError(f"{shown} is a folder: give a file name")
    if path.exists() and not path.is_dir() and kind == "dir":
        raise UserError(f"{shown} is a file: give a folder (it is created if missing)")
    folder = path if kind == "dir" else path.parent
    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:  # the nearest folder that exists
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{shown} cannot be created: {existing} is a file, not a folder")
    target = path if path.exists() else existing
    if not os.access(target, os.W_OK | (os.X_OK if target.is_dir() else 0)):
        raise UserError(f"{shown} cannot be written: no permission to write in {target}")
    return path


def load_yaml(path) -> dict:
    """A YAML mapping from ``path``, with a clear error for a missing file or another top-level type."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError as err:
        raise UserError(f"config file {path} does not exist") from err
    except yaml.YAMLError as err:
        raise UserError(f"config file {path} is not valid YAML: {err}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"config file {path} must hold a mapping of settings, not {type(data).__name__}")
    return data
