"""prepare_dataset end to end on real files: the bundled demo sample plus broken and awkward inputs."""

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from amharic_tts.testing import free_port
import soundfile as sf

from amharic_tts.data.prepare import PrepareConfig, assign_splits, prepare_dataset
from amharic_tts.data.sources import collect_sources

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "samples" / "demo"
MEDIA = Path(__file__).parent / "media"
SENTENCE = "ሰላም ነው። አዲስ አበባ ትልቅ ከተማ ናት።"  # what tests/data/media/speech*.* say


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The demo lecture, an LJSpeech folder with a missing wav, a duplicated row and a malformed row, a broken
    media file, a folder with media but no subtitles, a local dataset with an audio column, and an LJSpeech folder
    with a re-encoded, re-cut copy of that dataset's clip and another reading of its sentence."""
    tmp = tmp_path_factory.mktemp("inputs")
    lj = tmp / "reader"
    shutil.copytree(DEMO / "ljspeech", lj)
    rows = list(csv.reader(open(lj / "metadata.csv", encoding="utf-8"), delimiter="|"))
    with open(lj / "metadata.csv", "a", encoding="utf-8") as handle:
        handle.write("demo_404|ይህ ፋይል የለም።|\n")  # missing wav
        handle.write("|".join(rows[0]) + "\n")  # the same clip again: a duplicate
        handle.write("no text column\n")  # malformed row
    (tmp / "broken.srt").write_text("1\n00:00:00,000 --> 00:00:02,000\nሰላም ነው።\n", encoding="utf-8")
    from amharic_tts.data.media import load_audio

    again = tmp / "again"
    (again / "wavs").mkdir(parents=True)
    sf.write(again / "wavs" / "copy.wav", load_audio(str(MEDIA / "speech.opus"))[1680:-800], 16000)
    sf.write(again / "wavs" / "retake.wav", load_audio(str(MEDIA / "speech_retake.opus")), 16000)
    (again / "metadata.csv").write_text(f"copy|{SENTENCE}\nretake|{SENTENCE}\n", encoding="utf-8")
    orphans = tmp / "orphans"
    orphans.mkdir()
    shutil.copy(MEDIA / "speech.mp3", orphans / "talk.mp3")

    from datasets import Dataset, Features, Value

    wav = io.BytesIO()
    audio, rate = sf.read(MEDIA / "speech.wav")
    sf.write(wav, audio, rate, format="WAV")
    Dataset.from_dict(
        {"audio": [{"bytes": wav.getvalue(), "path": "a.wav"}], "sentence": [SENTENCE]},
        features=Features({"audio": {"bytes": Value("binary"), "path": Value("string")}, "sentence": Value("string")}),
    ).save_to_disk(str(tmp / "hubdata"))
    specs = collect_sources(
        srt_pairs=[(str(DEMO / "lecture.webm"), str(DEMO / "lecture.srt")), (str(MEDIA / "broken.mp4"),
                                                                            str(tmp / "broken.srt"))],
        srt_dirs=[str(orphans)], ljspeech=[str(lj), str(again)],
        hub=[{"dataset": str(tmp / "hubdata"), "text_column": "sentence"}])
    return tmp, specs


@pytest.fixture(scope="module")
def prepared(inputs, tiny_base_dir):
    tmp, specs = inputs
    config = PrepareConfig(validation_size=1, test_size=1)
    return prepare_dataset(specs, tmp / "out", config, base_model=str(tiny_base_dir))


