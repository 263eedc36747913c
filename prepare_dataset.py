#!/usr/bin/env python
"""Turn Amharic speech into a training set: SRT subtitles + media, LJSpeech-style folders and Hub datasets
-> a `datasets.DatasetDict` on disk (train/validation/test) with cached features and `prepare_report.json`.

    python prepare_dataset.py --output runs/data --srt film.mp4 film.srt --ljspeech corpus/ \\
        [--base-model ResembleAI/chatterbox] [--config default]
    accelerate launch prepare_dataset.py ...   # shards the sources over processes / GPUs / nodes
"""

import sys

from amharic_tts.prepare import main

if __name__ == "__main__":
    sys.exit(main())
