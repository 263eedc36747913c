import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from amharic_tts.model import base
from amharic_tts.model.base import (
    BaseModelError,
    load_t3,
    load_text_tokenizer,
    load_voice_encoder,
    resolve_base_dir,
    t3_config_from_dict,
    t3_config_to_dict,
)


def _assert_weights_equal(t3, path):
    state = load_file(str(path))
    own = t3.state_dict()
    assert set(own) == set(state)
    for key, value in state.items():
        assert torch.equal(own[key], value), key


def test_default_checkpoint_is_v3_and_v2_is_selectable(tiny_base_dir):
    v3 = load_t3(tiny_base_dir)
    v2 = load_t3(tiny_base_dir, checkpoint="v2")
    _assert_weights_equal(v3, tiny_base_dir / "t3_mtl23ls_v3.safetensors")
    _assert_weights_equal(v2, tiny_base_dir / "t3_mtl23ls_v2.safetensors")
    assert not torch.equal(v3.text_emb.weight, v2.text_emb.weight)
    assert v3.hp.text_tokens_dict_size == 2454 and v3.hp.is_multilingual
    assert not v3.training


def test_checkpoint_given_as_a_file_path(tiny_base_dir, tmp_path):
    copy = tmp_path / "my_t3.safetensors"
    shutil.copy(tiny_base_dir / "t3_mtl23ls_v2.safetensors", copy)
    t3 = load_t3(tiny_base_dir, checkpoint=str(copy))
    _assert_weights_equal(t3, copy)


def test_tiny_config_travels_with_the_weights(tiny_base_dir):
    t3 = load_t3(tiny_base_dir)
    saved = json.loads((tiny_base_dir / "t3_config.json").read_text())
    assert t3.cfg.num_hidden_layers == saved["llama_config"]["num_hidden_layers"] == 2
    assert t3.cfg.hidden_size == 1024
    assert t3.hp.max_speech_tokens == saved["max_speech_tokens"]
    # without t3_config.json a directory means the published multilingual config
    from chatterbox.models.t3.modules.t3_config import T3Config

    assert vars(base.load_t3_config(tiny_base_dir.parent)) == vars(T3Config.multilingual())


def test_t3_config_round_trip():
    config = t3_config_from_dict({"max_text_tokens": 300})
    again = t3_config_from_dict(t3_config_to_dict(config, with_llama_config=True))
    assert vars(again) == vars(config)
    assert config.max_text_tokens == 300 and config.text_tokens_dict_size == 2454
    with pytest.raises(BaseModelError, match="Unknown T3Config fields.*bogus"):
        t3_config_from_dict({"bogus": 1})


def test_upstream_llama_config_is_never_replaced():
    from chatterbox.models.t3.llama_configs import LLAMA_CONFIGS

    before = json.dumps(LLAMA_CONFIGS["Llama_520M"], sort_keys=True, default=str)
    with pytest.raises(BaseModelError, match="already registered"):
        base.register_llama_config("Llama_520M", {**LLAMA_CONFIGS["Llama_520M"], "num_hidden_layers": 2})
    assert json.dumps(LLAMA_CONFIGS["Llama_520M"], sort_keys=True, default=str) == before


def test_missing_directory_and_missing_files_give_clear_errors(tiny_base_dir, tmp_path):
    with pytest.raises(BaseModelError, match="does not exist"):
        load_t3(tmp_path / "nowhere")
    with pytest.raises(BaseModelError, match=r"has no t3_mtl23ls_v3\.safetensors"):
        load_t3(tmp_path)
    with pytest.raises(BaseModelError, match=r"has no grapheme_mtl_merged_expanded_v1\.json"):
        load_text_tokenizer(tmp_path)


def test_wrong_shapes_are_reported_by_name(tiny_base_dir, tmp_path):
    from safetensors.torch import save_file

    state = load_file(str(tiny_base_dir / "t3_mtl23ls_v3.safetensors"))
    state["text_emb.weight"] = state["text_emb.weight"][:100]
    del state["speech_head.weight"]
    bad = tmp_path / "bad.safetensors"
    save_file(state, str(bad))
    with pytest.raises(BaseModelError, match=r"missing 1 tensors \(e\.g\. speech_head\.weight\).*text_emb\.weight"):
        load_t3(tiny_base_dir, checkpoint=str(bad))


def test_pickles_are_never_executed(tiny_base_dir, tmp_path):
    shutil.copytree(tiny_base_dir, tmp_path / "base")
    torch.save({"weights": _Payload()}, tmp_path / "base" / "ve.pt")
    with pytest.raises(BaseModelError, match="weights_only=True"):
        load_voice_encoder(tmp_path / "base")
    assert not _Payload.unpickled


class _Payload:
    unpickled = False

    def __init__(self):
        self.state = "anything"

    def __setstate__(self, state):
        _Payload.unpickled = True


def test_voice_encoder_loads_and_embeds(tiny_base_dir):
    ve = load_voice_encoder(tiny_base_dir)
    saved = torch.load(tiny_base_dir / "ve.pt", weights_only=True)
    assert torch.equal(ve.proj.weight, saved["proj.weight"])
    wav = torch.randn(16000 * 2).numpy() * 0.1
    emb = ve.embeds_from_wavs([wav], sample_rate=16000)
    assert emb.shape == (1, 256)


def _fake_hub_cache(cache, tiny_base_dir, repo="ResembleAI/chatterbox", commit="0" * 40):
    repo_dir = cache / f"models--{repo.replace('/', '--')}"
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(commit)
    shutil.copytree(tiny_base_dir, repo_dir / "snapshots" / commit)


def test_hub_repo_id_resolves_through_the_cache_offline(tiny_base_dir, tmp_path, monkeypatch):
    """The default base is a Hub repo id: with HF_HUB_OFFLINE=1 it is served from the HF cache."""
    from huggingface_hub import constants

    _fake_hub_cache(tmp_path / "hub", tiny_base_dir)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    t3 = load_t3()  # ResembleAI/chatterbox, v3
    _assert_weights_equal(t3, tiny_base_dir / "t3_mtl23ls_v3.safetensors")
    assert load_text_tokenizer().get_vocab_size() == 2454


def test_uncached_hub_repo_offline_says_what_to_do(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(BaseModelError, match="HF_HUB_OFFLINE is set.*tiny_base"):
        resolve_base_dir("someone/not-cached", ["t3_mtl23ls_v3.safetensors"])


def test_tiny_tokenizer_mirrors_the_real_conventions(tiny_base_dir):
    tok = load_text_tokenizer(tiny_base_dir)
    vocab = tok.get_vocab()
    assert tok.get_vocab_size() == 2454 and sorted(vocab.values()) == list(range(2454))
    assert (vocab["[STOP]"], vocab["[UNK]"], vocab["[SPACE]"], vocab["[START]"]) == (0, 1, 2, 255)
    ids = tok.encode("[en]hello[SPACE]world").ids
    assert ids[0] == vocab["[en]"] and vocab["[UNK]"] not in ids
    assert tok.decode(ids, skip_special_tokens=False).replace(" ", "") == "[en]hello[SPACE]world"
    assert set(tok.encode("ሰላም").ids) == {vocab["[UNK]"]}  # no Ethiopic, as in the real tokenizer
    assert "[am]" not in vocab
