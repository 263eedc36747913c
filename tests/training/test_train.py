"""train_t3.py on the tiny base and the prepared demo sample (CPU)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from amharic_tts.testing import free_port
import torch
from safetensors.torch import load_file

from amharic_tts import train as train_cli
from amharic_tts.formats import latest_checkpoint, load_trained_t3
from amharic_tts.training import run
from amharic_tts.training.trainer import T3Trainer, T3TrainingModel

ROOT = Path(__file__).resolve().parents[2]
SMOKE = str(ROOT / "configs" / "train" / "smoke.yaml")


def args_for(inputs, output_dir, *extra):
    return [SMOKE, "--base_model", str(inputs["base"]), "--tokenizer", str(inputs["tokenizer"]),
            "--dataset", str(inputs["data"]), "--output_dir", str(output_dir), *extra]


def history(output_dir):
    checkpoint = latest_checkpoint(str(output_dir))
    return json.loads((Path(checkpoint) / "trainer_state.json").read_text())["log_history"]


@pytest.fixture
def smoke(smoke_run):
    return smoke_run


def test_smoke_run_trains_evaluates_and_writes_everything(smoke, demo_run_inputs):
    logs = history(smoke)
    train_logs = [l for l in logs if "speech_loss" in l]
    assert train_logs[-1]["speech_loss"] < train_logs[0]["speech_loss"] - 2.0
    assert train_logs[-1]["speech_accuracy"] > train_logs[0]["speech_accuracy"]
    assert all(0.5 < l["real_token_share"] <= 1.0 for l in train_logs)
    evals = [l for l in logs if "eval_speech_loss" in l]
    assert len(evals) == 2 and evals[0]["eval_speech_targets"] > 0 and evals[0]["eval_perplexity"] > 1
    assert sorted(p.name for p in smoke.glob("checkpoint-*")) == ["checkpoint-12", "checkpoint-6"]
    assert not list(smoke.glob("tmp-checkpoint-*"))
    config = (smoke / "train_config.yaml").read_text()
    assert "max_steps: 12" in config and str(demo_run_inputs["tokenizer"]) in config
    assert f"amharic_tts_version: {__import__('amharic_tts').__version__}" in config
    assert (smoke / "tokenizer" / "tokenizer.json").is_file() and (smoke / "t3_config.json").is_file()
    summary = json.loads((smoke / "train_summary.json").read_text())
    assert summary["steps"] == 12 and summary["tokens_seen"] > 0 and summary["stopped_by"] == "end"
    samples = json.loads((smoke / "samples" / "step-12" / "samples.json").read_text())
    assert samples[0]["text"] and Path(samples[0]["wav"]).is_file()  # rendered through S3Gen
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(next((smoke / "runs").iterdir())), size_guidance={"audio": 0, "scalars": 0})
    events.Reload()
    assert "samples/0" in events.Tags()["audio"]
    assert {"train/speech_loss", "train/speech_accuracy", "eval/speech_loss"} <= set(events.Tags()["scalars"])


def test_pretrained_text_rows_are_bit_identical_after_training(smoke, demo_run_inputs):
    base = load_file(str(demo_run_inputs["base"] / "t3_mtl23ls_v3.safetensors"))
    trained = load_file(str(smoke / "model.safetensors"))
    for name in ("text_emb.weight", "text_head.weight"):
        assert torch.equal(trained[f"t3.{name}"][:2454], base[name])
        assert not torch.equal(trained[f"t3.{name}"][2454:], trained[f"t3.{name}"][2454:].mean(0).expand(
            trained[f"t3.{name}"].shape[0] - 2454, -1))
    assert not torch.equal(trained["t3.speech_head.weight"], base["speech_head.weight"])  # the rest trained


def test_the_trained_model_loads_in_upstream_t3_strictly(smoke):
    from chatterbox.models.t3 import T3

    from amharic_tts.model.base import load_t3_config

    config = load_t3_config(smoke)  # t3_config.json saved with the run: text_tokens_dict_size = N
    upstream = T3(config)
    state = {k.removeprefix("t3."): v for k, v in load_file(str(smoke / "model.safetensors")).items()}
    upstream.load_state_dict(state, strict=True)
    loaded = load_trained_t3(smoke / "checkpoint-12")
    assert type(loaded) is T3 and loaded.hp.text_tokens_dict_size == config.text_tokens_dict_size > 2454
    assert torch.equal(loaded.text_emb.weight, upstream.text_emb.weight)


def test_signal_stops_gracefully_and_resume_continues_exactly(demo_run_inputs, tmp_path, monkeypatch):
    common = ["--max_steps", "8", "--logging_steps", "1", "--eval_strategy", "no", "--save_steps", "100",
              "--num_samples", "0", "--text_dropout", "0.3", "--prompt_dropout", "0.3"]
    assert train_cli.main(args_for(demo_run_inputs, tmp_path / "straight", *common)) == 0
    straight = {l["step"]: l["loss"] for l in history(tmp_path / "straight") if "loss" in l}

    original = T3Trainer.training_step

    def step_with_signal(self, model, inputs, num_items_in_batch=None):
        if self.state.global_step == 3:  # during step 4: like a cluster's pre-emption notice
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, model, inputs, num_items_in_batch)

    monkeypatch.setattr(T3Trainer, "training_step", step_with_signal)
    assert train_cli.main(args_for(demo_run_inputs, tmp_path / "stopped", *common)) == 0
    monkeypatch.setattr(T3Trainer, "training_step", original)
    assert latest_checkpoint(str(tmp_path / "stopped")).endswith("checkpoint-4")
    assert json.loads((tmp_path / "stopped" / "train_summary.json").read_text())["stopped_by"] == "signal"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored

    assert train_cli.main(args_for(demo_run_inputs, tmp_path / "stopped", *common,
                             "--resume_from_checkpoint", "latest")) == 0
    resumed = {l["step"]: l["loss"] for l in history(tmp_path / "stopped") if "loss" in l}
    assert sorted(resumed) == list(range(1, 9))
    for step in range(5, 9):
        assert resumed[step] == pytest.approx(straight[step], abs=1e-5), step


def test_half_written_checkpoints_are_never_resumed(tmp_path):
    (tmp_path / "checkpoint-4").mkdir()
    (tmp_path / "tmp-checkpoint-8").mkdir()  # killed while saving
    assert latest_checkpoint(str(tmp_path)).endswith("checkpoint-4")


def test_non_finite_losses_stop_the_run_with_a_clear_message(demo_run_inputs, tmp_path, monkeypatch, capsys):
    original = T3TrainingModel.forward
    calls = {"n": 0}

    def forward(self, **batch):
        out = original(self, **batch)
        calls["n"] += 1
        if calls["n"] > 2:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(T3TrainingModel, "forward", lambda self, **b: forward(self, **b))
    code = train_cli.main(args_for(demo_run_inputs, tmp_path / "nan", "--max_steps", "20", "--eval_strategy", "no",
                             "--num_samples", "0", "--max_bad_steps", "3"))
    assert code == 2
    err = capsys.readouterr().err
    assert "stopped after 3 non-finite losses in a row at step 5" in err
    checkpoint = latest_checkpoint(str(tmp_path / "nan"))
    assert checkpoint.endswith("checkpoint-5")
    weights = load_file(str(Path(checkpoint) / "model.safetensors"))
    assert all(torch.isfinite(v).all() for v in weights.values())


def test_a_full_disk_while_saving_a_checkpoint_says_so_in_one_line(demo_run_inputs, tmp_path, monkeypatch, capsys):
    import errno

    original = T3Trainer._save_optimizer_and_scheduler

    def save(self, output_dir):
        if self.state.global_step == 2:  # the model is written; the optimizer state does not fit
            raise OSError(errno.ENOSPC, "No space left on device", os.path.join(output_dir, "optimizer.pt"))
        return original(self, output_dir)

    monkeypatch.setattr(T3Trainer, "_save_optimizer_and_scheduler", save)
    out = tmp_path / "run"
    assert train_cli.main(args_for(demo_run_inputs, out, "--max_steps", "3", "--save_steps", "1", "--eval_strategy",
                             "no", "--num_samples", "0")) == 1
    err = capsys.readouterr().err
    error, = [line for line in err.split("\n") if line.startswith("error:")]  # on a line of its own
    assert error.startswith(f"error: the disk is full: checkpoint-2 could not be saved in {out} (")
    assert f"the last complete checkpoint is {out / 'checkpoint-1'}. Free some space" in error
    assert "Traceback" not in err
    assert sorted(p.name for p in out.iterdir() if "checkpoint" in p.name) == ["checkpoint-1"]  # no half one


def test_bad_configurations_fail_before_training(demo_run_inputs, tmp_path, capsys):
    from datasets import Dataset, DatasetDict

    from amharic_tts.testing.tiny_base import tiny_tokenizer_json

    cases = []
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("learning_rat: 0.1\n")
    cases.append(([str(unknown)], "unknown configuration keys: learning_rat"))
    cases.append((args_for(demo_run_inputs, tmp_path / "o1", "--dataset", str(tmp_path / "missing")),
                  "dataset directory"))
    small = tmp_path / "small_tok"
    small.mkdir()
    (small / "tokenizer.json").write_text(tiny_tokenizer_json(2000))
    (small / "tokenizer_config.json").write_text(json.dumps({"base_vocab_size": 2454, "language_token": "[en]"}))
    cases.append((args_for(demo_run_inputs, tmp_path / "o2", "--tokenizer", str(small)),
                  "the tokenizer has 2000 ids, fewer than the base model's 2454"))
    no_tokens = tmp_path / "no_tokens"
    DatasetDict({"train": Dataset.from_dict({"text": ["ሰላም"], "speaker": ["a"]})}).save_to_disk(str(no_tokens))
    cases.append((args_for(demo_run_inputs, tmp_path / "o3", "--dataset", str(no_tokens)),
                  "has no speech_tokens, speaker_emb column(s)"))
    cases.append((args_for(demo_run_inputs, tmp_path / "o5", "--max_tokens_per_batch", "10"),
                  "max_tokens_per_batch 10 is less than the longest training sample"))
    cases.append((args_for(demo_run_inputs, tmp_path / "o6", "--max_eval_samples", "0"),
                  "no 'validation' samples are left after the length limits"))
    cases.append((args_for(demo_run_inputs, tmp_path / "o7", "--dataloader_num_workers", "1",
                           "--dataloader_persistent_workers", "true"),
                  "dataloader_persistent_workers keeps each worker's copy of the collator"))
    cases.append((args_for(demo_run_inputs, tmp_path / "o8", "--prompt_voice_neighbours", "-1"),
                  "prompt_voice_neighbours must be 0 (off) or more, got -1"))
    cases.append((args_for(demo_run_inputs, tmp_path / "o9", "--max_bad_speech_share", "1.5"),
                  "max_bad_speech_share must be in 0..1, got 1.5"))
    no_vocoder = tmp_path / "base_without_s3gen"  # eval_asr_model renders speech: it needs the base's S3Gen
    no_vocoder.mkdir()
    for file in Path(demo_run_inputs["base"]).iterdir():
        if file.name != "s3gen.pt":
            (no_vocoder / file.name).symlink_to(file)
    cases.append((args_for(demo_run_inputs, tmp_path / "o4", "--base_model", str(no_vocoder),
                           "--eval_asr_model", str(tmp_path / "asr")),
                  "eval_asr_model needs the base model's S3Gen to render speech: Base model"))
    for argv, message in cases:
        assert train_cli.main(argv) == 2, message
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert not any((tmp_path / name).exists() for name in ("o1", "o2", "o3"))
    assert not list((tmp_path / "o4").glob("checkpoint-*")) and not (tmp_path / "o5").exists()
    assert not any((tmp_path / name).exists() for name in ("o6", "o7", "o8", "o9"))


def test_two_processes_train_together_and_only_rank_0_writes(demo_run_inputs, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # --multi_gpu is accelerate's torch.distributed launcher; the smoke config's use_cpu makes it gloo on CPU;
    # -m: the installed package's module, as `accelerate launch -m amharic_tts.train smoke` (train_t3.py calls it)
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(free_port()), "-m", "amharic_tts.train",
           *args_for(demo_run_inputs, tmp_path / "ddp", "--max_steps", "4", "--save_steps", "2",
                     "--eval_steps", "2", "--logging_steps", "1", "--num_samples", "0")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    logs = history(tmp_path / "ddp")
    # 12 training samples, batch 4 on each of 2 processes: 2 steps an epoch (one process would need 3)
    first = next(l for l in logs if l.get("step") == 1 and "loss" in l)
    assert first["epoch"] == pytest.approx(1 / 2)
    train_logs = [l for l in logs if "loss" in l]  # the loss parts and padding of both processes, every step
    assert len(train_logs) == 4 and all(0.5 < l["real_token_share"] <= 1 and l["speech_loss"] > 0 for l in train_logs)
    assert sorted(p.name for p in (tmp_path / "ddp").glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    assert not list((tmp_path / "ddp").glob("tmp-checkpoint-*"))
    assert len(list((tmp_path / "ddp" / "runs").rglob("events.out.tfevents*"))) == 1  # rank 0 logs only
    assert load_trained_t3(tmp_path / "ddp").hp.text_tokens_dict_size > 2454



def test_push_to_hub_exports_and_pushes_the_final_model(demo_run_inputs, tmp_path, recorded_hub, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 30)
    # checked before training: offline, nothing is trained (the recorded Hub answers every request, never the net)
    code = train_cli.main(args_for(demo_run_inputs, tmp_path / "offline", "--push_to_hub", "true"))
    assert code == 2 and not (tmp_path / "offline").exists()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    out = tmp_path / "run"
    code = train_cli.main(args_for(demo_run_inputs, out, "--max_steps", "2", "--eval_strategy", "no", "--num_samples",
                             "0", "--save_steps", "100", "--push_to_hub", "true", "--hub_model_id",
                             "chatterbox-amharic", "--hub_private_repo", "true"))
    assert code == 0
    # created when training starts (hub_strategy every_save, the Trainer's default, pushes each save) and made
    # sure of again by the final push
    for _, _, _, body in recorded_hub.find("/api/repos/create"):
        assert json.loads(body)["name"] == "chatterbox-amharic" and json.loads(body)["visibility"] == "private"
    commits = recorded_hub.find("/api/models/user/chatterbox-amharic/commit/main")
    header = json.loads(commits[0][3].decode().splitlines()[0])["value"]
    assert header["summary"] == "Amharic Chatterbox T3, step 2"
    assert (out / "export" / "t3_am.safetensors").is_file()
    card = (out / "export" / "README.md").read_text(encoding="utf-8")
    assert 'from_pretrained("user/chatterbox-amharic")' in card  # the namespace the Hub gave the bare name
    called = {url.split("/api/")[1].split("/")[0] for _, url, _, _ in recorded_hub.requests if "/api/" in url}
    assert called <= {"repos", "validate-yaml", "models", "agent-harnesses"}  # no Trainer pushes of checkpoints
    summaries = [json.loads(c[3].decode().splitlines()[0])["value"]["summary"] for c in commits]
    assert len(recorded_hub.find("/api/repos/create")) == 2
    # the save at the last step uploads nothing of its own: the final push of the finished run follows
    assert all(summary.startswith("Amharic Chatterbox T3, step 2") for summary in summaries), summaries


def test_best_checkpoint_by_cer_of_an_asr_model(demo_run_inputs, tmp_path):
    from amharic_tts.testing.tiny_asr import build_tiny_asr

    asr = build_tiny_asr(tmp_path / "asr")
    out = tmp_path / "run"
    code = train_cli.main(args_for(demo_run_inputs, out, "--max_steps", "6", "--eval_steps", "2", "--save_steps", "2",
                             "--save_total_limit", "2", "--num_samples", "0", "--sample_max_seconds", "0.4",
                             "--eval_asr_model", str(asr), "--eval_asr_samples", "1",
                             "--metric_for_best_model", "cer", "--greater_is_better", "false"))
    assert code == 0
    state = json.loads((out / "checkpoint-6" / "trainer_state.json").read_text())
    cers = {l["step"]: l["eval_cer"] for l in state["log_history"] if "eval_cer" in l}
    assert sorted(cers) == [2, 4, 6] and all(c >= 0 for c in cers.values())
    assert all("eval_wer" in l for l in state["log_history"] if "eval_cer" in l)
    best = min(cers, key=lambda step: (cers[step], step))
    assert state["best_metric"] == pytest.approx(cers[best]) and state["best_global_step"] == best
    assert Path(state["best_model_checkpoint"]).name == f"checkpoint-{best}"
    kept = sorted(p.name for p in out.glob("checkpoint-*"))
    assert f"checkpoint-{best}" in kept and "checkpoint-6" in kept and len(kept) <= 2  # rotation keeps the best


def test_every_log_is_a_json_line_in_the_output_folder(smoke):
    from amharic_tts.training.trainer import read_log

    records = read_log(str(smoke))
    train = [r for r in records if "loss" in r]
    evals = [r for r in records if "eval_speech_loss" in r]
    assert [r["step"] for r in train] == [3, 6, 9, 12] and [r["step"] for r in evals] == [6, 12]
    logged = {l["step"]: l for l in history(smoke) if "speech_loss" in l}
    assert all(r["speech_loss"] == pytest.approx(logged[r["step"]]["speech_loss"]) for r in train)
    assert all(r["time"] > 0 for r in records) and records[-1]["step"] == 12


def test_token_budget_batches_train_and_resume_exactly_across_epochs(demo_run_inputs, tmp_path, monkeypatch):
    from datasets import load_from_disk

    train = load_from_disk(str(demo_run_inputs["data"]))["train"]
    longest = max(len(t) for t in train["speech_tokens"]) + 2 * max(len(t) for t in train["text"]) + 4
    budget = 2 * longest  # a few samples per batch, and a handful of batches per epoch
    common = ["--max_steps", "-1", "--num_train_epochs", "2", "--logging_steps", "1", "--eval_strategy", "no",
              "--save_steps", "1000", "--num_samples", "0", "--max_tokens_per_batch", str(budget)]
    seen = []
    original = T3Trainer.training_step

    def recording_step(self, model, inputs, num_items_in_batch=None):
        lengths = inputs["text_token_lens"] + inputs["speech_token_lens"]
        seen.append((self.state.epoch, len(lengths), int(lengths.max()), lengths.tolist()))
        return original(self, model, inputs, num_items_in_batch)

    monkeypatch.setattr(T3Trainer, "training_step", recording_step)
    assert train_cli.main(args_for(demo_run_inputs, tmp_path / "straight", *common)) == 0
    straight = {l["step"]: l["loss"] for l in history(tmp_path / "straight") if "loss" in l}
    per_epoch = len(seen) // 2
    assert len(seen) == 2 * per_epoch == len(straight) and per_epoch >= 3
    assert all(n * width <= budget for _, n, width, _ in seen)
    assert len({n for _, n, _, _ in seen}) > 1  # the batch size follows the lengths
    assert sum(n for _, n, _, _ in seen[:per_epoch]) == sum(n for _, n, _, _ in seen[per_epoch:]) == len(train)
    # reshuffled per epoch: other companions (samples of equal length shuffle, so compare the batches' lengths)
    assert [b for *_, b in seen[:per_epoch]] != [b for *_, b in seen[per_epoch:]]

    stop_at = per_epoch + 1  # stopped inside the second epoch

    def step_with_signal(self, model, inputs, num_items_in_batch=None):
        if self.state.global_step == stop_at - 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, model, inputs, num_items_in_batch)

    monkeypatch.setattr(T3Trainer, "training_step", step_with_signal)
    assert train_cli.main(args_for(demo_run_inputs, tmp_path / "stopped", *common)) == 0
    monkeypatch.setattr(T3Trainer, "training_step", original)
    assert latest_checkpoint(str(tmp_path / "stopped")).endswith(f"checkpoint-{stop_at}")
    assert train_cli.main(args_for(demo_run_inputs, tmp_path / "stopped", *common,
                             "--resume_from_checkpoint", "latest")) == 0
    resumed = {l["step"]: l["loss"] for l in history(tmp_path / "stopped") if "loss" in l}
    assert sorted(resumed) == sorted(straight)
    for step in range(stop_at + 1, 2 * per_epoch + 1):
        assert resumed[step] == pytest.approx(straight[step], abs=1e-5), step
    summary = {name: json.loads((tmp_path / name / "train_summary.json").read_text()) for name in ("straight",
                                                                                                "stopped")}
    assert summary["stopped"]["tokens_seen"] == summary["straight"]["tokens_seen"]  # counted across the resume


def test_statistics_are_counted_when_workers_collate(demo_run_inputs, tmp_path, monkeypatch):
    """With dataloader workers the collator runs in other processes: tokens seen and the real-token share are
    counted where the batches are trained."""
    real, padded = [], []
    original = T3Trainer.training_step

    def recording_step(self, model, inputs, num_items_in_batch=None):
        real.append(int(inputs["text_token_lens"].sum() + inputs["speech_token_lens"].sum()))
        padded.append(inputs["text_tokens"].numel() + inputs["speech_tokens"].numel())
        return original(self, model, inputs, num_items_in_batch)

    monkeypatch.setattr(T3Trainer, "training_step", recording_step)
    out = tmp_path / "workers"
    assert train_cli.main(args_for(demo_run_inputs, out, "--max_steps", "4", "--logging_steps", "2", "--eval_strategy",
                             "no", "--save_steps", "4", "--num_samples", "0", "--dataloader_num_workers", "2")) == 0
    assert json.loads((out / "train_summary.json").read_text())["tokens_seen"] == sum(real) > 0
    shares = [l["real_token_share"] for l in history(out) if "loss" in l]
    assert shares == [pytest.approx(sum(real[:2]) / sum(padded[:2]), abs=1e-4),
                      pytest.approx(sum(real[2:]) / sum(padded[2:]), abs=1e-4)]


def test_resuming_with_other_model_settings_fails_before_touching_the_run(demo_run_inputs, tmp_path, capsys):
    out = tmp_path / "run"
    common = ["--max_steps", "2", "--save_steps", "2", "--eval_strategy", "no", "--num_samples", "0"]
    assert train_cli.main(args_for(demo_run_inputs, out, *common)) == 0
    config = (out / "train_config.yaml").read_bytes()
    assert (out / "checkpoint-2" / "checkpoint_config.yaml").read_bytes() == config  # what it was made with
    capsys.readouterr()
    assert train_cli.main(args_for(demo_run_inputs, out, *common, "--use_lora", "true",
                             "--resume_from_checkpoint", "latest")) == 2
    err = capsys.readouterr().err
    assert "cannot resume from" in err and "use_lora: False there, True now" in err and "Traceback" not in err
    assert (out / "train_config.yaml").read_bytes() == config  # the run's record is untouched
    # a checkpoint outside its run folder: the Trainer's own load is checked, and refuses instead of warning
    bare = tmp_path / "elsewhere" / "checkpoint-2"
    bare.parent.mkdir()
    (out / "checkpoint-2").rename(bare)
    assert train_cli.main(args_for(demo_run_inputs, tmp_path / "other", *common, "--use_lora", "true",
                             "--resume_from_checkpoint", str(bare))) == 2
    err = capsys.readouterr().err  # its own copy of the settings says why (a Hub checkpoint has no run folder)
    assert f"cannot resume from {bare}" in err and "use_lora: False there, True now" in err
    (bare / "checkpoint_config.yaml").unlink()  # no record at all: the Trainer's own load is the check
    assert train_cli.main(args_for(demo_run_inputs, tmp_path / "other", *common, "--use_lora", "true",
                             "--resume_from_checkpoint", str(bare))) == 2
    err = capsys.readouterr().err
    assert "the checkpoint does not fit this model" in err and "unexpected" in err and "Traceback" not in err


def test_evaluation_without_validation_rows_is_a_clear_error(demo_run_inputs, tmp_path, capsys):
    from datasets import DatasetDict, load_from_disk

    data = load_from_disk(str(demo_run_inputs["data"]))
    empty = tmp_path / "no_validation"
    DatasetDict({"train": data["train"], "validation": data["train"].select([])}).save_to_disk(
        str(empty), num_shards={"train": 1, "validation": 1})  # datasets cannot size an empty Audio split
    assert train_cli.main(args_for(demo_run_inputs, tmp_path / "o1", "--dataset", str(empty))) == 2
    err = capsys.readouterr().err
    assert "evaluation needs rows in split 'validation', and the dataset" in err
    assert "train: 12 rows, validation: 0 rows" in err and "eval_strategy: no" in err
    assert train_cli.main(args_for(demo_run_inputs, tmp_path / "o2", "--eval_split", "nope")) == 2
    assert "has no such split" in capsys.readouterr().err
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_torch_compile_compiles_the_decoder_layers_and_trains_as_eager(demo_run_inputs, tmp_path, monkeypatch):
    """The Trainer's whole-model compile fails under torch 2.6 (dynamo cannot trace transformers' LlamaModel); the
    decoder layers are compiled instead. aot_eager runs dynamo and AOTAutograd without needing a C++ compiler."""
    monkeypatch.setenv("ACCELERATE_DYNAMO_BACKEND", "no")
    common = ["--max_steps", "3", "--logging_steps", "1", "--eval_strategy", "no", "--save_steps", "100",
              "--num_samples", "0"]
    assert train_cli.main(args_for(demo_run_inputs, tmp_path / "eager", *common)) == 0
    compiled = []
    original = run.compile_layers

    def spy(t3, training_args):
        done = original(t3, training_args)
        compiled.extend(layer for layer in t3.tfmr.layers if layer._compiled_call_impl is not None)
        return done

    monkeypatch.setattr(run, "compile_layers", spy)
    from torch._dynamo.utils import counters

    counters.clear()
    assert train_cli.main(args_for(demo_run_inputs, tmp_path / "compiled", *common, "--torch_compile", "true",
                             "--torch_compile_backend", "aot_eager")) == 0
    assert len(compiled) == 2  # the tiny base's two decoder layers
    assert counters["stats"]["unique_graphs"] > 0  # and dynamo did run them
    eager = {l["step"]: l["loss"] for l in history(tmp_path / "eager") if "loss" in l}
    losses = {l["step"]: l["loss"] for l in history(tmp_path / "compiled") if "loss" in l}
    assert sorted(losses) == [1, 2, 3]
    for step in losses:
        assert losses[step] == pytest.approx(eager[step], abs=1e-4), step
    assert load_file(str(tmp_path / "compiled" / "model.safetensors")).keys() == \
        load_file(str(tmp_path / "eager" / "model.safetensors")).keys()
    assert "torch_compile: true" in (tmp_path / "compiled" / "train_config.yaml").read_text()


def test_accelerate_s_dynamo_backend_compiles_the_layers_not_the_whole_model(demo_run_inputs, monkeypatch):
    from types import SimpleNamespace

    from amharic_tts.model.base import load_t3

    t3 = load_t3(str(demo_run_inputs["base"]))
    args = SimpleNamespace(torch_compile=False, torch_compile_backend=None, torch_compile_mode=None)
    monkeypatch.setenv("ACCELERATE_DYNAMO_BACKEND", "no")
    assert not run.compile_layers(t3, args)
    assert all(layer._compiled_call_impl is None for layer in t3.tfmr.layers)
    calls = []
    layer_class = type(t3.tfmr.layers[0])
    monkeypatch.setattr(layer_class, "compile", lambda self, *a, **kw: (calls.append(kw),
                                                                        torch.nn.Module.compile(self, *a, **kw)))
    # what `accelerate launch --dynamo_backend aot_eager --dynamo_use_fullgraph true` sets
    monkeypatch.setenv("ACCELERATE_DYNAMO_BACKEND", "AOT_EAGER")
    monkeypatch.setenv("ACCELERATE_DYNAMO_USE_FULLGRAPH", "true")
    assert run.compile_layers(t3, args)
    assert all(layer._compiled_call_impl is not None for layer in t3.tfmr.layers)
    assert os.environ["ACCELERATE_DYNAMO_BACKEND"] == "NO" and not args.torch_compile
    assert calls == [{"backend": "aot_eager", "mode": None, "fullgraph": True, "dynamic": True}] * 2
    t3.tfmr(inputs_embeds=torch.randn(1, 5, t3.hp.n_channels))  # fullgraph: the layer traces without a break

    calls.clear()
    monkeypatch.setenv("ACCELERATE_DYNAMO_BACKEND", "INDUCTOR")
    monkeypatch.setenv("ACCELERATE_DYNAMO_MODE", "max-autotune")
    monkeypatch.setenv("ACCELERATE_DYNAMO_USE_DYNAMIC", "false")
    monkeypatch.setenv("ACCELERATE_DYNAMO_USE_FULLGRAPH", "false")
    assert run.compile_layers(load_t3(str(demo_run_inputs["base"])), args)
    assert calls == [{"backend": "inductor", "mode": "max-autotune", "fullgraph": False, "dynamic": False}] * 2


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "configs" / "train").glob("*.yaml")))
def test_every_shipped_training_config_parses(name):
    """A key misspelt in a shipped config would only show on a user's GPU (use_cpu: their bf16 is checked here)."""
    from amharic_tts.cli import load_yaml
    from amharic_tts.training.args import parse_config

    model_args, data_args, training_args = parse_config(load_yaml(str(ROOT / "configs" / "train" / name)),
                                                        ["--use_cpu", "true"])
    assert model_args.base_model and training_args.output_dir
    assert data_args.prompt_voice_neighbours >= 0


def test_every_shipped_accelerate_config_loads_as_accelerate_reads_it():
    from accelerate.commands.config.config_args import load_config_from_file

    kinds = {name: load_config_from_file(str(ROOT / "configs" / "accelerate" / f"{name}.yaml")).distributed_type
             for name in ("single_gpu", "multi_gpu", "multi_node", "deepspeed_zero2")}
    assert {name: str(kind).split(".")[-1] for name, kind in kinds.items()} == {
        "single_gpu": "NO", "multi_gpu": "MULTI_GPU", "multi_node": "MULTI_GPU", "deepspeed_zero2": "DEEPSPEED"}
