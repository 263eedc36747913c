"""The Hub as its users expect it, with a recording stand-in for ``HfApi`` (nothing goes over the network):
uploads during training, resuming from a Hub checkpoint, dataset cards that keep ``datasets``' metadata, samples
on the model card and in every logger."""

import json
import shutil
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace

import pytest

from amharic_tts.export import HubSyncCallback
from amharic_tts.training import run
from amharic_tts.training.args import parse_config

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "amharic_tts" / "configs" / "train" / "smoke.yaml"


class FakeApi:
    """Records repos and uploads; an upload copies the folder into ``root/REPO/PATH`` at the moment it is made."""

    def __init__(self, root: Path, done: bool = True):
        self.root, self.done, self.commits = root, done, []

    def create_repo(self, repo_id, repo_type="model", private=False, exist_ok=True):
        return SimpleNamespace(repo_id=repo_id if "/" in repo_id else f"me/{repo_id}")

    def upload_folder(self, *, repo_id, repo_type, folder_path, path_in_repo=None, commit_message,
                      run_as_future=False):
        target = self.root / repo_id / (path_in_repo or "")
        shutil.copytree(folder_path, target, dirs_exist_ok=True)
        self.commits.append((commit_message, path_in_repo, sorted(p.name for p in Path(folder_path).iterdir())))
        future = Future()
        if self.done:
            future.set_result(SimpleNamespace(commit_url="https://huggingface.co/fake"))
        return future

    def upload_file(self, *, path_or_fileobj, path_in_repo, repo_id, repo_type, commit_message):
        target = self.root / repo_id / path_in_repo
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path_or_fileobj)
        self.commits.append((commit_message, path_in_repo, None))


def _settings(inputs, output_dir, **extra):
    import yaml

    settings = yaml.safe_load(SMOKE.read_text())
    settings.update(base_model=str(inputs["base"]), tokenizer=str(inputs["tokenizer"]), dataset=str(inputs["data"]),
                    output_dir=str(output_dir), eval_strategy="no", num_samples=0, report_to="none", **extra)
    return settings


@pytest.fixture(scope="module")
def synced(demo_run_inputs, tmp_path_factory):
    """A 4-step run with saves at 2 and 4 pushing with ``hub_strategy: checkpoint`` to the fake Hub."""
    root = tmp_path_factory.mktemp("hub")
    api = FakeApi(root / "repos")
    callback = HubSyncCallback("me/amharic", strategy="checkpoint", api=api)
    settings = _settings(demo_run_inputs, root / "run", max_steps=4, save_steps=2)
    summary = run.train(*parse_config(settings, []), callbacks=[callback])
    return SimpleNamespace(api=api, summary=summary, root=root, repo=root / "repos" / "me" / "amharic")


def test_each_save_pushes_an_export_and_the_last_checkpoint_in_the_background(synced):
    messages = [(message, where) for message, where, _ in synced.api.commits]
    # the export of the last step is left to the final push of the finished run (the command line's)
    assert messages == [("Training in progress, step 2", None),
                        ("Training in progress, step 2 (last-checkpoint)", "last-checkpoint"),
                        ("Training in progress, step 4 (last-checkpoint)", "last-checkpoint")]
    export_files = synced.api.commits[0][2]
    assert {"config.json", "t3_am.safetensors", "tokenizer.json", "README.md"} <= set(export_files)
    config = json.loads((synced.repo / "config.json").read_text())
    assert config["format"] == "amharic-tts" and config["training"]["step"] == 2 and config["repo_id"] == \
        "me/amharic"
    state = json.loads((synced.repo / "last-checkpoint" / "trainer_state.json").read_text())
    assert state["global_step"] == 4 and (synced.repo / "last-checkpoint" / "optimizer.pt").is_file()
    assert not (synced.root / "run" / ".hub-sync").exists()  # what was uploaded is cleaned up at the end


