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

# Re-exported on purpose: the lookups live with the library's own words, in one home.
from stechnique._labels import event_label as event_label
from stechnique._labels import field_label as field_label
from stechnique._labels import guard_held as guard_held
from stechnique._labels import guard_refused as guard_refused
from stechnique._labels import option_label as option_label
from stechnique._labels import party_label as party_label
from stechnique._labels import procedure_label as procedure_label
from stechnique._labels import role_label as role_label
from stechnique._labels import state_label as state_label

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
