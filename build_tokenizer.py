#!/usr/bin/env python
"""Train an Amharic SentencePiece vocabulary on normalised text and merge it into Chatterbox's multilingual
tokenizer (2454 ids) without moving any existing id; writes the tokenizer directory and a report."""

import argparse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--text", nargs="+", required=True, metavar="FILE_OR_DATASET",
                        help="text files or prepared dataset directories")
    parser.add_argument("--base-model", default="ResembleAI/chatterbox", help="Hub repo id or directory")
    parser.add_argument("--vocab-size", type=int, help="size of the Amharic vocabulary to add")
    parser.add_argument("--output", required=True, help="tokenizer directory to write")
    parser.add_argument("--config", help="configs/tokenizer/*.yaml")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def main(argv=None) -> int:
    build_parser().parse_args(argv)
    from amharic_tts.cli import step_not_available

    return step_not_available("build_tokenizer.py", 4, "tokenizer building")


if __name__ == "__main__":
    raise SystemExit(main())
