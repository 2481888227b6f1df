"""trust-policy.yml: validation with file and line, exemptions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from package_trust.check import policy
from package_trust.check.lockfile import Dependency, Source
from package_trust.cli import main
from package_trust.errors import PolicyError
from support import Key, Project

FPR = "0123456789ABCDEF0123456789ABCDEF01234567"


FULL = f"""\
minimum-signatures: 1
trusted-keys:
  - fingerprint: {FPR}
    name: Alice Example
ledgers:
  - path: .
  - git: https://example.org/ledger.git
    ref: main
exemptions:
  - package: "@myorg/*"
    reason: first-party packages
    expires: 2027-06-30
  - package: left-pad@1.3.0
    reason: no end date
"""


def parse(text: str) -> policy.Policy:
    return policy.parse(Path("trust-policy.yml"), text)


def test_full_example() -> None:
    p = parse(FULL)
    assert p.minimum_signatures == 1
    assert p.trusted_keys[0].fingerprint == FPR
    assert p.exemptions[0].expires == dt.date(2027, 6, 30)
    assert p.exemption_for(registry_dep("@myorg/tool", "1.0.0"), ()) is not None
    assert p.exemption_for(registry_dep("@other/tool", "1.0.0"), ()) is None


def registry_dep(name: str, version: str) -> Dependency:
    return Dependency(name, version, Source.REGISTRY, f"node_modules/{name}")


@pytest.mark.parametrize(("text", "line", "message"), [
    ("minimum-signatures: 1\ntrusted-keys:\n  - fingerprint: ABCD1234ABCD1234\n", 3,
     "a short key ID is not enough"),
    (f"minimum-signatures: 1\ntrusted-keys:\n  - fingerprint: {FPR}\nminimum-signature: 2\n",
     4, "unknown key 'minimum-signature'"),
    (f"minimum-signatures: 1\ntrusted-keys:\n  - fingerprint: {FPR}\n    nmae: x\n", 4,
     "unknown key 'nmae' in a trusted key"),
    (f"minimum-signatures: 0\ntrusted-keys:\n  - fingerprint: {FPR}\n", 1,
     "minimum-signatures must be a whole number of at least 1"),
    (f"minimum-signatures: 2\ntrusted-keys:\n  - fingerprint: {FPR}\n", 1,
     "no package could ever pass"),
    ("minimum-signatures: 1\n", 1, "the policy is missing trusted-keys"),
    (f"minimum-signatures: 1\ntrusted-keys:\n  - fingerprint: {FPR}\nexemptions:\n"
     "  - package: left-pad\n", 5, "an exemption is missing reason"),
    (f"minimum-signatures: 1\ntrusted-keys:\n  - fingerprint: {FPR}\nexemptions:\n"
     "  - package: left-pad\n    reason: x\n    expires: soon\n", 7, "is not a date"),
    ("minimum-signatures: 1\ntrusted-keys: [\n", 3, "not valid YAML"),
    (f"minimum-signatures: 1\ntrusted-keys:\n  - fingerprint: {FPR}\n  - fingerprint: {FPR}\n",
     4, "listed twice"),
    ("", 1, "policy file is empty"),
])
def test_errors_name_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(PolicyError) as e:
        parse(text)
    assert e.value.line == line
    assert message in str(e.value)
    assert str(e.value).startswith(f"trust-policy.yml:{line}: ")


def test_cli_error_names_file_and_line(project: Project, keys: dict[str, Key],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    project.lockfile({"left-pad": "1.3.0"})
    (project.root / "trust-policy.yml").write_text("minimum-signatures: 1\ntrustedkeys: []\n")
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("package-trust: error: trust-policy.yml:2: unknown key 'trustedkeys'")
    assert err.count("\n") == 1


def test_missing_policy(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    project.lockfile({"left-pad": "1.3.0"})
    assert main(["check"]) == 2
    assert "trust-policy.yml: policy file not found" in capsys.readouterr().err


def test_trusted_key_missing_from_keys(project: Project, keys: dict[str, Key],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"], keys["bob"]])
    project.lockfile({"left-pad": "1.3.0"})
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert f"trust-policy.yml:5: trusted key {keys['bob'].fingerprint} (Bob)" in err


def test_missing_ledger_folder(project: Project, keys: dict[str, Key], capsys) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]], extra="ledgers:\n  - path: ../nowhere\n")
    project.lockfile({"left-pad": "1.3.0"})
    assert main(["check"]) == 2
    assert "trust-policy.yml:6: ledger folder '../nowhere' does not exist" in (
        capsys.readouterr().err)


def exempting(project: Project, keys: dict[str, Key], entry: str) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]], extra=f"exemptions:\n{entry}")
    project.lockfile({"@myorg/tool": "1.0.0", "left-pad": "1.3.0", "right-pad": "2.0.0"})


def test_exemptions(project: Project, keys: dict[str, Key], capsys) -> None:
    exempting(project, keys, '  - package: "@myorg/*"\n    reason: first party\n'
              "  - package: left-pad@1.3.0\n    reason: tiny\n"
              "  - package: right-pad\n    reason: soon audited\n    expires: 2999-01-01\n")
    assert main(["check", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {p["name"]: p["exemption"] for p in report["packages"]} == {
        "@myorg/tool": "first party", "left-pad": "tiny", "right-pad": "soon audited"}


def test_exemption_for_another_version_does_not_apply(project: Project, keys: dict[str, Key],
                                                      capsys) -> None:
    exempting(project, keys, '  - package: "@myorg/*"\n    reason: first party\n'
              "  - package: left-pad@1.2.0\n    reason: tiny\n"
              "  - package: right-pad\n    reason: x\n")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "1 of 3 packages is not audited" in out
    assert "left-pad@1.3.0: unaudited" in out


def test_expired_exemption_no_longer_applies_and_says_so(project: Project, keys: dict[str, Key],
                                                        capsys) -> None:
    exempting(project, keys, '  - package: "@myorg/*"\n    reason: first party\n'
              "  - package: left-pad\n    reason: tiny\n"
              "  - package: right-pad\n    reason: was fine\n    expires: 2020-01-01\n")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "right-pad@2.0.0: unaudited" in out
    assert "exemption expired on 2020-01-01" in out
    assert "note: exemption 'right-pad' (trust-policy.yml:10) expired on 2020-01-01" in out


GIT = "git+ssh://git@github.com/substack/minimist.git#37545"


@pytest.mark.parametrize(("source", "code"), [(None, 1), (GIT, 0), (GIT + "0", 1)])
def test_unverifiable_package_is_exempted_only_by_its_source(
    project: Project, keys: dict[str, Key], source: str | None, code: int
) -> None:
    """An exemption covers registry packages only, unless it names the entry's source:
    a git commit calling itself minimist@0.0.8 is not the registry's minimist@0.0.8."""
    project.add_key(keys["alice"])
    pinned = f"    source: {json.dumps(source)}\n" if source else ""
    project.policy([keys["alice"]], extra="exemptions:\n  - package: minimist@0.0.8\n"
                   "    reason: pinned git commit, reviewed in-house\n" + pinned)
    data = {"lockfileVersion": 3, "packages": {"": {}, "node_modules/minimist": {
        "version": "0.0.8", "resolved": GIT}}}
    (project.root / "package-lock.json").write_text(json.dumps(data))
    assert main(["check", "--no-cache"]) == code


