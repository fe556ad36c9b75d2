"""Every `dialer ...` command in README.md and docs/*.md runs as written.

Code lines (indented or fenced blocks) are run in order, README first, then docs/ by name, in
one temporary working directory (with `config/` linked to the repository's) and a fresh
database and runtime directory, through ``dialer.cli.main`` (the console script's entry
point): `VAR=value` prefixes and `export VAR=value` lines set the environment as a shell would.
Commands that need a live PBX or the running service (``NEEDS_LIVE``: `dialer pbx ...`,
`dialer serve`, `dialer status`, test calls, trunk reloads, the demo, the minutes-long
benchmarks) are only parsed against the real argparse tree: this test never starts a PBX.
Inline mentions (`` `dialer why CAMPAIGN [--at TIME]` ``) must name a command path that exists
(placeholders and synopsis brackets are not runnable as written). About 10 s.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.cli import build_parser, main
from dialer.cli.compliance import DEPRECATED

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NEEDS_LIVE = {
    ("pbx",), ("call",), ("serve",), ("status",), ("demo",), ("bench",), ("trunk", "list"),
    ("trunk", "reload"), ("trunk", "test"), ("qa", "call"),
}  # fmt: skip
EXIT_CODES = {("why",): {0, 3}, ("dnc", "check"): {0, 1}}  # documented non-zero answers
_COMMAND = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*(?:\.venv/bin/)?dialer(?:\s|$)")
_INLINE = re.compile(r"`((?:\.venv/bin/)?dialer [^`]+)`")


def code_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of the shell lines in indented or fenced blocks."""
    fenced = False
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced or line.startswith("    "):
            yield n, line.strip()


def commands() -> list[tuple[str, str]]:
    """(where, line) of every shell line that runs `dialer` or exports a variable."""
    out = []
    for path in DOCS:
        for n, text in code_lines(path):
            if _COMMAND.match(text) or text.startswith("export "):
                out.append((f"{path.relative_to(ROOT)}:{n}", text))
    return out


def split(text: str) -> tuple[dict[str, str], list[str]]:
    """The environment assignments and the argv after `dialer` (comments and `&` dropped)."""
    words = shlex.split(text, comments=True)
    env: dict[str, str] = {}
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    if words and words[-1] == "&":
        words.pop()
    assert words and words[0] in ("dialer", ".venv/bin/dialer"), text
    for word in words:
        assert word not in ("|", ">", "<", "&&", ";"), f"{text}: a shell pipeline"
    return env, words[1:]


def command_path(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[str, ...]:
    """The sub-command names at the head of ``argv`` that the tree knows, e.g. ("dnc", "add");
    raises AssertionError for an unknown command or action."""
    path: list[str] = []
    current = parser
    for word in argv:
        subs = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            break
        choices = subs[0].choices
        known = ", ".join(sorted(c for c in choices if c not in DEPRECATED))
        assert word in choices, f"`{' '.join([*path, word])}`: no such command ({known})"
        path.append(word)
        current = choices[word]
    return tuple(path)


def live_only(path: tuple[str, ...]) -> bool:
    return any(path[: len(k)] == k for k in NEEDS_LIVE)


def test_every_documented_command_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config").symlink_to(ROOT / "config")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENDIALER_RUNTIME_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("OPENDIALER_DATABASE", str(tmp_path / "dialer.sqlite3"))
    (tmp_path / "var").mkdir()
    parser = build_parser()
    ran, parsed = [], []
    for where, text in commands():
        if text.startswith("export "):
            name, _, value = text.split()[1].partition("=")
            monkeypatch.setenv(name, value)
            continue
        env, argv = split(text)
        path = command_path(parser, argv)
        assert path[:1] and path[0] not in DEPRECATED, f"{where}: documents `{text}`"
        if live_only(path):
            parser.parse_args(argv)  # SystemExit (a parse error) fails the test
            parsed.append(where)
            continue
        with monkeypatch.context() as m:
            for name, value in env.items():
                m.setenv(name, value)
            code = main(argv)
        out = capsys.readouterr()
        allowed = EXIT_CODES.get(path[:2], EXIT_CODES.get(path[:1], {0}))
        assert code in allowed, f"{where}: `{text}` exited {code}\n{out.out}\n{out.err}"
        ran.append(where)
    assert len(ran) >= 25 and len(parsed) >= 10, (ran, parsed)
    # what the compliance examples left behind, as the docs say
    assert (tmp_path / "exports" / "agents.csv").exists()
    assert (tmp_path / "report.html").read_text().startswith("<!doctype html>")
    assert not (tmp_path / "-").exists()  # `-o -` is standard output, never a file named -


def test_every_inline_mention_names_a_real_command() -> None:
    parser = build_parser()
    seen = 0
    for path in DOCS:
        for match in _INLINE.finditer(path.read_text(encoding="utf-8")):
            words = match[1].split()[1:]
            if words[0].startswith("-"):
                assert words[0] in ("-h", "--help"), f"{path.name}: `{match[1]}`"
                continue
            # the leading lower-case words, up to the first placeholder, option or value
            head = []
            for word in words:
                if not re.match(r"^[a-z][a-z-]*$", word):
                    break
                head.append(word)
            assert command_path(parser, head), f"{path.name}: `{match[1]}`"
            assert words[0] not in DEPRECATED, f"{path.name}: `{match[1]}` is an old spelling"
            seen += 1
    assert seen >= 20
