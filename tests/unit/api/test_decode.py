import pytest

from brickyard.api import requests as parse
from brickyard.api.decode import DecodeError, decode_body
from brickyard.domain.errors import InvalidRequest
from brickyard.domain.model import DurabilityType


def test_keys_match_case_insensitively_and_unknown_keys_are_ignored() -> None:
    data = decode_body(b'{"SIZE": 3, "whatever": [1]}', {"size": int})
    assert data == {"size": 3}


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b'"x"',
        b"[]",
        b'{"size": "1"}',
        b'{"size": 1.5}',
        b'{"size": 99999999999999999999}',
    ],
)
def test_malformed_or_wrong_typed_bodies_fail_decoding(body: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_body(body, {"size": int})


def test_null_means_zero_value() -> None:
    assert decode_body(b'{"size": null}', {"size": int}) == {"size": 0}


def test_volume_validation_messages() -> None:
    with pytest.raises(InvalidRequest, match=r"^validation failed: size: cannot be blank\.$"):
        parse.volume_create(b"{}")
    with pytest.raises(InvalidRequest, match="name: must be in a valid format"):
        parse.volume_create(b'{"size": 1, "name": "a b"}')
    with pytest.raises(InvalidRequest, match=r"^Unknown durability type$"):
        parse.volume_create(b'{"size": 1, "durability": {"type": "mirror"}}')


def test_volume_defaults() -> None:
    request = parse.volume_create(b'{"size": 2}')
    assert request.durability.type is DurabilityType.NONE
    assert request.name == "" and request.gid == 0


def test_node_validation_nests_hostname_errors() -> None:
    with pytest.raises(InvalidRequest) as err:
        parse.node_add(
            b'{"zone": 1, "cluster": "' + b"a" * 32 + b'", "hostnames": {"manage": ["a;b"]}}'
        )
    assert err.value.message == (
        "validation failed: hostnames: (manage: [a;b] is not a valid manage hostname; "
        "storage: cannot be blank.)."
    )


def test_node_cluster_must_be_an_id() -> None:
    with pytest.raises(InvalidRequest, match="cluster: bad_id is not a valid UUID"):
        parse.node_add(
            b'{"zone": 1, "cluster": "bad_id", "hostnames": {"manage": ["a"], "storage": ["b"]}}'
        )
