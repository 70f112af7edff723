"""StorageClass parameters of the removed in-tree ``kubernetes.io/glusterfs`` plugin, with its
rules and its error texts, plus the CSI secret way of passing credentials.

Keys are matched case-insensitively, as the in-tree plugin did. Everything is checked before
the controller sends anything to the server, so bad input never leaves a half-made volume.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "ABSOLUTE_GID_MAX",
    "ABSOLUTE_GID_MIN",
    "ClassParams",
    "Credentials",
    "Durability",
    "ParamError",
    "SecretReader",
    "credentials",
    "parse_class",
]

log = logging.getLogger(__name__)

PLUGIN = "kubernetes.io/glusterfs"
ABSOLUTE_GID_MIN = 2000
ABSOLUTE_GID_MAX = 2147483647
DEFAULT_REPLICA = 3
MAX_EP_NAME_PREFIX = 26

#: Keys of the in-tree plugin (lower-case).
IN_TREE_KEYS = frozenset(
    {
        "resturl",
        "restauthenabled",
        "restuser",
        "restuserkey",
        "secretname",
        "secretnamespace",
        "clusterid",
        "gidmin",
        "gidmax",
        "volumetype",
        "volumeoptions",
        "volumenameprefix",
        "snapfactor",
        "customepnameprefix",
    }
)
#: Keys that reach CreateVolume without being ours and are ignored: what the external-provisioner
#: adds with --extra-create-metadata, its deprecated secret keys it passes through, a plain
#: ``fstype`` (lower-case).
IGNORED_KEYS = frozenset(
    {
        "csi.storage.k8s.io/pvc/name",
        "csi.storage.k8s.io/pvc/namespace",
        "csi.storage.k8s.io/pv/name",
        "csiprovisionersecretname",
        "csiprovisionersecretnamespace",
        "csicontrollerpublishsecretname",
        "csicontrollerpublishsecretnamespace",
        "csinodestagesecretname",
        "csinodestagesecretnamespace",
        "csinodepublishsecretname",
        "csinodepublishsecretnamespace",
        "fstype",
    }
)


class ParamError(ValueError):
    """A parameter (or secret) is missing or malformed; the message names it."""


#: ``(namespace, name) -> key``: reads the ``key`` of a kubernetes.io/glusterfs secret, raising
#: :class:`ParamError` naming the problem.
SecretReader = Callable[[str, str], str]


@dataclass(frozen=True)
class Durability:
    """``volumetype``: replicate:N, disperse:D:R or none (distribute only)."""

    type: str = "replicate"
    replica: int = DEFAULT_REPLICA
    data: int = 0
    redundancy: int = 0

    def body(self) -> dict[str, object]:
        """The ``durability`` object of Heketi's volume create request."""
        if self.type == "replicate":
            return {"type": "replicate", "replicate": {"replica": self.replica}, "disperse": {}}
        if self.type == "disperse":
            return {
                "type": "disperse",
                "replicate": {},
                "disperse": {"data": self.data, "redundancy": self.redundancy},
            }
        return {"type": "none", "replicate": {}, "disperse": {}}

    def usable_fraction(self) -> float:
        """How much of the raw free space one byte of volume costs the inverse of."""
        if self.type == "replicate":
            return 1.0 / max(self.replica, 1)
        if self.type == "disperse":
            return self.data / max(self.data + self.redundancy, 1)
        return 1.0


@dataclass(frozen=True)
class ClassParams:
    """A StorageClass's parameters, checked."""

    resturl: str = ""
    auth_enabled: bool = True
    rest_user: str = ""
    rest_user_key: str = field(default="", repr=False)
    secret_name: str = ""
    secret_namespace: str = ""
    clusters: tuple[str, ...] = ()
    gid_min: int = ABSOLUTE_GID_MIN
    gid_max: int = ABSOLUTE_GID_MAX
    durability: Durability = Durability()
    volume_options: tuple[str, ...] = ()
    volume_name_prefix: str = ""
    snap_factor: float = 1.0


