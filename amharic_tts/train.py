"""Fine-tune Chatterbox's T3 for Amharic.

    accelerate launch -m amharic_tts.train amharic [--key value ...]    # or train_t3.py / amharic-tts-train
    amharic-tts-train smoke --output_dir runs/smoke --base_model ... --tokenizer ... --dataset ...

CONFIG is a shipped training config (amharic, amharic_lora, smoke: `python -m amharic_tts.configs`) or a YAML
file; it fills the model / data / training arguments (HfArgumentParser) and flags after it override it.
`--resume_from_checkpoint latest` continues the newest complete checkpoint in output_dir; a Hub repo id continues
the checkpoint a run pushed there with `push_to_hub: true` and `hub_strategy: checkpoint`.

With `push_to_hub: true` the merged export (T3, tokenizer, model card with audio samples) is pushed to
`hub_model_id` at the end; `hub_strategy: every_save` (or `checkpoint`, `all_checkpoints`) also uploads an export
of each checkpoint while training goes on (and the checkpoint itself, to resume elsewhere).
"""

from __future__ import annotations

import argparse
import logging
import sys

from amharic_tts.cli import UserError, add_console_arguments, load_yaml, run_cli, setup_logging

logger = logging.getLogger("amharic_tts.train")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amharic-tts-train", description=__doc__, add_help=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="a shipped training config name or a YAML file")
    parser.add_argument("-h", "--help", action="store_true", help="show this help and every setting")
    add_console_arguments(parser)
    return parser


def print_help() -> None:
    from amharic_tts.training.args import argument_parser

    build_parser().print_help()
    print("\nsettings (in the YAML file or as --key value flags):")
    argument_parser().print_help()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print_help()
        return 0
    args, overrides = build_parser().parse_known_args(argv)
    if args.help:
        print_help()
        return 0

    def run() -> int:
        from amharic_tts.configs import config_file
        from amharic_tts.training.args import parse_config

        path = config_file("train", args.config)
        settings = load_yaml(path)
        try:
            model_args, data_args, training_args = parse_config(settings, overrides)
        except ValueError as err:
            raise UserError(f"{path}: {err}") from err
        # as the HF examples do: this run's steps once (the main process), other libraries at the level
        # training_args give each process (log_level / log_level_replica; WARNING when left passive)
        setup_logging(verbose=args.verbose, debug=args.debug, main_process=training_args.process_index == 0,
                      library_level=training_args.get_process_log_level())
        train_and_push(model_args, data_args, training_args)
        return 0

    return run_cli(run, debug=args.debug, verbose=args.verbose)


def train_and_push(model_args, data_args, training_args) -> dict:
    """Train; with ``push_to_hub`` upload exports while training (``hub_strategy``) and push the final export."""
    from pathlib import Path

    from amharic_tts.training.run import train

    push = bool(training_args.push_to_hub)
    main_process = training_args.process_index == 0
    callbacks = []
    if push:
        from amharic_tts.export import HubSyncCallback
        from amharic_tts.hub import PushError, check_can_push

        try:  # before hours of training, not after
            check_can_push(training_args.hub_token)
        except PushError as err:
            raise UserError(f"push_to_hub: {err}; nothing was trained") from err
        repo_id = training_args.hub_model_id or Path(training_args.output_dir).name
        strategy = getattr(training_args.hub_strategy, "value", training_args.hub_strategy)
        if main_process and strategy != "end":
            callbacks.append(HubSyncCallback(repo_id, strategy=strategy,
                                             private=bool(training_args.hub_private_repo),
                                             token=training_args.hub_token))
    summary = train(model_args, data_args, training_args, callbacks=callbacks)
    if push and main_process:
        from amharic_tts.export import export_and_push

        output_dir = Path(summary["output_dir"])
        if summary["stopped_by"] != "end":
            logger.warning("the run was stopped before its end: not pushing the final model; resume it, or push a "
                           "checkpoint with python -m amharic_tts.export --checkpoint CHECKPOINT --push-to-hub REPO")
        else:
            export_and_push(output_dir, output_dir / "export", repo_id=repo_id,
                            private=bool(training_args.hub_private_repo), token=training_args.hub_token,
                            samples=training_args.num_samples)
    return summary


if __name__ == "__main__":
    sys.exit(main())
