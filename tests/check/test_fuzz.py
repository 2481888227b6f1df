"""Fuzzing the parsers of what others write (lockfiles, the policy and its lock file, signed
statements): each raises its own documented error, never anything else; and the command
line turns a broken lockfile or policy into exit 2 and one message naming file and line.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from package_trust.check import lock, policy, statement
from package_trust.check.lockfile.npm import NpmLockfileParser
from package_trust.cli import main
from package_trust.errors import LockfileError, PackageTrustError, PolicyError
from package_trust.textsafe import printable
from support import Key, Project

FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
CLI = settings(max_examples=4, deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow,
                                      HealthCheck.function_scoped_fixture])
FPR = "0123456789ABCDEF0123456789ABCDEF01234567"

# -- building blocks ---------------------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
           | st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=12)
# Raw JSON that no encoder writes: deep, long, or not JSON at all.
hostile_json = st.one_of(
    st.integers(400, 2500).map(lambda n: "[" * n + "]" * n),
    st.integers(400, 2500).map(lambda n: '{"a":' * n + "0" + "}" * n),
    st.integers(990, 5100).map(lambda n: "-" + "7" * n),
    st.integers(990, 5100).map(lambda n: "0." + "1" * n + "e5"),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999999", "-0", '"\\ud800"',
                     '"\\udfff\\u0000\\u001b"', "[", "}", '"', "\\", "\ufeff{}"]),
)
PLACEHOLDER = '"@@hostile@@"'


def with_hostile(text: str, fragment: str) -> str:
    """``text`` with its placeholder (if any) replaced by raw JSON."""
    return text.replace(PLACEHOLDER, fragment, 1)


@st.composite
def mutated(draw: st.DrawFn, texts: st.SearchStrategy[str]) -> str:
    """A text, as is, cut short, or with a few characters put in or taken out."""
    text = draw(texts)
    how = draw(st.sampled_from(["as is", "cut", "insert", "delete"]))
    if how == "as is" or not text:
        return text
    at = draw(st.integers(0, len(text) - 1))
    if how == "cut":
        return text[:at]
    if how == "insert":
        junk = draw(st.text(alphabet='{}[]:,"\\\n -0123456789eE.\ud800\x00', min_size=1,
                            max_size=4) | st.text(max_size=4))
        return text[:at] + junk + text[at:]
    return text[:at] + text[at + draw(st.integers(1, 4)):]


def dumped(data: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    return st.builds(lambda d, indent, ascii_: json.dumps(d, indent=indent, ensure_ascii=ascii_),
                     data, st.sampled_from([None, 1, 2]), st.booleans())


def only(errors: type[Exception] | tuple[type[Exception], ...],
         call: Callable[[], object]) -> Exception | None:
    """The documented error ``call`` raised, if any: any other exception fails the test."""
    try:
        call()
    except errors as e:
        return e
    return None


# -- lockfiles ---------------------------------------------------------------------------------

versions = st.sampled_from(["1.0.0", "npm:x@1.0.0", "npm:@s/x@2.0.0", "file:../a", "file:a.tgz",
                            "link:../b", "git+ssh://git@h/r.git#abc", "github:a/b", "1.0.0\n"])
resolved = st.sampled_from(["https://registry.npmjs.org/a/-/a-1.0.0.tgz", "git+ssh://h/r.git",
                            "file:../x", "https://h/a.tgz", "https://h/-/x.tgz?a#b"])
integrity = st.sampled_from(["sha512-" + "A" * 86 + "==", "sha1-abc", "sha512-x sha512-y", ""])
flags = st.sampled_from([True, False, "true", None, 1])


def entry(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={
        "version": versions | values, "resolved": resolved | values,
        "integrity": integrity | values, "name": st.text(max_size=10) | values,
        "link": flags, "inBundle": flags, "bundled": flags, "hasShrinkwrap": flags,
        "dependencies": children, "requires": values,
    })


keys = st.sampled_from(["", "node_modules/a", "node_modules/@s/b",
                        "node_modules/a/node_modules/b", "packages/w", "../out", ".pnpm/x",
                        "node_modules/a\ud800"]) | st.text(max_size=16)
v1_tree = st.recursive(
    st.dictionaries(keys, entry(st.nothing()) | values, max_size=3),
    lambda inner: st.dictionaries(keys, entry(inner) | values, max_size=3),
    max_leaves=8,
)
lockfiles = st.fixed_dictionaries(
    {"lockfileVersion": st.sampled_from([1, 2, 3]) | values},
    optional={
        "packages": st.dictionaries(keys, entry(st.dictionaries(st.text(max_size=5),
                                                                st.text(max_size=5))) | values,
                                    max_size=5) | values,
        "dependencies": v1_tree | values,
        "x": st.just(PLACEHOLDER),
    },
)
lockfile_texts = st.builds(with_hostile, mutated(dumped(lockfiles)), hostile_json)


def parse_lockfile(text: str) -> Exception | None:
    return only(LockfileError,
                lambda: NpmLockfileParser().parse(Path("package-lock.json"), text))


@FUZZ
@given(lockfile_texts)
def test_lockfile_parser(text: str) -> None:
    error = parse_lockfile(text)
    if isinstance(error, LockfileError):
        assert error.path == "package-lock.json"


# -- the policy and its lock file --------------------------------------------------------------

int_forms = st.sampled_from(["1", "0x1", "0o7", "0b1", "1_000", "+1", "010", "1:30", "-1",
                             "!!int 0x1", "1.0", "~", "[1]", "'1'", "9" * 5000, "0"])
policies = st.fixed_dictionaries(
    {"trusted-keys": st.lists(st.fixed_dictionaries(
        {"fingerprint": st.sampled_from([FPR, FPR.lower(), FPR[-16:], "0x" + FPR[-8:]])
         | values}, optional={"name": st.text(max_size=8) | values}), max_size=3) | values},
    optional={
        "minimum-signatures": st.integers(-2, 4) | values,
        "ledgers": st.lists(st.fixed_dictionaries({}, optional={
            "path": st.sampled_from([".", "../l", ""]) | values,
            "git": st.sampled_from(["https://h/l.git", "-x"]) | values,
            "ref": st.text(max_size=8) | values}), max_size=2) | values,
        "exemptions": st.lists(st.fixed_dictionaries({}, optional={
            "package": st.sampled_from(["@s/*", "a@1.0.0", "a", ""]) | values,
            "reason": st.text(max_size=8) | values,
            "expires": st.dates() | st.text(max_size=10) | values}), max_size=2) | values,
        "unknown": values,
    },
)
deep = st.sampled_from([63, 64, 65, 1000]) | st.integers(60, 1500)
yaml_chars = st.text(alphabet="-:[]{},&*!|>'\"%@`#?\n \t\\abc01xuo_+.~\ud800\x00\x85\ufeff",
                     max_size=60)


def yaml_text(data: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    return st.builds(lambda d, flow, uni: yaml.safe_dump(d, default_flow_style=flow,
                                                         allow_unicode=uni),
                     data, st.sampled_from([None, True, False]), st.booleans())


policy_texts = st.one_of(
    mutated(yaml_text(policies)),
    yaml_chars,
    st.builds(lambda v: f"minimum-signatures: {v}\ntrusted-keys:\n  - fingerprint: {FPR}\n",
              int_forms),
    # Deep: PyYAML's scanner is quadratic in flow depth, its composer recursive in any.
    st.integers(60, 300).map(lambda n: "exemptions: " + "[" * n + "]" * n + "\n"),
    deep.map(lambda n: "a:\n" + "".join(f"{' ' * i}- \n" for i in range(n))),
    st.integers(60, 300).map(lambda n: "&a [" * n + "*a" + "]" * n),
)


def parse_policy(text: str) -> Exception | None:
    return only(PolicyError, lambda: policy.parse(Path("trust-policy.yml"), text))


@FUZZ
@given(policy_texts)
def test_policy_parser(text: str) -> None:
    error = parse_policy(text)
    if isinstance(error, PolicyError):
        assert error.path == "trust-policy.yml"


pins = st.fixed_dictionaries({"ledgers": st.lists(st.fixed_dictionaries(
    {"git": st.sampled_from(["https://h/l.git"]) | values,
     "commit": st.sampled_from(["a" * 40, "A" * 64, "abc"]) | values},
    optional={"ref": values, "path": values}), max_size=2) | values})
lock_texts = st.one_of(mutated(yaml_text(pins)), yaml_chars,
                       deep.map(lambda n: "ledgers:\n" + "".join(f"{' ' * i}- \n"
                                                                  for i in range(n))))


@FUZZ
@given(lock_texts)
def test_lock_file_parser(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "trust-policy.lock")
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        error = only(PolicyError, lambda: lock.load(path))
    if isinstance(error, PolicyError):
        assert error.path == str(path)


# -- statements --------------------------------------------------------------------------------

statements = st.fixed_dictionaries(
    {"package": st.sampled_from(["left-pad"]) | values,
     "version": st.sampled_from(["1.3.0"]) | values},
    optional={"hash": st.fixed_dictionaries({}, optional={
        "sha512": st.sampled_from(["A" * 86 + "=="]) | values, "sha1": values}) | values,
        "time": st.integers() | values, "verdict": st.sampled_from(["audited", "rejected"])
        | values, "notes": values, "x": st.just(PLACEHOLDER)},
)
statement_texts = st.one_of(
    st.builds(lambda t, h: with_hostile(t, h).encode("utf-8", "surrogatepass"),
              mutated(dumped(statements)), hostile_json),
    st.binary(max_size=80),
)


@FUZZ
@given(statement_texts)
def test_statement_parser(text: bytes) -> None:
    only(statement.StatementError, lambda: statement.parse(text))


# -- the command line --------------------------------------------------------------------------

def encodable(text: str) -> bool:
    """Whether ``text`` can be a file's content (no lone surrogate)."""
    return not re.search("[\ud800-\udfff]", text)


