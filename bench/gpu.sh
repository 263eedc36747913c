#!/usr/bin/env bash
# Every GPU measurement of the README's table in one command (issue 6: real-size 520M T3, random weights, bf16):
#
#   bash bench/gpu.sh --fetch    # where PyPI is reachable: the wheels the GPU machine lacks (bench/device-wheels.txt)
#                                # into .whl/ (git-ignored; about 51 MB)
#   bash bench/gpu.sh            # on the GPU machine, .whl/ beside it: install those with --no-deps into /tmp/site,
#                                # then run each measurement; results in $OUT (or bench/results): gpu.jsonl (the
#                                # summary lines) and gpu.log (everything)
#   bash bench/gpu.sh single lora   # only the named steps (a device call may last 10 minutes: split the list)
#   DRY=1 bash bench/gpu.sh      # the same steps on the CPU with the tiny base (runs/demo/base), one step each:
#                                # checks the script, not the numbers
# With the `device` tool: carry [".whl"], command `bash bench/gpu.sh` ($OUT is set there).
#
# Steps: one run for speed, MFU and peak memory; length-grouped vs token-budget vs random batches vs upstream's
# layout (interleaved); eager attention; SDPA restricted to FlashAttention; torch.compile of the decoder layers;
# the largest batch of 20 s samples (with and without gradient checkpointing); LoRA; synthesis speed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if [[ "${1:-}" == "--fetch" ]]; then
    rm -rf .whl && mkdir -p .whl
    grep -v '^#' bench/device-wheels.txt | xargs "$PY" -m pip download -q --no-deps --only-binary=:all: \
        --python-version "${DEVICE_PYTHON:-3.12}" --implementation cp --platform manylinux_2_28_x86_64 \
        --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        --platform manylinux1_x86_64 -d .whl || exit 1
    du -sh .whl
    exit 0
fi

RESULTS=${OUT:-bench/results}
mkdir -p "$RESULTS"
: >>"$RESULTS/gpu.jsonl"
: >>"$RESULTS/gpu.log"
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
    wanted=${DEVICE_PYTHON:-3.12}
    have=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    if [[ "$have" != "$wanted" ]]; then
        echo "error: .whl/ holds wheels for Python $wanted, but $PY is Python $have: DEVICE_PYTHON=$have bash" \
            "bench/gpu.sh --fetch where PyPI is reachable" | tee -a "$RESULTS/gpu.log"
        exit 2
    fi
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD
fi

if [[ -n "${DRY:-}" ]]; then
    MODEL=(--base "${BASE:-runs/demo/base}" --device cpu)
    SIZE=(--steps 1 --batch-size 2)
    LONG=(--steps 1 --batch-size 2)
else
    MODEL=(--arch multilingual --device cuda --bf16)
    SIZE=(--steps 200 --batch-size 16)
    LONG=(--steps 60 --batch-size 16)
fi

failed=0
only=" $* "
step() {  # step NAME ARGS...: run one measurement, keep its summary lines (every JSON line but the per-step losses)
    local name=$1
    shift
    if [[ "$only" != "  " && "$only" != *" $name "* && $name != environment &&
          !($name == tiny_base && "$only" == *" synthesis "*) ]]; then
        return
    fi
    echo "== $name: $*" | tee -a "$RESULTS/gpu.log"
    timeout "${STEP_TIMEOUT:-300}" "$PY" "$@" >"$RESULTS/step.log" 2>&1
    local code=$?
    cat "$RESULTS/step.log" >>"$RESULTS/gpu.log"
    grep '^{' "$RESULTS/step.log" | grep -v '"step":' | sed "s/^{/{\"measurement\": \"$name\", /" \
        | tee -a "$RESULTS/gpu.jsonl"
    if ((code != 0)); then
        echo "{\"measurement\": \"$name\", \"exit_code\": $code}" | tee -a "$RESULTS/gpu.jsonl"
        tail -5 "$RESULTS/step.log"
        failed=1
    fi
    rm -f "$RESULTS/step.log"
}

T3=bench/bench_t3_step.py
step environment -c "import json, torch, transformers, chatterbox; print(json.dumps({'torch': torch.__version__, \
'transformers': transformers.__version__, 'cuda': torch.cuda.is_available() and torch.cuda.get_device_name()}))"
step single "$T3" "${MODEL[@]}" "${SIZE[@]}"
step batching "$T3" "${MODEL[@]}" "${LONG[@]}" --compare-upstream --max-tokens 12000
step lognormal "$T3" "${MODEL[@]}" "${LONG[@]}" --compare-upstream --max-tokens 12000 --lengths lognormal
step eager_attention "$T3" "${MODEL[@]}" "${LONG[@]}" --attn eager
step compiled "$T3" "${MODEL[@]}" "${LONG[@]}" --warmup 5 --compile
step lora "$T3" "${MODEL[@]}" "${LONG[@]}" --lora
if [[ -z "${DRY:-}" ]]; then
    step flash_attention "$T3" "${MODEL[@]}" "${LONG[@]}" --sdpa-backend flash
    step largest_batch "$T3" "${MODEL[@]}" --find-max-batch
    step largest_batch_checkpointing "$T3" "${MODEL[@]}" --find-max-batch --gradient-checkpointing
    step tiny_base -m amharic_tts.testing.tiny_base /tmp/tiny_base
    step synthesis bench/bench_synthesize.py --base /tmp/tiny_base --arch multilingual --device cuda --runs 3
fi
echo "results: $RESULTS/gpu.jsonl"
exit $failed
