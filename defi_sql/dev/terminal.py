"""What the command line writes: to stdout and stderr, where a reader that has
gone (``defi-sql status | head -1``) turns the stream into /dev/null instead of
a ``BrokenPipeError``, and a progress bar (a bar on a terminal, a line per tenth
otherwise)."""

from __future__ import annotations

import os
import sys
from typing import TextIO

__all__ = ["ProgressBar", "err", "out", "write"]


def write(stream: TextIO, text: str) -> None:
    """Write and flush; once the reader has gone, everything else goes to /dev/null."""
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        _discard(stream)


def _discard(stream: TextIO) -> None:
    # the Python docs' recipe (signal module, "Note on SIGPIPE"): point the descriptor at
    # /dev/null, so neither later writes nor the flush at exit fail again
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, stream.fileno())
    finally:
        os.close(devnull)


def out(line: str = "", *, end: str = "\n") -> None:
    """A line on stdout."""
    write(sys.stdout, line + end)


def err(line: str) -> None:
    """A line on stderr."""
    write(sys.stderr, line + "\n")


class ProgressBar:
    """Reports ``done`` of ``total`` on ``stream`` as it is called."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self._stream = stream
        self._label = label
        self._last_decile = -1

    def __call__(self, done: int, total: int) -> None:
        fraction = done / total
        if self._stream.isatty():
            filled = int(fraction * 30)
            bar = "#" * filled + "-" * (30 - filled)
            end = "\n" if done >= total else ""
            write(self._stream, f"\r{self._label} [{bar}] {done}/{total}{end}")
        elif int(fraction * 10) != self._last_decile:
            self._last_decile = int(fraction * 10)
            write(self._stream, f"{self._label}: {done}/{total} ({fraction:.0%})\n")
