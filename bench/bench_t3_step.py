#!/usr/bin/env python
"""Time T3 training steps with our packed layout and next-token loss (and, optionally, upstream's layout).

    python bench/bench_t3_step.py --base runs/demo/base --steps 3            # tiny base on CPU (the demo uses this)
    python bench/bench_t3_step.py --arch multilingual --device cuda --bf16   # real-size 520M T3, random weights
    python bench/bench_t3_step.py --base DIR --compare-upstream               # ours vs upstream's layout, one run
    python bench/bench_t3_step.py --arch multilingual --device cuda --bf16 --max-tokens 12000  # token budget too
    python bench/bench_t3_step.py --arch multilingual --device cuda --bf16 --compile --sdpa-backend flash
    python bench/bench_t3_step.py --arch multilingual --device cuda --bf16 --find-max-batch
    bash bench/gpu.sh                                                        # all of the GPU measurements

Every run trains on batches drawn from one pool of samples whose speech lasts 2-20 s (uniform, or ``--lengths
lognormal``: right-skewed around 5 s, like subtitle cues), in the order the Trainer's length-grouped sampler
gives, or shuffled. ``--compare-upstream`` adds, in the same process and interleaved step by step (so a change in
the machine's load hits every run alike): our layout on shuffled batches; our layout with no padding at all (each
grouped batch's samples set to its mean lengths: the bound for any batching or packing scheme); and the baseline,
upstream's ``T3.forward`` (per-sample splicing, padded text before speech, logits at every position) on shuffled
batches. Each step: extend the text vocabulary (to ``--tokenizer``'s size, or by ``--new-tokens``), freeze the
pretrained rows, AdamW with weight decay, grad clipping, one optimizer step.
Prints the losses, real (non-pad) speech tokens per second, the real-token share, peak GPU memory, and checks
that the pretrained text rows did not move. Interleaved runs share the model but each keeps its own AdamW state,
so their peak memory includes every run's optimizer state: measure memory with one run (no ``--compare-upstream``
or ``--max-tokens``).

Model FLOPs utilisation: ``6 × N × positions / time / peak`` counts the matrix products each real (non-pad)
position goes through, forward and backward: N is the backbone's parameters plus the speech or text head at the
positions that have one, and causal attention adds ``6 × layers × width × n²`` per sample of n positions. The
embedding tables and the conditioning encoder (once per sample, on the 150-token prompt) are left out: in the
real-size model the backbone holds 503M of the 536M parameters, so ``6 × parameters × tokens`` would count about
5 % more than the products done. Frozen weights (the pretrained text rows, LoRA's base) need no weight
gradient: 4 FLOPs per weight and position instead of 6. Padding is work
the GPU does but the model does not need; ``padded_flops_utilisation`` counts it too (as if every padded
position were real). The peak is the device's
dense bf16 rate (``--peak-tflops``; H100/H200 SXM 989, H100 PCIe 756, A100 312).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
import torch.nn.functional as F

from amharic_tts.model.base import build_t3, load_t3, t3_config_from_dict
from amharic_tts.model.loss import T3Batch, t3_loss
from amharic_tts.model.vocab import (
    LoraOptions,
    TrainableOptions,
    apply_lora,
    configure_trainable,
    extend_for_tokenizer,
    extend_text_vocab,
)
from amharic_tts.text.tokenizer import AmharicTokenizer
from amharic_tts.testing.batches import random_batch


def upstream_layout_loss(t3, batch: T3Batch) -> torch.Tensor:
    """Upstream's ``T3.forward`` (per-sample splice loop, padded text before speech) with a shifted loss on its
    speech logits: what a fine-tune built on upstream's forward pays per step."""
    from chatterbox.models.t3.modules.cond_enc import T3Cond

    cond = T3Cond(speaker_emb=batch.speaker_emb, cond_prompt_speech_tokens=batch.cond_prompt_speech_tokens,
                  emotion_adv=batch.emotion_adv.view(-1, 1, 1))
    out = t3.forward(t3_cond=cond, text_tokens=batch.text_tokens, text_token_lens=batch.text_token_lens,
                     speech_tokens=batch.speech_tokens, speech_token_lens=batch.speech_token_lens, training=True)
    targets = batch.speech_tokens[:, 1:].masked_fill(
        torch.arange(batch.speech_tokens.shape[1] - 1, device=batch.speech_tokens.device)[None]
        >= (batch.speech_token_lens - 1)[:, None], -100)
    return F.cross_entropy(out.speech_logits[:, :-1].transpose(1, 2).float(), targets, ignore_index=-100)


