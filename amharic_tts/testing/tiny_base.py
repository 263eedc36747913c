"""A tiny random-weight stand-in for ``ResembleAI/chatterbox``, laid out like the real repo.

    python -m amharic_tts.testing.tiny_base OUTDIR [--without s3gen] [--seed 0]

writes::

    t3_mtl23ls_v3.safetensors   T3 with a 2-layer Llama backbone (hidden 1024, so upstream's Perceiver still fits)
    t3_mtl23ls_v2.safetensors   the same architecture with other random weights (so v2/v3 selection is observable)
    t3_config.json              the T3Config fields and the Llama config the tiny T3 needs (the real repo has none)
    grapheme_mtl_merged_expanded_v1.json   a 2454-id BPE tokenizer with the real one's conventions
    ve.pt                       upstream's VoiceEncoder, random weights (real size: it is small)
    s3gen.pt                    upstream's S3Gen, random weights (real size, stored in fp16: ~0.5 GB)
    conds.pt                    the default voice, made from a synthetic vowel-like clip by the same code
                                that makes a voice from a user's reference clip (needs ve and s3gen)

Every loader in :mod:`amharic_tts.model.base` reads this directory exactly as it reads the real one. Nothing here
is imported by shipped code paths: it exists for tests and the offline demo.
"""

from __future__ import annotations

import argparse
import json
import string
from pathlib import Path
from typing import Iterable

import torch

from amharic_tts.model.base import (
    CONDS_FILE,
    S3GEN_FILE,
    T3_CHECKPOINTS,
    T3_CONFIG_FILE,
    TOKENIZER_FILE,
    VOICE_ENCODER_FILE,
    build_t3,
    t3_config_from_dict,
    t3_config_to_dict,
)

TINY_LLAMA_NAME = "amharic_tts_tiny"
COMPONENTS = ("t3", "tokenizer", "ve", "s3gen", "conds")

# The 23 language tokens of the multilingual tokenizer (upstream's SUPPORTED_LANGUAGES); Amharic is not one.
LANGUAGES = ("ar", "da", "de", "el", "en", "es", "fi", "fr", "he", "hi", "it", "ja", "ko", "ms", "nl", "no",
             "pl", "pt", "ru", "sv", "sw", "tr", "zh")
SPECIAL_TOKENS = ("[PAD]", "[SEP]", "[CLS]", "[MASK]")
TEXT_VOCAB_SIZE = 2454


def tiny_llama_config(*, hidden_size: int = 1024, layers: int = 2, intermediate_size: int = 512,
                      head_dim: int = 64) -> dict:
    """Upstream's 520M Llama config with fewer, narrower layers (same attention/RoPE settings)."""
    from chatterbox.models.t3.llama_configs import LLAMA_520M_CONFIG_DICT

    config = dict(LLAMA_520M_CONFIG_DICT)
    heads = hidden_size // head_dim
    config.update(hidden_size=hidden_size, intermediate_size=intermediate_size, num_hidden_layers=layers,
                  num_attention_heads=heads, num_key_value_heads=heads, head_dim=head_dim)
    config["rope_scaling"] = dict(config["rope_scaling"])
    return config


def tiny_t3_config_dict(*, hidden_size: int = 1024, layers: int = 2, intermediate_size: int = 512,
                        perceiver: bool = True, max_text_tokens: int = 512, max_speech_tokens: int = 1024,
                        name: str | None = None, head_dim: int = 64) -> dict:
    """The content of a tiny ``t3_config.json``. Upstream's Perceiver is hard-wired to 1024 channels, so
    ``perceiver=True`` needs ``hidden_size=1024``; without it the prompt tokens enter the backbone as they are."""
    if perceiver and hidden_size != 1024:
        raise ValueError("upstream's Perceiver resampler only works with hidden_size=1024")
    name = name or (TINY_LLAMA_NAME if (hidden_size, layers, intermediate_size, head_dim) == (1024, 2, 512, 64)
                    else f"{TINY_LLAMA_NAME}_{hidden_size}x{layers}x{intermediate_size}"
                         + (f"h{head_dim}" if head_dim != 64 else ""))
    return {
        "text_tokens_dict_size": TEXT_VOCAB_SIZE,
        "max_text_tokens": max_text_tokens,
        "max_speech_tokens": max_speech_tokens,
        "llama_config_name": name,
        "use_perceiver_resampler": perceiver,
        "llama_config": tiny_llama_config(hidden_size=hidden_size, layers=layers,
                                          intermediate_size=intermediate_size, head_dim=head_dim),
    }


def tiny_t3(seed: int = 0, **config_kwargs):
    """A randomly initialised upstream ``T3`` built from :func:`tiny_t3_config_dict`."""
    config = t3_config_from_dict(tiny_t3_config_dict(**config_kwargs))
    torch.manual_seed(seed)
    return build_t3(config)


# --------------------------------------------------------------------------------------------- tokenizer


def _characters() -> list[str]:
    """Characters of the scripts the real tokenizer covers (after upstream's lowercase + NFKD); no Ethiopic."""
    ranges = [(0x00DF, 0x00FF), (0x0300, 0x036F), (0x03B1, 0x03C9), (0x0430, 0x044F), (0x05D0, 0x05EA),
              (0x0621, 0x064A), (0x0905, 0x0939), (0x1100, 0x1112), (0x1161, 0x1175), (0x3041, 0x3096),
              (0x30A1, 0x30FA)]
    chars = [c for c in string.punctuation + string.digits + string.ascii_lowercase]
    for lo, hi in ranges:
        chars.extend(chr(cp) for cp in range(lo, hi + 1) if chr(cp).isprintable() and chr(cp) not in chars)
    return chars


