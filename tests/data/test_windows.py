"""Long recordings are decoded, scanned for speech and cut window by window; the dataset must not change."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from amharic_tts.data import segment as segment_module
from amharic_tts.data.features import encode_flac
from amharic_tts.data.media import iter_audio, load_audio
from amharic_tts.data.prepare import PrepareConfig, generate_rows
from amharic_tts.data.segment import (AudioSpan, CueInput, SegmentConfig, SpeechDetector, WindowedSegmentation,
                                      audio_hash, plan_windows, segment_recording, speech_regions)
from amharic_tts.data.sources import SourceSpec
from amharic_tts.data.srt import read_srt

ROOT = Path(__file__).resolve().parents[2]
LECTURE = ROOT / "samples" / "demo" / "lecture.webm"
SUBTITLES = ROOT / "samples" / "demo" / "lecture.srt"
COPIES, SILENCE = 3, 2.0  # the lecture three times, 2 s of silence between: two gaps wide enough to cut at


def _stamp(t: float) -> str:
    ms = round(t * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


@pytest.fixture(scope="module")
def lecture():
    return load_audio(LECTURE)


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory, lecture):
    """The demo lecture repeated (FLAC, lossless) with its subtitles shifted: a recording of several windows.
    The lecture's own cue gaps (at most 1.2 s) are too narrow to cut at safely, so it alone is one window."""
    tmp = tmp_path_factory.mktemp("long")
    piece = np.concatenate([lecture, np.zeros(round(SILENCE * 16000), np.float32)])
    sf.write(tmp / "long.flac", np.tile(piece, COPIES), 16000, subtype="PCM_16")
    step = len(piece) / 16000
    blocks = []
    for k in range(COPIES):
        for cue in read_srt(SUBTITLES).cues:
            blocks.append(f"{len(blocks) + 1}\n{_stamp(cue.start + k * step)} --> {_stamp(cue.end + k * step)}\n"
                          f"{cue.raw_text}\n")
    (tmp / "long.srt").write_text("\n".join(blocks), encoding="utf-8")
    return tmp / "long.flac", tmp / "long.srt"


def test_streamed_decoding_equals_the_whole_decode(lecture):
    for block_s in (0.37, 5.0, 1000.0):
        blocks = list(iter_audio(LECTURE, block_s=block_s))
        assert np.array_equal(np.concatenate(blocks), lecture)
        assert max(len(b) for b in blocks) < max(1.2 * block_s * 16000, 1000) or len(blocks) == 1
    assert len(list(iter_audio(LECTURE, block_s=5.0))) >= 6


@pytest.mark.parametrize("method", ["silero", "energy"])
def test_streamed_speech_detection_equals_the_whole(lecture, method):
    detector = SpeechDetector(method)
    for block in iter_audio(LECTURE, block_s=3.3):  # blocks that split silero's 512-sample chunks
        detector.push(block)
    found = detector.regions()
    assert found == speech_regions(lecture, method) and len(found) >= 8


def test_streamed_speech_detection_when_speech_runs_to_the_end():
    rng = np.random.default_rng(3)
    audio = (rng.standard_normal(16000 * 6) * 0.001).astype(np.float32)
    for start, end in [(0.5, 2.0), (3.1, 4.2), (5.0, 6.0)]:  # the last burst runs to the end
        audio[int(start * 16000): int(end * 16000)] = (rng.standard_normal(int((end - start) * 16000)) * 0.3)
    for method in ("silero", "energy"):
        detector = SpeechDetector(method)
        for first in range(0, len(audio), 7001):
            detector.push(audio[first: first + 7001])
        assert detector.regions() == speech_regions(audio, method)
    energy = speech_regions(audio, "energy")
    assert len(energy) == 3 and energy[-1][1] == pytest.approx(6.0)


def _rows(media, subtitles, monkeypatch, window):
    monkeypatch.setattr(segment_module, "WINDOW_SECONDS", window)
    spec = SourceSpec("srt", "long", media=str(media), subtitles=str(subtitles))
    return list(generate_rows([json.dumps(spec.to_dict())], [0], json.dumps(PrepareConfig().to_dict())))