def sample_pool(args):
    """(text_lens, speech_lens) of the pool the batches are drawn from: 50 batches' worth (the mega-batch the
    Trainer's length-grouped sampler sorts) or more. Speech lengths are uniform in [min, max] tokens, or
    log-normal (median ``--median-speech``, clipped to [min, max]), the right-skewed shape of subtitle cues."""
    g = torch.Generator().manual_seed(args.seed)
    n = max(50, args.warmup + args.steps) * args.batch_size
    if args.lengths == "uniform":
        speech = torch.randint(args.min_speech, args.max_speech + 1, (n,), generator=g)
    else:
        speech = (math.log(args.median_speech) + args.sigma * torch.randn(n, generator=g)).exp().round().long()
    speech = speech.clamp(args.min_speech, args.max_speech).tolist()
    text = [max(4, int(s * 0.3)) for s in speech]  # ~0.3 text tokens per speech token, as in read speech
    return text, speech


def batch_plan(text_lens, speech_lens, args, mode: str) -> list[tuple[list[int], list[int]]]:
    """The (text_lens, speech_lens) of each timed batch (warm-up first).

    ``random``: consecutive batches of a shuffled pool (what a plain DataLoader gives). ``grouped``: the batches
    of the Trainer's length-grouped order over the pool, a random selection of them (an epoch visits them all in
    random batch order, so the first few would be biased to the longest). ``no-padding``: the grouped batches with
    every sample set to its batch's mean lengths: the same work with no padding at all, the bound any batching or
    packing scheme could reach."""
    from transformers.trainer_pt_utils import get_length_grouped_indices

    g = torch.Generator().manual_seed(args.seed)
    n_batches = len(speech_lens) // args.batch_size
    totals = [t + s for t, s in zip(text_lens, speech_lens)]
    if mode == "token-budget":  # the Trainer's max_tokens_per_batch batches, a random selection of them
        from amharic_tts.training.sampler import TokenBudgetBatchSampler

        made = TokenBudgetBatchSampler(totals, args.max_tokens, seed=args.seed).batches
        chosen = torch.randint(len(made), (args.warmup + args.steps,), generator=g).tolist()
        return [([text_lens[i] for i in made[b]], [speech_lens[i] for i in made[b]]) for b in chosen]
    if mode == "random":
        order = torch.randperm(len(totals), generator=g).tolist()
        chosen = range(args.warmup + args.steps)
    else:
        order = get_length_grouped_indices(totals, args.batch_size, mega_batch_mult=50, generator=g)
        chosen = torch.randperm(n_batches, generator=g)[: args.warmup + args.steps].tolist()
    plan = []
    for b in chosen:
        ids = order[b * args.batch_size:(b + 1) * args.batch_size]
        text, speech = [text_lens[i] for i in ids], [speech_lens[i] for i in ids]
        if mode == "no-padding":
            text = [round(sum(text) / len(text))] * len(text)
            speech = [round(sum(speech) / len(speech))] * len(speech)
        plan.append((text, speech))
    return plan


SDPA_BACKENDS = {"auto": None, "flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION",
                 "cudnn": "CUDNN_ATTENTION", "math": "MATH"}
PEAK_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100", 989.4), ("H200", 989.4), ("H800", 989.4), ("A100", 312.0),
                    ("L40S", 362.1), ("A10G", 70.0), ("RTX 4090", 165.2))


def device_name(device: str) -> str:
    return torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else "cpu"


def peak_bf16_tflops(device: str) -> float | None:
    """Dense bf16 tensor-core peak of known GPUs (vendor data sheets), None elsewhere."""
    name = device_name(device)
    return next((tflops for key, tflops in PEAK_BF16_TFLOPS if key in name), None)


def attention_kernel(backend: str):
    """A context that restricts SDPA to one kernel (``auto``: PyTorch's choice)."""
    import contextlib

    if SDPA_BACKENDS[backend] is None:
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([getattr(SDPBackend, SDPA_BACKENDS[backend])])


