"""The traceability gate: every RFC-16 clause is proven, or says why not.

A clause with no control and no ``not_proven`` reason fails the run; so does a
control that cites a clause RFC-16 does not have, and a reason left behind on
a clause that a control now proves. The clauses not proven yet are listed at
the end of every run.
"""

from __future__ import annotations

import pytest

from tenon_compliance.catalog import Clause, load_catalog

CATALOG = load_catalog()


@pytest.mark.parametrize("clause", CATALOG.clauses, ids=lambda clause: clause.id)
def test_clause_is_proven_or_says_why(clause: Clause) -> None:
    if clause.controls and clause.not_proven:
        pytest.fail(
            f"{clause.id} is proven by {', '.join(clause.controls)}; remove its "
            "not_proven reason from catalog/clauses.yaml",
            pytrace=False,
        )
    if not clause.controls and not clause.not_proven:
        pytest.fail(
            f"{clause.id} ({clause.text}) has no control and no not_proven "
            "reason: add a control that proves it, or say in catalog/clauses.yaml "
            "why it cannot be proven yet",
            pytrace=False,
        )


def test_controls_cite_only_clauses_of_rfc16() -> None:
    known = {clause.id for clause in CATALOG.clauses}
    unknown = [
        f"{control.id} cites {clause}"
        for control in CATALOG.controls
        for clause in control.clauses
        if clause not in known
    ]
    if unknown:
        pytest.fail("; ".join(unknown), pytrace=False)
