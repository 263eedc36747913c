from pathlib import Path

import numpy as np
import pytest

from amharic_tts.data.segment import (
    CueInput,
    SegmentConfig,
    energy_speech_regions,
    ethiopic_share,
    fingerprint_similarity,
    loudness_fingerprint,
    segment_recording,
)
from amharic_tts.data.media import load_audio

SR = 16000
WORDS = "ሰላም ነው አዲስ አበባ ትልቅ ከተማ ናት ዛሬ ጥሩ ቀን"


def bursts(spans, total, seed=0):
    """Noise bursts (speech stand-ins) at ``spans`` seconds over a faint noise floor."""
    rng = np.random.default_rng(seed)
    audio = 0.0005 * rng.standard_normal(int(total * SR))
    for start, end in spans:
        n = int((end - start) * SR)
        audio[int(start * SR): int(start * SR) + n] += 0.3 * np.sin(np.arange(n) * 2 * np.pi * 220 / SR)
    return audio.astype(np.float32)


def cue(i, start, end, n_words=4, text=None):
    text = text if text is not None else " ".join(WORDS.split()[:n_words]) + "።"
    return CueInput(i, start, end, text, text)


ENERGY = SegmentConfig(vad="energy")


def test_late_and_early_cues_are_moved_to_the_pauses():
    audio = bursts([(1.0, 3.0), (4.0, 6.5)], 8.0)
    # cue 0 starts 0.3 s late (inside speech); cue 1 starts 0.35 s early and ends 0.3 s early
    segments, fates = segment_recording([cue(0, 1.3, 3.0), cue(1, 3.65, 6.2)], audio, ENERGY)
    assert [f.kept for f in fates] == [True, True]
    first, second = segments
    assert first.start == pytest.approx(1.0 - ENERGY.edge_margin, abs=0.03)
    assert second.start == pytest.approx(4.0 - ENERGY.edge_margin, abs=0.03)
    assert second.end == pytest.approx(6.5 + ENERGY.edge_margin, abs=0.03)
    assert first.edges_moved and second.edges_moved
    assert first.start_shift < 0 and second.start_shift > 0 and second.end_shift > 0


def test_edges_move_at_most_max_edge_shift():
    audio = bursts([(1.0, 6.0)], 8.0)
    segments, _ = segment_recording([cue(0, 3.0, 6.0, 10)], audio, ENERGY)  # 2 s late: no pause within reach
    assert segments[0].start == pytest.approx(3.0 - ENERGY.padding)
    assert not segments[0].start_shift


def test_every_cue_has_a_fate():
    audio = bursts([(0.5, 2.5), (3.0, 5.0), (6.0, 6.4)], 10.0)
    cues = [
        cue(0, 0.5, 2.5),
        CueInput(1, None, None, "", "00:00:aa --> x", "malformed_timestamp"),
        cue(2, 3.0, 5.0, text="Hello there, this is English only."),
        cue(3, 12.0, 13.0),  # past the end of the media
        cue(4, 6.0, 6.4, 2),  # too short even with padding
        cue(5, 7.0, 9.5, 8),  # silence only
        cue(6, 9.0, 11.0),  # runs past the end: clipped
    ]
    segments, fates = segment_recording(cues, audio, ENERGY)
    reasons = {f.index: (f.kept, f.reason) for f in fates}
    assert reasons == {0: (True, None), 1: (False, "malformed_timestamp"), 2: (False, "not_amharic"),
                       3: (False, "past_end_of_media"), 4: (False, "too_short"), 5: (False, "silent"),
                       6: (False, "silent")}
    assert "clipped to the end of the media" in fates[6].detail
    assert len(segments) == 1 and segments[0].cue_indices == [0]


def test_characters_per_second_outliers():
    audio = bursts([(0.5, 3.5), (4.5, 5.7)], 7.0)
    long_text = " ".join(WORDS.split() * 4)  # ~100 syllables in ~1.2 s
    segments, fates = segment_recording([cue(0, 0.5, 3.5, text="ሰላም።"), cue(1, 4.5, 5.7, text=long_text)], audio,
                                        ENERGY)
    assert [f.reason for f in fates] == ["cps_too_low", "cps_too_high"]


def test_overlapping_cues_are_joined_and_short_neighbours_merged():
    audio = bursts([(1.0, 3.0), (3.2, 3.7), (3.9, 4.4), (6.0, 8.0)], 9.0)
    cues = [cue(0, 1.0, 2.5, 3), cue(1, 2.2, 3.0, 2),  # overlap
            cue(2, 3.2, 3.7, 2), cue(3, 3.9, 4.4, 2),  # two short neighbours 0.2 s apart
            cue(4, 6.0, 8.0)]
    segments, fates = segment_recording(cues, audio, ENERGY)
    # 0+1 overlap; 2 and 3 are short and within merge_gap of the group before them
    assert [s.cue_indices for s in segments] == [[0, 1, 2, 3], [4]]
    by_index = {f.index: f for f in fates}
    assert all(by_index[i].kept for i in range(5))
    assert "joined with cues" in by_index[1].detail
    joined = segments[0]
    assert joined.text.startswith(cues[0].text) and cues[1].text in joined.text


