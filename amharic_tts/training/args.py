"""Training configuration: three dataclasses read by ``transformers.HfArgumentParser`` from YAML and flags.

``python train_t3.py CONFIG.yaml --learning_rate 1e-4`` reads the YAML first and the flags after it, so flags
win. Unknown keys are errors. The resolved configuration is saved as ``train_config.yaml`` in the output folder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from transformers import TrainingArguments

from amharic_tts.model.vocab import LORA_TARGET_MODULES


@dataclass
class ModelArguments:
    base_model: str = field(default="ResembleAI/chatterbox", metadata={"help": "Hub repo id or directory"})
    base_checkpoint: str = field(default="v3", metadata={"help": "T3 weights: v3, v2 or a .safetensors file"})
    base_revision: str | None = field(default=None, metadata={"help": "Hub revision of the base model"})
    tokenizer: str = field(default=None, metadata={"help": "directory (or Hub repo) from build_tokenizer.py"})
    init_new_rows: str = field(default="auto", metadata={"help": "auto, transliteration or mean"})
    freeze_base_text_rows: bool = field(default=True)
    freeze_backbone: bool = field(default=False)
    freeze_conditioning: bool = field(default=False)
    freeze_speech: bool = field(default=False)
    freeze_text_positions: bool = field(default=False)
    only_new_text_rows: bool = field(default=False)
    use_lora: bool = field(default=False, metadata={"help": "LoRA adapters on the Llama backbone (peft)"})
    lora_r: int = field(default=16)
    lora_alpha: int = field(default=32)
    lora_dropout: float = field(default=0.05)
    lora_target_modules: list[str] = field(default_factory=lambda: list(LORA_TARGET_MODULES))
    text_loss_weight: float = field(default=0.1)


@dataclass
class DataArguments:
    dataset: str = field(default=None, metadata={"help": "directory from prepare_dataset.py, or a Hub dataset repo"})
    dataset_revision: str | None = field(default=None)
    train_split: str = field(default="train")
    eval_split: str = field(default="validation")
    max_train_samples: int | None = field(default=None, metadata={"help": "use only the first N (smoke runs)"})
    max_eval_samples: int | None = field(default=None)
    max_text_tokens: int | None = field(default=None, metadata={"help": "drop longer samples (default: the model's"
                                                                          " position table)"})
    max_speech_tokens: int | None = field(default=None, metadata={"help": "drop longer samples (default: the "
                                                                            "model's position table)"})
    max_bad_speech_share: float = field(default=0.01, metadata={
        "help": "share of a split's samples with unusable speech tokens (ids outside the S3 tokenizer's 0..6560, "
                "fewer than 2 tokens) that are left out with a warning; more stops the run before training, as "
                "such a dataset was prepared for another model or is damaged"})
    prompt_tokens: int | None = field(default=None, metadata={"help": "speech prompt length (default: the "
                                                                        "model's speech_cond_prompt_len, 150 = 6 s)"})
    prompt_from_same_speaker: bool = field(default=True, metadata={"help": "prompt from another utterance of the "
                                                                           "same speaker where there is one"})
    prompt_voice_neighbours: int = field(default=16, metadata={
        "help": "prompt from one of the N utterances of the same speaker whose speaker embedding is closest (a film "
                "prepared from subtitles is one speaker label with many voices); 0: from any of them"})
    short_prompt_share: float = field(default=0.2, metadata={
        "help": "share of batches whose speech prompt is shorter (min_prompt_tokens up to the full length), as a "
                "reference clip under 6 s gives at inference"})
    min_prompt_tokens: int = field(default=25, metadata={"help": "the shortest such prompt (25 = 1 s, the shortest "
                                                                 "reference clip inference accepts)"})
    text_dropout: float = field(default=0.05, metadata={"help": "share of samples trained without text (CFG)"})
    prompt_dropout: float = field(default=0.05)
    speaker_dropout: float = field(default=0.05)
    emotion_adv: float = field(default=0.5)
    preprocessing_num_workers: int | None = field(default=None)


@dataclass
class T3TrainingArguments(TrainingArguments):
    """``TrainingArguments`` with this project's additions and defaults."""

    sample_steps: int = field(default=0, metadata={"help": "render fixed validation sentences every N steps "
                                                           "(0: only at the end)"})
    num_samples: int = field(default=2, metadata={"help": "validation sentences rendered as audio"})
    sample_max_seconds: float = field(default=10.0)
    max_bad_steps: int = field(default=3, metadata={"help": "non-finite losses in a row that stop the run"})
    eval_asr_model: str | None = field(default=None, metadata={
        "help": "CTC ASR model (e.g. facebook/mms-1b-all): each evaluation also reports eval_cer/eval_wer of "
                "rendered validation sentences; keep the best checkpoint with metric_for_best_model: cer"})
    eval_asr_lang: str = field(default="amh", metadata={"help": "adapter language of multilingual ASR models"})
    eval_asr_samples: int = field(default=16, metadata={"help": "validation sentences scored by the ASR model"})
    remove_unused_columns: bool = field(default=False)
    train_sampling_strategy: str = field(default="group_by_length")
    max_tokens_per_batch: int = field(default=0, metadata={
        "help": "fill each training batch with samples of similar length up to this many padded text + speech "
                "positions (samples x the longest one) instead of a fixed per_device_train_batch_size: short "
                "clips then share a batch with many others and memory use is even (0: fixed batch size)"})
    report_to: list[str] | str | None = field(default_factory=lambda: ["tensorboard"])
    overwrite_output_dir: bool = field(default=False, metadata={
        "help": "start a new run in an output_dir that already holds checkpoints (they are deleted first); without "
                "it such a run refuses to start unless resume_from_checkpoint is set"})


