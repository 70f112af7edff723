"""Convert the PersistentVolumes of the removed in-tree GlusterFS plugin to CSI PVs.

Input: ``kubectl get pv -o json`` (a ``List``/``PersistentVolumeList`` or one PV). For each PV
with ``spec.glusterfs`` it makes a CSI PV of driver ``glusterfs.brickyard.io`` for the same
gluster volume and the same claim, and (for a bound PV) the claim to recreate with
``spec.volumeName``. Other PVs are left alone.

The Heketi volume id comes from the ``gluster.kubernetes.io/heketi-volume-id`` annotation, else
from the server (the volume looked up by its name), else from the name (``vol_<id>``, the rule
of the in-tree deleter). The storage hosts come from the server's volume info when a server is
given, else from the in-tree Endpoints object (``kubectl get endpoints -A -o json``). Nothing
here talks to Kubernetes: the steps to apply the result are printed (:func:`render_steps`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from brickyard.client.errors import HeketiError
from brickyard.csi.ids import VolumeId

__all__ = [
    "DRIVER",
    "ConvertError",
    "Converted",
    "EndpointsIndex",
    "Failed",
    "HeketiLookup",
    "Result",
    "VolumeLookup",
    "convert",
    "parse_endpoints",
    "parse_pvs",
    "render_steps",
]

DRIVER = "glusterfs.brickyard.io"
GID_ANNOTATION = "pv.beta.kubernetes.io/gid"
HEKETI_ID_ANNOTATION = "gluster.kubernetes.io/heketi-volume-id"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
CONVERTED_FROM = "brickyard.io/converted-from"
#: Annotations of the old PV that must not be copied: the binding and provisioning marks
#: belong to the old object (the new PV is pre-bound by us and provisioned-by our driver).
_DROPPED_ANNOTATIONS = frozenset(
    {
        "pv.kubernetes.io/bound-by-controller",
        PROVISIONED_BY,
        "pv.kubernetes.io/migrated-to",
        "kubectl.kubernetes.io/last-applied-configuration",
    }
)
_HEX32 = re.compile(r"[0-9a-f]{32}")

Obj = dict[str, Any]


class ConvertError(Exception):
    """Input that cannot be used at all (not JSON, not a list of PVs, ...)."""


class VolumeLookup(Protocol):
    """The volume manager's view of a volume (Heketi ``volume info`` JSON) or None."""

    def by_id(self, volume_id: str) -> Mapping[str, Any] | None: ...

    def by_name(self, name: str) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class Converted:
    """One in-tree PV and what replaces it."""

    name: str
    volume_id: str
    volume_name: str
    id_from: str  # "annotation", "server" or "name"
    hosts_from: str  # "server" or "endpoints <ns>/<name>"
    old_policy: str
    phase: str
    claim: tuple[str, str] | None  # (namespace, name) of the claim to recreate
    pv: Obj
    pvc: Obj | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Failed:
    """An in-tree GlusterFS PV that could not be converted, and why."""

    name: str
    reason: str


@dataclass
class Result:
    converted: list[Converted] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    #: PVs left alone: (name, why)
    skipped: list[tuple[str, str]] = field(default_factory=list)


# -- input -----------------------------------------------------------------------------------


def _load_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConvertError(
            f"{source}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno});"
            " give the output of kubectl get ... -o json"
        ) from None


def _items(text: str, source: str, kind: str) -> list[Obj]:
    """The objects of ``kind`` in a ``List``/``<kind>List`` or a single ``kind`` object."""
    data = _load_json(text, source)
    if not isinstance(data, dict):
        raise ConvertError(f"{source}: expected a JSON object (a List), got {type(data).__name__}")
    got = data.get("kind")
    if got == kind:
        items: Any = [data]
    elif got in ("List", f"{kind}List"):
        items = data.get("items")
        if items is None:
            items = []
        if not isinstance(items, list):
            raise ConvertError(f"{source}: 'items' is not a list")
    else:
        raise ConvertError(
            f"{source}: expected a List of {kind} objects (kubectl get ... -o json),"
            f" got kind {got!r}"
        )
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("metadata"), dict):
            raise ConvertError(f"{source}: item {index} is not a Kubernetes object")
        if item.get("kind", kind) != kind:
            raise ConvertError(
                f"{source}: item {index} ({item['metadata'].get('name', '?')}) is a"
                f" {item.get('kind')}, not a {kind}"
            )
        if not isinstance(item["metadata"].get("name"), str):
            raise ConvertError(f"{source}: item {index} has no metadata.name")
    return list(items)


