"""Export a run, its model card, and pushing to the Hub against recorded HTTP (no network)."""

import base64
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard
from safetensors.torch import load_file

from amharic_tts import export, hub
from amharic_tts.model.base import t3_config_from_dict
from amharic_tts.formats import load_trained_t3

ROOT = Path(__file__).resolve().parents[1]
EVALUATION = {"dataset": "user/amharic-speech", "split": "test", "sentences": 50, "asr_model": "facebook/mms-1b-all",
              "cer": 0.0734, "wer": 0.2412, "speaker_similarity": 0.812, "rtf": 0.41}


def test_export_writes_plain_merged_weights_tokenizer_and_config(exported_model, smoke_run):
    assert sorted(p.name for p in exported_model.iterdir()) == [
        "README.md", "config.json", "t3_am.safetensors", "tokenizer.json", "tokenizer_config.json"]
    config = json.loads((exported_model / "config.json").read_text())
    tokenizer_config = json.loads((smoke_run / "tokenizer" / "tokenizer_config.json").read_text())
    assert config["format"] == "amharic-tts" and config["language"] == "am"
    assert config["normalizer"] == tokenizer_config["normalizer"]
    assert config["base_text_vocab_size"] == 2454 < config["text_vocab_size"]
    assert Path(config["base_model"]).is_dir() and config["base_files_included"] is False
    assert config["training"]["step"] == 12 and config["training"]["learning_rate"] == 0.002
    state = json.loads((smoke_run / "checkpoint-12" / "trainer_state.json").read_text())
    last_loss = [entry["loss"] for entry in state["log_history"] if "loss" in entry][-1]
    assert config["training"]["train_loss"] == pytest.approx(last_loss, abs=1e-4)  # the last logged, not the mean
    assert config["training"]["tokens_seen"] == state["num_input_tokens_seen"] > 0
    card = (exported_model / "README.md").read_text(encoding="utf-8")
    assert f"| Tokens seen (text + speech, padding not counted) | {state['num_input_tokens_seen']} |" in card
    assert f"| Last logged training loss | {config['training']['train_loss']} |" in card
    assert config["data"]["segments"] > 0 and config["data"]["hours"] > 0
    weights = load_file(str(exported_model / "t3_am.safetensors"))
    trained = load_trained_t3(smoke_run / "checkpoint-12").state_dict()
    assert set(weights) == set(trained) and not any(k.startswith("t3.") for k in weights)
    assert all(torch.equal(weights[k], trained[k]) for k in weights)
    assert weights["text_emb.weight"].shape[0] == config["text_vocab_size"]


def test_exported_t3_loads_in_upstream_t3_strictly(exported_model):
    from chatterbox.models.t3 import T3

    config = json.loads((exported_model / "config.json").read_text())
    hp = t3_config_from_dict(config["t3_config"])
    assert hp.text_tokens_dict_size == config["text_vocab_size"]
    T3(hp).load_state_dict(load_file(str(exported_model / "t3_am.safetensors")), strict=True)


def test_bfloat16_export_rounds_the_same_weights(smoke_run, exported_model, tmp_path):
    result = export.export_model(smoke_run, tmp_path / "bf16", dtype="bfloat16")
    half = load_file(str(result.folder / "t3_am.safetensors"))
    full = load_file(str(exported_model / "t3_am.safetensors"))  # the run's final model is step 12 too
    assert half["speech_head.weight"].dtype == torch.bfloat16
    assert all(torch.equal(half[k], full[k].to(half[k].dtype)) for k in full)
    size = (exported_model / "t3_am.safetensors").stat().st_size
    assert (result.folder / "t3_am.safetensors").stat().st_size < 0.6 * size
    assert json.loads((result.folder / "config.json").read_text())["dtype"] == "bfloat16"


def test_a_base_from_the_hub_cache_is_named_by_repo_and_revision(tmp_path, caplog):
    snapshot = tmp_path / "hub" / "models--ResembleAI--chatterbox" / "snapshots" / ("ab" * 20)
    snapshot.mkdir(parents=True)
    assert export.hub_snapshot_of(str(snapshot)) == ("ResembleAI/chatterbox", "ab" * 20)
    assert export.hub_snapshot_of(str(tmp_path)) is None and export.hub_snapshot_of("ResembleAI/chatterbox") is None


