"""Learnability: does the pipeline learn to speak Amharic it has not seen? A synthetic speech language with a known
right answer (``amharic_tts.testing.learnability``) goes through everything this project owns.

    python bench/learnability.py                         # the default run, with every ablation
    python bench/learnability.py --variants shipped      # the shipped configuration only
    python bench/learnability.py --full-syllabary --hidden-size 1024 --layers 30 --intermediate-size 4096 \\
        --perceiver --prompt-tokens 150 --device cuda     # upstream's real architecture, the whole syllabary

Steps: (1) a stand-in base (the tiny stand-in's Llama, random init) is pretrained on the base language (the same
phones written in Latin letters), as the real multilingual base knows Latin scripts; (2) the merged tokenizer is
built from the Amharic training text with ``build_tokenizer``'s code; (3) each variant fine-tunes with
``train_t3.py``'s code from a shipped config (``configs/train/amharic.yaml`` or ``amharic_lora.yaml``) scaled down
to a short CPU run (size, steps, learning rate), plus the variant's one change; (4) held-out sentences (new
sentences of training words, and sentences with words never seen in training) are spoken through ``AmharicTTS``
with the shipped sampling settings and greedily, each in its speaker's voice taken from another utterance (speech
prompt and speaker embedding), and the base language's held-out sentences through the same decoder (forgetting).

Writes ``WORK/learnability.json`` and ``WORK/learnability.md`` (the table the README quotes) and prints the table.
The base (with its learning curve), tokenizer and dataset are cached in ``WORK`` by their settings.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    from amharic_tts.testing.learnability import VARIANTS, Experiment, ModelSize, markdown, run_experiment

    defaults = Experiment(work=Path("runs/learnability"), configs=ROOT / "configs" / "train")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="runs/learnability", help="folder for the base, data and runs")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--full-syllabary", action="store_true",
                        help="every Amharic syllable (default: the consonant-vowel syllables; see the module)")
    counts = ("speakers", "lexicon", "new_words", "base_lexicon", "train_sentences", "base_sentences", "held_out",
              "base_steps", "steps", "batch_size", "vocab_size", "seed", "curve_every", "max_words", "max_syllables")
    for name in counts:
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name))
    for name in ("base_lr", "lr", "lora_lr"):
        parser.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(defaults, name))
    size = defaults.size
    parser.add_argument("--hidden-size", type=int, default=size.hidden_size)
    parser.add_argument("--layers", type=int, default=size.layers)
    parser.add_argument("--intermediate-size", type=int, default=size.intermediate_size)
    parser.add_argument("--perceiver", action="store_true", help="upstream's Perceiver (needs --hidden-size 1024)")
    parser.add_argument("--prompt-tokens", type=int, default=size.prompt_tokens)
    parser.add_argument("--head-dim", type=int, default=size.head_dim)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (a GPU also trains in bf16)")
    args = parser.parse_args(argv)
    variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    if any(v not in VARIANTS for v in variants):
        parser.error(f"--variants: choose from {', '.join(VARIANTS)}")
    exp = Experiment(
        work=Path(args.work), configs=ROOT / "configs" / "train", variants=variants, device=args.device,
        consonants=None if args.full_syllabary else defaults.consonants,
        orders=None if args.full_syllabary else defaults.orders,
        size=ModelSize(args.hidden_size, args.layers, args.intermediate_size, args.perceiver, args.prompt_tokens,
                       args.head_dim),
        **{name: getattr(args, name) for name in (*counts, "base_lr", "lr", "lora_lr")})

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    result = run_experiment(exp, log=log)
    (exp.work / "learnability.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    table = markdown(result)
    (exp.work / "learnability.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
