"""Data tab: uploads staged as sources, preparation through the package, the report as tables, listening."""

import json
import shutil
import zipfile
from pathlib import Path

import pytest
import soundfile as sf

from amharic_tts.studio import data as studio_data
from amharic_tts.studio.common import StudioError, Workspace

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo"


def zip_folder(folder, path, prefix=""):
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(folder.rglob("*")):
            archive.write(file, prefix + str(file.relative_to(folder)))
    return path


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, tiny_base_dir):
    """The bundled sample given as the page gives it: media + .srt (plus a stray file) and the LJSpeech folder as
    a zip with the folder inside; prepared once for the module."""
    uploads = tmp_path_factory.mktemp("gradio_uploads")  # where Gradio would have put the uploaded files
    media = [shutil.copy(DEMO / "lecture.webm", uploads), shutil.copy(DEMO / "lecture.srt", uploads)]
    (uploads / "notes.docx").write_text("not speech")
    lj_zip = zip_folder(DEMO / "ljspeech", uploads / "reader.zip", prefix="reader/")
    ws = Workspace(tmp_path_factory.mktemp("studio_data"), str(tiny_base_dir))
    specs, warnings = studio_data.gather_sources(ws, media_files=[*media, str(uploads / "notes.docx")],
                                                 ljspeech_zip=str(lj_zip))
    config = studio_data.prepare_config({"min_duration": 1.0, "max_duration": 20.0}, validation_size=1, test_size=1)
    result = studio_data.prepare(ws, specs, "demo", config)
    return ws, specs, warnings, result


def test_uploads_become_sources_paired_by_file_name(prepared):
    ws, specs, warnings, _ = prepared
    assert [(s.kind, s.name) for s in specs] == [("srt", "lecture"), ("ljspeech", "reader")]
    assert specs[0].media.endswith("lecture.webm") and specs[0].subtitles.endswith("lecture.srt")
    assert all(str(ws.dir("uploads")) in p for p in (specs[0].media, specs[0].subtitles, specs[1].path))
    assert warnings == ["notes.docx is neither a media file nor .srt subtitles: left out"]


def test_the_report_tables_account_for_every_input(prepared):
    ws, _, _, result = prepared
    assert result.output_dir == ws.dir("data") / "demo" and ws.datasets() == [result.output_dir]
    report = json.loads((result.output_dir / "prepare_report.json").read_text(encoding="utf-8"))
    summary, sources, dropped = studio_data.report_tables(report)
    totals = report["totals"]
    assert totals["inputs"] == 15 and totals["segments"] == 14  # 11 cues + 4 clips; one cue is only [ሙዚቃ]
    assert f"**{totals['segments']} segments kept: {totals['hours_kept']:.4f} h" in summary
    assert "Dropped: 1 (sound_description_only 1)" in summary and "train 12, validation 1, test 1" in summary
    assert "validation: " + report["split_notes"]["validation"] in summary and "Warning" not in summary
    warned = {**report, "warnings": ["the test split is empty although 1 segment was asked for"]}
    assert "**Warning:** the test split is empty although 1 segment was asked for." in studio_data.report_tables(
        warned)[0]
    rows = {row["source"]: row for row in sources.to_dict("records")}
    assert rows["lecture"]["inputs"] == 11 and rows["lecture"]["kept"] == 10
    assert rows["lecture"]["dropped (reason: count)"] == "sound_description_only: 1"
    assert rows["reader"]["kept"] == 4 and rows["reader"]["status"] == "ok"
    assert sum(r["minutes kept"] for r in rows.values()) == pytest.approx(totals["hours_kept"] * 60, abs=0.02)
    assert dropped.values.tolist() == [["lecture", "lecture", 0, "sound_description_only", ""]]


