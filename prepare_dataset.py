#!/usr/bin/env python
"""Turn Amharic speech into a training set: SRT subtitles + media, LJSpeech-style folders and Hub datasets
-> a `datasets.DatasetDict` on disk (train/validation/test) with cached features and `prepare_report.json`."""

import argparse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", required=True, help="directory for the DatasetDict and the report")
    parser.add_argument("--srt", nargs=2, action="append", metavar=("MEDIA", "SUBS"), default=[],
                        help="a media file (any container FFmpeg reads) and its .srt; repeatable")
    parser.add_argument("--srt-dir", action="append", default=[], help="pair every media file with the .srt of the same stem")
    parser.add_argument("--ljspeech", action="append", default=[], help="an LJSpeech-style folder (metadata.csv + wavs/)")
    parser.add_argument("--hub-dataset", action="append", default=[], help="a Hub dataset name")
    parser.add_argument("--audio-column", default="audio")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--split", default="train")
    parser.add_argument("--base-model", default="ResembleAI/chatterbox", help="Hub repo id or directory (feature extractors)")
    parser.add_argument("--num-proc", type=int, default=1)
    parser.add_argument("--push-to-hub", metavar="REPO")
    parser.add_argument("--config", help="configs/data/*.yaml")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def main(argv=None) -> int:
    build_parser().parse_args(argv)
    from amharic_tts.cli import step_not_available

    return step_not_available("prepare_dataset.py", 5, "dataset preparation")


if __name__ == "__main__":
    raise SystemExit(main())
