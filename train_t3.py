#!/usr/bin/env python
"""Fine-tune Chatterbox's T3 for Amharic (the package's `amharic_tts.train`, also `amharic-tts-train`).

    accelerate launch train_t3.py amharic [--key value ...]      # a shipped config by name, or a YAML file
    python train_t3.py smoke --output_dir runs/smoke

The YAML fills the model / data / training arguments (HfArgumentParser); flags after it override it.
`--resume_from_checkpoint latest` continues the newest complete checkpoint in output_dir.
"""

import sys

from amharic_tts.train import main

if __name__ == "__main__":
    sys.exit(main())
