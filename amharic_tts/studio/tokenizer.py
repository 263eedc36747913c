"""Tokenizer tab: build the merged Amharic tokenizer from prepared datasets and/or text files, read its report,
and see how typed Amharic is normalised and split into tokens.

The work is :func:`amharic_tts.text.tokenizer.build_tokenizer` on :func:`read_text_sources` lines with the base
model's tokenizer file, as ``build_tokenizer.py`` does; the preview uses :class:`AmharicTokenizer`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

from amharic_tts.studio.common import StudioError, Workspace, read_json, timestamp

REPORT_COLUMNS = ["", "value"]


def build(ws: Workspace, *, datasets: Sequence[str] = (), text_files: Sequence[str] = (), vocab_size: int = 2000,
          model_type: str = "bpe", name: str | None = None) -> tuple[Path, dict]:
    """Build ``tokenizers/NAME`` from the chosen datasets and text files; returns the folder and the report."""
    from amharic_tts.model.base import TOKENIZER_FILE, resolve_base_dir
    from amharic_tts.text.tokenizer import TokenizerBuildConfig, build_tokenizer, read_text_sources

    sources = [str(p) for p in [*(datasets or []), *(text_files or [])] if p]
    if not sources:
        raise StudioError("Choose a prepared dataset or upload a text file (one Amharic sentence per line).")
    staged = []
    if text_files:  # keep the uploaded text beside the tokenizer's inputs
        folder = ws.dir("uploads") / f"text-{timestamp()}"
        folder.mkdir(parents=True, exist_ok=True)
        for f in text_files:
            staged.append(shutil.copy2(f, folder / Path(f).name))
    config = TokenizerBuildConfig(vocab_size=int(vocab_size), model_type=model_type)
    config.validate()
    base_dir = resolve_base_dir(ws.base_model, [TOKENIZER_FILE])
    lines = read_text_sources([*(str(p) for p in datasets or [] if p), *(str(p) for p in staged)])
    output = ws.new_dir("tokenizers", name, "tokenizer")
    report = build_tokenizer(lines, (base_dir / TOKENIZER_FILE).read_text(encoding="utf-8"), output, config,
                             base_model=ws.base_model)
    return output, report.to_dict()


def load_report(tokenizer_dir: str | Path) -> dict:
    from amharic_tts.text.tokenizer import REPORT_FILE

    return read_json(Path(tokenizer_dir) / REPORT_FILE, f"{tokenizer_dir} has no {REPORT_FILE}")


def report_table(report: dict):
    """The report as rows a person reads: sizes, tokens per character, UNK rate, longest tokens."""
    import pandas as pd

    added = report["added"]
    train, held = report["train"], report["held_out"]
    rows = [
        ["vocabulary", f"{report['base_vocab_size']} base + {sum(added.values())} new = {report['vocab_size']} ids"],
        ["new tokens", ", ".join(f"{v} {k}" for k, v in added.items())],
        ["tokens per character (training text)", train["tokens_per_char"]],
        ["tokens per character (held-out text)", held["tokens_per_char"] if held["lines"] else "no held-out lines"],
        ["tokens per character, base tokenizer", train["base_tokens_per_char"]],
        ["[UNK] rate over Ethiopic characters", report["ethiopic_unk_rate"]],
        ["sentences used (training / held out)", f"{train['lines']} / {held['lines']}"],
        ["distinct Amharic words", report["sentencepiece"]["distinct_words"]],
        ["longest new tokens", " ".join(report["longest_new_tokens"])],
    ]
    return pd.DataFrame([[k, str(v)] for k, v in rows], columns=REPORT_COLUMNS)


_TOKENIZERS: dict[tuple, object] = {}


def _tokenizer(tokenizer_dir: str | Path):
    from amharic_tts.text.tokenizer import AmharicTokenizer

    path = Path(tokenizer_dir)
    key = (str(path.resolve()), (path / "tokenizer.json").stat().st_mtime_ns)
    if key not in _TOKENIZERS:
        _TOKENIZERS[key] = AmharicTokenizer.from_dir(path)
    return _TOKENIZERS[key]


def preview(tokenizer_dir: str | Path | None, text: str) -> dict:
    """How ``text`` is read: normalised text, its tokens (as strings) and ids, and tokens per character.

    Without a tokenizer only the normalised text is given (the one normaliser of training and inference)."""
    from amharic_tts.text.normalize import normalize

    text = text or ""
    if not tokenizer_dir:
        return {"normalized": normalize(text), "tokens": [], "ids": [], "tokens_per_char": None}
    path = Path(tokenizer_dir)
    if not path.is_dir():
        raise StudioError(f"tokenizer {tokenizer_dir} does not exist")
    tokenizer = _tokenizer(path)
    normalized = tokenizer.normalize(text)
    ids = tokenizer.encode(normalized, normalized=True)
    tokens = [tokenizer.tokenizer.id_to_token(i) for i in ids]
    return {"normalized": normalized, "tokens": tokens, "ids": ids,
            "tokens_per_char": round(len(ids) / len(normalized), 3) if normalized else None}


def highlighted(tokens: Sequence[str]) -> list[tuple[str, str]]:
    """Tokens for ``gr.HighlightedText``: alternating colours so neighbours are told apart; the word separator
    ``[SPACE]`` shown as ``␣``, the language token and ``[UNK]`` in colours of their own."""
    from amharic_tts.text.tokenizer import SPACE, UNK

    out = []
    for i, token in enumerate(tokens):
        if token == SPACE:
            out.append(("␣", "space"))
        elif token == UNK:
            out.append((token, "unknown"))
        elif token.startswith("[") and token.endswith("]"):
            out.append((token, "special"))
        else:
            out.append((token, ("a", "b")[i % 2]))
    return out


# ----------------------------------------------------------------------------------------------- the tab


def build_tab(ws: Workspace, tab) -> dict:
    import gradio as gr

    from amharic_tts.studio.common import refreshed, ui
    from amharic_tts.text.tokenizer import MAX_VOCAB_SIZE, MIN_VOCAB_SIZE

    gr.Markdown("Chatterbox's tokenizer has no Amharic letters. This step learns Amharic pieces from your text and "
                "adds them (and every Ethiopic letter) to the base tokenizer, whose ids never move. A few thousand "
                "pieces suit hours of speech; a few hundred suit a small sample.")
    with gr.Row():
        datasets = gr.Dropdown(label="prepared datasets", multiselect=True, choices=ws.choices(ws.datasets()),
                               elem_id="tok_datasets")
        texts = gr.File(label="text files (one sentence per line)", file_count="multiple", file_types=[".txt"],
                        type="filepath")
    with gr.Row():
        vocab = gr.Slider(MIN_VOCAB_SIZE, MAX_VOCAB_SIZE, value=2000, step=50, label="Amharic vocabulary size",
                          elem_id="tok_vocab")
        kind = gr.Radio(["bpe", "unigram"], value="bpe", label="model")
        name = gr.Textbox(label="tokenizer name", value="tokenizer", elem_id="tok_name")
        run = gr.Button("Build tokenizer", variant="primary", elem_id="tok_build")
    summary = gr.Markdown(elem_id="tok_summary")
    table = gr.Dataframe(headers=REPORT_COLUMNS, label="report", interactive=False, wrap=True, elem_id="tok_report")
    gr.Markdown("### Try it")
    with gr.Row():
        chosen = gr.Dropdown(label="tokenizer", choices=ws.choices(ws.tokenizers()), elem_id="tok_chosen")
        typed = gr.Textbox(label="Amharic text", value="በ2015 ዓ.ም ዶ/ር አበበ 3ኛ ወጣ።", elem_id="tok_typed")
    normalized = gr.Textbox(label="normalised", interactive=False, elem_id="tok_normalized")
    tokens = gr.HighlightedText(label="tokens", combine_adjacent=False, show_legend=False, elem_id="tok_tokens",
                                show_inline_category=False,
                                color_map={"a": "#bfdbfe", "b": "#bbf7d0", "special": "#e5e7eb", "space": "#f5f5f4",
                                           "unknown": "#fecaca"})
    counts = gr.Markdown()

    def show_preview(tokenizer_dir, text):
        result = preview(tokenizer_dir, text)
        note = (f"{len(result['ids'])} tokens for {len(result['normalized'])} characters "
                f"({result['tokens_per_char']} per character); ids: {result['ids']}") if tokenizer_dir else \
            "Build or choose a tokenizer to see the tokens."
        return result["normalized"], highlighted(result["tokens"]), note

    @ui
    def on_build(chosen_datasets, files, size, model_type, tokenizer_name, text, progress=gr.Progress()):
        progress(0.1, desc="learning Amharic pieces")
        output, report = build(ws, datasets=chosen_datasets or [], text_files=files or [], vocab_size=size,
                               model_type=model_type, name=tokenizer_name)
        text_summary = (f"Built `{ws.label(output)}`: {report['vocab_size']} ids "
                        f"({report['vocab_size'] - report['base_vocab_size']} new).")
        return (text_summary, report_table(report), gr.update(choices=ws.choices(ws.tokenizers()), value=str(output)),
                *show_preview(str(output), text))

    @ui
    def on_choose(tokenizer_dir, text):
        if not tokenizer_dir:
            return (gr.skip(),) * 5
        report = load_report(tokenizer_dir)
        return (f"`{ws.label(tokenizer_dir)}`: {report['vocab_size']} ids.", report_table(report),
                *show_preview(tokenizer_dir, text))

    run.click(on_build, [datasets, texts, vocab, kind, name, typed],
              [summary, table, chosen, normalized, tokens, counts], show_progress_on=[table])
    chosen.input(on_choose, [chosen, typed], [summary, table, normalized, tokens, counts])
    typed.change(ui(show_preview), [chosen, typed], [normalized, tokens, counts], show_progress="hidden")

    def refresh(current_datasets, current_tokenizer):
        return (refreshed(ws.choices(ws.datasets()), current_datasets, multiselect=True),
                refreshed(ws.choices(ws.tokenizers()), current_tokenizer))

    tab.select(refresh, [datasets, chosen], [datasets, chosen])
    return {"datasets": datasets, "tokenizer": chosen}