def tiny_tokenizer_json(vocab_size: int = TEXT_VOCAB_SIZE) -> str:
    """A BPE tokenizer in the Tortoise lineage of upstream's ``grapheme_mtl_merged_expanded_v1.json``:
    ``[STOP]``=0, ``[UNK]``=1, ``[SPACE]``=2, ``[START]``=255, language tokens ``[en]``..., characters, then
    Latin letter merges up to ``vocab_size`` ids. Ethiopic letters are unknown, as in the real one."""
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers

    vocab: dict[str, int] = {"[STOP]": 0, "[UNK]": 1, "[SPACE]": 2}

    def add(token: str) -> None:
        if len(vocab) == 255:
            vocab["[START]"] = 255
        if token not in vocab and len(vocab) < vocab_size:
            vocab[token] = len(vocab)

    for token in _characters():
        add(token)
    for token in SPECIAL_TOKENS + tuple(f"[{lang}]" for lang in LANGUAGES):
        add(token)
    merges: list[tuple[str, str]] = []
    letters = string.ascii_lowercase
    pairs = [(a, b) for a in letters for b in letters]
    for left, right in pairs + [(a + b, c) for a, b in pairs for c in letters]:
        if len(vocab) >= vocab_size:
            break
        add(left + right)
        merges.append((left, right))
    if len(vocab) != vocab_size or "[START]" not in vocab:
        raise ValueError(f"could not fill a vocabulary of {vocab_size} ids")

    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    specials = ["[STOP]", "[UNK]", "[SPACE]", "[START]", *SPECIAL_TOKENS, *(f"[{lang}]" for lang in LANGUAGES)]
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    return tokenizer.to_str()


# --------------------------------------------------------------------------------------------- writer


def _save_t3(t3, path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in t3.state_dict().items()}, str(path))


def build_tiny_base(output_dir: str | Path, *, components: Iterable[str] = COMPONENTS, seed: int = 0) -> Path:
    """Write the stand-in base to ``output_dir`` and return it. ``components`` picks from ``COMPONENTS``."""
    components = set(components)
    unknown = components - set(COMPONENTS)
    if unknown:
        raise ValueError(f"unknown components {sorted(unknown)}; choose from {COMPONENTS}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if "t3" in components:
        config = tiny_t3_config_dict()
        t3 = None
        for offset, filename in enumerate((T3_CHECKPOINTS["v3"], T3_CHECKPOINTS["v2"])):
            t3 = tiny_t3(seed=seed + offset)
            _save_t3(t3, out / filename)
        saved = {**t3_config_to_dict(t3.hp), "llama_config": config["llama_config"]}
        (out / T3_CONFIG_FILE).write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")
    if "tokenizer" in components:
        (out / TOKENIZER_FILE).write_text(tiny_tokenizer_json(), encoding="utf-8")
    ve = s3gen = None
    if "ve" in components:
        from chatterbox.models.voice_encoder import VoiceEncoder

        torch.manual_seed(seed)
        ve = VoiceEncoder().eval()
        torch.save(ve.state_dict(), out / VOICE_ENCODER_FILE)
    if "s3gen" in components:
        from chatterbox.models.s3gen import S3Gen

        torch.manual_seed(seed)
        s3gen = S3Gen().eval()
        state = s3gen.state_dict()
        torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, out / S3GEN_FILE)
    if "conds" in components:
        if ve is None or s3gen is None:
            raise ValueError("the default voice (conds) needs the ve and s3gen components")
        from amharic_tts.model.voice import S3GEN_RATE, make_conditionals, save_conditionals

        save_conditionals(make_conditionals(synthetic_voice(S3GEN_RATE, seed=seed), S3GEN_RATE, ve=ve, s3gen=s3gen),
                          out / CONDS_FILE)
    return out


def synthetic_voice(sample_rate: int, seconds: float = 1.5, seed: int = 0):
    """A vowel-like clip: a gliding 110-160 Hz pitch with decaying harmonics, syllable-rate loudness and a little
    noise. Not speech, but it has what the voice encoder and S3Gen's reference embedding look at. Short, because
    S3Gen's CPU time per sentence grows with the length of its reference."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    pitch = 135 + 25 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    audio = 0.3 * voiced * envelope / np.abs(voiced).max() + 0.005 * rng.standard_normal(len(t))
    return audio.astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m amharic_tts.testing.tiny_base",
        description="Write a tiny random-weight stand-in for ResembleAI/chatterbox (for tests and offline demos).",
    )
    parser.add_argument("output_dir")
    parser.add_argument("--without", nargs="*", default=[], choices=COMPONENTS, help="components to leave out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    components = [c for c in COMPONENTS if c not in args.without]
    if not {"ve", "s3gen"} <= set(components):
        components = [c for c in components if c != "conds"]  # the default voice is made with both
    out = build_tiny_base(args.output_dir, components=components, seed=args.seed)
    for path in sorted(out.iterdir()):
        print(f"{path.stat().st_size / 2**20:9.1f} MiB  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
