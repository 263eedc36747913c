"""The package as users get it: shipped configs by name, imports that flow one way, and the wheel running the whole
pipeline outside the checkout."""

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from amharic_tts import configs
from amharic_tts.cli import UserError

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "amharic_tts"


def test_shipped_configs_are_found_by_name_and_paths_stay_paths(tmp_path):
    assert configs.names("train") == ["amharic", "amharic_lora", "smoke"]
    assert configs.names("accelerate") == ["deepspeed_zero2", "multi_gpu", "multi_node", "single_gpu"]
    assert configs.config_file("train", "smoke") == PACKAGE / "configs" / "train" / "smoke.yaml"
    assert configs.config_file("train", "amharic_lora.yaml") == PACKAGE / "configs" / "train" / "amharic_lora.yaml"
    # the same name is another file for another command
    assert configs.config_file("tokenizer", "amharic").parent.name == "tokenizer"
    own = tmp_path / "smoke.yaml"  # a file of the user's wins over the shipped name only when given as a path
    own.write_text("max_steps: 1\n")
    assert configs.config_file("train", own) == own
    with pytest.raises(UserError, match=r"nope is neither a file nor a shipped train config \(amharic, "):
        configs.config_file("train", "nope")
    with pytest.raises(UserError, match="is a folder"):
        configs.config_file("train", tmp_path)


def test_configs_command_gives_paths_for_accelerate_and_copies_to_edit(tmp_path, capsys):
    assert configs.main(["path", "multi_gpu"]) == 0
    assert capsys.readouterr().out.strip() == str(PACKAGE / "configs" / "accelerate" / "multi_gpu.yaml")
    assert configs.main(["path", "amharic"]) == 2  # a training and a tokenizer config: say which
    assert "say which, e.g. tokenizer/amharic, train/amharic" in capsys.readouterr().err
    assert configs.main(["copy", "train/smoke", str(tmp_path)]) == 0
    assert (tmp_path / "smoke.yaml").read_text() == (PACKAGE / "configs" / "train" / "smoke.yaml").read_text()
    assert configs.main(["copy", "train/smoke", str(tmp_path)]) == 2  # never overwrites an edited copy
    assert "exists" in capsys.readouterr().err


def _imports(path: Path) -> set[str]:
    """Every ``amharic_tts`` module a file imports, at its top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("amharic_tts"):
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("amharic_tts"))
    return found


def _modules_under(*names: str) -> list[Path]:
    files = []
    for name in names:
        path = PACKAGE / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
    return files


@pytest.mark.parametrize("importers, forbidden", [
    (["cli"], ["amharic_tts."]),  # the bottom: everything may use it, it uses nothing of ours
    (["formats"], ["amharic_tts.training", "amharic_tts.export", "amharic_tts.inference", "amharic_tts.train"]),
    (["training"], ["amharic_tts.export", "amharic_tts.inference", "amharic_tts.hub", "amharic_tts.train."]),
    (["inference", "model", "text", "data"], ["amharic_tts.training", "amharic_tts.export", "amharic_tts.train."]),
    (["export"], ["amharic_tts.training", "amharic_tts.train."]),
])
def test_imports_flow_downward(importers, forbidden):
    """Run, checkpoint and export formats live in ``formats``: training, export and inference import it, never
    each other (the circle run -> export -> inference -> run is gone); training reaches export only through the
    command line's callback."""
    wrong = [f"{path.relative_to(ROOT)} imports {name}" for path in _modules_under(*importers)
             for name in sorted(_imports(path)) if any(name.startswith(f) for f in forbidden)]
    assert not wrong, "\n".join(wrong)


