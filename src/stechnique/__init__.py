"""stechnique: administrative support procedures as versioned state machines with an audit trail."""

from stechnique._metadata import installed_version as _installed_version
from stechnique.audit import AuditReport, Violation
from stechnique.checkpoint import ChainHead, Checkpoint, export_checkpoint, verify_checkpoint
from stechnique.clock import Clock, ManualClock, clock_of, utc_now
from stechnique.definition import (
    ANY_ACTIVE,
    Answered,
    Binding,
    Bound,
    CaseRole,
    ConfidentialField,
    Due,
    Fired,
    Guard,
    GuardContext,
    Invariant,
    Party,
    Procedure,
    Reading,
    ReadOnlyStore,
    Role,
    State,
    Transition,
    Wait,
)
from stechnique.diagram import dot, mermaid
from stechnique.engine import Engine
from stechnique.errors import (
    ArgumentProblem,
    CaseIdTaken,
    CheckpointInvalid,
    ConcurrencyConflict,
    DefinitionError,
    DefinitionProblem,
    FailedGuard,
    FieldProblem,
    GuardFailed,
    HistoryCorrupted,
    IdempotencyKeyReused,
    InvalidArgument,
    InvalidData,
    InvalidEvent,
    MigrationRefused,
    PermissionDenied,
    RevisionSuperseded,
    SchemaOutOfDate,
    StechniqueError,
    StorageError,
    StoreNotFound,
    UnknownCase,
    UnknownProcedure,
    UnregisteredProcedure,
)
from stechnique.explanation import Explanation, Reason
from stechnique.export import ImportReport, export_csv, export_jsonl, import_jsonl
from stechnique.feed import Change, Changes
from stechnique.loader import FileProblem, ProcedureFileError, load_procedure
from stechnique.migration import Migration, MigrationPlan, MigrationRefusal, MigrationReport
from stechnique.parties import parties_of
from stechnique.plugins import load_registry
from stechnique.records import Actor, Case, Parties, Record
from stechnique.registry import Origin, Registry
from stechnique.schema import Field
from stechnique.visibility import is_redacted
from stechnique.waiting import Limit, Overdue, Policy, Waited, Waiting, waiting_on
from stechnique.workflows import default_registry
from stechnique.workflows.guards import GUARDS

#: The installed distribution's version (``importlib.metadata``), e.g. ``"0.2.0"``.
__version__: str = _installed_version()

__all__ = [
    "ANY_ACTIVE",
    "GUARDS",
    "Actor",
    "Answered",
    "ArgumentProblem",
    "AuditReport",
    "Binding",
    "Bound",
    "Case",
    "CaseIdTaken",
    "CaseRole",
    "ChainHead",
    "Change",
    "Changes",
    "Checkpoint",
    "CheckpointInvalid",
    "Clock",
    "ConcurrencyConflict",
    "ConfidentialField",
    "DefinitionError",
    "DefinitionProblem",
    "Due",
    "Engine",
    "Explanation",
    "FailedGuard",
    "Field",
    "FieldProblem",
    "FileProblem",
    "Fired",
    "Guard",
    "GuardContext",
    "GuardFailed",
    "HistoryCorrupted",
    "IdempotencyKeyReused",
    "ImportReport",
    "InvalidArgument",
    "InvalidData",
    "InvalidEvent",
    "Invariant",
    "Limit",
    "ManualClock",
    "Migration",
    "MigrationPlan",
    "MigrationRefusal",
    "MigrationRefused",
    "MigrationReport",
    "Origin",
    "Overdue",
    "Parties",
    "Party",
    "PermissionDenied",
    "Policy",
    "Procedure",
    "ProcedureFileError",
    "ReadOnlyStore",
    "Reading",
    "Reason",
    "Record",
    "Registry",
    "RevisionSuperseded",
    "Role",
    "SchemaOutOfDate",
    "State",
    "StechniqueError",
    "StorageError",
    "StoreNotFound",
    "Transition",
    "UnknownCase",
    "UnknownProcedure",
    "UnregisteredProcedure",
    "Violation",
    "Wait",
    "Waited",
    "Waiting",
    "clock_of",
    "default_registry",
    "dot",
    "export_checkpoint",
    "export_csv",
    "export_jsonl",
    "import_jsonl",
    "is_redacted",
    "load_procedure",
    "load_registry",
    "mermaid",
    "parties_of",
    "utc_now",
    "verify_checkpoint",
    "waiting_on",
]
