"""Cut a recording into training segments by subtitle cue, refine the cut points, filter with reasons.

Steps for one recording (16 kHz mono), each recorded in the fate of every cue it touches. Speech and pauses are
found by voice activity detection (silero-vad, or an energy detector); a *pause* is the silence between two
speech regions.

1. Unusable cues keep the problem the subtitle parser found (``malformed_timestamp``, ``empty_text`` ...); cues
   that start past the end of the media are ``past_end_of_media``; cues running past the end are clipped.
2. Overlapping cues are joined into one group (their texts in order): two speakers at once, a cue inside
   another. A small overlap (at most ``max_sloppy_overlap``, 0.3 s, and under ``max_sloppy_share``, half, of the
   shorter cue) is sloppy timing instead: the cues stay apart, cut at the middle of the pause nearest the overlap
   (its nearer end within ``max_edge_shift`` of the overlap), or at the middle of the overlap if none is near.
   Very short neighbours (under ``min_duration``) closer than ``merge_gap`` are joined while the group stays
   under ``max_duration``.
3. A group longer than ``max_duration`` (a whole clip: its speech) is split at sentence/clause boundaries of its
   text. A boundary's time is estimated by character count; it is usable where a pause contains that estimate or
   lies within 1 s of it, and the cut goes in the middle of that pause. The group is cut at every usable boundary
   (sentence-sized pieces) except where a piece would be shorter than ``min_duration`` (it stays joined to its
   neighbour, unless that makes a piece too long); if a piece is still too long, the group is dropped as
   ``too_long``. A piece's cues are those its text came from, and its raw text theirs (each piece of a single cue
   gets that whole cue's raw text). A cue is kept if a piece with its text is; a dropped piece is named in the
   fate detail of its cues (``piece 3 of 3 dropped: too_short``).
4. Neighbours limit each other: between two groups, the middle of the pause nearest the gap between them
   (its nearer end within ``max_edge_shift`` of the gap), or else the middle of the gap, is a limit neither
   crosses, so segments never overlap. A cut (step 2 or 3) is such a limit and the edge of both sides.
5. Edges get ``padding`` (not at a cut) and then move to the nearest pause, within the limits:
   - an edge inside speech moves to the nearer end of that speech if it is within ``max_edge_shift``: a start
     back to just before that speech begins (unless it begins before the limit: it belongs to the cue before),
     or forward past its end to just before the next speech (the tail of the utterance before); an end the same,
     mirrored;
   - a start in silence moves forward to just before the next speech if that is within ``max_edge_shift``, an end
     back to just after the speech before; at a cut the edge always moves to its speech (the pause is silence);
   - a cue that covers the whole recording (LJSpeech and Hub clips: one cue from 0 to the end) is trimmed to its
     detected speech without the ``max_edge_shift`` limit: there is no neighbouring speech to mistake (when it is
     split, its first piece's start and its last piece's end).
   Moved edges keep ``edge_margin`` of silence before and after the speech. The segment records whether and how
   far its edges moved from the padded cue times.
6. Filters, each with a reason code: ``too_short`` / ``too_long`` (duration), ``cps_too_low`` /
   ``cps_too_high`` (characters per second: the subtitle does not match the speech), ``not_amharic`` (share of
   Ethiopic letters), ``clipped``, ``silent`` (level or no detected speech); duplicates are found across the
   whole dataset later.

A constant offset of all subtitles (e.g. everything 2 s late) is not detected: edges move at most
``max_edge_shift``.

Long recordings (:class:`WindowedSegmentation`, what ``prepare_dataset.py`` uses for subtitled media) are not
held whole: speech is detected over the decoded stream, then the cues are cut into windows of about
``WINDOW_SECONDS`` at gaps no edge can reach across (:func:`plan_windows`), and each window's audio is decoded
and cut in turn. The segments are exactly those of :func:`segment_recording` on the whole array.
"""

from __future__ import annotations

import array
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

SAMPLE_RATE = 16000