def test_a_run_resumes_from_the_checkpoint_a_hub_repo_holds(synced, demo_run_inputs, monkeypatch):
    import huggingface_hub

    asked = {}

    def snapshot_download(repo_id, allow_patterns=None, token=None):
        asked.update(repo_id=repo_id, patterns=allow_patterns)
        return str(synced.repo)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    settings = _settings(demo_run_inputs, synced.root / "elsewhere", max_steps=6, save_steps=2,
                         resume_from_checkpoint="me/amharic")
    summary = run.train(*parse_config(settings, []))
    assert asked == {"repo_id": "me/amharic", "patterns": ["last-checkpoint/*"]}
    assert summary["steps"] == 6
    history = json.loads((synced.root / "elsewhere" / "checkpoint-6" / "trainer_state.json").read_text())
    assert [e["step"] for e in history["log_history"] if "loss" in e][0] == 5  # steps 1-4 were not trained again

    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: str(synced.root / "run"))
    with pytest.raises(run.TrainingSetupError, match="has no last-checkpoint/ checkpoint"):
        run.resolve_resume("me/other", synced.root / "x")


def test_a_save_while_an_upload_runs_is_skipped_and_waited_for_at_the_end(tmp_path, caplog):
    api = FakeApi(tmp_path / "repos", done=False)
    callback = HubSyncCallback("me/x", api=api)
    pending = Future()
    callback.uploads = [(2, "export", pending)]
    args = SimpleNamespace(output_dir=str(tmp_path))
    with caplog.at_level("INFO", logger="amharic_tts.export"):
        callback.on_save(args, SimpleNamespace(is_world_process_zero=True, global_step=4), None)
    assert api.commits == [] and "the upload of step 2 is still running" in caplog.text
    pending.set_exception(RuntimeError("503 Service Unavailable"))
    with caplog.at_level("WARNING", logger="amharic_tts.export"):
        callback.on_train_end(args, SimpleNamespace(is_world_process_zero=True), None)
    assert "pushing step 2 (export) to me/x failed" in caplog.text and callback.uploads == []


def test_a_new_run_refuses_an_output_dir_with_checkpoints_unless_told(tmp_path):
    (tmp_path / "checkpoint-3").mkdir()
    (tmp_path / "train_summary.json").write_text("{}")
    with pytest.raises(run.TrainingSetupError, match="already holds checkpoints \\(checkpoint-3\\) of another run: "
                                                     "continue it with resume_from_checkpoint: latest"):
        run.resolve_resume(None, tmp_path)
    assert run.resolve_resume(None, tmp_path, overwrite=True) is None
    assert not (tmp_path / "checkpoint-3").exists() and not (tmp_path / "train_summary.json").exists()
    assert run.resolve_resume(None, tmp_path) is None  # nothing left to refuse
    with pytest.raises(run.TrainingSetupError, match="checkpoint nowhere/at/all does not exist"):
        run.resolve_resume("nowhere/at/all", tmp_path)


def test_the_command_line_refuses_before_training(demo_run_inputs, smoke_run, capsys):
    from amharic_tts import train as train_cli

    code = train_cli.main([str(SMOKE), "--base_model", str(demo_run_inputs["base"]), "--tokenizer",
                           str(demo_run_inputs["tokenizer"]), "--dataset", str(demo_run_inputs["data"]),
                           "--output_dir", str(smoke_run)])
    assert code == 2
    assert "already holds checkpoints" in capsys.readouterr().err
    assert json.loads((smoke_run / "train_summary.json").read_text())["steps"] == 12  # left as it was


def test_the_model_card_plays_its_samples_from_the_repo():
    from amharic_tts.hub import model_card

    config = {"base_model": "ResembleAI/chatterbox", "text_vocab_size": 2800, "base_text_vocab_size": 2454}
    without = str(model_card(config, repo_id="me/amharic"))
    config["samples"] = [{"path": "samples/01.wav", "text": "ሰላም ነው።"},
                         {"path": "samples/02.wav", "text": "ዛሬ ሦስት ሰዎች መጡ።"}]
    card = str(model_card(config, repo_id="me/amharic"))
    assert "widget:\n- text: ሰላም ነው።\n  output:\n    url: samples/01.wav" in card
    assert '| ሰላም ነው። | <audio controls src="https://huggingface.co/me/amharic/resolve/main/samples/01.wav">' in card
    assert "## Samples" not in without and "widget" not in without
    # evaluate --update-card rewrites the card from config.json: the samples stay
    assert "## Samples" in str(model_card(config, evaluation={"cer": 0.1, "sentences": 4}))


