"""The `softphone` command: the agent desktop (PyQt5), or `--headless` scripted agents.

    softphone --headless --agent 1001-1004 --voice tone:440     # auto-answering agents
    softphone --headless --agent 1015 --call 9196 --dtmf 12#    # one test call, reported
    softphone --headless --help                                 # every headless option

Without `--headless` the agent window starts (`softphone --help-window` for its options).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--headless" in args:
        args.remove("--headless")
        from softphone import headless

        return headless.main(args)
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if "--help-window" in args:
        args = ["--help"]
    from softphone import app

    return app.main(args)


if __name__ == "__main__":
    sys.exit(main())