def test_a_local_base_folder_is_warned_about(smoke_run, tmp_path, caplog):
    export.export_model(smoke_run / "checkpoint-6", tmp_path / "local")
    assert "loads only where that folder exists" in caplog.text and "--include-base" in caplog.text


def test_include_base_makes_a_standalone_folder(smoke_run, tiny_base_dir, tmp_path):
    from amharic_tts.inference import AmharicTTS

    folder = export.export_model(smoke_run / "checkpoint-6", tmp_path / "standalone", include_base=True).folder
    for name in ("ve.pt", "s3gen.pt", "conds.pt"):
        assert (folder / name).read_bytes() == (tiny_base_dir / name).read_bytes()
    config = json.loads((folder / "config.json").read_text())
    assert config["base_files_included"] is True and config["training"]["step"] == 6
    config["base_model"] = str(tmp_path / "base-is-gone")  # everything must come from the folder itself
    (folder / "config.json").write_text(json.dumps(config))
    tts = AmharicTTS.from_pretrained(folder, device="cpu")
    assert tts.default_voice is not None


def test_export_refuses_what_is_not_a_run(tmp_path, smoke_run, capsys):
    assert export.main(["--checkpoint", str(tmp_path), "--output", str(tmp_path / "out")]) == 2
    assert "is not a training run or checkpoint" in capsys.readouterr().err
    assert export.main(["--checkpoint", str(smoke_run), "--output", str(smoke_run)]) == 2
    assert "must be a new folder" in capsys.readouterr().err


