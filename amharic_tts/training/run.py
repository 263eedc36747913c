"""Fine-tune T3 for Amharic: :func:`train`, which the command line (:mod:`amharic_tts.train`, ``train_t3.py``)
runs under ``accelerate launch`` (or plain ``python``).

Steps: 1 configuration, 2 tokenizer, 3 dataset, 4 base T3 extended to the tokenizer, 5 preprocessing (text ids,
lengths, a check of every sample's speech tokens, filtering of too-long samples, with counts), 6 trainer,
7 training (optionally resumed), 8 final save and summary. Everything a run used is saved in its output folder:
``train_config.yaml``, ``tokenizer/`` and ``t3_config.json``, so checkpoints load on their own
(:func:`amharic_tts.formats.load_trained_t3`). Exporting and pushing are the command line's (a callback it passes
in, and the export after the run), never an import of this module.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

from amharic_tts.formats import (CHECKPOINT_CONFIG_FILE, CONFIG_FILE, HUB_CHECKPOINT, SUMMARY_FILE, T3_CONFIG_FILE,
                                 TOKENIZER_DIR, WEIGHTS_FILE, checkpoint_step, find_run_dir, latest_checkpoint)

logger = logging.getLogger("amharic_tts.train")

REQUIRED_COLUMNS = ("text", "speech_tokens", "speaker_emb", "speaker")


class TrainingSetupError(ValueError):
    """The configuration, dataset or tokenizer cannot make a run; raised before any training starts."""


def load_tokenizer(name_or_path: str, revision: str | None = None):
    from amharic_tts.text.tokenizer import AmharicTokenizer

    if not name_or_path:
        raise TrainingSetupError("no tokenizer: set `tokenizer:` (a directory from build_tokenizer.py or a Hub repo)")
    path = Path(name_or_path)
    if not path.is_dir():
        if name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") != 1:
            raise TrainingSetupError(f"tokenizer directory {name_or_path} does not exist")
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(name_or_path, revision=revision,
                                      allow_patterns=["tokenizer.json", "tokenizer_config.json"]))
    try:
        return AmharicTokenizer.from_dir(path)
    except FileNotFoundError as err:
        raise TrainingSetupError(str(err)) from err


def load_splits(data_args, *, evaluating: bool = False):
    """The train and eval splits, from a prepared directory or a Hub dataset; with ``evaluating`` the eval split
    must exist and have rows."""
    import datasets

    from amharic_tts.data.prepare import DatasetLoadError, load_prepared

    name = data_args.dataset
    if not name:
        raise TrainingSetupError("no dataset: set `dataset:` (a directory from prepare_dataset.py or a Hub repo)")
    try:
        data = load_prepared(name, revision=data_args.dataset_revision)
    except DatasetLoadError as err:
        raise TrainingSetupError(str(err)) from err
    if not isinstance(data, datasets.DatasetDict):
        data = datasets.DatasetDict({data_args.train_split: data})
    if data_args.train_split not in data:
        raise TrainingSetupError(f"the dataset {name} has no split {data_args.train_split!r} (it has {list(data)})")
    missing = [c for c in REQUIRED_COLUMNS if c not in data[data_args.train_split].column_names]
    if missing:
        raise TrainingSetupError(f"the dataset {name} has no {', '.join(missing)} column(s): prepare it with "
                                 "prepare_dataset.py, which adds speech tokens and speaker embeddings")
    if len(data[data_args.train_split]) == 0:
        raise TrainingSetupError(f"the dataset {name} has no rows in its {data_args.train_split!r} split "
                                 f"({_split_sizes(data)})")
    eval_split = data.get(data_args.eval_split)
    if evaluating and (eval_split is None or len(eval_split) == 0):
        raise TrainingSetupError(
            f"evaluation needs rows in split {data_args.eval_split!r}, and the dataset {name} has "
            f"{'none' if eval_split is not None else 'no such split'} ({_split_sizes(data)}): choose another "
            f"eval_split, prepare the data with a validation split, or set eval_strategy: no")
    return data[data_args.train_split], eval_split


def _split_sizes(data) -> str:
    return ", ".join(f"{split}: {len(rows)} rows" for split, rows in data.items())


def build_model(model_args, tokenizer):
    """The base T3 extended to the tokenizer's vocabulary, with the chosen parameters trainable."""
    from amharic_tts.model.base import load_t3
    from amharic_tts.model.vocab import (LoraOptions, TrainableOptions, apply_lora, configure_trainable,
                                         extend_for_tokenizer)

    t3 = load_t3(model_args.base_model, checkpoint=model_args.base_checkpoint, revision=model_args.base_revision)
    base_rows = t3.text_emb.num_embeddings
    if tokenizer.vocab_size < base_rows:
        raise TrainingSetupError(f"the tokenizer has {tokenizer.vocab_size} ids, fewer than the base model's "
                                 f"{base_rows}: it was not built from this base (build_tokenizer.py --base-model)")
    try:
        extend_for_tokenizer(t3, tokenizer, init=model_args.init_new_rows,
                             freeze_base_rows=model_args.freeze_base_text_rows)
    except ValueError as err:
        raise TrainingSetupError(str(err)) from err
    if model_args.use_lora:
        apply_lora(t3, LoraOptions(model_args.lora_r, model_args.lora_alpha, model_args.lora_dropout,
                                   tuple(model_args.lora_target_modules)))
    configure_trainable(t3, TrainableOptions(
        freeze_base_text_rows=model_args.freeze_base_text_rows, freeze_backbone=model_args.freeze_backbone,
        freeze_conditioning=model_args.freeze_conditioning, freeze_speech=model_args.freeze_speech,
        freeze_text_positions=model_args.freeze_text_positions, only_new_text_rows=model_args.only_new_text_rows))
    return t3


