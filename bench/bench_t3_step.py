#!/usr/bin/env python
"""Time T3 training steps with our packed layout and next-token loss (and, optionally, upstream's layout).

    python bench/bench_t3_step.py --base runs/demo/base --steps 3            # tiny base on CPU (the demo uses this)
    python bench/bench_t3_step.py --arch multilingual --device cuda --bf16   # real-size 520M T3, random weights
    python bench/bench_t3_step.py --base DIR --compare-upstream               # ours vs upstream's layout, one run

Every run trains on one pool of samples whose speech lasts 2-20 s (uniform), in batches ordered as the Trainer's
length-grouped sampler orders them, or shuffled. ``--compare-upstream`` adds, in the same process: our layout on
shuffled batches, and the baseline, upstream's ``T3.forward`` (per-sample splicing, padded text before speech,
logits at every position) on shuffled batches. Each step: extend the text vocabulary (to ``--tokenizer``'s size,
or by ``--new-tokens``), freeze the pretrained rows, AdamW with weight decay,
grad clipping, one optimizer step on a random batch with a spread of lengths like real speech (1-20 s at
25 tokens/s). Prints the losses, real (non-pad) tokens per second and peak GPU memory, and checks that the
pretrained text rows did not move.
"""

from __future__ import annotations

import argparse
import json
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
    """(text_lens, speech_lens) of every sample the runs train on: speech uniform in [min, max] tokens."""
    g = torch.Generator().manual_seed(args.seed)
    n = (args.warmup + args.steps) * args.batch_size
    speech = torch.randint(args.min_speech, args.max_speech + 1, (n,), generator=g).tolist()
    text = [max(4, int(s * 0.3)) for s in speech]  # ~0.3 text tokens per speech token, as in read speech
    return text, speech


def batch_order(lengths, batch_size, grouped: bool, seed: int) -> list[int]:
    """The order the Trainer's sampler would give: length-grouped mega-batches, or plain shuffling."""
    from transformers.trainer_pt_utils import get_length_grouped_indices

    g = torch.Generator().manual_seed(seed)
    if grouped:  # one mega-batch over the pool (the Trainer's sampler uses 50 batches once the data is large)
        batches = max(1, len(lengths) // batch_size)
        return list(get_length_grouped_indices(lengths, batch_size, mega_batch_mult=min(50, batches), generator=g))
    return torch.randperm(len(lengths), generator=g).tolist()


def batches(t3, args, text_vocab, order, text_lens, speech_lens):
    for step in range(args.warmup + args.steps):
        ids = order[step * args.batch_size:(step + 1) * args.batch_size]
        yield random_batch(t3, [text_lens[i] for i in ids], [speech_lens[i] for i in ids], seed=args.seed + step,
                           text_vocab=text_vocab).to(args.device)


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
    parser.add_argument("--min-speech", type=int, default=50, help="speech tokens (25 per second): 2 s")
    parser.add_argument("--max-speech", type=int, default=500, help="20 s")
    parser.add_argument("--no-grouping", action="store_true", help="random batches for our layout too")
    parser.add_argument("--new-tokens", type=int, default=500, help="rows to add when no --tokenizer is given")
    parser.add_argument("--tokenizer", help="a directory from build_tokenizer.py: extend T3 to its vocabulary")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast")
    parser.add_argument("--lora", action="store_true", help="LoRA on the backbone instead of a full fine-tune")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--compare-upstream", action="store_true", help="also time upstream's T3.forward layout")
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
    t3.to(args.device).train()
    frozen = t3.text_emb.base_weight.detach().clone()
    params = [p for p in t3.parameters() if p.requires_grad]
    print(json.dumps({"device": args.device, "parameters": sum(p.numel() for p in t3.parameters()),
                      "trainable": sum(p.numel() for p in params), "text_vocab": new_size}))

    text_lens, speech_lens = sample_pool(args)
    totals = [t + s for t, s in zip(text_lens, speech_lens)]

    def run(loss_fn, label, grouped):
        optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        speech_tokens, elapsed, shares = 0, 0.0, []
        order = batch_order(totals, args.batch_size, grouped, args.seed)
        for step, batch in enumerate(batches(t3, args, new_size, order, text_lens, speech_lens)):
            sync()
            start = time.perf_counter()
            with torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16, enabled=args.bf16):
                loss = loss_fn(batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            sync()
            if step >= args.warmup:
                elapsed += time.perf_counter() - start
                speech_tokens += int(batch.speech_token_lens.sum())
                shares.append(real_share(batch))
                print(json.dumps({"layout": label, "step": step - args.warmup + 1, "loss": round(loss.item(), 4)}))
        result = {"layout": label, "batches": "length-grouped" if grouped else "random", "steps": args.steps,
                  "seconds_per_step": round(elapsed / args.steps, 4),
                  "real_speech_tokens_per_second": round(speech_tokens / elapsed, 1),
                  "real_token_share": round(sum(shares) / len(shares), 4)}
        if args.device.startswith("cuda"):
            result["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        print(json.dumps(result))
        return result

    def sync():
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    # the padding the Trainer's own sampler leaves on a dataset of 10,000 such samples (lengths only, no training)
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from amharic_tts.training.sampler import real_token_share

    g = torch.Generator().manual_seed(args.seed + 1)
    big = torch.randint(args.min_speech, args.max_speech + 1, (10_000,), generator=g).tolist()
    big_lengths = [s + max(4, int(s * 0.3)) for s in big]
    grouped_order = list(LengthGroupedSampler(args.batch_size, lengths=big_lengths, generator=g))
    print(json.dumps({"real_token_share_10k_samples": {
        "length_grouped_sampler": round(real_token_share(big_lengths, grouped_order, args.batch_size), 4),
        "random": round(real_token_share(big_lengths, torch.randperm(10_000, generator=g).tolist(),
                                         args.batch_size), 4)}}))
    ours = run(lambda b: t3_loss(t3, b, check=False).loss, "packed", grouped=not args.no_grouping)
    if args.compare_upstream:
        if not args.no_grouping:
            run(lambda b: t3_loss(t3, b, check=False).loss, "packed", grouped=False)
        theirs = run(lambda b: upstream_layout_loss(t3, b), "upstream_forward", grouped=False)
        print(json.dumps({"speedup_real_speech_tokens_per_second": round(
            ours["real_speech_tokens_per_second"] / theirs["real_speech_tokens_per_second"], 2)}))
    unchanged = torch.equal(t3.text_emb.base_weight.detach().cpu(), frozen.cpu())
    print(json.dumps({"pretrained_text_rows_unchanged": unchanged}))
    return 0 if unchanged else 1


if __name__ == "__main__":
    raise SystemExit(main())