def test_windowed_preparation_gives_the_same_rows_as_the_whole_recording(long_recording, monkeypatch):
    media, subtitles = long_recording
    windowed = _rows(media, subtitles, monkeypatch, 10.0)
    whole = _rows(media, subtitles, monkeypatch, math.inf)
    assert len(windowed) == len(whole)
    for a, b in zip(windowed, whole):  # ids, times, texts, FLAC bytes, fates: all equal
        assert {k: v for k, v in a.items() if k != "fingerprint"} == {k: v for k, v in b.items() if k != "fingerprint"}
        assert (a["fingerprint"] is None) == (b["fingerprint"] is None)
        if a["fingerprint"] is not None:
            assert np.array_equal(a["fingerprint"], b["fingerprint"])
    segments = [r for r in windowed if r["kind"] == "segment"]
    assert len(segments) >= 3 * 8 and {r["id"] for r in segments} == {f"long-{n:05d}" for n in range(len(segments))}
    assert sum(r["kind"] == "input" for r in windowed) == 3 * 11

    # and the same as segment_recording on the whole decoded array, sample for sample
    audio = load_audio(media)
    cues = [CueInput(c.index, c.start, c.end, c.text, c.raw_text, c.problem) for c in read_srt(subtitles).cues]
    plan = plan_windows(cues, speech_regions(audio), len(audio) / 16000, SegmentConfig(), 10.0)
    assert len(plan) == COPIES  # cut in the two silences, not inside a lecture
    step = len(audio) / COPIES / 16000
    assert all(k * step - SILENCE < start < k * step for k, (start, _, _) in enumerate(plan) if k)
    # each copy's ten cut cues in its window; the cues not cut ("[ሙዚቃ]", a non-speech cue) with the first
    assert [sum(not c.problem for c in w) for _, _, w in plan] == [10, 10, 10]
    assert [sum(bool(c.problem) for c in w) for _, _, w in plan] == [3, 0, 0]
    from amharic_tts.text import normalize

    normalized = [CueInput(c.index, c.start, c.end, normalize(c.text), c.raw_text, c.problem) for c in cues]
    expected, _ = segment_recording(normalized, audio, SegmentConfig())
    assert [(r["start"], r["end"], r["text"]) for r in segments] == [(s.start, s.end, s.text) for s in expected]
    for row, seg in zip(segments, expected):
        clip = audio[int(round(seg.start * 16000)): int(round(seg.end * 16000))]
        assert row["audio_sha1"] == audio_hash(clip) and row["audio"]["bytes"] == encode_flac(clip)


def test_the_demo_lecture_alone_is_one_window(lecture):
    cues = [CueInput(c.index, c.start, c.end, c.text, c.raw_text, c.problem) for c in read_srt(SUBTITLES).cues]
    assert len(plan_windows(cues, speech_regions(lecture), len(lecture) / 16000, SegmentConfig(), 5.0)) == 1


def _cue(index, start, end):
    return CueInput(index, start, end, "ሰላም ነው እንዴት ናችሁ", "ሰላም")


def test_windows_are_cut_only_where_no_edge_can_reach_and_as_long_as_allowed():
    cfg = SegmentConfig()  # reach: padding 0.1 + max_edge_shift 0.5 + edge_margin 0.08
    # cue groups 3 s long; gaps of 2 s (safe), 1.2 s (a parting 0.6 s from each side: an edge could get there)
    starts, t = [], 0.0
    for gap in [2.0, 1.2, 2.0, 2.0, 1.2, 2.0]:
        starts.append(t)
        t += 3.0 + gap
    starts.append(t)
    cues = [_cue(n, s, s + 3.0) for n, s in enumerate(starts)]
    regions = [(s + 0.1, s + 2.9) for s in starts]
    plan = plan_windows(cues, regions, starts[-1] + 4.0, cfg, 11.0)
    bounds = [round(start, 3) for start, _, _ in plan]
    # cues at 0, 5, 9.2, 14.2, 19.2, 23.4, 28.4; safe partings (pause middles) 4.0, 13.2, 18.2, 27.4, not 8.6
    # (0.6 s from the cue before) nor 22.8; windows up to 11 s, each cut at the last safe parting that fits
    assert bounds == [0.0, 4.0, 13.2, 18.2, 27.4]
    assert all(end - start <= 11.0 for start, end, _ in plan)
    assert [c.index for _, _, w in plan for c in w] == list(range(len(cues)))
    assert plan_windows(cues, regions, starts[-1] + 4.0, cfg, 100.0) == [(0.0, starts[-1] + 4.0, cues)]
    # no gap is safe: one window, however long
    tight = [_cue(n, n * 4.0, n * 4.0 + 3.0) for n in range(10)]
    assert len(plan_windows(tight, [(c.start, c.end) for c in tight], 40.0, cfg, 5.0)) == 1


def test_windowed_segmentation_reports_every_fate_in_input_order(long_recording):
    media, subtitles = long_recording
    cues = [CueInput(c.index, c.start, c.end, "ሰላም ነው", c.raw_text, c.problem) for c in read_srt(subtitles).cues]
    cues.append(CueInput(99, 500.0, 501.0, "ሰላም", "ሰላም"))  # past the end: goes with the first window
    cues.insert(0, CueInput(98, None, None, "", "x", "malformed_timestamp"))
    windowed = WindowedSegmentation(cues, lambda: iter_audio(media), SegmentConfig(vad="energy"), window=10.0)
    pairs = list(windowed.segments())
    expected, fates = segment_recording(cues, load_audio(media), SegmentConfig(vad="energy"))
    assert [s for s, _ in pairs] == expected and windowed.fates == fates and len(windowed.windows) == COPIES
    assert [f.index for f in windowed.fates] == [c.index for c in cues]
    assert windowed.fates[0].reason == "malformed_timestamp" and windowed.fates[-1].reason == "past_end_of_media"


def test_an_audio_span_gives_only_the_samples_it_holds():
    span = AudioSpan(np.arange(10, 20, dtype=np.float32), 10, 100)
    assert len(span) == 100 and span[12:15].tolist() == [12, 13, 14] and len(span[50:40]) == 0
    with pytest.raises(IndexError):
        span[5:15]
    with pytest.raises(IndexError):
        span[15:25]
