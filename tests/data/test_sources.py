"""--srt-dir: media files paired with their subtitles, language-tagged names (yt-dlp's talk.am.srt) included."""

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from amharic_tts.data.media import MediaError, load_audio
from amharic_tts.data.sources import collect_sources, iter_recordings, pair_subtitles

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "samples" / "demo"
MEDIA = Path(__file__).parent / "media"


def _folder(tmp_path: Path, *names: str) -> Path:
    for name in names:
        (tmp_path / name).write_bytes(b"")
    return tmp_path


def _pairs(folder: Path) -> dict:
    return {s.name: (Path(s.media).name if s.media else None, Path(s.subtitles).name if s.subtitles else None,
                     s.skipped) for s in collect_sources(srt_dirs=[str(folder)])}


def test_language_tagged_subtitles_pair_with_their_media(tmp_path):
    for i, tag in enumerate(("am", "amh", "en", "en-US", "pt_BR")):
        _folder(tmp_path, f"talk{i}.wav", f"talk{i}.{tag}.srt")
    pairs = _pairs(tmp_path)
    assert pairs == {f"talk{i}": (f"talk{i}.wav", f"talk{i}.{tag}.srt", None)
                     for i, tag in enumerate(("am", "amh", "en", "en-US", "pt_BR"))}


def test_amharic_then_untagged_subtitles_are_preferred_and_the_others_skipped(tmp_path):
    _folder(tmp_path, "a.mp4", "a.en.srt", "a.srt", "a.amh.srt",  # Amharic wins
            "b.mkv", "b.en.srt", "b.srt",  # untagged beats another language
            "c.webm", "c.fr.srt", "c.en.srt")  # neither: the first by name
    pairs = _pairs(tmp_path)
    assert {k: v[:2] for k, v in pairs.items() if v[2] is None} == {
        "a": ("a.mp4", "a.amh.srt"), "b": ("b.mkv", "b.srt"), "c": ("c.webm", "c.en.srt")}
    skipped = {k: v for k, v in pairs.items() if v[2]}
    assert set(skipped) == {"a.en.srt", "a.srt", "b.en.srt", "c.fr.srt"}
    assert skipped["a.srt"][:2] == ("a.mp4", "a.srt")
    assert skipped["a.srt"][2] == ("the media file a has several subtitle files; a.amh.srt was used (Amharic first, "
                                   "then the one without a language tag)")


def test_exact_stems_win_and_unpaired_files_still_fail(tmp_path):
    _folder(tmp_path, "day.1.mp4", "day.1.srt", "notes.backup.srt", "solo.mp3", "other.am.srt")
    pairs = _pairs(tmp_path)
    assert pairs["day.1"] == ("day.1.mp4", "day.1.srt", None)
    assert pairs["notes.backup"] == (None, "notes.backup.srt", None)  # "backup" is no language code
    assert pairs["other.am"] == (None, "other.am.srt", None)  # no media "other"
    assert pairs["solo"] == ("solo.mp3", None, None)
    chosen, skipped, orphans = pair_subtitles(["x"], [tmp_path / "x.amh.srt", tmp_path / "x.toolong.srt"])
    assert chosen == {"x": tmp_path / "x.amh.srt"} and not skipped
    assert orphans == {tmp_path / "x.toolong.srt": "x.toolong"}


def test_media_files_of_one_name_are_not_lost_silently(tmp_path):
    """lecture.mp4 (the whole film) and lecture.wav (an excerpt): the larger is paired, the other is reported."""
    (tmp_path / "lecture.mp4").write_bytes(b"x" * 500)
    (tmp_path / "lecture.wav").write_bytes(b"x" * 50)
    (tmp_path / "lecture.srt").write_bytes(b"")
    pairs = _pairs(tmp_path)
    assert pairs["lecture"] == ("lecture.mp4", "lecture.srt", None)
    assert pairs["lecture.wav"][:2] == ("lecture.wav", "lecture.srt")
    assert pairs["lecture.wav"][2] == ("lecture.mp4 has the same name and is larger; it was paired with the "
                                       "subtitles instead (rename one to use both)")
    (tmp_path / "lecture.srt").unlink()
    assert _pairs(tmp_path)["lecture.wav"][2] == ("lecture.mp4 has the same name and is larger; it was used "
                                                  "instead (rename one to use both)")


