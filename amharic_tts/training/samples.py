"""Listen to progress: render fixed validation sentences as audio during training.

Every ``sample_steps`` steps (and at the last step), the first ``num_samples`` validation sentences are
turned into speech tokens by the decoder everything else speaks with (:mod:`amharic_tts.model.generate`: the
training layout, upstream's v3 sampling recipe with CFG, a fixed seed per sentence, all sentences in one
batch), conditioned as the evaluation collator conditions them (a speech prompt from another utterance of the
speaker and that utterance's speaker embedding), and then into a 24 kHz waveform by the base model's S3Gen (each
sentence's own recording is the voice reference), the last token's audio left out as in ``AmharicTTS``. Results
go to every audio logger the run reports to (TensorBoard ``samples/N``; wandb when ``report_to`` names it) and to
``OUTPUT/samples/step-S/N.wav`` with the text and tokens beside them. Without an ``s3gen.pt`` in the base, only
the tokens are written.

With ``eval_asr_model``, every evaluation also renders the first ``eval_asr_samples`` validation sentences the
same way and reports their CER/WER through a CTC ASR model (:class:`IntelligibilityScorer`), so checkpoints can
be kept by intelligibility (``metric_for_best_model: cer``) rather than by loss.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
from transformers import TrainerCallback

from amharic_tts.model.generate import SamplingConfig, SpeechRequest, generate_many, speech_only
from amharic_tts.model.voice import MIN_VOCODER_TOKENS, S3GEN_RATE, reference_embedding, vocode

logger = logging.getLogger(__name__)



class SpeechRenderer:
    """Validation rows -> speech tokens (the shipped decoder, each row prompted as evaluation prompts it) -> 24 kHz
    audio."""

    def __init__(self, trainer, model_args, sampling: SamplingConfig | None = None):
        self.trainer = trainer
        self.model_args = model_args
        self.sampling = sampling or SamplingConfig()
        self._s3gen = None
        self._s3gen_missing = False

    def vocoder(self):
        if self._s3gen is None and not self._s3gen_missing:
            from amharic_tts.model.base import BaseModelError, load_s3gen

            try:
                self._s3gen = load_s3gen(self.model_args.base_model, revision=self.model_args.base_revision,
                                         device=self.trainer.args.device)
            except BaseModelError as err:
                logger.info("no vocoder for audio samples (%s): writing speech tokens only", err)
                self._s3gen_missing = True
        return self._s3gen

    def conditioning(self, row: dict):
        """``(text tokens, upstream T3Cond)`` of a validation row, exactly as the evaluation collator makes them."""
        from chatterbox.models.t3.modules.cond_enc import T3Cond

        collator = self.trainer.eval_collator or self.trainer.collator
        with collator.evaluating():
            inputs = collator([row])
        text = inputs["text_tokens"][0, : int(inputs["text_token_lens"][0])]
        cond = T3Cond(speaker_emb=inputs["speaker_emb"], cond_prompt_speech_tokens=inputs["cond_prompt_speech_tokens"],
                      emotion_adv=inputs["emotion_adv"].reshape(-1, 1, 1))
        return text, cond

    @torch.no_grad()
    def render(self, rows: list[dict]) -> list[tuple[torch.Tensor, np.ndarray | None]]:
        """``(speech tokens, waveform or None without a vocoder)`` for each row."""
        t3 = self.trainer.accelerator.unwrap_model(self.trainer.model).t3
        was_training = t3.training
        t3.eval()
        max_tokens = int(self.trainer.args.sample_max_seconds * 25)
        device = torch.device(self.trainer.args.device)
        try:
            requests = []
            for i, row in enumerate(rows):  # row i draws from its own generator: the same at every render
                text, cond = self.conditioning(row)
                generator = torch.Generator(device=device).manual_seed(self.trainer.args.seed + i)
                requests.append(SpeechRequest(text, cond, max_new_tokens=max_tokens, generator=generator))
            decoded = generate_many(t3, requests, sampling=self.sampling)  # all rows decoded together
        finally:
            t3.train(was_training)
        results = []
        for row, result in zip(rows, decoded):
            tokens = speech_only(result.tokens, t3.hp)  # only real speech tokens reach the vocoder
            results.append((tokens, self._synthesise(tokens, row)))
        return results

    def _synthesise(self, tokens: torch.Tensor, row: dict) -> np.ndarray | None:
        s3gen = self.vocoder()
        if s3gen is None or len(tokens) < MIN_VOCODER_TOKENS:
            return None
        return vocode(s3gen, tokens, reference_embedding(s3gen, _reference(row), device=self.trainer.args.device))


def _reference(row: dict) -> np.ndarray:
    """The sentence's own recording at 24 kHz (or a second of silence when it has none)."""
    import soxr

    from amharic_tts.data.features import decode_audio_bytes

    audio_item = row.get("audio")
    if audio_item and audio_item.get("bytes"):
        audio, rate = decode_audio_bytes(audio_item["bytes"])
        return soxr.resample(audio, rate, S3GEN_RATE).astype(np.float32)
    return np.zeros(S3GEN_RATE, dtype=np.float32)


