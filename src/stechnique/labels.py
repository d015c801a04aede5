"""What people read for a procedure's ids, in French or English: the public lookups.

Each answers from the procedure's display relabels (``Procedure.labels``), then its canonical
labels, then the id itself, in the language given or in force (``stechnique.i18n``):

>>> from stechnique import Engine
>>> mstr = Engine().procedure("soutien-technique-renforce", "2015-2017")
>>> option_label(mstr, "situation", "crisis")
'situation de crise avérée'
>>> state_label(mstr, "referred", "en")
'Joint referral'
"""

from __future__ import annotations

from stechnique._labels import (
    event_label,
    field_label,
    guard_held,
    guard_refused,
    option_label,
    party_label,
    procedure_label,
    role_label,
    state_label,
)

__all__ = [
    "event_label",
    "field_label",
    "guard_held",
    "guard_refused",
    "option_label",
    "party_label",
    "procedure_label",
    "role_label",
    "state_label",
]
