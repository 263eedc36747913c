"""Export a training run or checkpoint as a Hub-ready model folder, and optionally push it.

    python -m amharic_tts.export --checkpoint runs/am/checkpoint-5000 --output exported/am \\
        [--dtype bfloat16] [--include-base] [--evaluation eval/results.json] [--push-to-hub user/repo --private]

writes (see :mod:`amharic_tts.inference` for how it is read)::

    t3_am.safetensors      the fine-tuned T3, LoRA merged, plain tensors (float32 or bfloat16)
    tokenizer.json, tokenizer_config.json   the merged tokenizer (its normaliser settings inside)
    config.json            format, base repo + revision for the unchanged parts, T3 config, normaliser settings,
                           training and data facts
    README.md              the model card (huggingface_hub.ModelCard)
    ve.pt, s3gen.pt, conds.pt   with --include-base: the base's unchanged parts, so the repo works on its own

``push_to_hub: true`` in a training config runs the same export and push at the end of training.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from transformers import TrainerCallback

from amharic_tts.cli import UserError, add_console_arguments, run_cli
from amharic_tts.formats import (CONFIG_FILE, EVALUATION_FILE, FORMAT_VERSION, HUB_CHECKPOINT, MODEL_CONFIG_FILE,
                                 MODEL_FORMAT, SAMPLES_DIR, SUMMARY_FILE, T3_FILE, TOKENIZER_DIR, TOKENIZER_FILES,
                                 TRAINER_STATE_FILE, WEIGHTS_FILE, checkpoint_step, find_run_dir, load_trained_t3,
                                 read_train_config, speech_layout)

logger = logging.getLogger(__name__)

BASE_PARTS = ("ve.pt", "s3gen.pt")
DTYPES = ("float32", "bfloat16", "float16")
HUB_STAGING = ".hub-sync"  # inside a run: what the background pushes upload
# what the default voice says on the model card (news, a greeting, numbers read as words)
CARD_SAMPLE_TEXTS = (
    "ሰላም፣ እንዴት ነህ? ዛሬ አየሩ ጥሩ ነው።",
    "ኢትዮጵያ በምሥራቅ አፍሪካ የምትገኝ አገር ናት።",
    "ስብሰባው ነገ ከጠዋቱ 3 ሰዓት ላይ ይጀምራል።",
)


@dataclass
class ExportResult:
    folder: Path
    config: dict
    step: int | None


def export_model(checkpoint: str | Path, output: str | Path, *, dtype: str = "float32", include_base: bool = False,
                 license: str = "mit", evaluation: dict | None = None, repo_id: str | None = None,
                 samples: int = 0) -> ExportResult:
    """Write the model folder for a run's output folder or one of its ``checkpoint-N`` folders; with ``samples``
    the default voice speaks that many of :data:`CARD_SAMPLE_TEXTS` into ``samples/`` and the card plays them."""
    from amharic_tts.outputs import output_lock, refuse_foreign_output, replace_folder, staging_folder

    checkpoint, output = Path(checkpoint), Path(output)
    if dtype not in DTYPES:
        raise UserError(f"--dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    run_dir = find_run_dir(checkpoint)
    if run_dir is None:
        raise UserError(f"{checkpoint} is not a training run or checkpoint (no {CONFIG_FILE} in it or its parent)")
    if not (checkpoint / WEIGHTS_FILE).is_file():
        raise UserError(f"{checkpoint} has no {WEIGHTS_FILE}: pass a checkpoint-N folder or a finished run")
    if output.resolve() in (checkpoint.resolve(), run_dir.resolve()):
        raise UserError("--output must be a new folder, not the run or checkpoint itself")
    train_config = read_train_config(run_dir)
    model_args, data_args, training_args = (train_config.get(k, {}) for k in ("model", "data", "training"))

    refuse_foreign_output(output, marker=MODEL_CONFIG_FILE, holds="an exported model")
    with output_lock(output, what="export"):  # written beside the output, swapped in only when complete
        staging = staging_folder(output)
        try:
            result = _write_export(checkpoint, staging, run_dir, model_args, training_args, data_args, dtype=dtype,
                                   include_base=include_base, license=license, evaluation=evaluation,
                                   repo_id=repo_id, samples=samples)
            replace_folder(staging, output)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    logger.info("exported %s (step %s) to %s", checkpoint, result.step, output)
    return ExportResult(output, result.config, result.step)


def _write_export(checkpoint: Path, output: Path, run_dir: Path, model_args: dict, training_args: dict,
                  data_args: dict, *, dtype, include_base, license, evaluation, repo_id,
                  samples: int = 0) -> ExportResult:
    import torch
    from safetensors.torch import save_file

    from amharic_tts import __version__
    from amharic_tts.hub import model_card
    from amharic_tts.model.base import CONDS_FILE, resolve_base_dir, t3_config_to_dict

    t3 = load_trained_t3(checkpoint)
    tokenizer_config = json.loads((run_dir / TOKENIZER_DIR / "tokenizer_config.json").read_text(encoding="utf-8"))
    torch_dtype = getattr(torch, dtype)
    state = {k: v.detach().to(torch_dtype if v.is_floating_point() else v.dtype).contiguous()
             for k, v in t3.state_dict().items()}
    save_file(state, str(output / T3_FILE), metadata={"format": "pt"})
    for name in TOKENIZER_FILES:
        shutil.copy2(run_dir / TOKENIZER_DIR / name, output / name)

    base, revision = model_args.get("base_model", "ResembleAI/chatterbox"), model_args.get("base_revision")
    portable = hub_snapshot_of(base)
    if portable:  # a snapshot folder of the Hugging Face cache: name its repo and revision instead
        base, revision = portable
    elif Path(base).is_dir() and not include_base:
        logger.warning("the base model is the local folder %s: this export reads S3Gen, the voice encoder and the "
                       "default voice from there, so it loads only where that folder exists; export with "
                       "--include-base for a folder (and Hub repo) that loads anywhere", Path(base).resolve())
    if include_base:
        base_dir = resolve_base_dir(base, list(BASE_PARTS), optional=[CONDS_FILE], revision=revision)
        for name in (*BASE_PARTS, CONDS_FILE):
            if (base_dir / name).is_file():
                shutil.copyfile(base_dir / name, output / name)  # follows the Hub cache's symlinks
    step = checkpoint_step(checkpoint)
    config = {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "amharic_tts_version": __version__,
        "language": "am",
        "license": license,
        # a Hub id as it is; a local copy of the base by its absolute path (so the folder loads from anywhere)
        "base_model": str(Path(base).resolve()) if Path(base).is_dir() else base,
        "base_revision": revision,
        "base_files_included": include_base,
        "repo_id": repo_id,
        "sample_rate": 24000,
        "dtype": dtype,
        "text_vocab_size": t3.hp.text_tokens_dict_size,
        "base_text_vocab_size": int(tokenizer_config["base_vocab_size"]),
        "normalizer": tokenizer_config.get("normalizer"),
        "t3_config": t3_config_to_dict(t3.hp, with_llama_config=True),
        "speech_layout": speech_layout(),
        "training": _training_facts(checkpoint, run_dir, model_args, training_args, step),
        "data": _data_facts(data_args),
    }
    (output / MODEL_CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n",
                                            encoding="utf-8")
    if evaluation is not None:
        (output / EVALUATION_FILE).write_text(json.dumps(evaluation, ensure_ascii=False, indent=2) + "\n",
                                              encoding="utf-8")
    if samples:  # spoken by the folder written so far; recorded in its config, so a later card keeps them
        config["samples"] = [{"path": path, "text": text} for path, text in render_samples(output, samples)]
        (output / MODEL_CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n",
                                                encoding="utf-8")
    model_card(config, repo_id=repo_id, evaluation=evaluation).save(output / "README.md")
    return ExportResult(output, config, step)


def render_samples(folder: Path, count: int, *, seed: int = 0) -> list[tuple[str, str]]:
    """The exported model in ``folder`` speaks the first ``count`` of :data:`CARD_SAMPLE_TEXTS` with its default
    voice into ``folder/samples/NN.wav``; returns ``(relative path, text)`` pairs. A model that cannot speak
    here (its base parts not reachable) is exported without samples, with a warning."""
    import soundfile as sf

    from amharic_tts.inference import AmharicTTS

    try:
        tts = AmharicTTS.from_pretrained(folder)
    except Exception as err:  # the base's S3Gen / voice encoder / default voice: offline, or a local base gone
        logger.warning("no audio samples on the card: the exported model cannot be loaded here to speak them (%s)",
                       err)
        return []
    (folder / SAMPLES_DIR).mkdir(exist_ok=True)
    rendered = []
    for i, text in enumerate(CARD_SAMPLE_TEXTS[:count], 1):
        wav, sr = tts.generate(text, seed=seed)
        path = f"{SAMPLES_DIR}/{i:02d}.wav"
        sf.write(folder / path, wav.squeeze(0).numpy(), sr)
        rendered.append((path, text))
    logger.info("rendered %d audio sample(s) for the card", len(rendered))
    return rendered


def hub_snapshot_of(path: str) -> tuple[str, str] | None:
    """``(repo id, revision)`` when ``path`` is a model snapshot folder of the Hugging Face cache
    (``.../models--ORG--NAME/snapshots/REVISION``), else None."""
    folder = Path(path)
    if not folder.is_dir() or folder.parent.name != "snapshots" or not folder.parent.parent.name.startswith(
            "models--"):
        return None
    return folder.parent.parent.name[len("models--"):].replace("--", "/"), folder.name


def _training_facts(checkpoint: Path, run_dir: Path, model_args: dict, training_args: dict,
                    step: int | None) -> dict:
    facts = {k: training_args.get(k) for k in ("learning_rate", "lr_scheduler_type", "warmup_steps",
                                               "weight_decay", "per_device_train_batch_size",
                                               "gradient_accumulation_steps", "max_tokens_per_batch", "max_steps",
                                               "seed")}
    facts.update({k: model_args.get(k) for k in ("use_lora", "lora_r", "init_new_rows", "freeze_base_text_rows",
                                                 "base_checkpoint")})
    facts["precision"] = "bf16" if training_args.get("bf16") else "fp16" if training_args.get("fp16") else "fp32"
    facts["step"] = step
    state = checkpoint / TRAINER_STATE_FILE
    if state.is_file():
        trainer_state = json.loads(state.read_text(encoding="utf-8"))
        facts["epoch"] = round(float(trainer_state.get("epoch") or 0), 2)
        facts["tokens_seen"] = trainer_state.get("num_input_tokens_seen") or None  # real text + speech tokens
        losses = [entry["loss"] for entry in trainer_state.get("log_history", []) if "loss" in entry]
        if losses:
            facts["train_loss"] = round(float(losses[-1]), 4)  # the last logged loss
    summary = run_dir / SUMMARY_FILE
    if summary.is_file() and (checkpoint == run_dir or facts.get("step") == checkpoint_step(run_dir)):
        done = json.loads(summary.read_text(encoding="utf-8"))  # the run's end (the final save has no state)
        facts["tokens_seen"] = done.get("tokens_seen", facts.get("tokens_seen"))
        facts["mean_train_loss"] = done.get("train_loss")  # the Trainer's mean over this session's steps
    return {k: v for k, v in facts.items() if v is not None}


def _data_facts(data_args: dict) -> dict:
    from amharic_tts.data.prepare import REPORT_FILE

    dataset = data_args.get("dataset")
    if not dataset:
        return {}
    facts: dict = {"dataset": dataset if not Path(dataset).is_dir() else Path(dataset).name}
    report = Path(dataset) / REPORT_FILE
    if report.is_file():
        data = json.loads(report.read_text(encoding="utf-8"))
        totals = data.get("totals", {})
        facts.update(hours=totals.get("hours_kept"), segments=totals.get("segments"), splits=data.get("splits"))
    return {k: v for k, v in facts.items() if v is not None}


def export_and_push(checkpoint: str | Path, output: str | Path, *, repo_id: str | None = None,
                    private: bool = False, token: str | None = None, **options) -> ExportResult:
    """:func:`export_model`, then (with ``repo_id``) push the folder with the step in the commit message.

    The repo is created first, so the card names it with its namespace (a bare name goes to the token's user).
    """
    from amharic_tts import hub

    api = None
    if repo_id:
        api, repo_id = hub.create_repo(repo_id, private=private, token=token)
    result = export_model(checkpoint, output, repo_id=repo_id, **options)
    if repo_id:
        message = f"Amharic Chatterbox T3, step {result.step}" if result.step is not None else None
        print(f"pushed to {hub.upload_folder(api, result.folder, repo_id, message)}")
    return result


class HubSyncCallback(TrainerCallback):
    """``push_to_hub`` during training (``hub_strategy`` other than ``end``), as the Trainer does for its own
    models: at each save, an export of the new checkpoint (merged T3, tokenizer, card; no audio samples) is
    uploaded to the repo in the background while training goes on (not at the last step: the command line's final
    push of the finished run follows). ``checkpoint`` also uploads the checkpoint to
    ``last-checkpoint/`` (``resume_from_checkpoint: USER/REPO`` continues it anywhere), ``all_checkpoints`` to
    ``checkpoint-N/``. A save while the last upload is still running is skipped (the next one catches up);
    at the end of training the running uploads are waited for. Failed uploads are warnings, never a stopped run.
    """

    def __init__(self, repo_id: str, *, strategy: str = "every_save", private: bool = False,
                 token: str | None = None, api=None):
        from amharic_tts import hub

        if strategy not in ("every_save", "checkpoint", "all_checkpoints"):
            raise UserError(f"hub_strategy {strategy!r}: this run pushes with every_save, checkpoint, "
                            "all_checkpoints or end")
        self.api, self.repo_id = hub.create_repo(repo_id, private=private, token=token, api=api)
        self.strategy = strategy
        self.uploads: list = []  # (step, what, future)

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        running = [step for step, _, future in self.uploads if not future.done()]
        if running:
            logger.info("step %d: the upload of step %d is still running; this save is not pushed",
                        state.global_step, running[0])
            return
        self._collect()
        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if not checkpoint.is_dir():
            return
        staging = Path(args.output_dir) / HUB_STAGING
        message = f"Training in progress, step {state.global_step}"
        if state.global_step < state.max_steps:  # the last save: the final push (merged, with samples) follows
            export_model(checkpoint, staging / "export", repo_id=self.repo_id)
            self._upload(state.global_step, "export", staging / "export", None, message)
        if self.strategy in ("checkpoint", "all_checkpoints"):
            # linked, not read in place: the checkpoint may be rotated away while it uploads
            copy = staging / "checkpoint"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(checkpoint, copy, copy_function=_link_or_copy)
            where = HUB_CHECKPOINT if self.strategy == "checkpoint" else checkpoint.name
            self._upload(state.global_step, where, copy, where, f"{message} ({where})")

    def on_train_end(self, args, state, control, **kwargs):
        pending = sum(not future.done() for _, _, future in self.uploads)
        if pending:
            logger.info("waiting for %d upload(s) to %s", pending, self.repo_id)
        self._collect(wait=True)
        if state.is_world_process_zero:
            shutil.rmtree(Path(args.output_dir) / HUB_STAGING, ignore_errors=True)

    def _upload(self, step: int, what: str, folder: Path, path_in_repo: str | None, message: str) -> None:
        future = self.api.upload_folder(repo_id=self.repo_id, repo_type="model", folder_path=str(folder),
                                        path_in_repo=path_in_repo, commit_message=message, run_as_future=True)
        self.uploads.append((step, what, future))

    def _collect(self, wait: bool = False) -> None:
        """Report finished uploads (``wait``: all of them) and forget them."""
        kept = []
        for step, what, future in self.uploads:
            if not (wait or future.done()):
                kept.append((step, what, future))
                continue
            try:
                future.result()
                logger.info("pushed step %d (%s) to %s", step, what, self.repo_id)
            except Exception as err:
                from amharic_tts.hub import hub_error_message

                logger.warning("pushing step %d (%s) to %s failed: %s", step, what, self.repo_id,
                               hub_error_message(err))
        self.uploads = kept


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amharic_tts.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a training run's output folder or checkpoint-N folder")
    parser.add_argument("--output", required=True, help="the model folder to write")
    parser.add_argument("--dtype", default="float32", choices=DTYPES, help="T3 weights' dtype (default float32)")
    parser.add_argument("--include-base", action="store_true",
                        help="copy the base's S3Gen, voice encoder and default voice in (a standalone repo)")
    parser.add_argument("--evaluation", help="results JSON of `python -m amharic_tts.evaluate` for the card")
    parser.add_argument("--license", default="mit")
    parser.add_argument("--samples", type=int, default=len(CARD_SAMPLE_TEXTS),
                        help=f"audio samples of the default voice rendered for the card "
                             f"(0..{len(CARD_SAMPLE_TEXTS)}; default %(default)s)")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="push the folder to this Hub model repo")
    parser.add_argument("--private", action="store_true", help="create the Hub repo private")
    add_console_arguments(parser)
    args = parser.parse_args(argv)

    def run() -> int:
        evaluation = None
        if args.evaluation:
            path = Path(args.evaluation)
            if not path.is_file():
                raise UserError(f"evaluation results {path} do not exist")
            evaluation = json.loads(path.read_text(encoding="utf-8"))
        result = export_and_push(args.checkpoint, args.output, repo_id=args.push_to_hub, private=args.private,
                                 dtype=args.dtype, include_base=args.include_base, license=args.license,
                                 evaluation=evaluation, samples=args.samples)
        print(f"exported step {result.step} to {result.folder}")
        return 0

    return run_cli(run, debug=args.debug, verbose=args.verbose)


if __name__ == "__main__":
    raise SystemExit(main())
