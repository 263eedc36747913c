"""Shared, expensive set-up: built once per test session. Nothing here touches the network."""

import atexit
import copy
import json
import os
import shutil
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported anywhere
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# datasets' cache (prepared-data tests) in a fresh folder per session, never the user's
# `evaluate` copies local metric scripts (amharic_cer) into its modules cache: keep that out of the user's too.
# Both go when the session ends (they are not pytest tmp_paths, which pytest rotates itself).
for _variable, _prefix in (("HF_DATASETS_CACHE", "amharic-tts-datasets-cache-"),
                           ("HF_MODULES_CACHE", "amharic-tts-modules-cache-")):
    os.environ[_variable] = tempfile.mkdtemp(prefix=_prefix)
    atexit.register(shutil.rmtree, os.environ[_variable], ignore_errors=True)

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
    from amharic_tts import train as train_cli

    root = Path(__file__).parent.parent
    out = tmp_path_factory.mktemp("smoke") / "run"
    code = train_cli.main([str(root / "configs" / "train" / "smoke.yaml"), "--base_model", str(demo_run_inputs["base"]),
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


class RecordedHub:
    """The Hub's HTTP API as recorded for create-repo + upload-folder: answers the calls, keeps the requests."""

    def __init__(self):
        self.requests = []

    def __call__(self, request):
        import httpx

        url = str(request.url)
        self.requests.append((request.method, url, dict(request.headers), request.content))
        if url.endswith("/api/repos/create"):
            return httpx.Response(200, json={"url": "https://huggingface.co/user/chatterbox-amharic"})
        if url.endswith("/api/validate-yaml"):
            return httpx.Response(200, json={"errors": [], "warnings": []})
        if "/preupload/" in url:
            files = json.loads(request.content)["files"]
            return httpx.Response(200, json={"files": [{"path": f["path"], "uploadMode": "regular",
                                                        "shouldIgnore": False} for f in files]})
        if "/commit/" in url:
            return httpx.Response(200, json={"commitUrl": "https://huggingface.co/user/chatterbox-amharic/commit/"
                                                          + "a" * 40, "commitOid": "a" * 40})
        return httpx.Response(404, json={"error": f"not recorded: {request.method} {url}"})

    def find(self, part):
        return [r for r in self.requests if part in r[1]]


@pytest.fixture
def recorded_hub():
    """huggingface_hub talks to :class:`RecordedHub` instead of the network for the test."""
    import httpx
    import huggingface_hub
    from huggingface_hub.utils import _http

    recorder = RecordedHub()
    huggingface_hub.set_client_factory(lambda: httpx.Client(transport=httpx.MockTransport(recorder)))
    yield recorder
    huggingface_hub.set_client_factory(_http.default_client_factory)
