"""Shared, expensive set-up: built once per test session. Nothing here touches the network."""

import copy
import os
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported anywhere
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# datasets' cache (prepared-data tests) in a fresh folder per session, never the user's
os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="amharic-tts-datasets-cache-")
# `evaluate` copies local metric scripts (amharic_cer) into its modules cache: keep that out of the user's too
os.environ["HF_MODULES_CACHE"] = tempfile.mkdtemp(prefix="amharic-tts-modules-cache-")

import pytest  # noqa: E402
import torch  # noqa: E402

from amharic_tts.model.base import load_t3  # noqa: E402
from amharic_tts.testing.tiny_base import build_tiny_base  # noqa: E402


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory):
    """The random-weight stand-in for ResembleAI/chatterbox: T3, tokenizer, voice encoder and the real-size
    S3Gen (its S3 tokenizer makes the speech tokens of prepared data). Built once per session (~10 s)."""
    return build_tiny_base(tmp_path_factory.mktemp("tiny_base"))


@pytest.fixture(scope="session")
def _loaded_t3(tiny_base_dir):
    return load_t3(tiny_base_dir)


@pytest.fixture
def t3(_loaded_t3):
    """A fresh copy of the tiny base T3 (v3 weights) that a test may change."""
    torch.manual_seed(0)
    return copy.deepcopy(_loaded_t3)


@pytest.fixture(scope="session")
def amharic_lines():
    from pathlib import Path

    return (Path(__file__).parent.parent / "samples" / "amharic_sentences.txt").read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="session")
def built_tokenizer(tmp_path_factory, tiny_base_dir, amharic_lines):
    """(directory, report) of the merged tokenizer built from the fixture corpus on the tiny base."""
    from amharic_tts.text.tokenizer import TokenizerBuildConfig, build_tokenizer

    out = tmp_path_factory.mktemp("tokenizer") / "tokenizer"
    base_json = (tiny_base_dir / "grapheme_mtl_merged_expanded_v1.json").read_text(encoding="utf-8")
    report = build_tokenizer(amharic_lines, base_json, out, TokenizerBuildConfig(vocab_size=300, held_out_every=10))
    return out, report


@pytest.fixture(scope="session")
def demo_run_inputs(tmp_path_factory, tiny_base_dir):
    """The demo sample prepared (lecture + LJSpeech folder) and a tokenizer built from it, on the tiny base."""
    from pathlib import Path

    from amharic_tts.data.prepare import PrepareConfig, prepare_dataset
    from amharic_tts.data.sources import collect_sources
    from amharic_tts.text.tokenizer import TokenizerBuildConfig, build_tokenizer, read_text_sources

    demo = Path(__file__).parent.parent / "samples" / "demo"
    out = tmp_path_factory.mktemp("demo_run")
    specs = collect_sources(srt_pairs=[(str(demo / "lecture.webm"), str(demo / "lecture.srt"))],
                            ljspeech=[str(demo / "ljspeech")])
    prepare_dataset(specs, out / "data", PrepareConfig(validation_size=1, test_size=1),
                    base_model=str(tiny_base_dir))
    base_json = (tiny_base_dir / "grapheme_mtl_merged_expanded_v1.json").read_text(encoding="utf-8")
    build_tokenizer(read_text_sources([out / "data"]), base_json, out / "tokenizer",
                    TokenizerBuildConfig(vocab_size=150))
    return {"base": tiny_base_dir, "data": out / "data", "tokenizer": out / "tokenizer"}


@pytest.fixture(scope="session")
def smoke_run(demo_run_inputs, tmp_path_factory):
    """A finished 12-step smoke training run (checkpoints at 6 and 12) on the demo sample. Read it, never change it."""
    from amharic_tts.training import run

    root = Path(__file__).parent.parent
    out = tmp_path_factory.mktemp("smoke") / "run"
    code = run.main([str(root / "configs" / "train" / "smoke.yaml"), "--base_model", str(demo_run_inputs["base"]),
                     "--tokenizer", str(demo_run_inputs["tokenizer"]), "--dataset", str(demo_run_inputs["data"]),
                     "--output_dir", str(out), "--max_steps", "12", "--eval_steps", "6", "--save_steps", "6",
                     "--logging_steps", "3", "--learning_rate", "0.002"])
    assert code == 0
    return out


@pytest.fixture(scope="session")
def exported_model(smoke_run, tmp_path_factory):
    """``python -m amharic_tts.export`` of the smoke run's last checkpoint (float32, base parts not included)."""
    from amharic_tts.export import export_model

    return export_model(smoke_run / "checkpoint-12", tmp_path_factory.mktemp("exported") / "model").folder


@pytest.fixture(scope="session")
def tts(exported_model):
    """``AmharicTTS`` of the exported smoke model, loaded once (S3Gen is real-size). Tests must not change it."""
    from amharic_tts.inference import AmharicTTS

    return AmharicTTS.from_pretrained(exported_model, device="cpu")