def _gid(name: str, value: str) -> int:
    """``convertGid`` and the range checks of the in-tree plugin."""
    try:
        gid = int(value.strip(), 10)
    except ValueError:
        raise ParamError(f"invalid {name} value {value!r} for volume plugin {PLUGIN}") from None
    if gid < 0:
        raise ParamError(
            f"invalid {name} value {value!r} for volume plugin {PLUGIN}:"
            " negative values are not allowed for gid"
        )
    if gid > ABSOLUTE_GID_MAX:
        raise ParamError(f"{name} must be <= {ABSOLUTE_GID_MAX}")
    if gid < ABSOLUTE_GID_MIN:
        raise ParamError(f"{name} must be >= {ABSOLUTE_GID_MIN}")
    return gid


def _count(part: str) -> int:
    try:
        value = int(part, 10)
    except ValueError:
        raise ParamError(f'error parsing volumeType "{part}": not a number') from None
    if value < 0:
        raise ParamError(f'error parsing volumeType "{part}": negative values are not allowed')
    return value


def _volume_type(value: str) -> Durability:
    if not value:
        return Durability()
    parts = value.split(":")
    kind = parts[0]
    if kind == "replicate":
        if len(parts) >= 2:
            replica = _count(parts[1])
            if replica < 1:
                raise ParamError(
                    f'error parsing volumeType "{parts[1]}": replica count must be > 0'
                )
            return Durability("replicate", replica=replica)
        return Durability()
    if kind == "disperse":
        if len(parts) < 3:
            raise ParamError(
                f'StorageClass for provisioner "{PLUGIN}" must have data:redundancy count set'
                " for disperse volumes in storage class option 'volumetype'"
            )
        return Durability("disperse", replica=0, data=_count(parts[1]), redundancy=_count(parts[2]))
    if kind == "none":
        return Durability("none", replica=0)
    raise ParamError(
        f"error parsing value for option 'volumetype' for volume plugin {PLUGIN}: {value!r}"
        " (expected replicate[:N], disperse:DATA:REDUNDANCY or none)"
    )


def _snap_factor(value: str) -> float:
    try:
        factor = float(value)
    except ValueError:
        raise ParamError(f"failed to convert snapfactor {value} to float") from None
    if not 1.0 <= factor <= 100.0:
        raise ParamError(f"invalid snapshot factor {value}, the value must be between 1 to 100")
    return factor


