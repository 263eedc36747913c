"""``python -m amharic_tts.studio`` (also ``amharic-tts-studio``): serve the studio page.

Binds to 127.0.0.1 unless told otherwise: ``--host 0.0.0.0`` or ``--share`` make the page reachable by others
(with ``--auth user:pass`` to ask for a password).
"""

from __future__ import annotations

import argparse
import os
import sys

from amharic_tts.cli import add_console_arguments


def build_parser() -> argparse.ArgumentParser:
    from amharic_tts.model.base import DEFAULT_BASE

    prog = "amharic-tts-studio" if os.path.basename(sys.argv[0]) == "amharic-tts-studio" else \
        "python -m amharic_tts.studio"
    p = argparse.ArgumentParser(prog=prog, description="Serve the amharic-tts studio: the whole workflow (data, "
                                "tokenizer, training, synthesis, evaluation, publishing) in one web page.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--workdir", default="runs/studio", help="folder for everything the studio makes "
                                                            "(default runs/studio)")
    p.add_argument("--base-model", default=DEFAULT_BASE, help="Hub repo id or directory of the base model "
                                                              "(default %(default)s)")
    p.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    p.add_argument("--auth", metavar="USER:PASS", help="ask for this user name and password")
    p.add_argument("--allow-path", action="append", default=[], metavar="DIR",
                   help="a folder (besides --workdir) whose data a page reachable from other machines may read; "
                        "repeatable. A page only this machine reaches may read any folder")
    add_console_arguments(p, debug_help="log everything at DEBUG (implies --verbose)")
    return p


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("--auth must be USER:PASS (both non-empty)")
    return user, password


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        auth = parse_auth(args.auth)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from amharic_tts.cli import setup_logging

    setup_logging(verbose=args.verbose, debug=args.debug)
    remote = args.share or args.host not in ("127.0.0.1", "localhost", "::1")
    if remote and not auth:
        print("warning: the page is reachable from other machines and asks for no password; add --auth USER:PASS",
              file=sys.stderr)
    from amharic_tts.studio.app import launch
    from amharic_tts.studio.common import Workspace

    # reachable from other machines: folders typed in the page are read only inside the work folder (and
    # --allow-path), never anywhere the server can read
    ws = Workspace(args.workdir, args.base_model, allowed_roots=tuple(args.allow_path) if remote else None)
    if remote:
        print(f"the page reads server folders only inside {ws.allowed_text()}", file=sys.stderr)
    launch(ws, host=args.host, port=args.port, share=args.share, auth=auth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
