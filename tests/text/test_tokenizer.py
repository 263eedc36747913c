import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from amharic_tts.text import normalize
from amharic_tts.text.tokenizer import (
    AmharicTokenizer,
    TokenizerBuildConfig,
    TokenizerBuildError,
    build_tokenizer,
    ethiopic_characters,
    preprocess,
    read_text_sources,
)

ROOT = Path(__file__).resolve().parent.parent.parent
CORPUS = ROOT / "samples" / "amharic_sentences.txt"
BASE_FILE = "grapheme_mtl_merged_expanded_v1.json"


@pytest.fixture(scope="module")
def base_json(tiny_base_dir):
    return (tiny_base_dir / BASE_FILE).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def lines(amharic_lines):
    return amharic_lines


@pytest.fixture(scope="module")
def built(built_tokenizer):
    return built_tokenizer


def test_base_ids_never_move_and_new_ids_are_appended(built, base_json):
    out, report = built
    base = Tokenizer.from_str(base_json).get_vocab(with_added_tokens=True)
    merged = AmharicTokenizer.from_dir(out)
    vocab = merged.tokenizer.get_vocab(with_added_tokens=True)
    assert all(vocab[token] == i for token, i in base.items())
    assert sorted(vocab.values()) == list(range(merged.vocab_size))
    assert merged.language_token_id == vocab["[am]"] == 2454
    assert (vocab["[START]"], vocab["[STOP]"]) == (255, 0)
    assert merged.vocab_size == report.vocab_size == 2454 + sum(report.added.values())
    config = json.loads((out / "tokenizer_config.json").read_text())
    assert (config["base_vocab_size"], config["vocab_size"]) == (2454, merged.vocab_size)
    assert config["normalizer"]["fold_homophones"] is True


def test_every_ethiopic_character_has_an_id(built):
    merged = AmharicTokenizer.from_dir(built[0])
    chars = ethiopic_characters()
    assert len(chars) == 358 and chars[0] == "ሀ" and "፼" in chars and "።" in chars
    for ch in chars:
        ids = merged.tokenizer.encode(ch).ids
        assert merged.unk_id not in ids, ch
    rare = "ፚ ቐ ሇ"  # letters absent from the corpus
    assert merged.unk_id not in merged.encode(rare, normalized=True)
    assert built[1].ethiopic_unk_rate == 0.0


@pytest.mark.parametrize("language, text", [
    ("en", "Hello world, this is a test."),
    ("fr", "Bonjour à tous, ça va?"),
    ("ar", "مرحبا بالعالم"),
    ("zh", "你好世界"),
    ("ru", "Привет, мир!"),
    ("el", "Γειά σου κόσμε"),
    ("he", "שלום עולם"),
    ("hi", "नमस्ते दुनिया"),
    ("ja", "こんにちは"),
])
def test_other_languages_encode_exactly_as_the_base_tokenizer(built, base_json, language, text):
    base = Tokenizer.from_str(base_json)
    merged = AmharicTokenizer.from_dir(built[0])
    ids = merged.encode(text, normalized=True, language=language)
    assert ids == base.encode(f"[{language}]{preprocess(text)}".replace(" ", "[SPACE]")).ids
    assert ids[0] == base.token_to_id(f"[{language}]")


def test_amharic_round_trips_through_encode_and_decode(built, lines):
    merged = AmharicTokenizer.from_dir(built[0])
    unseen = ["ሙሉ ለሙሉ አዲስ ዓረፍተ ነገር ነው።", "ፀሐይ ሐምሌ ኅዳር ፩፻ ሠላሳ", "ቍጥር ኵላሊት ጕልበት"]
    for line in lines + unseen:
        ids = merged.encode(line)
        assert ids[0] == merged.language_token_id
        assert merged.unk_id not in ids
        assert merged.decode(ids) == normalize(line).lower(), line
    assert merged.text_ids("ሰላም")[0] == 255 and merged.text_ids("ሰላም")[-1] == 0


def test_amharic_is_compressed_and_reported(built):
    out, report = built
    saved = json.loads((out / "tokenizer_report.json").read_text())
    assert saved == json.loads(json.dumps(report.to_dict()))
    assert report.train["tokens_per_char"] < 0.75 * report.train["base_tokens_per_char"]
    assert report.held_out["lines"] == 7 and report.train["lines"] == 63
    assert report.held_out["tokens_per_char"] < report.held_out["base_tokens_per_char"]
    lengths = [len(t) for t in report.longest_new_tokens]
    assert len(lengths) == 20 and lengths == sorted(lengths, reverse=True) and lengths[0] >= 3
    assert report.added["language"] == 1 and report.added["character"] == 358
    assert report.added["piece"] > 100 and report.added["intermediate"] == 0  # BPE pieces are merge-closed
    assert "note:" not in report.summary()
    # asking for far more pieces than the text holds is said, not silent
    short = replace(report, sentencepiece={**report.sentencepiece, "requested_vocab_size": 10_000})
    assert (f"found {report.sentencepiece['pieces_kept']} pieces, fewer than the 10000 asked for"
            in short.summary())


