#!/usr/bin/env python
"""Train an Amharic SentencePiece vocabulary on normalised text and merge it into Chatterbox's multilingual
tokenizer (2454 ids) without moving any existing id; writes the tokenizer directory and a report.

    python build_tokenizer.py --text corpus.txt data/prepared --base-model ResembleAI/chatterbox \\
        --vocab-size 2000 --output runs/tokenizer [--config amharic]
"""

import sys

from amharic_tts.tokenizer import main

if __name__ == "__main__":
    sys.exit(main())