def test_a_kept_segment_can_be_heard_next_to_its_text(prepared):
    from datasets import load_from_disk

    ws, _, _, result = prepared
    segments = studio_data.kept_segments(result.output_dir)
    assert len(segments) == 14 and {s["split"] for s in segments} == {"train", "validation", "test"}
    choice_label, segment_id = studio_data.segment_choices(segments)[3]
    wav, text = studio_data.segment_clip(ws, result.output_dir, segment_id)
    row = next(r for split in load_from_disk(str(result.output_dir)).values() for r in split if r["id"] == segment_id)
    info = sf.info(wav)
    assert text == row["text"] and text[:20] in choice_label
    assert info.samplerate == 16000 and info.duration == pytest.approx(row["duration"], abs=0.01)
    with pytest.raises(StudioError, match="no segment 'nope'"):
        studio_data.segment_clip(ws, result.output_dir, "nope")


def test_a_failed_preparation_leaves_the_earlier_dataset_as_it_was(prepared):
    ws, specs, _, result = prepared
    before = (result.output_dir / "prepare_report.json").read_text(encoding="utf-8")
    broken = Workspace(ws.root, base_model=str(ws.root / "no-such-base"))
    with pytest.raises(Exception, match="no-such-base"):
        studio_data.prepare(broken, specs, "demo", studio_data.prepare_config(validation_size=1, test_size=1))
    assert (result.output_dir / "prepare_report.json").read_text(encoding="utf-8") == before
    # no staging folder left behind (only the output's lock file, which stays as lock files do)
    assert [p.name for p in ws.dir("data").iterdir() if p.name.startswith(".")] == [".demo.lock"]
    # a preparation that keeps nothing does not replace it either
    only_subtitles, _ = studio_data.gather_sources(ws, media_files=[str(DEMO / "lecture.srt")])
    with pytest.raises(StudioError, match="no segments were kept .*the dataset data/demo is left as it was"):
        studio_data.prepare(ws, only_subtitles, "demo", studio_data.prepare_config())
    assert (result.output_dir / "prepare_report.json").read_text(encoding="utf-8") == before
    assert [p.name for p in ws.dir("data").iterdir() if p.name.startswith(".")] == [".demo.lock"]


def test_a_source_that_fails_is_reported_with_its_reason(ws):
    specs, _ = studio_data.gather_sources(ws, media_files=[str(DEMO / "lecture.srt")])
    result = studio_data.prepare(ws, specs, "only-subtitles", studio_data.prepare_config())
    _, sources, _ = studio_data.report_tables(result.report)
    row = sources.to_dict("records")[0]
    assert row["status"] == "failed" and "no media file for the subtitles" in row["error"]
    assert result.report["totals"]["segments"] == 0


def test_limits_and_inputs_are_checked_with_readable_messages(ws, tmp_path):
    with pytest.raises(StudioError, match=r"min_duration \(5\) must be at least 0 and below max_duration \(2\)"):
        studio_data.prepare_config({"min_duration": 5, "max_duration": 2})
    with pytest.raises(StudioError, match="vad must be one of silero, energy, got 'webrtc'"):
        studio_data.prepare_config({"vad": "webrtc"})
    with pytest.raises(StudioError, match="Nothing to prepare"):
        studio_data.gather_sources(ws)
    with pytest.raises(StudioError, match="does not exist on this machine"):
        studio_data.gather_sources(ws, ljspeech_folder=str(tmp_path / "missing"))
    (tmp_path / "fake.zip").write_text("not a zip")
    with pytest.raises(StudioError, match="fake.zip is not a readable zip file"):
        studio_data.extract_ljspeech_zip(ws, str(tmp_path / "fake.zip"))
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(StudioError, match="empty.zip has no metadata.csv"):
        studio_data.extract_ljspeech_zip(ws, str(tmp_path / "empty.zip"))
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as archive:
        archive.writestr("../../outside/metadata.csv", "a|b")
    with pytest.raises(StudioError, match="outside its folder"):
        studio_data.extract_ljspeech_zip(ws, str(tmp_path / "evil.zip"))
    assert not (ws.root.parent / "outside").exists()


def test_a_zip_with_metadata_at_the_top_is_named_after_the_zip(ws, tmp_path):
    folders = studio_data.extract_ljspeech_zip(ws, str(zip_folder(DEMO / "ljspeech", tmp_path / "my voice.zip")))
    assert [f.name for f in folders] == ["my-voice"] and (folders[0] / "wavs").is_dir()
