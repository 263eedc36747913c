"""Load the pretrained Chatterbox multilingual parts: one loader for the Hub and for local directories.

A *base* is a Hub repo id (default ``ResembleAI/chatterbox``) or a local directory laid out like it::

    t3_mtl23ls_v3.safetensors      T3 weights (default; upstream's recommended multilingual checkpoint)
    t3_mtl23ls_v2.safetensors      T3 weights (the one chatterbox-tts 0.1.7 loads by itself)
    t3_config.json                 optional: T3Config overrides and a Llama config (the tiny test base has one;
                                   the real repo has none and means ``T3Config.multilingual()``)
    grapheme_mtl_merged_expanded_v1.json   text tokenizer (2454 ids)
    ve.pt, s3gen.pt, conds.pt      voice encoder, S3Gen, default voice (loaded only where a step needs them)

Hub repos are fetched with ``huggingface_hub.snapshot_download`` (honours ``HF_HUB_OFFLINE``, ``HF_TOKEN`` / the
login cache and a revision) into a local snapshot directory; from there on the code path is the same as for a
local directory, so the tiny random-weight base that tests use goes through exactly what users run.

Weights are read with safetensors or ``torch.load(weights_only=True)``: nothing is ever unpickled.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import torch

from amharic_tts.cli import UserError, add_console_arguments

logger = logging.getLogger(__name__)

# upstream's imports warn about their own dependencies, at every start: nothing for a user to act on.
# S3Gen (built here) uses diffusers' deprecated LoRACompatibleLinear; the watermarker (resemble-perth) imports
# pkg_resources, which setuptools deprecates (a UserWarning since setuptools 80.9)
warnings.filterwarnings("ignore", message=r"`LoRACompatibleLinear` is deprecated", category=FutureWarning,
                        module=r"diffusers\.models\.lora")
warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated as an API", category=UserWarning,
                        module=r"perth\.perth_net")

DEFAULT_BASE = "ResembleAI/chatterbox"
T3_CHECKPOINTS = {"v3": "t3_mtl23ls_v3.safetensors", "v2": "t3_mtl23ls_v2.safetensors"}
DEFAULT_T3_CHECKPOINT = "v3"
T3_CONFIG_FILE = "t3_config.json"
TOKENIZER_FILE = "grapheme_mtl_merged_expanded_v1.json"
VOICE_ENCODER_FILE = "ve.pt"
S3GEN_FILE = "s3gen.pt"
CONDS_FILE = "conds.pt"


class BaseModelError(UserError, RuntimeError):
    """The base model cannot be found or does not match what we expect; the message says what to do."""


def t3_checkpoint_filename(checkpoint: str) -> str:
    """``v2``/``v3`` -> the published file name; anything else is taken as a file name or path as given."""
    return T3_CHECKPOINTS.get(checkpoint, checkpoint)


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep != "/" and os.sep in name


def resolve_base_dir(
    name_or_path: str | os.PathLike = DEFAULT_BASE,
    filenames: Iterable[str] = (),
    *,
    optional: Iterable[str] = (),
    revision: str | None = None,
    token: str | bool | None = None,
    kind: str = "Base model",
    layout: str = "a directory laid out like ResembleAI/chatterbox",
) -> Path:
    """Return a local directory holding ``filenames`` (and ``optional`` ones where the base has them).

    A local directory is used as it is. Anything else is a Hub repo id: only the named files are downloaded
    (or taken from the cache), so loading T3 never pulls the 1 GB S3Gen along. ``kind`` and ``layout`` name
    what is being loaded in error messages (the same resolver reads exported Amharic models).
    """
    filenames, optional = list(filenames), list(optional)
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        base_dir = path
    elif path.exists() or _looks_like_path(str(name_or_path)):
        raise BaseModelError(f"{kind} directory {str(name_or_path)!r} does not exist or is not a directory.")
    else:
        base_dir = _download(str(name_or_path), filenames + optional, revision=revision, token=token)
    missing = [f for f in filenames if not (base_dir / f).is_file()]
    if missing:
        present = sorted(p.name for p in base_dir.iterdir()) if base_dir.is_dir() else []
        raise BaseModelError(
            f"{kind} {str(name_or_path)!r} has no {', '.join(missing)} (it has: {', '.join(present) or 'nothing'}). "
            f"Pass {layout}, or a repo id that holds these files."
        )
    return base_dir


def _download(repo_id: str, filenames: list[str], *, revision: str | None, token: str | bool | None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError

    try:
        return Path(
            snapshot_download(repo_id=repo_id, revision=revision, allow_patterns=filenames, token=token)
        )
    except HFValidationError as err:
        raise BaseModelError(f"{repo_id!r} is neither a local directory nor a valid Hub repo id ({err}).") from err
    except Exception as err:  # network, auth, offline mode: all end here with one clear message
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
        hint = (
            "HF_HUB_OFFLINE is set, so only files already in the Hugging Face cache can be used."
            if offline
            else "Check the repo id, your network and your token (HF_TOKEN or `hf auth login`)."
        )
        raise BaseModelError(
            f"Could not get {', '.join(filenames)} from the Hub repo {repo_id!r}"
            f"{f' at revision {revision!r}' if revision else ''}: {type(err).__name__}: {err}. {hint} "
            "A local directory with the same file names works too "
            "(`python -m amharic_tts.testing.tiny_base DIR` writes a small random-weight one for trying things out)."
        ) from err


# --------------------------------------------------------------------------------------------- T3 config


def register_llama_config(name: str, config: dict) -> None:
    """Add a backbone config to upstream's ``LLAMA_CONFIGS`` registry (which ``T3`` and ``T3Config`` read).

    Upstream's own entries are never replaced: registering a different config under an existing name fails.
    """
    from chatterbox.models.t3.llama_configs import LLAMA_CONFIGS

    known = LLAMA_CONFIGS.get(name)
    if known is not None and _llama_config(known) != _llama_config(config):
        raise BaseModelError(f"A different Llama config is already registered as {name!r}; pick another name.")
    LLAMA_CONFIGS[name] = copy.deepcopy(config)


def _llama_config(config: dict) -> dict:
    # transformers fills defaults into the dict it is given (rope_theta into rope_scaling): compare canonical forms.
    from transformers import LlamaConfig

    return LlamaConfig(**copy.deepcopy(config)).to_dict()


def t3_config_from_dict(data: dict):
    """Build a ``T3Config``: the multilingual defaults, overridden by ``data`` (a ``t3_config.json``).

    ``data`` may carry ``llama_config`` (a dict), registered under ``data["llama_config_name"]``.
    """
    from chatterbox.models.t3.modules.t3_config import T3Config

    data = dict(data)
    llama = data.pop("llama_config", None)
    config = T3Config.multilingual()
    unknown = sorted(k for k in data if k not in vars(config))
    if unknown:
        raise BaseModelError(f"Unknown T3Config fields in {T3_CONFIG_FILE}: {', '.join(unknown)}.")
    for key, value in data.items():
        setattr(config, key, value)
    if llama is not None:
        register_llama_config(config.llama_config_name, llama)
    return config


def t3_config_to_dict(config, *, with_llama_config: bool = False) -> dict:
    """The inverse of :func:`t3_config_from_dict` (plain attributes only, JSON-serialisable)."""
    data = dict(vars(config))
    if with_llama_config:
        from chatterbox.models.t3.llama_configs import LLAMA_CONFIGS

        data["llama_config"] = dict(LLAMA_CONFIGS[config.llama_config_name])
    return data


def load_t3_config(base_dir: Path):
    path = Path(base_dir) / T3_CONFIG_FILE
    if not path.is_file():
        from chatterbox.models.t3.modules.t3_config import T3Config

        return T3Config.multilingual()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BaseModelError(f"{path} is not valid JSON: {err}") from err
    return t3_config_from_dict(data)


# --------------------------------------------------------------------------------------------- loaders


def _t3_file(base_dir: Path, checkpoint: str) -> Path:
    path = Path(checkpoint).expanduser()
    return path if path.is_file() else Path(base_dir) / t3_checkpoint_filename(checkpoint)


def load_t3_state_dict(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise BaseModelError(f"T3 weights must be a .safetensors file, got {path}.")
    if not path.is_file():
        raise BaseModelError(f"T3 weights file {path} does not exist.")
    return load_file(str(path))


def build_t3(config):
    """An upstream ``T3`` with random weights for ``config`` (a ``T3Config``)."""
    from chatterbox.models.t3 import T3

    return T3(config)


def load_t3_weights(t3, state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """``load_state_dict(strict=True)`` with an error message that names the mismatch."""
    own = t3.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(state)) if state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensors (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensors (e.g. {', '.join(unexpected[:3])})")
        if shapes:
            parts.append("shape mismatches: " + "; ".join(shapes[:3]))
        raise BaseModelError(
            f"The T3 weights in {source} do not fit the T3 config: " + ", ".join(parts) + ". "
            "Is this a T3 checkpoint of the multilingual Chatterbox (or one written by this project)?"
        )
    t3.load_state_dict(state, strict=True)


def load_t3(
    name_or_path: str | os.PathLike = DEFAULT_BASE,
    *,
    checkpoint: str = DEFAULT_T3_CHECKPOINT,
    revision: str | None = None,
    token: str | bool | None = None,
    device: str | torch.device = "cpu",
):
    """Load upstream's ``T3`` with the published multilingual weights (``checkpoint``: ``v3``, ``v2`` or a file).

    chatterbox-tts 0.1.7 only loads v2 by itself; this loader reads either into upstream's class.
    """
    ckpt_path = Path(checkpoint).expanduser()
    files = [] if ckpt_path.is_file() else [t3_checkpoint_filename(checkpoint)]
    base_dir = resolve_base_dir(name_or_path, files, optional=[T3_CONFIG_FILE], revision=revision, token=token)
    config = load_t3_config(base_dir)
    path = _t3_file(base_dir, checkpoint)
    t3 = build_t3(config)
    load_t3_weights(t3, load_t3_state_dict(path), source=str(path))
    logger.info("Loaded T3 from %s (%d text tokens)", path, config.text_tokens_dict_size)
    return t3.to(device).eval()


def load_text_tokenizer(
    name_or_path: str | os.PathLike = DEFAULT_BASE,
    *,
    revision: str | None = None,
    token: str | bool | None = None,
):
    """Upstream's multilingual grapheme tokenizer as a ``tokenizers.Tokenizer`` (2454 ids)."""
    from tokenizers import Tokenizer

    base_dir = resolve_base_dir(name_or_path, [TOKENIZER_FILE], revision=revision, token=token)
    path = base_dir / TOKENIZER_FILE
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as err:
        raise BaseModelError(f"{path} is not a `tokenizers` JSON file: {err}") from err
    vocab = tokenizer.get_vocab()
    for special in ("[START]", "[STOP]", "[UNK]", "[SPACE]"):
        if special not in vocab:
            raise BaseModelError(f"{path} has no {special} token; it is not a Chatterbox text tokenizer.")
    return tokenizer


