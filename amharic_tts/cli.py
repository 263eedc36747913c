"""What every command-line entry point shares: a quiet console (the package's own steps at INFO, other libraries'
warnings only, unless ``--verbose``), errors as one readable line, tracebacks only with ``--debug``, and the check
of an output path before any work is done."""

from __future__ import annotations

import errno
import logging
import os
import sys
from pathlib import Path
from typing import Callable, Iterable

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
# the package's loggers, and that of the module run as ``python -m`` (``__main__``): INFO on the main process
OWN_LOGGERS = ("amharic_tts", "__main__")
# libraries that set up a logger of their own (a level, a handler, no propagation) when imported: configured
# through their own ``set_verbosity``
_LIBRARY_LOGGING = ("transformers", "datasets", "diffusers", "huggingface_hub")

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
    """The errors a command prints as one line. The package's own (a missing base model, a locked output
    folder) subclass :class:`UserError`; ValueError covers its input errors (TokenizerBuildError, bad batches,
    bad settings)."""
    return (UserError, FileNotFoundError, NotADirectoryError, FileExistsError, IsADirectoryError, PermissionError,
            ValueError)


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


def add_console_arguments(parser, *, debug_help: str = "show tracebacks (implies --verbose)") -> None:
    """The console switches every command has: ``--verbose`` (other libraries' INFO lines and loading bars too)
    and ``--debug``."""
    parser.add_argument("--verbose", action="store_true",
                        help="also show other libraries' INFO lines and loading bars (transformers, datasets ...)")
    parser.add_argument("--debug", action="store_true", help=debug_help)


def setup_logging(*, verbose: bool = False, debug: bool = False, main_process: bool = True,
                  library_level: int | None = None) -> None:
    """The console of a command, set up as the Hugging Face example scripts do.

    - The package's loggers (``amharic_tts.*``, and ``__main__`` of a ``python -m`` command) at INFO on the main
      process and at WARNING on the others (``main_process=training_args.process_index == 0``, or
      ``PartialState().is_main_process``), so a run of several processes reports its steps once.
    - Every other library at WARNING: ``transformers``, ``datasets``, ``diffusers`` and ``huggingface_hub`` through
      their own ``set_verbosity``, the rest (``accelerate``, upstream chatterbox's root-logger lines ...) by the
      root logger's level. ``library_level`` replaces WARNING (``training_args.get_process_log_level()``; a
      negative value, transformers' "passive", keeps WARNING).
    - transformers' progress bars (the per-tensor "Loading weights ... Materializing param" bar) off; the Hub's
      download bars stay as they were.

    ``verbose``: libraries at INFO (at least) and transformers' bars on; ``debug`` implies ``verbose`` and puts
    every logger at DEBUG. Lines go to stderr through one handler on the root logger, added only when it has none
    (a caller's handlers, pytest's, are kept). Calling it again replaces the settings."""
    import importlib

    verbose = verbose or debug
    if debug:
        own = libraries = logging.DEBUG
    else:
        own = logging.INFO if main_process else logging.WARNING
        libraries = logging.WARNING if library_level is None or library_level < 0 else int(library_level)
        if verbose:
            libraries = min(libraries, logging.INFO)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    root.setLevel(libraries)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(own)
    for name in _LIBRARY_LOGGING:
        # a library imported later sets itself to WARNING (or its *_VERBOSITY variable) then: it is imported here
        # only when another level is wanted, and transformers always (its bars are switched off through it)
        if name in sys.modules or name == "transformers" or libraries != logging.WARNING:
            try:
                module = importlib.import_module(f"{name}.utils.logging")
            except ImportError:  # an optional library that is not installed
                continue
            module.set_verbosity(libraries)
    _transformers_bars(verbose)


def _transformers_bars(enabled: bool) -> None:
    """transformers' progress bars on or off, the Hub's download bars as they were (transformers' switch sets
    both, so the Hub's is put back)."""
    try:
        import huggingface_hub.utils as hub_utils
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return
    hub_bars_off = hub_utils.are_progress_bars_disabled()
    if enabled:
        transformers_logging.enable_progress_bar()
    else:
        transformers_logging.disable_progress_bar()
    if hub_utils.are_progress_bars_disabled() != hub_bars_off:
        (hub_utils.disable_progress_bars if hub_bars_off else hub_utils.enable_progress_bars)()


def run_cli(fn: Callable[[], int | None], *, debug: bool = False, verbose: bool = False) -> int:
    """Run ``fn`` with the console set up (:func:`setup_logging`: ``--verbose`` shows other libraries' INFO and
    bars, ``--debug`` implies it); turn the errors users cause into one line ``error: ...`` on stderr and exit
    status 2, and a full disk into one line and exit status 1."""
    setup_logging(verbose=verbose, debug=debug)
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