def compile_layers(t3, training_args) -> bool:
    """``torch_compile`` (or ``accelerate launch --dynamo_backend``) compiles the backbone's decoder layers one by
    one, instead of the Trainer compiling the whole model: one compiled block serves every layer (quick to compile),
    the packing code around the backbone stays eager, shapes are dynamic (each batch has its own lengths), and with
    torch 2.6 (chatterbox's pin) dynamo cannot trace transformers' ``LlamaModel.forward`` at all (NameError in
    its output-capturing wrapper). Accelerate's dynamo settings (mode, fullgraph, dynamic) are honoured; its
    regional compilation is what this does anyway. Returns whether it compiled."""
    from accelerate.utils import TorchDynamoPlugin

    launched = TorchDynamoPlugin()  # what `accelerate launch --dynamo_*` / `accelerate config` set
    if training_args.torch_compile:
        backend = training_args.torch_compile_backend or "inductor"
        mode = training_args.torch_compile_mode or launched.mode
    elif launched.backend.value != "NO":
        backend, mode = launched.backend.value.lower(), launched.mode
    else:
        return False
    dynamic = True if launched.dynamic is None else launched.dynamic
    if not dynamic:
        logger.warning("torch.compile with dynamic=False recompiles for every new batch shape; lengths vary from "
                       "batch to batch here, so expect recompilations")
    training_args.torch_compile, training_args.torch_compile_backend = False, None
    training_args.torch_compile_mode = None
    os.environ["ACCELERATE_DYNAMO_BACKEND"] = "NO"  # the Trainer's accelerator must not compile the whole model
    for layer in t3.tfmr.layers:
        layer.compile(backend=backend, mode=None if mode in (None, "default") else mode,
                      fullgraph=launched.fullgraph, dynamic=dynamic)
    logger.info("torch.compile: %d decoder layers, backend %s, mode %s, fullgraph %s, dynamic %s",
                len(t3.tfmr.layers), backend, mode or "default", launched.fullgraph, dynamic)
    return True


# why preprocessing leaves a sample out (the keys of what :func:`preprocess` returns)
SPEECH_IDS_OUT_OF_RANGE = "speech_ids_out_of_range"
TOO_FEW_SPEECH_TOKENS = "too_few_speech_tokens"
TOO_LONG = "too_long"
MIN_SPEECH_TOKENS = 2  # fewer: (next to) nothing to learn but stop_speech
_PROBLEM_COLUMN = "_speech_problem"


def speech_problem(tokens, *, vocab: int, min_tokens: int = MIN_SPEECH_TOKENS) -> str:
    """Why a row's speech tokens cannot be trained on ("" when they can): fewer than ``min_tokens``, or an id
    outside ``0..vocab-1`` (a special token such as ``stop_speech`` in the middle of the row teaches the model to
    stop there; an id beyond the speech head fails the first step with an IndexError, a CUDA assert on a GPU)."""
    if tokens is None or len(tokens) < min_tokens:
        return TOO_FEW_SPEECH_TOKENS
    if min(tokens) < 0 or max(tokens) >= vocab:
        return SPEECH_IDS_OUT_OF_RANGE
    return ""