def _torch_weights(path: Path, *, mmap: bool = False) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as err:
        raise BaseModelError(f"Could not read {path} as plain tensors (weights_only=True): {err}") from err


def load_voice_encoder(name_or_path=DEFAULT_BASE, *, revision=None, token=None, device="cpu"):
    """Upstream's ``VoiceEncoder`` (speaker embeddings for T3 conditioning) with the base's ``ve.pt``."""
    from chatterbox.models.voice_encoder import VoiceEncoder

    base_dir = resolve_base_dir(name_or_path, [VOICE_ENCODER_FILE], revision=revision, token=token)
    ve = VoiceEncoder()
    ve.load_state_dict(_torch_weights(base_dir / VOICE_ENCODER_FILE))
    return ve.to(device).eval()


def load_s3gen(name_or_path=DEFAULT_BASE, *, revision=None, token=None, device="cpu"):
    """Upstream's ``S3Gen`` (S3 speech tokenizer, speech tokens -> 24 kHz waveform) with the base's ``s3gen.pt``."""
    from chatterbox.models.s3gen import S3Gen

    base_dir = resolve_base_dir(name_or_path, [S3GEN_FILE], revision=revision, token=token)
    s3gen = S3Gen()
    s3gen.load_state_dict(_torch_weights(base_dir / S3GEN_FILE))
    return s3gen.to(device).eval()