def config_to_argv(config: dict) -> list[str]:
    """A YAML mapping as ``--key value`` flags (lists become several values, booleans true/false)."""
    argv: list[str] = []
    for key, value in config.items():
        if value is None:
            continue
        argv.append(f"--{key}")
        if isinstance(value, (list, tuple)):
            argv.extend(str(v) for v in value)
        elif isinstance(value, bool):
            argv.append("true" if value else "false")
        elif isinstance(value, dict):
            import json

            argv.append(json.dumps(value))
        else:
            argv.append(str(value))
    return argv


def argument_parser():
    """The ``HfArgumentParser`` of the three dataclasses (whose ``--help`` lists every setting)."""
    import re

    from transformers import HfArgumentParser

    parser = HfArgumentParser((ModelArguments, DataArguments, T3TrainingArguments))
    for action in parser._actions:  # transformers 5.2 has a bare "%" in a help text, which argparse's help rejects
        if action.help:
            action.help = re.sub(r"%(?!\()", "%%", action.help)
    return parser


def parse_config(config: dict, overrides: list[str]):
    """``(model_args, data_args, training_args)`` from a YAML mapping and command-line overrides."""
    parser = argument_parser()
    known = {f.name for cls in (ModelArguments, DataArguments, T3TrainingArguments) for f in fields(cls)}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(f"unknown configuration keys: {', '.join(unknown)}")
    try:
        return parser.parse_args_into_dataclasses(args=config_to_argv(config) + list(overrides))
    except SystemExit as exit_:  # argparse's own error was printed; say which input was wrong
        raise ValueError(f"invalid configuration or flags (see the message above): {' '.join(overrides)}") from exit_


def resolved_config(model_args, data_args, training_args) -> dict:
    """Everything the run used, for ``train_config.yaml``."""
    own = {f.name for f in fields(T3TrainingArguments)}
    training = {k: v for k, v in training_args.to_dict().items() if k in own}
    from amharic_tts import __version__
    from amharic_tts.formats import speech_layout

    return {"amharic_tts_version": __version__, "model": asdict(model_args), "data": asdict(data_args),
            "training": training, "speech_layout": speech_layout()}