PREPROCESS_CACHE = "amharic_tts_preprocess"
"""Folder of the datasets cache (``HF_DATASETS_CACHE``) that holds training's preprocessed splits."""


def _cache_outside(dataset, step: str, *inputs) -> dict:
    """``map``/``filter`` arguments that keep the result's cache file in the datasets cache rather than beside
    the dataset's own files (``datasets`` writes ``cache-*.arrow`` into a folder from ``load_from_disk``, so every
    run would grow the prepared dataset). The name is the fingerprint ``datasets`` would compute: the input's
    fingerprint, the step and what it depends on (functions are hashed with their closures, as ``map`` does)."""
    import datasets
    from datasets.fingerprint import Hasher

    fingerprint = Hasher.hash([dataset._fingerprint, step, *inputs])
    folder = Path(datasets.config.HF_DATASETS_CACHE) / PREPROCESS_CACHE
    folder.mkdir(parents=True, exist_ok=True)
    return {"new_fingerprint": fingerprint, "cache_file_name": str(folder / f"{step}-{fingerprint}.arrow")}


def preprocess(dataset, tokenizer, hp, data_args, *, max_samples=None, split="train", keep_audio=False,
               max_bad_share: float | None = None):
    """Text ids and lengths, with every sample checked once; returns the dataset and how many samples were left
    out, by reason.

    Samples whose speech tokens are unusable (:func:`speech_problem`) are left out and counted; when they are
    more than ``max_bad_share`` of the split, :class:`TrainingSetupError` (the dataset was prepared for another
    speech tokenizer, or is damaged). Samples longer than the position tables (or the configured limits) are
    dropped and counted, never truncated (a truncated sample teaches the model to stop early)."""
    from collections import Counter

    from amharic_tts.model.loss import speech_vocab_size

    keep_columns = ["speech_tokens", "speaker_emb", "speaker", "text"]
    if keep_audio and "audio" in dataset.column_names:  # voice references for audio samples
        keep_columns.append("audio")
    dataset = dataset.select_columns(keep_columns)
    if max_samples is not None:
        dataset = dataset.select(range(min(max_samples, len(dataset))))
    max_text = min(data_args.max_text_tokens or hp.max_text_tokens, hp.max_text_tokens)
    max_speech = min(data_args.max_speech_tokens or hp.max_speech_tokens, hp.max_speech_tokens)
    vocab = speech_vocab_size(hp)

    from amharic_tts.text.normalize import normalizer_signature

    def add(row, normalizer, speech_check):
        ids = tokenizer.text_ids(row["text"])
        speech = row["speech_tokens"] or []
        return {"text_ids": ids, "length": len(ids) + len(speech) + 2,
                _PROBLEM_COLUMN: speech_problem(speech, **speech_check)}

    # the normaliser's signature and the speech-token check are part of the map's fingerprint: a changed
    # abbreviation table re-tokenises, another speech vocabulary re-checks
    fn_kwargs = {"normalizer": normalizer_signature(),
                 "speech_check": {"vocab": vocab, "min_tokens": MIN_SPEECH_TOKENS}}
    dataset = dataset.map(add, fn_kwargs=fn_kwargs, num_proc=data_args.preprocessing_num_workers,
                          desc=f"tokenizing {split}", **_cache_outside(dataset, "tokenize", add, fn_kwargs))
    total = len(dataset)
    checked = _PROBLEM_COLUMN in dataset.column_names  # (map adds no column to a dataset of no rows)
    dropped = Counter(problem for problem in (dataset[_PROBLEM_COLUMN] if checked else []) if problem)
    bad = sum(dropped.values())
    if bad:
        words = {SPEECH_IDS_OUT_OF_RANGE: f"with ids outside the speech tokens 0..{vocab - 1}",
                 TOO_FEW_SPEECH_TOKENS: f"with fewer than {MIN_SPEECH_TOKENS} speech tokens"}
        reasons = ", ".join(f"{count} {words[reason]}" for reason, count in sorted(dropped.items()))
        if max_bad_share is not None and bad > max_bad_share * total:
            raise TrainingSetupError(
                f"{split}: {bad} of {total} samples ({bad / total:.1%}) have unusable speech tokens ({reasons}), "
                f"more than max_bad_speech_share {max_bad_share:g}: the dataset was prepared for another speech "
                f"tokenizer or is damaged; prepare it again with prepare_dataset.py, or raise max_bad_speech_share "
                f"to train without them")
        logger.warning("%s: %d of %d samples have unusable speech tokens and are left out: %s", split, bad, total,
                       reasons)
        dataset = dataset.filter(lambda problem: not problem, input_columns=_PROBLEM_COLUMN,
                                 desc=f"speech token check {split}", **_cache_outside(dataset, "speech-check"))
    if checked:
        dataset = dataset.remove_columns(_PROBLEM_COLUMN)
    before = len(dataset)
    dataset = dataset.filter(lambda row: len(row["text_ids"]) <= max_text
                             and len(row["speech_tokens"]) + 2 <= max_speech, desc=f"length limits {split}",
                             **_cache_outside(dataset, "length-limits", max_text, max_speech))
    if before > len(dataset):
        dropped[TOO_LONG] = before - len(dataset)
        logger.warning("%s: %d of %d samples are longer than the limits (text %d, speech %d tokens) and are left "
                       "out", split, dropped[TOO_LONG], total, max_text, max_speech)
    dataset = dataset.add_column("_index", list(range(len(dataset))))
    return dataset, dropped


