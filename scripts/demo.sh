#!/usr/bin/env bash
# The demo command: set up .venv, then run the pipeline end to end, offline, on the tiny stand-in base.
# Output goes to runs/demo (override with DEMO_DIR=...).
source "$(dirname "$0")/_venv.sh"
ensure_venv ""
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
DEMO_DIR=${DEMO_DIR:-runs/demo}
PY="$VENV/bin/python"

echo "== 1. base model: a tiny random-weight stand-in for ResembleAI/chatterbox in $DEMO_DIR/base"
"$PY" -m amharic_tts.testing.tiny_base "$DEMO_DIR/base" --without s3gen
echo "== 2. load it through the same loader the real Hub repo goes through"
"$PY" -m amharic_tts.model.base "$DEMO_DIR/base"
echo "== 3. build the Amharic tokenizer from the bundled sample text (normalised, merged into the base's 2454 ids)"
"$PY" build_tokenizer.py --text samples/amharic_sentences.txt --base-model "$DEMO_DIR/base" --vocab-size 300 \
  --output "$DEMO_DIR/tokenizer"
"$PY" -m amharic_tts.text "በ2015 ዓ.ም ዶ/ር አበበ 3ኛ ወጣ።"
echo "== 4. extend T3 to the tokenizer's vocabulary and train its core a few steps (frozen pretrained rows)"
"$PY" bench/bench_t3_step.py --base "$DEMO_DIR/base" --tokenizer "$DEMO_DIR/tokenizer" --steps 3 --batch-size 4

# Still to come: prepare_dataset.py (issue #5), accelerate launch train_t3.py (#6),
# python -m amharic_tts.synthesize (#7). Each script already answers --help.
echo "== demo finished: the data, training and synthesis steps join this script as they land"
