import sys

from amharic_tts.configs import main

sys.exit(main())
