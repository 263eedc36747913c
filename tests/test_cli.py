import json
import subprocess
import sys
from pathlib import Path

import pytest

from amharic_tts.model import base

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script, words", [
    ("prepare_dataset.py", ["--srt MEDIA SUBS", "--ljspeech", "--hub-dataset", "--output"]),
    ("build_tokenizer.py", ["--text", "--vocab-size", "--base-model"]),
    ("train_t3.py", ["accelerate launch", "--resume_from_checkpoint", "--learning_rate", "--tokenizer"]),
])
def test_pipeline_scripts_answer_help(script, words):
    done = subprocess.run([sys.executable, str(ROOT / script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for word in words:
        assert word in done.stdout.replace("\n", " ").replace("  ", " ")


@pytest.mark.parametrize("module, words", [
    ("amharic_tts.export", ["--checkpoint", "--output", "--include-base", "--push-to-hub", "--dtype"]),
    ("amharic_tts.synthesize", ["--model", "--text", "--text-file", "--reference", "--seed"]),
    ("amharic_tts.evaluate", ["--model", "--dataset", "--split", "--asr-model", "--update-card"]),
])
def test_package_commands_answer_help(module, words):
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for word in words:
        assert word in done.stdout


def test_train_script_reports_a_missing_config_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "train_t3.py"), str(tmp_path / "nope.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "error: config file" in done.stderr and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_base_summary_cli(tiny_base_dir, capsys):
    assert base.main([str(tiny_base_dir), "--base-checkpoint", "v2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["checkpoint"].endswith("t3_mtl23ls_v2.safetensors")
    assert (summary["text_tokens"], summary["speech_tokens"], summary["layers"]) == (2454, 8194, 2)
    assert summary["tokenizer_size"] == 2454 and len(summary["language_tokens"]) == 23
    assert summary["other_files"] == ["ve.pt", "s3gen.pt", "conds.pt"]


def test_base_summary_cli_reports_errors_in_one_line(tmp_path, capsys):
    assert base.main([str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Base model directory") and "Traceback" not in err
    # the README's command: under -m the module is also __main__, with its own copy of BaseModelError
    done = subprocess.run([sys.executable, "-m", "amharic_tts.model.base", str(tmp_path / "missing")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("error: Base model directory"), done.stderr[-2000:]


def _prepare_main():
    import importlib.util

    spec = importlib.util.spec_from_file_location("prepare_dataset_cli", ROOT / "prepare_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture
def no_model_loading(monkeypatch):
    """Every way the three commands load a model (or start preparing) fails the test if it is reached."""
    import amharic_tts.data.prepare
    from amharic_tts.inference import AmharicTTS

    def loaded(*args, **kwargs):
        raise AssertionError("a model was loaded before the output was checked")

    monkeypatch.setattr(base, "load_t3", loaded)
    monkeypatch.setattr(amharic_tts.data.prepare, "prepare_dataset", loaded)
    monkeypatch.setattr(AmharicTTS, "from_pretrained", classmethod(loaded))


def test_outputs_that_cannot_be_written_are_refused_in_one_line_before_any_model_is_loaded(
        tmp_path, monkeypatch, capsys, no_model_loading):
    import os

    from amharic_tts import synthesize
    from amharic_tts.training import run

    file = tmp_path / "notes.txt"
    file.write_text("not a folder")
    (tmp_path / "folder.wav").mkdir()
    locked = tmp_path / "locked"
    locked.mkdir()
    access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and access(path, mode))
    lines = tmp_path / "lines.txt"
    lines.write_text("ሰላም።\n", encoding="utf-8")
    prepare = _prepare_main()
    smoke = str(ROOT / "configs" / "train" / "smoke.yaml")
    model = ["--model", str(tmp_path / "model")]
    cases = [
        (prepare, ["--output", str(file), "--ljspeech", "corpus"], f"--output {file} is a file: give a folder"),
        (prepare, ["--output", str(file / "data"), "--ljspeech", "corpus"],
         f"--output {file / 'data'} cannot be created: {file} is a file, not a folder"),
        (prepare, ["--output", str(locked / "data"), "--ljspeech", "corpus"],
         f"--output {locked / 'data'} cannot be written: no permission to write in {locked}"),
        (run.main, [smoke, "--output_dir", str(file)], f"output_dir {file} is a file: give a folder"),
        (run.main, [smoke, "--output_dir", str(locked)], f"output_dir {locked} cannot be written"),
        (synthesize.main, [*model, "--text", "ሰላም", "--output", str(file / "out.wav")],
         f"cannot be created: {file} is a file, not a folder"),
        (synthesize.main, [*model, "--text", "ሰላም", "--output", str(tmp_path / "out.mp3")],
         "must end in .wav, .flac or .ogg"),
        (synthesize.main, [*model, "--text", "ሰላም", "--output", str(tmp_path / "folder.wav")],
         f"--output {tmp_path / 'folder.wav'} is a folder: give a file name"),
        (synthesize.main, [*model, "--text", "ሰላም", "--output", str(locked / "out.wav")],
         f"no permission to write in {locked}"),
        (synthesize.main, [*model, "--text-file", str(lines), "--output", str(file)],
         f"--output {file} is a file: give a folder"),
    ]
    for main, argv, message in cases:
        assert main(argv) == 2, message
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and message in err, (message, err)
    assert file.read_text() == "not a folder" and list(locked.iterdir()) == []


def test_operating_system_errors_are_one_line_and_a_full_disk_says_so(capsys):
    import errno

    from amharic_tts.cli import run_cli

    def raising(err):
        def fn():
            raise err
        return fn

    cases = [
        (FileExistsError(errno.EEXIST, "File exists", "/data/out"), 2, "error: File exists: /data/out"),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "/data/out.wav"), 2, "error: Is a directory: /data/out.wav"),
        (PermissionError(errno.EACCES, "Permission denied", "/data"), 2, "error: Permission denied: /data"),
        (OSError(errno.ENOSPC, "No space left on device", "/data/x.arrow"), 1,
         "error: the disk is full (No space left on device: /data/x.arrow): free some space and run again"),
        (RuntimeError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left '
                      'on device" })'), 1, "error: the disk is full (Error while serializing"),
    ]
    for err, status, message in cases:
        assert run_cli(raising(err)) == status, message
        printed = capsys.readouterr().err
        assert printed.startswith(message) and printed.count("\n") == 1, printed
    with pytest.raises(RuntimeError, match="a bug"):  # anything else keeps its traceback
        run_cli(raising(RuntimeError("a bug")))