def matmul_flops_per_position(module) -> int:
    """Forward + backward FLOPs per position of a module's weights: 2 forward, 2 for the input's gradient, and 2
    for the weight's gradient where the weight trains (frozen weights, LoRA's base among them, skip that)."""
    return sum((6 if p.requires_grad else 4) * p.numel() for p in module.parameters())


def model_flops(t3, batch: T3Batch, *, padded: bool = False) -> float:
    """Forward + backward FLOPs of the matrix products over a batch's real positions (``padded``: all positions,
    padding included): the backbone at every position, the speech head at speech positions and the text head at
    text positions (6 FLOPs per weight, 4 for a frozen one), and causal attention (``6 × layers × width × n²`` per
    sample of n positions)."""
    from amharic_tts.model.loss import layout_overhead

    cfg = t3.tfmr.config
    backbone = matmul_flops_per_position(t3.tfmr)
    width, layers = cfg.hidden_size, cfg.num_hidden_layers
    speech_head = matmul_flops_per_position(t3.speech_head)
    text_head = matmul_flops_per_position(t3.text_head)
    cond = layout_overhead(t3.hp)  # conditioning and the extra start_speech
    B = batch.text_tokens.shape[0]
    if padded:
        text = torch.full((B,), batch.text_tokens.shape[1])
        speech = torch.full((B,), batch.speech_tokens.shape[1])
    else:
        text, speech = batch.text_token_lens.cpu(), batch.speech_token_lens.cpu()
    positions = (cond + text + speech).double()
    total = backbone * positions.sum() + speech_head * speech.sum() + text_head * text.sum()
    return float(total + 6 * layers * width * (positions ** 2).sum())


def find_max_batch(t3, params, args, text_vocab) -> dict:
    """The largest number of longest samples (``--max-speech`` speech tokens, their text) that one training step
    (forward, backward, AdamW) fits: doubling until out of memory, then bisecting."""
    if not args.device.startswith("cuda"):
        raise SystemExit("--find-max-batch needs a CUDA device")
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    text_len = max(4, int(args.max_speech * 0.3))

    def fits(size: int) -> float | None:
        batch = random_batch(t3, [text_len] * size, [args.max_speech] * size, seed=args.seed,
                             text_vocab=text_vocab).to(args.device)
        torch.cuda.reset_peak_memory_stats()
        loss = None
        try:
            with attention_kernel(args.sdpa_backend):
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=args.bf16):
                    loss = t3_loss(t3, batch, check=False).loss
                loss.backward()
            optimizer.step()
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() / 2**30
        except RuntimeError as err:  # torch.OutOfMemoryError, or cuBLAS/cuDNN failing to allocate their workspace
            if not isinstance(err, torch.OutOfMemoryError) and "ALLOC" not in str(err).upper() \
                    and "out of memory" not in str(err):
                raise
            return None
        finally:
            loss = batch = None  # the graph of a failed step holds its activations: free them first
            optimizer.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()

    tried: dict[int, float | None] = {}
    low, high, size = 0, None, 8
    while high is None:
        tried[size] = fits(size)
        if tried[size] is None:
            high = size
        else:
            low, size = size, size * 2
    while high - low > 1:
        middle = (low + high) // 2
        tried[middle] = fits(middle)
        low, high = (middle, high) if tried[middle] is not None else (low, middle)
    return {"largest_batch_of_longest_samples": low, "speech_tokens": args.max_speech, "text_tokens": text_len,
            "peak_memory_gib": round(tried[low], 2) if low else None,
            "tried": {size: round(gib, 2) if gib else "out of memory" for size, gib in sorted(tried.items())}}


def batches(t3, args, text_vocab, plan):
    for step, (text, speech) in enumerate(plan):
        yield random_batch(t3, text, speech, seed=args.seed + step, text_vocab=text_vocab).to(args.device)