# -- the parsed-policy cache (policy.load with a cache folder) --------------------------------




def test_a_cached_policy_is_the_parsed_one(tmp_path: Path) -> None:
    path, cache = tmp_path / "trust-policy.yml", tmp_path / "cache"
    path.write_text(FULL)
    first = policy.load(path, cache)
    assert len(list(cache.glob("*.json"))) == 1
    assert policy.load(path, cache) == first == policy.load(path)  # cached, and fresh


def test_a_changed_policy_is_parsed_again(tmp_path: Path) -> None:
    path, cache = tmp_path / "trust-policy.yml", tmp_path / "cache"
    path.write_text(FULL)
    policy.load(path, cache)
    path.write_text(FULL.replace("Alice Example", "Alice"))
    assert policy.load(path, cache).trusted_keys[0].name == "Alice"
    path.write_text(FULL.replace("minimum-signatures: 1", "minimum-signatures: 0"))
    with pytest.raises(PolicyError) as e:  # an error is never cached, nor hidden
        policy.load(path, cache)
    assert e.value.line == 1


@pytest.mark.parametrize("garbage", ["{not json", "[1, [], [], []]", '[1, [["x", 1, 2]], [], []]',
                                     '[true, [], [], []]', "[]"])
def test_a_damaged_cache_entry_is_parsed_again(tmp_path: Path, garbage: str) -> None:
    path, cache = tmp_path / "trust-policy.yml", tmp_path / "cache"
    path.write_text(FULL)
    fresh = policy.load(path, cache)
    [entry] = cache.glob("*.json")
    entry.write_text(garbage)
    assert policy.load(path, cache) == fresh
    assert json.loads(entry.read_text())[0] == 1  # stored again


def test_no_cache_keeps_no_policy(project: Project, keys: dict[str, Key], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"})
    project.sign(keys["alice"], "left-pad", "1.3.0")
    policies = tmp_path / "cache" / "package-trust" / "policies"
    assert main(["check", "--no-cache"]) == 0
    assert not policies.exists()
    assert main(["check"]) == 0
    assert len(list(policies.glob("*.json"))) == 1
