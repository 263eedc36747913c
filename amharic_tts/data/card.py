"""The dataset card pushed with a prepared dataset (``huggingface_hub.DatasetCard``)."""

from __future__ import annotations


def dataset_card(report: dict, *, license: str = "other", pretty_name: str = "Amharic speech",
                 base_model: str = "ResembleAI/chatterbox"):
    from huggingface_hub import DatasetCard, DatasetCardData

    totals = report["totals"]
    hours = totals["hours_kept"]
    size = "n<1K" if totals["segments"] < 1000 else "1K<n<10K" if totals["segments"] < 10_000 else "10K<n<100K"
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
[Chatterbox](https://huggingface.co/{base_model}) with the amharic-tts `prepare_dataset.py`.

- {totals['segments']} segments, {hours:.3f} hours; splits: {report['splits']}
- columns: `id`, `source`, `recording`, `speaker`, `text` (normalised), `raw_text`, `duration`, `audio` (16 kHz),
  `speech_tokens` (S3 tokenizer, 25 per second), `speaker_emb` (voice encoder, 256), `mel` (log-mel, if cached)
- features were extracted with the weights of `{base_model}`
- dropped inputs by reason: {reasons}

| source | kind | status | inputs kept | segments | hours |
| --- | --- | --- | --- | --- | --- |
{rows}

`prepare_report.json` accounts for every input cue or row: kept (with its segment ids) or dropped with a reason.
"""
    return DatasetCard(content)
