"""The bench's workload, built once into bench/work/ (see bench/README.md): ledgers,
policies, a git repository of the ledger, and lockfiles.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(REPO / "hook"), str(REPO / "tests")]

from package_trust.check import lockfile, statement  # noqa: E402
from package_trust.check.names import is_valid_name, is_valid_version  # noqa: E402
from support import Auditors, Key, integrity_of  # noqa: E402

# The lockfile the tests use too (npm/cli's large-install fixture: see its SOURCES.md).
LOCKFILE = REPO / "tests" / "data" / "lockfiles" / "large-install-v3-aliases" / "package-lock.json"
WORK = BENCH / "work"
WORKLOAD_ID = "5"  # change to rebuild every existing bench/work/
REVIEWERS = ("ada", "ken")
CHANGED = 10  # packages changed per incremental run
UNRELATED = 100_000  # statements for other packages in the big ledger
VERSIONS_PER_NAME = 10
EXEMPTIONS = 5_000  # for other packages, in the policy of project-exempt/


def build(rebuild: bool, incremental_sets: int) -> None:
    """Ledgers, policies and lockfiles in bench/work/, unless already there."""
    stamp = WORK / "ready"
    wanted = f"{WORKLOAD_ID} {incremental_sets}"
    if not rebuild and stamp.is_file() and stamp.read_text() == wanted:
        return
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "ledger" / "keys").mkdir(parents=True)
    started = time.perf_counter()
    deps = packages()
    auditors = Auditors()
    try:
        keys = [auditors.create(name, expire="never") for name in REVIEWERS]
        for key in keys:
            (WORK / "ledger" / "keys" / f"{key.fingerprint}.asc").write_bytes(
                auditors.export(key)
            )
        jobs = [(name, version, integrity) for name, version, integrity in deps]
        for r in range(incremental_sets):
            jobs += changed_lockfile(r, deps)
        print(f"bench: signing {len(jobs) * len(keys)} statements ...", file=sys.stderr)
        sign_all(auditors, keys, jobs)
    finally:
        auditors.close()
    for name, dirs in (("project", "../ledger"), ("project-100k", "../ledger-100k")):
        (WORK / name).mkdir()
        (WORK / name / "trust-policy.yml").write_text(policy(keys, dirs))
    (WORK / "project-exempt").mkdir()
    (WORK / "project-exempt" / "trust-policy.yml").write_text(
        policy(keys, "../ledger") + exemptions(EXEMPTIONS))
    git_ledger(keys)
    print(f"bench: adding {UNRELATED} unrelated statements ...", file=sys.stderr)
    big_ledger()
    stamp.write_text(wanted)
    print(f"bench: workload built in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def packages() -> list[tuple[str, str, str]]:
    """Every registry name@version in the lockfile that a statement can cover."""
    found = {}
    for dep in lockfile.load(LOCKFILE).dependencies:
        valid = is_valid_name(dep.name) and is_valid_version(dep.version)
        if valid and statement.sha512_of(dep.integrity) is not None:
            found[(dep.name, dep.version)] = dep.integrity or ""
    return [(name, version, integrity) for (name, version), integrity in found.items()]


def changed_lockfile(r: int, deps: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """bench/work/incremental/<r>/package-lock.json: CHANGED packages at new versions."""
    data = json.loads(LOCKFILE.read_text())
    entries = data["packages"]
    step = len(deps) // CHANGED
    chosen = {deps[k * step + r][:2] for k in range(CHANGED)}
    changed = []
    for path, entry in entries.items():
        name = entry.get("name") or path.rsplit("node_modules/", 1)[-1]
        if (name, entry.get("version")) in chosen:
            version = f"{entry['version']}-bench.{r}"
            integrity = integrity_of(f"{name}@{version}".encode())
            entry.update(version=version, integrity=integrity)
            changed.append((name, version, integrity))
    folder = WORK / "incremental" / str(r)
    folder.mkdir(parents=True)
    (folder / "package-lock.json").write_text(json.dumps(data, indent=2))
    return list(dict.fromkeys(changed))


def sign_all(auditors: Auditors, keys: list[Key], jobs: list[tuple[str, str, str]]) -> None:
    """Clearsign a statement per job and key, several gpg processes at once."""

    def sign(job: tuple[Key, str, str, str]) -> None:
        key, name, version, integrity = job
        folder = WORK / "ledger" / "signatures" / name / version
        folder.mkdir(parents=True, exist_ok=True)
        data = auditors.statement(key, name, version, integrity)
        (folder / f"{key.fingerprint}.sig").write_bytes(data)

    with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as pool:
        list(pool.map(sign, [(key, *job) for job in jobs for key in keys]))


def policy(keys: list[Key], ledger: str, kind: str = "path") -> str:
    lines = [f"minimum-signatures: {len(keys)}", "trusted-keys:"]
    for key in keys:
        lines += [f"  - fingerprint: {key.fingerprint}", f"    name: {key.name.title()}"]
    return "\n".join([*lines, "ledgers:", f"  - {kind}: {ledger}", ""])


def exemptions(count: int) -> str:
    """``count`` exemptions for packages the lockfile does not hold, as a policy grown by
    adoption lists them: mostly name@version, some whole names, some pinned to a tarball's
    integrity, a few scopes by glob."""
    lines = ["exemptions:"]
    for n in range(count):
        name = f"@other-{n % 40}/package-{n}" if n % 3 == 0 else f"other-package-{n}"
        package = (f"@other-org-{n}/*" if n % 250 == 0 else name if n % 5 == 0
                   else f"{name}@1.{n % 7}.0")
        lines += [f'  - package: "{package}"', f'    reason: "vendored build {n}, see #{n}"']
        if n % 4 == 1:
            lines.append(f"    integrity: {integrity_of(package.encode())}")
        if n % 2 == 0:
            lines.append(f"    expires: 2099-{1 + n % 12:02d}-01")
    return "\n".join([*lines, ""])


def git_ledger(keys: list[Key]) -> None:
    """bench/work/ledger.git: the ledger committed into a git repository, and
    project-git/, whose policy names it with ``git:`` and whose lock file pins that commit."""
    repo = WORK / "ledger.git"
    env = {**os.environ, "GIT_DIR": str(repo), "GIT_WORK_TREE": str(WORK / "ledger"),
           "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.org",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.org"}
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True, capture_output=True)
    for args in (["add", "-A"], ["commit", "-q", "-m", "ledger"]):
        subprocess.run(["git", *args], env=env, check=True, capture_output=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], env=env, check=True,
                            capture_output=True, text=True).stdout.strip()
    url = repo.as_uri()
    (WORK / "project-git").mkdir()
    (WORK / "project-git" / "trust-policy.yml").write_text(policy(keys, url, "git"))
    (WORK / "project-git" / "trust-policy.lock").write_text(
        f"ledgers:\n- git: {url}\n  commit: {commit}\n")


def big_ledger() -> None:
    """bench/work/ledger-100k: the ledger plus UNRELATED statements for other packages.

    Every file is a hard link (to one of the two reviewers' statements of some package):
    the check never reads them, and a copy of each would cost 400 MB of disk.
    """
    big = WORK / "ledger-100k"
    shutil.copytree(WORK / "ledger", big, copy_function=os.link)
    fillers = sorted(next((WORK / "ledger" / "signatures").glob("*/*/")).iterdir())
    per_version = len(fillers)
    for n in range(UNRELATED // (VERSIONS_PER_NAME * per_version)):
        for v in range(VERSIONS_PER_NAME):
            folder = big / "signatures" / f"unrelated-package-{n}" / f"1.0.{v}"
            folder.mkdir(parents=True)
            for filler in fillers:
                os.link(filler, folder / filler.name)
