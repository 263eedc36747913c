"""Feature extraction in length-sorted batches under a frame budget: the same features as in row order, less padding."""

from pathlib import Path

import numpy as np
import pytest

from amharic_tts.data.features import (FeatureExtractor, budget_batches, decode_audio_bytes, encode_flac,
                                       feature_batches, length_order, mel_frames, padded_share)

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo"
# spans of the demo lecture (seconds), long and short mixed in row order as subtitles cut them: 1.2 s to 5.8 s
SPANS = [(2.0, 4.6), (5.4, 11.2), (15.2, 16.4), (24.0, 25.6), (17.7, 23.2), (26.6, 28.5)]
BATCH, BUDGET = 3, 1200  # rows per datasets.map batch; padded frames per batch: splits the batch of long clips


def test_length_order_deals_sorted_rows_to_each_worker_in_turn():
    from datasets import Dataset

    lengths = [3, 5, 5, 1, 4, 2, 6]
    assert length_order(lengths) == [6, 1, 2, 4, 0, 5, 3]  # longest first, equal lengths in row order
    order = length_order(lengths, shards=2)
    assert order == [6, 2, 0, 3, 1, 4, 5]
    # datasets.map(num_proc=2) cuts contiguous blocks: each is sorted and holds every other rank
    table = Dataset.from_dict({"row": order})
    shards = [table.shard(2, rank, contiguous=True)["row"] for rank in (0, 1)]
    assert shards == [[6, 2, 0, 3], [1, 4, 5]]
    assert sorted(length_order(lengths, shards=3)) == list(range(7))


def test_budget_batches_keep_the_order_and_the_budget():
    assert budget_batches([500, 400, 300, 300, 100, 100, 100], 1000) == [[0, 1], [2, 3, 4], [5, 6]]
    assert budget_batches([100, 300, 200], 600) == [[0, 1], [2]]  # the longest row sets the width, wherever it is
    assert budget_batches([1500, 10, 10], 1000) == [[0], [1, 2]]  # too long for the budget: a batch of its own
    assert budget_batches([], 1000) == []
    with pytest.raises(ValueError):
        budget_batches([1], 0)
    lengths = [200, 1000, 300, 900]
    assert feature_batches(lengths, batch_size=2, max_frames=None, sort=False) == [[0, 1], [2, 3]]
    assert feature_batches(lengths, batch_size=2, max_frames=None) == [[1, 3], [2, 0]]
    assert feature_batches(lengths, batch_size=4, max_frames=1800) == [[1], [3, 2], [0]]
    assert padded_share(lengths, [[0, 1], [2, 3]]) == pytest.approx(1 - 2400 / 3800)
    assert padded_share(lengths, [[1, 3], [2, 0]]) == pytest.approx(1 - 2400 / 2600)
    assert mel_frames(16000) == 100 and mel_frames(16159) == 100


@pytest.fixture(scope="module")
def segments():
    """A segment table like prepare's: spans of the demo lecture, FLAC-encoded, in row order long and short."""
    from datasets import Dataset, Features

    from amharic_tts.data.media import load_audio
    from amharic_tts.data.prepare import _row_features

    lecture = load_audio(DEMO / "lecture.webm")
    clips = [lecture[int(s * 16000): int(e * 16000)] for s, e in SPANS]
    columns = ["id", "order", "source", "recording", "speaker", "text", "raw_text", "duration", "start", "end",
               "edges_moved", "start_shift", "end_shift", "audio"]
    rows = {"id": [f"lecture-{i:05d}" for i in range(len(clips))], "order": list(range(1, len(clips) + 1)),
            "source": ["lecture"] * len(clips), "recording": ["lecture"] * len(clips),
            "speaker": ["lecture"] * len(clips), "text": ["ሰላም"] * len(clips),
            "raw_text": ["ሰላም"] * len(clips),
            "duration": [len(c) / 16000 for c in clips], "start": [s for s, _ in SPANS],
            "end": [e for _, e in SPANS], "edges_moved": [False] * len(clips), "start_shift": [0.0] * len(clips),
            "end_shift": [0.0] * len(clips),
            "audio": [{"bytes": encode_flac(c), "path": f"{i}.flac"} for i, c in enumerate(clips)]}
    table = Dataset.from_dict(rows, features=Features({k: _row_features()[k] for k in columns}))
    return table, [decode_audio_bytes(encode_flac(c))[0] for c in clips]  # what the extractor reads


def test_sorted_extraction_gives_each_row_the_features_of_row_order_with_less_padding(segments, tiny_base_dir):
    from amharic_tts.data.prepare import PrepareConfig, _add_features

    table, wavs = segments
    extractor = FeatureExtractor.shared(str(tiny_base_dir), device="cpu")
    # before: datasets.map's batches of BATCH rows in row order, each padded to its longest row (what prepare did)
    extractor.real_frames = extractor.batch_frames = 0
    parts = [extractor(wavs[i:i + BATCH]) for i in range(0, len(wavs), BATCH)]
    row_order_padding = extractor.padding_share()
    tokens = [t for p in parts for t in p.speech_tokens]
    speaker = np.concatenate([p.speaker_emb for p in parts])
    mels = [m for p in parts for m in p.mel]

    extractor.real_frames = extractor.batch_frames = 0
    config = PrepareConfig(feature_batch_size=BATCH, feature_batch_frames=BUDGET)
    out = _add_features(table, base_model=str(tiny_base_dir), revision=None, config=config, num_proc=1,
                        device="cpu", fingerprint="test-features")
    sorted_padding = extractor.padding_share()
    assert out["id"] == table["id"]  # the rows come back in their order
    assert out["duration"] == table["duration"]
    for i, row in enumerate(out.with_format("numpy")):
        np.testing.assert_array_equal(row["speech_tokens"], tokens[i], err_msg=row["id"])
        np.testing.assert_array_equal(row["speaker_emb"], speaker[i], err_msg=row["id"])  # each clip alone
        np.testing.assert_array_equal(row["mel"], mels[i], err_msg=row["id"])
        assert abs(len(row["speech_tokens"]) - 25 * row["duration"]) <= 1
    # the rows are told apart: a mix-up of two rows would fail above
    assert len({len(t) for t in tokens}) == len(tokens) and not np.allclose(speaker[0], speaker[1], atol=1e-3)
    # the padding the extractor saw is what the plan says, before and after
    frames = [mel_frames(len(w)) for w in wavs]
    assert row_order_padding == pytest.approx(padded_share(frames, feature_batches(
        frames, batch_size=BATCH, max_frames=None, sort=False)))
    assert sorted_padding == pytest.approx(padded_share(frames, feature_batches(
        frames, batch_size=BATCH, max_frames=BUDGET)))
    assert row_order_padding > 0.4 and sorted_padding < 0.1
    batches = feature_batches(frames, batch_size=BATCH, max_frames=BUDGET)
    assert len(batches) > len(wavs) // BATCH and all(len(b) * max(frames[i] for i in b) <= BUDGET for b in batches)


@pytest.mark.parametrize("settings", [{"feature_batch_frames": 0}, {"feature_batch_size": 2.5},
                                      {"feature_batch_frames": True}])
def test_batch_settings_must_be_whole_numbers(settings):
    from amharic_tts.data.prepare import PrepareConfig

    with pytest.raises(ValueError, match="must be a whole number of at least 1"):
        PrepareConfig.from_dict(settings)
