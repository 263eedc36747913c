"""Cut a recording into training segments by subtitle cue, refine the cut points, filter with reasons.

Steps for one recording (16 kHz mono), each recorded in the fate of every cue it touches:

1. Unusable cues keep the problem the subtitle parser found (``malformed_timestamp``, ``empty_text`` ...); cues
   that start past the end of the media are ``past_end_of_media``; cues running past the end are clipped.
2. Overlapping cues are joined into one group (their texts in order): two speakers at once, or sloppy timings;
   very short neighbours (under ``min_duration``) closer than ``merge_gap`` are joined while the group stays
   under ``max_duration``.
3. A group longer than ``max_duration`` is split at sentence/clause boundaries of its text, with time shared by
   character count and each cut moved to the nearest pause; if a piece is still too long, or no pause lies near a
   cut, the group is dropped as ``too_long``.
4. Edges get ``padding`` and are then moved to the nearest pause found by voice activity detection (silero-vad,
   or an energy detector): a start inside speech moves back to where that speech begins, a start in a long
   silence moves forward to just before speech, the same for ends. Moves are limited to ``max_edge_shift``;
   the segment records whether and how far its edges moved.
5. Filters, each with a reason code: ``too_short`` / ``too_long`` (duration), ``cps_too_low`` /
   ``cps_too_high`` (characters per second: the subtitle does not match the speech), ``not_amharic`` (share of
   Ethiopic letters), ``clipped``, ``silent`` (level or no detected speech); duplicates are found across the
   whole dataset later.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

SAMPLE_RATE = 16000


@dataclass
class SegmentConfig:
    """Limits for cutting and filtering (``configs/data/*.yaml``, section ``segment``)."""

    min_duration: float = 1.0
    max_duration: float = 20.0
    padding: float = 0.1
    merge_gap: float = 0.5
    refine_edges: bool = True
    vad: str = "silero"  # or "energy"
    max_edge_shift: float = 0.5
    edge_margin: float = 0.08  # silence kept between a moved edge and the speech
    min_cps: float = 2.0
    max_cps: float = 25.0
    min_ethiopic_share: float = 0.5
    max_clipped_share: float = 0.001
    min_rms_dbfs: float = -50.0
    min_speech_share: float = 0.1


@dataclass
class CueInput:
    """What segmentation needs of a subtitle cue (``amharic_tts.data.srt.Cue`` fits)."""

    index: int
    start: float | None
    end: float | None
    text: str
    raw_text: str
    problem: str | None = None
    detail: str = ""  # why the problem, where known (e.g. the decoder's message)


@dataclass
class Segment:
    start: float
    end: float
    text: str  # cleaned, not yet normalised
    raw_text: str
    cue_indices: list[int]
    edges_moved: bool = False
    start_shift: float = 0.0
    end_shift: float = 0.0


@dataclass
class Fate:
    """What became of one input cue: kept in segment(s), or dropped with a reason code."""

    index: int
    kept: bool
    reason: str | None = None
    segments: list[int] = field(default_factory=list)  # positions in the returned segment list
    detail: str = ""


# --------------------------------------------------------------------------------------------- speech detection


def energy_speech_regions(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, *, frame: float = 0.02,
                          threshold_db: float = -35.0, min_gap: float = 0.15) -> list[tuple[float, float]]:
    """Speech regions (seconds) where frame RMS is within ``threshold_db`` of the loudest frames."""
    hop = max(1, int(frame * sample_rate))
    n = len(audio) // hop
    if n == 0:
        return []
    rms = np.sqrt(np.mean(audio[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1) + 1e-12)
    level = 20 * np.log10(rms)
    active = level > max(np.percentile(level, 95) + threshold_db, -60.0)
    regions: list[tuple[float, float]] = []
    start = None
    for i, on in enumerate(active):
        if on and start is None:
            start = i
        elif not on and start is not None:
            regions.append((start * frame, i * frame))
            start = None
    if start is not None:
        regions.append((start * frame, n * frame))
    merged: list[tuple[float, float]] = []
    for s, e in regions:
        if merged and s - merged[-1][1] < min_gap:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


_SILERO = None


def silero_speech_regions(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> list[tuple[float, float]]:
    """Speech regions (seconds) from silero-vad (its weights ship in the wheel; CPU)."""
    global _SILERO
    import torch
    from silero_vad import get_speech_timestamps, load_silero_vad

    if _SILERO is None:
        _SILERO = load_silero_vad()
    stamps = get_speech_timestamps(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)), _SILERO,
                                   sampling_rate=sample_rate, min_silence_duration_ms=150, speech_pad_ms=0)
    return [(s["start"] / sample_rate, s["end"] / sample_rate) for s in stamps]


def speech_regions(audio: np.ndarray, method: str = "silero", sample_rate: int = SAMPLE_RATE):
    if method == "silero":
        return silero_speech_regions(audio, sample_rate)
    if method == "energy":
        return energy_speech_regions(audio, sample_rate)
    raise ValueError(f"unknown voice activity detector {method!r} (silero or energy)")


# --------------------------------------------------------------------------------------------- edges


def _refine_start(t: float, regions: Sequence[tuple[float, float]], cfg: SegmentConfig, lower: float) -> float:
    for s, e in regions:
        if s < t < e:  # the cut falls inside speech: back to where it begins
            return max(s - cfg.edge_margin, lower) if t - s <= cfg.max_edge_shift else t
    following = [s for s, _ in regions if s >= t]
    if following and following[0] - t <= cfg.max_edge_shift + cfg.edge_margin:
        return max(following[0] - cfg.edge_margin, t)  # silence before speech: move up to just before it
    return t


def _refine_end(t: float, regions: Sequence[tuple[float, float]], cfg: SegmentConfig, upper: float) -> float:
    for s, e in regions:
        if s < t < e:  # the cut falls inside speech: on to where it ends
            return min(e + cfg.edge_margin, upper) if e - t <= cfg.max_edge_shift else t
    preceding = [e for _, e in regions if e <= t]
    if preceding and t - preceding[-1] <= cfg.max_edge_shift + cfg.edge_margin:
        return min(preceding[-1] + cfg.edge_margin, t)
    return t


def nearest_pause(t: float, regions: Sequence[tuple[float, float]], window: float) -> float | None:
    """The middle of the pause (gap between speech regions) nearest to ``t`` within ``window`` seconds."""
    gaps = [(a_end + b_start) / 2 for (_, a_end), (b_start, _) in zip(regions, regions[1:])]
    if not regions:
        return None
    candidates = [g for g in gaps if abs(g - t) <= window]
    inside = any(s < t < e for s, e in regions)
    if not inside:
        candidates.append(t)
    return min(candidates, key=lambda g: abs(g - t)) if candidates else None


# --------------------------------------------------------------------------------------------- text checks


def ethiopic_share(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for ch in letters if 0x1200 <= ord(ch) <= 0x135A) / len(letters)


def speech_chars(text: str) -> int:
    """Characters that take time to say: letters (Ethiopic letters are syllables) and digits."""
    return sum(1 for ch in text if ch.isalnum())


def audio_problem(audio: np.ndarray, cfg: SegmentConfig, speech_share: float | None = None) -> str | None:
    if len(audio) == 0:
        return "silent"
    if np.mean(np.abs(audio) >= 0.999) > cfg.max_clipped_share:
        return "clipped"
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)) + 1e-12)
    if 20 * np.log10(rms) < cfg.min_rms_dbfs:
        return "silent"
    if speech_share is not None and speech_share < cfg.min_speech_share:
        return "silent"
    return None


def text_problem(text: str, duration: float, cfg: SegmentConfig) -> str | None:
    if ethiopic_share(text) < cfg.min_ethiopic_share:
        return "not_amharic"
    cps = speech_chars(text) / max(duration, 1e-6)
    if cps < cfg.min_cps:
        return "cps_too_low"
    if cps > cfg.max_cps:
        return "cps_too_high"
    return None


def audio_hash(audio: np.ndarray) -> str:
    """Identity of a segment's samples (16-bit), for duplicate detection."""
    pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2")
    return hashlib.sha1(pcm.tobytes()).hexdigest()


FINGERPRINT_BANDS = (0, 500, 1500, 3000, 8000)  # Hz
FINGERPRINT_HOP = 0.01  # seconds per frame (cut points of two copies fall anywhere within a frame)
FINGERPRINT_WINDOW = 0.04  # seconds
FINGERPRINT_RANGE = 3.0  # decades (30 dB) kept below each band's loudest frame: noise floors and codecs differ


def loudness_fingerprint(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A segment's loudness in four frequency bands every 20 ms, (frames, 4) float16 log10 energies, floored 30 dB
    under each band's peak. Copies of one recording (re-encoded, re-cut by other subtitles, louder, a little
    noisier) keep it; another reading of the same sentence, even by the same voice, does not: its timing differs."""
    size, hop = int(FINGERPRINT_WINDOW * sample_rate), int(FINGERPRINT_HOP * sample_rate)
    audio = np.asarray(audio, dtype=np.float32)
    if len(audio) < size:
        audio = np.pad(audio, (0, size - len(audio)))
    frames = np.lib.stride_tricks.sliding_window_view(audio, size)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(size).astype(np.float32), axis=1)) ** 2
    freqs = np.fft.rfftfreq(size, 1 / sample_rate)
    bands = np.stack([power[:, (freqs >= low) & (freqs < high)].sum(axis=1)
                      for low, high in zip(FINGERPRINT_BANDS[:-1], FINGERPRINT_BANDS[1:])], axis=1)
    level = np.log10(bands + 1e-10)
    return np.maximum(level, level.max(axis=0) - FINGERPRINT_RANGE).astype(np.float16)


def fingerprint_similarity(a: np.ndarray, b: np.ndarray, *, max_shift: float = 0.5,
                           min_overlap: float = 0.8) -> float:
    """How alike two loudness fingerprints are: the best Pearson correlation (-1..1, averaged over bands) of their
    overlapping frames over time shifts up to ``max_shift`` seconds (the cut points of two copies differ), among
    shifts where they overlap by at least ``min_overlap`` of the shorter one."""
    a, b = (np.asarray(x, dtype=np.float64) for x in (a, b))
    limit = round(max_shift / FINGERPRINT_HOP)
    shifts = np.arange(-(len(b) - 1), len(a))  # a[t + shift] against b[t], numpy.correlate's "full" order
    overlap = np.minimum(len(a), len(b) + shifts) - np.maximum(0, shifts)
    usable = (np.abs(shifts) <= limit) & (overlap >= max(2, min_overlap * min(len(a), len(b))))
    if not usable.any():
        return -1.0
    shifts, overlap = shifts[usable], overlap[usable]
    start_a, start_b = np.maximum(0, shifts), np.maximum(0, -shifts)

    def window_sums(x, start):  # sums of x and x² over each overlap window, per band
        totals = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
        squares = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(x * x, axis=0)])
        return totals[start + overlap] - totals[start], squares[start + overlap] - squares[start]

    sum_a, square_a = window_sums(a, start_a)
    sum_b, square_b = window_sums(b, start_b)
    cross = np.stack([np.correlate(a[:, band], b[:, band], mode="full")[usable] for band in range(a.shape[1])], 1)
    n = overlap[:, None]
    covariance = cross - sum_a * sum_b / n
    spread = np.sqrt(np.maximum(square_a - sum_a ** 2 / n, 0) * np.maximum(square_b - sum_b ** 2 / n, 0))
    correlation = np.where(spread > 1e-9, covariance / np.maximum(spread, 1e-9), 0.0)
    return float(correlation.mean(axis=1).max())


# --------------------------------------------------------------------------------------------- cutting


def _group_cues(cues: list[CueInput], cfg: SegmentConfig) -> list[list[CueInput]]:
    groups: list[list[CueInput]] = []
    for cue in cues:
        if groups:
            last = groups[-1]
            g_start, g_end = last[0].start, max(c.end for c in last)
            overlaps = cue.start < g_end
            short = (g_end - g_start) < cfg.min_duration or (cue.end - cue.start) < cfg.min_duration
            close = cue.start - g_end <= cfg.merge_gap
            fits = max(g_end, cue.end) - g_start <= cfg.max_duration
            if overlaps or (short and close and fits):
                last.append(cue)
                continue
        groups.append([cue])
    return groups


def _split_long(start: float, end: float, text: str, regions, cfg: SegmentConfig,
                split_text: Callable[[str, int], list[str]]) -> list[tuple[float, float, str]] | None:
    """Pieces of a too-long group cut at text boundaries and pauses, or None if it cannot be done safely."""
    duration = end - start
    pieces_needed = int(np.ceil(duration / cfg.max_duration))
    max_chars = max(1, int(np.ceil(len(text) / pieces_needed)))
    parts = split_text(text, max_chars)
    if len(parts) < 2:
        return None
    total = sum(len(p) for p in parts)
    out, cursor, chars = [], start, 0
    for i, part in enumerate(parts):
        chars += len(part)
        if i == len(parts) - 1:
            cut = end
        else:
            estimate = start + duration * chars / total
            cut = nearest_pause(estimate, regions, window=1.0)
            if cut is None or cut <= cursor:
                return None
        out.append((cursor, cut, part))
        cursor = cut
    if any(e - s > cfg.max_duration for s, e, _ in out):
        return None
    return out


def segment_recording(
    cues: Sequence[CueInput],
    audio: np.ndarray,
    cfg: SegmentConfig | None = None,
    *,
    sample_rate: int = SAMPLE_RATE,
    split_text: Callable[[str, int], list[str]] | None = None,
) -> tuple[list[Segment], list[Fate]]:
    """Segments of one recording and the fate of every cue (see the module docstring)."""
    cfg = cfg or SegmentConfig()
    if split_text is None:
        from amharic_tts.text import split_sentences as split_text
    media_end = len(audio) / sample_rate
    fates = {cue.index: Fate(cue.index, kept=False) for cue in cues}
    usable: list[CueInput] = []
    for cue in cues:
        if cue.problem:
            fates[cue.index].reason, fates[cue.index].detail = cue.problem, cue.detail
        elif cue.start >= media_end:
            fates[cue.index].reason = "past_end_of_media"
        else:
            if cue.end > media_end:
                fates[cue.index].detail = f"clipped to the end of the media ({media_end:.2f} s)"
            usable.append(CueInput(cue.index, cue.start, min(cue.end, media_end), cue.text, cue.raw_text))
    usable.sort(key=lambda c: (c.start, c.index))
    regions = speech_regions(audio, cfg.vad, sample_rate) if usable else []  # edges and the silence filter

    segments: list[Segment] = []
    for group in _group_cues(usable, cfg):
        start, end = group[0].start, max(c.end for c in group)
        text = " ".join(c.text for c in group)
        raw = "\n".join(c.raw_text for c in group)
        indices = [c.index for c in group]
        pieces = [(start, end, text)]
        if end - start > cfg.max_duration:
            pieces = _split_long(start, end, text, regions, cfg, split_text)
            if pieces is None:
                for i in indices:
                    fates[i].reason = "too_long"
                continue
        produced = []
        for p_start, p_end, p_text in pieces:
            seg = _finish(p_start, p_end, p_text, raw, indices, audio, regions, cfg, sample_rate, media_end)
            if isinstance(seg, str):
                for i in indices:
                    fates[i].reason = fates[i].reason or seg
                continue
            segments.append(seg)
            produced.append(len(segments) - 1)
        for i in indices:
            if produced:
                fates[i].kept, fates[i].reason, fates[i].segments = True, None, produced
            if len(indices) > 1:
                fates[i].detail = (fates[i].detail + "; " if fates[i].detail else "") + \
                    f"joined with cues {[j for j in indices if j != i]}"
    return segments, [fates[c.index] for c in cues]


def _finish(start, end, text, raw, indices, audio, regions, cfg: SegmentConfig, sample_rate, media_end):
    """Pad, refine and filter one piece: a Segment, or the reason code it was dropped for."""
    p_start, p_end = max(0.0, start - cfg.padding), min(media_end, end + cfg.padding)
    r_start, r_end = p_start, p_end
    if cfg.refine_edges and regions:
        r_start = _refine_start(p_start, regions, cfg, 0.0)
        r_end = _refine_end(p_end, regions, cfg, media_end)
        if r_end <= r_start:
            r_start, r_end = p_start, p_end
    duration = r_end - r_start
    if duration < cfg.min_duration:
        return "too_short"
    if duration > cfg.max_duration:
        return "too_long"
    problem = text_problem(text, duration, cfg)
    if problem:
        return problem
    clip = audio[int(round(r_start * sample_rate)): int(round(r_end * sample_rate))]
    spoken = sum(max(0.0, min(e, r_end) - max(s, r_start)) for s, e in regions)
    problem = audio_problem(clip, cfg, spoken / duration if regions is not None else None)
    if problem:
        return problem
    moved = abs(r_start - p_start) > 1e-6 or abs(r_end - p_end) > 1e-6
    return Segment(r_start, r_end, text, raw, list(indices), moved, r_start - p_start, r_end - p_end)
