"""Benchmark ``package-trust check`` on a large lockfile: cold against gpg's own floor, warm,
incremental, a big ledger, a pinned git ledger, and a policy with 5,000 exemptions.

Run from the repository root:  .venv/bin/python bench/run.py  (see bench/README.md).
The workload is built once into bench/work/ and reused; --rebuild makes it afresh.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from workload import (  # which puts hook/ and tests/ on sys.path
    CHANGED,
    EXEMPTIONS,
    LOCKFILE,
    REVIEWERS,
    WORK,
    build,
    packages,
)

from package_trust.check.names import package_parts

GPG_PROCESSES = os.cpu_count() or 1  # gpg's floor: one bare gpg per core, as the check
# The options the check gives gpg (check/gpg.py).
GPG_ARGS = ["--batch", "--no-tty", "--no-autostart", "--no-auto-key-retrieve",
            "--no-auto-key-locate", "--no-random-seed-file", "--trust-model", "always"]
COLD = ("cold", "gpg floor", "batch-fed gpg", "no cache", "no cache, exemptions")
QUICK = ("parse-only", "gpg --verify", "warm", "incremental", "warm, 100k ledger",
         "warm, git ledger")
NAMES = (*COLD, *QUICK)
CHECKS = ("cold", "no cache", "no cache, exemptions", "warm", "incremental",
          "warm, 100k ledger", "warm, git ledger")
BEFORE = " (before)"  # what ends the names of the runs of --before's package
TARGETS = {"warm": 3.0, "cold": 0.6, "floor": 1.2, "incremental": 10, "big ledger": 1.10,
           "git ledger": 1.2, "exemptions": 1.1, "memory MB": 150}


@dataclass
class Run:
    seconds: float
    max_rss_kb: int


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=7, help="repetitions of quick runs")
    parser.add_argument("--cold-reps", type=int, default=3, help="repetitions of cold runs")
    parser.add_argument("--rebuild", action="store_true", help="build the workload afresh")
    parser.add_argument("--before", type=Path, metavar="DIR",
                        help="measure the package in DIR (another checkout's hook/) too, "
                             "in the same rounds: a before/after table from one run")
    args = parser.parse_args()
    build(args.rebuild, max(args.reps, args.cold_reps))
    trees = [*([(BEFORE, args.before)] if args.before else []), ("", None)]
    runs = measure(args.reps, args.cold_reps, trees)
    for tree, _ in trees:
        report(runs, tree)
    return 0


# -- measuring ------------------------------------------------------------------------------


def measure(reps: int, cold_reps: int, trees: list[tuple[str, Path | None]]
            ) -> dict[str, list[Run]]:
    """Runs that verify every statement first (cold, gpg's floor, caches off), then rounds
    of every quick run, each set in a rotating order, so that all see the same machine.
    Each tree (a name, and the hook/ folder of its package; None: this tree's) is measured
    in the same rounds, with a cache of its own; the name ends the names of its runs."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("PYTHONDONTWRITEBYTECODE", "PACKAGE_TRUST_NO_CACHE", "PYTHONPATH")}
    base["LC_ALL"] = "C"
    tool = str(Path(sys.executable).parent / "package-trust")
    runs: dict[str, list[Run]] = {f"{name}{tree}": [] for name in NAMES for tree, _ in trees}
    parse = [sys.executable, "-c", f"import json; json.load(open({str(LOCKFILE)!r}))"]
    with tempfile.TemporaryDirectory(prefix="bench-gpg-", dir=gpg_scratch()) as home:
        gpg_env = {**base, "GNUPGHOME": home}
        gpg = ["gpg", *GPG_ARGS]
        keys = [str(p) for p in (WORK / "ledger" / "keys").iterdir()]
        subprocess.run([*gpg, "--import", *keys], env=gpg_env, capture_output=True, check=True)
        floor = floor_script(Path(home), gpg)
        count = str(len(list(Path(home, "floor").glob("*.asc"))))
        feed = [sys.executable, str(Path(__file__).with_name("feed.py")), home,
                str(Path(home, "floor")), count]
        checks = [Checks(tool, tree, hook, base) for tree, hook in trees]
        for c in checks:
            c.cold()  # bytecode and file system caches, as on any machine used before
        jobs: list[tuple[str, Callable[[], Run]]] = [
            ("gpg floor", lambda: run(["sh", str(floor)], gpg_env)),
            ("batch-fed gpg", partial(run, feed, base))]
        for c in checks:
            jobs += [(f"cold{c.tree}", c.cold),
                     (f"no cache{c.tree}", partial(c.run, "project", LOCKFILE, "--no-cache")),
                     (f"no cache, exemptions{c.tree}",
                      partial(c.run, "project-exempt", LOCKFILE, "--no-cache"))]
        rounds(runs, jobs, cold_reps)
        for c in checks:
            c.run("project-100k")
            c.run("project-git")  # clones the git ledger into the cache
            c.run("project-git")
        statements = sorted((WORK / "ledger" / "signatures").rglob("*.sig"))
        for r in range(reps):
            incremental = WORK / "incremental" / str(r) / "package-lock.json"
            verify = [[*gpg, "--status-fd", "1", "--verify", str(f)]
                      for f in statements[3 * r : 3 * r + 3]]
            jobs = [("parse-only", partial(run, parse, base)),
                    *[("gpg --verify", partial(run, v, gpg_env)) for v in verify]]
            for c in checks:
                jobs += [(f"warm{c.tree}", partial(c.run, "project")),
                         (f"warm, 100k ledger{c.tree}", partial(c.run, "project-100k")),
                         (f"warm, git ledger{c.tree}", partial(c.run, "project-git")),
                         (f"incremental{c.tree}", partial(c.run, "project", incremental))]
            rounds(runs, jobs[r % len(jobs):] + jobs[: r % len(jobs)], 1)
        subprocess.run(["gpgconf", "--kill", "all"], env=gpg_env, check=False)
    return runs


class Checks:
    """``package-trust check`` of one tree's package, with a cache of its own."""

    def __init__(self, tool: str, tree: str, hook: Path | None, base: dict[str, str]):
        self.tool, self.tree = tool, tree
        self.cache = WORK / ("cache" + ("-" + tree.strip(" ()") if tree else ""))
        self.env = {**base, "XDG_CACHE_HOME": str(self.cache)}
        if hook is not None:
            self.env["PYTHONPATH"] = str(hook.resolve())

    def run(self, project: str, lock: Path = LOCKFILE, *options: str) -> Run:
        return run([self.tool, "check", *options, "--policy",
                    str(WORK / project / "trust-policy.yml"), str(lock)], self.env)

    def cold(self) -> Run:
        shutil.rmtree(self.cache, ignore_errors=True)
        return self.run("project")


def rounds(runs: dict[str, list[Run]], jobs: list[tuple[str, Callable[[], Run]]],
           times: int) -> None:
    """Every job ``times`` times, in rounds, each round in a rotated order."""
    for r in range(times):
        for name, job in jobs[r % len(jobs):] + jobs[: r % len(jobs)]:
            runs[name].append(job())


def gpg_scratch() -> str | None:
    """Where the check puts the statements it gives gpg: a memory file system if any."""
    from package_trust.check.gpg import scratch

    return scratch()


def floor_script(home: Path, gpg: list[str]) -> Path:
    """A shell script in which GPG_PROCESSES bare gpg processes verify, side by side, the
    statements a cold check verifies (files named as the check names them): gpg's floor."""
    work = home / "floor"
    work.mkdir()
    files: list[str] = []
    for name, version, _ in sorted(packages()):
        for sig in sorted((WORK / "ledger" / "signatures").joinpath(
                *package_parts(name, version)).glob("*.sig")):
            files.append(f"{len(files)}.asc")
            shutil.copyfile(sig, work / files[-1])
    size = -(-len(files) // GPG_PROCESSES)
    command = " ".join([*gpg, "--status-fd", "1", "--yes", "--decrypt-files"])
    lines = [f"cd {shlex.quote(str(work))}"]
    for p in range(GPG_PROCESSES):
        lines.append(f"{command} {' '.join(files[p * size:(p + 1) * size])} "
                     f">status.{p} 2>/dev/null </dev/null &")
    script = home / "floor.sh"
    script.write_text("\n".join([*lines, "wait", ""]))
    return script


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


def report(every: dict[str, list[Run]], tree: str = "") -> None:
    """The table of one tree's runs (with the runs all trees share)."""
    runs = {name: every.get(f"{name}{tree}") or every[name] for name in NAMES}
    med = {name: statistics.median(r.seconds for r in got) for name, got in runs.items()}
    fastest = {name: min(r.seconds for r in got) for name, got in runs.items()}
    statements = len(packages()) * len(REVIEWERS)
    one, warm = med["gpg --verify"], med["warm"]
    gpg_all = one * statements
    cold, incr = med["cold"], med["incremental"]

    def ratio(a: str, b: str) -> float:
        """The median of a/b, round by round: each round's two runs saw the same machine
        (its speed drifts, on a shared one, more than the differences measured)."""
        return statistics.median(x.seconds / y.seconds for x, y in
                                 zip(runs[a], runs[b], strict=True))

    fed, no_cache = ratio("batch-fed gpg", "gpg floor"), ratio("no cache", "gpg floor")
    floor, big, git, exempt = (ratio("cold", "gpg floor"), ratio("warm, 100k ledger", "warm"),
                               ratio("warm, git ledger", "warm"),
                               ratio("no cache, exemptions", "no cache"))
    parse_ratio = ratio("warm", "parse-only")
    peak = max(r.max_rss_kb for name in CHECKS for r in runs[name]) / 1024
    rows: list[tuple[str, str, str, bool | None]] = [
        ("parse-only Python process", "parse-only", "", None),
        (f"one gpg --verify, x {statements}", "gpg --verify", f"{ms(gpg_all)} in all", None),
        (f"gpg's floor: {GPG_PROCESSES} bare gpg --decrypt-files", "gpg floor", "", None),
        ("gpg fed by package-trust's batch alone", "batch-fed gpg",
         f"{fed:.2f} x gpg's floor", None),
        ("cold (empty cache)", "cold",
         f"{cold / gpg_all:.2f} x gpg one by one (≤ 0.6); {floor:.2f} x gpg's floor "
         "(≤ 1.2)", cold <= TARGETS["cold"] * gpg_all and floor <= TARGETS["floor"]),
        ("warm", "warm", f"{parse_ratio:.1f} x parse-only (≤ 3)",
         parse_ratio <= TARGETS["warm"]),
        (f"incremental ({CHANGED} packages changed)", "incremental",
         f"warm + {(incr - warm) / one:.1f} verifications (≤ 10)",
         incr <= warm + TARGETS["incremental"] * one),
        ("warm, 100k-statement ledger", "warm, 100k ledger", f"{big:.2f} x warm (≤ 1.10)",
         big <= TARGETS["big ledger"]),
        ("warm, pinned git ledger", "warm, git ledger", f"{git:.2f} x warm (≤ 1.2)",
         git <= TARGETS["git ledger"]),
        ("caches off (--no-cache)", "no cache", f"{no_cache:.2f} x gpg's floor", None),
        (f"caches off, {EXEMPTIONS:,} exemptions", "no cache, exemptions",
         f"{exempt:.2f} x caches off (≤ 1.1)", exempt <= TARGETS["exemptions"]),
    ]
    print(f"package-trust bench{tree}: {statements} statements for {len(packages())} "
          f"packages, {os.cpu_count()} CPUs, {len(runs['warm'])} rounds, "
          f"{len(runs['cold'])} cold runs\n")
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
