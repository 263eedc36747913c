"""Voices: a reference clip -> what T3 and S3Gen are conditioned on (upstream's ``Conditionals``).

A voice is three things, all computed from one clip of the speaker:

- for T3: the voice encoder's speaker embedding (256 floats), a speech-token prompt of the first
  ``speech_cond_prompt_len`` tokens (150 = 6 s; the length training prompts with) and the exaggeration scalar;
- for S3Gen: its reference embedding of the first 10 s at 24 kHz (speaker x-vector, prompt mel and tokens).

The base repo's ``conds.pt`` (the default voice) stores exactly this in upstream's format, so a voice made here
is interchangeable with upstream's. Clips are decoded with :func:`amharic_tts.data.media.load_audio` (any format
PyAV reads), never with a second decoder.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

S3GEN_RATE = 24000  # S3Gen's output and reference rate
S3_RATE = 16000  # the S3 tokenizer's and the voice encoder's rate
PROMPT_SECONDS = 6.0  # T3's speech prompt (150 tokens at 25 Hz)
S3GEN_REFERENCE_SECONDS = 10.0  # S3Gen's reference
# The shortest speech prompt training gives (1 s: see amharic_tts.training.collator), and so the shortest
# reference clip a voice is made from: a clip under 6 s gives a prompt of its own length, as upstream's does.
MIN_PROMPT_TOKENS = 25
MIN_REFERENCE_SECONDS = MIN_PROMPT_TOKENS / 25
# S3Gen fails on a single speech token (its output is shorter than the fade it applies); fewer than this many
# tokens are no speech
MIN_VOCODER_TOKENS = 2
SAMPLES_PER_TOKEN = S3GEN_RATE // 25  # 40 ms of 24 kHz audio per speech token


class VoiceError(ValueError):
    """A reference clip that cannot make a voice (unreadable, too short, silent)."""


class _ReferenceLengthNote(logging.Filter):
    """Upstream S3Gen's ``embed_ref`` logs a warning on the root logger whenever a clip is not a whole number of
    40 ms speech tokens (most clips), then cuts the tokens to the mel's length: what it should do, nothing to act
    on. Only that message is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Reference mel length is not equal to 2 * reference token length")


@contextmanager
def _quiet_reference_length():
    root = logging.getLogger()  # upstream logs with logging.warning(), on the root logger itself
    note = _ReferenceLengthNote()
    root.addFilter(note)
    try:
        yield
    finally:
        root.removeFilter(note)


def _conditionals_classes():
    from chatterbox.models.t3.modules.cond_enc import T3Cond
    from chatterbox.mtl_tts import Conditionals

    return T3Cond, Conditionals


def load_reference(path: str | os.PathLike) -> np.ndarray:
    """A reference clip as mono float32 at 24 kHz; a clear :class:`VoiceError` for what cannot be a voice."""
    from amharic_tts.data.media import MediaError, load_audio

    path = Path(path)
    if not path.is_file():
        raise VoiceError(f"reference clip {path} does not exist")
    try:
        audio = load_audio(path, S3GEN_RATE)
    except MediaError as err:
        raise VoiceError(f"cannot read the reference clip {path}: {err}") from err
    check_reference(audio, S3GEN_RATE, str(path))
    return audio


def check_reference(audio: np.ndarray, sample_rate: int, name: str = "reference clip") -> None:
    seconds = len(audio) / sample_rate
    if seconds < MIN_REFERENCE_SECONDS:
        raise VoiceError(f"{name} is {seconds:.2f} s long; a voice needs at least {MIN_REFERENCE_SECONDS:.0f} s "
                         "(3-10 s of clean speech works best)")
    if not np.isfinite(audio).all() or float(np.abs(audio).max()) < 1e-4:
        raise VoiceError(f"{name} is silent (or not finite): record the speaker again")


