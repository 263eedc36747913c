"""``T3Trainer``: ``transformers.Trainer`` for the extended T3, with what TTS fine-tuning needs on top.

- The model is :class:`T3TrainingModel`, a thin ``nn.Module`` around upstream's ``T3`` whose forward is
  :func:`amharic_tts.model.loss.t3_loss`; the speech loss, text loss and speech-token accuracy are logged next
  to the loss, with the share of real (non-pad) positions in the batches.
- No weight decay on embeddings, norms and biases; frozen parameters never reach the optimizer.
- Evaluation: token-weighted speech loss, accuracy and perplexity on the validation split (NaN, with a warning,
  when it has no speech target).
- A non-finite loss skips its backward pass (every process agrees); ``max_bad_steps`` in a row stop the run
  after a checkpoint of the last good state.
- SIGINT/SIGTERM: checkpoint at the next step boundary and a clean exit; a second signal exits at once.
- Checkpoints are written to ``tmp-checkpoint-N`` and renamed to ``checkpoint-N`` when complete, so a kill
  while saving never leaves a half checkpoint that resuming from ``latest`` would pick; a full disk while saving
  stops the run with a message that says so.
- The length-grouped sampler (or the token-budget batch sampler) is seeded per epoch, and the collator's
  randomness lives in the RNG state the Trainer checkpoints, so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import signal
import time

import torch
from torch import nn
from transformers import Trainer, TrainerCallback

from amharic_tts.formats import CHECKPOINT_CONFIG_FILE, CONFIG_FILE, TRAINER_STATE_FILE, latest_checkpoint
from amharic_tts.model.loss import T3Batch, t3_loss
from amharic_tts.training.sampler import SeededLengthGroupedSampler, TokenBudgetBatchSampler

logger = logging.getLogger(__name__)

TMP_PREFIX = "tmp-checkpoint"
LOW_DISK_BYTES = 64 * 2**20  # a failed checkpoint write with less free space than this is a full disk


class T3TrainingModel(nn.Module):
    """Upstream ``T3`` (as ``self.t3``) with the training loss as its forward."""

    accepts_loss_kwargs = False  # the loss is a mean per micro-batch; the Trainer scales for accumulation

    def __init__(self, t3, text_loss_weight: float = 0.1):
        super().__init__()
        self.t3 = t3
        self.text_loss_weight = text_loss_weight

    def forward(self, text_tokens, text_token_lens, speech_tokens, speech_token_lens, speaker_emb,
                cond_prompt_speech_tokens=None, emotion_adv=None, text_keep=None, prompt_keep=None):
        batch = T3Batch(text_tokens, text_token_lens, speech_tokens, speech_token_lens, speaker_emb,
                        cond_prompt_speech_tokens, emotion_adv, text_keep, prompt_keep)
        out = t3_loss(self.t3, batch, text_loss_weight=self.text_loss_weight, check=False)
        targets = (speech_token_lens - 1).to(out.loss.dtype)
        return {"loss": out.loss, "speech_loss": out.speech_loss.detach(), "text_loss": out.text_loss.detach(),
                "speech_accuracy": out.speech_accuracy.detach(),
                "num_speech_targets": torch.tensor(out.num_speech_targets, device=out.loss.device),
                # (B, 3): each sample's speech loss sum, top-1 hits and targets (evaluation sums these)
                "speech_per_sample": torch.stack([out.speech_loss_per_sample * targets, out.speech_hits_per_sample,
                                                  targets], dim=1)}

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs=None):
        self.t3.tfmr.gradient_checkpointing_enable(gradient_checkpointing_kwargs=gradient_checkpointing_kwargs)


class T3Trainer(Trainer):
    def __init__(self, *args, collator=None, **kwargs):
        super().__init__(*args, data_collator=collator, **kwargs)
        self.collator = collator
        self.eval_collator = None  # a collator over the evaluation set (prompts from its rows, else the training set)
        self.bad_steps = 0
        self.intelligibility = None  # an IntelligibilityScorer when eval_asr_model is set
        self.stop_reason: str | None = None
        self._parts: dict[str, float] = {}
        self._parts_count = 0
        self._step_parts: dict[str, float] = {}
        self._real_positions = self._padded_positions = 0  # since the last log, for real_token_share
        self.tokens_at_start = 0  # state.num_input_tokens_seen when this session's training began
        self.steps_at_start = 0  # state.global_step then

    # ------------------------------------------------------------------ optimisation
    def get_decay_parameter_names(self, model) -> list[str]:
        no_decay = ("emb", "norm", "bias")
        return [name for name in super().get_decay_parameter_names(model)
                if not any(part in name for part in no_decay)]

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy == "group_by_length" and "length" in dataset.column_names:
            return SeededLengthGroupedSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                              dataset["length"], seed=self.args.seed)
        return super()._get_train_sampler(train_dataset)

    def get_train_dataloader(self):
        if not self.args.max_tokens_per_batch:
            return super().get_train_dataloader()
        from functools import partial

        from torch.utils.data import DataLoader
        from transformers.trainer_utils import seed_worker

        sampler = self.token_budget_sampler()
        loader = DataLoader(self.train_dataset, batch_sampler=sampler, collate_fn=self.data_collator,
                            num_workers=self.args.dataloader_num_workers, pin_memory=self.args.dataloader_pin_memory,
                            persistent_workers=self.args.dataloader_persistent_workers,
                            prefetch_factor=self.args.dataloader_prefetch_factor,
                            worker_init_fn=partial(seed_worker, num_workers=self.args.dataloader_num_workers,
                                                   rank=self.args.process_index))
        return self.accelerator.prepare(loader)

    def token_budget_sampler(self) -> TokenBudgetBatchSampler:
        """The batches of ``max_tokens_per_batch`` (made once: the trainer sets its epoch at each epoch start)."""
        if getattr(self, "_token_budget_sampler", None) is None:
            from amharic_tts.model.loss import layout_overhead

            sampler = TokenBudgetBatchSampler(self.train_dataset["length"], self.args.max_tokens_per_batch,
                                              seed=self.args.seed,
                                              overhead=layout_overhead(self.accelerator.unwrap_model(
                                                  self.model).t3.hp))
            logger.info("token budget %d per batch: %d batches of %.1f samples on average, real-token share %.3f",
                        sampler.max_tokens, len(sampler), len(self.train_dataset) / max(1, len(sampler)),
                        sampler.real_token_share())
            self._token_budget_sampler = sampler
        return self._token_budget_sampler

    def _issue_warnings_after_load(self, load_result) -> None:
        """The Trainer loads a resumed checkpoint non-strictly and only warns: a checkpoint of another model
        (LoRA or not, another vocabulary) would then train on from the wrong weights. Refuse instead."""
        if load_result.missing_keys or load_result.unexpected_keys:
            from amharic_tts.training.run import TrainingSetupError

            def some(keys):
                return ", ".join(list(keys)[:3]) + (" ..." if len(keys) > 3 else "")

            raise TrainingSetupError(
                f"the checkpoint does not fit this model ({len(load_result.missing_keys)} missing weights: "
                f"{some(load_result.missing_keys) or '-'}; {len(load_result.unexpected_keys)} unexpected: "
                f"{some(load_result.unexpected_keys) or '-'}): resume with the settings it was trained with")

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        if model.training:  # added to the logged parts by training_step once the step is known to be finite
            self._step_parts = {key: float(outputs[key]) for key in ("speech_loss", "text_loss", "speech_accuracy")}
        return (outputs["loss"], outputs) if return_outputs else outputs["loss"]

    def training_step(self, model, inputs, num_items_in_batch=None):
        model.train()
        if hasattr(self.optimizer, "train") and callable(self.optimizer.train):
            self.optimizer.train()  # schedule-free optimizers, as the Trainer's own step
        inputs = self._prepare_inputs(inputs)
        with self.compute_loss_context_manager():
            loss = self.compute_loss(model, inputs)
        if self.args.n_gpu > 1:  # nn.DataParallel (several GPUs without accelerate launch)
            loss = loss.mean()
        # one reduction for: a non-finite loss on any process, and the real tokens of this step on all of them
        real = inputs["text_token_lens"].sum() + inputs["speech_token_lens"].sum()
        step = torch.stack([(~torch.isfinite(loss.detach())).float(), real.float()]).to(loss.device)
        if self.accelerator.num_processes > 1:
            step = self.accelerator.reduce(step, reduction="sum")
        if step[0].item() > 0:
            self.bad_steps += 1
            logger.warning("non-finite loss at step %d (%d in a row): this batch is skipped",
                           self.state.global_step + 1, self.bad_steps)
            return torch.zeros((), device=loss.device)
        self.bad_steps = 0
        for key, value in self._step_parts.items():  # the loss parts of kept steps only
            self._parts[key] = self._parts.get(key, 0.0) + value
        self._parts_count += 1
        # statistics counted here, in the main process (collators may run in dataloader workers): tokens seen
        # over the whole run (kept in the trainer state, so across resumes) and this process's padding
        self.state.num_input_tokens_seen += int(step[1].item())
        self._real_positions += int(real)
        self._padded_positions += inputs["text_tokens"].numel() + inputs["speech_tokens"].numel()
        loss = loss / self.current_gradient_accumulation_steps
        from accelerate.utils import DistributedType

        # DeepSpeed scales by the accumulation steps itself unless told not to (the Trainer's own step does this)
        deepspeed = self.accelerator.distributed_type == DistributedType.DEEPSPEED
        self.accelerator.backward(loss, **({"scale_wrt_gas": False} if deepspeed else {}))
        return loss.detach()

    # ------------------------------------------------------------------ logging
    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self._parts_count:
            # every process logs at the same steps: the parts and padding of all of them, as the Trainer's loss
            keys = ("speech_loss", "text_loss", "speech_accuracy")
            sums = torch.tensor([self._parts.get(k, 0.0) for k in keys]
                                + [self._parts_count, self._real_positions, self._padded_positions],
                                dtype=torch.float32, device=self.args.device)
            if self.accelerator.num_processes > 1:
                sums = self.accelerator.reduce(sums, reduction="sum")
            sums = sums.tolist()
            for key, total in zip(keys, sums):
                logs[key] = round(total / sums[3], 4)
            if sums[5]:
                logs["real_token_share"] = round(sums[4] / sums[5], 4)
            self._parts, self._parts_count = {}, 0
            self._real_positions = self._padded_positions = 0
        super().log(logs, start_time) if start_time is not None else super().log(logs)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        if dataset is None or len(dataset) == 0:
            return {}
        collator = self.eval_collator or self.collator
        train_collator, self.data_collator = self.data_collator, collator
        try:
            dataloader = self.get_eval_dataloader(dataset)
        finally:
            self.data_collator = train_collator
        model = self.model
        was_training = model.training
        model.eval()
        totals = torch.zeros(3, device=self.args.device)  # loss * n, hits, n
        with collator.evaluating() if collator else _nothing():
            with torch.no_grad():
                for inputs in dataloader:
                    inputs = self._prepare_inputs(inputs)
                    with self.compute_loss_context_manager():
                        out = model(**inputs)
                    # every process's samples, without the repeats that even out the last batches
                    totals += self.accelerator.gather_for_metrics(out["speech_per_sample"].float()).sum(0)
        model.train(was_training)
        metrics = speech_metrics(*totals.tolist(), prefix=metric_key_prefix)
        if self.intelligibility is not None:
            metrics.update({f"{metric_key_prefix}_{k}": v for k, v in self._intelligibility().items()})
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    def _intelligibility(self) -> dict[str, float]:
        """CER/WER from rank 0, shared with every rank (all of them choose the best checkpoint by it)."""
        scores = [self.intelligibility() if self.is_world_process_zero() else None]
        if self.accelerator.num_processes > 1:
            from accelerate.utils import broadcast_object_list

            broadcast_object_list(scores, from_process=0)
        return scores[0]

    # ------------------------------------------------------------------ checkpoints
    def _save_checkpoint(self, model, trial):
        """Everything a checkpoint holds, written under a temporary name and renamed when complete. A full disk
        stops the run with a :class:`~amharic_tts.cli.DiskFullError` that says so (the half-written checkpoint is
        removed, freeing what it took, and the last complete one is named)."""
        try:
            self._save_staged_checkpoint(model, trial)
        except (OSError, RuntimeError) as err:  # torch.save reports a full disk as a RuntimeError
            from amharic_tts.cli import DiskFullError, is_disk_full

            run_dir = self._get_output_dir(trial=trial)
            free = shutil.disk_usage(run_dir).free if os.path.isdir(run_dir) else None
            if not (is_disk_full(err) or (free is not None and free < LOW_DISK_BYTES)):
                raise
            if self.args.should_save:
                shutil.rmtree(os.path.join(run_dir, f"{TMP_PREFIX}-{self.state.global_step}"), ignore_errors=True)
            last = latest_checkpoint(run_dir)
            raise DiskFullError(
                f"the disk is full: checkpoint-{self.state.global_step} could not be saved in {run_dir}"
                + (f" ({free / 2**20:.0f} MiB free)" if free is not None else "")
                + (f"; the last complete checkpoint is {last}" if last else "; no checkpoint was saved")
                + ". Free some space (or lower save_total_limit), then resume with --resume_from_checkpoint latest"
            ) from err

    def _save_staged_checkpoint(self, model, trial):
        from transformers.trainer_utils import rotate_checkpoints

        run_dir = self._get_output_dir(trial=trial)
        final = os.path.join(run_dir, f"checkpoint-{self.state.global_step}")
        staging = os.path.join(run_dir, f"{TMP_PREFIX}-{self.state.global_step}")
        if self.args.should_save and os.path.isdir(staging):
            shutil.rmtree(staging)
        self.accelerator.wait_for_everyone()
        self.store_flos()
        self.save_model(staging, _internal_call=True)
        if not self.args.save_only_model:
            self._save_optimizer_and_scheduler(staging)
            self._save_scaler(staging)
            self._save_rng_state(staging)

        best = self.state.best_global_step
        if best:  # as Trainer does: rotation keeps the best checkpoint, load_best_model_at_end finds it
            best_dir = os.path.join(run_dir, f"checkpoint-{best}")
            if best == self.state.global_step or os.path.isdir(best_dir):
                self.state.best_model_checkpoint = best_dir
        if self.args.should_save:
            self.state.save_to_json(os.path.join(staging, TRAINER_STATE_FILE))
            run_config = os.path.join(run_dir, CONFIG_FILE)  # the settings this checkpoint was made with
            if os.path.isfile(run_config):  # (a resume is checked against it; a later start rewrites the run's)
                shutil.copyfile(run_config, os.path.join(staging, CHECKPOINT_CONFIG_FILE))
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            if os.path.isdir(final):
                shutil.rmtree(final)
            os.replace(staging, final)
            rotate_checkpoints(output_dir=run_dir, save_total_limit=self.args.save_total_limit,
                               best_model_checkpoint=self.state.best_model_checkpoint, use_mtime=False)
        self.accelerator.wait_for_everyone()


def speech_metrics(loss_sum: float, hits: float, targets: float, *, prefix: str = "eval") -> dict[str, float]:
    """Token-weighted speech loss, top-1 accuracy and perplexity from their sums over ``targets`` speech targets.
    With no target at all they are not defined: NaN (never 0/0 read as a perfect 1.0), ``speech_targets`` 0 and
    a warning say so."""
    targets = int(round(targets))
    if targets == 0:
        logger.warning("%s: no speech targets (no sample with speech tokens was evaluated): loss, accuracy and "
                       "perplexity are not defined and are reported as NaN", prefix)
        loss = accuracy = perplexity = float("nan")
    else:
        loss, accuracy = loss_sum / targets, hits / targets
        perplexity = math.exp(min(loss, 50.0))
    return {f"{prefix}_loss": loss, f"{prefix}_speech_loss": loss, f"{prefix}_speech_accuracy": accuracy,
            f"{prefix}_perplexity": perplexity, f"{prefix}_speech_targets": targets}


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class StopControlCallback(TrainerCallback):
    """Graceful stop on SIGINT/SIGTERM and after ``max_bad_steps`` non-finite losses in a row; also tells the
    collator which epoch it is in (its per-sample randomness depends on it)."""

    def __init__(self, trainer: T3Trainer):
        self.trainer = trainer
        self.signalled = 0
        self._previous = {}

    def _handle(self, signum, frame):
        self.signalled += 1
        if self.signalled > 1:
            logger.error("second signal: exiting now without a checkpoint")
            os._exit(128 + signum)
        logger.warning("signal %d: saving a checkpoint at the next step boundary, then stopping "
                       "(send it again to exit at once)", signum)

    def on_train_begin(self, args, state, control, **kwargs):
        self.trainer.tokens_at_start = state.num_input_tokens_seen  # a resumed run's state is loaded by now
        self.trainer.steps_at_start = state.global_step
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass

    def on_train_end(self, args, state, control, **kwargs):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def on_epoch_begin(self, args, state, control, **kwargs):
        epoch = int(math.floor(state.epoch + 1e-9))  # a resumed run starts inside an epoch: floor, not round
        if self.trainer.collator is not None:
            self.trainer.collator.epoch = epoch
        if self.trainer.args.max_tokens_per_batch:  # Accelerate's set_epoch does not reach it once it is sharded
            self.trainer.token_budget_sampler().set_epoch(epoch)  # and skip-wrapped (a resumed multi-process run)

    def on_step_end(self, args, state, control, **kwargs):
        stop = torch.tensor(float(self.signalled > 0), device=args.device)
        if self.trainer.accelerator.num_processes > 1:
            stop = self.trainer.accelerator.reduce(stop, reduction="sum")
        if stop.item() > 0:
            self.trainer.stop_reason = "signal"
        elif self.trainer.bad_steps >= args.max_bad_steps:
            self.trainer.stop_reason = "non_finite"
        if self.trainer.stop_reason:
            control.should_save = True
            control.should_training_stop = True
        return control


class LogFileCallback(TrainerCallback):
    """Every log (training, evaluation, summary) as one JSON line in ``OUTPUT/log.jsonl`` with its step and
    wall time: what a dashboard (the studio's live curves) or a script reads while the run goes on."""

    FILENAME = "log.jsonl"

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        record = {"step": state.global_step, "epoch": state.epoch, "time": round(time.time(), 3), **logs}
        os.makedirs(args.output_dir, exist_ok=True)
        with open(os.path.join(args.output_dir, self.FILENAME), "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=float) + "\n")


def read_log(output_dir: str) -> list[dict]:
    """The records of ``OUTPUT/log.jsonl`` (a resumed run's repeated steps: the last record of each kind wins)."""
    path = os.path.join(output_dir, LogFileCallback.FILENAME)
    if not os.path.isfile(path):
        return []
    records: dict[tuple, dict] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line being written right now
                continue
            kind = "eval" if any(k.startswith("eval_") for k in record) else "train" if "loss" in record else "end"
            records[(record.get("step"), kind)] = record
    return sorted(records.values(), key=lambda r: (r.get("step") or 0, "loss" not in r))
