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
    assert silence.shape == (1 + (16000 - 640) // 160, 4)
    assert fingerprint_similarity(reference_fingerprint, silence) == 0.0
    assert fingerprint_similarity(reference_fingerprint, loudness_fingerprint(np.zeros(10, np.float32))) == -1.0


def test_pieces_of_a_long_cue_are_cut_in_the_middle_of_a_pause_and_do_not_overlap():
    # the character estimate for the cut (12.5 s) lies in the pause, 50 ms before the second sentence
    audio = bursts([(0.5, 11.0), (12.55, 24.5)], 25.0)
    cfg = SegmentConfig(vad="energy", max_duration=13.0, min_cps=1.0)
    text = "ሰላም ነው አዲስ አበባ ትልቅ ከተማ ናት። ሰላም ነው አዲስ አበባ ትልቅ ከተማ ናት።"
    segments, fates = segment_recording([cue(0, 0.5, 24.5, text=text)], audio, cfg)
    assert fates[0].kept and len(segments) == 2
    first, second = segments
    assert first.end == pytest.approx(11.0 + cfg.edge_margin, abs=0.03)  # not padded into the next sentence
    assert second.start == pytest.approx(12.55 - cfg.edge_margin, abs=0.03)
    assert first.end < second.start


def test_cues_overlapping_by_a_few_milliseconds_stay_apart():
    """Auto-generated subtitles: each cue ends 40 ms after the next one starts. Chained into one group they would
    be 23.4 s long (too long); they are parted in the pause before each next sentence instead."""
    starts = [0.6, 4.6, 8.6, 12.6, 16.6, 20.6]
    audio = bursts([(s, s + 3.4) for s in starts], 25.0)
    cues = [cue(i, s, (starts[i + 1] if i + 1 < len(starts) else 24.0) + 0.04) for i, s in enumerate(starts)]
    segments, fates = segment_recording(cues, audio, ENERGY)
    assert [s.cue_indices for s in segments] == [[i] for i in range(len(starts))]
    assert all(f.kept and "joined" not in f.detail for f in fates)
    for left, right, next_start in zip(segments, segments[1:], starts[1:]):
        assert left.end == pytest.approx(next_start - 0.6 + ENERGY.edge_margin, abs=0.03)
        assert right.start == pytest.approx(next_start - ENERGY.edge_margin, abs=0.03)


def test_a_sloppy_overlap_without_a_pause_is_cut_at_its_middle_and_real_overlaps_join():
    audio = bursts([(0.5, 8.0)], 9.0)  # no pause anywhere
    segments, _ = segment_recording([cue(0, 0.5, 4.1), cue(1, 3.9, 8.0)], audio, ENERGY)
    assert [s.cue_indices for s in segments] == [[0], [1]]
    assert segments[0].end == pytest.approx(4.0) and segments[1].start == pytest.approx(4.0)
    # two voices at once (1 s overlap), a cue inside another: one segment each
    audio = bursts([(0.5, 5.0), (6.0, 9.0)], 10.0)
    cues = [cue(0, 0.5, 3.0), cue(1, 2.0, 5.0), cue(2, 6.0, 9.0), cue(3, 7.0, 8.0, 2)]
    segments, _ = segment_recording(cues, audio, ENERGY)
    assert [s.cue_indices for s in segments] == [[0, 1], [2, 3]]


def test_an_edge_inside_a_neighbouring_utterance_moves_out_of_it():
    # a start 0.2 s before the end of an utterance before it (early subtitle): forward, past that speech
    audio = bursts([(0.5, 2.0), (2.3, 5.0)], 6.0)
    segments, _ = segment_recording([cue(0, 1.9, 5.0)], audio, ENERGY)
    assert segments[0].start == pytest.approx(2.3 - ENERGY.edge_margin, abs=0.03)
    # an end 0.2 s into the utterance after it (late subtitle): back, before that speech
    audio = bursts([(1.0, 4.0), (4.3, 6.0)], 7.0)
    segments, _ = segment_recording([cue(0, 1.0, 4.4)], audio, ENERGY)
    assert segments[0].end == pytest.approx(4.0 + ENERGY.edge_margin, abs=0.03)
    # the next cue starts early, inside the tail of the one before: neither segment keeps the other's speech
    audio = bursts([(1.0, 3.0), (3.3, 6.0)], 7.0)
    segments, _ = segment_recording([cue(0, 1.0, 2.8), cue(1, 2.85, 6.0)], audio, ENERGY)
    first, second = segments
    assert first.end == pytest.approx(3.0 + ENERGY.edge_margin, abs=0.03)
    assert second.start == pytest.approx(3.3 - ENERGY.edge_margin, abs=0.03)


def test_a_whole_clip_is_trimmed_to_its_speech():
    """LJSpeech and Hub clips are one cue from 0 to the end: all leading and trailing silence goes."""
    segments, fates = segment_recording([cue(0, 0.0, 6.75)], bursts([(1.2, 5.25)], 6.75), ENERGY)
    assert segments[0].start == pytest.approx(1.2 - ENERGY.edge_margin, abs=0.03)
    assert segments[0].end == pytest.approx(5.25 + ENERGY.edge_margin, abs=0.03)
    assert segments[0].edges_moved
    # 2 s of silence each side: 8 syllables in 6 s would be too slow, in the 2 s spoken they are not
    segments, fates = segment_recording([cue(0, 0.0, 6.0, 3)], bursts([(2.0, 4.0)], 6.0), ENERGY)
    assert fates[0].kept
    assert (segments[0].start, segments[0].end) == pytest.approx((1.92, 4.08), abs=0.03)


SENTENCE = "ሰላም ነው አዲስ አበባ ትልቅ ከተማ ናት።"


def test_a_short_last_sentence_stays_with_the_piece_before():
    audio = bursts([(0.5, 6.0), (6.6, 12.0), (12.6, 18.0), (18.6, 19.0)], 20.0)
    cfg = SegmentConfig(vad="energy", max_duration=13.0)
    segments, fates = segment_recording([cue(0, 0.5, 19.0, text=" ".join([SENTENCE] * 3 + ["አዎ።"]))], audio, cfg)
    assert fates[0].kept and fates[0].detail == "" and [s.text for s in segments] == [
        SENTENCE, SENTENCE, f"{SENTENCE} አዎ።"]  # "አዎ።" alone (0.4 s) would be too short
    assert segments[2].start == pytest.approx(12.6 - cfg.edge_margin, abs=0.03)
    assert segments[2].end == pytest.approx(19.0 + cfg.edge_margin, abs=0.03)


def test_sentences_without_a_pause_of_their_own_are_cut_where_there_is_one():
    """Four sentences, one pause: one cut there (each sentence needing its own pause used to drop the cue)."""
    audio = bursts([(0.5, 12.0), (12.6, 24.5)], 25.0)
    segments, fates = segment_recording([cue(0, 0.5, 24.5, text=" ".join([SENTENCE] * 4))], audio,
                                        SegmentConfig(vad="energy"))
    assert fates[0].kept and [s.text for s in segments] == [f"{SENTENCE} {SENTENCE}"] * 2
    assert segments[0].end == pytest.approx(12.0 + ENERGY.edge_margin, abs=0.03)
    assert segments[1].start == pytest.approx(12.6 - ENERGY.edge_margin, abs=0.03)


def test_pieces_belong_to_the_cues_their_text_came_from():
    """Two voices at once: one group of two cues, split into four pieces, two from each cue."""
    audio = bursts([(0.5, 6.0), (6.6, 12.0), (12.6, 18.0), (18.6, 24.0)], 25.0)
    cfg = SegmentConfig(vad="energy", max_duration=13.0)
    first = CueInput(0, 0.5, 13.0, f"{SENTENCE} {SENTENCE}", "- ሰላም ነው (1)")
    second = CueInput(1, 11.5, 24.0, f"{SENTENCE} {SENTENCE}", "- ሰላም ነው (2)")
    segments, fates = segment_recording([first, second], audio, cfg)
    assert [s.raw_text for s in segments] == [first.raw_text] * 2 + [second.raw_text] * 2
    assert [s.cue_indices for s in segments] == [[0], [0], [1], [1]]
    assert fates[0].segments == [0, 1] and fates[1].segments == [2, 3]
    # the second cue's text is English: its pieces are dropped, and so is the cue; the first one stays
    english = CueInput(1, 11.5, 24.0, "Hello there my friend. Hello there my friend.", "B")
    segments, fates = segment_recording([first, english], audio, cfg)
    assert [s.cue_indices for s in segments] == [[0], [0]]
    assert fates[0].kept and fates[0].segments == [0, 1] and fates[0].detail == "joined with cues [1]"
    assert not fates[1].kept and fates[1].reason == "not_amharic"
    assert fates[1].detail == ("piece 3 of 4 dropped: not_amharic; piece 4 of 4 dropped: not_amharic; "
                               "joined with cues [0]")


def test_a_long_whole_clip_is_split_by_its_speech_and_trimmed():
    audio = bursts([(3.0, 14.0), (14.6, 25.0)], 28.0)
    segments, fates = segment_recording([cue(0, 0.0, 28.0, text=f"{SENTENCE} {SENTENCE}")], audio,
                                        SegmentConfig(vad="energy", min_cps=1.0))
    assert fates[0].kept and len(segments) == 2
    assert segments[0].start == pytest.approx(3.0 - ENERGY.edge_margin, abs=0.03)
    assert segments[0].end == pytest.approx(14.0 + ENERGY.edge_margin, abs=0.03)
    assert segments[1].start == pytest.approx(14.6 - ENERGY.edge_margin, abs=0.03)
    assert segments[1].end == pytest.approx(25.0 + ENERGY.edge_margin, abs=0.03)
    # 22 s with 3 s of silence around 16 s of speech: no split needed
    segments, _ = segment_recording([cue(0, 0.0, 22.0, text=f"{SENTENCE} {SENTENCE}")],
                                    bursts([(3.0, 19.0)], 22.0), SegmentConfig(vad="energy", min_cps=1.0))
    assert [(round(s.start, 1), round(s.end, 1)) for s in segments] == [(2.9, 19.1)]


@pytest.mark.parametrize("cfg", [SegmentConfig(vad="energy", min_cps=1.0),
                                 SegmentConfig(vad="energy", min_cps=1.0, max_duration=8.0, min_duration=0.5),
                                 SegmentConfig(vad="energy", min_cps=1.0, padding=0.0, edge_margin=0.0)])
def test_random_cues_give_segments_that_never_overlap_and_account_for_every_cue(cfg):
    """Sloppy, nested, overlapping, tiny and over-long cues over random speech: the invariants hold."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        spans, t = [], rng.uniform(0, 1.5)
        for _ in range(rng.integers(1, 12)):
            length = rng.choice([rng.uniform(0.1, 1), rng.uniform(1, 5), rng.uniform(4, 12)])
            spans.append((t, t + length))
            t += length + rng.choice([rng.uniform(0, 0.15), rng.uniform(0.15, 0.8), rng.uniform(0.8, 3)])
        total = spans[-1][1] + rng.uniform(0, 2)
        cues, k = [], 0
        while k < len(spans):
            take = int(rng.choice([1, 1, 2, 3]))
            first, last = spans[k], spans[min(k + take, len(spans)) - 1]
            start = max(0.0, first[0] + rng.uniform(-0.6, 0.6)) if rng.random() > 0.1 else 0.0
            end = max(start + 0.02, last[1] + rng.uniform(-0.6, 0.6))
            if rng.random() < 0.25 and cues:  # the cue before runs into this one
                cues[-1] = cue(len(cues) - 1, cues[-1].start, start + rng.uniform(0, 1.5), text=cues[-1].text)
            n_words = max(1, int((end - start) * 2.5))
            words = [WORDS.split()[i % 10] + ("።" if i % 5 == 4 else "") for i in range(n_words)]
            cues.append(cue(len(cues), start, end, text=" ".join(words) + "።"))
            k += take
        segments, fates = segment_recording(cues, bursts(spans, total), cfg)
        ordered = sorted(segments, key=lambda s: s.start)
        assert all(a.end <= b.start + 1e-9 for a, b in zip(ordered, ordered[1:]))
        assert all(0 <= s.start < s.end <= total + 1e-6 for s in segments)
        assert all(cfg.min_duration <= s.end - s.start <= cfg.max_duration + 1e-9 for s in segments)
        assert [f.index for f in fates] == [c.index for c in cues]
        assert all((f.kept and f.segments and not f.reason) or (not f.kept and f.reason) for f in fates)
        for n, segment in enumerate(segments):  # a segment and its cues name each other
            assert segment.cue_indices and all(n in fates[i].segments for i in segment.cue_indices)
        assert sorted({n for f in fates for n in f.segments}) == list(range(len(segments)))


def test_silero_leaves_torch_threads_as_they_were():
    """silero-vad's import sets torch to one thread for the whole process (the S3 tokenizer then ran at half
    speed on two cores); the detector puts the number back."""
    import subprocess
    import sys

    code = ("import numpy as np, torch; torch.set_num_threads(2); "
            "from amharic_tts.data.segment import silero_speech_regions; "
            "silero_speech_regions(np.zeros(16000, dtype=np.float32)); print(torch.get_num_threads())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "2"
