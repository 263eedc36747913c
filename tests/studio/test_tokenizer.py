"""Tokenizer tab: built from a prepared dataset and uploaded text with the package's builder; the report as rows;
the preview shows exactly what the tokenizer encodes."""

from pathlib import Path

import pytest

from amharic_tts.studio import tokenizer as studio_tok
from amharic_tts.studio.common import StudioError
from amharic_tts.text.normalize import normalize
from amharic_tts.text.tokenizer import AmharicTokenizer, TokenizerBuildError, read_text_sources

SENTENCES = Path(__file__).resolve().parents[2] / "samples" / "amharic_sentences.txt"


@pytest.fixture
def built(ws, demo_run_inputs, tmp_path):
    text = tmp_path / "upload" / "more.txt"
    text.parent.mkdir()
    text.write_text("\n".join(SENTENCES.read_text(encoding="utf-8").splitlines()[:30]) + "\n", encoding="utf-8")
    folder, report = studio_tok.build(ws, datasets=[str(demo_run_inputs["data"])], text_files=[str(text)],
                                      vocab_size=150, name="my tokenizer")
    return folder, report, text


def test_built_from_a_dataset_and_a_text_file(ws, built, demo_run_inputs):
    folder, report, text = built
    assert folder == ws.dir("tokenizers") / "my-tokenizer" and ws.tokenizers() == [folder]
    tokenizer = AmharicTokenizer.from_dir(folder)
    assert report["vocab_size"] == tokenizer.vocab_size == tokenizer.base_vocab_size + sum(report["added"].values())
    lines = [normalize(line) for line in read_text_sources([demo_run_inputs["data"], text])]
    assert report["train"]["lines"] + report["held_out"]["lines"] == len([line for line in lines if line])
    assert list((ws.dir("uploads")).glob("text-*/more.txt"))  # the uploaded text is kept in the work folder
    rows = dict(studio_tok.report_table(report).values.tolist())
    assert rows["tokens per character (training text)"] == str(report["train"]["tokens_per_char"])
    assert rows["[UNK] rate over Ethiopic characters"] == str(report["ethiopic_unk_rate"]) == "0.0"
    assert rows["longest new tokens"].split() == report["longest_new_tokens"]
    assert studio_tok.load_report(folder) == report


def test_the_preview_shows_what_the_tokenizer_encodes(built):
    folder, _, _ = built
    typed = "በ2015 ዓ.ም ዶ/ር አበበ 3ኛ ወጣ።"
    result = studio_tok.preview(folder, typed)
    tokenizer = AmharicTokenizer.from_dir(folder)
    assert result["normalized"] == normalize(typed) == "በሁለት ሺህ አስራ አምስት አመተ ምህረት ዶክተር አበበ ሶስተኛ ወጣ።"
    assert result["ids"] == tokenizer.encode(typed)
    assert tokenizer.decode(result["ids"]) == result["normalized"]  # nothing lost on the way
    assert result["tokens"][0] == "[am]" and result["tokens"].count("[SPACE]") == result["normalized"].count(" ")
    assert result["tokens_per_char"] == round(len(result["ids"]) / len(result["normalized"]), 3)
    shown = studio_tok.highlighted(result["tokens"])
    assert shown[0] == ("[am]", "special") and ("␣", "space") in shown
    assert "".join(t for t, _ in shown[1:]).replace("␣", " ") == result["normalized"]


def test_without_a_tokenizer_the_preview_still_normalises():
    assert studio_tok.preview(None, "3ኛ") == {"normalized": "ሶስተኛ", "tokens": [], "ids": [], "tokens_per_char": None}


def test_readable_errors(ws, demo_run_inputs, tmp_path):
    with pytest.raises(StudioError, match="Choose a prepared dataset or upload a text file"):
        studio_tok.build(ws)
    with pytest.raises(TokenizerBuildError, match="between 100 and 10000, got 50"):
        studio_tok.build(ws, datasets=[str(demo_run_inputs["data"])], vocab_size=50)
    (tmp_path / "english.txt").write_text("hello world\n")
    with pytest.raises(TokenizerBuildError, match="no Amharic"):
        studio_tok.build(ws, text_files=[str(tmp_path / "english.txt")], vocab_size=100)
    assert ws.tokenizers() == []  # nothing half-written
    with pytest.raises(StudioError, match="does not exist"):
        studio_tok.preview(str(tmp_path / "nope"), "ሰላም")
