"""deploy/kubernetes: every manifest validated offline against the Kubernetes API schemas
(kubernetes-validate, strict: unknown fields are errors) and the cross-references checked
(driver name, secrets, ServiceAccounts, RBAC bindings, socket paths, pinned images); the
server's manifests (deploy/kubernetes/server) and the systemd example of several servers
(deploy/systemd) too: replicas, the database URL from a Secret, probes, heketi.json."""

from __future__ import annotations

import base64
import copy
import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
EXAMPLE = DEPLOY / "example"
SERVER = DEPLOY / "server"
SYSTEMD = DEPLOY.parent / "systemd"
DRIVER = "glusterfs.brickyard.io"
#: The oldest schema set the package ships and the newest: what we claim to support.
K8S_VERSIONS = ("1.28", kubernetes_validate.latest_version())

Obj = dict[str, Any]


def load(directory: Path) -> list[tuple[str, Obj]]:
    """(file name, object) for every document of every file the kustomization lists."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    out: list[tuple[str, Obj]] = []
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((directory / name).read_text()):
            if doc:
                out.append((name, doc))
    return out


DRIVER_OBJECTS = load(DEPLOY)
EXAMPLE_OBJECTS = load(EXAMPLE)
ALL_OBJECTS = DRIVER_OBJECTS + EXAMPLE_OBJECTS
#: The REST server's manifests: apart, so that one("Deployment") stays the driver's controller.
SERVER_OBJECTS = load(SERVER)
EVERY_OBJECT = ALL_OBJECTS + SERVER_OBJECTS


def find(kind: str, objects: list[tuple[str, Obj]] = ALL_OBJECTS) -> list[Obj]:
    return [o for _, o in objects if o["kind"] == kind]


def one(kind: str, objects: list[tuple[str, Obj]] = ALL_OBJECTS) -> Obj:
    found = find(kind, objects)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def key(o: Obj) -> tuple[str, str, str]:
    return (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])


def validate(obj: Obj, version: str) -> None:
    kubernetes_validate.validate(obj, version, strict=True)


# -- schemas -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(
    ("filename", "obj"), EVERY_OBJECT, ids=[f"{f}:{key(o)[2]}" for f, o in EVERY_OBJECT]
)
def test_every_manifest_is_valid_for_the_kubernetes_api(
    filename: str, obj: Obj, version: str
) -> None:
    validate(obj, version)


def test_strict_validation_rejects_a_misspelt_field() -> None:
    """The check above can fail: a typo in a field name is caught."""
    broken = copy.deepcopy(one("CSIDriver"))
    broken["spec"]["attachRequierd"] = False
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken, K8S_VERSIONS[-1])
    wrong_type = copy.deepcopy(one("DaemonSet"))
    wrong_type["spec"]["template"]["spec"]["hostNetwork"] = "yes"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(wrong_type, K8S_VERSIONS[-1])


@pytest.mark.parametrize(
    "directory", [DEPLOY, EXAMPLE, SERVER], ids=["driver", "example", "server"]
)
def test_the_kustomization_lists_every_manifest_of_its_directory(directory: Path) -> None:
    listed = yaml.safe_load((directory / "kustomization.yaml").read_text())["resources"]
    present = sorted(p.name for p in directory.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == present
    assert len(set(listed)) == len(listed)


def test_no_object_is_defined_twice() -> None:
    keys = [key(o) for _, o in EVERY_OBJECT]
    assert len(keys) == len(set(keys))


# -- the driver ------------------------------------------------------------------------------


def test_csidriver() -> None:
    spec = one("CSIDriver")["spec"]
    assert one("CSIDriver")["metadata"]["name"] == DRIVER
    assert spec["attachRequired"] is False
    assert spec["fsGroupPolicy"] == "None"  # the in-tree plugin's behaviour (Managed: false)
    assert spec["volumeLifecycleModes"] == ["Persistent"]


def test_the_storageclass_keeps_the_in_tree_parameters_and_names_our_driver() -> None:
    sc = one("StorageClass")
    assert sc["provisioner"] == one("CSIDriver")["metadata"]["name"]
    assert set(sc["parameters"]) == {
        "resturl",
        "restuser",
        "secretNamespace",
        "secretName",
        "volumetype",
    }
    assert sc["parameters"]["volumetype"] == "replicate:3"
    assert sc["allowVolumeExpansion"] is True
    assert all(isinstance(v, str) for v in sc["parameters"].values())


def test_the_storageclass_secret_exists_with_the_in_tree_type_and_key() -> None:
    params = one("StorageClass")["parameters"]
    secrets = {key(s): s for s in find("Secret")}
    secret = secrets[("Secret", params["secretNamespace"], params["secretName"])]
    assert secret["type"] == "kubernetes.io/glusterfs"
    assert base64.b64decode(secret["data"]["key"], validate=True)


def test_the_example_claim_and_pods() -> None:
    sc = one("StorageClass")
    pvc = one("PersistentVolumeClaim")
    assert pvc["spec"]["storageClassName"] == sc["metadata"]["name"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    pods = find("Pod")
    assert len(pods) == 2
    for pod in pods:
        assert pod["metadata"]["namespace"] == pvc["metadata"]["namespace"]
        claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]]
        assert claims == [pvc["metadata"]["name"]]


def workloads() -> list[Obj]:
    return find("Deployment") + find("DaemonSet")


def containers(workload: Obj) -> dict[str, Obj]:
    return {c["name"]: c for c in workload["spec"]["template"]["spec"]["containers"]}


def test_every_serviceaccount_used_exists_in_the_same_namespace() -> None:
    accounts = {key(sa) for sa in find("ServiceAccount")}
    for w in workloads():
        name = w["spec"]["template"]["spec"]["serviceAccountName"]
        assert ("ServiceAccount", w["metadata"]["namespace"], name) in accounts


def test_every_binding_names_existing_subjects_and_roles() -> None:
    accounts = {key(sa) for sa in find("ServiceAccount")}
    roles = {key(r) for r in find("ClusterRole") + find("Role")}
    bindings = find("ClusterRoleBinding") + find("RoleBinding")
    assert bindings
    for b in bindings:
        ref = b["roleRef"]
        namespace = b["metadata"].get("namespace", "") if ref["kind"] == "Role" else ""
        assert (ref["kind"], namespace, ref["name"]) in roles
        for s in b["subjects"]:
            assert ("ServiceAccount", s["namespace"], s["name"]) in accounts


def rules_of(account: str) -> list[Obj]:
    """Every rule bound to the ServiceAccount ``account``."""
    roles = {key(r): r for r in find("ClusterRole") + find("Role")}
    rules: list[Obj] = []
    for b in find("ClusterRoleBinding") + find("RoleBinding"):
        if any(s["name"] == account for s in b["subjects"]):
            ref = b["roleRef"]
            namespace = b["metadata"].get("namespace", "") if ref["kind"] == "Role" else ""
            rules += roles[(ref["kind"], namespace, ref["name"])]["rules"]
    return rules


def allowed(rules: list[Obj], group: str, resource: str, verb: str) -> bool:
    return any(
        group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in rules
    )


def test_the_controller_account_has_what_the_sidecars_document() -> None:
    account = one("Deployment")["spec"]["template"]["spec"]["serviceAccountName"]
    rules = rules_of(account)
    needed = [
        ("", "persistentvolumes", "create"),
        ("", "persistentvolumes", "delete"),
        ("", "persistentvolumes", "patch"),
        ("", "persistentvolumeclaims", "update"),
        ("", "persistentvolumeclaims/status", "patch"),
        ("storage.k8s.io", "storageclasses", "watch"),
        ("", "events", "create"),
        ("coordination.k8s.io", "leases", "update"),
        ("", "secrets", "get"),
    ]
    for group, resource, verb in needed:
        assert allowed(rules, group, resource, verb), (group, resource, verb)
    assert not allowed(rules, "", "secrets", "list")  # get by name is enough


def test_the_node_account_has_no_rules_and_no_token() -> None:
    ds = one("DaemonSet")
    account = ds["spec"]["template"]["spec"]["serviceAccountName"]
    assert rules_of(account) == []
    assert ds["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def arg(container: Obj, flag: str) -> str | None:
    for a in container.get("args", []):
        if a.startswith(flag + "="):
            return str(a.split("=", 1)[1])
    return None


def mount_dir_volume(container: Obj, path: str) -> str | None:
    """The volume mounted at the directory holding ``path`` in ``container``."""
    directory = str(Path(path).parent)
    for m in container.get("volumeMounts", []):
        if m["mountPath"].rstrip("/") == directory:
            return str(m["name"])
    return None


def socket_problems(workload: Obj) -> list[str]:
    """Where the plugin's socket and the sidecars' --csi-address disagree."""
    problems: list[str] = []
    cs = containers(workload)
    endpoint = arg(cs["brickyard-csi"], "--endpoint")
    if endpoint is None or not endpoint.startswith("unix://"):
        return [f"plugin endpoint {endpoint!r} is not unix://"]
    socket = endpoint.removeprefix("unix://")
    volume = mount_dir_volume(cs["brickyard-csi"], socket)
    if volume is None:
        problems.append("the plugin's socket directory is not a volume")
    for name, c in cs.items():
        if name == "brickyard-csi":
            continue
        address = arg(c, "--csi-address")
        if address != socket:
            problems.append(f"{name}: --csi-address {address} != {socket}")
        elif mount_dir_volume(c, address) != volume:
            problems.append(f"{name}: {address} is not on volume {volume}")
    return problems


@pytest.mark.parametrize("kind", ["Deployment", "DaemonSet"])
def test_the_sidecars_and_the_plugin_share_one_socket(kind: str) -> None:
    assert socket_problems(one(kind)) == []


def test_a_socket_mismatch_is_caught() -> None:
    broken = copy.deepcopy(one("Deployment"))
    for c in broken["spec"]["template"]["spec"]["containers"]:
        if c["name"] == "csi-resizer":
            c["args"] = [
                "--csi-address=/run/csi.sock" if a.startswith("--csi-address") else a
                for a in c["args"]
            ]
    assert socket_problems(broken) == ["csi-resizer: --csi-address /run/csi.sock != /csi/csi.sock"]


def test_the_controller_socket_is_in_an_emptydir() -> None:
    d = one("Deployment")
    socket_volume = mount_dir_volume(containers(d)["brickyard-csi"], "/csi/csi.sock")
    volumes = {v["name"]: v for v in d["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes[socket_volume]


def test_the_node_socket_is_where_the_registrar_tells_kubelet() -> None:
    ds = one("DaemonSet")
    cs = containers(ds)
    volumes = {v["name"]: v for v in ds["spec"]["template"]["spec"]["volumes"]}
    socket_volume = mount_dir_volume(cs["brickyard-csi"], "/csi/csi.sock")
    host_dir = volumes[socket_volume]["hostPath"]["path"]
    registration = arg(cs["node-driver-registrar"], "--kubelet-registration-path")
    assert registration == f"{host_dir}/csi.sock"
    assert host_dir == f"/var/lib/kubelet/plugins/{DRIVER}"
    registry = mount_dir_volume(cs["node-driver-registrar"], "/registration/x")
    assert volumes[registry]["hostPath"]["path"] == "/var/lib/kubelet/plugins_registry"


def test_the_plugins_modes_and_flags() -> None:
    controller = containers(one("Deployment"))["brickyard-csi"]
    node = containers(one("DaemonSet"))["brickyard-csi"]
    assert controller["args"][0] == "csi" and arg(controller, "--mode") == "controller"
    assert node["args"][0] == "csi" and arg(node, "--mode") == "node"
    for c in (controller, node):
        assert arg(c, "--node-id") == "$(NODE_NAME)"
        env = {e["name"]: e for e in c["env"]}
        assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"


def test_the_provisioner_has_extra_metadata_and_a_long_timeout() -> None:
    cs = containers(one("Deployment"))
    provisioner = cs["csi-provisioner"]
    assert "--extra-create-metadata" in provisioner["args"]
    for name in ("csi-provisioner", "csi-resizer"):
        timeout = arg(cs[name], "--timeout")
        assert timeout is not None and re.fullmatch(r"\d+s", timeout)
        assert int(timeout[:-1]) >= 60, name
        assert "--leader-election" in cs[name]["args"]


def test_the_node_plugin_can_mount_fuse_for_the_pods() -> None:
    ds = one("DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    plugin = containers(ds)["brickyard-csi"]
    assert pod["hostNetwork"] is True
    assert pod["hostPID"] is True
    assert plugin["securityContext"]["privileged"] is True
    mounts = {m["mountPath"]: m for m in plugin["volumeMounts"]}
    assert mounts["/var/lib/kubelet"]["mountPropagation"] == "Bidirectional"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/var/lib/kubelet"]["name"]]["hostPath"]["path"] == "/var/lib/kubelet"
    fuse = volumes[mounts["/dev/fuse"]["name"]]["hostPath"]
    assert fuse == {"path": "/dev/fuse", "type": "CharDevice"}
    # the FUSE clients outlive the plugin in scopes of the host's systemd (docs/csi-node.md)
    systemd = volumes[mounts["/run/systemd"]["name"]]["hostPath"]
    assert systemd["path"] == "/run/systemd"
    state = arg(plugin, "--state-dir")
    assert state in mounts and "hostPath" in volumes[mounts[state]["name"]]
    # only the plugin needs the privileges
    for name, c in containers(ds).items():
        if name != "brickyard-csi":
            assert not c.get("securityContext", {}).get("privileged")


@pytest.mark.parametrize("kind", ["Deployment", "DaemonSet"])
def test_the_livenessprobe_sidecar_serves_the_plugins_healthz_port(kind: str) -> None:
    cs = containers(one(kind))
    port = {p["name"]: p["containerPort"] for p in cs["brickyard-csi"]["ports"]}["healthz"]
    assert arg(cs["liveness-probe"], "--health-port") == str(port)
    assert cs["brickyard-csi"]["livenessProbe"]["httpGet"]["port"] == "healthz"


IMAGE = re.compile(r"^(?P<repo>[a-z0-9./_-]+)(?::(?P<tag>[\w.-]+))?(?:@sha256:[0-9a-f]{64})?$")


def image_problem(image: str) -> str | None:
    m = IMAGE.match(image)
    if m is None:
        return f"{image}: not an image reference"
    if "@sha256:" not in image and (m["tag"] in (None, "latest")):
        return f"{image}: not pinned"
    return None


def every_container() -> list[Obj]:
    out: list[Obj] = []
    for w in workloads():
        out += w["spec"]["template"]["spec"]["containers"]
    for p in find("Pod"):
        out += p["spec"]["containers"]
    return out


def test_every_image_is_pinned() -> None:
    problems = [image_problem(c["image"]) for c in every_container()]
    assert [p for p in problems if p] == []
    assert image_problem("busybox") and image_problem("busybox:latest")
    assert image_problem("busybox@sha256:" + "0" * 64) is None


def test_the_sidecars_come_from_sig_storage() -> None:
    sidecars = {
        c["image"].rsplit(":", 1)[0]
        for w in workloads()
        for n, c in containers(w).items()
        if n != "brickyard-csi"
    }
    assert sidecars == {
        f"registry.k8s.io/sig-storage/{n}"
        for n in ("csi-provisioner", "csi-resizer", "livenessprobe", "csi-node-driver-registrar")
    }


def test_the_kustomization_renames_the_plugin_image_we_use() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    names = {i["name"] for i in kustomization["images"]}
    plugin_images = {containers(w)["brickyard-csi"]["image"].split(":")[0] for w in workloads()}
    assert plugin_images == names


def test_the_dockerfile_builds_the_plugin_from_this_project() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=debian:12", text, re.M)
    assert "glusterfs-client" in text and "python3" in text
    assert re.search(r"^\s+systemd \\$", text, re.M)  # systemd-run for the FUSE clients
    assert "pip install --no-cache-dir /src" in text
    assert "-m brickyard.csi.stubs" in text
    assert 'ENTRYPOINT ["/opt/brickyard/bin/brickyard"]' in text
    root = DEPLOY.parents[1]
    for source in re.findall(r"^COPY (.+) /src/", text, re.M):
        for part in source.split():
            assert (root / part).exists(), part


def test_the_installed_package_carries_what_the_image_needs() -> None:
    """The Dockerfile installs the project with a plain ``pip install /src`` (a wheel, not the
    source tree) and then generates the stubs from ``csi/proto/csi.proto``: every data file of
    ``brickyard/csi`` must be declared package data, or the image build fails."""
    import fnmatch
    import tomllib

    root = DEPLOY.parents[1]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["brickyard"]
    package = root / "src" / "brickyard"
    data = [
        p.relative_to(package).as_posix()
        for p in (package / "csi").rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc", ".md") and "__pycache__" not in p.parts
    ]
    assert data, "no csi data files found (the .proto moved?)"
    missing = [d for d in data if not any(fnmatch.fnmatch(d, pat) for pat in patterns)]
    assert missing == [], f"not in [tool.setuptools.package-data] brickyard: {missing}"


# -- the REST server (deploy/kubernetes/server): several replicas on one PostgreSQL ----------


def server_deployment() -> Obj:
    return one("Deployment", SERVER_OBJECTS)


def server_pod() -> Obj:
    return server_deployment()["spec"]["template"]


def server_container() -> Obj:
    (container,) = server_pod()["spec"]["containers"]
    return container


def server_secret(name: str) -> Obj:
    secrets = {key(s): s for s in find("Secret", SERVER_OBJECTS)}
    return secrets[("Secret", server_deployment()["metadata"]["namespace"], name)]


def secret_value(secret: Obj, name: str) -> str:
    if name in secret.get("stringData", {}):
        return str(secret["stringData"][name])
    return base64.b64decode(secret["data"][name], validate=True).decode()


def server_config_text() -> str:
    return str(one("ConfigMap", SERVER_OBJECTS)["data"]["heketi.json"])


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    """A matchLabels-only selector that selects a pod with `labels`."""
    assert set(selector) == {"matchLabels"}
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


def test_the_server_runs_two_replicas_or_more_on_different_nodes() -> None:
    d = server_deployment()
    labels = server_pod()["metadata"]["labels"]
    assert d["spec"]["replicas"] >= 2
    assert selects(d["spec"]["selector"], labels)
    anti = server_pod()["spec"]["affinity"]["podAntiAffinity"]
    required = anti["requiredDuringSchedulingIgnoredDuringExecution"]
    assert any(
        term["topologyKey"] == "kubernetes.io/hostname" and selects(term["labelSelector"], labels)
        for term in required
    )
    # Every replica must run the same shared settings and schema: no old next to new.
    assert d["spec"]["strategy"] == {"type": "Recreate"}


def db_url_problems(deployment: Obj) -> list[str]:
    """Where the server's database URL does not come from a Secret that holds one."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container.get("env", [])}
    if "BRICKYARD_DB" not in env:
        return ["no BRICKYARD_DB"]
    problems: list[str] = []
    for name in ("BRICKYARD_DB", "HEKETI_DB_PATH", "HEKETI_ADMIN_KEY", "HEKETI_USER_KEY"):
        if name in env and "value" in env[name]:
            problems.append(f"{name} is a plain value")
    ref = env["BRICKYARD_DB"].get("valueFrom", {}).get("secretKeyRef")
    if ref is None:
        return [*problems, "BRICKYARD_DB is not from a Secret"]
    if ref.get("optional"):
        problems.append("BRICKYARD_DB is optional: a replica would start on SQLite alone")
    url = secret_value(server_secret(ref["name"]), ref["key"])
    if not url.startswith("postgresql+psycopg://"):
        problems.append(f"the Secret's {ref['key']} is not a postgresql+psycopg URL")
    return problems