def train(model_args, data_args, training_args, *, callbacks=()) -> dict:
    """Train (see the module docstring); returns the run's summary (``train_summary.json``). The output folder is
    locked for the whole run (on the main process): a second run into it stops at once, naming this one.
    ``callbacks``: more ``TrainerCallback``s (the command line's Hub uploads)."""
    from contextlib import nullcontext

    from amharic_tts.cli import check_output_path
    from amharic_tts.outputs import output_lock

    output_dir = check_output_path(training_args.output_dir, kind="dir", name="output_dir")
    with output_lock(output_dir, what="train_t3") if training_args.process_index == 0 else nullcontext():
        return _train(model_args, data_args, training_args, output_dir, callbacks)


def _train(model_args, data_args, training_args, output_dir: Path, callbacks) -> dict:
    import yaml
    from transformers import set_seed

    from amharic_tts.model.base import t3_config_to_dict
    from amharic_tts.training.args import resolved_config
    from amharic_tts.training.collator import T3Collator
    from amharic_tts.training.trainer import LogFileCallback, StopControlCallback, T3Trainer, T3TrainingModel

    started = time.time()
    # 1. configuration
    set_seed(training_args.seed)
    if training_args.dataloader_persistent_workers and training_args.dataloader_num_workers > 0:
        raise TrainingSetupError("dataloader_persistent_workers keeps each worker's copy of the collator at the "
                                 "first epoch, so every epoch would draw the same prompts and dropouts (and a resume "
                                 "would not continue exactly): turn it off")
    if data_args.prompt_voice_neighbours < 0:
        raise TrainingSetupError(f"prompt_voice_neighbours must be 0 (off) or more, got "
                                 f"{data_args.prompt_voice_neighbours}")
    if not 0 <= data_args.short_prompt_share <= 1:
        raise TrainingSetupError(f"short_prompt_share must be in 0..1, got {data_args.short_prompt_share}")
    # 2-4. tokenizer, dataset, model: every check runs before training starts
    tokenizer = load_tokenizer(model_args.tokenizer)
    train_raw, eval_raw = load_splits(data_args, evaluating=training_args.eval_strategy != "no")
    t3 = build_model(model_args, tokenizer)
    hp = t3.hp
    prompt_length = data_args.prompt_tokens or hp.speech_cond_prompt_len
    if data_args.short_prompt_share and not 1 <= data_args.min_prompt_tokens <= prompt_length:
        raise TrainingSetupError(f"min_prompt_tokens must be in 1..{prompt_length} (the prompt length), got "
                                 f"{data_args.min_prompt_tokens}; or set short_prompt_share: 0")
    if training_args.process_index == 0:
        from amharic_tts.model.vocab import trainable_table

        logger.info("what this run trains (model settings: freeze_*, use_lora, only_new_text_rows):\n%s",
                    trainable_table(t3))
    # 5. preprocessing (once, on the main process first)
    if not 0 <= data_args.max_bad_speech_share <= 1:
        raise TrainingSetupError(f"max_bad_speech_share must be in 0..1, got {data_args.max_bad_speech_share}")
    with training_args.main_process_first(desc="preprocessing"):
        train_set, _ = preprocess(train_raw, tokenizer, hp, data_args, max_samples=data_args.max_train_samples,
                                  split=data_args.train_split, max_bad_share=data_args.max_bad_speech_share)
        eval_set = None
        if eval_raw is not None and len(eval_raw) and training_args.eval_strategy != "no":
            eval_set, _ = preprocess(eval_raw, tokenizer, hp, data_args, max_samples=data_args.max_eval_samples,
                                     split=data_args.eval_split, keep_audio=True,
                                     max_bad_share=data_args.max_bad_speech_share)
    if len(train_set) == 0:
        raise TrainingSetupError("no training samples are left after the length limits and the speech-token check")
    if eval_set is not None and len(eval_set) == 0:
        raise TrainingSetupError(f"no {data_args.eval_split!r} samples are left after the length limits and the "
                                 f"speech-token check (max_eval_samples, max_text_tokens, max_speech_tokens): "
                                 f"evaluation needs some, or set eval_strategy: no")
    budget = training_args.max_tokens_per_batch
    if budget:
        from amharic_tts.model.loss import layout_overhead

        if budget < 0:
            raise TrainingSetupError(f"max_tokens_per_batch must be positive (or 0: off), got {budget}")
        if training_args.accelerator_config.split_batches or training_args.accelerator_config.dispatch_batches:
            raise TrainingSetupError("max_tokens_per_batch makes batches of varying size, which Accelerate's "
                                     "split_batches and dispatch_batches cannot divide: turn those off")
        cond = layout_overhead(hp)
        over = [n + cond for n in train_set["length"] if n + cond > budget]
        if over:
            raise TrainingSetupError(
                f"max_tokens_per_batch {budget} is less than the longest training sample ({max(over)} positions: "
                f"text + speech tokens and {cond} of conditioning; {len(over)} of {len(train_set)} samples are "
                f"longer): raise it, or leave long samples out with max_speech_tokens / max_text_tokens")
    resume = resolve_resume(training_args.resume_from_checkpoint, output_dir,
                            overwrite=training_args.overwrite_output_dir, token=training_args.hub_token)
    if resume:  # before anything is written into the run folder
        check_resumable(resume, model_args, hp)
    if training_args.process_index == 0:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / CONFIG_FILE).write_text(yaml.safe_dump(
            resolved_config(model_args, data_args, training_args), allow_unicode=True, sort_keys=False),
            encoding="utf-8")
        (output_dir / T3_CONFIG_FILE).write_text(json.dumps(t3_config_to_dict(hp, with_llama_config=True),
                                                            indent=2) + "\n", encoding="utf-8")
        shutil.copytree(Path(tokenizer.source_dir), output_dir / TOKENIZER_DIR, dirs_exist_ok=True)
    # 6. trainer
    collator_args = dict(start_speech=hp.start_speech_token, stop_speech=hp.stop_speech_token,
                         prompt_tokens=prompt_length,
                         prompt_from_same_speaker=data_args.prompt_from_same_speaker,
                         voice_neighbours=data_args.prompt_voice_neighbours,
                         emotion_adv=data_args.emotion_adv, short_prompt_share=data_args.short_prompt_share,
                         min_prompt_tokens=data_args.min_prompt_tokens)
    collator = T3Collator(train_set, text_dropout=data_args.text_dropout, prompt_dropout=data_args.prompt_dropout,
                          speaker_dropout=data_args.speaker_dropout,
                          seed=training_args.seed + training_args.process_index, **collator_args)
    # push_to_hub: the command line pushes our export (merged T3, tokenizer, card), not Trainer's raw checkpoints
    training_args.push_to_hub = False
    compile_layers(t3, training_args)
    model = T3TrainingModel(t3, text_loss_weight=model_args.text_loss_weight)
    trainer = T3Trainer(model=model, args=training_args, train_dataset=train_set, eval_dataset=eval_set,
                        collator=collator)
    if eval_set is not None:
        # a speaker alone in the validation split is prompted from its training utterances, not from itself
        trainer.eval_collator = T3Collator(eval_set, prompt_pool=train_set, **collator_args)
    trainer.add_callback(StopControlCallback(trainer))
    trainer.add_callback(LogFileCallback())
    for callback in callbacks:
        trainer.add_callback(callback)
    if eval_set is not None and (training_args.num_samples > 0 or training_args.eval_asr_model):
        from amharic_tts.training.samples import AudioSampleCallback, IntelligibilityScorer, SpeechRenderer

        renderer = SpeechRenderer(trainer, model_args)
        if training_args.num_samples > 0:
            trainer.add_callback(AudioSampleCallback(trainer, model_args, eval_set, renderer))
        if training_args.eval_asr_model:
            from amharic_tts.model.base import S3GEN_FILE, BaseModelError, resolve_base_dir

            try:  # every rank checks (so all stop alike); only rank 0 renders, so only it loads S3Gen
                resolve_base_dir(model_args.base_model, [S3GEN_FILE], revision=model_args.base_revision)
            except BaseModelError as err:
                raise TrainingSetupError(f"eval_asr_model needs the base model's S3Gen to render speech: {err}") \
                    from err
            rows = [eval_set[i] for i in range(min(training_args.eval_asr_samples, len(eval_set)))]
            trainer.intelligibility = IntelligibilityScorer(renderer, rows, training_args.eval_asr_model,
                                                            training_args.eval_asr_lang)
            problem = [None]
            if training_args.process_index == 0:  # only rank 0 renders and transcribes: it loads both now
                from amharic_tts.evaluation.asr import ASRModelError

                if renderer.vocoder() is None:
                    problem[0] = "eval_asr_model: the base model's S3Gen could not be loaded"
                else:
                    try:  # a wrong ASR model fails now, not at the first evaluation
                        trainer.intelligibility.transcriber()
                    except ASRModelError as err:
                        problem[0] = f"eval_asr_model: {err}"
            if trainer.accelerator.num_processes > 1:  # every rank stops, or none (no rank left waiting)
                from accelerate.utils import broadcast_object_list

                broadcast_object_list(problem, from_process=0)
            if problem[0]:
                raise TrainingSetupError(problem[0])
    elif training_args.eval_asr_model:
        raise TrainingSetupError("eval_asr_model needs a validation split and eval_strategy steps or epoch")
    # 7. training
    result = trainer.train(resume_from_checkpoint=resume or None)
    # 8. final save and summary
    if trainer.stop_reason == "non_finite":
        raise TrainingSetupError(f"stopped after {training_args.max_bad_steps} non-finite losses in a row at step "
                                 f"{trainer.state.global_step}; the last good state is in "
                                 f"{latest_checkpoint(str(output_dir))}. Lower the learning rate or check the data.")
    if trainer.stop_reason != "signal":
        trainer.save_model(str(output_dir))
    seconds = time.time() - started
    tokens = trainer.state.num_input_tokens_seen  # real text + speech tokens, all processes, all sessions
    session_tokens = tokens - trainer.tokens_at_start
    steps = trainer.state.global_step
    # the Trainer divides this session's loss total by all steps, earlier sessions' included: the session's mean
    session_loss = result.training_loss * steps / max(1, steps - trainer.steps_at_start)
    summary = {"steps": steps, "train_loss": round(session_loss, 4), "tokens_seen": tokens,
               "wall_seconds": round(seconds, 1), "tokens_per_second": round(session_tokens / seconds, 1),
               "stopped_by": trainer.stop_reason or "end", "output_dir": str(output_dir)}
    if training_args.process_index == 0:
        (output_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(summary, indent=2))
    return summary