@dataclass
class SegmentConfig:
    """Limits for cutting and filtering (``configs/data/*.yaml``, section ``segment``)."""

    min_duration: float = 1.0
    max_duration: float = 20.0
    padding: float = 0.1  # added to each cue edge that is not a cut shared with a neighbour
    merge_gap: float = 0.5
    # consecutive cues overlapping by at most this many seconds, and by less than max_sloppy_share of the shorter
    # one, are sloppy timing (subtitle tools often end a cue 40-100 ms after the next begins), not two voices at
    # once: they stay apart, parted in the pause nearest the overlap. A cue inside another one always joins it.
    max_sloppy_overlap: float = 0.3
    max_sloppy_share: float = 0.5
    refine_edges: bool = True
    vad: str = "silero"  # or "energy"
    max_edge_shift: float = 0.5  # how far from a speech boundary an edge may be and still move to it
    edge_margin: float = 0.08  # silence kept between a moved edge and the speech
    min_cps: float = 2.0
    max_cps: float = 25.0
    min_ethiopic_share: float = 0.5
    max_clipped_share: float = 0.001
    min_rms_dbfs: float = -50.0
    min_speech_share: float = 0.1


WHOLE_TOLERANCE = 0.01  # seconds: a cue from within this of the start to this of the end covers the whole recording


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
    return _energy_regions(_frame_levels(audio, max(1, int(frame * sample_rate))), frame=frame,
                           threshold_db=threshold_db, min_gap=min_gap)