def test_the_server_reads_the_database_url_and_keys_from_a_secret() -> None:
    assert db_url_problems(server_deployment()) == []
    env = {e["name"]: e for e in server_container()["env"]}
    for name in ("HEKETI_ADMIN_KEY", "HEKETI_USER_KEY"):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert secret_value(server_secret(ref["name"]), ref["key"])
    # heketi.json names no database (no fallback to an SQLite file) and holds no secret.
    config = json.loads(server_config_text())
    assert "db" not in config["glusterfs"]
    assert "jwt" not in config


def test_a_plain_database_url_is_caught() -> None:
    broken = copy.deepcopy(server_deployment())
    for e in broken["spec"]["template"]["spec"]["containers"][0]["env"]:
        if e["name"] == "BRICKYARD_DB":
            del e["valueFrom"]
            e["value"] = "postgresql+psycopg://brickyard:pw@db/brickyard"
    assert db_url_problems(broken) == [
        "BRICKYARD_DB is a plain value",
        "BRICKYARD_DB is not from a Secret",
    ]


def test_the_database_url_of_the_example_secret_is_one_the_server_takes() -> None:
    from sqlalchemy.engine import make_url

    env = {e["name"]: e for e in server_container()["env"]}
    ref = env["BRICKYARD_DB"]["valueFrom"]["secretKeyRef"]
    url = make_url(secret_value(server_secret(ref["name"]), ref["key"]))
    assert (url.drivername, url.port) == ("postgresql+psycopg", 5432)
    assert url.username and url.password and url.host and url.database
    assert url.query.get("sslmode") in ("require", "verify-ca", "verify-full")