def test_every_input_is_accounted_for(prepared, inputs):
    report = prepared.report
    by_source = {s["name"]: s for s in report["sources"]}
    assert set(by_source) == {"lecture", "broken", "talk", "reader", "again", "hubdata"}
    assert by_source["broken"]["status"] == "failed" and "broken.mp4" in by_source["broken"]["error"]
    assert by_source["talk"]["status"] == "failed" and "no subtitles" in by_source["talk"]["error"]
    # each source names what it read
    assert by_source["lecture"]["spec"]["media"] == str(DEMO / "lecture.webm")
    assert by_source["hubdata"]["spec"] == {"path": str(inputs[0] / "hubdata"), "split": "train",
                                            "audio_column": "audio", "text_column": "sentence"}
    lecture = [e for e in report["inputs"] if e["source"] == "lecture"]
    assert len(lecture) == 11 and [e["index"] for e in lecture] == list(range(11))
    assert lecture[0] == {"source": "lecture", "recording": "lecture", "index": 0, "fate": "dropped",
                          "reason": "sound_description_only"}
    assert all(e["fate"] == "kept" for e in lecture[1:])
    reader = {e["index"]: e for e in report["inputs"] if e["source"] == "reader"}
    assert len(reader) == 7
    assert reader[4]["reason"] == "missing_audio"
    assert reader[5]["reason"] == "duplicate" and reader[0]["segments"][0] in reader[5]["detail"]
    assert reader[6]["reason"] == "malformed_row"
    # the dataset's clip is the same recording as the re-encoded, re-cut copy found before it; another reading
    # of the sentence is not a copy
    again = {e["index"]: e for e in report["inputs"] if e["source"] == "again"}
    assert again[0]["fate"] == again[1]["fate"] == "kept"
    (hub,) = [e for e in report["inputs"] if e["source"] == "hubdata"]
    assert hub["reason"] == "duplicate" and hub["detail"].startswith(f"a copy of {again[0]['segments'][0]} (")
    assert float(hub["detail"].split("fingerprints ")[1].split()[0]) >= 0.95
    assert report["totals"]["inputs"] == 11 + 7 + 2 + 1
    assert report["totals"]["dropped_by_reason"] == {"duplicate": 2, "malformed_row": 1, "missing_audio": 1,
                                                     "sound_description_only": 1}
    assert report["totals"]["segments"] == 10 + 4 + 2
    assert report["totals"]["duplicate_segments"] == 2
    saved = json.loads((prepared.output_dir / "prepare_report.json").read_text(encoding="utf-8"))
    assert saved["totals"] == report["totals"]


def test_dataset_columns_texts_and_features(prepared):
    from datasets import Audio, load_from_disk

    dataset = load_from_disk(str(prepared.output_dir))
    assert set(dataset) == {"train", "validation", "test"}
    rows = [row for split in dataset.values() for row in split]
    assert len(rows) == 16
    assert isinstance(dataset["train"].features["audio"], Audio)
    for row in rows:
        assert abs(len(row["speech_tokens"]) - 25 * row["duration"]) <= 1, row["id"]
        assert abs(len(row["mel"]) - 100 * row["duration"]) <= 2 and len(row["mel"][0]) == 128
        assert len(row["speaker_emb"]) == 256 and abs(np.linalg.norm(row["speaker_emb"]) - 1) < 1e-3
        assert all(0 <= t < 6561 for t in row["speech_tokens"])
        audio, rate = sf.read(io.BytesIO(row["audio"]["bytes"]))
        assert rate == 16000 and abs(len(audio) / 16000 - row["duration"]) < 1e-3
        assert not any(ch.isdigit() for ch in row["text"])
    texts = {row["id"]: row for row in rows}
    assert texts["reader-00001"]["raw_text"] == "ዶ/ር አበበ በ3 ሰዓት ይመጣሉ።"
    assert texts["reader-00001"]["text"] == "ዶክተር አበበ በሶስት ሰአት ይመጣሉ።"
    assert texts["reader-00001"]["speaker"] == "reader" and texts["lecture-00000"]["speaker"] == "lecture"


def test_segments_follow_the_cues_and_edges_move_towards_the_speech(prepared):
    from datasets import load_from_disk

    dataset = load_from_disk(str(prepared.output_dir))
    lecture = sorted((r for s in dataset.values() for r in s if r["source"] == "lecture"), key=lambda r: r["start"])
    truth = list(csv.DictReader(open(DEMO / "lecture_truth.tsv", encoding="utf-8"), delimiter="\t"))
    assert len(lecture) == len(truth) == 10
    better = 0
    for row, true in zip(lecture, truth):
        speech = (float(true["speech_start"]), float(true["speech_end"]))
        cue = (float(true["cue_start"]), float(true["cue_end"]))
        assert row["start"] <= speech[0] + 0.05 and row["end"] >= speech[1] - 0.05  # no speech cut off
        assert abs(row["duration"] - (cue[1] - cue[0])) < 1.0
        cue_error = abs(cue[0] - speech[0]) + abs(cue[1] - speech[1])
        ours = abs(row["start"] - speech[0]) + abs(row["end"] - speech[1])
        better += ours < cue_error
    assert better >= 5  # most of the shifted cues end up closer to the real speech


