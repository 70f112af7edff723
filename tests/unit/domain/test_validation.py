import pytest

from brickyard.domain.ids import is_valid_id, new_id
from brickyard.domain.validation import is_valid_device_name, is_valid_hostname, tag_errors


@pytest.mark.parametrize(
    "name", ["node1", "node1.example.com", "10.0.0.1", "::1", "a-b.c", "node_1", "rack-"]
)
def test_valid_hostnames(name: str) -> None:
    assert is_valid_hostname(name)


@pytest.mark.parametrize(
    "name", ["", "a;rm -rf /", "$(reboot)", "`id`", "a b", "-lead", "a|b", "x" * 64, "a..b", "a\nb"]
)
def test_hostnames_with_shell_metacharacters_are_refused(name: str) -> None:
    assert not is_valid_hostname(name)


@pytest.mark.parametrize("name", ["/dev/sdb", "/dev/disk/by-id/wwn-0x5000:1", "/srv/bricks_1"])
def test_valid_device_names(name: str) -> None:
    assert is_valid_device_name(name)


@pytest.mark.parametrize("name", ["sdb", "/dev/sdb;ls", "/dev/$(x)", "/dev/s b", "/dev/../etc", ""])
def test_bad_device_names(name: str) -> None:
    assert not is_valid_device_name(name)


def test_ids() -> None:
    assert is_valid_id(new_id()) and len(new_id()) == 32
    assert not is_valid_id("xyz") and not is_valid_id("a" * 31)


def test_tag_rules() -> None:
    assert tag_errors({"rack": "r1"}) is None
    assert tag_errors({"": "x"}) == "tag names may not be empty"
    assert tag_errors({"$! W ~~~": "x"}) == "invalid characters in tag name $! W ~~~"
    assert tag_errors({f"k{i}": "v" for i in range(33)}) == (
        "too many tags specified (33), up to 32 supported"
    )