def test_a_new_export_replaces_an_old_one_only_when_complete(smoke_run, tmp_path, monkeypatch, capsys):
    out = tmp_path / "model"
    export.export_model(smoke_run / "checkpoint-6", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    real = export._write_export

    def full_disk(checkpoint, folder, *args, **kwargs):  # every file written, then the disk fills up
        real(checkpoint, folder, *args, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "_write_export", full_disk)
    with pytest.raises(OSError):
        export.export_model(smoke_run, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.lock", "model"]  # nothing half-written beside it
    monkeypatch.undo()
    export.export_model(smoke_run, out)  # a complete export does replace it (the finished run: its own step)
    assert json.loads((out / "config.json").read_text())["training"] != json.loads(before["config.json"])["training"]
    # a folder of something else is never replaced
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    assert export.main(["--checkpoint", str(smoke_run), "--output", str(tmp_path / "notes")]) == 2
    assert "holds something other than an exported model" in capsys.readouterr().err
    assert (tmp_path / "notes" / "todo.txt").read_text() == "mine"


# --------------------------------------------------------------------------------------------- model card


def test_model_card_metadata_parses_with_the_required_fields(exported_model):
    card = ModelCard.load(exported_model / "README.md")
    data = card.data
    assert data.language == "am" and data.license == "mit" and data.pipeline_tag == "text-to-speech"
    # no library_name: "chatterbox" made the Hub's "Use this model" show upstream's snippet (the English base)
    assert data.base_model == "ResembleAI/chatterbox" and data.library_name is None
    assert "pip install amharic-tts" in card.text
    assert {"text-to-speech", "amharic"} <= set(data.tags)
    assert data.eval_results is None  # not evaluated yet, and the card says how to
    assert "python -m amharic_tts.evaluate" in card.text
    assert "| Steps | 12 |" in card.text and "0.002" in card.text


def test_evaluation_results_go_into_the_model_index(exported_model):
    config = json.loads((exported_model / "config.json").read_text())
    card = ModelCard(str(hub.model_card(config, repo_id="user/chatterbox-amharic", evaluation=EVALUATION)))
    results = {r.metric_type: r for r in card.data.eval_results}
    assert set(results) == {"cer", "wer", "speaker_similarity", "rtf"}
    assert results["cer"].metric_value == 0.0734 and results["cer"].dataset_name == "user/amharic-speech"
    assert results["cer"].dataset_split == "test" and results["cer"].task_type == "text-to-speech"
    assert card.data.datasets is None or "user/amharic-speech" not in card.data.datasets  # training data unknown
    assert card.data.model_name == "chatterbox-amharic"
    assert "| CER | 0.0734 |" in card.text and 'from_pretrained("user/chatterbox-amharic")' in card.text


def test_the_card_never_records_a_local_path(exported_model, tmp_path):
    """A dataset or ASR model that was a local folder is described, not named: neither in model-index nor in the
    text (the exported config.json records the package version instead)."""
    config = json.loads((exported_model / "config.json").read_text())
    assert config["amharic_tts_version"] == __import__("amharic_tts").__version__
    local_data, local_asr = tmp_path / "runs" / "data", tmp_path / "asr"
    local_data.mkdir(parents=True)
    local_asr.mkdir()
    config["data"] = {**config["data"], "dataset": str(local_data)}
    evaluation = {**EVALUATION, "dataset": str(local_data), "asr_model": str(local_asr)}
    text = str(hub.model_card(config, repo_id="user/chatterbox-amharic", evaluation=evaluation))
    assert str(tmp_path) not in text
    card = ModelCard(text)
    result = next(r for r in card.data.eval_results if r.metric_type == "cer")
    assert result.dataset_name == "a local dataset" and result.metric_config == "a local ASR model"
    assert "- Dataset: a local dataset" in card.text


def test_the_cards_usage_snippet_runs_as_written(exported_model, tmp_path):
    text = (exported_model / "README.md").read_text(encoding="utf-8")
    snippet = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert hub.REPO_PLACEHOLDER in snippet
    (tmp_path / "snippet.py").write_text(snippet.replace(hub.REPO_PLACEHOLDER, str(exported_model)), encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "snippet.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    import soundfile as sf

    info = sf.info(tmp_path / "amharic.wav")
    assert info.samplerate == 24000 and info.duration > 0.2


# --------------------------------------------------------------------------------------------- push


def test_push_creates_the_repo_and_uploads_the_folder_without_leaking_the_token(
        recorded_hub, smoke_run, tmp_path, monkeypatch, capsys, caplog):
    secret = "hf_" + "S3cr3tT0k3n" * 3
    monkeypatch.setenv("HF_TOKEN", secret)
    caplog.set_level(logging.DEBUG)
    code = export.main(["--checkpoint", str(smoke_run / "checkpoint-12"), "--output", str(tmp_path / "out"),
                        "--push-to-hub", "user/chatterbox-amharic", "--private"])
    assert code == 0
    (_, _, headers, body), = recorded_hub.find("/api/repos/create")
    assert json.loads(body) == {"name": "chatterbox-amharic", "organization": "user", "visibility": "private",
                                "type": "model"}
    assert headers["authorization"] == f"Bearer {secret}"  # the token was used ...
    commits = recorded_hub.find("/api/models/user/chatterbox-amharic/commit/main")
    assert commits  # (a folder uploaded inline may be split into parts; with LFS it is one commit)
    files, summaries = {}, []
    for _, _, _, payload in commits:
        lines = [json.loads(line) for line in payload.decode().splitlines()]
        summaries += [l["value"]["summary"] for l in lines if l["key"] == "header"]
        files.update({l["value"]["path"]: base64.b64decode(l["value"]["content"]) for l in lines if l["key"] == "file"})
    assert summaries[0] == "Amharic Chatterbox T3, step 12"
    assert all(s.startswith("Amharic Chatterbox T3, step 12") for s in summaries)
    out_dir = tmp_path / "out"  # the card's audio samples too
    assert set(files) == {str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file()}
    assert {"samples/01.wav", "samples/02.wav", "samples/03.wav"} <= set(files)
    assert files["t3_am.safetensors"] == (tmp_path / "out" / "t3_am.safetensors").read_bytes()
    card = files["README.md"].decode()
    assert 'from_pretrained("user/chatterbox-amharic")' in card  # the card names the repo it was pushed to
    out = capsys.readouterr()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "pushed to https://huggingface.co/user/chatterbox-amharic/commit/" in out.out
    assert secret not in out.out + out.err + logged  # ... and never shown


def test_push_without_any_token_fails_clearly(recorded_hub, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "README.md").write_text("---\nlanguage: am\n---\n")
    with pytest.raises(hub.PushError, match="no Hugging Face token: set HF_TOKEN"):
        hub.push_folder(tmp_path / "model", "user/repo")
    assert recorded_hub.requests == []
