"""``python -m amharic_tts.text "..."``: print the normalised text (one line per input line; ``-`` reads stdin)."""

import argparse
import sys

from amharic_tts.text.normalize import NormalizerConfig, normalize, split_sentences


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amharic_tts.text", description=__doc__)
    parser.add_argument("text", nargs="*", help="text to normalise; '-' or nothing reads standard input")
    parser.add_argument("--no-homophones", action="store_true", help="keep ሐ ኀ ሠ ዐ ፀ ... as written")
    parser.add_argument("--no-numbers", action="store_true", help="keep digits")
    parser.add_argument("--no-abbreviations", action="store_true", help="keep abbreviations")
    parser.add_argument("--no-punctuation", action="store_true", help="keep ASCII , ; . after Ethiopic letters")
    parser.add_argument("--split", action="store_true", help="print one sentence per line")
    parser.add_argument("--max-chars", type=int, default=200, help="longest sentence with --split")
    args = parser.parse_args(argv)
    config = NormalizerConfig(fold_homophones=not args.no_homophones, verbalize_numbers=not args.no_numbers,
                              expand_abbreviations=not args.no_abbreviations,
                              ethiopic_punctuation=not args.no_punctuation)
    lines = sys.stdin.read().splitlines() if args.text in ([], ["-"]) else [" ".join(args.text)]
    for line in lines:
        text = normalize(line, config)
        for out in split_sentences(text, args.max_chars) if args.split else [text]:
            print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
