"""The dataset card pushed with a prepared dataset (``huggingface_hub.DatasetCard``)."""

from __future__ import annotations


def size_category(rows: int) -> str:
    """The Hub's ``size_categories`` value for ``rows`` examples (n<1K, 1K<n<10K, ... n>1T)."""
    bounds = [(10**3, "n<1K"), (10**4, "1K<n<10K"), (10**5, "10K<n<100K"), (10**6, "100K<n<1M"),
              (10**7, "1M<n<10M"), (10**8, "10M<n<100M"), (10**9, "100M<n<1B"), (10**12, "1B<n<1T")]
    return next((label for bound, label in bounds if rows < bound), "n>1T")


def dataset_card(report: dict, *, license: str = "other", pretty_name: str = "Amharic speech",
                 base_model: str = "ResembleAI/chatterbox"):
    from huggingface_hub import DatasetCard, DatasetCardData

    from amharic_tts.hub import is_repo_id

    # a local copy of the base is described, never named by its path (as model cards do)
    local = not is_repo_id(base_model)
    weights = "a local copy of `ResembleAI/chatterbox`" if local else f"`{base_model}`"
    base_model = "ResembleAI/chatterbox" if local else base_model
    totals = report["totals"]
    hours = totals["hours_kept"]
    size = size_category(totals["segments"])
    data = DatasetCardData(language=["am"], license=license, pretty_name=pretty_name,
                           task_categories=["text-to-speech"], size_categories=[size],
                           tags=["amharic", "tts", "chatterbox", "speech-tokens"])
    rows = "\n".join(
        f"| {s['name']} | {s['kind']} | {s['status']} | {s['kept']}/{s['inputs']} | {s['segments']} | "
        f"{s['hours_kept']:.3f} |" for s in report["sources"])
    reasons = ", ".join(f"{k}: {v}" for k, v in totals["dropped_by_reason"].items()) or "none"
    content = f"""---
{data.to_yaml()}
---

# {pretty_name}

Amharic speech segments with normalised transcripts, prepared for fine-tuning
[Chatterbox](https://huggingface.co/{base_model}) with amharic-tts (`amharic-tts-prepare`).

- {totals['segments']} segments, {hours:.3f} hours; splits: {report['splits']}
- columns: `id`, `source`, `recording`, `speaker`, `text` (normalised), `raw_text`, `duration`, `audio` (16 kHz),
  `speech_tokens` (S3 tokenizer, 25 per second), `speaker_emb` (voice encoder, 256), `mel` (log-mel, if cached)
- features were extracted with the weights of {weights}
- dropped inputs by reason: {reasons}

| source | kind | status | inputs kept | segments | hours |
| --- | --- | --- | --- | --- | --- |
{rows}

`prepare_report.json` accounts for every input cue or row: kept (with its segment ids) or dropped with a reason.
"""
    return DatasetCard(content)
