"""Train tab: configurations and settings, the command it launches, and what it shows of a run."""

import json
import shutil
import sys

import pytest

from amharic_tts.studio import jobs, train
from amharic_tts.studio.common import StudioError
from amharic_tts.training.trainer import read_log


def test_settings_come_from_the_chosen_yaml(ws):
    smoke = train.config_defaults(ws, "smoke")
    assert smoke["max_steps"] == 20 and smoke["learning_rate"] == 0.001 and smoke["logging_steps"] == 5
    assert smoke["per_device_train_batch_size"] == 4 and smoke["sample_steps"] == 0
    full = train.config_defaults(ws, "full")
    assert full["max_steps"] == -1 and full["num_train_epochs"] == 20.0 and full["learning_rate"] == 5e-5
    assert train.config_defaults(ws, "lora")["lora_r"] == 32
    with pytest.raises(StudioError, match="unknown configuration 'big'"):
        train.config_defaults(ws, "big")


@pytest.fixture
def launched(monkeypatch):
    """Capture what start_run would launch instead of launching it."""
    seen = {}

    def fake_start(jobs_dir, command, output_dir, **kwargs):
        seen.update(command=command, output_dir=output_dir, jobs_dir=jobs_dir)
        return jobs.Job(str(output_dir), command)

    monkeypatch.setattr(jobs, "start", fake_start)
    return seen


def test_a_run_is_the_training_cli_under_accelerate_launch(ws, demo_run_inputs, launched):
    train.start_run(ws, choice="smoke", dataset=str(demo_run_inputs["data"]),
                    tokenizer=str(demo_run_inputs["tokenizer"]), name="first run",
                    settings={"max_steps": 7, "learning_rate": 0.002, "lora_r": 8, "eval_steps": None})
    command = launched["command"]
    assert command[:5] == [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1"]
    from amharic_tts.configs import FOLDER

    assert command[5:8] == ["-m", "amharic_tts.train", str(FOLDER / "train" / "smoke.yaml")]
    flags = dict(zip(command[8::2], command[9::2]))
    assert flags == {"--base_model": ws.base_model, "--tokenizer": str(demo_run_inputs["tokenizer"]),
                     "--dataset": str(demo_run_inputs["data"]), "--output_dir": str(ws.dir("runs") / "first-run"),
                     "--max_steps": "7", "--learning_rate": "0.002"}  # no LoRA rank for a full-model config
    assert launched["jobs_dir"] == ws.dir("jobs")


def test_gpu_configs_run_on_the_cpu_when_there_is_no_gpu(ws, demo_run_inputs, launched, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    train.start_run(ws, choice="lora", dataset=str(demo_run_inputs["data"]),
                    tokenizer=str(demo_run_inputs["tokenizer"]), settings={"lora_r": 8}, num_processes=2)
    command = launched["command"]
    assert command[3:6] == ["--multi_gpu", "--num_processes", "2"]
    flags = dict(zip(command[9::2], command[10::2]))
    assert flags["--lora_r"] == "8" and flags["--use_cpu"] == "true" and flags["--bf16"] == "false"
    assert launched["output_dir"].name.startswith("lora-")


def test_starting_needs_inputs_and_a_new_name(ws, demo_run_inputs, launched):
    with pytest.raises(StudioError, match="Choose a prepared dataset first"):
        train.start_run(ws, choice="smoke", dataset=None, tokenizer=str(demo_run_inputs["tokenizer"]))
    with pytest.raises(StudioError, match="A tokenizer .* does not exist"):
        train.start_run(ws, choice="smoke", dataset=str(demo_run_inputs["data"]), tokenizer=str(ws.root / "x"))
    (ws.dir("runs") / "taken").mkdir()
    (ws.dir("runs") / "taken" / "log.jsonl").write_text("")
    with pytest.raises(StudioError, match="runs/taken already exists: resume it"):
        train.start_run(ws, choice="smoke", dataset=str(demo_run_inputs["data"]),
                        tokenizer=str(demo_run_inputs["tokenizer"]), name="taken")
    assert "command" not in launched


def test_curves_are_the_logged_values(smoke_run):
    records = read_log(str(smoke_run))
    loss, accuracy = train.curves(records)
    train_records = [r for r in records if "loss" in r]
    assert len(train_records) == 4  # logging every 3 of 12 steps
    got = loss[loss.series == "training loss"][["step", "value"]].values.tolist()
    assert got == [[r["step"], pytest.approx(r["loss"])] for r in train_records]
    evals = [r for r in records if "eval_speech_loss" in r]
    assert loss[loss.series == "validation speech loss"].step.tolist() == [r["step"] for r in evals] == [6, 12]
    assert set(accuracy.series) == {"speech-token accuracy", "validation speech-token accuracy"}
    assert accuracy.value.between(0, 1).all()
    empty_loss, _ = train.curves([])
    assert list(empty_loss.columns) == ["step", "value", "series"] and empty_loss.empty


def test_status_of_a_finished_run_with_its_samples(ws, smoke_run):
    run = ws.dir("runs") / "done"
    shutil.copytree(smoke_run, run, ignore=shutil.ignore_patterns("*.pt", "*.safetensors", "runs"))
    (run / jobs.LOG_FILE).write_text("loading\nstep 1/12\r step 5/12\r step 12/12\ndone\n", encoding="utf-8")
    info = train.run_status(ws, run)
    assert info["state"] == "finished" and not info["active"]
    assert info["text"].startswith("**finished** · step 12 of 12, loss ")
    assert "latest checkpoint `checkpoint-12`" in info["text"] and info["points"] == 4
    assert info["log"] == "loading\n step 12/12\ndone"
    samples = info["samples"]
    recorded = json.loads((run / "samples" / "step-12" / "samples.json").read_text(encoding="utf-8"))
    assert [s["text"] for s in samples] == [r["text"] for r in recorded if r.get("wav")] and samples[0]["step"] == 12


def test_log_tail_reads_only_the_end_of_a_long_log(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("".join(f"line {i}\n" for i in range(100_000)))
    assert train.log_tail(log, lines=3) == "line 99997\nline 99998\nline 99999"
    assert train.log_tail(tmp_path / "missing.log") == ""
