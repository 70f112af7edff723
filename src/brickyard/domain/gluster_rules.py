"""What GlusterFS 10.3 accepts for volume names, layouts and volume options.

Pure rules, applied at the API boundary so that a request GlusterFS would refuse later (in
``volume create`` or ``volume set``, after bricks were made) is refused at once with a reason an
admin understands.  The option rules are data: ``gluster10_options.json`` next to this module,
recorded from a real GlusterFS 10.3 cluster by ``testbed/record-gluster-options`` (each key set to
a list of probe values on scratch volumes of every layout; see the header of that file).  Every
recorded probe is replayed by the unit tests: a value GlusterFS refused is refused here too.

A few values GlusterFS accepts are refused on purpose (the tests list them with the reason):
hexadecimal numbers, short option names (``cache-size`` for ``performance.cache-size``), values
GlusterFS accepts only while an option's translator is off (``features.shard-block-size 1KB``
is refused by ``features.shard on`` later), directories not known to exist on every node, and
options GlusterFS copies to every volume of the cluster.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

CATALOG_PATH = Path(__file__).with_name("gluster10_options.json")

# ---- volume names ------------------------------------------------------------------------------

# The gluster CLI refuses these names exactly (case-sensitive) in `volume create`.
RESERVED_VOLUME_NAMES = frozenset(
    {
        "volume",
        "type",
        "subvolumes",
        "option",
        "end-volume",
        "all",
        "volume_not_in_ring",
        "description",
        "force",
        "snap-max-hard-limit",
        "snap-max-soft-limit",
        "auto-delete",
        "activate-on-create",
    }
)
MAX_VOLUME_NAME = 256
_VOLUME_NAME = re.compile(r"[A-Za-z0-9_-]+")


def volume_name_problem(name: str) -> str | None:
    """Why GlusterFS would refuse (or not manage) a volume of this name, or None.

    Beyond the CLI's own checks, any spelling of 'all' ('ALL', 'All') is refused: `volume create`
    accepts it, but then `volume set/get/reset ALL ...` act on the whole cluster instead, and
    `volume stop/delete ALL` fail (glusterd finds no volume id): the volume cannot be removed."""
    if not name:
        return "volume name is empty"
    if len(name) > MAX_VOLUME_NAME:
        return f"volume name is {len(name)} characters long; GlusterFS allows {MAX_VOLUME_NAME}"
    if name.startswith("-"):
        return f"volume name {name!r} starts with '-'"
    if not _VOLUME_NAME.fullmatch(name):
        bad = next(ch for ch in name if not _VOLUME_NAME.fullmatch(ch))
        return (
            f"volume name {name!r} contains {bad!r}: GlusterFS allows only letters, digits,"
            " '_' and '-'"
        )
    if name in RESERVED_VOLUME_NAMES:
        return f"volume name {name!r} is reserved by GlusterFS"
    if name.lower() == "all":
        return (
            f"volume name {name!r}: GlusterFS takes it for 'all' (every volume): such a volume"
            " can be created but not configured, stopped or deleted"
        )
    return None


# ---- volume file names --------------------------------------------------------------------------

# glusterd writes one volfile per brick, "<volume>.<host>.<brick path, '/' -> '-'>.vol", through a
# temporary "<that>.tmp": that name must fit in NAME_MAX (255) bytes.  Measured on 10.3 with
# Brickyard's brick path and two host lengths (10.200.0.1, a 40-character alias): a name of 251
# works (create, set, start, stop, delete), 252 fails ("Failed to create volume files"), from
# 255 on "... is too long".  The client volfiles follow the same rule: the longest is
# "trusted-<volume>.tcp-gfproxy-fuse.vol", so no volume name is longer than 222 (measured).
MAX_VOLFILE_NAME = 251
DEFAULT_BRICK_PATH_LENGTH = len(
    "/var/lib/heketi/mounts/vg_" + "0" * 32 + "/brick_" + "0" * 32 + "/brick"
)
DEFAULT_VOLUME_NAME_LENGTH = len("vol_" + "0" * 32)
# The longest storage hostname with which Brickyard's default names (vol_<id>) still fit.
MAX_STORAGE_HOST_FOR_DEFAULT_NAMES = (
    MAX_VOLFILE_NAME
    - DEFAULT_VOLUME_NAME_LENGTH
    - 2
    - (DEFAULT_BRICK_PATH_LENGTH - 1)
    - len(".vol")
)
_CLIENT_VOLFILES = ("trusted-{}.tcp-gfproxy-fuse.vol", "trusted-{}.tcp-fuse.vol", "{}.gfproxyd.vol")


def brick_volfile_name(volume_name: str, storage_host: str, brick_path: str) -> str:
    """The name glusterd gives the volfile of a brick."""
    return f"{volume_name}.{storage_host}.{brick_path.strip('/').replace('/', '-')}.vol"


def volfile_name_problem(volume_name: str, storage_host: str, brick_path: str) -> str | None:
    """Why glusterd would fail to write the volfiles of this volume/brick, or None."""
    names = [brick_volfile_name(volume_name, storage_host, brick_path)]
    names += [pattern.format(volume_name) for pattern in _CLIENT_VOLFILES]
    longest = max(names, key=lambda n: len(n.encode()))
    size = len(longest.encode())
    if size <= MAX_VOLFILE_NAME:
        return None
    over = size - MAX_VOLFILE_NAME
    return (
        f"volume name {volume_name!r} is too long for brick {storage_host}:{brick_path}: GlusterFS"
        f" names a volume file {longest!r} ({size} characters, at most {MAX_VOLFILE_NAME}); shorten"
        f" the name by {over} characters"
    )


# ---- layouts ------------------------------------------------------------------------------------


def replica_problem(replica: int | None) -> str | None:
    """GlusterFS refuses `replica 1` ("replica count should be greater than 1")."""
    if replica is None:
        return None
    if replica < 2:
        return f"replica count {replica}: GlusterFS needs at least 2 (use durability none)"
    return None


@dataclass(frozen=True)
class Layout:
    """The shape of the volume an option is meant for: the few rules that depend on it."""

    durability: str = "replicate"  # "none" | "replicate" | "disperse"
    replica: int = 0
    disperse_data: int = 0
    disperse_redundancy: int = 0
    distribute_count: int = 1  # replica/disperse sets (the bricks of a none volume)
    bricks: int = 0

    @classmethod
    def of(
        cls,
        replica: int = 0,
        disperse_data: int = 0,
        disperse_redundancy: int = 0,
        sets: int = 0,
    ) -> Layout:
        """The layout of a volume with `sets` brick sets (0: not placed yet, so the bounds that
        depend on the number of sets are not checked) of `replica` bricks or of a disperse
        data+redundancy; neither: one brick per set."""
        if replica:
            return cls("replicate", replica=replica, distribute_count=sets)
        if disperse_data:
            return cls(
                "disperse",
                disperse_data=disperse_data,
                disperse_redundancy=disperse_redundancy,
                distribute_count=sets,
            )
        return cls("none", distribute_count=sets, bricks=sets)

    def bound(self, name: str) -> int | None:
        """A symbolic bound of the catalog ('replica', 'disperse_count'...), or None."""
        values = {
            "replica": self.replica if self.durability == "replicate" else 1,
            "disperse_data": self.disperse_data,
            "disperse_count": self.disperse_data + self.disperse_redundancy,
            "distribute_count": self.distribute_count,
        }
        found = values.get(name)
        return found if found else None


# ---- option catalog -----------------------------------------------------------------------------


@functools.cache
def catalog() -> dict[str, Any]:
    """The recorded catalog (gluster10_options.json)."""
    data: dict[str, Any] = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    return data


def reload_catalog() -> None:
    """Read the catalog file again (testbed/record-gluster-options, after writing it)."""
    catalog.cache_clear()


def option_keys() -> list[str]:
    return sorted(catalog()["options"])


def groups() -> list[str]:
    return sorted(catalog()["groups"])


def _rule(key: str, layout: Layout | None) -> dict[str, Any] | None:
    entry: dict[str, Any] | None = catalog()["options"].get(key)
    if entry is None:
        return None
    if layout is not None:
        override: dict[str, Any] | None = entry.get("by_durability", {}).get(layout.durability)
        if override is not None:
            return override
    return entry


_BOOL_WORDS = frozenset({"on", "off", "yes", "no", "true", "false", "enable", "disable", "1", "0"})
_INT = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_SIZE = re.compile(r"([0-9]+\.?[0-9]*|\.[0-9]+)\s*([kmgtp]?b)?", re.I)
_UNITS = {"": 1, "b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40, "pb": 1 << 50}
_PERCENT = re.compile(r"([0-9]+\.?[0-9]*|\.[0-9]+)\s*%")
_TIME = re.compile(r"([0-9]+)\s*(s|sec|m|min|h|hr|d|w)?")
_SECONDS = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}
_SECONDS["w"] = 7 * 86400
# Directories that exist on every GlusterFS node (the FHS ones and those glusterd makes): an
# option of kind "path" must name a directory on all nodes, which Brickyard cannot check.
KNOWN_DIRECTORIES = (
    "/",
    "/tmp",
    "/var/lib/glusterd",
    "/var/log/glusterfs",
    "/var/run/gluster",
    "/run/gluster",
)
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")  # 64 works in gluster


def _human_bytes(n: int) -> str:
    for unit, size in (("PB", 1 << 50), ("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024}KB"
    return str(n)


def _range_text(lo: float | None, hi: float | None, fmt: Any = str) -> str:
    if lo is not None and hi is not None:
        return f"between {fmt(lo)} and {fmt(hi)}"
    if lo is not None:
        return f"at least {fmt(lo)}"
    return f"at most {fmt(hi)}"


def _bounds(rule: dict[str, Any], layout: Layout | None) -> tuple[float | None, float | None]:
    """(min, max) of a numeric rule; symbolic layout bounds resolved (or dropped: no layout)."""
    lo: float | None = rule.get("min")
    hi: float | None = rule.get("max")
    symbolic: dict[str, Any] = rule.get("layout_bounds") or {}
    for side in ("min", "max"):
        if side in symbolic:
            value = symbolic[side]
            resolved = value if isinstance(value, int) else layout.bound(value) if layout else None
            if side == "min":
                lo = resolved
            else:
                hi = resolved
    return lo, hi


def _check_range(
    key: str, value: str, amount: float, rule: dict[str, Any], layout: Layout | None, fmt: Any
) -> str | None:
    lo, hi = _bounds(rule, layout)
    if (lo is not None and amount < lo) or (hi is not None and amount > hi):
        wanted = _range_text(lo, hi, fmt)
        return f"volume option {key}: {value!r} is out of range, it must be {wanted}"
    return None


def _size_bytes(text: str, *, whole: bool = False) -> int | None:
    """Bytes of "64MB", "1.5 GB", "512"...; `whole`: as a percent-or-size option reads them
    (no fraction, no unit "B")."""
    found = _SIZE.fullmatch(text)
    if not found:
        return None
    number, unit = found.group(1), (found.group(2) or "").lower()
    if whole and ("." in number or unit == "b"):
        return None
    try:
        amount = Decimal(number) * _UNITS[unit]
    except InvalidOperation:
        return None
    return int(amount)


def _address_entry_ok(entry: str) -> bool:
    if entry == "*":
        return True
    if ":" in entry:  # IPv6, without a prefix length
        try:
            ipaddress.IPv6Address(entry)
            return True
        except ValueError:
            return False
    address, _, prefix = entry.partition("/")
    parts = address.split(".")
    if prefix and (not prefix.isdigit() or int(prefix) > 32 or len(parts) != 4 or "*" in address):
        return False
    if len(parts) == 4 and all(p == "*" or (p.isdigit() and int(p) <= 255) for p in parts):
        return True
    if prefix or "*" in address or len(address) > 255:
        return False
    return all(_HOST_LABEL.fullmatch(p) for p in parts)


def _value_problem(
    key: str, value: str, rule: dict[str, Any], layout: Layout | None, volume: str | None
) -> str | None:
    kind = rule["kind"]
    refused: list[str] = rule.get("refused_values", [])
    if value in refused:
        return f"volume option {key}: GlusterFS refuses {value!r}"
    if kind == "refused":
        return f"volume option {key} cannot be set on this volume: {rule['reason']}"
    if kind in ("text", "word"):
        return _text_problem(key, value, rule)
    if kind == "bool":
        if value.lower() in _BOOL_WORDS:
            return None
        return (
            f"volume option {key}: {value!r} is not a boolean"
            " (on/off, yes/no, true/false, enable/disable, 1/0)"
        )
    if kind in ("enum", "values"):
        values: list[str] = rule["values"]
        if value in values:
            return None
        return f"volume option {key}: {value!r} is not one of {', '.join(values)}"
    if kind == "int":
        if not _INT.fullmatch(value):
            return f"volume option {key}: {value!r} is not an integer"
        return _check_range(key, value, int(value), rule, layout, str)
    if kind == "float":
        if not _NUMBER.fullmatch(value):
            return f"volume option {key}: {value!r} is not a number"
        return _check_range(key, value, float(value), rule, layout, str)
    if kind == "size":
        size = _size_bytes(value)
        if size is None:
            return f"volume option {key}: {value!r} is not a size (e.g. 64MB)"
        return _check_range(key, value, size, rule, layout, _human_bytes)
    if kind in ("percent", "percent-or-size"):
        found = _PERCENT.fullmatch(value)
        if found:
            pct_rule = {"min": rule.get("percent_min", 0), "max": rule.get("percent_max", 100)}
            return _check_range(key, value, float(found.group(1)), pct_rule, None, str)
        if kind == "percent":
            plain = _NUMBER.fullmatch(value) and rule.get("plain_number_is_percent")
            if plain:
                pct_rule = {"min": rule.get("percent_min", 0), "max": rule.get("percent_max", 100)}
                return _check_range(key, value, float(value), pct_rule, None, str)
            return f"volume option {key}: {value!r} is not a percentage (e.g. 10%)"
        size = _size_bytes(value, whole=True)
        if size is None:
            return (
                f"volume option {key}: {value!r} is not a percentage or a whole size"
                " (e.g. 10% or 64MB)"
            )
        return _check_range(key, value, size, rule, layout, _human_bytes)
    if kind == "time":
        found = _TIME.fullmatch(value)
        if not found:
            return f"volume option {key}: {value!r} is not a duration (e.g. 42, 42s, 10m, 1h)"
        seconds = int(found.group(1)) * _SECONDS[found.group(2) or ""]
        return _check_range(key, value, seconds, rule, layout, lambda s: f"{s}s")
    if kind == "xlator":
        found = re.fullmatch(r"(.+)-client-([0-9]+)", value)
        bricks = layout.bricks if layout else 0
        mine = found is not None and (volume is None or found.group(1) == volume)
        if found and mine and (not bricks or int(found.group(2)) < bricks):
            return None
        name = volume or "<volume>"
        return f"volume option {key}: {value!r} is not a brick of the volume ({name}-client-N)"
    if kind == "path":
        if value.rstrip("/") in KNOWN_DIRECTORIES or value == "/":
            return None
        return (
            f"volume option {key}: {value!r} must be a directory on every node; Brickyard"
            f" accepts only {', '.join(KNOWN_DIRECTORIES)}"
        )
    if kind == "absolute-path":
        if value.startswith("/"):
            return None
        return f"volume option {key}: {value!r} is not an absolute path"
    if kind == "priority-list":
        entries = "".join(value.split()).split(",")
        if all(_PRIORITY.fullmatch(e) for e in entries):
            return None
        return (
            f"volume option {key}: {value!r} is not a list of pattern:priority"
            " (e.g. *.jpg:1,*.txt:2)"
        )
    if kind == "address-list":
        entries = "".join(value.split()).split(",")
        if all(entries) and all(_address_entry_ok(e) for e in entries):
            return None
        return (
            f"volume option {key}: {value!r} is not a comma-separated list of addresses or host"
            " names (e.g. 10.0.0.*,192.168.1.0/24,host.example.com)"
        )
    raise ValueError(f"unknown rule kind {kind!r} for {key}")


_PRIORITY = re.compile(r"[^:,]+:-?[0-9]+")


def _text_problem(key: str, value: str, rule: dict[str, Any]) -> str | None:
    if rule["kind"] == "word" and any(ch.isspace() for ch in value):
        return f"volume option {key}: {value!r} must not contain whitespace"
    prefix: str = rule.get("prefix", "")
    if not value.startswith(prefix):
        return f"volume option {key}: {value!r} must start with {prefix!r}"
    if len(value) < rule.get("min_length", 1):
        return f"volume option {key}: {value!r} is too short ({rule['min_length']} at least)"
    if len(value) > rule.get("max_length", len(value)):
        return f"volume option {key}: {value!r} is too long ({rule['max_length']} at most)"
    for ch in rule.get("forbid", ""):
        if ch in value[len(prefix) :]:
            where = f" after the {prefix!r}" if prefix else ""
            return f"volume option {key}: {value!r} must not contain {ch!r}{where}"
    return None


_KEY_SHAPE = re.compile(r"[^\s\x00-]\S*")


def option_problem(
    key: str,
    value: str,
    *,
    layout: Layout | None = None,
    volume: str | None = None,
    preceding: Mapping[str, str] | None = None,
) -> str | None:
    """Why GlusterFS 10.3 would refuse ``gluster volume set <volume> <key> <value>``, or None.

    ``layout``: the volume's durability and counts; without it the rules of a replicate volume
    apply and bounds that depend on the layout (``cluster.quorum-count`` and the like) are not
    checked.  ``volume``: the volume's name, for options that name its bricks
    (``cluster.read-subvolume``).  ``preceding``: the options set before this one (in the same
    request, in order), for options that need another one on (``features.trash-dir`` needs
    ``features.trash on``)."""
    if not key or not _KEY_SHAPE.fullmatch(key) or "\x00" in key:
        return f"volume option name {key!r} must be a word without whitespace, NUL or a leading '-'"
    if value == "":
        return f"volume option {key}: the value is empty"
    if "\x00" in value:
        return f"volume option {key}: the value contains NUL"
    if key.startswith("user."):
        if key == "user.":
            return "volume option 'user.': a user option needs a name after 'user.'"
        return None
    if key == "group":
        found = catalog()["groups"].get(value)
        if found is None:
            known = ", ".join(groups())
            return f"volume option group: {value!r} is not a group of GlusterFS ({known})"
        durability = layout.durability if layout else "replicate"
        verdict = found["verdicts"].get(durability, True)
        if verdict is not True:
            return f"volume option group {value} cannot be set on a {durability} volume: {verdict}"
        return None
    if key in catalog().get("cluster_wide_keys", []):
        return (
            f"volume option {key}: GlusterFS copies it to every volume of the cluster;"
            " Brickyard sets options of one volume only"
        )
    rule = _rule(key, layout)
    if rule is None:
        close = difflib.get_close_matches(key, option_keys(), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"volume option {key} does not exist in GlusterFS 10{hint}"
    for needed, state in rule.get("requires", {}).items():
        if not _same_switch((preceding or {}).get(needed), state):
            return f"volume option {key} needs {needed} {state} first (earlier in the same request)"
    return _value_problem(key, value, rule, layout, volume)


def options_problem(
    options: Iterable[tuple[str, str]],
    *,
    layout: Layout | None = None,
    volume: str | None = None,
) -> str | None:
    """The first problem of a list of options set in order (as Heketi does at create)."""
    preceding: dict[str, str] = {}
    for key, value in options:
        problem = option_problem(key, value, layout=layout, volume=volume, preceding=preceding)
        if problem:
            return problem
        preceding[key] = value
    return None


def _same_switch(value: str | None, wanted: str) -> bool:
    if value is None:
        return False
    on = {"on", "yes", "true", "enable", "1"}
    return (value.lower() in on) == (wanted.lower() in on) and value.lower() in _BOOL_WORDS