def test_prepared_from_a_yt_dlp_style_folder(tmp_path, tiny_base_dir):
    """talk.wav + talk.am.srt is prepared (it used to fail twice); a second subtitle is reported as skipped."""
    from amharic_tts.data.prepare import PrepareConfig, prepare_dataset, summarize

    folder = tmp_path / "lectures"
    folder.mkdir()
    shutil.copy(DEMO / "lecture.webm", folder / "talk.webm")
    shutil.copy(DEMO / "lecture.srt", folder / "talk.am.srt")
    shutil.copy(DEMO / "lecture.srt", folder / "talk.en.srt")
    specs = collect_sources(srt_dirs=[str(folder)])
    result = prepare_dataset(specs, tmp_path / "out", PrepareConfig(validation_size=0, test_size=0),
                             base_model=str(tiny_base_dir))
    sources = {s["name"]: s for s in result.report["sources"]}
    assert sources["talk"]["status"] == "ok" and sources["talk"]["segments"] == 10
    assert sources["talk.en.srt"]["status"] == "skipped" and "talk.am.srt was used" in sources["talk.en.srt"]["error"]
    assert result.report["totals"]["failed_sources"] == 0 and result.report["totals"]["skipped_sources"] == 1
    assert "  talk.en.srt: skipped: the media file talk has several subtitle files" in summarize(result.report)


def _hub_rows(tmp_path, name, audio, speakers, features_audio):
    from datasets import Dataset, Features, Value

    Dataset.from_dict({"audio": audio, "text": ["ሰላም ነው።"] * len(audio), "who": speakers},
                      features=Features({"audio": features_audio, "text": Value("string"),
                                         "who": Value("string")})).save_to_disk(str(tmp_path / name))
    (spec,) = collect_sources(hub=[{"dataset": str(tmp_path / name), "speaker_column": "who"}])
    return list(iter_recordings(spec, lambda text: text))


def test_hub_rows_bytes_decoded_arrays_and_speaker_labels(tmp_path):
    from datasets import Sequence, Value

    mp3 = (MEDIA / "speech.mp3").read_bytes()
    stored = {"bytes": Value("binary"), "path": Value("string")}
    rows = _hub_rows(tmp_path, "bytes", [{"bytes": mp3, "path": "clips/a.mp3"},
                                         {"bytes": b"not audio at all" * 50, "path": "clips/bad.mp3"}],
                     ["7", None], stored)
    reference = load_audio(str(MEDIA / "speech.mp3"))
    assert np.abs(rows[0].audio - reference).max() < 1e-3  # mp3 bytes
    assert rows[0].speaker == "bytes/7" and rows[1].speaker == "bytes"  # no speaker: the source's name
    (bad,) = rows[1].cues
    assert bad.problem == "unreadable_audio" and "clips/bad.mp3" in bad.detail
    assert tempfile.gettempdir() not in bad.detail  # the row's name, not the temporary file's
    # a column of decoded audio ({"array", "sampling_rate"}), at 22.05 kHz
    samples, rate = sf.read(MEDIA / "speech.wav", dtype="float32")
    decoded = {"array": Sequence(Value("float32")), "sampling_rate": Value("int32")}
    (row,) = _hub_rows(tmp_path, "decoded", [{"array": samples, "sampling_rate": rate}], ["7"], decoded)
    assert row.speaker == "decoded/7"  # "7" of another dataset is another speaker
    assert len(row.audio) == round(len(samples) * 16000 / rate)
    assert np.abs(row.audio - load_audio(str(MEDIA / "speech.wav"))).max() < 0.02


