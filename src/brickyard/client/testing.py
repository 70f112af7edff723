"""An in-memory fake Heketi server for tests of clients and of heketi-cli.

:class:`FakeHeketi` is an httpx transport handler (``httpx.MockTransport(fake)``) that keeps a
small topology in memory and speaks the real wire protocol: JWT checks (optional), ``202`` +
``Location: /queue/<id>``, ``X-Pending`` polls, ``303``/``204``/``500`` outcomes, text errors.
Failures can be injected with :meth:`FakeHeketi.fail`.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

__all__ = ["FakeHeketi", "Outcome"]

GIB = 1024 * 1024
DEVICE_KIB = 500 * GIB

Handler = Callable[[re.Match[str], Any], "Outcome"]


@dataclass
class Outcome:
    """What an endpoint does: an immediate response, or an async job with a final response."""

    status: int
    body: Any = None  # dict/list -> JSON, str -> text error, None -> empty
    location: str | None = None
    deferred: bool = False  # True: 202 now, this outcome after polling


@dataclass
class _Job:
    outcome: Outcome
    polls_left: int


def _new_id() -> str:
    return secrets.token_hex(16)


@dataclass
class FakeHeketi:
    """The fake server. ``keys`` (issuer -> secret) turns JWT checking on."""

    keys: dict[str, str] | None = None
    pending_polls: int = 1
    topology_endpoint: bool = False
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    admin_state: str = "normal"
    log_level: str = "info"
    _jobs: dict[str, _Job] = field(default_factory=dict)
    _failures: list[tuple[str, str, Outcome, int]] = field(default_factory=list)

    # --- test controls ----------------------------------------------------------------------

    def fail(
        self, method: str, pattern: str, status: int, message: str = "", *, times: int = 1
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` and the path regex ``pattern``
        with ``status`` (``status=202``-style async failures: use ``status=-500``, which lets the
        request be accepted and makes the queue report ``500 message``)."""
        deferred = status < 0
        outcome = Outcome(abs(status), message, deferred=deferred)
        self._failures.append((method, pattern, outcome, times))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def calls(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]

    # --- plumbing -----------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if not (request.method == "GET" and path == "/hello"):
            denied = self._check_jwt(request)
            if denied is not None:
                return denied
        if path.startswith("/queue/"):
            return self._poll(path.removeprefix("/queue/"))
        injected = self._injected(request.method, path)
        if injected is not None:
            return self._respond(injected)
        try:
            body = json.loads(request.content) if request.content else None
        except ValueError:
            return _text(422, "request unable to be parsed")
        for method, regex, handler in self._routes():
            match = re.fullmatch(regex, path)
            if match and method == request.method:
                return self._respond(handler(match, body))
        return _text(404, "Invalid path or request")

    def _injected(self, method: str, path: str) -> Outcome | None:
        for index, (m, pattern, outcome, times) in enumerate(self._failures):
            if m == method and re.fullmatch(pattern, path):
                if times <= 1:
                    del self._failures[index]
                else:
                    self._failures[index] = (m, pattern, outcome, times - 1)
                return outcome
        return None

    def _check_jwt(self, request: httpx.Request) -> httpx.Response | None:
        if self.keys is None:
            return None
        header = request.headers.get("authorization", "")
        if not header:
            return _text(401, "Required authorization token not found")
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            return _text(400, "Authorization header format must be Bearer {token}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return self._verify_token(request, parts[1])
        except jwt.PyJWTError as exc:
            return _text(401, f"Invalid JWT token: {exc}")

    def _verify_token(self, request: httpx.Request, token: str) -> httpx.Response | None:
        keys = self.keys or {}
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss", "")
        key = keys.get(issuer)
        if key is None:
            return _text(401, "Invalid JWT token: Unknown user")
        claims = jwt.decode(token, key, algorithms=["HS256"], options={"require": ["exp", "iat"]})
        qsh = hashlib.sha256(f"{request.method}&{request.url.path}".encode()).hexdigest()
        if claims.get("qsh") != qsh:
            return _text(401, "Invalid qsh claim in token")
        return None

    def _respond(self, outcome: Outcome) -> httpx.Response:
        if not outcome.deferred:
            return _response(outcome)
        qid = _new_id()
        final = Outcome(outcome.status, outcome.body, outcome.location)
        self._jobs[qid] = _Job(final, self.pending_polls)
        return httpx.Response(202, headers={"Location": f"/queue/{qid}"})

    def _poll(self, qid: str) -> httpx.Response:
        job = self._jobs.get(qid)
        if job is None:
            return _text(404, "Id not found")
        if job.polls_left > 0:
            job.polls_left -= 1
            return httpx.Response(200, headers={"X-Pending": "true"})
        del self._jobs[qid]
        return _response(job.outcome)

    def _routes(self) -> list[tuple[str, str, Handler]]:
        h = "([A-Fa-f0-9]+)"
        return [
            ("GET", "/hello", lambda m, b: Outcome(200, "Hello from Heketi")),
            ("GET", "/topology", self._topology),
            ("POST", "/clusters", self._cluster_create),
            ("GET", "/clusters", lambda m, b: Outcome(200, {"clusters": sorted(self.clusters)})),
            ("GET", f"/clusters/{h}", self._cluster_info),
            ("DELETE", f"/clusters/{h}", self._cluster_delete),
            ("POST", f"/clusters/{h}/flags", self._cluster_flags),
            ("POST", "/nodes", self._node_add),
            ("GET", f"/nodes/{h}", self._node_info),
            ("DELETE", f"/nodes/{h}", self._node_delete),
            ("POST", f"/nodes/{h}/state", self._state(self.nodes)),
            ("POST", f"/nodes/{h}/tags", self._tags(self.nodes)),
            ("POST", "/devices", self._device_add),
            ("GET", f"/devices/{h}", self._device_info),
            ("DELETE", f"/devices/{h}", self._device_delete),
            ("POST", f"/devices/{h}/state", self._state(self.devices)),
            ("GET", f"/devices/{h}/resync", self._exists(self.devices, Outcome(204))),
            ("POST", f"/devices/{h}/tags", self._tags(self.devices)),
            ("POST", "/volumes", self._volume_create),
            ("POST", "/volumes/plan", self._volume_plan),
            ("GET", "/volumes", lambda m, b: Outcome(200, {"volumes": sorted(self.volumes)})),
            ("GET", f"/volumes/{h}", self._volume_info),
            ("DELETE", f"/volumes/{h}", self._volume_delete),
            ("POST", f"/volumes/{h}/expand", self._volume_expand),
            ("GET", "/operations", lambda m, b: Outcome(200, _OPERATIONS)),
            ("GET", "/admin", lambda m, b: Outcome(200, {"state": self.admin_state})),
            ("POST", "/admin", self._admin_set),
            ("GET", "/internal/logging", lambda m, b: Outcome(200, self._logging())),
            ("POST", "/internal/logging", self._logging_set),
            ("GET", "/db/dump", lambda m, b: Outcome(200, {"clusterentries": {}})),
        ]

    # --- views --------------------------------------------------------------------------------

    def cluster_view(self, cid: str) -> dict[str, Any]:
        c = self.clusters[cid]
        return {
            "id": cid,
            "nodes": sorted(n for n, v in self.nodes.items() if v["cluster"] == cid),
            "volumes": sorted(v for v, i in self.volumes.items() if i["cluster"] == cid),
            "block": c["block"],
            "file": c["file"],
            "blockvolumes": [],
        }

    def device_view(self, did: str) -> dict[str, Any]:
        d = self.devices[did]
        bricks = sorted(
            (b for v in self.volumes.values() for b in v["bricks"] if b["device"] == did),
            key=lambda b: str(b["id"]),
        )
        used = sum(int(b["size"]) for b in bricks)
        view: dict[str, Any] = {"name": d["name"]}
        if d["tags"]:
            view["tags"] = dict(d["tags"])
        view["storage"] = {"total": DEVICE_KIB, "free": DEVICE_KIB - used, "used": used}
        view.update({"id": did, "state": d["state"], "bricks": bricks})
        return view

    def node_view(self, nid: str) -> dict[str, Any]:
        n = self.nodes[nid]
        view: dict[str, Any] = {
            "zone": n["zone"],
            "hostnames": {"manage": [n["manage"]], "storage": [n["storage"]]},
            "cluster": n["cluster"],
        }
        if n["tags"]:
            view["tags"] = dict(n["tags"])
        view.update({"id": nid, "state": n["state"]})
        view["devices"] = [
            self.device_view(d) for d in sorted(self.devices) if self.devices[d]["node"] == nid
        ]
        return view

    def topology_view(self) -> dict[str, Any]:
        clusters = []
        for cid in sorted(self.clusters):
            info = self.cluster_view(cid)
            clusters.append(
                {
                    "volumes": [self.volumes[v] for v in info["volumes"]],
                    "nodes": [self.node_view(n) for n in info["nodes"]],
                    "id": cid,
                    "block": info["block"],
                    "file": info["file"],
                }
            )
        return {"clusters": clusters}

    # --- handlers -----------------------------------------------------------------------------

    def _topology(self, m: re.Match[str], body: Any) -> Outcome:
        if not self.topology_endpoint:
            return Outcome(404, "Invalid path or request")
        return Outcome(200, self.topology_view())

    def _exists(self, table: dict[str, Any], outcome: Outcome) -> Handler:
        def handler(m: re.Match[str], body: Any) -> Outcome:
            if m.group(1) not in table:
                return Outcome(404, "Id not found")
            return Outcome(outcome.status, outcome.body, outcome.location, deferred=True)

        return handler

    def _cluster_create(self, m: re.Match[str], body: Any) -> Outcome:
        if not isinstance(body, dict):
            return Outcome(422, "request unable to be parsed")
        cid = _new_id()
        self.clusters[cid] = {"block": bool(body.get("block")), "file": bool(body.get("file"))}
        return Outcome(201, self.cluster_view(cid))

    def _cluster_info(self, m: re.Match[str], body: Any) -> Outcome:
        if m.group(1) not in self.clusters:
            return Outcome(404, "Id not found")
        return Outcome(200, self.cluster_view(m.group(1)))

    def _cluster_delete(self, m: re.Match[str], body: Any) -> Outcome:
        cid = m.group(1)
        if cid not in self.clusters:
            return Outcome(404, "Id not found")
        view = self.cluster_view(cid)
        if view["nodes"] or view["volumes"]:
            return Outcome(
                409, f"Unable to delete cluster [{cid}] because it contains volumes and/or nodes"
            )
        del self.clusters[cid]
        return Outcome(200)

    def _cluster_flags(self, m: re.Match[str], body: Any) -> Outcome:
        if m.group(1) not in self.clusters:
            return Outcome(404, "Id not found")
        flags = body if isinstance(body, dict) else {}
        self.clusters[m.group(1)].update(
            block=bool(flags.get("block")), file=bool(flags.get("file"))
        )
        return Outcome(200)

    def _node_add(self, m: re.Match[str], body: Any) -> Outcome:
        body = body if isinstance(body, dict) else {}
        hostnames = body.get("hostnames") or {}
        manage = (hostnames.get("manage") or [""])[0]
        storage = (hostnames.get("storage") or [""])[0]
        if not body.get("zone"):
            return Outcome(400, "validation failed: zone: cannot be blank.")
        if body.get("cluster") not in self.clusters:
            return Outcome(404, "Cluster id does not exist")
        for nid, node in self.nodes.items():
            if manage in (node["manage"], node["storage"]) or storage == node["storage"]:
                used = manage if manage in (node["manage"], node["storage"]) else storage
                return Outcome(409, f"Hostname {used} already used by node with id {nid}\n")
        nid = _new_id()
        self.nodes[nid] = {
            "zone": body["zone"],
            "manage": manage,
            "storage": storage,
            "cluster": body["cluster"],
            "tags": dict(body.get("tags") or {}),
            "state": "online",
        }
        return Outcome(303, location=f"/nodes/{nid}", deferred=True)

    def _node_info(self, m: re.Match[str], body: Any) -> Outcome:
        if m.group(1) not in self.nodes:
            return Outcome(404, "Id not found")
        return Outcome(200, self.node_view(m.group(1)))

    def _node_delete(self, m: re.Match[str], body: Any) -> Outcome:
        nid = m.group(1)
        if nid not in self.nodes:
            return Outcome(404, "Id not found")
        if any(d["node"] == nid for d in self.devices.values()):
            return Outcome(409, f"Unable to delete node [{nid}] because it contains devices")
        del self.nodes[nid]
        return Outcome(204, deferred=True)

    def _state(self, table: dict[str, Any]) -> Handler:
        def handler(m: re.Match[str], body: Any) -> Outcome:
            if m.group(1) not in table:
                return Outcome(404, "Id not found")
            state = (body or {}).get("state")
            if state not in ("online", "offline", "failed"):
                return Outcome(400, f"validation failed: state: {state} is not valid state.")
            table[m.group(1)]["state"] = state
            return Outcome(204, deferred=True)

        return handler

    def _tags(self, table: dict[str, Any]) -> Handler:
        def handler(m: re.Match[str], body: Any) -> Outcome:
            if m.group(1) not in table:
                return Outcome(404, "Id not found")
            tags: dict[str, str] = table[m.group(1)]["tags"]
            change = (body or {}).get("change_type")
            new = dict((body or {}).get("tags") or {})
            if change == "set":
                tags.clear()
                tags.update(new)
            elif change == "update":
                tags.update(new)
            elif change == "delete":
                for key in new:
                    tags.pop(key, None)
            else:
                return Outcome(400, "validation failed: change_type: cannot be blank.")
            return Outcome(200, dict(tags))

        return handler

    def _device_add(self, m: re.Match[str], body: Any) -> Outcome:
        body = body if isinstance(body, dict) else {}
        if body.get("node") not in self.nodes:
            return Outcome(404, "Node id does not exist")
        did = _new_id()
        self.devices[did] = {
            "name": body.get("name", ""),
            "node": body["node"],
            "tags": dict(body.get("tags") or {}),
            "state": "online",
        }
        return Outcome(204, deferred=True)

    def _device_info(self, m: re.Match[str], body: Any) -> Outcome:
        if m.group(1) not in self.devices:
            return Outcome(404, "Id not found")
        return Outcome(200, self.device_view(m.group(1)))

    def _device_delete(self, m: re.Match[str], body: Any) -> Outcome:
        did = m.group(1)
        if did not in self.devices:
            return Outcome(404, "Id not found")
        if self.devices[did]["state"] != "failed":
            return Outcome(400, f"device: {did} is not in failed state")
        del self.devices[did]
        return Outcome(204, deferred=True)

    def _volume_create(self, m: re.Match[str], body: Any) -> Outcome:
        body = body if isinstance(body, dict) else {}
        size = body.get("size")
        if not size:
            return Outcome(400, "validation failed: size: cannot be blank.")
        if not self.clusters:
            return Outcome(400, "No clusters configured")
        vid = _new_id()
        cid = (body.get("clusters") or sorted(self.clusters))[0]
        durability = body.get("durability") or {}
        kind = durability.get("type") or "none"
        width = {"replicate": (durability.get("replicate") or {}).get("replica") or 2}.get(kind, 1)
        node_ids = sorted(n for n, v in self.nodes.items() if v["cluster"] == cid)
        hosts = [self.nodes[n]["storage"] for n in node_ids]
        bricks = []
        for nid in node_ids[:width]:
            did = next((d for d in sorted(self.devices) if self.devices[d]["node"] == nid), "")
            bid = _new_id()
            bricks.append(
                {
                    "id": bid,
                    "path": f"/var/lib/heketi/mounts/vg_{did}/brick_{bid}/brick",
                    "device": did,
                    "node": nid,
                    "volume": vid,
                    "size": size * GIB,
                }
            )
        snapshot = body.get("snapshot") or {}
        name = body.get("name") or f"vol_{vid}"
        self.volumes[vid] = {
            "size": size,
            "name": name,
            "durability": _volume_durability(durability),
            "glustervolumeoptions": ["", *(body.get("glustervolumeoptions") or []), ""],
            "snapshot": {
                "enable": bool(snapshot.get("enable")),
                "factor": snapshot.get("factor") if snapshot.get("enable") else 1,
            },
            "id": vid,
            "cluster": cid,
            "mount": {
                "glusterfs": {
                    "hosts": hosts,
                    "device": f"{hosts[0] if hosts else ''}:{name}",
                    "options": {"backup-volfile-servers": ",".join(hosts[1:])},
                }
            },
            "blockinfo": {},
            "bricks": sorted(bricks, key=lambda b: str(b["id"])),
        }
        if body.get("block"):
            self.volumes[vid]["block"] = True
        return Outcome(303, location=f"/volumes/{vid}", deferred=True)

    def _volume_plan(self, m: re.Match[str], body: Any) -> Outcome:
        """``POST /volumes/plan``: one brick set, one brick per node on its first device with
        room (nodes in id order), or ``ok: false`` when the cluster has too few such nodes."""
        body = body if isinstance(body, dict) else {}
        size = body.get("size")
        if not size:
            return Outcome(400, "validation failed: size: cannot be blank.")
        if not self.clusters:
            return Outcome(400, "No clusters configured")
        cid = (body.get("clusters") or sorted(self.clusters))[0]
        if cid not in self.clusters:
            return Outcome(404, f"Cluster id {cid} does not exist")
        durability = body.get("durability") or {}
        kind = durability.get("type") or "none"
        replica = (durability.get("replicate") or {}).get("replica") or 2
        disperse = durability.get("disperse") or {}
        data = int(disperse.get("data") or 4)
        width = {"replicate": replica, "disperse": data + int(disperse.get("redundancy") or 2)}
        bricks_per_set = int(width.get(kind, 1))
        brick_size = int(size) * GIB // (data if kind == "disperse" else 1)
        snapshot = body.get("snapshot") or {}
        factor = float(snapshot.get("factor") or 1) if snapshot.get("enable") else 1.0
        space = int(brick_size * factor) + brick_size // 200
        bricks: list[dict[str, Any]] = []
        skipped: list[dict[str, Any]] = []
        counts = dict.fromkeys(_SKIP_REASONS, 0)

        def skip(did: str, nid: str, category: str, reason: str) -> None:
            counts[category] += 1
            if len(skipped) < 50:
                node = self.nodes[nid]
                skipped.append(
                    {
                        "device": did,
                        "device_name": self.devices[did]["name"],
                        "node": nid,
                        "hostname": node["storage"],
                        "reason": reason,
                    }
                )

        for nid in sorted(n for n, v in self.nodes.items() if v["cluster"] == cid):
            if len(bricks) == bricks_per_set:
                break
            node = self.nodes[nid]
            for did in sorted(d for d, v in self.devices.items() if v["node"] == nid):
                free = int(self.device_view(did)["storage"]["free"])
                if node["state"] != "online" or self.devices[did]["state"] != "online":
                    skip(did, nid, "offline", "device or node is not online")
                elif any(b["node"] == nid for b in bricks):
                    used = next(b["position"] for b in bricks if b["node"] == nid)
                    skip(did, nid, "same node", f"same node as brick {used} of set 0")
                elif free < space:
                    skip(did, nid, "no space", f"only {free} KiB free, {space} KiB needed")
                else:
                    bricks.append(
                        {
                            "position": len(bricks),
                            "device": did,
                            "device_name": self.devices[did]["name"],
                            "node": nid,
                            "hostname": node["storage"],
                            "zone": node["zone"],
                            "size": brick_size,
                            "space": space,
                            "arbiter": False,
                            "reason": "first device of the node with enough free space",
                        }
                    )
        ok = len(bricks) == bricks_per_set
        error = f"No space: {bricks_per_set} nodes with a usable device needed, {len(bricks)} found"
        result = "placed" if ok else error.removeprefix("No space: ")
        plan: dict[str, Any] = {"ok": ok}
        if not ok:
            plan["error"] = error
        plan.update(
            {
                "cluster": cid if ok else "",
                "size": size,
                "durability": _volume_durability(durability),
                "sets": 1 if ok else 0,
                "bricks_per_set": bricks_per_set if ok else 0,
                "brick_size": brick_size if ok else 0,
                "brick_sets": [{"set": 0, "bricks": bricks}] if ok else [],
                "skipped": skipped,
                "skipped_counts": counts,
                "attempts": [{"sets": 1, "brick_size": brick_size, "result": result}],
                "clusters": [{"id": cid, "result": result}],
            }
        )
        return Outcome(200, plan)

    def _volume_info(self, m: re.Match[str], body: Any) -> Outcome:
        if m.group(1) not in self.volumes:
            return Outcome(404, "Id not found")
        return Outcome(200, self.volumes[m.group(1)])

    def _volume_delete(self, m: re.Match[str], body: Any) -> Outcome:
        if m.group(1) not in self.volumes:
            return Outcome(404, "Id not found")
        del self.volumes[m.group(1)]
        return Outcome(204, deferred=True)

    def _volume_expand(self, m: re.Match[str], body: Any) -> Outcome:
        vid = m.group(1)
        if vid not in self.volumes:
            return Outcome(404, "Id not found")
        self.volumes[vid]["size"] += int((body or {}).get("expand_size") or 0)
        return Outcome(303, location=f"/volumes/{vid}", deferred=True)

    def _admin_set(self, m: re.Match[str], body: Any) -> Outcome:
        state = (body or {}).get("state")
        if state not in ("normal", "read-only", "local-client"):
            return Outcome(400, "validation failed: state: must be a valid value.")
        self.admin_state = state
        return Outcome(204)

    def _logging(self) -> dict[str, Any]:
        return {"loglevel": {"glusterfs": self.log_level}}

    def _logging_set(self, m: re.Match[str], body: Any) -> Outcome:
        self.log_level = ((body or {}).get("loglevel") or {}).get("glusterfs", self.log_level)
        return Outcome(200, self._logging())


_SKIP_REASONS = ("same node", "no space", "offline", "zone in use (strict)", "tags", "arbiter role")


def _volume_durability(durability: dict[str, Any]) -> dict[str, Any]:
    """A volume's ``durability`` from the request's."""
    kind = durability.get("type") or "none"
    return {
        "type": kind,
        "replicate": (durability.get("replicate") or {}) if kind == "replicate" else {},
        "disperse": (durability.get("disperse") or {}) if kind == "disperse" else {},
    }


_OPERATIONS = {"total": 0, "in_flight": 0, "stale": 0, "failed": 0, "new": 0}


def _text(status: int, message: str) -> httpx.Response:
    return httpx.Response(
        status,
        content=(message + "\n").encode(),
        headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
    )


def _response(outcome: Outcome) -> httpx.Response:
    headers = {"Location": outcome.location} if outcome.location else {}
    if isinstance(outcome.body, str):
        if outcome.status < 400:
            return httpx.Response(outcome.status, content=outcome.body.encode(), headers=headers)
        return (
            _text(outcome.status, outcome.body) if outcome.body else httpx.Response(outcome.status)
        )
    if outcome.body is None:
        return httpx.Response(outcome.status, headers=headers)
    headers["Content-Type"] = "application/json; charset=UTF-8"
    content = (json.dumps(outcome.body, separators=(",", ":")) + "\n").encode()
    return httpx.Response(outcome.status, content=content, headers=headers)
