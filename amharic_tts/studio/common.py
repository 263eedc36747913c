"""What every tab shares: the work folder and its layout, lists of what is in it, and errors as readable messages.

The studio keeps everything it makes in one folder (``--workdir``)::

    uploads/      files given in the page (media, subtitles, LJSpeech zips, text)
    data/NAME/    prepared datasets (prepare_dataset)
    tokenizers/NAME/
    runs/NAME/    training runs (train_t3.py output folders, with train.log)
    exports/NAME/ exported model folders (what is pushed to the Hub)
    eval/NAME/    evaluation results
    synth/        synthesised speech
    cache/        segments decoded for listening
    jobs/         the record of the training job (so a reopened page finds it)

Nothing in this module imports Gradio: the tab functions are plain functions a test calls directly.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("amharic_tts.studio")

KINDS = ("uploads", "data", "tokenizers", "runs", "exports", "eval", "synth", "cache", "jobs")
MAX_MESSAGE = 1500


class StudioError(ValueError):
    """Something the user can fix (a missing choice, a bad value); shown in the page as it is."""


@dataclass
class Workspace:
    """The studio's work folder and the base model every step uses (feature extractors, tokenizer, T3)."""

    root: Path
    base_model: str = "ResembleAI/chatterbox"
    # the folders a path typed in the page may name: None is any folder of this machine (a page only this machine
    # reaches); a page reachable from others reads only the work folder and these (``--allow-path``)
    allowed_roots: tuple[Path, ...] | None = None

    def __post_init__(self):
        self.root = Path(self.root).expanduser().resolve()
        if self.allowed_roots is not None:
            self.allowed_roots = (self.root, *(Path(r).expanduser().resolve() for r in self.allowed_roots))
        for kind in KINDS:
            (self.root / kind).mkdir(parents=True, exist_ok=True)

    def dir(self, kind: str) -> Path:
        if kind not in KINDS:
            raise KeyError(kind)
        return self.root / kind

    def new_dir(self, kind: str, name: str | None, default: str) -> Path:
        """``kind/NAME`` for a name typed in the page (cleaned; an empty name becomes ``default``)."""
        return self.dir(kind) / safe_name(name, default)

    def server_path(self, value: str | Path, what: str) -> Path:
        """A path typed in the page, refused (:class:`StudioError`) when it lies outside :attr:`allowed_roots`."""
        path = Path(value).expanduser()
        if self.allowed_roots is not None:
            real = path.resolve()
            if not any(real == root or root in real.parents for root in self.allowed_roots):
                raise StudioError(f"{what.capitalize()} {path} is outside the folders this studio may read: it is "
                                  f"reachable from other machines, so it reads only {self.allowed_text()}.")
        return path

    def hub_or_server_path(self, value: str, what: str) -> str:
        """A Hub id or a path typed in the page: a path that exists here is checked like :meth:`server_path`."""
        if value and Path(value).expanduser().exists():
            self.server_path(value, what)
        return value

    def allowed_text(self) -> str:
        """The folders typed paths may name, in words."""
        if self.allowed_roots is None:
            return "any folder of this machine"
        return "the work folder " + str(self.root) + "".join(f", {r}" for r in self.allowed_roots[1:])

    def label(self, path: str | Path) -> str:
        """A path as shown in the page: relative to the work folder when inside it."""
        path = Path(path)
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    # ------------------------------------------------------------------------------------------- listings

    def datasets(self) -> list[Path]:
        """Prepared datasets (newest first)."""
        return _newest_first(p for p in self.dir("data").iterdir() if (p / "dataset_dict.json").is_file())

    def tokenizers(self) -> list[Path]:
        return _newest_first(p for p in self.dir("tokenizers").iterdir()
                             if (p / "tokenizer.json").is_file() and (p / "tokenizer_config.json").is_file())

    def runs(self) -> list[Path]:
        """Training run folders: started by the studio or holding a run's configuration."""
        return _newest_first(p for p in self.dir("runs").iterdir() if p.is_dir())

    def checkpoints(self) -> list[Path]:
        """Every loadable model of every run: the finished run folder and its ``checkpoint-N`` folders."""
        from amharic_tts.formats import CONFIG_FILE, WEIGHTS_FILE

        found: list[Path] = []
        for run in self.runs():
            if not (run / CONFIG_FILE).is_file():
                continue
            if (run / WEIGHTS_FILE).is_file():
                found.append(run)
            steps = [p for p in run.glob("checkpoint-*") if (p / WEIGHTS_FILE).is_file()]
            found.extend(sorted(steps, key=_step_of, reverse=True))
        return found

    def exports(self) -> list[Path]:
        from amharic_tts.formats import MODEL_CONFIG_FILE

        return _newest_first(p for p in self.dir("exports").iterdir() if (p / MODEL_CONFIG_FILE).is_file())

    def models(self) -> list[Path]:
        """What can speak: exported folders first, then runs and checkpoints."""
        return self.exports() + self.checkpoints()

    def evaluations(self) -> list[Path]:
        return _newest_first(p for p in self.dir("eval").glob("*/results.json"))

    def choices(self, paths) -> list[tuple[str, str]]:
        """``(label, absolute path)`` pairs for a dropdown."""
        return [(self.label(p), str(p)) for p in paths]


