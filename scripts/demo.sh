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
[ -f "$DEMO_DIR/base/conds.pt" ] || "$PY" -m amharic_tts.testing.tiny_base "$DEMO_DIR/base"
"$PY" -m amharic_tts.model.base "$DEMO_DIR/base" >/dev/null && echo "loads through the same loader as the Hub repo"

echo "== 2. prepare the data: subtitled lecture + LJSpeech folder -> segments, speech tokens, speaker embeddings"
"$PY" prepare_dataset.py --output "$DEMO_DIR/data" --srt samples/demo/lecture.webm samples/demo/lecture.srt \
  --ljspeech samples/demo/ljspeech --base-model "$DEMO_DIR/base" --config default

echo "== 3. build the Amharic tokenizer from the prepared transcripts and the sample text"
"$PY" build_tokenizer.py --text "$DEMO_DIR/data" samples/amharic_sentences.txt --base-model "$DEMO_DIR/base" \
  --vocab-size 300 --output "$DEMO_DIR/tokenizer"
"$PY" -m amharic_tts.text "በ2015 ዓ.ም ዶ/ር አበበ 3ኛ ወጣ።"

echo "== 4. fine-tune: T3 extended to the tokenizer's vocabulary, 20 CPU steps (accelerate launch works the same)"
"$PY" train_t3.py smoke --base_model "$DEMO_DIR/base" --tokenizer "$DEMO_DIR/tokenizer" \
  --dataset "$DEMO_DIR/data" --output_dir "$DEMO_DIR/train" --overwrite_output_dir true
echo "listen: $DEMO_DIR/train/samples/step-20/0.wav (a validation sentence rendered by the trained T3 + S3Gen;"
echo "        random base weights make it noise); TensorBoard: tensorboard --logdir $DEMO_DIR/train/runs"

echo "== 5. export: merged T3 + tokenizer + config + model card with an audio sample, ready for the Hub"
echo "        (add --push-to-hub USER/REPO)"
"$PY" -m amharic_tts.export --checkpoint "$DEMO_DIR/train" --output "$DEMO_DIR/model" --samples 1

echo "== 6. speak: AmharicTTS.from_pretrained on the exported folder (a Hub repo id works the same)"
"$PY" -m amharic_tts.synthesize --model "$DEMO_DIR/model" --text "ሰላም ነው። ዛሬ 3 ሰዎች መጡ።" \
  --output "$DEMO_DIR/amharic.wav" --seed 0

echo "== 7. evaluate: CER/WER through a CTC ASR model (here a tiny random one), speaker similarity, real-time factor"
# (HF_HUB_DISABLE_PROGRESS_BARS: no "Writing model shards" bar for the tiny stand-in)
[ -f "$DEMO_DIR/asr/config.json" ] || HF_HUB_DISABLE_PROGRESS_BARS=1 "$PY" -m amharic_tts.testing.tiny_asr "$DEMO_DIR/asr" >/dev/null
"$PY" -m amharic_tts.evaluate --model "$DEMO_DIR/model" --dataset "$DEMO_DIR/data" --split test \
  --asr-model "$DEMO_DIR/asr" --max-new-tokens 50 --output "$DEMO_DIR/eval" --update-card
echo "model card with the results: $DEMO_DIR/model/README.md; speech: $DEMO_DIR/amharic.wav"
echo "== demo finished"