def test_a_long_cue_is_split_at_a_pause_or_dropped():
    sentences = ["ሰላም ነው አዲስ አበባ ትልቅ ከተማ ናት።"] * 4
    audio = bursts([(0.5, 6.0), (6.6, 12.0), (12.6, 18.0), (18.6, 24.0)], 25.0)
    cfg = SegmentConfig(vad="energy", max_duration=13.0)
    segments, fates = segment_recording([cue(0, 0.5, 24.0, text=" ".join(sentences))], audio, cfg)
    assert fates[0].kept and len(segments) >= 2 and len(fates[0].segments) == len(segments)
    assert all(s.end - s.start <= 13.0 for s in segments)
    for left, right in zip(segments, segments[1:]):
        assert any(abs(left.end - gap) < 0.5 for gap in (6.3, 12.3, 18.3))  # cut in a pause
    # one long sentence with no pause to cut at: dropped
    solid = bursts([(0.5, 24.0)], 25.0)
    segments, fates = segment_recording([cue(0, 0.5, 24.0, text="ሀ" * 200)], solid, cfg)
    assert not segments and fates[0].reason == "too_long"


def test_clipping_is_detected():
    audio = bursts([(0.5, 2.5)], 3.0)
    audio[SR: SR + 400] = 1.0
    _, fates = segment_recording([cue(0, 0.5, 2.5)], audio, ENERGY)
    assert fates[0].reason == "clipped"


def test_energy_regions_and_ethiopic_share():
    regions = energy_speech_regions(bursts([(1.0, 2.0), (3.0, 3.5)], 5.0))
    assert len(regions) == 2
    assert regions[0][0] == pytest.approx(1.0, abs=0.03) and regions[1][1] == pytest.approx(3.5, abs=0.03)
    assert ethiopic_share("ሰላም Hi") == pytest.approx(3 / 5)
    assert ethiopic_share("123 ...") == 0.0


def test_silero_finds_real_speech_edges():
    """Real speech (espeak-ng fixture): silero moves a late start back to where the voice begins."""
    from pathlib import Path

    from amharic_tts.data.media import load_audio
    from amharic_tts.data.segment import silero_speech_regions

    wav = load_audio(Path(__file__).parent / "media" / "speech.wav")
    padded = np.concatenate([np.zeros(SR, np.float32), wav, np.zeros(SR, np.float32)])
    regions = silero_speech_regions(padded)
    assert regions and regions[0][0] == pytest.approx(1.0, abs=0.25)
    voice_start = regions[0][0]
    segments, _ = segment_recording([cue(0, voice_start + 0.3, regions[-1][1], 8)], padded, SegmentConfig())
    assert segments and segments[0].start < voice_start and segments[0].edges_moved


MEDIA = Path(__file__).parent / "media"
DEMO_WAVS = Path(__file__).resolve().parents[2] / "samples" / "demo" / "ljspeech" / "wavs"


@pytest.fixture(scope="module")
def reference_fingerprint():
    return loudness_fingerprint(load_audio(str(MEDIA / "speech.wav")))


@pytest.mark.parametrize("name", ["speech.mp3", "speech.opus", "speech.m4a", "speech.mkv", "speech_8k_u8.wav",
                                  "speech_stereo_44k.flac"])
def test_copies_of_a_recording_have_alike_loudness_fingerprints(name, reference_fingerprint):
    """The same espeak-ng recording re-encoded (mp3, opus, aac, 8 kHz 8-bit ...), re-cut by a few milliseconds to
    a quarter second at either end (cut points off the 10 ms frame grid) and made quieter."""
    copy = load_audio(str(MEDIA / name))
    for start, end in [(0, 0), (80, 0), (1680, 800), (4000, 3000)]:
        cut = loudness_fingerprint(0.3 * copy[start:len(copy) - end])
        assert fingerprint_similarity(reference_fingerprint, cut) >= 0.95, (start, end)
        assert fingerprint_similarity(cut, reference_fingerprint) == pytest.approx(
            fingerprint_similarity(reference_fingerprint, cut))


def test_a_noisier_copy_is_a_copy(reference_fingerprint):
    """20 dB SNR: the floor 30 dB under each band's peak keeps the added noise out of the silences."""
    copy = load_audio(str(MEDIA / "speech.opus"))
    noise = np.random.default_rng(0).normal(0, np.sqrt(np.mean(copy ** 2)) / 10, len(copy)).astype(np.float32)
    assert fingerprint_similarity(reference_fingerprint, loudness_fingerprint(copy + noise)) >= 0.95


def test_another_reading_or_sentence_is_not_a_copy(reference_fingerprint):
    assert fingerprint_similarity(reference_fingerprint, reference_fingerprint) == pytest.approx(1.0)
    retake = loudness_fingerprint(load_audio(str(MEDIA / "speech_retake.opus")))  # same text, slower, higher
    assert fingerprint_similarity(reference_fingerprint, retake) < 0.7
    other = loudness_fingerprint(load_audio(str(DEMO_WAVS / "demo_003.wav")))
    assert fingerprint_similarity(reference_fingerprint, other) < 0.5
    # shifts are searched up to half a second only: the copy after 0.6 s of silence is not aligned with it
    delayed = np.concatenate([np.zeros(9600, np.float32), load_audio(str(MEDIA / "speech.wav"))])
    assert fingerprint_similarity(reference_fingerprint, loudness_fingerprint(delayed)) < 0.95
    assert fingerprint_similarity(reference_fingerprint, loudness_fingerprint(delayed), max_shift=1.0) >= 0.95
    silence = loudness_fingerprint(np.zeros(16000, np.float32))
    assert silence.shape == (1 + (16000 - 640) // 160, 4) and fingerprint_similarity(reference_fingerprint, silence) == 0.0
    assert fingerprint_similarity(reference_fingerprint, loudness_fingerprint(np.zeros(10, np.float32))) == -1.0