def _newest_first(paths) -> list[Path]:
    return sorted(paths, key=lambda p: p.stat().st_mtime, reverse=True)


def _step_of(path: Path) -> int:
    match = re.search(r"(\d+)$", path.name)
    return int(match.group(1)) if match else -1


def safe_name(name: str | None, default: str) -> str:
    """A folder name from what was typed: letters, digits, ``-``, ``_`` and ``.`` (no path separators)."""
    cleaned = re.sub(r"[^\w.-]+", "-", (name or "").strip(), flags=re.UNICODE).strip(".-")
    return cleaned or default


def timestamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def require(value, message: str):
    """``value`` if it is set, else a :class:`StudioError` with ``message``."""
    if value is None or (isinstance(value, (str, list, tuple)) and not value):
        raise StudioError(message)
    return value


def read_json(path: str | Path, missing: str) -> dict:
    """A JSON file the package wrote (a report, results); :class:`StudioError` with ``missing`` when absent."""
    import json

    path = Path(path)
    if not path.is_file():
        raise StudioError(missing)
    return json.loads(path.read_text(encoding="utf-8"))


def existing_path(value: str | None, what: str, ws: Workspace | None = None) -> Path:
    """The path chosen or typed in the page; with ``ws``, only inside the folders it may read."""
    path = Path(require(value, f"Choose {what} first."))
    if ws is not None:
        path = ws.server_path(path, what)
    if not path.exists():
        raise StudioError(f"{what.capitalize()} {path} does not exist (any more).")
    return path


def refreshed(choices: list[tuple[str, str]], current, *, typed: bool = False, optional: bool = False,
              multiselect: bool = False):
    """A dropdown's ``gr.update`` with fresh choices: the current value is kept while it is still there (with
    ``typed``, also a typed Hub id, which is no local path); else the newest choice, or none if ``optional``."""
    import gradio as gr

    values = [v for _, v in choices]
    if multiselect:
        return gr.update(choices=choices, value=[v for v in current or [] if v in values] or values[:1])
    if current and (current in values or (typed and not Path(current).exists())):
        return gr.update(choices=choices, value=current)
    return gr.update(choices=choices, value=None if optional or not values else values[0])


# ----------------------------------------------------------------------------------------------- cancelling


class Cancelled(StudioError):
    """The user pressed Cancel; the action stopped at its next progress step and cleaned up."""


class CancelSwitch:
    """A Cancel button's switch: the button sets it, the running action checks it at each progress step."""

    def __init__(self):
        self._event = threading.Event()

    def reset(self) -> None:
        self._event.clear()

    def set(self) -> None:
        self._event.set()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self, what: str = "the action") -> None:
        if self._event.is_set():
            raise Cancelled(f"Cancelled: {what} stopped; nothing was kept of it.")

    def watch(self, progress, what: str = "the action"):
        """Make every progress report of a ``gr.Progress(track_tqdm=True)`` (each tqdm step of the package's
        loops) check the switch first, so Cancel stops the work itself, not only the page's waiting. Relies on
        Gradio 6 routing every report through ``Progress._progress_callback``; without it nothing changes."""
        original = getattr(progress, "_progress_callback", None)
        if callable(original):
            def checked():
                self.check(what)
                return original()

            progress._progress_callback = checked
        return progress


# ----------------------------------------------------------------------------------------------- errors


def user_message(err: BaseException) -> str:
    """One readable message for an exception: the package's own errors as they are, others with their type."""
    from amharic_tts.cli import expected_errors

    known = expected_errors() + (StudioError, RuntimeError)
    text = str(err).strip() or type(err).__name__
    try:
        from huggingface_hub.errors import HfHubHTTPError

        known = known + (HfHubHTTPError,)
    except ImportError:  # pragma: no cover
        pass
    if not isinstance(err, known) or isinstance(err, (NotImplementedError, RecursionError)):
        text = f"{type(err).__name__}: {text}"
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 1] + "…"
    return text


def ui(fn):
    """Wrap a Gradio event function: any exception becomes a ``gr.Error`` with a readable message (the stack
    trace goes to the server log only), so the page never shows a traceback and keeps its earlier results."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import gradio as gr

        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as err:  # everything reaches the user as a message
            if not isinstance(err, StudioError):
                logger.warning("%s failed", getattr(fn, "__name__", "action"), exc_info=True)
            raise gr.Error(html.escape(user_message(err)), print_exception=False) from None

    return wrapper


def warn(messages) -> None:
    """Show each message as a ``gr.Warning`` (called from event functions only)."""
    import gradio as gr

    for message in [messages] if isinstance(messages, str) else messages:
        gr.Warning(html.escape(message))
