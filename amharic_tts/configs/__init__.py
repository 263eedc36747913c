"""The shipped configurations, as package data: one folder per stage, each YAML file named by its stem.

Every command that reads a config takes a name or a path: ``python -m amharic_tts.train amharic`` and
``python -m amharic_tts.train my_run.yaml`` alike. ``python -m amharic_tts.configs`` lists them; ``... path NAME``
prints a file's path (for ``accelerate launch --config_file``); ``... copy NAME [FOLDER]`` copies one to edit.

    data/        prepare (segment limits, filters, split sizes)
    tokenizer/   tokenizer (vocabulary size, normalisation options)
    train/       train: amharic (full fine-tune), amharic_lora, smoke
    accelerate/  accelerate launch --config_file: single_gpu, multi_gpu, multi_node, deepspeed_zero2
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from amharic_tts.cli import UserError

FOLDER = Path(__file__).resolve().parent
KINDS = ("data", "tokenizer", "train", "accelerate")


def names(kind: str) -> list[str]:
    """The shipped configs of ``kind``, by name."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return sorted(p.stem for p in (FOLDER / kind).glob("*.yaml"))


def config_file(kind: str, name_or_path: str | os.PathLike) -> Path:
    """A config file: an existing path as it is, else the shipped config of ``kind`` with that name (``amharic``
    or ``amharic.yaml``). A name that is neither says which names exist."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    shipped = FOLDER / kind / (path.name if path.suffix in (".yaml", ".yml") else f"{path.name}.yaml")
    if path.parent == Path(".") and shipped.is_file():
        return shipped
    if path.is_dir():
        raise UserError(f"config {name_or_path} is a folder: give a YAML file or a shipped name "
                        f"({', '.join(names(kind))})")
    raise UserError(f"config {name_or_path} is neither a file nor a shipped {kind} config "
                    f"({', '.join(names(kind))})")


def _find(name: str) -> Path:
    """A shipped config by name alone, in any kind; ``kind/name`` picks one where two kinds share a name."""
    kind, _, stem = name.rpartition("/")
    kinds = [kind] if kind else list(KINDS)
    found = [FOLDER / k / f"{Path(stem).stem}.yaml" for k in kinds if k in KINDS]
    found = [p for p in found if p.is_file()]
    if len(found) == 1:
        return found[0]
    if found:
        raise UserError(f"{name} names {len(found)} configs: say which, e.g. "
                        f"{', '.join(f'{p.parent.name}/{p.stem}' for p in found)}")
    raise UserError(f"no shipped config {name!r}; `python -m amharic_tts.configs` lists them")


def main(argv: list[str] | None = None) -> int:
    from amharic_tts.cli import run_cli

    parser = argparse.ArgumentParser(prog="python -m amharic_tts.configs", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("list", help="the shipped configs (the default)")
    show = sub.add_parser("path", help="print a config's path (for accelerate launch --config_file)")
    show.add_argument("name", help="a config name, e.g. multi_gpu or train/amharic")
    copy = sub.add_parser("copy", help="copy a config to edit it")
    copy.add_argument("name")
    copy.add_argument("folder", nargs="?", default=".", help="where to copy it (default: here)")
    args = parser.parse_args(argv)

    def run() -> int:
        if args.command == "path":
            print(_find(args.name))
        elif args.command == "copy":
            source = _find(args.name)
            target = Path(args.folder) / source.name
            if target.exists():
                raise UserError(f"{target} exists: not overwriting it")
            Path(args.folder).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            print(target)
        else:
            for kind in KINDS:
                print(f"{kind + ':':12s}{'  '.join(names(kind))}")
            print(f"\n(in {FOLDER}; `python -m amharic_tts.configs copy NAME` copies one to edit)")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