broken_lockfiles = mutated(dumped(lockfiles)).filter(encodable)
broken_policies = mutated(yaml_text(policies)).filter(encodable)


def assert_one_error(capsys: pytest.CaptureFixture[str], error: Exception | None,
                     file: str) -> None:
    assert isinstance(error, PackageTrustError)
    assert main(["check", "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert err == f"package-trust: error: {printable(str(error))}\n"
    assert re.match(rf"package-trust: error: {file}(:[0-9]+)?: ", err)


@pytest.fixture
def checked(project: Project, keys: dict[str, Key]) -> Project:
    project.add_key(keys["alice"])
    project.policy([keys["alice"]])
    project.lockfile({"left-pad": "1.3.0"})
    return project


@CLI
@given(text=broken_lockfiles)
def test_cli_on_a_fuzzed_lockfile(checked: Project, capsys: pytest.CaptureFixture[str],
                                  text: str) -> None:
    error = parse_lockfile(text)
    assume(error is not None)
    (checked.root / "package-lock.json").write_text(text, encoding="utf-8")
    assert_one_error(capsys, error, "package-lock.json")


@CLI
@given(text=broken_policies)
def test_cli_on_a_fuzzed_policy(checked: Project, capsys: pytest.CaptureFixture[str],
                                text: str) -> None:
    error = parse_policy(text)
    assume(isinstance(error, PolicyError) and error.line is not None)
    (checked.root / "trust-policy.yml").write_text(text, encoding="utf-8")
    assert_one_error(capsys, error, "trust-policy.yml")
