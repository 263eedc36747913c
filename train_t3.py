#!/usr/bin/env python
"""Fine-tune Chatterbox's T3 for Amharic.

    accelerate launch train_t3.py configs/train/amharic.yaml [--key value ...]
    python train_t3.py configs/train/smoke.yaml --output_dir runs/smoke

The YAML fills the model / data / training arguments (HfArgumentParser); flags after it override it.
`--resume_from_checkpoint latest` continues the newest complete checkpoint in output_dir.
"""

import sys

from amharic_tts.training.run import main

if __name__ == "__main__":
    if any(arg in ("-h", "--help") for arg in sys.argv[1:2]):
        print(__doc__)
        from transformers import HfArgumentParser

        from amharic_tts.training.args import DataArguments, ModelArguments, T3TrainingArguments

        import re

        parser = HfArgumentParser((ModelArguments, DataArguments, T3TrainingArguments))
        for action in parser._actions:  # transformers 5.2 has a bare "%" in a help text, which argparse rejects
            if action.help:
                action.help = re.sub(r"%(?!\()", "%%", action.help)
        parser.print_help()
        sys.exit(0)
    sys.exit(main())