def mounted_files(pod_spec: Obj, container: Obj) -> dict[str, tuple[str, str, str]]:
    """Path in the container -> (source kind, source name, key) for projected and single
    configMap/secret volumes."""
    volumes = {v["name"]: v for v in pod_spec["volumes"]}
    files: dict[str, tuple[str, str, str]] = {}
    for m in container.get("volumeMounts", []):
        volume = volumes[m["name"]]
        if "projected" in volume:
            sources = volume["projected"]["sources"]
        else:
            sources = [{k: volume[k]} for k in ("configMap", "secret") if k in volume]
        for source in sources:
            for kind, spec in source.items():
                name = spec.get("name", spec.get("secretName"))
                for item in spec.get("items", []):
                    path = f"{m['mountPath'].rstrip('/')}/{item['path']}"
                    files[path] = (kind, name, item["key"])
    return files


def test_heketi_json_and_the_ssh_key_are_mounted_where_the_server_looks() -> None:
    pod = server_pod()["spec"]
    container = server_container()
    files = mounted_files(pod, container)
    assert container["args"][0] == "serve"
    config_path = arg(container, "--config")
    assert config_path is not None
    configmap = one("ConfigMap", SERVER_OBJECTS)
    assert files[config_path] == ("configMap", configmap["metadata"]["name"], "heketi.json")
    config = json.loads(server_config_text())
    assert config["glusterfs"]["executor"] == "ssh"
    kind, name, key_name = files[config["glusterfs"]["sshexec"]["keyfile"]]
    assert kind == "secret"
    assert secret_value(server_secret(name), key_name).startswith("-----BEGIN")
    # readable by the server's uid, by nobody else
    projected = {v["name"]: v for v in pod["volumes"]}["config"]["projected"]
    assert projected["defaultMode"] == 0o440
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]


