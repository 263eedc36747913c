"""Synthesis speed: T3 speech tokens per second (the KV-cached decoder of ``amharic_tts.model.generate`` with
CFG, as ``AmharicTTS.generate`` runs it) and S3Gen's vocoding speed, as a real-time factor (seconds of compute per
second of audio; below 1 is faster than real time).

    python bench/bench_synthesize.py --base runs/demo/base --arch multilingual   # real-size 520M T3, random weights
    python bench/bench_synthesize.py --base runs/demo/base --device cuda

``--base`` supplies S3Gen, the voice encoder and the default voice (the tiny base's are real-size); T3 is the
base's, or with ``--arch multilingual`` upstream's real-size architecture with random weights and an Amharic-sized
text vocabulary. Random weights never say stop, so every run generates exactly ``--tokens`` speech tokens.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from amharic_tts.inference import AmharicTTS, GenerationConfig
from amharic_tts.model.base import build_t3, load_default_voice, load_s3gen, load_t3, load_voice_encoder, \
    t3_config_from_dict
from amharic_tts.model.vocab import extend_text_vocab


class _FixedText:
    """Stands in for the tokenizer: ``sentence`` is a string of text ids (no real text is needed here)."""

    def __init__(self, ids):
        self.ids = ids

    def text_ids(self, sentence, normalized=True):
        return self.ids


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="base directory or repo (S3Gen, voice encoder, default voice)")
    parser.add_argument("--arch", choices=["multilingual"], help="real-size T3 with random weights instead")
    parser.add_argument("--text-vocab", type=int, default=4454, help="extended text vocabulary size")
    parser.add_argument("--text-tokens", type=int, default=40)
    parser.add_argument("--tokens", type=int, default=100, help="speech tokens per run (25 per second of audio)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    t3 = build_t3(t3_config_from_dict({})) if args.arch else load_t3(args.base)
    t3 = extend_text_vocab(t3, args.text_vocab, noise_std=0.0)
    plain = build_t3(t3.hp)
    plain.load_state_dict(t3.state_dict())
    generator = torch.Generator().manual_seed(0)
    ids = [t3.hp.start_text_token] + torch.randint(2454, args.text_vocab, (args.text_tokens,),
                                                   generator=generator).tolist() + [t3.hp.stop_text_token]
    tts = AmharicTTS(plain, _FixedText(ids), s3gen=load_s3gen(args.base, device=args.device),
                     ve=load_voice_encoder(args.base, device=args.device),
                     default_voice=load_default_voice(args.base, device=args.device), device=args.device)
    voice = tts.voice()
    config = GenerationConfig()
    print(json.dumps({"device": args.device, "t3_parameters": sum(p.numel() for p in plain.parameters()),
                      "threads": torch.get_num_threads()}))
    t3_times, vocoder_times, audio_seconds = [], [], []
    for run in range(args.runs + 1):  # the first run warms up
        torch.manual_seed(run)
        start = time.perf_counter()
        tokens = tts.speech_tokens("x", voice, config, max_new_tokens=args.tokens)
        middle = time.perf_counter()
        wav = tts.vocode(tokens, voice)
        end = time.perf_counter()
        if run:
            t3_times.append(middle - start)
            vocoder_times.append(end - middle)
            audio_seconds.append(len(wav) / tts.sr)
    t3_time, vocoder_time, audio = sum(t3_times), sum(vocoder_times), sum(audio_seconds)
    print(json.dumps({
        "speech_tokens_per_run": args.tokens, "runs": args.runs,
        "t3_tokens_per_second": round(args.tokens * args.runs / t3_time, 1),
        "t3_rtf": round(t3_time / (args.tokens * args.runs / 25), 3),
        "s3gen_rtf": round(vocoder_time / audio, 3),
        "rtf": round((t3_time + vocoder_time) / audio, 3),
        "audio_seconds": round(audio, 2),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
