from __future__ import annotations

from egress.render.terraform_common import labels


def test_labels_are_unique_identifiers() -> None:
    assert labels(["a.b", "a-b", "a_b", "9x", ""]) == ["a_b", "a_b_2", "a_b_3", "rule_9x", "rule"]