def test_upstream_mtl_tokenizer_reads_the_merged_file(built, monkeypatch):
    """Upstream's MTLTokenizer fetches a Chinese segmenter from the network when built: stub only that."""
    from chatterbox.models.tokenizers import tokenizer as upstream

    monkeypatch.setattr(upstream.ChineseCangjieConverter, "_init_segmenter", lambda self: None)
    mtl = upstream.MTLTokenizer(str(built[0] / "tokenizer.json"))
    ours = AmharicTokenizer.from_dir(built[0])
    for text in ["ሰላም ነው? እንዴት አደርክ?", "ልጁ Python መማር ጀመረ።"]:
        normalized = normalize(text)
        assert mtl.encode(normalized, language_id="am") == ours.encode(text)


def test_the_build_is_deterministic(tmp_path, lines, base_json, built):
    again = tmp_path / "again"
    build_tokenizer(lines, base_json, again, TokenizerBuildConfig(vocab_size=300, held_out_every=10))
    for path in sorted(built[0].iterdir()):
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name


def test_unigram_pieces_work_too(tmp_path, lines, base_json):
    report = build_tokenizer(lines, base_json, tmp_path / "uni", TokenizerBuildConfig(vocab_size=300,
                                                                                      model_type="unigram"))
    merged = AmharicTokenizer.from_dir(tmp_path / "uni")
    for line in lines:
        assert merged.decode(merged.encode(line)) == normalize(line).lower()
    assert report.added["piece"] > 10
    assert report.train["tokens_per_char"] < report.train["base_tokens_per_char"]


@pytest.mark.parametrize("config, corpus, message", [
    (TokenizerBuildConfig(vocab_size=99), None, "between 100 and 10000"),
    (TokenizerBuildConfig(vocab_size=10001), None, "between 100 and 10000"),
    (TokenizerBuildConfig(), [], "no Amharic"),
    (TokenizerBuildConfig(), ["only English text here", "Bonjour, ça va?"], "no Amharic"),
])
def test_bad_requests_fail_clearly_and_write_nothing(tmp_path, lines, base_json, config, corpus, message):
    out = tmp_path / "out"
    with pytest.raises(TokenizerBuildError, match=message):
        build_tokenizer(lines if corpus is None else corpus, base_json, out, config)
    assert not out.exists()


def test_text_from_a_prepared_dataset(tmp_path, lines):
    from datasets import Dataset, DatasetDict

    DatasetDict({"train": Dataset.from_dict({"text": lines[:5]}),
                 "test": Dataset.from_dict({"text": lines[5:7]})}).save_to_disk(str(tmp_path / "ds"))
    (tmp_path / "extra.txt").write_text("\ufeff" + lines[9] + "\n", encoding="utf-8")
    assert read_text_sources([tmp_path / "ds", tmp_path / "extra.txt"]) == lines[:7] + [lines[9]]
    with pytest.raises(TokenizerBuildError, match="no 'transcript' column"):
        read_text_sources([tmp_path / "ds"], text_column="transcript")
    with pytest.raises(TokenizerBuildError, match="does not exist"):
        read_text_sources([tmp_path / "missing.txt"])


def test_command_line(tmp_path, tiny_base_dir):
    cmd = [sys.executable, str(ROOT / "build_tokenizer.py"), "--text", str(CORPUS), "--base-model",
           str(tiny_base_dir), "--output", str(tmp_path / "tok"), "--config",
           str(ROOT / "configs" / "tokenizer" / "amharic.yaml"), "--vocab-size", "150"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "[UNK] rate over Ethiopic characters: 0.0" in done.stdout
    config = json.loads((tmp_path / "tok" / "tokenizer_config.json").read_text())
    assert config["sentencepiece"] == {"model_type": "bpe", "vocab_size": 150}
    assert config["base_model"] == str(tiny_base_dir)

    bad = subprocess.run(cmd[:-1] + ["50"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "error: --vocab-size must be between 100 and 10000" in bad.stderr
    assert "Traceback" not in bad.stderr
