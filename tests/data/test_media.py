"""amharic_tts.data.media: decoding every fixture container, slicing, several rates, probing, errors.

The fixtures are one espeak-ng utterance in many containers (``tests/data/media/make_media_fixtures.py``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from amharic_tts.data.media import MediaError, MediaInfo, load_audio, load_audio_rates, probe

MEDIA = Path(__file__).parent / "media"
RATE = 16000
REF_SECONDS = 70979 / 22050  # speech.wav: 3.219 s

# file -> (stream rate, channels, codec, container, lowest correlation with speech.wav)
SPEECH = {
    "speech.wav": (22050, 1, "pcm_s16le", "wav", 0.9999),
    "speech_8k_u8.wav": (8000, 1, "pcm_u8", "wav", 0.95),
    "speech_stereo_44k.flac": (44100, 2, "flac", "flac", 0.9999),
    "speech.mp3": (22050, 1, "mp3", "mp3", 0.95),
    "speech.m4a": (48000, 1, "aac", "mov,mp4,m4a,3gp,3g2,mj2", 0.95),
    "speech.opus": (48000, 1, "opus", "ogg", 0.95),
    "speech.webm": (48000, 1, "opus", "matroska,webm", 0.95),
    "speech.mkv": (48000, 2, "opus", "matroska,webm", 0.95),
    "speech.mp4": (44100, 1, "aac", "mov,mp4,m4a,3gp,3g2,mj2", 0.95),
    "speech.mov": (16000, 1, "aac", "mov,mp4,m4a,3gp,3g2,mj2", 0.95),
}
# Timestamps in samples: a slice equals the full decode (within float rounding). AAC's noise substitution is
# random, so its output after a seek differs a little; Matroska stores milliseconds (slices within 0.5 ms).
SAMPLE_EXACT = {"speech.wav", "speech_8k_u8.wav", "speech_stereo_44k.flac", "speech.mp3", "speech.opus"}
AAC = {"speech.m4a", "speech.mp4", "speech.mov"}
MATROSKA = {"speech.webm", "speech.mkv"}


def best_correlation(x: np.ndarray, y: np.ndarray, max_lag: int) -> tuple[float, int]:
    """(normalised cross-correlation, lag) maximised over lags in [-max_lag, max_lag]: x[i + lag] ~ y[i]."""
    n = min(len(x), len(y)) - 2 * max_lag
    assert n > 0
    ref = y[max_lag : max_lag + n]
    best = (-1.0, 0)
    for lag in range(-max_lag, max_lag + 1):
        seg = x[max_lag + lag : max_lag + lag + n]
        denom = np.linalg.norm(seg) * np.linalg.norm(ref)
        value = float(np.dot(seg, ref) / denom) if denom else 0.0
        best = max(best, (value, lag))
    return best


@pytest.fixture(scope="module")
def decoded() -> dict[str, np.ndarray]:
    """Every speech fixture decoded once at 16 kHz."""
    return {name: load_audio(MEDIA / name, RATE) for name in SPEECH}


@pytest.fixture(scope="module")
def reference(decoded) -> np.ndarray:
    return decoded["speech.wav"]


# ------------------------------------------------------------------------------------------------ full decodes


@pytest.mark.parametrize("name", SPEECH)
def test_decodes_to_16k_mono_float32(decoded, name):
    audio = decoded[name]
    assert audio.dtype == np.float32 and audio.ndim == 1 and audio.flags.c_contiguous
    assert abs(len(audio) / RATE - REF_SECONDS) < 0.06  # codec padding at most
    assert np.abs(audio).max() <= 1.0
    assert np.abs(audio).max() > 0.3  # speech, not silence


@pytest.mark.parametrize("name", SPEECH)
def test_waveform_matches_the_wav(decoded, reference, name):
    correlation, lag = best_correlation(decoded[name], reference, max_lag=48)  # +-3 ms
    assert correlation > SPEECH[name][4], (correlation, lag)
    assert abs(lag) <= 16


def test_wav_at_its_own_rate_is_the_samples_unchanged():
    samples, rate = sf.read(MEDIA / "speech.wav", dtype="int16")
    audio = load_audio(MEDIA / "speech.wav", rate)
    np.testing.assert_array_equal(audio, samples.astype(np.float32) / 32768)


def test_stereo_is_downmixed_to_the_mean_of_the_channels(decoded, reference):
    # The channels are 0.8x and 0.4x the speech: the mean is 0.6x (FFmpeg's own rematrix would give ~0.85x).
    stereo = decoded["speech_stereo_44k.flac"]
    ratio = np.sqrt(np.mean(stereo**2) / np.mean(reference**2))
    assert ratio == pytest.approx(0.6, abs=0.005)
    assert probe(MEDIA / "speech_stereo_44k.flac").channels == 2


@pytest.mark.parametrize("name", SPEECH)
def test_full_decode_length_is_the_probed_duration(decoded, name):
    info = probe(MEDIA / name)
    tolerance = 8 if name in MATROSKA else 2  # Matroska's millisecond timestamps
    assert abs(len(decoded[name]) - round(info.duration * RATE)) <= tolerance


def test_audio_starting_after_the_video_is_preceded_by_silence(reference):
    audio = load_audio(MEDIA / "late_audio.mkv", RATE)
    info = probe(MEDIA / "late_audio.mkv")
    assert info.duration == pytest.approx(0.5 + REF_SECONDS, abs=0.003)
    assert abs(len(audio) - round(info.duration * RATE)) <= 8
    assert np.abs(audio[: RATE // 2 - 16]).max() < 1e-3
    correlation, lag = best_correlation(audio[RATE // 2 :], reference, max_lag=48)
    assert correlation > 0.95 and abs(lag) <= 32  # within 2 ms of 0.5 s


def test_undecodable_packets_become_silence_of_their_length(reference):
    with pytest.warns(RuntimeWarning, match=r"glitch\.m4a: \d+ of \d+ audio packets could not be decoded"):
        audio = load_audio(MEDIA / "glitch.m4a", RATE)
    assert len(audio) == len(reference)  # the timeline is kept
    correlation, _ = best_correlation(audio, reference, max_lag=4)
    assert correlation > 0.8


def test_truncated_file_decodes_what_is_there():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        audio = load_audio(MEDIA / "truncated.mp3", RATE)
        info = probe(MEDIA / "truncated.mp3")  # its header says 3.2 s; the measured end wins
    assert 1.7 < info.duration < 2.1
    assert abs(len(audio) - round(info.duration * RATE)) <= 2


# ----------------------------------------------------------------------------------------------------- slices

SPANS = [(0.3, 1.0), (1.2, 2.05), (0.0, 0.5), (1.7, 3.1), (0.61, 2.99)]


@pytest.mark.parametrize("name", SPEECH)
@pytest.mark.parametrize("span", SPANS, ids=lambda s: f"{s[0]}-{s[1]}")
def test_slice_is_exact_length_and_matches_the_full_decode(decoded, name, span):
    start, end = span
    piece = load_audio(MEDIA / name, RATE, start=start, end=end)
    assert piece.dtype == np.float32
    assert len(piece) == round((end - start) * RATE)
    full = decoded[name][round(start * RATE) : round(start * RATE) + len(piece)]
    if name in SAMPLE_EXACT:
        np.testing.assert_allclose(piece, full, atol=1e-4)
    elif name in AAC:
        assert np.corrcoef(piece, full)[0, 1] > 0.97
    else:
        around = np.pad(decoded[name], 16)[round(start * RATE) :][: len(piece) + 32]  # full[a - 16 : a + n + 16]
        correlation, lag = best_correlation(around, np.pad(piece, 16), 16)
        assert correlation > 0.98 and abs(lag) <= 8  # 0.5 ms


@pytest.mark.parametrize("name", ["speech.wav", "speech.opus", "speech.mp3", "truncated.mp3"])
def test_open_ended_and_overlong_slices(name):
    full = load_audio(MEDIA / name, RATE)
    tail = load_audio(MEDIA / name, RATE, start=1.5)
    np.testing.assert_allclose(tail, full[round(1.5 * RATE) :], atol=1e-4)
    beyond = load_audio(MEDIA / name, RATE, start=1.0, end=60.0)  # the media ends first
    np.testing.assert_allclose(beyond, full[RATE:], atol=1e-4)
    head = load_audio(MEDIA / name, RATE, end=0.75)
    np.testing.assert_allclose(head, full[: round(0.75 * RATE)], atol=1e-4)
    assert len(load_audio(MEDIA / name, RATE, start=30.0, end=31.0)) == 0
    assert len(load_audio(MEDIA / name, RATE, start=1.0, end=1.0)) == 0


@pytest.mark.parametrize("rate", [8000, 22050, 24000, 44100])
def test_slices_at_other_rates(rate):
    full = load_audio(MEDIA / "speech_stereo_44k.flac", rate)
    piece = load_audio(MEDIA / "speech_stereo_44k.flac", rate, start=1.234, end=2.5)
    assert len(piece) == round((2.5 - 1.234) * rate)
    np.testing.assert_allclose(piece, full[round(1.234 * rate) :][: len(piece)], atol=1e-4)


# --------------------------------------------------------------------------------------------- several rates


@pytest.mark.parametrize("name", ["speech.wav", "speech.mp4", "speech.webm", "speech_8k_u8.wav"])
def test_load_audio_rates_decodes_once_for_each_rate(decoded, name):
    out = load_audio_rates(MEDIA / name, [16000, 24000])
    assert sorted(out) == [16000, 24000]
    assert all(a.dtype == np.float32 and a.ndim == 1 for a in out.values())
    assert abs(len(out[24000]) - 1.5 * len(out[16000])) <= 1.5
    np.testing.assert_array_equal(out[16000], decoded[name])
    np.testing.assert_allclose(out[24000], load_audio(MEDIA / name, 24000), atol=1e-6)


def test_load_audio_rates_slices_cover_the_same_span():
    out = load_audio_rates(MEDIA / "speech.opus", [16000, 24000], start=0.9, end=2.3)
    assert {r: len(a) for r, a in out.items()} == {16000: round(1.4 * 16000), 24000: round(1.4 * 24000)}


# ------------------------------------------------------------------------------------------------------ probe


@pytest.mark.parametrize("name", SPEECH)
def test_probe(name):
    rate, channels, codec, container, _ = SPEECH[name]
    info = probe(MEDIA / name)
    assert isinstance(info, MediaInfo)
    assert (info.sample_rate, info.channels, info.codec, info.container) == (rate, channels, codec, container)
    assert info.stream_index == 0 and info.path == str(MEDIA / name)
    assert info.duration == pytest.approx(REF_SECONDS, abs=0.01)


def test_probe_durations_are_exact_where_timestamps_are():
    for name in ["speech.wav", "speech_stereo_44k.flac", "speech.mp3", "speech.m4a", "speech.mp4", "speech.opus"]:
        assert probe(MEDIA / name).duration == pytest.approx(REF_SECONDS, abs=2e-5), name


# ----------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("function", [probe, load_audio, lambda p: load_audio_rates(p, [16000, 24000])])
@pytest.mark.parametrize(
    "name, message",
    [
        ("video_only.mp4", r"no audio stream \(found video \(h264\)\)"),
        ("broken.mp4", "not a media file FFmpeg can read, or a damaged/truncated one"),
        ("not_media.mp4", "not a media file FFmpeg can read"),
    ],
)
def test_unusable_files_raise_media_error_naming_the_file(function, name, message):
    with pytest.raises(MediaError, match=message) as caught:
        function(MEDIA / name)
    assert str(MEDIA / name) in str(caught.value)
    assert not isinstance(caught.value, av.error.FFmpegError)


@pytest.mark.parametrize("function", [probe, load_audio])
def test_missing_file_is_file_not_found_with_the_path(function, tmp_path):
    missing = tmp_path / "nowhere" / "film.mp4"
    with pytest.raises(FileNotFoundError) as caught:
        function(missing)
    assert str(missing) in str(caught.value)
    assert not isinstance(caught.value, av.error.FFmpegError)


def test_directory_is_not_a_media_file(tmp_path):
    with pytest.raises(IsADirectoryError):
        load_audio(tmp_path)


def test_empty_file_is_a_media_error(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="empty.wav"):
        load_audio(empty)


@pytest.mark.parametrize(
    "kwargs",
    [{"start": -1.0}, {"start": 2.0, "end": 1.0}, {"end": float("nan")}, {"sample_rate": 0}, {"sample_rate": 16000.5}],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        load_audio(MEDIA / "speech.wav", **kwargs)


def test_load_audio_rates_needs_a_rate():
    with pytest.raises(ValueError):
        load_audio_rates(MEDIA / "speech.wav", [])


@pytest.mark.parametrize(
    "name, overshoot",  # seek past the window (where the demuxer seeks precisely) or past the end
    [
        ("speech.wav", 0.5),
        ("speech_stereo_44k.flac", 0.5),
        ("speech.wav", 100),
        ("speech.opus", 100),
        ("speech.mkv", 100),
    ],
)
def test_a_seek_that_lands_late_falls_back_to_decoding_from_the_start(monkeypatch, name, overshoot):
    import amharic_tts.data.media as media

    expected = load_audio(MEDIA / name, RATE, start=1.5, end=2.5)
    reopened = []
    original = media._Source.reopen
    monkeypatch.setattr(media._Source, "reopen", lambda self: reopened.append(1) or original(self))
    monkeypatch.setattr(media, "_PREROLL_S", -overshoot)
    piece = load_audio(MEDIA / name, RATE, start=1.5, end=2.5)
    assert reopened
    assert len(piece) == len(expected)
    if name in SAMPLE_EXACT:
        np.testing.assert_allclose(piece, expected, atol=1e-4)
    else:  # decoded from the start instead of after a seek: AAC noise and Matroska rounding differ slightly
        assert best_correlation(np.pad(piece, 16), np.pad(expected, 16), 16)[0] > 0.97


def test_the_bundled_demo_lecture_decodes():
    lecture = Path(__file__).parents[2] / "samples" / "demo" / "lecture.webm"
    info = probe(lecture)
    assert (info.codec, info.container, info.stream_index) == ("opus", "matroska,webm", 1)  # video is stream 0
    assert 25 < info.duration < 40
    audio = load_audio(lecture, RATE, start=2.0, end=4.6)  # sentence 1 (lecture_truth.tsv: 2.012-4.597 s)
    assert len(audio) == round(2.6 * RATE) and np.abs(audio).max() > 0.3