class AudioSampleCallback(TrainerCallback):
    def __init__(self, trainer, model_args, eval_set, renderer: SpeechRenderer | None = None):
        self.trainer = trainer
        self.rows = [eval_set[i] for i in range(min(trainer.args.num_samples, len(eval_set)))]
        self.renderer = renderer or SpeechRenderer(trainer, model_args)

    def on_step_end(self, args, state, control, **kwargs):
        # the last step renders too (at on_train_end TensorBoard's writer is already closed)
        last = state.max_steps > 0 and state.global_step >= state.max_steps
        if (args.sample_steps > 0 and state.global_step % args.sample_steps == 0) or last:
            self.render(state.global_step)

    def render(self, step: int) -> list[dict]:
        if not self.trainer.is_world_process_zero() or not self.rows:
            return []
        out_dir = Path(self.trainer.args.output_dir) / "samples" / f"step-{step}"
        out_dir.mkdir(parents=True, exist_ok=True)
        results = []
        for i, (row, (tokens, wav)) in enumerate(zip(self.rows, self.renderer.render(self.rows))):
            record = {"index": i, "text": row["text"], "speech_tokens": tokens.tolist(), "step": step}
            if wav is not None:
                import soundfile as sf

                sf.write(out_dir / f"{i}.wav", wav, S3GEN_RATE)
                record["wav"] = str(out_dir / f"{i}.wav")
            results.append((record, wav))
        for log in audio_loggers(self.trainer):
            log(step, [(record["index"], record["text"], wav) for record, wav in results])
        records = [record for record, _ in results]
        (out_dir / "samples.json").write_text(json.dumps(records, ensure_ascii=False, indent=2) + "\n",
                                              encoding="utf-8")
        return records


class IntelligibilityScorer:
    """CER/WER of validation sentences at each evaluation: rendered as in :class:`AudioSampleCallback`,
    transcribed by a CTC ASR model and scored by the local ``amharic_cer`` metric (one normaliser for both)."""

    def __init__(self, renderer: SpeechRenderer, rows: list[dict], asr_model: str, asr_lang: str = "amh"):
        self.renderer = renderer
        self.rows = rows
        self.asr_model = asr_model
        self.asr_lang = asr_lang
        self._transcriber = None

    def transcriber(self):
        if self._transcriber is None:
            from amharic_tts.evaluation.asr import CTCTranscriber

            self._transcriber = CTCTranscriber(self.asr_model, target_lang=self.asr_lang,
                                               device=self.renderer.trainer.args.device)
        return self._transcriber

    def __call__(self) -> dict[str, float]:
        from amharic_tts.evaluation.metrics import load_amharic_cer

        rendered = self.renderer.render(self.rows)
        wavs = [wav if wav is not None else np.zeros(S3GEN_RATE // 10, dtype=np.float32) for _, wav in rendered]
        transcripts = self.transcriber().transcribe(wavs, sample_rate=S3GEN_RATE)
        result = load_amharic_cer().compute(predictions=transcripts, references=[row["text"] for row in self.rows])
        return {"cer": float(result["cer"]), "wer": float(result["wer"])}


def audio_loggers(trainer) -> list:
    """A function ``log(step, [(index, text, wav or None), ...])`` for every logger of the run that takes audio:
    TensorBoard, and Weights & Biases when ``report_to`` names it (the Trainer's own callbacks hold them)."""
    from transformers.integrations import TensorBoardCallback, WandbCallback

    loggers = []
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, TensorBoardCallback) and callback.tb_writer is not None:
            loggers.append(_tensorboard_log(callback.tb_writer))
        elif isinstance(callback, WandbCallback) and getattr(callback, "_initialized", False):
            loggers.append(_wandb_log(callback._wandb))
    return loggers


def _tensorboard_log(writer):
    def log(step: int, samples: list) -> None:
        for i, text, wav in samples:
            if wav is not None:
                writer.add_audio(f"samples/{i}", torch.from_numpy(wav)[None], step, S3GEN_RATE)
            writer.add_text(f"samples/{i}/text", text, step)
        writer.flush()

    return log


def _wandb_log(wandb):
    def log(step: int, samples: list) -> None:
        audio = {f"samples/{i}": wandb.Audio(wav, sample_rate=S3GEN_RATE, caption=text)
                 for i, text, wav in samples if wav is not None}
        if audio:  # on the Trainer's step axis (its callback defines train/global_step as wandb's step metric)
            wandb.log({**audio, "train/global_step": step})

    return log
