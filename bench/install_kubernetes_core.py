"""Install kubernetes.core into a collections directory, from the `ansible` bundle wheel on PyPI.

kubernetes.core has no wheel of its own and Galaxy is out of reach, so `pip download` fetches the
pinned `ansible` wheel (bench/kubernetes-core.txt, checked against its sha256 by pip's
--require-hashes) and only ``ansible_collections/kubernetes/core/`` is extracted into
``DEST/ansible_collections/kubernetes/core``. The wheel is downloaded to a temporary directory and
deleted afterwards.

    python bench/install_kubernetes_core.py \\
        --requirement bench/kubernetes-core.txt --dest build/bench-collections
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PREFIX = "ansible_collections/kubernetes/core/"


def extract(wheel: Path, dest: Path) -> str:
    """Extract kubernetes.core from ``wheel`` into ``dest``; return the collection's version."""
    target = dest / PREFIX
    if target.exists():
        shutil.rmtree(target)
    with zipfile.ZipFile(wheel) as archive:
        members = [name for name in archive.namelist() if name.startswith(PREFIX) and not name.endswith("/")]
        if not members:
            raise SystemExit(f"{wheel.name} holds no {PREFIX}")
        for name in members:
            path = dest / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive.read(name))
    manifest = json.loads((target / "MANIFEST.json").read_text())
    return str(manifest["collection_info"]["version"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--requirement", type=Path, required=True)
    parser.add_argument("--dest", type=Path, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ansible-wheel-") as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--require-hashes",
                "--requirement",
                str(args.requirement),
                "--dest",
                tmp,
            ],
            check=True,
        )
        wheels = list(Path(tmp).glob("ansible-*.whl"))
        if len(wheels) != 1:
            raise SystemExit(f"expected one ansible wheel, got {[w.name for w in wheels]}")
        version = extract(wheels[0], args.dest)
    print(f"kubernetes.core {version} installed in {args.dest / PREFIX}")


if __name__ == "__main__":
    main()
