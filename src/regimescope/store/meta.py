"""Provenance recorded with every run: package versions, git commit, device, times."""

from __future__ import annotations

import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

PACKAGES = ("regimescope", "torch", "transformers", "tokenizers", "safetensors", "numpy")


def package_versions() -> dict[str, str]:
    """Installed version of each package the results depend on ("missing" if absent)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def git_commit(start: Path | None = None) -> str | None:
    """The commit of the checkout holding this package (with ``-dirty``), or None."""
    folder = start or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5
        )
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def now_iso() -> str:
    """The current UTC time as an ISO-8601 string."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def collect_meta(device: str = "cpu") -> dict:
    """Everything needed to say where and with what a run was made."""
    import torch

    return {
        "versions": package_versions(),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}",
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "started": now_iso(),
    }