def resolve_resume(resume: str | None, output_dir: Path, *, overwrite: bool = False,
                   token: str | None = None) -> str | None:
    """``resume_from_checkpoint`` as a checkpoint folder: ``latest`` is the newest complete one in the run; a Hub
    model repo (``user/name`` or ``hf://user/name``, not a folder here) is its ``last-checkpoint/`` folder, which
    ``push_to_hub`` with ``hub_strategy: checkpoint`` uploads. Without a checkpoint to resume, an ``output_dir``
    that already holds checkpoints is refused unless ``overwrite`` (``overwrite_output_dir``): its checkpoints are
    then deleted, so that ``latest`` never finds the old run's."""
    if resume == "latest":
        resume = latest_checkpoint(output_dir)
        if resume is None:
            logger.info("no checkpoint in %s yet: starting from the beginning", output_dir)
    elif resume and not Path(resume).is_dir():
        if not HUB_REPO.match(resume):
            raise TrainingSetupError(f"checkpoint {resume} does not exist")
        resume = download_hub_checkpoint(resume.removeprefix("hf://"), token=token)
    if resume:
        return resume
    old = sorted(output_dir.glob("checkpoint-*")) if output_dir.is_dir() else []
    if old and not overwrite:
        raise TrainingSetupError(f"output_dir {output_dir} already holds checkpoints "
                                 f"({', '.join(p.name for p in old)}) of another run: continue it with "
                                 "resume_from_checkpoint: latest, start it over with overwrite_output_dir: true, or "
                                 "give a new output_dir")
    if old and int(os.environ.get("RANK", "0")) == 0:
        logger.warning("overwrite_output_dir: deleting %d checkpoint(s) of the earlier run in %s", len(old),
                       output_dir)
        for folder in old:
            shutil.rmtree(folder)
        (output_dir / SUMMARY_FILE).unlink(missing_ok=True)
    return None