# ---------------------------------------------------------------------------------------------- the wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel built from this tree, installed without dependencies into a fresh virtual environment that
    borrows this one's packages (a ``.pth`` line: no network, and no editable install of ours comes along)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # built from a copy: the checkout gets no build/ or egg-info
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "runs", "build", "dist", "*.egg-info", "__pycache__", "tests", "bench", "samples"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "--quiet", "-w", str(work / "dist"), str(source)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    wheel = next((work / "dist").glob("amharic_tts-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return wheel, venv


def test_the_wheel_holds_the_pipeline_and_its_configs(installed):
    import zipfile

    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("prepare", "tokenizer", "train", "export", "synthesize", "formats", "configs/__init__"):
        assert f"amharic_tts/{module}.py" in names
    for config in ("train/amharic.yaml", "train/amharic_lora.yaml", "train/smoke.yaml", "data/default.yaml",
                   "tokenizer/amharic.yaml", "accelerate/multi_gpu.yaml", "accelerate/deepspeed_zero2.yaml"):
        assert f"amharic_tts/configs/{config}" in names
    assert "amharic_tts/text/data/abbreviations.tsv" in names
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: MIT" in text
    entry_points = zipfile.ZipFile(wheel).read(metadata.replace("METADATA", "entry_points.txt")).decode()
    for script in ("amharic-tts-prepare", "amharic-tts-tokenizer", "amharic-tts-train", "amharic-tts-export",
                   "amharic-tts-synthesize", "amharic-tts-evaluate", "amharic-tts-studio"):
        assert f"{script} = " in entry_points


def test_the_installed_wheel_runs_the_pipeline_outside_the_checkout(installed, tiny_base_dir, tmp_path):
    """prepare -> tokenizer -> a few training steps -> export (with a card sample) -> synthesize, each by its
    console script, in a folder outside the checkout, with shipped configs named rather than given as paths."""
    _, venv = installed
    bin_dir = venv / "bin"
    (tmp_path / "corpus").mkdir()
    shutil.copytree(ROOT / "samples" / "demo" / "ljspeech", tmp_path / "corpus" / "ljspeech")
    shutil.copy(ROOT / "samples" / "amharic_sentences.txt", tmp_path / "corpus")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_CACHE": str(tmp_path / "cache"),
           "PYTHONPATH": "", "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}

    def run(*command: str) -> str:
        done = subprocess.run([str(c) for c in command], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        return done.stdout

    where = run(bin_dir / "python", "-c", "import amharic_tts, amharic_tts.studio.train as t; "
                "print(amharic_tts.__file__); print(t.config_path('smoke'))").split()
    assert all(Path(p).is_relative_to(venv) for p in where), where  # the wheel's code and configs, not ours
    base = str(tiny_base_dir)
    run("amharic-tts-prepare", "--output", "data", "--ljspeech", "corpus/ljspeech", "--base-model", base,
        "--config", "default", "--validation-size", "0", "--test-size", "0")
    run("amharic-tts-tokenizer", "--text", "data", "corpus/amharic_sentences.txt", "--base-model", base,
        "--vocab-size", "200", "--output", "tokenizer", "--config", "amharic")
    run("amharic-tts-train", "smoke", "--base_model", base, "--tokenizer", "tokenizer", "--dataset", "data",
        "--output_dir", "run", "--max_steps", "2", "--save_steps", "2", "--eval_strategy", "no",
        "--num_samples", "0", "--report_to", "none")
    assert json.loads((tmp_path / "run" / "train_summary.json").read_text())["steps"] == 2
    saved = (tmp_path / "run" / "train_config.yaml").read_text()
    assert "amharic_tts_version: 0.1.0" in saved
    run("amharic-tts-export", "--checkpoint", "run", "--output", "model", "--samples", "1")
    card = (tmp_path / "model" / "README.md").read_text()
    assert (tmp_path / "model" / "samples" / "01.wav").stat().st_size > 1000
    assert "output:\n    url: samples/01.wav" in card and '<audio controls src="samples/01.wav">' in card
    run("amharic-tts-synthesize", "--model", "model", "--text", "ሰላም ነው።", "--output", "hello.wav", "--seed", "0")
    import soundfile as sf

    wav, sr = sf.read(tmp_path / "hello.wav")
    assert sr == 24000 and len(wav) > 0
