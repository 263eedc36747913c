"""Shared, expensive set-up: built once per test session. Nothing here touches the network."""

import copy
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported anywhere
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

from amharic_tts.model.base import load_t3  # noqa: E402
from amharic_tts.testing.tiny_base import build_tiny_base  # noqa: E402


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory):
    """The random-weight stand-in for ResembleAI/chatterbox (T3, tokenizer, voice encoder; no S3Gen)."""
    return build_tiny_base(tmp_path_factory.mktemp("tiny_base"), components=("t3", "tokenizer", "ve"))


@pytest.fixture(scope="session")
def _loaded_t3(tiny_base_dir):
    return load_t3(tiny_base_dir)


@pytest.fixture
def t3(_loaded_t3):
    """A fresh copy of the tiny base T3 (v3 weights) that a test may change."""
    torch.manual_seed(0)
    return copy.deepcopy(_loaded_t3)