def parse_pvs(text: str, source: str = "input") -> list[Obj]:
    """The PersistentVolumes of ``kubectl get pv -o json`` output."""
    return _items(text, source, "PersistentVolume")


class EndpointsIndex:
    """The addresses of Endpoints objects by (namespace, name)."""

    def __init__(self, endpoints: Iterable[Obj] = ()) -> None:
        self._hosts: dict[tuple[str, str], list[str]] = {}
        for ep in endpoints:
            meta = ep["metadata"]
            hosts: list[str] = []
            for subset in ep.get("subsets") or []:
                for address in subset.get("addresses") or []:
                    ip = address.get("ip") or address.get("hostname")
                    if isinstance(ip, str) and ip and ip not in hosts:
                        hosts.append(ip)
            self._hosts[(meta.get("namespace", ""), meta["name"])] = hosts

    def hosts(self, namespace: str, name: str) -> list[str] | None:
        return self._hosts.get((namespace, name))


def parse_endpoints(text: str, source: str = "endpoints") -> EndpointsIndex:
    """``kubectl get endpoints -A -o json`` output."""
    return EndpointsIndex(_items(text, source, "Endpoints"))


class HeketiLookup:
    """:class:`VolumeLookup` over the REST API (Brickyard or Heketi). By name it lists the
    volumes and reads each one's info once (Heketi has no lookup by name)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._by_id: dict[str, Mapping[str, Any] | None] = {}
        self._by_name: dict[str, Mapping[str, Any]] | None = None

    def by_id(self, volume_id: str) -> Mapping[str, Any] | None:
        if volume_id not in self._by_id:
            try:
                self._by_id[volume_id] = self._client.volume_info(volume_id)
            except HeketiError as exc:
                if exc.status != 404:
                    raise
                self._by_id[volume_id] = None
        return self._by_id[volume_id]

    def by_name(self, name: str) -> Mapping[str, Any] | None:
        if self._by_name is None:
            self._by_name = {}
            for volume_id in self._client.volume_list().get("volumes") or []:
                info = self.by_id(str(volume_id))
                if info is not None and info.get("name"):
                    self._by_name[str(info["name"])] = info
        return self._by_name.get(name)


# -- conversion --------------------------------------------------------------------------------


class _Skip(Exception):
    """This PV cannot be converted (the message says why)."""


def _server_hosts(info: Mapping[str, Any]) -> list[str]:
    """Main host first, then the backup volfile servers, from Heketi's ``mount`` section."""
    mount = (info.get("mount") or {}).get("glusterfs") or {}
    device = str(mount.get("device") or "")
    hosts: list[str] = []
    first = device.rpartition(":")[0]
    if first:
        hosts.append(first)
    backups = str((mount.get("options") or {}).get("backup-volfile-servers") or "")
    for host in [*backups.split(","), *(mount.get("hosts") or [])]:
        host = str(host).strip()
        if host and host not in hosts:
            hosts.append(host)
    return hosts


def _volume_id(
    path: str, annotations: Mapping[str, str], lookup: VolumeLookup | None
) -> tuple[str, str, Mapping[str, Any] | None]:
    """(Heketi id, where it came from, the server's volume info or None)."""
    annotated = annotations.get(HEKETI_ID_ANNOTATION)
    if annotated is not None:
        if not _HEX32.fullmatch(annotated):
            raise _Skip(
                f"annotation {HEKETI_ID_ANNOTATION}={annotated!r} is not a Heketi volume id"
                " (32 lowercase hex digits)"
            )
        if lookup is None:
            return annotated, "annotation", None
        info = lookup.by_id(annotated)
        if info is None:
            raise _Skip(f"volume {annotated} (from its annotation) does not exist on the server")
        if info.get("name") and info.get("name") != path:
            raise _Skip(
                f"the server's volume {annotated} is named {info.get('name')!r},"
                f" but the PV mounts {path!r}: check which one holds the data"
            )
        return annotated, "annotation", info
    if lookup is not None:
        info = lookup.by_name(path)
        if info is None:
            raise _Skip(f"no volume named {path!r} on the server")
        found = str(info.get("id") or "")
        if not _HEX32.fullmatch(found):
            raise _Skip(f"the server's volume {path!r} has no usable id ({found!r})")
        return found, "server", info
    if path.startswith("vol_") and _HEX32.fullmatch(path[4:]):
        return path[4:], "name", None
    raise _Skip(
        f"gluster volume {path!r}: no {HEKETI_ID_ANNOTATION} annotation and not named"
        " vol_<id>; give --server so it is looked up by name on the server"
    )


