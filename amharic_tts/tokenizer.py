"""Train an Amharic SentencePiece vocabulary on normalised text and merge it into Chatterbox's multilingual
tokenizer (2454 ids) without moving any existing id; writes the tokenizer directory and a report.

    amharic-tts-tokenizer --text corpus.txt data/prepared --base-model ResembleAI/chatterbox \\
        --vocab-size 2000 --output runs/tokenizer [--config amharic]
    python -m amharic_tts.tokenizer ...   # the same; build_tokenizer.py in a checkout too
"""

import argparse
import sys

from amharic_tts.cli import UserError, add_console_arguments, load_yaml, run_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amharic-tts-tokenizer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", nargs="+", metavar="FILE_OR_DATASET",
                        help="UTF-8 text files (one sentence per line) and/or prepared dataset directories")
    parser.add_argument("--text-column", default=None, help="dataset column with the transcripts (default: text)")
    parser.add_argument("--base-model", default=None, help="Hub repo id or directory (default: ResembleAI/chatterbox)")
    parser.add_argument("--revision", default=None, help="Hub revision of the base model")
    parser.add_argument("--vocab-size", type=int, default=None, help="SentencePiece vocabulary size, 100..10000")
    parser.add_argument("--model-type", choices=["unigram", "bpe"], default=None)
    parser.add_argument("--output", required=True, help="tokenizer directory to write")
    parser.add_argument("--config", help="a tokenizer config: a shipped name (amharic) or a YAML file; flags "
                        "override it")
    add_console_arguments(parser)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> int:
        from amharic_tts.configs import config_file
        from amharic_tts.model.base import DEFAULT_BASE, TOKENIZER_FILE, resolve_base_dir
        from amharic_tts.text.normalize import NormalizerConfig
        from amharic_tts.text.tokenizer import TokenizerBuildConfig, build_tokenizer, read_text_sources

        settings = load_yaml(config_file("tokenizer", args.config)) if args.config else {}
        known = {"text", "text_column", "base_model", "revision", "vocab_size", "model_type", "held_out_every",
                 "max_piece_length", "normalizer"}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise UserError(f"{args.config}: unknown settings {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        for key in ("text", "text_column", "base_model", "revision", "vocab_size", "model_type"):
            if getattr(args, key) is not None:
                settings[key] = getattr(args, key)
        if not settings.get("text"):
            raise UserError("give the text to learn from: --text FILE_OR_DATASET ... (or `text:` in --config)")
        config = TokenizerBuildConfig(
            **{k: settings[k] for k in ("vocab_size", "model_type", "held_out_every", "max_piece_length")
               if k in settings},
            normalizer=NormalizerConfig.from_dict(settings.get("normalizer")),
        )
        config.validate()
        base_model = str(settings.get("base_model") or DEFAULT_BASE)
        base_dir = resolve_base_dir(base_model, [TOKENIZER_FILE], revision=settings.get("revision"))
        lines = read_text_sources(settings["text"], text_column=settings.get("text_column") or "text")
        report = build_tokenizer(lines, (base_dir / TOKENIZER_FILE).read_text(encoding="utf-8"), args.output,
                                 config, base_model=base_model)
        print(report.summary())
        print(f"wrote {args.output}")
        return 0

    return run_cli(run, debug=args.debug, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
