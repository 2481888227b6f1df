"""Folders written into: only real folders below a root the user chose, never a link."""

from __future__ import annotations

from pathlib import Path

from package_trust.errors import PackageTrustError


def refuse_links(root: Path, folder: Path, what: str) -> None:
    """Raise PackageTrustError when ``folder``, or a folder between it and ``root``, is a
    link (``root`` itself may be one). ``what`` names what would have been written."""
    while folder != root and folder != folder.parent:
        if folder.is_symlink():
            raise PackageTrustError(f"is a link; refusing to write {what} through it", folder)
        folder = folder.parent
