"""What a terminal shows after the text a program wrote to it: ``\r`` goes back to the start of
the line without erasing it, so a progress line redrawn in place shows its last drawing (and
what a shorter drawing did not cover). Shared by the progress line's tests."""

from __future__ import annotations


def screen_lines(text: str) -> list[str]:
    """Every line the terminal shows, trailing blanks removed."""
    shown: list[str] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        line: list[str] = []
        column = 0
        for char in raw:
            if char == "\r":
                column = 0
                continue
            line[column : column + 1] = [char]
            column += 1
        shown.append("".join(line).rstrip())
    return shown


def last_screen_line(text: str) -> str:
    """The line the cursor is on at the end: where the progress line is drawn."""
    return screen_lines(text)[-1]
