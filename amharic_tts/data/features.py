"""Cached features of a 16 kHz segment, from the same base model as training.

- ``speech_tokens``: upstream's ``S3Tokenizer`` ids, 25 per second (int16; ids < 6561);
- ``speaker_emb``: 256 floats from upstream's ``VoiceEncoder`` (L2-normalised utterance embedding);
- ``mel``: the log-mel spectrogram the S3 tokenizer consumed, (frames, 128) at 100 frames per second, float16,
  so tokens can be recomputed (or other heads trained) without decoding audio again.

Work is batched: all log-mels of a batch are padded and quantised in one call, on the GPU when there is one.
Models are loaded once per process (``datasets.map`` workers included) and kept.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

S3_SAMPLE_RATE = 16000
MEL_BINS = 128

_EXTRACTORS: dict[tuple, "FeatureExtractor"] = {}


@dataclass
class Features:
    speech_tokens: list[np.ndarray]
    speaker_emb: np.ndarray  # (B, 256)
    mel: list[np.ndarray]  # (frames, 128) float16 each


class FeatureExtractor:
    def __init__(self, base: str, *, revision: str | None = None, device: str | None = None):
        from amharic_tts.model.base import load_s3_tokenizer, load_voice_encoder

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.s3 = load_s3_tokenizer(base, revision=revision, device=self.device)
        self.ve = load_voice_encoder(base, revision=revision, device=self.device)

    @classmethod
    def shared(cls, base: str, *, revision: str | None = None, device: str | None = None) -> "FeatureExtractor":
        """One extractor per process and settings (loading the real S3 tokenizer takes seconds)."""
        key = (base, revision, device)
        if key not in _EXTRACTORS:
            _EXTRACTORS[key] = cls(base, revision=revision, device=device)
        return _EXTRACTORS[key]

    @torch.inference_mode()
    def __call__(self, wavs: Sequence[np.ndarray]) -> Features:
        from s3tokenizer.utils import padding

        mels = [self.s3.log_mel_spectrogram(torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)))
                for w in wavs]  # (128, frames) each
        batch, lens = padding(mels)
        codes, code_lens = self.s3.quantize(batch.to(self.device), lens.to(self.device))
        tokens = [codes[i, : int(code_lens[i])].cpu().numpy().astype(np.int16) for i in range(len(wavs))]
        speaker = self.ve.embeds_from_wavs([np.asarray(w, dtype=np.float32) for w in wavs],
                                           sample_rate=S3_SAMPLE_RATE)
        return Features(tokens, np.asarray(speaker, dtype=np.float32),
                        [m.T.cpu().numpy().astype(np.float16) for m in mels])


def encode_flac(audio: np.ndarray, sample_rate: int = S3_SAMPLE_RATE) -> bytes:
    """16-bit FLAC bytes: lossless for 16-bit audio, about half the size of WAV, playable in the Hub viewer."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), sample_rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def decode_audio_bytes(data: bytes) -> tuple[np.ndarray, int]:
    import soundfile as sf

    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    return audio, rate


def add_features(batch: dict, *, base: str, revision: str | None = None, device: str | None = None,
                 cache_mel: bool = True) -> dict:
    """``datasets.map(batched=True)`` function: decode each row's audio and add the feature columns."""
    wavs = []
    for item in batch["audio"]:
        audio, rate = decode_audio_bytes(item["bytes"])
        if rate != S3_SAMPLE_RATE:
            raise ValueError(f"segment audio must be {S3_SAMPLE_RATE} Hz, got {rate}")
        wavs.append(audio)
    features = FeatureExtractor.shared(base, revision=revision, device=device)(wavs)
    out = {"speech_tokens": features.speech_tokens, "speaker_emb": list(features.speaker_emb)}
    if cache_mel:
        out["mel"] = features.mel
    return out
