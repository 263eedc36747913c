"""The on-disk formats, in one place: a training run's folder, its checkpoints and an exported model folder.

Training writes them, export reads a run and writes a model folder, inference reads either: all three import
this module (downward), never each other.

A training run (``output_dir``)::

    train_config.yaml        the resolved settings (model / data / training), the layout and the package version
    t3_config.json           the T3 config (vocabulary size, Llama config)
    tokenizer/               the merged tokenizer the run trained with
    checkpoint-N/            model.safetensors, optimizer/scheduler/RNG state, trainer_state.json and
                             checkpoint_config.yaml (the settings that checkpoint was made with)
    model.safetensors        the final weights (with LoRA adapters unmerged, as trained)
    train_summary.json       written when the run ends (steps, loss, tokens, how it stopped)

An exported model folder (``python -m amharic_tts.export``; what the Hub repo holds)::

    config.json              format, base repo/revision, T3 config, normaliser settings, training facts
    t3_am.safetensors        the fine-tuned T3 (plain tensors; loads in upstream ``T3(T3Config(N))``)
    tokenizer.json, tokenizer_config.json   the merged Amharic tokenizer (N text ids)
    ve.pt, s3gen.pt, conds.pt   optional (``--include-base``); otherwise read from the base repo
    evaluation.json          optional: CER/WER results shown on the model card
    samples/*.wav            optional: the default voice speaking fixed sentences, embedded in the card
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from amharic_tts.model.base import BaseModelError

logger = logging.getLogger(__name__)

# --- a training run
CONFIG_FILE = "train_config.yaml"
T3_CONFIG_FILE = "t3_config.json"
TOKENIZER_DIR = "tokenizer"
SUMMARY_FILE = "train_summary.json"
WEIGHTS_FILE = "model.safetensors"
TRAINER_STATE_FILE = "trainer_state.json"  # the Trainer's (transformers' TRAINER_STATE_NAME): step, log history
# a checkpoint's copy of the run's train_config.yaml (another name: a folder with train_config.yaml is a run)
CHECKPOINT_CONFIG_FILE = "checkpoint_config.yaml"
# in a Hub model repo: the newest checkpoint, uploaded during training with hub_strategy checkpoint (as the Trainer's)
HUB_CHECKPOINT = "last-checkpoint"

# --- an exported model folder
MODEL_FORMAT = "amharic-tts"
FORMAT_VERSION = 1
MODEL_CONFIG_FILE = "config.json"
T3_FILE = "t3_am.safetensors"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
EVALUATION_FILE = "evaluation.json"
SAMPLES_DIR = "samples"


class ModelLoadError(BaseModelError):
    """The model folder or repo cannot be loaded; the message says what is missing."""


# ----------------------------------------------------------------------------------------- training runs


def find_run_dir(path: str | os.PathLike) -> Path | None:
    """The training run ``path`` belongs to: the folder itself (a run's output) or its parent (a checkpoint)."""
    path = Path(path)
    for candidate in (path, path.parent):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    return None


def latest_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The complete checkpoint with the highest step (``tmp-checkpoint-*`` never counts)."""
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(output_dir)) if os.path.isdir(output_dir) else None


def checkpoint_step(checkpoint: Path) -> int | None:
    """The optimizer step a checkpoint (``trainer_state.json``) or a finished run (its summary) was saved at."""
    state = Path(checkpoint) / TRAINER_STATE_FILE
    if state.is_file():
        return int(json.loads(state.read_text(encoding="utf-8")).get("global_step", 0))
    summary = Path(checkpoint) / SUMMARY_FILE
    if summary.is_file():
        return int(json.loads(summary.read_text(encoding="utf-8")).get("steps", 0))
    return None


def read_train_config(run_dir: Path) -> dict:
    import yaml

    return yaml.safe_load((Path(run_dir) / CONFIG_FILE).read_text(encoding="utf-8")) or {}


def load_trained_t3(path: str | os.PathLike, *, merge: bool = True):
    """Upstream ``T3`` with the weights of a run's folder or one of its checkpoints (LoRA merged).

    Returns a plain ``T3(T3Config(text_tokens_dict_size=N))``: what upstream chatterbox loads.
    """
    from safetensors.torch import load_file

    from amharic_tts.model.base import build_t3, t3_config_from_dict
    from amharic_tts.model.vocab import LoraOptions, apply_lora, extend_text_vocab, merge_lora

    path = Path(path)
    run_dir = find_run_dir(path)
    if run_dir is None:
        raise FileNotFoundError(f"{path} is not a training run or checkpoint (no {CONFIG_FILE} in it or its parent)")
    config = read_train_config(run_dir)
    hp = t3_config_from_dict(json.loads((run_dir / T3_CONFIG_FILE).read_text(encoding="utf-8")))
    size = hp.text_tokens_dict_size
    base = json.loads((run_dir / TOKENIZER_DIR / "tokenizer_config.json").read_text(encoding="utf-8"))
    hp.text_tokens_dict_size = int(base["base_vocab_size"])
    t3 = extend_text_vocab(build_t3(hp), size, noise_std=0.0)
    model_config = config["model"]
    if model_config.get("use_lora"):
        apply_lora(t3, LoraOptions(model_config["lora_r"], model_config["lora_alpha"], model_config["lora_dropout"],
                                   tuple(model_config["lora_target_modules"])))
    state = load_file(str(path / WEIGHTS_FILE))
    t3.load_state_dict({k.removeprefix("t3."): v for k, v in state.items()}, strict=True)
    if merge:
        merge_lora(t3)
    plain = build_t3(t3.hp)
    plain.load_state_dict(t3.state_dict(), strict=True)
    return plain.eval()


# ----------------------------------------------------------------------------------------- the layout


def speech_layout() -> dict:
    """The layout a model is trained on (recorded in exported configs and run configs)."""
    from amharic_tts.model import loss

    return {"start_speech_copies": loss.SPEECH_BOS_COPIES}


def check_layout(recorded: dict | None, source) -> None:
    """Warn when a model was trained on another layout than this version speaks with."""
    if recorded != speech_layout():
        logger.warning("%s was trained %s; this version speaks with %s start_speech tokens, as upstream does, so it "
                       "will not sound as trained: train it again with this version", source,
                       f"with layout {recorded}" if recorded else "by an earlier amharic-tts (one start_speech)",
                       speech_layout()["start_speech_copies"])


# ----------------------------------------------------------------------------------------- exported folders


def read_model_config(folder: Path) -> dict:
    """An exported folder's ``config.json``, checked to be ours."""
    try:
        config = json.loads((Path(folder) / MODEL_CONFIG_FILE).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ModelLoadError(f"{folder / MODEL_CONFIG_FILE} is not valid JSON: {err}") from err
    if config.get("format") != MODEL_FORMAT:
        raise ModelLoadError(f"{folder / MODEL_CONFIG_FILE} is not an amharic-tts model config (format "
                             f"{config.get('format')!r}); export one with `python -m amharic_tts.export`")
    return config


def load_exported_t3(folder: Path, config: dict):
    from amharic_tts.model.base import build_t3, load_t3_state_dict, load_t3_weights, t3_config_from_dict

    try:
        t3 = build_t3(t3_config_from_dict(config["t3_config"]))
        load_t3_weights(t3, load_t3_state_dict(folder / T3_FILE), source=str(folder / T3_FILE))
    except (BaseModelError, KeyError) as err:
        raise ModelLoadError(f"cannot load the T3 of {folder}: {err}") from err
    return t3.float().eval()


def load_tokenizer(directory: Path, text_vocab_size: int):
    """The tokenizer of an exported folder or a run's ``tokenizer/``, checked against the T3's text rows."""
    from amharic_tts.text.tokenizer import AmharicTokenizer

    try:
        tokenizer = AmharicTokenizer.from_dir(directory)
    except FileNotFoundError as err:
        raise ModelLoadError(str(err)) from err
    if tokenizer.vocab_size != text_vocab_size:
        raise ModelLoadError(f"the tokenizer in {directory} has {tokenizer.vocab_size} ids but the T3 has "
                             f"{text_vocab_size} text rows: they do not belong together")
    return tokenizer
