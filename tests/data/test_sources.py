"""--srt-dir: media files paired with their subtitles, language-tagged names (yt-dlp's talk.am.srt) included."""

import shutil
from pathlib import Path

from amharic_tts.data.sources import collect_sources, pair_subtitles

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
