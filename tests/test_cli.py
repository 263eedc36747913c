import json
import logging
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
    ("amharic_tts.prepare", ["--srt MEDIA SUBS", "--ljspeech", "--hub-dataset", "--output"]),
    ("amharic_tts.tokenizer", ["--text", "--vocab-size", "--base-model"]),
    ("amharic_tts.train", ["accelerate launch -m amharic_tts.train", "--resume_from_checkpoint", "--learning_rate",
                           "--overwrite_output_dir", "--verbose"]),
    ("amharic_tts.configs", ["list", "path", "copy"]),
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
    assert done.stderr.startswith(f"error: config {tmp_path / 'nope.yaml'} is neither a file nor a shipped train "
                                  "config (amharic, amharic_lora, smoke)"), done.stderr
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
    from amharic_tts import train as train_cli

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
        (train_cli.main, [smoke, "--output_dir", str(file)], f"output_dir {file} is a file: give a folder"),
        (train_cli.main, [smoke, "--output_dir", str(locked)], f"output_dir {locked} cannot be written"),
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


# --------------------------------------------------------------------------------------------- the console


@pytest.fixture
def console_settings():
    """setup_logging changes process-wide settings: put them back for the other tests."""
    import huggingface_hub.utils as hub_utils
    from transformers.utils import logging as transformers_logging

    from amharic_tts.cli import OWN_LOGGERS

    names = ["", *OWN_LOGGERS, "transformers", "datasets", "diffusers", "huggingface_hub"]
    levels = {name: logging.getLogger(name).level for name in names}
    bars, hub_off = transformers_logging.is_progress_bar_enabled(), hub_utils.are_progress_bars_disabled()
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    (transformers_logging.enable_progress_bar if bars else transformers_logging.disable_progress_bar)()
    (hub_utils.disable_progress_bars if hub_off else hub_utils.enable_progress_bars)()


def _log_everything():
    logging.getLogger("amharic_tts.data.prepare").info("our step")
    logging.getLogger("amharic_tts.data.prepare").debug("our detail")
    logging.getLogger("accelerate.state").info("their step")
    logging.getLogger("accelerate.state").warning("their warning")
    logging.info("upstream's root line")  # chatterbox logs some lines on the root logger


def _seen(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_the_console_shows_our_steps_and_only_the_warnings_of_other_libraries(console_settings, caplog):
    import huggingface_hub.utils as hub_utils
    from transformers.utils import logging as transformers_logging

    from amharic_tts.cli import setup_logging

    setup_logging()
    _log_everything()
    assert _seen(caplog) == ["our step", "their warning"]
    assert transformers_logging.get_verbosity() == logging.WARNING
    # the per-tensor "Loading weights ... Materializing param" bar is off, the Hub's download bars are not
    assert not transformers_logging.is_progress_bar_enabled() and not hub_utils.are_progress_bars_disabled()


def test_verbose_shows_other_libraries_info_and_bars_and_debug_everything(console_settings, caplog):
    from datasets.utils import logging as datasets_logging
    from transformers.utils import logging as transformers_logging

    from amharic_tts.cli import setup_logging

    setup_logging(verbose=True)
    _log_everything()
    assert _seen(caplog) == ["our step", "their step", "their warning", "upstream's root line"]
    assert transformers_logging.get_verbosity() == datasets_logging.get_verbosity() == logging.INFO
    assert transformers_logging.is_progress_bar_enabled()
    caplog.clear()
    setup_logging(debug=True)
    _log_everything()
    assert _seen(caplog) == ["our step", "our detail", "their step", "their warning", "upstream's root line"]
    assert transformers_logging.get_verbosity() == logging.DEBUG
    setup_logging()  # back to quiet: the last call wins
    assert transformers_logging.get_verbosity() == logging.WARNING
    assert not transformers_logging.is_progress_bar_enabled()


def test_other_processes_report_only_warnings(console_settings, caplog):
    from amharic_tts.cli import setup_logging

    setup_logging(main_process=False)
    _log_everything()
    logging.getLogger("amharic_tts.training").warning("our warning")
    assert _seen(caplog) == ["their warning", "our warning"]
    caplog.clear()
    # a library level from the training arguments (get_process_log_level); transformers' "passive" -1 is WARNING
    setup_logging(library_level=logging.ERROR)
    _log_everything()
    assert _seen(caplog) == ["our step"]
    setup_logging(library_level=-1)
    assert logging.getLogger().level == logging.WARNING


def test_the_console_handler_writes_our_format_to_stderr():
    """Without a handler (a command, not pytest), one is added: our lines as LEVEL name: message on stderr."""
    code = ("import logging; from amharic_tts.cli import setup_logging; setup_logging(); "
            "logging.getLogger('amharic_tts.x').info('ours'); logging.getLogger('accelerate').info('theirs'); "
            "logging.info('input frame rate=25')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["INFO amharic_tts.x: ours"] and done.stdout == ""


def test_speaking_prints_our_steps_without_library_noise(exported_model, tmp_path):
    """A whole command: no weight-loading bar, no upstream root-logger lines, no harmless deprecation warnings;
    a bar over the sentences of a long text."""
    out = tmp_path / "out.wav"
    done = subprocess.run([sys.executable, "-m", "amharic_tts.synthesize", "--model", str(exported_model),
                           "--text", "ሰላም ነው። ዛሬ 3 ሰዎች መጡ።", "--output", str(out), "--seed", "0",
                           "--batch-size", "2"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    err = done.stderr
    for noise in ("Loading weights", "Materializing", "sdp_kernel", "Reference mel length", "INFO root",
                  "input frame rate"):
        assert noise not in err, (noise, err)
    assert [line for line in err.splitlines() if "Warning" in line] == [], err
    assert "sentences: 100%" in err and "2/2" in err
    assert f"wrote {out}" in done.stdout
