"""Cached features of a 16 kHz segment, from the same base model as training.

- ``speech_tokens``: upstream's ``S3Tokenizer`` ids, 25 per second (int16; ids < 6561);
- ``speaker_emb``: 256 floats from upstream's ``VoiceEncoder`` (L2-normalised utterance embedding);
- ``mel``: the log-mel spectrogram the S3 tokenizer consumed, (frames, 128) at 100 frames per second, float16,
  so tokens can be recomputed (or other heads trained) without decoding audio again.

Work is batched: all log-mels of a batch are padded and quantised in one call, on the GPU when there is one.
The preparation hands segments over longest first (:func:`length_order`), and each batch holds at most a budget of
padded log-mel frames (rows x its longest row, :func:`budget_batches`), so a 2 s clip is not padded to a 20 s
neighbour's length and a batch of long clips holds few; the rows go back to their order afterwards. Padding
changes no result: the S3 tokenizer masks padded frames, and the log-mel and the voice encoder work on each clip
alone (``tests/data/test_features.py`` compares with extraction in row order), so a row's features do not depend on
the batch it was in.
Models are loaded once per process (``datasets.map`` workers included) and kept.
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

S3_SAMPLE_RATE = 16000
MEL_BINS = 128
MEL_HOP = 160  # samples per log-mel frame: 100 frames a second

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
        self.real_frames = self.batch_frames = 0  # log-mel frames quantised: the clips' own, and with padding

    @classmethod
    def shared(cls, base: str, *, revision: str | None = None, device: str | None = None) -> "FeatureExtractor":
        """One extractor per process and settings (loading the real S3 tokenizer takes seconds)."""
        key = (base, revision, device)
        if key not in _EXTRACTORS:
            _EXTRACTORS[key] = cls(base, revision=revision, device=device)
        return _EXTRACTORS[key]

    @torch.inference_mode()
    def __call__(self, wavs: Sequence[np.ndarray], *, max_frames: int | None = None) -> Features:
        """Features of ``wavs``, in their order; with ``max_frames`` in batches of at most that many padded
        log-mel frames (consecutive rows, :func:`budget_batches`), else in one batch."""
        if max_frames:
            batches = budget_batches([mel_frames(len(w)) for w in wavs], max_frames)
        else:
            batches = [range(len(wavs))] if len(wavs) else []
        parts = [self._batch([wavs[i] for i in batch]) for batch in batches]
        return Features([t for p in parts for t in p.speech_tokens],
                        np.concatenate([p.speaker_emb for p in parts]) if parts else np.zeros((0, 256), np.float32),
                        [m for p in parts for m in p.mel])

    def _batch(self, wavs: Sequence[np.ndarray]) -> Features:
        from s3tokenizer.utils import padding

        mels = [self.s3.log_mel_spectrogram(torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)))
                for w in wavs]  # (128, frames) each
        batch, lens = padding(mels)
        self.real_frames += int(lens.sum())
        self.batch_frames += batch.shape[0] * batch.shape[2]
        codes, code_lens = self.s3.quantize(batch.to(self.device), lens.to(self.device))
        tokens = [codes[i, : int(code_lens[i])].cpu().numpy().astype(np.int16) for i in range(len(wavs))]
        # One clip at a time: in another company (batch shape) the voice encoder's LSTM gives a clip's embedding
        # other last bits, and a row's features must not depend on its neighbours (budget, sharding, processes).
        # On one CPU thread: its steps are too small to share, and threads waiting on each other at every step
        # made it 10-200x slower on a busy 2-core machine (measured; the result is the same bits).
        with _one_cpu_thread(self.device):
            speaker = [self.ve.embeds_from_wavs([np.asarray(w, dtype=np.float32)], sample_rate=S3_SAMPLE_RATE)[0]
                       for w in wavs]
        return Features(tokens, np.asarray(speaker, dtype=np.float32).reshape(len(wavs), -1),
                        [m.T.cpu().numpy().astype(np.float16) for m in mels])

    def padding_share(self) -> float:
        """Share of the log-mel frames this extractor quantised that were padding (0 before any batch)."""
        return 1 - self.real_frames / self.batch_frames if self.batch_frames else 0.0


@contextmanager
def _one_cpu_thread(device: str):
    """torch on one thread inside the block when ``device`` is the CPU (as many as before after it)."""
    if not str(device).startswith("cpu"):
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def mel_frames(num_samples: int) -> int:
    """Frames of the S3 tokenizer's log-mel of ``num_samples`` 16 kHz samples (100 a second)."""
    return int(num_samples) // MEL_HOP


def length_order(lengths: Sequence[int], shards: int = 1) -> list[int]:
    """Row numbers, longest first (equal lengths in row order), so that neighbours have about the same length.

    With ``shards`` > 1 the ranked rows are dealt out in turn to that many contiguous blocks, the way
    ``datasets.map(num_proc=shards)`` cuts a dataset, so each worker gets rows sorted by length and an even share
    of the long and the short ones."""
    ranked = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    if shards <= 1:
        return ranked
    return [i for shard in range(shards) for i in ranked[shard::shards]]


def budget_batches(lengths: Sequence[int], max_frames: int) -> list[list[int]]:
    """``range(len(lengths))`` cut, in order, into runs of at most ``max_frames`` padded frames (rows x the longest
    row) each; a row longer than the budget makes a batch of its own. Like training's token budget
    (:class:`~amharic_tts.training.sampler.TokenBudgetBatchSampler`), but rows keep their order."""
    if max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    batches: list[list[int]] = []
    longest = 0
    for i, n in enumerate(lengths):
        if batches and (len(batches[-1]) + 1) * max(longest, n) <= max_frames:
            batches[-1].append(i)
            longest = max(longest, n)
        else:
            batches.append([i])
            longest = n
    return batches


def feature_batches(lengths: Sequence[int], *, batch_size: int, max_frames: int | None,
                    sort: bool = True) -> list[list[int]]:
    """The batches (row numbers) one process extracts features in: rows longest first (``sort``) or in row order,
    cut into ``batch_size`` rows (a ``datasets.map`` batch), each cut again to ``max_frames``."""
    order = length_order(lengths) if sort else list(range(len(lengths)))
    batches = []
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        cuts = budget_batches([lengths[i] for i in rows], max_frames) if max_frames else [range(len(rows))]
        batches += [[rows[j] for j in cut] for cut in cuts]
    return batches


def padded_share(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Share of padding among the frames of ``batches`` padded to their longest row."""
    total = sum(len(b) * max(lengths[i] for i in b) for b in batches if len(b))
    return 1 - sum(lengths[i] for b in batches for i in b) / total if total else 0.0


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
                 cache_mel: bool = True, max_frames: int | None = None) -> dict:
    """``datasets.map(batched=True)`` function: decode each row's audio and add the feature columns, extracting
    in batches of at most ``max_frames`` padded log-mel frames (rows keep their order)."""
    wavs = []
    for item in batch["audio"]:
        audio, rate = decode_audio_bytes(item["bytes"])
        if rate != S3_SAMPLE_RATE:
            raise ValueError(f"segment audio must be {S3_SAMPLE_RATE} Hz, got {rate}")
        wavs.append(audio)
    features = FeatureExtractor.shared(base, revision=revision, device=device)(wavs, max_frames=max_frames)
    out = {"speech_tokens": features.speech_tokens, "speaker_emb": list(features.speaker_emb)}
    if cache_mel:
        out["mel"] = features.mel
    return out