@torch.inference_mode()
def make_conditionals(audio: np.ndarray, sample_rate: int, *, ve, s3gen, prompt_tokens: int = 150,
                      exaggeration: float = 0.5, device: str | torch.device = "cpu"):
    """Upstream ``Conditionals`` for the voice in ``audio`` (any rate; resampled here)."""
    import soxr

    T3Cond, Conditionals = _conditionals_classes()
    check_reference(audio, sample_rate)
    audio = np.asarray(audio, dtype=np.float32)
    wav24 = audio if sample_rate == S3GEN_RATE else soxr.resample(audio, sample_rate, S3GEN_RATE).astype(np.float32)
    wav16 = soxr.resample(wav24, S3GEN_RATE, S3_RATE).astype(np.float32)
    gen = reference_embedding(s3gen, wav24, device=device)
    prompt = None
    if prompt_tokens:
        prompt, _ = s3gen.tokenizer.forward([wav16[: int(PROMPT_SECONDS * S3_RATE)]], max_len=prompt_tokens)
        prompt = torch.atleast_2d(prompt).to(device)
    speaker = torch.from_numpy(ve.embeds_from_wavs([wav16], sample_rate=S3_RATE)).mean(0, keepdim=True)
    t3_cond = T3Cond(speaker_emb=speaker, cond_prompt_speech_tokens=prompt,
                     emotion_adv=exaggeration * torch.ones(1, 1, 1)).to(device=device)
    return Conditionals(t3_cond, gen)


def reference_embedding(s3gen, wav24: np.ndarray, *, device: str | torch.device = "cpu") -> dict:
    """S3Gen's reference (``embed_ref``) of a 24 kHz clip, cut to upstream's first
    :data:`S3GEN_REFERENCE_SECONDS`: the timbre :func:`vocode` speaks in."""
    with _quiet_reference_length():
        return s3gen.embed_ref(wav24[: int(S3GEN_REFERENCE_SECONDS * S3GEN_RATE)], S3GEN_RATE, device=device)


@torch.inference_mode()
def vocode(s3gen, tokens: torch.Tensor, ref_dict: dict) -> np.ndarray:
    """24 kHz audio of speech tokens in the timbre of ``ref_dict`` (S3Gen's reference embedding).

    As upstream's v3 recipe does, the audio of the last token is left out: it is emitted just before
    ``stop_speech`` and decodes to about 40 ms of noise. Fewer than :data:`MIN_VOCODER_TOKENS` tokens give no audio.
    """
    if len(tokens) < MIN_VOCODER_TOKENS:
        return np.zeros(0, dtype=np.float32)
    device = next(s3gen.parameters()).device
    wav, _ = s3gen.inference(speech_tokens=tokens.to(device), ref_dict=ref_dict)
    wav = wav.squeeze(0).float().cpu().numpy()
    return wav[: (len(tokens) - 1) * SAMPLES_PER_TOKEN]


def with_exaggeration(conds, exaggeration: float):
    """The same voice with another exaggeration (T3's emotion scalar); ``conds`` is left as it is."""
    T3Cond, Conditionals = _conditionals_classes()
    t3 = conds.t3
    if float(t3.emotion_adv.flatten()[0]) == float(exaggeration):
        return conds
    device = t3.speaker_emb.device
    new = T3Cond(speaker_emb=t3.speaker_emb, cond_prompt_speech_tokens=t3.cond_prompt_speech_tokens,
                 emotion_adv=exaggeration * torch.ones(1, 1, 1, device=device))
    return Conditionals(new, conds.gen)


def load_conditionals(path: str | os.PathLike, device: str | torch.device = "cpu"):
    """A saved voice (``conds.pt``, upstream's format), read with ``weights_only=True``."""
    _, Conditionals = _conditionals_classes()
    try:
        return Conditionals.load(str(path), map_location=device).to(device)
    except Exception as err:
        raise VoiceError(f"cannot read the voice file {path} (upstream's conds.pt format): {err}") from err


def save_conditionals(conds, path: str | os.PathLike) -> None:
    conds.save(Path(path))