def test_splits_never_share_a_recording(prepared):
    from datasets import load_from_disk

    dataset = load_from_disk(str(prepared.output_dir))
    recordings = {split: {(r["source"], r["recording"]) for r in dataset[split]} for split in dataset}
    assert not recordings["train"] & recordings["validation"]
    assert not recordings["train"] & recordings["test"]
    assert not recordings["validation"] & recordings["test"]
    assert ("lecture", "lecture") in recordings["train"]  # the big recording stays in train
    assert len(dataset["validation"]) == len(dataset["test"]) == 1
    assert prepared.report["splits"] == {k: len(v) for k, v in dataset.items()}


def test_split_assignment_is_deterministic_and_respects_sizes():
    groups = {f"r{i}": 1 + i % 5 for i in range(40)}
    first = assign_splits(groups, 0.1, 0.1, seed=3)
    assert first == assign_splits(groups, 0.1, 0.1, seed=3)
    assert first != assign_splits(groups, 0.1, 0.1, seed=4)
    whole = first.whole()
    assert set(whole) == set(groups)  # small recordings fit: none is cut
    total = sum(groups.values())
    for split in ("validation", "test"):
        size = sum(n for g, n in groups.items() if whole[g] == split)
        assert 0.5 * 0.1 * total <= size <= 0.1 * total
        assert "whole recordings" in first.notes[split]
    assert first.warnings == []
    # one recording: blocks from its end, train keeps at least one segment (tests/data/test_splits.py has more)
    only = assign_splits({"only": 10}, 0.5, 0.5, seed=0)
    assert only.segments["only"] == ["train"] + ["validation"] * 4 + ["test"] * 5


def test_a_second_run_reuses_the_cache(prepared, inputs, tiny_base_dir):
    tmp, specs = inputs
    cache = Path(os.environ["HF_DATASETS_CACHE"])
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*.arrow")}
    again = prepare_dataset(specs, tmp / "second", PrepareConfig(validation_size=1, test_size=1),
                            base_model=str(tiny_base_dir))
    after = {p: p.stat().st_mtime_ns for p in cache.rglob("*.arrow")}
    assert after == before  # nothing was generated or mapped again
    assert again.report == prepared.report
    # a changed setting recomputes
    changed = prepare_dataset(specs[:1], tmp / "changed", PrepareConfig(cache_mel=False, test_size=0,
                                                                        validation_size=0),
                              base_model=str(tiny_base_dir))
    from datasets import load_from_disk

    assert "mel" not in load_from_disk(str(changed.output_dir))["train"].column_names


