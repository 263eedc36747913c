"""Shared, expensive set-up: built once per test session. Nothing here touches the network."""

import copy
import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported anywhere
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# datasets' cache (prepared-data tests) in a fresh folder per session, never the user's
os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="amharic-tts-datasets-cache-")

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