def load_default_voice(name_or_path=DEFAULT_BASE, *, revision=None, token=None, device="cpu"):
    """The base's default voice (``conds.pt``) as upstream ``Conditionals``."""
    from amharic_tts.model.voice import load_conditionals

    base_dir = resolve_base_dir(name_or_path, [CONDS_FILE], revision=revision, token=token)
    return load_conditionals(base_dir / CONDS_FILE, device=device)


def load_s3_tokenizer(name_or_path=DEFAULT_BASE, *, revision=None, token=None, device="cpu"):
    """Upstream's ``S3Tokenizer`` (speech -> 25 Hz speech tokens) with the ``tokenizer.*`` weights of ``s3gen.pt``.

    Only those tensors are read (the file is memory-mapped), so feature extraction never builds the whole S3Gen.
    """
    from chatterbox.models.s3tokenizer import S3Tokenizer

    base_dir = resolve_base_dir(name_or_path, [S3GEN_FILE], revision=revision, token=token)
    path = base_dir / S3GEN_FILE
    state = _torch_weights(path, mmap=True)
    prefix = "tokenizer."
    weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not weights:
        raise BaseModelError(f"{path} holds no S3 tokenizer weights (no 'tokenizer.*' tensors).")
    tokenizer = S3Tokenizer()
    missing, unexpected = tokenizer.load_state_dict(weights, strict=False)
    missing = [k for k in missing if k not in S3Tokenizer.ignore_state_dict_missing]
    if missing or unexpected:
        raise BaseModelError(f"The S3 tokenizer weights in {path} do not fit upstream's S3Tokenizer: "
                             f"missing {missing[:3]}, unexpected {unexpected[:3]}.")
    return tokenizer.to(device).eval()