def _frame_levels(audio: np.ndarray, hop: int) -> np.ndarray:
    """RMS level (dBFS) of each whole frame of ``hop`` samples; a partial last frame is left out."""
    n = len(audio) // hop
    rms = np.sqrt(np.mean(audio[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1) + 1e-12)
    return 20 * np.log10(rms)


def _energy_regions(level: np.ndarray, *, frame: float, threshold_db: float,
                    min_gap: float) -> list[tuple[float, float]]:
    """Speech regions from frame levels: :func:`energy_speech_regions` after measuring (the threshold is relative
    to the loudest frames of the whole recording, so it needs all of them)."""
    n = len(level)
    if n == 0:
        return []
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
_SILERO_OPTIONS = {"min_silence_duration_ms": 150, "speech_pad_ms": 0}
_SILERO_CHUNK = 512  # samples per silero-vad call at 16 kHz


def _silero():
    """The ``silero_vad`` module. Its import sets torch to one thread for the whole process; the number of threads
    is put back (the feature extractors and everything after decide their own)."""
    import torch

    threads = torch.get_num_threads()
    import silero_vad

    torch.set_num_threads(threads)
    return silero_vad


def _silero_model():
    global _SILERO
    if _SILERO is None:
        _SILERO = _silero().load_silero_vad()
    return _SILERO


def silero_speech_regions(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> list[tuple[float, float]]:
    """Speech regions (seconds) from silero-vad (its weights ship in the wheel; CPU)."""
    import torch

    audio = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    stamps = _silero().get_speech_timestamps(audio, _silero_model(), sampling_rate=sample_rate, **_SILERO_OPTIONS)
    return [(s["start"] / sample_rate, s["end"] / sample_rate) for s in stamps]


def speech_regions(audio: np.ndarray, method: str = "silero", sample_rate: int = SAMPLE_RATE):
    if method == "silero":
        return silero_speech_regions(audio, sample_rate)
    if method == "energy":
        return energy_speech_regions(audio, sample_rate)
    raise ValueError(f"unknown voice activity detector {method!r} (silero or energy)")


class SpeechDetector:
    """:func:`speech_regions` of a recording fed block by block (``push`` the blocks in order, then ``regions``):
    the same regions as on the whole array, without holding it.

    silero-vad scores 512-sample chunks with a model whose state runs on from chunk to chunk, then turns the
    scores into regions (``get_speech_timestamps_from_probs``, what ``get_speech_timestamps`` does after scoring);
    here the chunks are cut from the stream at the same places and scored in the same order, and the last partial
    chunk is padded with zeros as there. The energy detector keeps one level per 20 ms frame (400 bytes per second
    of audio) and thresholds them at the end, against the loudest frames of the whole recording.
    """

    def __init__(self, method: str = "silero", sample_rate: int = SAMPLE_RATE) -> None:
        if method not in ("silero", "energy"):
            raise ValueError(f"unknown voice activity detector {method!r} (silero or energy)")
        if method == "silero" and sample_rate != SAMPLE_RATE:
            raise ValueError("the streaming silero detector works at 16 kHz")
        self.method, self.sample_rate = method, sample_rate
        self.size = _SILERO_CHUNK if method == "silero" else max(1, int(0.02 * sample_rate))
        self.length = 0  # samples pushed
        self.carry = np.zeros(0, dtype=np.float32)  # the start of a chunk/frame not yet complete
        # silero: speech probabilities, float32 as the model gives them (4 bytes, not a Python float's 32, per
        # 32 ms: 2.7 MB for 6 hours); energy: arrays of frame levels (float64, 8.6 MB for 6 hours)
        self.scores = array.array("f") if method == "silero" else []
        if method == "silero":
            _silero_model().reset_states()

    def push(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float32)
        self.length += len(block)
        data = np.concatenate([self.carry, block]) if len(self.carry) else block
        whole = len(data) // self.size * self.size
        self.carry = data[whole:].copy()
        if self.method == "energy":
            self.scores.append(_frame_levels(data[:whole], self.size))
            return
        import torch

        model = _silero_model()
        with torch.no_grad():  # as get_speech_timestamps: else autograd chains every chunk through the model state
            for start in range(0, whole, self.size):
                self.scores.append(model(torch.from_numpy(data[start: start + self.size]), self.sample_rate).item())

    def regions(self) -> list[tuple[float, float]]:
        """Speech regions (seconds) of everything pushed."""
        if self.method == "energy":
            level = np.concatenate(self.scores) if self.scores else np.zeros(0)
            return _energy_regions(level, frame=0.02, threshold_db=-35.0, min_gap=0.15)
        import torch
        from silero_vad.utils_vad import get_speech_timestamps_from_probs

        probs = self.scores.tolist()  # the same doubles .item() gave
        if len(self.carry):
            chunk = np.pad(self.carry, (0, self.size - len(self.carry)))
            with torch.no_grad():
                probs.append(_silero_model()(torch.from_numpy(chunk), self.sample_rate).item())
        stamps = get_speech_timestamps_from_probs(probs, sampling_rate=self.sample_rate,
                                                  audio_length_samples=self.length, **_SILERO_OPTIONS)
        return [(s["start"] / self.sample_rate, s["end"] / self.sample_rate) for s in stamps]


# --------------------------------------------------------------------------------------------- edges


def _pauses(regions: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The silences between consecutive speech regions."""
    return [(a_end, b_start) for (_, a_end), (b_start, _) in zip(regions, regions[1:]) if b_start > a_end]


def _speech_at(t: float, regions: Sequence[tuple[float, float]]) -> int | None:
    """Position of the speech region that ``t`` falls strictly inside, or None (``t`` is in silence)."""
    for i, (s, e) in enumerate(regions):
        if s < t < e:
            return i
    return None


def nearest_pause(t: float, regions: Sequence[tuple[float, float]], window: float) -> float | None:
    """The middle of the pause (gap between two speech regions) that contains ``t``, or else of the pause whose
    nearer end is closest to ``t`` within ``window`` seconds; None if there is none. Silence before the first or
    after the last region is no pause: it is not bounded by speech on both sides."""
    best = None
    for a, b in _pauses(regions):
        distance = max(a - t, t - b, 0.0)  # 0 when t lies inside the pause
        key = (distance, abs((a + b) / 2 - t))
        if distance <= window and (best is None or key < best[0]):
            best = (key, (a + b) / 2)
    return best[1] if best else None


def _refine_start(t: float, regions: Sequence[tuple[float, float]], cfg: SegmentConfig, lower: float,
                  upper: float, *, cut: bool = False) -> float:
    """Where a start edge at ``t`` goes (module docstring, step 5), never below ``lower`` nor above ``upper``.

    Inside speech it moves to the nearer end of that speech if that is within ``max_edge_shift``: back to just
    before where the speech begins (only if it begins at or after ``lower``: earlier speech belongs to the cue
    before), or forward past where it ends, to just before the next speech. In silence it moves forward to just
    before the next speech if that is within ``max_edge_shift``; at a cut (a pause chosen between two pieces) it
    always does, as the whole pause is silence."""
    inside = _speech_at(t, regions)
    if inside is None:
        following = next((s for s, _ in regions if s >= t), None)
        if following is not None and (cut or following - t <= cfg.max_edge_shift + cfg.edge_margin):
            t = max(following - cfg.edge_margin, t)
        return min(max(t, lower), upper)
    if cut:  # a cut with no pause near: the neighbour's piece starts here too, leave it
        return t
    s, e = regions[inside]
    moves = []  # (distance to the speech boundary, new edge)
    if s >= lower and t - s <= cfg.max_edge_shift:
        moves.append((t - s, s - cfg.edge_margin))
    if e - t <= cfg.max_edge_shift:
        following = regions[inside + 1][0] if inside + 1 < len(regions) else None
        if following is None or following - e > cfg.max_edge_shift + cfg.edge_margin:
            moves.append((e - t, e + cfg.edge_margin))
        else:
            moves.append((e - t, max(following - cfg.edge_margin, (e + following) / 2)))
    if moves:
        t = min(moves)[1]
    return min(max(t, lower), upper)


def _refine_end(t: float, regions: Sequence[tuple[float, float]], cfg: SegmentConfig, lower: float,
                upper: float, *, cut: bool = False) -> float:
    """Where an end edge at ``t`` goes: :func:`_refine_start` mirrored in time."""
    mirrored = [(-e, -s) for s, e in reversed(regions)]
    return -_refine_start(-t, mirrored, cfg, -upper, -lower, cut=cut)


def _trim_to_speech(start: float, end: float, regions: Sequence[tuple[float, float]],
                    cfg: SegmentConfig) -> tuple[float, float] | None:
    """``start``..``end`` narrowed to its detected speech plus ``edge_margin`` each side (None without speech)."""
    inside = [(max(s, start), min(e, end)) for s, e in regions if e > start and s < end]
    if not inside:
        return None
    return max(start, inside[0][0] - cfg.edge_margin), min(end, inside[-1][1] + cfg.edge_margin)


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


def _sloppy_overlap(earlier: CueInput, later: CueInput, cfg: SegmentConfig) -> bool:
    """Whether ``later`` overlaps ``earlier`` so little that it is sloppy timing rather than two voices at once."""
    overlap = earlier.end - later.start
    shorter = min(earlier.end - earlier.start, later.end - later.start)
    return 0 < overlap <= cfg.max_sloppy_overlap and overlap < cfg.max_sloppy_share * shorter


def _group_cues(cues: list[CueInput], cfg: SegmentConfig) -> list[list[CueInput]]:
    """Cues (sorted by start) in groups that become one segment each (module docstring, step 2). Consecutive
    groups overlap only where the timing is sloppy."""
    groups: list[list[CueInput]] = []
    for cue in cues:
        if groups:
            last = groups[-1]
            latest = max(last, key=lambda c: c.end)
            g_start, g_end = last[0].start, latest.end
            overlaps = cue.start < g_end and not _sloppy_overlap(latest, cue, cfg)
            short = (g_end - g_start) < cfg.min_duration or (cue.end - cue.start) < cfg.min_duration
            close = cue.start - g_end <= cfg.merge_gap
            fits = max(g_end, cue.end) - g_start <= cfg.max_duration
            if overlaps or (short and close and fits):
                last.append(cue)
                continue
        groups.append([cue])
    return groups


def _parting(earlier: tuple[float, float], later: tuple[float, float], regions, cfg: SegmentConfig) -> float:
    """Where two consecutive groups (``(start, end)`` spans) part: the middle of the pause nearest to the gap or
    overlap between them (with its nearer end within ``max_edge_shift`` of it, and inside both spans), else the
    middle of the gap or overlap."""
    between = (earlier[1] + later[0]) / 2
    pause = nearest_pause(between, regions, window=cfg.max_edge_shift + abs(later[0] - earlier[1]) / 2)
    return pause if pause is not None and earlier[0] < pause < later[1] else between


def _split_long(start: float, end: float, text: str, regions, cfg: SegmentConfig,
                split_text: Callable[[str, int], list[str]]) -> tuple[list[str], list[tuple]] | None:
    """A too-long group cut at text boundaries, each cut in the middle of a pause: the parts of the text, and the
    pieces as ``(start, end, first part, end part)`` (neighbours share their cut); None if it cannot be done
    safely (a stretch between usable cuts is still too long).

    A boundary is usable where a pause lies within 1 s of its time estimated by character count. The group is cut
    at each usable boundary (sentence-sized pieces), except where a piece before or after it would be shorter than
    ``min_duration`` (it joins its neighbour) and that does not make a piece too long."""
    duration = end - start
    pieces_needed = int(np.ceil(duration / cfg.max_duration))
    parts = split_text(text, max(1, int(np.ceil(len(text) / pieces_needed))))
    if len(parts) < 2:
        return None
    total, chars, cuts = sum(len(p) for p in parts), 0, []  # (parts before the cut, time of the cut)
    for n, part in enumerate(parts[:-1], 1):
        chars += len(part)
        cut = nearest_pause(start + duration * chars / total, regions, window=1.0)
        if cut is not None and start < cut < end and (not cuts or cut > cuts[-1][1]):
            cuts.append((n, cut))
    pieces, cursor, first = [], start, 0
    for k, (n, cut) in enumerate(cuts):
        following = cuts[k + 1][1] if k + 1 < len(cuts) else end
        must = following - cursor > cfg.max_duration  # not cutting here makes this piece too long
        if must or (cut - cursor >= cfg.min_duration and end - cut >= cfg.min_duration):
            pieces.append((cursor, cut, first, n))
            cursor, first = cut, n
    pieces.append((cursor, end, first, len(parts)))
    if len(pieces) < 2 or any(e - s > cfg.max_duration for s, e, _, _ in pieces):
        return None
    return parts, pieces


def _part_cues(parts: Sequence[str], group: Sequence[CueInput]) -> list[set[int]]:
    """Positions in ``group`` of the cues each part of the group's joined text came from (parts in order, as the
    text splitter returns them); every cue for every part if the splitter changed the text."""
    bounds, position = [], 0  # where each cue's text lies in the joined text
    for c in group:
        bounds.append((position, position + len(c.text)))
        position += len(c.text) + 1
    joined = " ".join(c.text for c in group)
    owners, position = [], 0
    for part in parts:
        found = joined.find(part, position)
        if found < 0:
            return [set(range(len(group)))] * len(parts)
        position = found + len(part)
        owners.append({k for k, (a, b) in enumerate(bounds) if a < position and found < b})
    return owners


@dataclass
class _Piece:
    """A stretch of a recording to become one segment, with how far its edges may go."""

    start: float
    end: float
    text: str
    cues: list[CueInput]  # the cues its text came from
    lower: float  # the start never goes below this: the end of the cues before, or a cut shared with them
    upper: float  # the end never goes above this: the start of the cues after, or a cut shared with them
    cut_start: bool = False  # the start is a cut shared with the piece before: not padded
    cut_end: bool = False
    open_start: bool = False  # the start of a whole clip (no speech of others around): trimmed to the speech
    open_end: bool = False


def segment_recording(
    cues: Sequence[CueInput],
    audio: np.ndarray,
    cfg: SegmentConfig | None = None,
    *,
    sample_rate: int = SAMPLE_RATE,
    split_text: Callable[[str, int], list[str]] | None = None,
    regions: Sequence[tuple[float, float]] | None = None,
) -> tuple[list[Segment], list[Fate]]:
    """Segments of one recording and the fate of every cue (see the module docstring).

    ``regions``: the recording's speech regions when they are already known (:class:`SpeechDetector`); by default
    they are detected on ``audio``. ``audio`` may be an :class:`AudioSpan` (the part of a long recording that
    these cues need): only its length and slices of it are used.
    """
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
    if not usable:
        regions = []
    elif regions is None:
        regions = speech_regions(audio, cfg.vad, sample_rate)  # edges and the silence filter
    else:
        regions = list(regions)

    groups = _group_cues(usable, cfg)
    spans = [(g[0].start, max(c.end for c in g)) for g in groups]
    partings = [_parting(spans[k - 1], spans[k], regions, cfg) for k in range(1, len(groups))]
    segments: list[Segment] = []
    for k, group in enumerate(groups):
        start, end = spans[k]
        # edges stay between the partings from the neighbours
        lower = partings[k - 1] if k > 0 else 0.0
        upper = partings[k] if k + 1 < len(groups) else media_end
        # a sloppy overlap is cut at its parting: the edge is shared with the neighbour
        cut_before = k > 0 and start < spans[k - 1][1]
        cut_after = k + 1 < len(groups) and spans[k + 1][0] < end
        start, end = (lower if cut_before else start), (upper if cut_after else end)
        text = " ".join(c.text for c in group)
        whole = len(groups) == 1 and start <= WHOLE_TOLERANCE and end >= media_end - WHOLE_TOLERANCE
        # a whole clip is judged (and split) by its speech: its leading and trailing silence will go
        speech = (_trim_to_speech(start, end, regions, cfg) if whole and cfg.refine_edges else None) or (start, end)
        parts, split = [text], [(start, end, 0, 1)]
        if speech[1] - speech[0] > cfg.max_duration:
            found = _split_long(*speech, text, regions, cfg, split_text)
            if found is None:
                for c in group:
                    fates[c.index].reason = "too_long"
                continue
            parts, split = found
            split[0], split[-1] = (start, *split[0][1:]), (*split[-1][:1], end, *split[-1][2:])
        owners = _part_cues(parts, group) if len(split) > 1 else [set(range(len(group)))]
        last = len(split) - 1
        pieces = [_Piece(s, e, " ".join(parts[a:b]), [group[j] for j in sorted(set().union(*owners[a:b]))],
                         lower if n == 0 else s, upper if n == last else e,
                         cut_start=n > 0 or cut_before, cut_end=n < last or cut_after,
                         open_start=whole and n == 0, open_end=whole and n == last)
                  for n, (s, e, a, b) in enumerate(split)]
        produced: dict[int, list[int]] = defaultdict(list)  # cue index -> its segments
        dropped: dict[int, list[tuple[int, str]]] = defaultdict(list)  # cue index -> (piece, reason)
        for n, piece in enumerate(pieces):
            seg = _finish(piece, audio, regions, cfg, sample_rate)
            if isinstance(seg, Segment):
                segments.append(seg)
            for c in piece.cues:
                if isinstance(seg, Segment):
                    produced[c.index].append(len(segments) - 1)
                else:
                    dropped[c.index].append((n, seg))
        indices = [c.index for c in group]
        for i in indices:
            fate = fates[i]
            notes = [fate.detail] if fate.detail else []
            if produced[i]:
                fate.kept, fate.reason, fate.segments = True, None, produced[i]
            else:
                fate.reason = fate.reason or (dropped[i][0][1] if dropped[i] else "empty_text")  # no text in a piece
            if len(pieces) > 1:
                notes += [f"piece {n + 1} of {len(pieces)} dropped: {reason}" for n, reason in dropped[i]]
            if len(indices) > 1:
                notes.append(f"joined with cues {[j for j in indices if j != i]}")
            fate.detail = "; ".join(notes)
    return segments, [fates[c.index] for c in cues]


def _finish(piece: _Piece, audio, regions, cfg: SegmentConfig, sample_rate):
    """Pad, refine and filter one piece: a Segment, or the reason code it was dropped for."""
    p_start = piece.start if piece.cut_start else max(piece.lower, piece.start - cfg.padding)
    p_end = piece.end if piece.cut_end else min(piece.upper, piece.end + cfg.padding)
    r_start, r_end = p_start, p_end
    if cfg.refine_edges and regions:
        r_start = _refine_start(p_start, regions, cfg, piece.lower, piece.upper, cut=piece.cut_start)
        r_end = _refine_end(p_end, regions, cfg, piece.lower, piece.upper, cut=piece.cut_end)
        trimmed = _trim_to_speech(piece.start, piece.end, regions, cfg) if piece.open_start or piece.open_end else None
        if trimmed:
            r_start, r_end = (trimmed[0] if piece.open_start else r_start), (trimmed[1] if piece.open_end else r_end)
        if r_end <= r_start:
            r_start, r_end = p_start, p_end
    duration = r_end - r_start
    if duration < cfg.min_duration:
        return "too_short"
    if duration > cfg.max_duration:
        return "too_long"
    problem = text_problem(piece.text, duration, cfg)
    if problem:
        return problem
    clip = audio[int(round(r_start * sample_rate)): int(round(r_end * sample_rate))]
    spoken = sum(max(0.0, min(e, r_end) - max(s, r_start)) for s, e in regions)
    problem = audio_problem(clip, cfg, spoken / duration if regions is not None else None)
    if problem:
        return problem
    moved = abs(r_start - p_start) > 1e-6 or abs(r_end - p_end) > 1e-6
    return Segment(r_start, r_end, piece.text, "\n".join(c.raw_text for c in piece.cues),
                   [c.index for c in piece.cues], moved, r_start - p_start, r_end - p_end)


# --------------------------------------------------------------------------------------------- long recordings

WINDOW_SECONDS = 600.0  # a long recording is cut and its segments' audio held this many seconds at a time


class AudioSpan:
    """Samples ``[first, first + len(samples))`` of a recording ``length`` samples long, indexed like the whole
    recording's array: ``len()`` is the whole length and ``span[a:b]`` the samples a..b of the recording. Slicing
    outside the held samples is an error (a bug, never silence)."""

    def __init__(self, samples: np.ndarray, first: int, length: int) -> None:
        self.samples, self.first, self.length = samples, first, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice):
            raise TypeError("an AudioSpan only gives slices")
        start, stop, step = key.indices(self.length)
        if step != 1:
            raise ValueError("an AudioSpan only gives contiguous slices")
        if stop <= start:
            return self.samples[:0]
        if start < self.first or stop > self.first + len(self.samples):
            raise IndexError(f"samples {start}:{stop} are outside the held {self.first}:"
                             f"{self.first + len(self.samples)}")
        return self.samples[start - self.first: stop - self.first]


def _usable_positions(cues: Sequence[CueInput], media_end: float) -> list[int]:
    """Positions of the cues :func:`segment_recording` cuts (no problem, starting before the end), by time."""
    keep = [k for k, c in enumerate(cues) if not c.problem and c.start < media_end]
    return sorted(keep, key=lambda k: (cues[k].start, cues[k].index))


def plan_windows(cues: Sequence[CueInput], regions: Sequence[tuple[float, float]], media_end: float,
                 cfg: SegmentConfig, window: float = WINDOW_SECONDS) -> list[tuple[float, float, list[CueInput]]]:
    """The recording cut into windows of about ``window`` seconds, ``[(start, end, cues)]`` covering 0..media_end,
    such that :func:`segment_recording` on each window's cues gives exactly what it gives on the whole recording.

    A cut goes where two consecutive cue groups part (step 4 of the module docstring, computed from the whole
    recording's ``regions``), and only where that parting lies more than ``padding + max_edge_shift +
    edge_margin`` from both groups and the groups are more than ``merge_gap`` apart: no edge of either group can
    move that far (step 5), so the limit the parting sets is never reached, and the window edge that replaces it
    is not either; the groups are the same on both sides. A window is as long as possible up to ``window``; where
    no such gap falls within it, it grows to the next one (a recording without any is one window). Cues that are
    not cut (a problem, past the end) go with the first window. The same plan whatever the audio's decoder.
    """
    everything = [(0.0, media_end, list(cues))]
    usable = _usable_positions(cues, media_end)
    if len(usable) < 2 or len({c.index for c in cues}) < len(cues):  # fates are keyed by index
        return everything
    clipped = [CueInput(cues[k].index, cues[k].start, min(cues[k].end, media_end), cues[k].text, cues[k].raw_text)
               for k in usable]
    groups = _group_cues(clipped, cfg)
    spans = [(g[0].start, max(c.end for c in g)) for g in groups]
    reach = cfg.padding + cfg.max_edge_shift + cfg.edge_margin + 0.01  # 10 ms for rounding
    safe = []  # (parting, position of the first group after it)
    for k in range(1, len(groups)):
        parting = _parting(spans[k - 1], spans[k], regions, cfg)
        if (spans[k][0] - spans[k - 1][1] > cfg.merge_gap and parting - spans[k - 1][1] > reach
                and spans[k][0] - parting > reach):
            safe.append((parting, k))
    cuts, begin, candidate = [], 0.0, None
    for parting, k in safe:
        if parting - begin > window and candidate is not None:  # full: cut at the last gap that fits
            cuts.append(candidate)
            begin, candidate = candidate[0], None
        if parting - begin > window:  # no gap fits: the window grows to this one
            cuts.append((parting, k))
            begin = parting
        else:
            candidate = (parting, k)
    if candidate is not None and media_end - begin > window:
        cuts.append(candidate)
    if not cuts:
        return everything
    first_group = [0] + [k for _, k in cuts] + [len(groups)]
    bounds = [0.0] + [p for p, _ in cuts] + [media_end]
    windows = []
    for w in range(len(cuts) + 1):
        members = {c.index for g in groups[first_group[w]: first_group[w + 1]] for c in g}
        picked = [c for c in cues if c.index in members]
        if w == 0:
            placed = {cues[k].index for k in usable}
            picked = [c for c in cues if c.index in members or c.index not in placed]
        windows.append((bounds[w], bounds[w + 1], picked))
    return windows


class WindowedSegmentation:
    """:func:`segment_recording` of a long recording without holding its audio: ``blocks()`` gives the
    recording's samples in consecutive blocks (e.g. ``media.iter_audio``) and is called twice.

    Pass 1 runs voice activity detection over the stream (:class:`SpeechDetector`: the regions of the whole
    recording) and measures its length. The cues are then cut into windows (:func:`plan_windows`); pass 2 holds
    one window's samples at a time (plus 1 s each side), segments its cues against the whole recording's regions
    and length (an :class:`AudioSpan`, so no time is shifted), and yields each segment with its samples. Peak
    memory is a window's audio plus a decoded block, whatever the length of the recording; the results are those
    of :func:`segment_recording` on the whole array. ``fates`` is complete once ``segments()`` is exhausted.
    """

    margin = 1.0  # seconds held beyond each window: segments stay inside their window; this only guards

    def __init__(self, cues: Sequence[CueInput], blocks: Callable[[], Iterator[np.ndarray]],
                 cfg: SegmentConfig | None = None, *, window: float | None = None,
                 sample_rate: int = SAMPLE_RATE) -> None:
        self.cues, self.blocks, self.cfg = list(cues), blocks, cfg or SegmentConfig()
        self.window = WINDOW_SECONDS if window is None else window  # math.inf: one window
        self.sample_rate = sample_rate
        self.fates: list[Fate] = []
        self.windows: list[tuple[float, float, list[CueInput]]] = []  # the plan, once segments() has started

    def segments(self) -> Iterator[tuple[Segment, np.ndarray]]:
        sr = self.sample_rate
        detector = SpeechDetector(self.cfg.vad, sr) if any(not c.problem for c in self.cues) else None
        length = 0
        for block in self.blocks():
            length += len(block)
            if detector is not None:
                detector.push(block)
        regions = detector.regions() if detector is not None else []
        del detector  # its scores
        self.windows = plan_windows(self.cues, regions, length / sr, self.cfg, self.window)
        fates: dict[int, Fate] = {}
        produced = 0
        stream = _Stream(self.blocks())
        for start, end, cues in self.windows:
            first = max(0, round((start - self.margin) * sr))
            stop = min(length, round((end + self.margin) * sr))
            span = AudioSpan(stream.take(first, stop), first, length)
            segments, window_fates = segment_recording(cues, span, self.cfg, sample_rate=sr, regions=regions)
            for fate in window_fates:
                fate.segments = [produced + n for n in fate.segments]
                fates[fate.index] = fate
            for seg in segments:
                yield seg, span[int(round(seg.start * sr)): int(round(seg.end * sr))]
            produced += len(segments)
        self.fates = [fates[c.index] for c in self.cues]


class _Stream:
    """Consecutive blocks read forward as sample ranges; blocks wholly before the last range asked for are dropped.
    Holds a range twice at most (its blocks and their join): 77 MB for a 10-minute window at 16 kHz."""

    def __init__(self, blocks: Iterator[np.ndarray]) -> None:
        self.blocks, self.held, self.first = iter(blocks), [], 0  # held blocks start at sample ``first``

    def take(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start``..``stop`` (``start`` never before that of the previous call), as one array."""
        while self.held and self.first + len(self.held[0]) <= start:
            self.first += len(self.held.pop(0))
        while self.first + sum(len(b) for b in self.held) < stop:
            block = next(self.blocks, None)
            if block is None:
                break
            if self.first + sum(len(b) for b in self.held) + len(block) <= start:  # wholly before: skip
                self.first += len(block)
                continue
            self.held.append(block)
        joined = np.concatenate(self.held) if self.held else np.zeros(0, np.float32)
        return joined[max(0, start - self.first): stop - self.first]
