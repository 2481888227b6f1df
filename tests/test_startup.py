"""The commit path starts fast: a check imports no module it can do without."""

from __future__ import annotations

import os
import subprocess
import sys

from support import REPO, Key, Project

HOOK = REPO / "hook"
# Importing dataclasses (and inspect, ast, dis... with it) costs a check ~10 ms at start-up.
SLOW = ("dataclasses", "inspect")
PROBE = f"""
import contextlib, io, sys
from package_trust.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(code, *[name for name in {SLOW!r} if name in sys.modules])
"""


def test_a_check_imports_no_dataclasses(project: Project, keys: dict[str, Key]) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    env = {**os.environ, "PYTHONPATH": str(HOOK)}
    for args in (
        [],  # gpg verifies, the caches are filled
        [],  # the result cache answers
        ["--format", "json"],  # the kept verdicts answer, the statements are reported
        ["--no-cache", "--format", "sarif"],
    ):
        proc = subprocess.run([sys.executable, "-c", PROBE, "check", *args], cwd=project.root,
                              env=env, capture_output=True, text=True, timeout=120, check=False)
        assert proc.stdout.split() == ["0"], (args, proc.stdout, proc.stderr)


# typing.NamedTuple compiles each field's annotation that is text (what
# ``from __future__ import annotations`` makes of them all) into a ForwardRef: ~35 us a
# field, some 5 ms of a check's start-up over the records it defines. Their modules
# evaluate annotations.
RECORDS = """
import contextlib, io, sys
from package_trust.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main(sys.argv[1:])
print(*sorted(f"{m}.{n}" for m, mod in list(sys.modules.items())
              if m.startswith("package_trust") for n, c in vars(mod).items()
              if isinstance(c, type) and issubclass(c, tuple) and hasattr(c, "_fields")
              and c.__module__ == m and any(type(a).__name__ == "ForwardRef" for a in
                                            c.__dict__.get("__annotations__", {}).values())))
"""


def test_the_records_a_check_defines_are_not_compiled_from_text(
    project: Project, keys: dict[str, Key]
) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    env = {**os.environ, "PYTHONPATH": str(HOOK)}
    proc = subprocess.run([sys.executable, "-c", RECORDS, "check"], cwd=project.root, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.stdout.split() == [], proc.stderr
