"""Synthesis speed: sentence by sentence through upstream's ``T3.inference`` against the project's batched decoder
(:mod:`amharic_tts.model.generate`), in one run on the same model, and the real-time factor of
``AmharicTTS.generate`` on a paragraph (seconds of compute per second of audio; below 1 is faster than real time).

    python bench/bench_synthesize.py --base runs/demo/base --arch multilingual   # real-size 520M T3, random weights
    python bench/bench_synthesize.py --base runs/demo/base --arch multilingual --device cuda --dtype bfloat16

``--base`` supplies S3Gen, the voice encoder and the default voice (the tiny base's are real-size); T3 is the
base's, or with ``--arch multilingual`` upstream's real-size architecture with random weights and an Amharic-sized
text vocabulary. Random weights never say stop, so each sentence runs to its own length (``--lengths``: different
per sentence, as real sentences are) and the benchmark checks that every path produced exactly those tokens: it
times the work, not a shortcut. Both paths use CFG (two rows per sentence) and upstream's v3 sampling settings.

Reported: speech tokens per second of each path and their ratio; the batched decoder's tokens are also checked
to be those each sentence gets alone (greedy) on a short prefix (asserted in float32; in bfloat16, where rounding
depends on the batch's shape, the share that agrees is reported). Then S3Gen: the same sentences vocoded one by one
and as one padded batch (S3Gen takes ``speech_token_lens``), to decide whether batching the vocoder pays.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import time

import torch

from amharic_tts.inference import AmharicTTS
from amharic_tts.model.base import build_t3, load_default_voice, load_s3gen, load_t3, load_voice_encoder, \
    t3_config_from_dict
from amharic_tts.model.generate import SamplingConfig, SpeechRequest, generate_many
from amharic_tts.model.vocab import extend_text_vocab

PARAGRAPH = ("ሰላም ነው። ዛሬ ጥሩ ቀን ነው። አዲስ አበባ ትልቅ ከተማ ናት። ልጆቹ ወደ ትምህርት ቤት ሄዱ። "
             "ገበያው ዛሬ ብዙ ሰው ነበረበት። ነገ እንደገና እንገናኛለን።")


class _RandomIds:
    """Stands in for the tokenizer: each sentence gets fixed random Amharic-range text ids, one per two characters
    (no trained tokenizer is needed to time the model)."""

    def __init__(self, vocab: int, start: int, stop: int):
        self.vocab, self.start, self.stop = vocab, start, stop

    def normalize(self, text: str) -> str:
        return text

    def text_ids(self, sentence: str, normalized: bool = True) -> list[int]:
        generator = torch.Generator().manual_seed(sum(map(ord, sentence)))
        ids = torch.randint(2454, self.vocab, (max(2, len(sentence) // 2),), generator=generator).tolist()
        return [self.start] + ids + [self.stop]


def timed(function):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="base directory or repo (S3Gen, voice encoder, default voice)")
    parser.add_argument("--arch", choices=["multilingual"], help="real-size T3 with random weights instead")
    parser.add_argument("--text-vocab", type=int, default=4454, help="extended text vocabulary size")
    parser.add_argument("--lengths", default="20,35,50,65,80,95,110,125",
                        help="speech tokens of each sentence (25 per second of audio)")
    parser.add_argument("--batch-size", type=int, default=8, help="sentences the batched decoder runs together")
    parser.add_argument("--paragraph-tokens", type=int, default=50, help="speech tokens per paragraph sentence")
    parser.add_argument("--skip-upstream", action="store_true", help="time the batched decoder only")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32", help="T3's dtype")
    args = parser.parse_args(argv)

    logging.getLogger("amharic_tts.inference").setLevel(logging.ERROR)  # random weights never stop: no warnings
    lengths = [int(n) for n in args.lengths.split(",")]
    torch.manual_seed(0)
    t3 = build_t3(t3_config_from_dict({})) if args.arch else load_t3(args.base)
    t3 = extend_text_vocab(t3, args.text_vocab, noise_std=0.0)
    plain = build_t3(t3.hp)  # a plain upstream T3 (no extension wrappers): what upstream's inference runs
    plain.load_state_dict(t3.state_dict())
    plain = plain.to(args.device, getattr(torch, args.dtype)).eval()
    tokenizer = _RandomIds(args.text_vocab, plain.hp.start_text_token, plain.hp.stop_text_token)
    tts = AmharicTTS(plain, tokenizer, s3gen=load_s3gen(args.base, device=args.device),
                     ve=load_voice_encoder(args.base, device=args.device),
                     default_voice=load_default_voice(args.base, device=args.device), device=args.device,
                     watermark=False)
    voice = tts.voice()
    cond = voice.t3
    sentences = tts.sentences(PARAGRAPH * 2)[: len(lengths)]
    texts = [torch.tensor(tokenizer.text_ids(s), device=args.device) for s in sentences]
    sampling = SamplingConfig()
    print(json.dumps({"device": args.device, "dtype": args.dtype, "threads": torch.get_num_threads(),
                      "t3_parameters": sum(p.numel() for p in plain.parameters()), "sentences": len(lengths),
                      "speech_tokens": lengths, "text_tokens": [len(t) for t in texts]}))

    def requests(short: bool = False):
        return [SpeechRequest(text, cond, max_new_tokens=4 if short else n, generator=torch.Generator(
            device=args.device).manual_seed(i)) for i, (text, n) in enumerate(zip(texts, lengths))]

    # warm-up, and the check that batching changes speed, never output (greedy, a short prefix)
    greedy = SamplingConfig(greedy=True)
    alone = [generate_many(plain, [r], sampling=greedy)[0].tokens for r in requests(short=True)]
    together = [r.tokens for r in generate_many(plain, requests(short=True), sampling=greedy,
                                                batch_sentences=args.batch_size)]
    same = sum(int((a == b).all()) for a, b in zip(alone, together))
    if args.dtype == "float32":  # exact in float32; bf16 rounding depends on the batch shape, so it is reported
        assert same == len(alone), "batched tokens differ from sentence-alone ones"

    results, produced = {"greedy_prefixes_equal_alone": f"{same}/{len(alone)}"}, {}
    batched, seconds = timed(lambda: generate_many(plain, requests(), sampling=sampling,
                                                   batch_sentences=args.batch_size))
    produced["batched"] = [len(r.tokens) + r.stopped for r in batched]
    results["batched_tokens_per_second"] = round(sum(produced["batched"]) / seconds, 2)
    results["batched_seconds"] = round(seconds, 1)
    if not args.skip_upstream:
        upstream_cond = copy.copy(cond).to(dtype=getattr(torch, args.dtype))  # upstream casts nothing itself

        def upstream():
            out = []
            for text, n in zip(texts, lengths):
                tokens = plain.inference(t3_cond=upstream_cond, text_tokens=torch.stack([text, text]), max_new_tokens=n,
                                         temperature=sampling.temperature, cfg_weight=sampling.cfg_weight,
                                         repetition_penalty=sampling.repetition_penalty, min_p=sampling.min_p,
                                         top_p=sampling.top_p)
                out.append(int(tokens.shape[-1]))
                if "patched_model" in plain._modules:
                    del plain.patched_model
            return out

        produced["upstream"], seconds = timed(upstream)
        results["upstream_tokens_per_second"] = round(sum(produced["upstream"]) / seconds, 2)
        results["upstream_seconds"] = round(seconds, 1)
        results["speedup"] = round(results["batched_tokens_per_second"] / results["upstream_tokens_per_second"], 2)
    for name, counts in produced.items():  # random weights: every sentence ran to its length, nothing skipped
        assert sum(counts) >= 0.95 * sum(lengths), f"{name} produced {counts}, expected {lengths}"
    results["produced"] = produced

    # S3Gen: one by one, and as one padded batch of the same voice
    token_sets = [r.tokens[r.tokens < 6561].to(args.device) for r in batched]
    _, one_by_one = timed(lambda: [tts.s3gen.inference(speech_tokens=t, ref_dict=voice.gen) for t in token_sets])
    padded = torch.nn.utils.rnn.pad_sequence(token_sets, batch_first=True)
    token_lens = torch.tensor([len(t) for t in token_sets], device=args.device)
    _, at_once = timed(lambda: tts.s3gen.inference(speech_tokens=padded, ref_dict=voice.gen,
                                                   speech_token_lens=token_lens))
    audio = sum(len(t) for t in token_sets) / 25
    results["s3gen_rtf_one_by_one"] = round(one_by_one / audio, 3)
    results["s3gen_rtf_batched"] = round(at_once / audio, 3)

    # AmharicTTS.generate on a paragraph: batched decoding + vocoding, end to end
    (wav, sr), seconds = timed(lambda: tts.generate(PARAGRAPH, seed=0, max_new_tokens=args.paragraph_tokens,
                                                    batch_size=args.batch_size))
    results["paragraph_sentences"] = len(tts.sentences(PARAGRAPH))
    results["paragraph_audio_seconds"] = round(wav.shape[-1] / sr, 2)
    results["paragraph_rtf"] = round(seconds / (wav.shape[-1] / sr), 3)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
