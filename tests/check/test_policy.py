"""trust-policy.yml: validation with file and line, exemptions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from package_trust.check import policy, yamlread
from package_trust.check.lockfile import Dependency, Source
from package_trust.cli import main
from package_trust.errors import PolicyError
from support import Key, Project, fake_integrity

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


# -- policies at scale: libyaml, and exemptions found by name --------------------------------


@pytest.fixture(params=["libyaml", "pyyaml"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test using it runs with libyaml composing, and with PyYAML's own parser."""
    if request.param == "pyyaml":
        monkeypatch.setattr(yamlread, "_c_loader", lambda: None)
    else:
        assert yamlread._c_loader() is not None, "this PyYAML has no libyaml"
    return str(request.param)


ALIKE = [
    FULL,
    f"# a comment\n{{minimum-signatures: 1, trusted-keys: [{{fingerprint: '{FPR}'}}]}}\n",
    f"minimum-signatures: 1\ntrusted-keys:\n  - &k\n    fingerprint: >-\n      {FPR[:20]}\n"
    f"      {FPR[20:]}\nexemptions:\n  - {{package: 'a@1', reason: &r \"two\\nlines\"}}\n"
    "  - package: b\n    reason: *r\n    expires: 2030-01-01\n",
]


@pytest.mark.parametrize("text", ALIKE)
def test_libyaml_reads_a_policy_as_pyyaml_does(text: str, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    fast = parse(text)
    monkeypatch.setattr(yamlread, "_c_loader", lambda: None)
    assert parse(text) == fast


def test_errors_name_the_line_with_either_parser(parser: str) -> None:
    text = FULL.replace("reason: no end date", "reason: no end date\n    expires: soon")
    with pytest.raises(PolicyError) as e:
        parse(text)
    assert str(e.value) == "trust-policy.yml:15: expires 'soon' is not a date (YYYY-MM-DD)"
    with pytest.raises(PolicyError) as e:
        parse(FULL + "  - package: [\n")
    assert str(e.value) == ("trust-policy.yml:16: not valid YAML: expected the node content, "
                            "but found '<stream end>'")


@pytest.mark.parametrize(("text", "line", "message"), [
    ("minimum-signatures: 1\ntrusted-keys:\n  - fingerprint: \x07\n", 3,
     "character U+0007 is not allowed"),
    # libyaml refuses to nest more than 1,000 deep; PyYAML's parser, 64 (policies nest 4)
    ("a:\n" + "".join(f"{' ' * i}- \n" for i in range(1100)), 64, "nested more than 64 deep"),
    ("a: " + "[" * 2000 + "]" * 2000 + "\n", 1, "nested more than 64 deep"),
    ("minimum-signatures: 1\ntrusted-keys: *nowhere\n", 2, "found undefined alias"),
    ('minimum-signatures: 1\ntrusted-keys: "\\UFFFFFFFF"\n', 2, "a character escape out"),
    ('minimum-signatures: 1\n\ntrusted-keys: "\\U0011FFFF"\n', 3, "a character escape out"),
])
def test_what_libyaml_refuses_is_named_as_pyyaml_names_it(parser: str, text: str, line: int,
                                                          message: str) -> None:
    with pytest.raises(PolicyError) as e:
        parse(text)
    assert str(e.value).startswith(f"trust-policy.yml:{line}: not valid YAML: {message}")


def many_exemptions(count: int) -> str:
    entries = [f'  - package: "other-{n}@1.0.{n % 9}"\n    reason: vendored\n'
               f"    expires: 2099-01-01\n" for n in range(count)]
    return f"minimum-signatures: 1\ntrusted-keys:\n  - fingerprint: {FPR}\nexemptions:\n" + (
        "".join(entries))


SCALARS = ["", "~", "null", "Null", "yes", "No", "on", "OFF", "true", "0x1F", "0o17", "017",
           "1_000", "-1", "+1", ".5", "-.inf", ".NaN", "1e3", "6.8523015e+5", "190:20:30",
           "0b101", "2099-01-01", "2001-12-14t21:59:43.10-05:00", "=", "'1'", '"true"', "x",
           "1:20", "-", "sha512-abc=="]


def _tree(node: object) -> object:
    """A node tree as plain values: kind, tag, line and value of every node."""
    import yaml

    assert isinstance(node, yaml.Node)
    value = node.value
    if isinstance(node, yaml.SequenceNode):
        value = [_tree(n) for n in value]
    elif isinstance(node, yaml.MappingNode):
        value = [(_tree(k), _tree(v)) for k, v in value]
    return type(node).__name__, node.tag, node.start_mark.line, value


@pytest.mark.parametrize("text", [
    *ALIKE, many_exemptions(3), "".join(f"- {s}\n" for s in SCALARS),
    "a: &a {b: 1}\nc:\n  <<: *a\n  d: [1, '2', 2030-01-01]\n",
])
def test_libyaml_tags_every_node_as_pyyaml_does(text: str) -> None:
    """The policy's libyaml loader (yamlread._c_loader) skips Resolver's checks for what
    a SafeLoader never registers: it composes exactly PyYAML's CSafeLoader's nodes."""
    import yaml

    loader = yamlread._c_loader()
    assert loader is not None and loader is not yaml.CSafeLoader
    assert _tree(yaml.compose(text, Loader=loader)) == _tree(
        yaml.compose(text, Loader=yaml.CSafeLoader))


def test_a_policy_with_5000_exemptions(parser: str) -> None:
    text = many_exemptions(5000)
    p = parse(text)
    assert len(p.exemptions) == 5000
    assert p.exemptions[-1].line == 5 + 3 * 4999
    assert p.exemption_for(registry_dep("other-4999", "1.0.4"), ()) == p.exemptions[-1]
    assert p.exemption_for(registry_dep("other-4999", "1.0.5"), ()) is None
    head, _, tail = text.rpartition("2099-01-01")
    with pytest.raises(PolicyError) as e:
        parse(f"{head}2099-13-01{tail}")
    assert str(e.value).startswith(f"trust-policy.yml:{5 + 3 * 4999 + 2}: expires ")


def test_a_policy_with_5000_exemptions_is_checked(project: Project, keys: dict[str, Key],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    project.add_key(keys["alice"])
    project.sign(keys["alice"], "left-pad", "1.3.0")
    project.policy([keys["alice"]], extra=many_exemptions(5000).split("\n", 3)[3]
                   + '  - package: "right-*"\n    reason: glob\n')
    project.lockfile({"left-pad": "1.3.0", "right-pad": "2.0.0", "other-7": "1.0.7"})
    assert main(["check", "--no-cache", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {p["name"]: p["exemption"] for p in report["packages"]} == {
        "left-pad": None, "right-pad": "glob", "other-7": "vendored"}


NAMES = ["a", "b", "@s/a", "@s/b", "a[", "[ab]"]
PATTERNS = [*NAMES, "*", "a*", "?", "@s/*", "[ab]", "[!a]", "a@1", "a@2", "@s/a@1", "*@1",
            "a@1@1", "@", "@1", "a[@1", "@s/*@2", "a@*", "a@", "[ab]@1"]
SOURCE = "git+https://example.org/a.git#abc"
REGISTRY = "https://registry.npmjs.org/"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(PATTERNS), st.sampled_from([None, SOURCE]),
                       st.booleans()), max_size=12),
    st.sampled_from(NAMES), st.sampled_from(["1", "2", "*", SOURCE]),
    st.sampled_from([Source.REGISTRY, Source.OTHER]),
    st.sampled_from([None, SOURCE, f"{REGISTRY}a/-/a-1.tgz"]), st.booleans(),
)
def test_lookup_finds_what_a_scan_finds(entries: list[tuple[str, str | None, bool]], name: str,
                                        version: str, source: Source, resolved: str | None,
                                        pinned: bool) -> None:
    """The exemption found by looking names up is the first one a scan of every exemption
    in file order finds: same name, version, source, integrity and registry rules."""
    integrity = fake_integrity(name, version)
    exemptions = [policy.Exemption(pattern, "r", None, n, integrity if pin else None, src)
                  for n, (pattern, src, pin) in enumerate(entries)]
    dep = Dependency(name, version, source, f"node_modules/{name}",
                     integrity if pinned else None, resolved)
    scanned = next((e for e in exemptions if e.covers(dep, (REGISTRY,))), None)
    p = policy.Policy(Path("p.yml"), 1, [], [], policy.Exemptions(exemptions))
    assert p.exemption_for(dep, (REGISTRY,)) == scanned
    assert p._replace(exemptions=exemptions).exemption_for(dep, (REGISTRY,)) == scanned


def test_load_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "trust-policy.yml"
    path.write_text(FULL)
    assert policy.load(path) == parse(FULL)._replace(path=path)
    path.write_bytes(b"\xff")
    with pytest.raises(PolicyError, match="cannot read policy"):
        policy.load(path)
