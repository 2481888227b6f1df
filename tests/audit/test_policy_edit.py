"""trust-policy.yml edited in place (audit/policyfile.py): items added and removed, every
other byte kept; a layout that cannot be edited with certainty is left alone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from package_trust.audit import policyfile
from package_trust.check.policy import Exemption, TrustedKey, parse
from package_trust.errors import PolicyError
from support import integrity_of

FPR = "A" * 40
INTEGRITY = integrity_of(b"a tarball")
PATH = Path("trust-policy.yml")

POLICY = f"""# Our policy — déjà vu 🙂. Keep it short.
minimum-signatures: 1   # one reviewer is enough for now
trusted-keys:
  - fingerprint: {FPR}
    name: Alice
exemptions:
  # first party
  - package: "@myorg/*"
    reason: first-party packages   # ours
  - package: left-pad@1.3.0
    reason: reviewed before adoption
    integrity: sha512-{"A" * 86}==
    expires: 2030-01-01
  # keep this comment
  - package: "minimist"
    reason: tiny

ledgers:
  - path: .
"""


def exemption(package: str, reason: str = "baseline at adoption, 2025-01-01") -> Exemption:
    return Exemption(package, reason, dt.date(2025, 7, 1), 0, INTEGRITY)


def test_removing_keeps_comments_and_order() -> None:
    policy = parse(PATH, POLICY)
    edited = policyfile.edit_exemptions(policy, POLICY, remove=[1])
    assert edited == POLICY.replace(
        f"""  - package: left-pad@1.3.0
    reason: reviewed before adoption
    integrity: sha512-{"A" * 86}==
    expires: 2030-01-01
""", "")
    assert [e.package for e in parse(PATH, edited).exemptions] == ["@myorg/*", "minimist"]


def test_removing_every_item_leaves_an_empty_list() -> None:
    policy = parse(PATH, POLICY)
    edited = policyfile.edit_exemptions(policy, POLICY, remove=[0, 1, 2])
    assert "exemptions: []\n  # first party\n  # keep this comment\n\nledgers:" in edited
    assert list(parse(PATH, edited).exemptions) == []
    again = policyfile.edit_exemptions(parse(PATH, edited), edited, add=[exemption("a")])
    assert [e.package for e in parse(PATH, again).exemptions] == ["a"]


def test_adding_goes_after_the_last_item_in_its_indentation() -> None:
    policy = parse(PATH, POLICY)
    edited = policyfile.edit_exemptions(policy, POLICY, add=[exemption("@types/node"),
                                                             exemption("yes")])
    assert edited.startswith(POLICY.split("\nledgers:")[0].rstrip("\n") + f"""
  - package: "@types/node"
    reason: baseline at adoption, 2025-01-01
    integrity: {INTEGRITY}
    expires: 2025-07-01
  - package: "yes"
""")
    assert edited.endswith("\nledgers:\n  - path: .\n")
    assert [e.package for e in parse(PATH, edited).exemptions][-2:] == ["@types/node", "yes"]


def test_a_policy_without_exemptions_gets_the_list_at_its_end() -> None:
    text = f"minimum-signatures: 1\ntrusted-keys:\n- fingerprint: {FPR}"  # no final newline
    edited = policyfile.edit_exemptions(parse(PATH, text), text, add=[exemption("a")])
    assert edited.startswith(text + "\nexemptions:\n  - package: a\n")


def test_an_empty_flow_list_keeps_its_comment() -> None:
    text = f"# 🙂 ünïcode first\nminimum-signatures: 1\ntrusted-keys: [{{fingerprint: {FPR}}}]\n" \
           "exemptions: []  # none yet\nledgers: [{path: .}]\n"
    edited = policyfile.edit_exemptions(parse(PATH, text), text, add=[exemption("a")])
    assert edited.startswith(f"# 🙂 ünïcode first\nminimum-signatures: 1\ntrusted-keys: "
                             f"[{{fingerprint: {FPR}}}]\nexemptions:  # none yet\n"
                             "  - package: a\n")
    assert edited.endswith("ledgers: [{path: .}]\n")


def test_an_indentless_list_and_items_whose_dash_stands_alone() -> None:
    text = f"minimum-signatures: 1\ntrusted-keys:\n- fingerprint: {FPR}\nexemptions:\n" \
           "-\n  package: a\n  reason: x\n- # b, for now\n  package: b\n  reason: y\n"
    policy = parse(PATH, text)
    edited = policyfile.edit_exemptions(policy, text, remove=[0], add=[exemption("c")])
    assert edited == f"minimum-signatures: 1\ntrusted-keys:\n- fingerprint: {FPR}\n" \
        "exemptions:\n- # b, for now\n  package: b\n  reason: y\n- package: c\n" \
        f"  reason: baseline at adoption, 2025-01-01\n  integrity: {INTEGRITY}\n" \
        "  expires: 2025-07-01\n"


def test_trusted_keys_are_added_in_place() -> None:
    edited = policyfile.add_trusted_keys(parse(PATH, POLICY), POLICY,
                                         [TrustedKey("B" * 40, "Bob <bob@example.org>", 0)])
    assert f"    name: Alice\n  - fingerprint: {'B' * 40}\n    name: " \
           "\"Bob <bob@example.org>\"\nexemptions:" in edited
    assert [k.name for k in parse(PATH, edited).trusted_keys] == ["Alice",
                                                                  "Bob <bob@example.org>"]


@pytest.mark.parametrize("value", ["yes", "1.0", "null", "~", "a: b", "a #b", "@x", "-x",
                                   "it's", 'say "hi"', "tab\there", "é", " x", "x "])
def test_values_read_back_as_written(value: str) -> None:
    text = f"minimum-signatures: 1\ntrusted-keys:\n- fingerprint: {FPR}\n"
    edited = policyfile.edit_exemptions(parse(PATH, text), text,
                                        add=[exemption("x", reason=value)])
    assert parse(PATH, edited).exemptions[0].reason == value


def test_a_flow_list_with_items_is_not_edited() -> None:
    text = f"minimum-signatures: 1\ntrusted-keys:\n- fingerprint: {FPR}\n" \
           "exemptions: [{package: a, reason: x}]\n"
    with pytest.raises(PolicyError, match=r"trust-policy.yml:4: exemptions is written in flow "
                                          r"style"):
        policyfile.edit_exemptions(parse(PATH, text), text, add=[exemption("b")])


def test_aliases_are_refused_rather_than_misread() -> None:
    text = f"minimum-signatures: 1\ntrusted-keys:\n- fingerprint: {FPR}\nexemptions:\n" \
           "- &a\n  package: a\n  reason: x\n- *a\n"
    with pytest.raises(PolicyError, match="cannot edit the policy in place"):
        policyfile.edit_exemptions(parse(PATH, text), text, remove=[1])
