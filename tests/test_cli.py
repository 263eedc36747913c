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
