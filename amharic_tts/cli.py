"""What every command-line entry point shares: errors as one readable line, tracebacks only with ``--debug``."""

from __future__ import annotations

import logging
import sys
from typing import Callable


class UserError(Exception):
    """An error caused by the user's input or environment; printed without a traceback."""


def expected_errors() -> tuple[type[BaseException], ...]:
    from amharic_tts.model.base import BaseModelError

    # ValueError covers the package's input errors (TokenizerBuildError, bad batches, bad settings)
    return (UserError, BaseModelError, FileNotFoundError, NotADirectoryError, PermissionError, ValueError)


def run_cli(fn: Callable[[], int | None], *, debug: bool = False) -> int:
    """Run ``fn``; turn the errors users cause into ``error: ...`` on stderr and exit status 2."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(fn() or 0)
    except expected_errors() as err:
        if debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


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
