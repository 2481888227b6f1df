"""Benchmark ``package-trust check`` on a large lockfile: cold, warm, incremental, big ledger.

Run from the repository root:  .venv/bin/python bench/run.py  (see bench/README.md).
The workload is built once into bench/work/ and reused; --rebuild makes it afresh.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
WORKLOAD_ID = "4"  # change to rebuild every existing bench/work/
REVIEWERS = ("ada", "ken")
CHANGED = 10  # packages changed per incremental run
UNRELATED = 100_000  # statements for other packages in the big ledger
VERSIONS_PER_NAME = 10
NAMES = ("parse-only", "gpg --verify", "cold", "warm", "incremental", "warm, 100k ledger")
TARGETS = {"warm": 3.0, "cold": 0.6, "incremental": 10, "big ledger": 1.10, "memory MB": 150}


@dataclass
class Run:
    seconds: float
    max_rss_kb: int


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=7, help="repetitions of quick runs")
    parser.add_argument("--cold-reps", type=int, default=3, help="repetitions of cold runs")
    parser.add_argument("--rebuild", action="store_true", help="build the workload afresh")
    args = parser.parse_args()
    build(args.rebuild, max(args.reps, args.cold_reps))
    report(measure(args.reps, args.cold_reps))
    return 0


# -- the workload ---------------------------------------------------------------------------


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


def policy(keys: list[Key], ledger: str) -> str:
    lines = [f"minimum-signatures: {len(keys)}", "trusted-keys:"]
    for key in keys:
        lines += [f"  - fingerprint: {key.fingerprint}", f"    name: {key.name.title()}"]
    return "\n".join([*lines, "ledgers:", f"  - path: {ledger}", ""])


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


# -- measuring ------------------------------------------------------------------------------


def measure(reps: int, cold_reps: int) -> dict[str, list[Run]]:
    """Cold runs first; then rounds of every quick run, so that all see the same machine."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "PACKAGE_TRUST_NO_CACHE")}
    env.update(XDG_CACHE_HOME=str(WORK / "cache"), LC_ALL="C")
    tool = str(Path(sys.executable).parent / "package-trust")

    def check(project: str = "project", lock: Path = LOCKFILE) -> list[str]:
        return [tool, "check", "--policy", str(WORK / project / "trust-policy.yml"), str(lock)]

    runs: dict[str, list[Run]] = {name: [] for name in NAMES}
    shutil.rmtree(WORK / "cache", ignore_errors=True)
    run(check(), env)  # bytecode and file system caches, as on any machine used before
    for _ in range(cold_reps):
        shutil.rmtree(WORK / "cache", ignore_errors=True)
        runs["cold"].append(run(check(), env))
    run(check("project-100k"), env)
    statements = sorted((WORK / "ledger" / "signatures").rglob("*.sig"))
    parse = [sys.executable, "-c", f"import json; json.load(open({str(LOCKFILE)!r}))"]
    with tempfile.TemporaryDirectory(prefix="bench-gpg-") as home:
        gpg_env = {**env, "GNUPGHOME": home}
        gpg = ["gpg", "--batch", "--no-tty", "--trust-model", "always"]
        keys = [str(p) for p in (WORK / "ledger" / "keys").iterdir()]
        subprocess.run([*gpg, "--import", *keys], env=gpg_env, capture_output=True, check=True)
        for r in range(reps):
            incremental = WORK / "incremental" / str(r) / "package-lock.json"
            jobs = [
                ("parse-only", parse, env),
                ("warm", check(), env),
                ("warm, 100k ledger", check("project-100k"), env),
                ("incremental", check(lock=incremental), env),
                *[("gpg --verify", [*gpg, "--status-fd", "1", "--verify", str(statement)],
                    gpg_env) for statement in statements[3 * r : 3 * r + 3]],
            ]
            for name, cmd, job_env in jobs[r % 4 :] + jobs[: r % 4]:
                runs[name].append(run(cmd, job_env))
        subprocess.run(["gpgconf", "--kill", "all"], env=gpg_env, check=False)
    return runs


def run(cmd: list[str], env: dict[str, str]) -> Run:
    """Run a whole process; its wall time and peak memory (with its children)."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"bench: {' '.join(cmd)} exited {proc.returncode}\n"
                             f"{err.read().decode()}")
    return Run(seconds, usage.ru_maxrss)


# -- the report -----------------------------------------------------------------------------


def report(runs: dict[str, list[Run]]) -> None:
    med = {name: statistics.median(r.seconds for r in got) for name, got in runs.items()}
    fastest = {name: min(r.seconds for r in got) for name, got in runs.items()}
    statements = len(packages()) * len(REVIEWERS)
    one, parse, warm = med["gpg --verify"], med["parse-only"], med["warm"]
    gpg_all = one * statements
    cold, incr, big = med["cold"], med["incremental"], med["warm, 100k ledger"]
    peak = max(r.max_rss_kb for name in NAMES[2:] for r in runs[name]) / 1024
    rows: list[tuple[str, str, str, bool | None]] = [
        ("parse-only Python process", "parse-only", "", None),
        (f"one gpg --verify, x {statements}", "gpg --verify", f"{ms(gpg_all)} in all", None),
        ("cold (empty cache)", "cold", f"{cold / gpg_all:.2f} x gpg one by one (≤ 0.6)",
         cold <= TARGETS["cold"] * gpg_all),
        ("warm", "warm", f"{warm / parse:.1f} x parse-only (≤ 3)",
         warm <= TARGETS["warm"] * parse),
        (f"incremental ({CHANGED} packages changed)", "incremental",
         f"warm + {(incr - warm) / one:.1f} verifications (≤ 10)",
         incr <= warm + TARGETS["incremental"] * one),
        ("warm, 100k-statement ledger", "warm, 100k ledger", f"{big / warm:.2f} x warm (≤ 1.10)",
         big <= TARGETS["big ledger"] * warm),
    ]
    print(f"package-trust bench: {statements} statements for {len(packages())} packages, "
          f"{os.cpu_count()} CPUs, {len(runs['warm'])} rounds, {len(runs['cold'])} cold runs\n")
    print("| run | median | fastest | against the target | met |")
    print("| --- | ---: | ---: | --- | --- |")
    for label, name, target, ok in rows:
        met = "" if ok is None else "yes" if ok else "NO"
        print(f"| {label} | {ms(med[name])} | {ms(fastest[name])} | {target} | {met} |")
    met = "yes" if peak < TARGETS["memory MB"] else "NO"
    print(f"| peak memory (a check and its gpg) | {peak:.0f} MB | | < 150 MB | {met} |")


def ms(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


if __name__ == "__main__":
    raise SystemExit(main())
