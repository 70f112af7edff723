"""Size units. Bricks and devices are counted in KiB, volumes in GiB, as in Heketi."""

KIB = 1
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB


def gib_to_kib(gib: int) -> int:
    return gib * GIB


def kib_to_gib(kib: int) -> int:
    """Integer division, as heketi-cli prints sizes."""
    return kib // GIB


def round_up(value: int, multiple: int) -> int:
    if multiple <= 0:
        return value
    return -(-value // multiple) * multiple


def counted(n: int, noun: str) -> str:
    """``1 volume``, ``2 volumes``: a count of things in a line people read."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
