#!/usr/bin/env bash
# The test command: set up .venv with the test extras, then run the whole suite offline (HF_HUB_OFFLINE=1,
# tiny random-weight stand-in for ResembleAI/chatterbox). Extra arguments go to pytest.
source "$(dirname "$0")/_venv.sh"
ensure_venv test
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec "$VENV/bin/python" -m pytest "$@"