def _claim(pv: Obj) -> tuple[str, str] | None:
    ref = pv["spec"].get("claimRef") or {}
    if ref.get("namespace") and ref.get("name"):
        return str(ref["namespace"]), str(ref["name"])
    return None


def _phase(pv: Obj) -> str:
    phase = (pv.get("status") or {}).get("phase")
    if phase:
        return str(phase)
    # no status (a PV written by hand): bound when its claim reference carries the claim's uid
    ref = pv["spec"].get("claimRef") or {}
    return "Bound" if ref.get("uid") else "Available"


def _convert_one(
    pv: Obj,
    endpoints: EndpointsIndex | None,
    lookup: VolumeLookup | None,
    handle_server: str,
) -> Converted:
    meta = pv["metadata"]
    spec = pv.get("spec") or {}
    name = str(meta["name"])
    gluster = spec["glusterfs"]
    path = gluster.get("path")
    if not isinstance(path, str) or not path:
        raise _Skip("spec.glusterfs.path (the gluster volume name) is empty")
    annotations: dict[str, str] = dict(meta.get("annotations") or {})
    volume_id, id_from, info = _volume_id(path, annotations, lookup)
    claim = _claim(pv)
    phase = _phase(pv)
    notes: list[str] = []

    if info is not None:
        hosts = _server_hosts(info)
        hosts_from = "server"
        if not hosts:
            raise _Skip(f"the server gives no storage hosts for volume {volume_id}")
    else:
        ep_name = str(gluster.get("endpoints") or "")
        # old PVs have no endpointsNamespace: the in-tree plugin looked the Endpoints up in the
        # namespace of the pod, which is the claim's namespace
        ep_namespace = str(gluster.get("endpointsNamespace") or (claim[0] if claim else ""))
        if endpoints is None:
            raise _Skip("no storage hosts: give --endpoints FILE or --server")
        if not ep_name or not ep_namespace:
            raise _Skip(
                "cannot tell which Endpoints object holds its hosts (no endpointsNamespace"
                " and no claim); give --server"
            )
        found = endpoints.hosts(ep_namespace, ep_name)
        if found is None:
            raise _Skip(f"Endpoints {ep_namespace}/{ep_name} is not in the --endpoints file")
        if not found:
            raise _Skip(f"Endpoints {ep_namespace}/{ep_name} has no addresses")
        hosts, hosts_from = found, f"endpoints {ep_namespace}/{ep_name}"

    gid = annotations.get(GID_ANNOTATION)
    if gid is not None and not (gid.isascii() and gid.isdigit()):
        raise _Skip(f"annotation {GID_ANNOTATION}={gid!r} is not a number")
    server_gid = int(info.get("gid") or 0) if info is not None else 0
    if gid is None and server_gid:
        gid = str(server_gid)
        notes.append(
            f"gid {gid} taken from the server; the PV had no {GID_ANNOTATION} annotation,"
            " so pods do not get it as a supplemental group (as before)"
        )
    elif gid is not None and server_gid and int(gid) != server_gid:
        notes.append(f"the PV says gid {gid}, the server {server_gid}: the PV's is kept")

    context = {
        "server": hosts[0],
        "volume": path,
        "backup-volfile-servers": ",".join(hosts[1:]),
        "heketi-volume-id": volume_id,
    }
    if gid is not None:
        context["gid"] = str(int(gid))
    try:
        handle = str(VolumeId.make(volume_id, handle_server, ""))
    except ValueError as exc:
        raise ConvertError(str(exc)) from None

    kept = {k: v for k, v in annotations.items() if k not in _DROPPED_ANNOTATIONS}
    if annotations.get(PROVISIONED_BY) == "kubernetes.io/glusterfs":
        # dynamically provisioned: the CSI provisioner takes over its deletion (when its
        # policy is Delete again); a PV made by hand stays out of its reach, as before
        kept[PROVISIONED_BY] = DRIVER
    kept[CONVERTED_FROM] = "kubernetes.io/glusterfs"
    new_meta: Obj = {"name": name, "annotations": dict(sorted(kept.items()))}
    if meta.get("labels"):
        new_meta["labels"] = dict(meta["labels"])
    new_spec: Obj = {
        "accessModes": list(spec.get("accessModes") or ["ReadWriteMany"]),
        "capacity": dict(spec.get("capacity") or {}),
        "csi": {
            "driver": DRIVER,
            "volumeHandle": handle,
            "volumeAttributes": context,
        },
        # Retain until the move is checked; the steps say when to restore the old policy
        "persistentVolumeReclaimPolicy": "Retain",
        "volumeMode": spec.get("volumeMode") or "Filesystem",
    }
    if "storage" not in new_spec["capacity"]:
        raise _Skip("spec.capacity.storage is missing")
    for copied in ("storageClassName", "mountOptions", "nodeAffinity"):
        if spec.get(copied):
            new_spec[copied] = copy_json(spec[copied])
    pvc: Obj | None = None
    if claim is not None and phase not in ("Released", "Failed"):
        # namespace and name only: the new claim will have a new uid, and a claimRef without a
        # uid reserves this PV for whichever claim of that name comes
        new_spec["claimRef"] = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "namespace": claim[0],
            "name": claim[1],
        }
    elif claim is not None:
        notes.append(
            f"was {phase}: its claim {claim[0]}/{claim[1]} is gone, so the new PV is not"
            " reserved for it (it becomes Available)"
        )
        claim = None
    if claim is not None and phase == "Bound":
        pvc = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim[1], "namespace": claim[0]},
            "spec": {
                "accessModes": list(new_spec["accessModes"]),
                # an explicit "" keeps the default class away when the PV has no class
                "storageClassName": str(spec.get("storageClassName") or ""),
                "resources": {"requests": {"storage": new_spec["capacity"]["storage"]}},
                "volumeName": name,
                "volumeMode": new_spec["volumeMode"],
            },
        }
    new_pv: Obj = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": new_meta,
        "spec": new_spec,
    }
    return Converted(
        name=name,
        volume_id=volume_id,
        volume_name=path,
        id_from=id_from,
        hosts_from=hosts_from,
        old_policy=str(spec.get("persistentVolumeReclaimPolicy") or "Retain"),
        phase=phase,
        claim=claim if pvc is not None else None,
        pv=new_pv,
        pvc=pvc,
        notes=tuple(notes),
    )