def test_the_server_config_loads_without_a_warning(tmp_path: Path) -> None:
    from brickyard.config import load_settings

    env = {
        "BRICKYARD_DB": "postgresql+psycopg://brickyard:pw@db:5432/brickyard",
        "HEKETI_ADMIN_KEY": "a",
        "HEKETI_USER_KEY": "u",
    }
    (tmp_path / "k8s.json").write_text(server_config_text())
    for path in (tmp_path / "k8s.json", SYSTEMD / "heketi.json"):
        settings, warnings = load_settings(str(path), env=env)
        assert warnings == [], path
        assert settings.glusterfs.db == env["BRICKYARD_DB"]
        assert settings.glusterfs.executor == "ssh"
        assert settings.port == 8080


def test_the_server_probes_its_hello_and_the_service_and_budget_select_it() -> None:
    container = server_container()
    labels = server_pod()["metadata"]["labels"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert (get["path"], get["port"]) == ("/hello", "http"), probe
    assert "http" in ports
    service = one("Service", SERVER_OBJECTS)
    assert service["spec"]["selector"] == server_deployment()["spec"]["selector"]["matchLabels"]
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    assert "sessionAffinity" not in service["spec"]  # any replica takes any request
    pdb = one("PodDisruptionBudget", SERVER_OBJECTS)
    assert pdb["spec"]["minAvailable"] == 1
    assert selects(pdb["spec"]["selector"], labels)


def test_the_server_runs_unprivileged_with_resources() -> None:
    pod = server_pod()["spec"]
    container = server_container()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]


