"""Folders written into: only real folders below a root the user chose, never a link;
private folders (the git ledgers' clones, the cache, a keyring's own)."""

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


def private_folder(folder: Path) -> None:
    """Create ``folder`` (mode 0700); refuse a link or another user's folder (OSError)."""
    import os
    import stat

    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise OSError(f"{folder} is not a folder of this user")
    if st.st_mode & 0o077:
        os.chmod(folder, 0o700)


def new_private_folder(parent: str | None, prefix: str) -> str:
    """A new folder, ``prefix`` and random letters, that only this user may enter, in
    ``parent`` (None: the system's temporary folder), as ``tempfile.mkdtemp`` makes one.
    tempfile (and random, which it imports) is imported only when ``parent`` is None: a
    check on a memory file system starts milliseconds sooner without them."""
    import os

    if parent is None:
        import tempfile

        return tempfile.mkdtemp(prefix=prefix)
    for _ in range(100):
        path = os.path.join(parent, prefix + os.urandom(6).hex())
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no unused name for a folder in {parent}")