def copy_json(value: Any) -> Any:
    result: Any = json.loads(json.dumps(value))
    return result


def convert(
    pvs: Sequence[Obj],
    *,
    endpoints: EndpointsIndex | None = None,
    lookup: VolumeLookup | None = None,
    handle_server: str = "",
) -> Result:
    """Convert every in-tree GlusterFS PV of ``pvs``; leave the others alone."""
    result = Result()
    for pv in pvs:
        name = str(pv["metadata"]["name"])
        spec = pv.get("spec") or {}
        if not isinstance(spec.get("glusterfs"), dict):
            csi = spec.get("csi") or {}
            why = (
                "already a glusterfs.brickyard.io CSI volume"
                if csi.get("driver") == DRIVER
                else "not a GlusterFS volume"
            )
            result.skipped.append((name, why))
            continue
        try:
            result.converted.append(_convert_one(pv, endpoints, lookup, handle_server))
        except _Skip as exc:
            result.failed.append(Failed(name, str(exc)))
    return result


# -- the steps -------------------------------------------------------------------------------


def render_steps(result: Result, directory: str) -> str:
    """The ordered steps that move every converted PV without losing data, and why."""
    out: list[str] = []
    say = out.append
    converted = result.converted
    say(f"# {len(converted)} in-tree GlusterFS PV(s) converted, {len(result.failed)} not,")
    say(f"# {len(result.skipped)} other PV(s) left alone. Manifests in {directory}/.")
    for failed in result.failed:
        say(f"# NOT CONVERTED {failed.name}: {failed.reason}")
    for c in converted:
        for note in c.notes:
            say(f"# note {c.name}: {note}")
    if not converted:
        return "\n".join(out) + "\n"
    say("")
    say("# 1. Back up every PV and claim as they are now.")
    say("kubectl get pv,pvc -A -o json > pv-pvc-backup.json")
    say("")
    say("# 2. FIRST make Kubernetes keep the volumes whatever happens next. With Delete, removing")
    say("#    a claim (step 4b) would make the in-tree deleter (Kubernetes <= 1.25) delete the")
    say("#    gluster volume and its data; with Retain, deleting claims and PVs only removes")
    say("#    Kubernetes objects.")
    for c in converted:
        say(
            f"kubectl patch pv {c.name} -p"
            """ '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}'"""
        )
    say("")
    say("# 3. Install the CSI driver and give the StorageClass(es) the new provisioner. A class's")
    say("#    provisioner cannot be changed in place: delete it and create it again under the")
    say("#    same name with provisioner: glusterfs.brickyard.io and the same parameters (PVs keep")
    say("#    their storageClassName; new claims of the class then go to the CSI driver).")
    say("kubectl apply -k deploy/kubernetes")
    classes = sorted(
        {
            str(c.pv["spec"]["storageClassName"])
            for c in converted
            if c.pv["spec"].get("storageClassName")
        }
    )
    for sc in classes:
        say(f"kubectl get storageclass {sc} -o json > storageclass-{sc}.json")
        say(f"kubectl delete storageclass {sc}")
        say(f"# edit storageclass-{sc}.json: provisioner: glusterfs.brickyard.io, drop metadata")
        say("#   uid/resourceVersion/creationTimestamp; then:")
        say(f"kubectl create -f storageclass-{sc}.json")
    say("")
    say("# 4. For each claim, in this order (the claim is down from 4a to 4f):")
    say("#  a. stop every pod that mounts it (scale its Deployment/StatefulSet to 0): a claim in")
    say("#     use cannot be deleted (kubernetes.io/pvc-protection keeps it Terminating).")
    say("#  b. delete the claim: the old PV becomes Released; Retain keeps the volume.")
    say("#  c. delete the old PV: a PV's volume source cannot be edited, so the CSI PV is a new")
    say("#     object; with the claim gone, kubernetes.io/pv-protection lets it go. Only the")
    say("#     Kubernetes object is removed.")
    say("#  d. create the CSI PV (same name, same volume, claimRef = the claim's namespace and")
    say("#     name without a uid: reserved for the claim recreated next, no other can take it).")
    say("#  e. create the claim again with spec.volumeName = the PV: the PV controller binds the")
    say("#     two (same class, access modes and size) and the provisioner leaves it alone.")
    say("#  f. check it is Bound, then start the pods again: they mount through the CSI driver.")
    for c in converted:
        if c.pvc is None:
            continue
        ns, claim = c.claim or ("", "")
        say("")
        say(
            f"# claim {ns}/{claim} -> PV {c.name}"
            f" (gluster volume {c.volume_name}, id {c.volume_id})"
        )
        say(f"kubectl describe pvc -n {ns} {claim} | grep 'Used By'   # must be <none>")
        say(f"kubectl delete pvc -n {ns} {claim}")
        say(f"kubectl delete pv {c.name}")
        say(f"kubectl create -f {directory}/{c.name}.pv.json")
        say(f"kubectl create -f {directory}/{c.name}.pvc.json")
        say(f"kubectl get pvc -n {ns} {claim}   # STATUS Bound, VOLUME {c.name}")
    unclaimed = [c for c in converted if c.pvc is None]
    if unclaimed:
        say("")
        say("# 5. PVs without a bound claim: replace the object only.")
        for c in unclaimed:
            say(f"kubectl delete pv {c.name}")
            say(f"kubectl create -f {directory}/{c.name}.pv.json")
    say("")
    say("# 6. Once the pods work: the new PVs were created with Retain. Give back the policy a")
    say("#    PV had (with Delete, deleting its claim now deletes the volume through the CSI")
    say("#    driver: the PVs carry pv.kubernetes.io/provisioned-by: glusterfs.brickyard.io).")
    for c in converted:
        dynamic = c.pv["metadata"]["annotations"].get(PROVISIONED_BY) == DRIVER
        if c.old_policy != "Retain" and not dynamic:
            say(f"#    {c.name} was made by hand: kept Retain (nothing would delete its volume)")
        elif c.old_policy != "Retain":
            say(
                f"kubectl patch pv {c.name} -p"
                f""" '{{"spec":{{"persistentVolumeReclaimPolicy":"{c.old_policy}"}}}}'"""
            )
    say("")
    say("# 7. The in-tree provisioner's Endpoints and Services (glusterfs-dynamic-*) are not used")
    say("#    by the CSI PVs and may be deleted:")
    seen: set[str] = set()
    for c in converted:
        if c.hosts_from.startswith("endpoints "):
            where = c.hosts_from.removeprefix("endpoints ")
            if where in seen:
                continue
            seen.add(where)
            ns, _, ep = where.partition("/")
            if ep.startswith("glusterfs-dynamic-"):
                say(f"kubectl delete service,endpoints -n {ns} {ep}")
            else:
                say(f"#    Endpoints {where} was not made by the provisioner: keep it while")
                say("#    other PVs or pods still name it.")
    return "\n".join(out) + "\n"
