"""``--format markdown``: the job summary on its own."""

from __future__ import annotations

import re

import pytest

from package_trust.cli import main
from package_trust.formats import markdown
from package_trust.formats.markdown import code, md
from support import Key, Project

CapSys = pytest.CaptureFixture[str]


def summary_of(capsys: CapSys, *args: str, code_: int = 1) -> str:
    assert main(["check", "--format", "markdown", *args]) == code_
    return capsys.readouterr().out


@pytest.fixture
def two_key_project(project: Project, keys: dict[str, Key]) -> Project:
    """Alice and Bob trusted, both needed; left-pad audited by both, evil by Alice only."""
    for name in ("alice", "bob"):
        project.add_key(keys[name])
    project.policy([keys["alice"], keys["bob"]], minimum=2, extra=(
        'exemptions:\n  - package: "@corp/*"\n    reason: first party\n'
    ))
    project.lockfile({"left-pad": "1.3.0", "evil": "1.0.0", "bad": "2.0.0",
                      "@corp/ui": "3.0.0"})
    for name in ("alice", "bob"):
        project.sign(keys[name], "left-pad", "1.3.0")
    project.sign(keys["alice"], "evil", "1.0.0")
    project.sign(keys["bob"], "bad", "2.0.0", verdict="rejected")
    return project


def test_counts_then_failures_then_what_passed(two_key_project: Project,
                                               capsys: CapSys) -> None:
    out = summary_of(capsys)
    assert out.startswith(
        "### ❌ package-trust: 2 of 4 packages are not audited (trust-policy\\.yml\\: "
        "2 signatures from trusted keys)\n\n"
        "| audited | exempt | not audited | rejected | unverifiable | skipped |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
        "| 1 | 1 | 1 | 1 | 0 | 0 |\n"
    )
    rows = out.splitlines()
    evil = next(r for r in rows if r.startswith("| `evil@1.0.0`"))
    assert evil == (
        "| `evil@1.0.0` | unaudited | 1 of 2 required signatures (Alice) | Alice | "
        "via evil, a direct dependency (`package-lock.json:" + evil.split(":")[-1]
    )
    assert ("| `bad@2.0.0` | rejected | rejected by Bob; Bob left no notes; the ledger holds "
            "no audited version of bad | Bob |") in out
    assert out.index("`evil@1.0.0`") < out.index("<details><summary>How to fix")
    assert out.index("How to fix") < out.index("<details><summary>2 packages passed</summary>")
    left_pad = next(r for r in rows if r.startswith("| `left-pad@1.3.0` | audited | "))
    signers = left_pad.strip("|").split("|")[2].strip()
    assert sorted(signers.split(", ")) == ["Alice", "Bob"]
    assert "| `@corp/ui@3.0.0` | exempt | exempt\\: first party |" in out
    assert "    package-trust sign evil@1.0.0 --key YOUR-FINGERPRINT" in out
    assert "::" not in out.replace("package-lock.json:", "")  # no workflow commands


def test_names_each_ledger_and_its_commit(two_key_project: Project, capsys: CapSys) -> None:
    out = summary_of(capsys, "--ledger", ".", "--ledger-source", "octo/audits",
                     "--ledger-revision", "1a2b3c")
    assert "Ledgers: `octo/audits at 1a2b3c`" in out


def test_everything_audited(project: Project, keys: dict[str, Key], capsys: CapSys) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    out = summary_of(capsys, code_=0)
    assert out.startswith("### ✅ package-trust: All 1 package is audited")
    assert "Not audited" not in out and "How to fix" not in out


def test_hostile_names_are_escaped(project: Project, keys: dict[str, Key],
                                   capsys: CapSys) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"<img src=x onerror=alert(1)>|`x`\n# h": "1.0.0"})
    out = summary_of(capsys)
    row = next(r for r in out.splitlines() if r.startswith("| ``"))
    outside_code = re.sub(r"(?<!\\)(`+).*?\1", "", out, flags=re.S)
    assert not re.search(r"(?<!\\)<img", outside_code)  # in code, HTML is text
    assert len(re.findall(r"(?<!\\)\|", row)) == 6  # five cells: no pipe broke out
    assert row.startswith("| ``<img src=x onerror=alert(1)>\\|`x` # h@1.0.0`` |")


def test_long_lists_are_cut(project: Project, keys: dict[str, Key], capsys: CapSys,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(markdown, "MAX_ROWS", 2)
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({f"p{i}": "1.0.0" for i in range(5)})
    out = summary_of(capsys)
    assert out.count("| `p") == 2
    assert "… and 3 more (see the JSON report)." in out


def test_escaping_helpers() -> None:
    assert md("a|b <c> [d](e) `f` *g* $h$\nnext") == (
        "a\\|b \\<c\\> \\[d\\](e) \\`f\\` \\*g\\* \\$h\\$ next"
    )
    assert code("a`b") == "``a`b``"
    assert code("`a") == "`` `a ``"
    assert code("a|b") == "`a\\|b`"
