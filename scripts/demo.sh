#!/usr/bin/env bash
# The demo command: set up .venv, then run the pipeline end to end, offline, on the bundled sample
# (samples/demo) with a tiny random-weight stand-in for ResembleAI/chatterbox. Output goes to runs/demo
# (override with DEMO_DIR=...). With real weights, drop step 1 and leave out --base-model.
source "$(dirname "$0")/_venv.sh"
ensure_venv ""
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
DEMO_DIR=${DEMO_DIR:-runs/demo}
export HF_DATASETS_CACHE=${HF_DATASETS_CACHE:-$DEMO_DIR/datasets-cache}
PY="$VENV/bin/python"

echo "== 1. base model: a tiny random-weight stand-in for ResembleAI/chatterbox in $DEMO_DIR/base"
[ -f "$DEMO_DIR/base/s3gen.pt" ] || "$PY" -m amharic_tts.testing.tiny_base "$DEMO_DIR/base"
"$PY" -m amharic_tts.model.base "$DEMO_DIR/base" >/dev/null && echo "loads through the same loader as the Hub repo"

echo "== 2. prepare the data: subtitled lecture + LJSpeech folder -> segments, speech tokens, speaker embeddings"
"$PY" prepare_dataset.py --output "$DEMO_DIR/data" --srt samples/demo/lecture.webm samples/demo/lecture.srt \
  --ljspeech samples/demo/ljspeech --base-model "$DEMO_DIR/base" --config configs/data/default.yaml

echo "== 3. build the Amharic tokenizer from the prepared transcripts and the sample text"
"$PY" build_tokenizer.py --text "$DEMO_DIR/data" samples/amharic_sentences.txt --base-model "$DEMO_DIR/base" \
  --vocab-size 300 --output "$DEMO_DIR/tokenizer"
"$PY" -m amharic_tts.text "በ2015 ዓ.ም ዶ/ር አበበ 3ኛ ወጣ።"

echo "== 4. extend T3 to the tokenizer's vocabulary and train its core a few steps (frozen pretrained rows)"
"$PY" bench/bench_t3_step.py --base "$DEMO_DIR/base" --tokenizer "$DEMO_DIR/tokenizer" --steps 3 --batch-size 4

# Still to come: accelerate launch train_t3.py (issue #6), python -m amharic_tts.synthesize (#7).
echo "== demo finished: training and synthesis join this script as they land"
