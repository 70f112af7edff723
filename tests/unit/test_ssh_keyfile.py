"""A server with the ssh executor refuses to start without a usable private key (as Heketi
does), naming the file and the reason and never the key's text; a key replaced by garbage
after start makes the node unreachable with that reason, not a 500 with a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import asyncssh
import pytest

from brickyard.bootstrap import build_agent
from brickyard.config import ConfigError, load_settings
from brickyard.domain.errors import NodeUnreachable
from brickyard.nodes.commands.argv import Command
from brickyard.nodes.transports import SshSettings, SshTransport, private_key_problem

GARBAGE = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "c2VjcmV0LWJ1dC1ub3Qta2V5\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def _settings(tmp_path: Path, keyfile: str) -> object:
    config = tmp_path / "heketi.json"
    config.write_text(
        json.dumps({"glusterfs": {"executor": "ssh", "sshexec": {"keyfile": keyfile}}})
    )
    settings, _ = load_settings(config, {})
    return settings


def test_a_real_key_is_accepted(tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(key))
    assert private_key_problem(str(key)) == ""
    build_agent(_settings(tmp_path, str(key)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "No such file or directory"),
        (GARBAGE, "not a usable ssh private key"),
        ("just text\n", "not a usable ssh private key"),
    ],
)
def test_an_unusable_key_stops_the_start(tmp_path: Path, content: str | None, reason: str) -> None:
    key = tmp_path / "key"
    if content is not None:
        key.write_text(content)
    with pytest.raises(ConfigError) as info:
        build_agent(_settings(tmp_path, str(key)))  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith(f"glusterfs.sshexec.keyfile: {key}: ")
    assert reason in message
    assert "c2VjcmV0" not in message  # the file's text is never repeated


def test_a_passphrase_protected_key_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "id_locked"
    # PKCS#8 encryption needs only cryptography (OpenSSH's format would need bcrypt).
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(
        str(key), format_name="pkcs8-pem", passphrase="pass-phrase"
    )
    assert "not a usable ssh private key" in private_key_problem(str(key))


async def test_a_key_spoiled_after_start_makes_the_node_unreachable(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text(GARBAGE)
    transport = SshTransport(SshSettings(str(key), connect_timeout=5))
    with pytest.raises(NodeUnreachable) as info:
        await transport.run("127.0.0.1", Command(("true",), timeout=5))
    assert "not a usable ssh private key" in str(info.value)
    await transport.close()