HUB_REPO = re.compile(r"^(hf://)?[A-Za-z0-9][\w.-]*/[\w.-]+$")


def download_hub_checkpoint(repo_id: str, *, token: str | None = None) -> str:
    """The ``last-checkpoint/`` folder of the Hub model repo ``repo_id``, downloaded into the Hub cache."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, allow_patterns=[f"{HUB_CHECKPOINT}/*"], token=token))
    except Exception as err:  # offline, unknown repo, no access: one line that says what was tried
        first_line = (str(err).strip().splitlines() or [""])[0]
        raise TrainingSetupError(f"checkpoint {repo_id} is neither a folder here nor a Hub repo that can be "
                                 f"downloaded ({type(err).__name__}: {first_line})") from err
    checkpoint = folder / HUB_CHECKPOINT
    if not (checkpoint / WEIGHTS_FILE).is_file():
        raise TrainingSetupError(f"the Hub repo {repo_id} has no {HUB_CHECKPOINT}/ checkpoint: runs push one with "
                                 "push_to_hub: true and hub_strategy: checkpoint")
    logger.info("resuming from %s's %s (step %s)", repo_id, HUB_CHECKPOINT, checkpoint_step(checkpoint))
    return str(checkpoint)


# settings that decide the model's parameters and which of them train: a checkpoint only resumes under the same
MODEL_DEFINING = ("use_lora", "lora_r", "lora_alpha", "lora_target_modules", "freeze_base_text_rows",
                  "freeze_backbone", "freeze_conditioning", "freeze_speech", "freeze_text_positions",
                  "only_new_text_rows")


def check_resumable(checkpoint: str, model_args, hp) -> None:
    """Fail before training (and before the run folder is touched) when ``checkpoint`` was trained with another
    vocabulary, LoRA or freezing setting than this run: its weights and optimizer state would not fit."""
    import yaml
    from dataclasses import asdict

    run_dir = find_run_dir(checkpoint)
    # the checkpoint's own copy (the run folder's is rewritten by every start; a Hub checkpoint has no run folder),
    # else the run folder's
    own = Path(checkpoint) / CHECKPOINT_CONFIG_FILE
    config_file = own if own.is_file() else run_dir / CONFIG_FILE if run_dir is not None else None
    if config_file is None:
        return  # a bare checkpoint: the Trainer's strict load is the check
    saved = (yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}).get("model", {})
    now = asdict(model_args)
    differ = [f"{key}: {saved[key]!r} there, {now[key]!r} now" for key in MODEL_DEFINING
              if key in saved and saved[key] != now[key]]
    t3_config = run_dir / T3_CONFIG_FILE if run_dir is not None else None
    if t3_config is not None and t3_config.is_file():
        size = json.loads(t3_config.read_text(encoding="utf-8")).get("text_tokens_dict_size")
        if size is not None and size != hp.text_tokens_dict_size:
            differ.append(f"text vocabulary: {size} ids there, {hp.text_tokens_dict_size} with this tokenizer")
    if differ:
        raise TrainingSetupError(f"cannot resume from {checkpoint}: it was trained with other settings "
                                 f"({'; '.join(differ)}). Resume with the settings in {config_file}, "
                                 f"or start a new output_dir")
    for key in ("base_model", "base_checkpoint"):
        if key in saved and saved[key] != now[key]:
            logger.warning("resuming %s, trained from %s %r, with %s %r: the weights come from the checkpoint",
                           checkpoint, key, saved[key], key, now[key])
