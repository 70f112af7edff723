"""Python stubs for ``proto/csi.proto``, generated with grpc_tools at first use.

The generated modules are never kept in the repository: :func:`load` generates them once into
a cache directory named after the SHA-256 of the .proto (so an edited .proto gets new stubs)
and imports them from there. The cache is ``$BRICKYARD_CSI_STUBS`` when set, else
``$XDG_CACHE_HOME/brickyard/csi-stubs`` (``~/.cache/...``), else a directory under the system's
temporary directory. A container image calls ``python -m brickyard.csi.stubs`` at build time
with ``BRICKYARD_CSI_STUBS`` set, so the driver never writes at run time.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PROTO", "Stubs", "cache_root", "generate", "load", "main"]

PROTO = Path(__file__).parent / "proto" / "csi.proto"
STUBS_ENV = "BRICKYARD_CSI_STUBS"
#: The package the generated modules live in (inside the cache directory).
PACKAGE = "brickyard_csi_v1"

_lock = threading.Lock()
_loaded: Stubs | None = None


@dataclass(frozen=True)
class Stubs:
    """The generated modules: ``pb2`` (messages) and ``grpc`` (servicers and stubs)."""

    pb2: Any
    grpc: Any
    directory: Path


def proto_hash() -> str:
    return hashlib.sha256(PROTO.read_bytes()).hexdigest()[:16]


def cache_root() -> Path:
    explicit = os.environ.get(STUBS_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "brickyard" / "csi-stubs"


def _protoc(out: Path) -> None:
    from grpc_tools import protoc  # imported here: only generation needs it

    include = Path(protoc.__file__).parent / "_proto"
    package_dir = out / PACKAGE
    package_dir.mkdir(parents=True)
    (package_dir / "__init__.py").write_text("")
    # the .proto is placed under the package so that the generated imports name the package
    shutil.copyfile(PROTO, package_dir / "csi.proto")
    args = [
        "grpc_tools.protoc",
        f"-I{out}",
        f"-I{include}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"{PACKAGE}/csi.proto",
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"grpc_tools.protoc failed on {PROTO}")


def generate(root: Path | None = None) -> Path:
    """Generate the stubs under ``root`` (default :func:`cache_root`) unless they are there;
    return the directory to put on ``sys.path``. Safe when several processes race."""
    base = root if root is not None else cache_root()
    target = base / proto_hash()
    if (target / PACKAGE / "csi_pb2_grpc.py").exists():
        return target
    try:
        base.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".gen-", dir=base))
    except OSError:
        if root is not None:
            raise
        # an unwritable home (a read-only container): fall back to the temporary directory
        return generate(Path(tempfile.gettempdir()) / f"brickyard-csi-stubs-{os.getuid()}")
    try:
        _protoc(work)
        try:
            os.rename(work, target)  # atomic; another process may have won the race
        except OSError:
            if not (target / PACKAGE / "csi_pb2_grpc.py").exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def load() -> Stubs:
    """The generated modules (generated first when needed)."""
    global _loaded
    with _lock:
        if _loaded is None:
            directory = generate()
            if str(directory) not in sys.path:
                sys.path.insert(0, str(directory))
            pb2 = importlib.import_module(f"{PACKAGE}.csi_pb2")
            grpc_mod = importlib.import_module(f"{PACKAGE}.csi_pb2_grpc")
            _loaded = Stubs(pb2, grpc_mod, directory)
        return _loaded


def main() -> None:
    """``python -m brickyard.csi.stubs [DIR]``: pre-generate the stubs (for images)."""
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    print(generate(root))


if __name__ == "__main__":
    main()
