"""Input rules applied at the API boundary: names, hostnames, device paths, tags.

Everything that may later reach a node command is matched against a strict pattern here, so a
shell metacharacter can never get as far as a transport."""

from __future__ import annotations

import ipaddress
import re

VOLUME_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
DEVICE_NAME = re.compile(r"^/[a-zA-Z0-9_.:/-]+$")
TAG_NAME = re.compile(r"^[a-zA-Z0-9_.-]+$")
# Heketi's validator (govalidator IsDNSName): labels start with a letter, digit or underscore,
# then up to 62 of those or hyphens. A leading hyphen is never accepted, so a hostname can not be
# taken for a command-line option.
_DNS_NAME = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9_-]{0,62}(\.[a-zA-Z0-9_][a-zA-Z0-9_-]{0,62})*[._]?")

MAX_TAGS = 32
MAX_TAG_NAME = 32
MAX_TAG_VALUE = 64


def is_valid_hostname(value: str) -> bool:
    """An IP address or a DNS name, as Heketi accepts them."""
    if "%" in value:  # IPv6 zone ids name a local interface, never a peer
        return False
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    if not value or len(value) > 253:
        return False
    return bool(_DNS_NAME.fullmatch(value))


# A device path (a disk, or a directory for the loop-file backend) ends up in pvcreate, mkfs,
# mount and fstab lines, and below a directory device in image paths: it stays well inside
# PATH_MAX, and every component inside NAME_MAX.
MAX_DEVICE_NAME = 1024
MAX_PATH_COMPONENT = 255


# LVM's rule for names (lvm(8) "VALID NAMES"), narrowed to what Heketi and gluster write
# (tp_<id>, brick_<id>, <uuid>_<n>): nothing a command line could read as an option or a path.
LVM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_+.-]{0,126}")


def is_valid_lvm_name(value: str) -> bool:
    return bool(LVM_NAME.fullmatch(value)) and value not in {".", ".."}


def is_valid_device_name(value: str) -> bool:
    return bool(DEVICE_NAME.fullmatch(value)) and ".." not in value.split("/")


def device_name_length_problem(value: str) -> str | None:
    if len(value) > MAX_DEVICE_NAME:
        return f"the length must be no more than {MAX_DEVICE_NAME}"
    if any(len(part) > MAX_PATH_COMPONENT for part in value.split("/")):
        return f"each path component must be at most {MAX_PATH_COMPONENT} characters"
    return None


def tag_errors(tags: dict[str, str]) -> str | None:
    """Heketi's tag rules; returns the first problem or None."""
    if len(tags) > MAX_TAGS:
        return f"too many tags specified ({len(tags)}), up to {MAX_TAGS} supported"
    for key, value in tags.items():
        if not key:
            return "tag names may not be empty"
        if len(key) > MAX_TAG_NAME or not TAG_NAME.fullmatch(key):
            return f"invalid characters in tag name {key}"
        if len(value) > MAX_TAG_VALUE:
            return f"value of tag {key} is too long"
    return None