def parse_class(parameters: Mapping[str, str]) -> ClassParams:
    """Check a StorageClass's parameters as the in-tree plugin did; unknown keys are an error
    naming every one of them."""
    values: dict[str, str] = {}
    unknown: list[str] = []
    for key, value in parameters.items():
        low = key.lower()
        if low in IN_TREE_KEYS:
            values[low] = value
        elif low in IGNORED_KEYS:
            log.debug("parameter %s ignored (added by the provisioner)", key)
        else:
            unknown.append(key)
    if unknown:
        names = ", ".join(f'"{k}"' for k in sorted(unknown))
        raise ParamError(
            f"invalid option{'s' if len(unknown) > 1 else ''} {names} for volume plugin {PLUGIN}"
            f" (accepted: {', '.join(sorted(IN_TREE_KEYS))})"
        )
    auth = values.get("restauthenabled", "")
    auth_enabled = auth == "" or auth.lower() == "true"
    secret_name = values.get("secretname", "")
    secret_namespace = values.get("secretnamespace", "")
    if bool(secret_name) != bool(secret_namespace):
        raise ParamError(
            f'StorageClass for provisioner "{PLUGIN}" must have secretNamespace and secretName'
            " either both set or both empty"
        )
    gid_min = _gid("gidMin", values["gidmin"]) if values.get("gidmin") else ABSOLUTE_GID_MIN
    gid_max = _gid("gidMax", values["gidmax"]) if values.get("gidmax") else ABSOLUTE_GID_MAX
    if gid_min > gid_max:
        raise ParamError(
            f"StorageClass for provisioner {PLUGIN} must have gidMax value >= gidMin"
            f" (gidMin {gid_min}, gidMax {gid_max})"
        )
    prefix = values.get("volumenameprefix", "")
    if "_" in prefix:
        raise ParamError(
            "storageclass parameter 'volumenameprefix' should not contain '_' in its value"
        )
    if prefix:
        from brickyard.domain.gluster_rules import volume_name_problem

        problem = volume_name_problem(prefix + "_x")
        if problem:
            raise ParamError(f"storageclass parameter 'volumenameprefix' {prefix!r}: {problem}")
    ep_prefix = values.get("customepnameprefix", "")
    if len(ep_prefix) > MAX_EP_NAME_PREFIX:
        raise ParamError(
            f"'customepnameprefix' value should be < {MAX_EP_NAME_PREFIX + 1} characters"
        )
    if "customepnameprefix" in values:
        log.info(
            "parameter customepnameprefix=%r accepted and ignored: the CSI driver makes no"
            " Endpoints or Service objects (the volume context carries the servers)",
            ep_prefix,
        )
    resturl = values.get("resturl", "").strip()
    if resturl and not resturl.startswith(("http://", "https://")):
        raise ParamError(f"parameter resturl {resturl!r} is not an http:// or https:// URL")
    clusters = tuple(c.strip() for c in values.get("clusterid", "").split(",") if c.strip())
    options = tuple(o.strip() for o in values.get("volumeoptions", "").split(",") if o.strip())
    snap = values.get("snapfactor", "")
    return ClassParams(
        resturl=resturl.rstrip("/"),
        auth_enabled=auth_enabled,
        rest_user=values.get("restuser", "") if auth_enabled else "",
        rest_user_key=values.get("restuserkey", "") if auth_enabled else "",
        secret_name=secret_name,
        secret_namespace=secret_namespace,
        clusters=clusters,
        gid_min=gid_min,
        gid_max=gid_max,
        durability=_volume_type(values.get("volumetype", "")),
        volume_options=options,
        volume_name_prefix=prefix,
        snap_factor=_snap_factor(snap) if snap else 1.0,
    )


@dataclass(frozen=True)
class Credentials:
    """Where to send requests and as whom."""

    server: str
    user: str = ""
    key: str = field(default="", repr=False)


def credentials(
    params: ClassParams | None,
    secrets: Mapping[str, str],
    *,
    default_server: str,
    default_user: str,
    default_key: str,
    server: str = "",
    secret_reader: SecretReader | None = None,
) -> Credentials:
    """The server and the credentials of a request.

    Server: ``server`` (from a volume id) or the class's ``resturl`` or the secret's ``resturl``
    or the driver's ``--server``. Credentials, first found: the request's CSI secret (keys
    ``key``, optional ``user``); the class's in-tree secret (``secretNamespace``/``secretName``,
    read through ``secret_reader``); the class's ``restuserkey``; the driver's own key. With
    ``restauthenabled: "false"`` no credentials are sent.
    """
    url = (server or (params.resturl if params else "") or secrets.get("resturl", "")).strip()
    url = (url or default_server).rstrip("/")
    if not url:
        raise ParamError(
            "StorageClass must contain 'resturl' parameter (no server: the driver was started"
            " without --server and the class names none)"
        )
    if params is not None and not params.auth_enabled:
        return Credentials(url)
    user = (params.rest_user if params else "") or default_user
    if secrets:
        if "key" not in secrets:
            present = ", ".join(sorted(secrets)) or "none"
            raise ParamError(
                f"the provisioner secret has no data key 'key' (keys present: {present})"
            )
        return Credentials(url, secrets.get("user") or user, secrets["key"])
    if params is not None and params.secret_name:
        if secret_reader is None:
            raise ParamError(
                f"StorageClass names secret {params.secret_namespace}/{params.secret_name} but"
                " the driver cannot read Kubernetes secrets here: also set"
                " csi.storage.k8s.io/provisioner-secret-name and -namespace to the same values"
            )
        key = secret_reader(params.secret_namespace, params.secret_name)
        return Credentials(url, user, key)
    if params is not None and params.rest_user_key:
        return Credentials(url, user, params.rest_user_key)
    return Credentials(url, user, default_key)