def base_signature(name_or_path=DEFAULT_BASE, filenames: Iterable[str] = (), *, revision=None) -> str:
    """A short string that changes when the named files of the base change (for cache fingerprints)."""
    import hashlib

    base_dir = resolve_base_dir(name_or_path, list(filenames), revision=revision)
    parts = [str(base_dir.resolve())]
    for name in filenames:
        stat = (base_dir / name).stat()
        parts.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------- summary CLI


@dataclass
class BaseSummary:
    """What a user checking a downloaded base wants to see."""

    directory: str
    checkpoint: str
    t3_parameters: int
    text_tokens: int
    speech_tokens: int
    hidden_size: int
    layers: int
    tokenizer_size: int
    language_tokens: list[str] = field(default_factory=list)
    other_files: list[str] = field(default_factory=list)


def summarize_base(name_or_path=DEFAULT_BASE, *, checkpoint=DEFAULT_T3_CHECKPOINT, revision=None) -> BaseSummary:
    ckpt = Path(checkpoint).expanduser()
    required = [TOKENIZER_FILE] + ([] if ckpt.is_file() else [t3_checkpoint_filename(checkpoint)])
    optional = [T3_CONFIG_FILE, VOICE_ENCODER_FILE, CONDS_FILE]  # s3gen.pt (1 GB) is not fetched just to list it
    base_dir = resolve_base_dir(name_or_path, required, optional=optional, revision=revision)
    t3 = load_t3(base_dir, checkpoint=checkpoint)
    tokenizer = load_text_tokenizer(base_dir)
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    languages = sorted(t for t in vocab
                       if len(t) in (4, 5) and t.startswith("[") and t.endswith("]") and t[1:-1].islower())
    return BaseSummary(
        directory=str(base_dir),
        checkpoint=str(_t3_file(base_dir, checkpoint)),
        t3_parameters=sum(p.numel() for p in t3.parameters()),
        text_tokens=t3.hp.text_tokens_dict_size,
        speech_tokens=t3.hp.speech_tokens_dict_size,
        hidden_size=t3.cfg.hidden_size,
        layers=t3.cfg.num_hidden_layers,
        tokenizer_size=tokenizer.get_vocab_size(with_added_tokens=True),
        language_tokens=languages,
        other_files=[f for f in (VOICE_ENCODER_FILE, S3GEN_FILE, CONDS_FILE) if (base_dir / f).is_file()],
    )


def main(argv: list[str] | None = None) -> int:
    from amharic_tts.cli import run_cli

    parser = argparse.ArgumentParser(
        prog="python -m amharic_tts.model.base",
        description="Load a Chatterbox base (Hub repo id or local directory) and print what it holds.",
    )
    parser.add_argument("base", nargs="?", default=DEFAULT_BASE, help="Hub repo id or directory (default: %(default)s)")
    parser.add_argument("--base-checkpoint", default=DEFAULT_T3_CHECKPOINT,
                        help="T3 weights: v3 (default), v2, or a .safetensors file")
    parser.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit)")
    add_console_arguments(parser)
    args = parser.parse_args(argv)

    def run() -> int:
        summary = summarize_base(args.base, checkpoint=args.base_checkpoint, revision=args.revision)
        print(json.dumps(vars(summary), indent=2, ensure_ascii=False))
        return 0

    return run_cli(run, debug=args.debug, verbose=args.verbose)


if __name__ == "__main__":
    # run the imported module's main: under ``-m`` this file is also ``__main__``, whose BaseModelError is another
    # class than the one the command-line wrapper recognises (a traceback instead of a one-line error)
    from amharic_tts.model import base as _base

    raise SystemExit(_base.main())