def test_the_server_lives_in_the_drivers_namespace_and_image() -> None:
    namespace = one("Namespace", DRIVER_OBJECTS)["metadata"]["name"]
    for _, o in SERVER_OBJECTS:
        assert o["metadata"]["namespace"] == namespace, key(o)
    image = server_container()["image"]
    assert image_problem(image) is None
    driver_images = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["images"]
    server_images = yaml.safe_load((SERVER / "kustomization.yaml").read_text())["images"]
    assert server_images == driver_images
    assert image.split(":")[0] in {i["name"] for i in server_images}


# -- the systemd example of several servers (deploy/systemd) ---------------------------------


def unit_settings(text: str) -> list[tuple[str, str]]:
    return [
        (k.strip(), v.strip())
        for line in text.splitlines()
        if "=" in line and not line.lstrip().startswith(("#", ";"))
        for k, v in [line.split("=", 1)]
    ]


def test_the_systemd_unit_takes_its_secrets_from_a_required_environment_file() -> None:
    settings = unit_settings((SYSTEMD / "brickyard.service").read_text())
    values = dict(settings)
    assert values["EnvironmentFile"] == "/etc/heketi/ha.env"  # no "-": required
    assert values["ExecStart"].endswith(" serve --config=/etc/heketi/heketi.json")
    assert values["User"] == "heketi"
    assert not [k for k, _ in settings if k == "Environment"]  # nothing secret in the unit
    env = dict(unit_settings((SYSTEMD / "ha.env").read_text()))
    assert set(env) == {"BRICKYARD_DB", "HEKETI_ADMIN_KEY", "HEKETI_USER_KEY"}
    assert env["BRICKYARD_DB"].strip("'").startswith("postgresql+psycopg://")
    config = json.loads((SYSTEMD / "heketi.json").read_text())
    assert "db" not in config["glusterfs"] and "jwt" not in config


def test_the_postgresql_setup_makes_an_owner_without_privileges() -> None:
    sql = (SYSTEMD / "postgresql-setup.sql").read_text()
    assert re.search(r"^CREATE ROLE brickyard LOGIN NOSUPERUSER NOCREATEDB", sql, re.M)
    assert re.search(r"^CREATE DATABASE brickyard OWNER brickyard\b", sql, re.M)
    statements = [line for line in sql.splitlines() if not line.startswith("--")]
    assert "\\password brickyard" in statements  # psql asks for it
    assert not [s for s in statements if "PASSWORD" in s.upper() and not s.startswith("\\")]
