#!/usr/bin/env python
"""Fine-tune Chatterbox's T3 for Amharic: `accelerate launch train_t3.py configs/train/amharic.yaml [--key value ...]`
(plain `python train_t3.py ...` works too). The YAML fills the model / data / training arguments; flags override it."""

import argparse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", help="a YAML file under configs/train/")
    parser.add_argument("overrides", nargs=argparse.REMAINDER, help="--key value pairs that override the YAML")
    return parser


def main(argv=None) -> int:
    build_parser().parse_args(argv)
    from amharic_tts.cli import step_not_available

    return step_not_available("train_t3.py", 6, "training")


if __name__ == "__main__":
    raise SystemExit(main())
