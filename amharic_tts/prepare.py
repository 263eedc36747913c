"""Prepare Amharic speech for training: SRT subtitles + media, LJSpeech-style folders and Hub datasets
-> a `datasets.DatasetDict` on disk (train/validation/test) with cached features and `prepare_report.json`.

    amharic-tts-prepare --output runs/data --srt film.mp4 film.srt --ljspeech corpus/ \\
        [--base-model ResembleAI/chatterbox] [--config default]
    python -m amharic_tts.prepare ...            # the same; prepare_dataset.py in a checkout too
    accelerate launch -m amharic_tts.prepare ... # shards the sources over processes / GPUs / nodes
"""

import argparse
import sys

from amharic_tts.cli import UserError, add_console_arguments, check_output_path, load_yaml, run_cli


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="amharic-tts-prepare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", required=True, help="directory for the DatasetDict and the report")
    p.add_argument("--srt", nargs=2, action="append", metavar=("MEDIA", "SUBS"), default=[],
                   help="a media file (any container FFmpeg reads) and its .srt; repeatable")
    p.add_argument("--srt-dir", action="append", default=[],
                   help="pair every media file in DIR with the .srt of the same stem; repeatable")
    p.add_argument("--ljspeech", action="append", default=[], help="an LJSpeech-style folder (metadata.csv + wavs/)")
    p.add_argument("--hub-dataset", action="append", default=[],
                   help="a Hub dataset name (or a directory saved with save_to_disk); repeatable")
    p.add_argument("--audio-column", default="audio", help="audio column of --hub-dataset")
    p.add_argument("--text-column", default="text", help="transcript column of --hub-dataset")
    p.add_argument("--speaker-column", default=None, help="speaker column of --hub-dataset, if any")
    p.add_argument("--split", default="train", help="split of --hub-dataset")
    p.add_argument("--base-model", default=None, help="Hub repo id or directory (feature extractors); "
                                                       "default ResembleAI/chatterbox")
    p.add_argument("--revision", default=None)
    p.add_argument("--num-proc", type=int, default=None, help="worker processes for decoding and features")
    p.add_argument("--cache-dir", default=None, help="datasets cache (default: HF_DATASETS_CACHE)")
    p.add_argument("--device", default=None, help="feature extraction device (default: cuda if available)")
    p.add_argument("--no-cache-mel", action="store_true", help="leave the log-mel column out (saves disk)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--validation-size", type=float, default=None, help="share (<1) or number of segments")
    p.add_argument("--test-size", type=float, default=None, help="share (<1) or number of segments")
    p.add_argument("--push-to-hub", metavar="REPO", help="push the DatasetDict with a dataset card")
    p.add_argument("--private", action="store_true", help="with --push-to-hub: a private dataset repo")
    p.add_argument("--config", help="a data config: a shipped name (default) or a YAML file; flags override it")
    add_console_arguments(p)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> int:
        check_output_path(args.output, kind="dir")  # before the sources are read and the feature models loaded
        from amharic_tts.configs import config_file
        from amharic_tts.data.prepare import REPORT_FILE, PrepareConfig, prepare_dataset, summarize
        from amharic_tts.data.sources import collect_sources
        from amharic_tts.model.base import DEFAULT_BASE

        settings = load_yaml(config_file("data", args.config)) if args.config else {}
        sources = settings.pop("sources", {}) or {}
        config_base, config_num_proc = settings.pop("base_model", None), settings.pop("num_proc", None)
        base_model = args.base_model or config_base or DEFAULT_BASE  # flags win over the file
        num_proc = args.num_proc or config_num_proc or 1
        for key in ("seed", "validation_size", "test_size"):
            if getattr(args, key) is not None:
                settings[key] = getattr(args, key)
        if args.no_cache_mel:
            settings["cache_mel"] = False
        config = PrepareConfig.from_dict(settings)
        hub = [dict(h) for h in sources.get("hub_datasets", [])]
        hub += [{"dataset": name, "split": args.split, "audio_column": args.audio_column,
                 "text_column": args.text_column, "speaker_column": args.speaker_column}
                for name in args.hub_dataset]
        srt_dirs = list(sources.get("srt_dir", [])) + args.srt_dir
        specs = collect_sources(srt_pairs=list(sources.get("srt", [])) + args.srt, srt_dirs=srt_dirs,
                                ljspeech=list(sources.get("ljspeech", [])) + args.ljspeech, hub=hub)
        if not specs:
            raise UserError("no sources: give --srt MEDIA SUBS, --srt-dir, --ljspeech or --hub-dataset")
        if args.push_to_hub:  # before hours of preparation, not after
            from amharic_tts.hub import PushError, check_can_push

            try:
                check_can_push()
            except PushError as err:
                raise UserError(f"--push-to-hub {args.push_to_hub}: {err}; nothing was prepared") from err
        result = prepare_dataset(specs, args.output, config, base_model=base_model, revision=args.revision,
                                 num_proc=num_proc, cache_dir=args.cache_dir, device=args.device,
                                 input_folders=srt_dirs)
        from accelerate import PartialState

        if not PartialState().is_main_process:  # already initialised by prepare_dataset
            return 0
        print(summarize(result.report))
        report_file = result.report_file
        if result.report["totals"]["segments"] == 0:  # the report's first warning says why
            if report_file.name != REPORT_FILE:
                raise UserError(f"{result.report['warnings'][0]}; the dataset already in {result.output_dir} is "
                                f"left as it was; see {report_file}")
            raise UserError(f"{result.report['warnings'][0]}; see {report_file}")
        print(f"wrote {result.output_dir} (report: {report_file})")
        if args.push_to_hub:
            push(result, config, base_model)
        return 0

    def push(result, config, base_model) -> None:
        from amharic_tts.data.card import dataset_card
        from amharic_tts.hub import hub_error_message, push_dataset

        card = dataset_card(result.report, license=config.license, pretty_name=config.pretty_name,
                            base_model=base_model)
        try:
            url = push_dataset(result.output_dir, args.push_to_hub, card, private=args.private)
        except Exception as err:  # Hub, network and repo-name errors alike: one line, the data stays on disk
            if args.debug:
                raise
            raise UserError(f"pushing to the Hub repo {args.push_to_hub} failed: {hub_error_message(err)}. "
                            f"The prepared dataset is kept in {result.output_dir}; run again with the same "
                            "arguments to push it (the cache makes that quick)") from err
        print(f"pushed to {url}")

    return run_cli(run, debug=args.debug, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
