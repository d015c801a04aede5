"""Public test tools for partners: the storage contract suite and hypothesis strategies.

A partner who writes its own storage adapter subclasses the contract suite with a ``storage``
fixture; a partner who declares its own procedure runs the generated state machine on it.
"""

from stechnique.testing.contract import CaseBuilder, StorageContract

__all__ = ["CaseBuilder", "StorageContract"]