def real_share(batch) -> float:
    real = int(batch.text_token_lens.sum() + batch.speech_token_lens.sum())
    return real / (batch.text_tokens.numel() + batch.speech_tokens.numel())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--base", help="Hub repo id or directory to load T3 from")
    source.add_argument("--arch", choices=["multilingual"], help="build upstream's real-size T3 with random weights")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lengths", choices=["uniform", "lognormal"], default="uniform",
                        help="speech length distribution of the sample pool")
    parser.add_argument("--min-speech", type=int, default=50, help="speech tokens (25 per second): 2 s")
    parser.add_argument("--max-speech", type=int, default=500, help="20 s")
    parser.add_argument("--median-speech", type=int, default=125, help="lognormal: the median, 5 s")
    parser.add_argument("--sigma", type=float, default=0.5, help="lognormal: the spread (log scale)")
    parser.add_argument("--no-grouping", action="store_true", help="random batches for our layout too")
    parser.add_argument("--max-tokens", type=int, default=0,
                        help="our layout on batches filled to this many text + speech positions (the Trainer's "
                             "max_tokens_per_batch) instead of --batch-size samples")
    parser.add_argument("--new-tokens", type=int, default=500, help="rows to add when no --tokenizer is given")
    parser.add_argument("--tokenizer", help="a directory from build_tokenizer.py: extend T3 to its vocabulary")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast")
    parser.add_argument("--lora", action="store_true", help="LoRA on the backbone instead of a full fine-tune")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--compare-upstream", action="store_true", help="also time upstream's T3.forward layout")
    parser.add_argument("--attn", choices=["sdpa", "eager"], default="sdpa", help="the backbone's attention")
    parser.add_argument("--sdpa-backend", choices=sorted(SDPA_BACKENDS), default="auto",
                        help="restrict SDPA to one kernel (flash: FlashAttention-2; fails where it cannot run)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the backbone (dynamic shapes)")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the device's dense bf16 peak for MFU (default: known GPUs by name)")
    parser.add_argument("--find-max-batch", action="store_true",
                        help="CUDA: the largest batch of longest samples (--max-speech) one step fits")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    t3 = build_t3(t3_config_from_dict({})) if args.arch else load_t3(args.base)
    if args.tokenizer:
        extend_for_tokenizer(t3, AmharicTokenizer.from_dir(args.tokenizer))
    else:
        extend_text_vocab(t3, t3.hp.text_tokens_dict_size + args.new_tokens)
    new_size = t3.hp.text_tokens_dict_size
    if args.lora:
        apply_lora(t3, LoraOptions())
    configure_trainable(t3, TrainableOptions())
    if args.gradient_checkpointing:
        t3.tfmr.gradient_checkpointing_enable()
    t3.tfmr.set_attn_implementation(args.attn)
    t3.to(args.device).train()
    if args.compile:
        for layer in t3.tfmr.layers:  # regional: one compiled block reused by every layer, and quick to compile
            layer.compile(dynamic=True)
    frozen = t3.text_emb.base_weight.detach().clone()
    params = [p for p in t3.parameters() if p.requires_grad]
    peak = args.peak_tflops or (peak_bf16_tflops(args.device) if args.bf16 else None)  # MFU against the bf16 peak
    print(json.dumps({"device": args.device, "device_name": device_name(args.device),
                      "parameters": sum(p.numel() for p in t3.parameters()),
                      "trainable": sum(p.numel() for p in params), "text_vocab": new_size,
                      "flops_parameters": sum(p.numel() for p in t3.tfmr.parameters()), "peak_tflops": peak,
                      "attn": args.attn, "sdpa_backend": args.sdpa_backend, "compile": args.compile,
                      "bf16": args.bf16, "lora": args.lora, "gradient_checkpointing": args.gradient_checkpointing}))
    if args.find_max_batch:
        print(json.dumps(find_max_batch(t3, params, args, new_size)))
        return 0

    text_lens, speech_lens = sample_pool(args)

    def timed_runs(runs: dict) -> dict:
        """Train every run of ``runs`` ({name: (loss_fn, label, batches mode)}) step by step, interleaved, so a
        change in the machine's load hits every run alike; each run has its own optimizer."""
        state = {}
        for name, (loss_fn, label, mode) in runs.items():
            plan = batch_plan(text_lens, speech_lens, args, mode)
            state[name] = dict(loss_fn=loss_fn, label=label, mode=mode, peak=0, speech_tokens=0, elapsed=0.0,
                               flops=0.0, padded_flops=0.0,
                               shares=[], batches=batches(t3, args, new_size, plan),
                               optimizer=torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01))
        for step in range(args.warmup + args.steps):
            for r in state.values():
                batch = next(r["batches"])
                sync()
                if args.device.startswith("cuda"):
                    torch.cuda.reset_peak_memory_stats()
                start = time.perf_counter()
                with attention_kernel(args.sdpa_backend):
                    with torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16, enabled=args.bf16):
                        loss = r["loss_fn"](batch)
                    loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                r["optimizer"].step()
                r["optimizer"].zero_grad(set_to_none=True)
                sync()
                if step >= args.warmup:
                    r["elapsed"] += time.perf_counter() - start
                    r["speech_tokens"] += int(batch.speech_token_lens.sum())
                    r["shares"].append(real_share(batch))
                    r["flops"] += model_flops(t3, batch)
                    r["padded_flops"] += model_flops(t3, batch, padded=True)
                    if args.device.startswith("cuda"):
                        r["peak"] = max(r["peak"], torch.cuda.max_memory_allocated())
                    print(json.dumps({"layout": r["label"], "batches": r["mode"], "step": step - args.warmup + 1,
                                      "loss": round(loss.item(), 4)}))
        results = {}
        for name, r in state.items():
            results[name] = {"layout": r["label"], "batches": r["mode"], "steps": args.steps,
                             "seconds_per_step": round(r["elapsed"] / args.steps, 4),
                             "real_speech_tokens_per_second": round(r["speech_tokens"] / r["elapsed"], 1),
                             "real_token_share": round(sum(r["shares"]) / len(r["shares"]), 4),
                             "model_tflops_per_second": round(r["flops"] / r["elapsed"] / 1e12, 2)}
            if peak:
                results[name]["mfu"] = round(r["flops"] / r["elapsed"] / 1e12 / peak, 4)
                results[name]["padded_flops_utilisation"] = round(r["padded_flops"] / r["elapsed"] / 1e12 / peak, 4)
            if args.device.startswith("cuda"):
                results[name]["peak_memory_gib"] = round(r["peak"] / 2**30, 2)
            print(json.dumps(results[name]))
        return results

    def sync():
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    # the padding the Trainer's own sampler leaves on a dataset of 10,000 such samples (lengths only, no training)
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from amharic_tts.training.sampler import real_token_share

    big_args = argparse.Namespace(**{**vars(args), "seed": args.seed + 1, "warmup": 0, "steps": 10_000})
    big_lengths = [t + s for t, s in zip(*sample_pool(big_args))][:10_000]
    g = torch.Generator().manual_seed(args.seed + 1)
    grouped_order = list(LengthGroupedSampler(args.batch_size, lengths=big_lengths, generator=g))
    print(json.dumps({"real_token_share_10k_samples": {
        "length_grouped_sampler": round(real_token_share(big_lengths, grouped_order, args.batch_size), 4),
        "random": round(real_token_share(big_lengths, torch.randperm(10_000, generator=g).tolist(),
                                         args.batch_size), 4)}}))

    def ours(b):
        return t3_loss(t3, b, check=False).loss

    runs = {"packed": (ours, "packed", "random" if args.no_grouping else "grouped")}
    if args.max_tokens:
        runs["packed_token_budget"] = (ours, "packed", "token-budget")
    if args.compare_upstream:
        if not args.no_grouping:
            runs["packed_random"] = (ours, "packed", "random")
        runs["packed_no_padding"] = (ours, "packed", "no-padding")
        runs["baseline"] = (lambda b: upstream_layout_loss(t3, b), "upstream_forward", "random")
    results = timed_runs(runs)
    if args.compare_upstream:
        base = results.pop("baseline")["real_speech_tokens_per_second"]
        print(json.dumps({"speedup_over_baseline": {
            name: round(r["real_speech_tokens_per_second"] / base, 2) for name, r in results.items()}}))
    unchanged = torch.equal(t3.text_emb.base_weight.detach().cpu(), frozen.cpu())
    print(json.dumps({"pretrained_text_rows_unchanged": unchanged}))
    return 0 if unchanged else 1


if __name__ == "__main__":
    raise SystemExit(main())