def test_a_dataset_push_sends_the_card_first_so_datasets_keeps_it_and_adds_its_metadata(demo_run_inputs,
                                                                                      tmp_path, monkeypatch):
    """``datasets``' push_to_hub reads the repo's README and merges ``dataset_info``/``configs`` into it; run here on
    the card the fake repo holds at that moment, with the function ``push_to_hub`` itself uses."""
    from datasets import DatasetDict, SplitInfo
    from datasets.arrow_dataset import _get_updated_dataset_card
    from fsspec.implementations.dirfs import DirFileSystem
    from fsspec.implementations.local import LocalFileSystem

    from amharic_tts.data.card import dataset_card, size_category
    from amharic_tts.hub import push_dataset

    api = FakeApi(tmp_path / "repos")
    repo = tmp_path / "repos" / "me" / "speech"
    merged = {}

    def push_to_hub(self, repo_id, private=False, token=None):
        splits = [SplitInfo(name=name, num_bytes=1, num_examples=len(split)) for name, split in self.items()]
        card, _ = _get_updated_dataset_card(
            fs=DirFileSystem(path=str(repo), fs=LocalFileSystem()), config_name="default", splits_info=splits,
            features=self["train"].features, data_dir="data", set_default=None, uploaded_sizes=[1] * len(splits),
            deleted_sizes=[], remove_other_splits=True)
        merged.update(repo_id=repo_id, card=card)

    monkeypatch.setattr(DatasetDict, "push_to_hub", push_to_hub)
    report = json.loads((Path(demo_run_inputs["data"]) / "prepare_report.json").read_text())
    card = dataset_card(report, license="cc-by-4.0", pretty_name="Demo", base_model=str(demo_run_inputs["base"]))
    url = push_dataset(demo_run_inputs["data"], "me/speech", card, api=api)
    assert url == "https://huggingface.co/datasets/me/speech" and merged["repo_id"] == "me/speech"
    data = merged["card"].data
    assert data.license == "cc-by-4.0" and data.size_categories == ["n<1K"] and data.pretty_name == "Demo"
    assert data.dataset_info["splits"][0]["name"] == "train" and data.configs[0]["config_name"] == "default"
    assert "a local copy of `ResembleAI/chatterbox`" in merged["card"].text  # the base's path is not shown
    assert str(demo_run_inputs["base"]) not in str(merged["card"])
    assert [size_category(n) for n in (999, 1000, 99_999, 100_000, 2_000_000)] == \
        ["n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M"]


def test_audio_samples_go_to_tensorboard_and_wandb():
    from transformers.integrations import WandbCallback

    from amharic_tts.training.samples import audio_loggers

    logged, written = [], []
    fake_wandb = SimpleNamespace(Audio=lambda wav, sample_rate, caption: ("audio", len(wav), sample_rate, caption),
                                 log=lambda values: logged.append(values))
    wandb = WandbCallback.__new__(WandbCallback)  # as report_to: wandb adds it, without the wandb package here
    wandb._wandb, wandb._initialized = fake_wandb, True
    from transformers.integrations import TensorBoardCallback

    board = TensorBoardCallback.__new__(TensorBoardCallback)
    board.tb_writer = SimpleNamespace(add_audio=lambda tag, wav, step, rate: written.append((tag, step, rate)),
                                      add_text=lambda tag, text, step: written.append((tag, text)),
                                      flush=lambda: None)
    trainer = SimpleNamespace(callback_handler=SimpleNamespace(callbacks=[board, wandb]))
    import numpy as np

    for log in audio_loggers(trainer):
        log(8, [(0, "ሰላም", np.zeros(240, dtype=np.float32)), (1, "ነው", None)])
    assert logged == [{"samples/0": ("audio", 240, 24000, "ሰላም"), "train/global_step": 8}]
    assert written == [("samples/0", 8, 24000), ("samples/0/text", "ሰላም"), ("samples/1/text", "ነው")]
