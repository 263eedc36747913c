"""A tiny random-weight CTC recogniser with an Ethiopic vocabulary, for tests and the offline demo.

    python -m amharic_tts.testing.tiny_asr OUTDIR [--seed 0] [--adapters amh,eng]

writes a directory that :class:`amharic_tts.evaluation.asr.CTCTranscriber` (and plain ``transformers``) loads
offline: ``config.json`` + ``model.safetensors`` of a ``Wav2Vec2ForCTC`` (three small convolutions with the
real model's total stride of 320 samples, two transformer layers of width 32), ``vocab.json`` and the tokenizer
files of a ``Wav2Vec2CTCTokenizer``, and ``preprocessor_config.json`` of a 16 kHz ``Wav2Vec2FeatureExtractor``.

The vocabulary is what an Amharic CTC model outputs: the assigned Ethiopic syllables U+1200..U+135A, ``|`` (the
word delimiter, decoded as a space), and ``<pad>`` (the CTC blank, id 0), ``<unk>``, ``<s>``, ``</s>``.

With ``adapter_languages`` the directory is laid out like ``facebook/mms-1b-all`` instead: a nested
``vocab.json`` (``{"amh": {...}, "eng": {...}}``, ``eng`` being ``<pad>``/``<unk>``/``|``/a-z), a model with
attention adapters whose stored head is the first language's, and ``adapter.<lang>.safetensors`` per language
(adapter layers + CTC head), so the MMS code path (``set_target_lang`` + ``load_adapter``) runs for real.
The weights are random: transcripts are strings of vocabulary characters, not words.
"""

from __future__ import annotations

import argparse
import json
import string
import unicodedata
from pathlib import Path
from typing import Sequence

SAMPLE_RATE = 16_000
SPECIAL_TOKENS = ("<pad>", "<unk>", "<s>", "</s>")
WORD_DELIMITER = "|"


def ethiopic_syllables() -> list[str]:
    """The assigned characters of U+1200..U+135A (the Ethiopic syllables; gaps in the block are left out)."""
    return [chr(code) for code in range(0x1200, 0x135B) if unicodedata.name(chr(code), None) is not None]


def _vocab(letters: Sequence[str]) -> dict[str, int]:
    tokens = [*SPECIAL_TOKENS, WORD_DELIMITER, *letters]
    return {token: index for index, token in enumerate(tokens)}


def language_vocab(language: str) -> dict[str, int]:
    """The tiny model's vocabulary for ``language``: Ethiopic for ``amh``, a-z for anything else."""
    return _vocab(ethiopic_syllables() if language == "amh" else list(string.ascii_lowercase))


def tiny_asr_config(vocab_size: int, *, adapter_attn_dim: int | None = None):
    """A ``Wav2Vec2Config`` small enough to build and run in well under a second."""
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config(
        vocab_size=vocab_size, pad_token_id=0, bos_token_id=2, eos_token_id=3,
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(16, 16, 16), conv_kernel=(10, 8, 8), conv_stride=(5, 8, 8),  # 320 samples per frame, as wav2vec2
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
        feat_extract_norm="layer", do_stable_layer_norm=True,  # the MMS layout (adapters need it)
        adapter_attn_dim=adapter_attn_dim, mask_time_prob=0.0, layerdrop=0.0,
    )


def build_tiny_asr(output_dir: str | Path, seed: int = 0, *,
                   adapter_languages: Sequence[str] | None = None) -> Path:
    """Write the tiny CTC recogniser to ``output_dir`` (see the module docstring) and return the directory."""
    import torch
    from safetensors.torch import save_file
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC, Wav2Vec2Processor

    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    languages = list(adapter_languages or [])
    if len(set(languages)) != len(languages):
        raise ValueError(f"adapter_languages has repeats: {languages}")

    torch.manual_seed(seed)
    if languages:
        vocabs = {language: language_vocab(language) for language in languages}
        default = languages[0]
        model = Wav2Vec2ForCTC(tiny_asr_config(len(vocabs[default]), adapter_attn_dim=8))
        adapters = {}
        for language in languages:
            # each language's adapter layers and CTC head, drawn from a model sized for its vocabulary
            donor = Wav2Vec2ForCTC(tiny_asr_config(len(vocabs[language]), adapter_attn_dim=8))
            adapters[language] = {name: tensor.detach().contiguous() for name, tensor in donor._get_adapters().items()}
        model.load_state_dict(adapters[default], strict=False)
        vocab_json: dict = vocabs
    else:
        vocab_json = language_vocab("amh")
        default = None
        model = Wav2Vec2ForCTC(tiny_asr_config(len(vocab_json)))

    model.eval().save_pretrained(output)
    for language in languages:
        save_file(adapters[language], str(output / f"adapter.{language}.safetensors"))

    (output / "vocab.json").write_text(json.dumps(vocab_json, ensure_ascii=False, indent=1), encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(
        str(output / "vocab.json"), unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>",
        word_delimiter_token=WORD_DELIMITER, target_lang=default,
    )
    feature_extractor = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0, do_normalize=True, return_attention_mask=True,
    )
    Wav2Vec2Processor(feature_extractor=feature_extractor, tokenizer=tokenizer).save_pretrained(output)
    return output


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a tiny random-weight Ethiopic CTC recogniser (for tests).")
    parser.add_argument("output_dir")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--adapters", default="", help="comma-separated languages for an MMS-like layout, e.g. amh,eng")
    args = parser.parse_args(argv)
    languages = [language for language in args.adapters.split(",") if language]
    print(build_tiny_asr(args.output_dir, args.seed, adapter_languages=languages or None))


if __name__ == "__main__":
    main()