def test_command_line_errors_are_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "prepare_dataset.py"), "--output", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "error: no sources" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("settings, message", [
    ("segment:\n  max_duraton: 12\n", "unknown segment settings: max_duraton (known: min_duration, max_duration"),
    ("segment:\n  vad: webrtc\n", "segment setting vad must be one of silero, energy, got 'webrtc'"),
    ("segment:\n  max_duration: twenty\n", "segment setting max_duration must be a float, got 'twenty'"),
    ("segment:\n  refine_edges: 1\n", "segment setting refine_edges must be a bool, got 1"),
    ("segment:\n  min_cps: 30\n", "segment setting min_cps (30) must be at least 0 and below max_cps (25.0)"),
    ("segment:\n  padding: -0.1\n", "segment setting padding must be at least 0, got -0.1"),
    ("segment:\n  max_sloppy_share: 1.5\n", "segment setting max_sloppy_share must be between 0 and 1, got 1.5"),
    ("segment: [1, 2]\n", "segment settings must be a mapping"),
    ("validaton_size: 3\n", "unknown data settings: validaton_size"),
])
def test_bad_settings_in_a_data_config_are_one_line_errors(tmp_path, settings, message, capsys):
    (tmp_path / "bad.yaml").write_text(settings, encoding="utf-8")
    code = _load_cli().main(["--output", str(tmp_path / "o"), "--ljspeech", str(DEMO / "ljspeech"),
                             "--config", str(tmp_path / "bad.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err, err
    assert not (tmp_path / "o").exists()


def test_two_processes_make_the_same_dataset_as_one(tmp_path, tiny_base_dir):
    """`accelerate launch` with 2 CPU processes: each takes a share of the sources, rank 0 merges (and finds the
    copy of a clip that the other process read)."""
    copies = tmp_path / "copies"
    (copies / "wavs").mkdir(parents=True)
    audio, rate = sf.read(DEMO / "ljspeech" / "wavs" / "demo_001.wav", dtype="float32")
    sf.write(copies / "wavs" / "quieter.wav", 0.5 * audio[rate // 10:], rate)  # re-cut, quieter: not identical
    first = (DEMO / "ljspeech" / "metadata.csv").read_text(encoding="utf-8").splitlines()[0]
    (copies / "metadata.csv").write_text("quieter|" + first.split("|", 1)[1] + "\n", encoding="utf-8")
    args = ["--srt", str(DEMO / "lecture.webm"), str(DEMO / "lecture.srt"), "--ljspeech", str(DEMO / "ljspeech"),
            "--ljspeech", str(copies), "--base-model", str(tiny_base_dir), "--validation-size", "1", "--test-size", "1"]
    env = {**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, str(ROOT / "prepare_dataset.py"), "--output", str(tmp_path / "one"),
                          *args], capture_output=True, text=True, timeout=600, env=env)
    assert one.returncode == 0, one.stderr[-2000:]
    # --multi_gpu is accelerate's torch.distributed launcher; with no GPU the processes use gloo on the CPU
    # (--cpu would start a single process)
    two = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                          "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                          "--main_process_port", str(free_port()),
                          str(ROOT / "prepare_dataset.py"), "--output", str(tmp_path / "two"), *args],
                         capture_output=True, text=True, timeout=600, env=env)
    assert two.returncode == 0, two.stderr[-2000:]
    from datasets import load_from_disk

    a, b = load_from_disk(str(tmp_path / "one")), load_from_disk(str(tmp_path / "two"))
    for split in ("train", "validation", "test"):
        assert a[split].to_dict() == b[split].to_dict(), split
    report_a = json.loads((tmp_path / "one" / "prepare_report.json").read_text())
    report_b = json.loads((tmp_path / "two" / "prepare_report.json").read_text())
    assert report_a == report_b
    assert not (tmp_path / "two" / ".shards").exists()
    (copy,) = [e for e in report_a["inputs"] if e["source"] == "copies"]
    assert copy["reason"] == "duplicate" and copy["detail"].startswith("a copy of ljspeech-00000 (")


def _load_cli():
    import importlib.util

    spec = importlib.util.spec_from_file_location("prepare_cli", ROOT / "prepare_dataset.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    return cli


@pytest.fixture
def hub_allowed(monkeypatch):
    """A token and no offline mode, as far as the up-front push check can tell. The tests that use this replace
    every call that would reach the Hub, so nothing goes over the network."""
    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_not_a_real_token")


def test_dataset_card_and_push_to_hub(prepared, inputs, tiny_base_dir, monkeypatch, capsys, hub_allowed):
    """The push path of the CLI with the network calls recorded instead of made."""
    from types import SimpleNamespace

    from datasets import DatasetDict

    from amharic_tts.data.card import dataset_card

    card = dataset_card(prepared.report, license="cc-by-4.0", pretty_name="Demo Amharic")
    assert card.data.language == ["am"] and card.data.license == "cc-by-4.0"
    assert card.data.task_categories == ["text-to-speech"]
    assert "| lecture | srt | ok | 10/11 | 10 |" in card.text and "| broken | srt | failed |" in card.text
    assert f"{prepared.report['totals']['segments']} segments" in card.text

    order = []

    class Api:  # what push_dataset asks of HfApi, recorded
        def __init__(self, token=None):
            pass

        def create_repo(self, repo_id, repo_type, private, exist_ok):
            order.append(("create", repo_id, repo_type, private))
            return SimpleNamespace(repo_id=repo_id)

        def upload_file(self, path_or_fileobj, path_in_repo, repo_id, repo_type, commit_message):
            order.append(("card", repo_id, path_in_repo, path_or_fileobj.decode()))

    monkeypatch.setattr("huggingface_hub.HfApi", Api)
    monkeypatch.setattr(DatasetDict, "push_to_hub", lambda self, repo, **kw: order.append(
        ("data", repo, kw["private"], sum(self.num_rows.values()))))
    from amharic_tts import prepare as cli

    tmp, _ = inputs
    code = cli.main(["--output", str(tmp / "pushed"), "--ljspeech", str(DEMO / "ljspeech"), "--base-model",
                     str(tiny_base_dir), "--push-to-hub", "someone/amharic-demo", "--private"])
    assert code == 0
    # the card first: datasets' push then merges its dataset_info / configs into it (tests/test_hub.py)
    assert [step[0] for step in order] == ["create", "card", "data"]
    assert order[0] == ("create", "someone/amharic-demo", "dataset", True)
    assert order[1][2] == "README.md" and "language:\n- am" in order[1][3]
    assert order[2] == ("data", "someone/amharic-demo", True, 4)
    assert "pushed to https://huggingface.co/datasets/someone/amharic-demo" in capsys.readouterr().out



def test_command_line_with_the_default_config_file(tmp_path, tiny_base_dir):
    """Flags and configs/data/default.yaml together (the file also names base_model and num_proc)."""
    done = subprocess.run([sys.executable, str(ROOT / "prepare_dataset.py"), "--output", str(tmp_path / "o"),
                           "--ljspeech", str(DEMO / "ljspeech"), "--base-model", str(tiny_base_dir),
                           "--config", str(ROOT / "configs" / "data" / "default.yaml")],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "o" / "prepare_report.json").read_text())
    assert report["totals"]["segments"] == 4 and report["config"]["segment"]["vad"] == "silero"


def test_command_line_fails_when_no_segment_is_kept(tmp_path, tiny_base_dir, capsys):
    """Every source failed: a one-line error and exit status 2, with the report still written to say why."""
    (tmp_path / "empty.srt").write_text("", encoding="utf-8")
    code = _load_cli().main(["--output", str(tmp_path / "o"), "--srt", str(tmp_path / "missing.mp4"),
                             str(tmp_path / "empty.srt"), "--base-model", str(tiny_base_dir)])
    out = capsys.readouterr()
    assert code == 2
    errors = [line for line in out.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no segments were kept (1 of 1 source failed)" in errors[0]
    assert "prepare_report.json" in errors[0] and "Traceback" not in out.err
    report = json.loads((tmp_path / "o" / "prepare_report.json").read_text(encoding="utf-8"))
    assert report["totals"]["segments"] == 0
    assert report["sources"][0]["status"] == "failed" and "missing.mp4 does not exist" in report["sources"][0]["error"]
    assert report["warnings"][0].startswith("no segments were kept")
    assert "WARNING: no segments were kept" in out.out


def test_a_run_that_keeps_nothing_leaves_an_earlier_dataset_as_it_was(tmp_path, tiny_base_dir, capsys):
    from datasets import load_from_disk

    out = tmp_path / "o"
    assert _load_cli().main(["--output", str(out), "--ljspeech", str(DEMO / "ljspeech"), "--base-model",
                             str(tiny_base_dir), "--validation-size", "0", "--test-size", "0"]) == 0
    before = (out / "prepare_report.json").read_text(encoding="utf-8")
    capsys.readouterr()
    code = _load_cli().main(["--output", str(out), "--srt", str(tmp_path / "missing.mp4"),
                             str(tmp_path / "missing.srt"), "--base-model", str(tiny_base_dir)])
    err = capsys.readouterr().err
    assert code == 2 and "no segments were kept (1 of 1 source failed)" in err
    assert f"the dataset already in {out} is left as it was" in err and "prepare_report.failed.json" in err
    assert len(load_from_disk(str(out))["train"]) == 4
    assert (out / "prepare_report.json").read_text(encoding="utf-8") == before
    failed = json.loads((out / "prepare_report.failed.json").read_text(encoding="utf-8"))
    assert failed["totals"]["segments"] == 0 and failed["sources"][0]["status"] == "failed"
    # a later run that keeps something replaces the dataset and removes the failed run's report
    assert _load_cli().main(["--output", str(out), "--ljspeech", str(DEMO / "ljspeech"), "--base-model",
                             str(tiny_base_dir), "--validation-size", "1", "--test-size", "0"]) == 0
    assert len(load_from_disk(str(out))["train"]) == 3 and not (out / "prepare_report.failed.json").exists()


def test_push_to_hub_is_checked_before_preparing(tmp_path, tiny_base_dir, monkeypatch, capsys):
    """HF_HUB_OFFLINE (set for the tests) or no token: a clear error at once, nothing prepared."""
    import huggingface_hub
    from huggingface_hub import constants

    args = ["--output", str(tmp_path / "o"), "--ljspeech", str(DEMO / "ljspeech"), "--base-model",
            str(tiny_base_dir), "--push-to-hub", "someone/x"]
    assert _load_cli().main(args) == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("error")] == [
        "error: --push-to-hub someone/x: cannot push to the Hugging Face Hub: HF_HUB_OFFLINE is set (unset it to "
        "push); nothing was prepared"]
    assert not (tmp_path / "o").exists()

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    assert _load_cli().main(args) == 2
    err = capsys.readouterr().err
    assert "error: --push-to-hub someone/x: no Hugging Face token: set HF_TOKEN or run `hf auth login`" in err
    assert "Traceback" not in err and not (tmp_path / "o").exists()


@pytest.mark.parametrize("error", ["offline", "http"])
def test_a_hub_error_at_push_time_is_one_line_and_keeps_the_data(tmp_path, tiny_base_dir, monkeypatch, capsys,
                                                                   hub_allowed, error):
    from datasets import DatasetDict, load_from_disk
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    def fail(self, repo, **kwargs):
        if error == "offline":
            raise OfflineModeIsEnabled("Cannot reach https://huggingface.co/api/repos/create: offline mode is "
                                       "enabled. To disable it, please unset the `HF_HUB_OFFLINE` variable.")
        import httpx  # (huggingface_hub's HTTP client) a response made here, not received

        response = httpx.Response(403, request=httpx.Request("POST", "https://huggingface.co/api/repos/create"))
        raise HfHubHTTPError("403 Forbidden: you cannot create a repo in someone's namespace.\nRequest id: abc",
                             response=response)

    class Api:  # the first call of the push (creating the repo) fails
        def __init__(self, token=None):
            pass

        create_repo = fail

    monkeypatch.setattr("huggingface_hub.HfApi", Api)
    monkeypatch.setattr(DatasetDict, "push_to_hub", lambda *a, **k: pytest.fail("the data is pushed after the repo"))
    out_dir = tmp_path / "o"
    code = _load_cli().main(["--output", str(out_dir), "--ljspeech", str(DEMO / "ljspeech"), "--base-model",
                             str(tiny_base_dir), "--push-to-hub", "someone/x"])
    out = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in out.err
    errors = [line for line in out.err.splitlines() if line.startswith("error")]  # (progress bars go to stderr)
    assert len(errors) == 1 and errors[0].startswith("error: pushing to the Hub repo someone/x failed: ")
    expected = "OfflineModeIsEnabled: Cannot reach" if error == "offline" else "HfHubHTTPError: 403 Forbidden"
    assert expected in errors[0]
    assert f"The prepared dataset is kept in {out_dir}" in errors[0]
    assert sum(load_from_disk(str(out_dir)).num_rows.values()) == 4  # the data is on disk


def test_segmentation_shows_a_bar_with_a_total_per_source(capsys):
    """Each source's inputs are counted against their total (the cues of a subtitle file, the rows of an LJSpeech
    metadata.csv), where datasets' own bar counted rows without one."""
    from amharic_tts.data.prepare import PrepareConfig, generate_rows
    from amharic_tts.data.sources import collect_sources

    specs = collect_sources(srt_pairs=[(str(DEMO / "lecture.webm"), str(DEMO / "lecture.srt"))],
                            ljspeech=[str(DEMO / "ljspeech")])
    config = PrepareConfig.from_dict({"segment": {"vad": "energy"}})
    rows = list(generate_rows([json.dumps(s.to_dict()) for s in specs], [0, 1], json.dumps(config.to_dict())))
    cues = len([line for line in (DEMO / "lecture.srt").read_text(encoding="utf-8").split("\n\n") if line.strip()])
    clips = len((DEMO / "ljspeech" / "metadata.csv").read_text(encoding="utf-8").splitlines())
    assert sum(r["kind"] == "input" for r in rows) == cues + clips
    err = capsys.readouterr().err
    assert "segmenting lecture: 100%" in err and f"{cues}/{cues}" in err
    assert "segmenting ljspeech: 100%" in err and f"{clips}/{clips}" in err