def test_decoded_hub_audio_in_any_layout_is_16_khz_mono_at_full_scale():
    """datasets decodes several channels as (channels, samples); integer PCM is scaled; soundfile's layout too."""
    from amharic_tts.data.sources import _decode_hub_audio

    rng = np.random.default_rng(0)
    left, right = (0.5 * rng.uniform(-1, 1, 16000)).astype(np.float32), np.zeros(16000, np.float32)
    mono = _decode_hub_audio({"array": np.stack([left, right]), "sampling_rate": 16000})
    assert mono.shape == (16000,) and np.allclose(mono, left / 2)
    assert np.allclose(_decode_hub_audio({"array": np.stack([left, right], axis=1), "sampling_rate": 16000}), mono)
    pcm16 = _decode_hub_audio({"array": np.round(left * 32768).astype(np.int16), "sampling_rate": 16000})
    assert pcm16.dtype == np.float32 and np.abs(pcm16 - left).max() < 1e-4
    pcm8 = _decode_hub_audio({"array": np.round(left * 128 + 128).astype(np.uint8), "sampling_rate": 16000})
    assert np.abs(pcm8 - left).max() < 1e-2
    with pytest.raises(MediaError, match=r"shape \(2, 2, 100\)"):
        _decode_hub_audio({"array": np.zeros((2, 2, 100)), "sampling_rate": 16000})


def test_a_missing_speaker_value_is_the_source_s_speaker():
    from amharic_tts.data.sources import SourceSpec, _speaker_label

    spec = SourceSpec("hub", "corpus")
    assert [_speaker_label(spec, v) for v in ("7", 7, " 7 ", None, float("nan"), "  ")] == [
        "corpus/7", "corpus/7", "corpus/7", "corpus", "corpus", "corpus"]


def test_a_hub_dataset_is_read_at_the_commit_found_when_the_run_starts(monkeypatch, tmp_path):
    """The cache's fingerprint holds the commit, so a push to the dataset is noticed; offline, none is asked."""
    from types import SimpleNamespace

    import huggingface_hub
    from huggingface_hub import constants

    from amharic_tts.data.prepare import PrepareConfig, segmentation_fingerprint

    def no_network(*args, **kwargs):
        raise AssertionError("the Hub was asked while offline")

    # offline: the commit last fetched, as the Hub cache records it, so a cache made online is still valid
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", no_network)
    (offline,) = collect_sources(hub=[{"dataset": "someone/amharic-speech"}])
    assert offline.revision is None  # never fetched
    (tmp_path / "datasets--someone--amharic-speech" / "refs").mkdir(parents=True)
    (tmp_path / "datasets--someone--amharic-speech" / "refs" / "main").write_text("c" * 40)
    (offline,) = collect_sources(hub=[{"dataset": "someone/amharic-speech"}])
    assert offline.revision == "c" * 40
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    commits = iter(["a" * 40, "b" * 40])
    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info",
                        lambda self, repo_id: SimpleNamespace(sha=next(commits)))
    first, = collect_sources(hub=[{"dataset": "someone/amharic-speech"}])
    second, = collect_sources(hub=[{"dataset": "someone/amharic-speech"}])
    pinned, = collect_sources(hub=[{"dataset": "someone/amharic-speech", "revision": "v1.0"}])
    assert (first.revision, second.revision, pinned.revision) == ("a" * 40, "b" * 40, "v1.0")
    config = PrepareConfig()
    assert segmentation_fingerprint([first], config) != segmentation_fingerprint([second], config)


def test_the_cache_notices_a_changed_normaliser_table(monkeypatch, tmp_path):
    import amharic_tts.text as text_package
    from amharic_tts.data import prepare

    before = prepare._code_signature()
    tables = tmp_path / "text"
    shutil.copytree(Path(text_package.__file__).parent, tables)
    with open(tables / "data" / "abbreviations.tsv", "a", encoding="utf-8") as handle:
        handle.write("ት.ቤ\tትምህርት ቤት\n")
    monkeypatch.setattr(text_package, "__file__", str(tables / "__init__.py"))
    assert prepare._code_signature() != before
