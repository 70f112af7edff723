"""StorageClass parameters: every rule and error of the in-tree kubernetes.io/glusterfs plugin
(shared/reference/kubernetes-glusterfs-facts.md, A1), and where the credentials come from."""

from __future__ import annotations

import pytest

from brickyard.csi.params import (
    ABSOLUTE_GID_MAX,
    ABSOLUTE_GID_MIN,
    ClassParams,
    Credentials,
    Durability,
    ParamError,
    credentials,
    parse_class,
)


def test_defaults() -> None:
    p = parse_class({})
    assert p == ClassParams()
    assert p.gid_min == ABSOLUTE_GID_MIN == 2000 and p.gid_max == ABSOLUTE_GID_MAX == 2147483647
    assert p.durability == Durability("replicate", 3) and p.auth_enabled and p.snap_factor == 1.0


def test_keys_are_case_insensitive() -> None:
    p = parse_class({"RESTURL": "http://h:8080/", "GidMin": "3000", "VolumeType": "none"})
    assert p.resturl == "http://h:8080" and p.gid_min == 3000 and p.durability.type == "none"


def test_unknown_keys_are_named_all_of_them() -> None:
    with pytest.raises(ParamError) as err:
        parse_class({"resturl": "http://h", "zzz": "1", "Foo": "2"})
    text = str(err.value)
    assert '"Foo", "zzz"' in text and "invalid options" in text
    assert "kubernetes.io/glusterfs" in text


def test_provisioner_added_keys_are_ignored() -> None:
    parse_class(
        {
            "csi.storage.k8s.io/pvc/name": "data",
            "csi.storage.k8s.io/pvc/namespace": "app",
            "csi.storage.k8s.io/pv/name": "pvc-1",
            "csiProvisionerSecretName": "s",
            "fstype": "glusterfs",
        }
    )


@pytest.mark.parametrize(
    ("value", "enabled"),
    [("", True), ("true", True), ("TRUE", True), ("True", True), ("false", False), ("yes", False)],
)
def test_restauthenabled(value: str, enabled: bool) -> None:
    p = parse_class({"restauthenabled": value, "restuser": "u", "restuserkey": "k"})
    assert p.auth_enabled is enabled
    # auth off: the credentials are cleared
    assert (p.rest_user, p.rest_user_key) == (("u", "k") if enabled else ("", ""))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"secretName": "s"}, "either both set or both empty"),
        ({"secretNamespace": "ns"}, "either both set or both empty"),
    ],
)
def test_secret_name_and_namespace_go_together(params: dict[str, str], message: str) -> None:
    with pytest.raises(ParamError, match=message):
        parse_class(params)


def test_clusterid_is_a_comma_list() -> None:
    p = parse_class({"clusterid": "aaa, bbb,,ccc"})
    assert p.clusters == ("aaa", "bbb", "ccc")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"gidMin": "abc"}, "invalid gidMin value"),
        ({"gidMax": "1.5"}, "invalid gidMax value"),
        ({"gidMin": "-1"}, "negative values are not allowed"),
        ({"gidMin": "1999"}, "gidMin must be >= 2000"),
        ({"gidMax": "100"}, "gidMax must be >= 2000"),
        ({"gidMax": "2147483648"}, "gidMax must be <= 2147483647"),
        ({"gidMin": "5000", "gidMax": "4000"}, "must have gidMax value >= gidMin"),
    ],
)
def test_gid_rules(params: dict[str, str], message: str) -> None:
    with pytest.raises(ParamError, match=message):
        parse_class(params)


def test_gid_range_accepted() -> None:
    p = parse_class({"gidMin": "2000", "gidMax": "2147483647"})
    assert (p.gid_min, p.gid_max) == (2000, 2147483647)
    p = parse_class({"gidMin": "4000", "gidMax": "4000"})
    assert (p.gid_min, p.gid_max) == (4000, 4000)


@pytest.mark.parametrize(
    ("value", "durability"),
    [
        ("", Durability("replicate", 3)),
        ("replicate", Durability("replicate", 3)),
        ("replicate:2", Durability("replicate", 2)),
        ("disperse:4:2", Durability("disperse", 0, 4, 2)),
        ("none", Durability("none", 0)),
    ],
)
def test_volumetype_forms(value: str, durability: Durability) -> None:
    assert parse_class({"volumetype": value}).durability == durability


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("replicate:x", 'error parsing volumeType "x"'),
        ("replicate:-1", "negative values are not allowed"),
        ("replicate:0", "replica count must be > 0"),
        ("disperse:4", "must have data:redundancy count set for disperse volumes"),
        ("disperse:a:2", 'error parsing volumeType "a"'),
        ("disperse:4:b", 'error parsing volumeType "b"'),
        ("mirror", "error parsing value for option 'volumetype'"),
        ("Replicate:3", "error parsing value for option 'volumetype'"),
    ],
)
def test_volumetype_errors(value: str, message: str) -> None:
    with pytest.raises(ParamError, match=message):
        parse_class({"volumetype": value})


