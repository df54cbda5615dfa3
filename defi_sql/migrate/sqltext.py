"""SQL text as the migration checks read it: comments, string literals, quoted
names and dollar quotes told apart from the statements around them."""

from __future__ import annotations

import re

__all__ = ["line_of", "scan"]


def scan(text: str) -> tuple[str, list[tuple[int, str]]]:
    """``text`` with comments, string literals and quoted names blanked out (same
    length, newlines kept), and every comment as (offset, text inside its markers)."""
    masked = list(text)
    comments: list[tuple[int, str]] = []

    def blank(start: int, end: int) -> None:
        for k in range(start, end):
            if masked[k] != "\n":
                masked[k] = " "

    i, n = 0, len(text)
    while i < n:
        if text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            comments.append((i, text[i + 2 : end]))
            blank(i, end)
            i = end
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            comments.append((i, text[i + 2 : j - 2]))
            blank(i, j)
            i = j
        elif text[i] in "'\"":
            quote = text[i]
            backslash = quote == "'" and i > 0 and text[i - 1] in "eE"
            j = i + 1
            while j < n:
                if backslash and text[j] == "\\":
                    j += 2
                elif text[j] == quote:
                    if text.startswith(quote * 2, j):
                        j += 2
                    else:
                        break
                else:
                    j += 1
            blank(i + 1, min(j, n))
            i = j + 1
        elif text[i] == "$" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            tag = re.match(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$", text[i:])
            if tag is None:
                i += 1
                continue
            close = text.find(tag.group(0), i + len(tag.group(0)))
            end = n if close < 0 else close + len(tag.group(0))
            blank(i, end)
            i = end
        else:
            i += 1
    return "".join(masked), comments


def line_of(text: str, offset: int) -> int:
    """The 1-based line of ``offset`` in ``text``."""
    return text.count("\n", 0, offset) + 1