def test_volumeoptions_split_on_commas() -> None:
    p = parse_class({"volumeoptions": "client.ssl on, server.ssl on,"})
    assert p.volume_options == ("client.ssl on", "server.ssl on")


def test_volumenameprefix() -> None:
    assert parse_class({"volumenameprefix": "dept-a"}).volume_name_prefix == "dept-a"
    with pytest.raises(ParamError, match="should not contain '_'"):
        parse_class({"volumenameprefix": "dept_a"})
    with pytest.raises(ParamError, match="volumenameprefix"):
        parse_class({"volumenameprefix": "dept a"})


@pytest.mark.parametrize(("value", "factor"), [("1", 1.0), ("1.5", 1.5), ("100", 100.0)])
def test_snapfactor(value: str, factor: float) -> None:
    assert parse_class({"snapfactor": value}).snap_factor == factor


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("x", "failed to convert snapfactor x to float"),
        ("0.5", "the value must be between 1 to 100"),
        ("101", "the value must be between 1 to 100"),
    ],
)
def test_snapfactor_errors(value: str, message: str) -> None:
    with pytest.raises(ParamError, match=message):
        parse_class({"snapfactor": value})


def test_customepnameprefix(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO"):
        parse_class({"customepnameprefix": "a" * 26})
    assert "customepnameprefix" in caplog.text and "ignored" in caplog.text
    with pytest.raises(ParamError, match="customepnameprefix"):
        parse_class({"customepnameprefix": "a" * 27})


def test_resturl_must_be_http() -> None:
    with pytest.raises(ParamError, match="resturl"):
        parse_class({"resturl": "heketi:8080"})


# ---- credentials ------------------------------------------------------------------------------

DEFAULTS = {"default_server": "http://default:8080", "default_user": "admin", "default_key": "dk"}


def test_driver_defaults() -> None:
    assert credentials(parse_class({}), {}, **DEFAULTS) == Credentials(
        "http://default:8080", "admin", "dk"
    )


def test_no_server_anywhere_is_the_in_tree_error() -> None:
    with pytest.raises(ParamError, match="must contain 'resturl' parameter"):
        credentials(parse_class({}), {}, default_server="", default_user="admin", default_key="")


def test_restuser_and_restuserkey() -> None:
    p = parse_class({"resturl": "http://h", "restuser": "u", "restuserkey": "k"})
    assert credentials(p, {}, **DEFAULTS) == Credentials("http://h", "u", "k")


def test_csi_secret_wins_and_may_name_user_and_server() -> None:
    p = parse_class({"restuser": "u", "restuserkey": "k"})
    got = credentials(p, {"key": "sk"}, **DEFAULTS)
    assert got == Credentials("http://default:8080", "u", "sk")
    got = credentials(None, {"key": "sk", "user": "su", "resturl": "http://s"}, **DEFAULTS)
    assert got == Credentials("http://s", "su", "sk")


def test_a_secret_without_the_key() -> None:
    with pytest.raises(ParamError, match=r"no data key 'key' \(keys present: password\)"):
        credentials(parse_class({}), {"password": "x"}, **DEFAULTS)


def test_in_tree_secret_read_through_the_reader() -> None:
    p = parse_class({"secretName": "heketi", "secretNamespace": "kube", "restuserkey": "k"})
    got = credentials(p, {}, secret_reader=lambda ns, name: f"{ns}/{name}", **DEFAULTS)
    assert got.key == "kube/heketi"  # the secret has precedence over restuserkey
    with pytest.raises(ParamError, match="provisioner-secret-name"):
        credentials(p, {}, **DEFAULTS)


def test_auth_disabled_sends_nothing() -> None:
    p = parse_class({"restauthenabled": "false", "restuserkey": "k"})
    assert credentials(p, {"key": "sk"}, **DEFAULTS) == Credentials("http://default:8080")


def test_a_volume_ids_server_wins() -> None:
    p = parse_class({"resturl": "http://class"})
    got = credentials(p, {}, server="http://fromid:1", **DEFAULTS)
    assert got.server == "http://fromid:1"


def test_the_key_is_never_in_the_repr() -> None:
    assert "secretkey" not in repr(Credentials("http://h", "u", "secretkey"))
    assert "secretkey" not in repr(parse_class({"restuserkey": "secretkey"}))
