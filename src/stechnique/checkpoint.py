"""Chain heads as checkpoints an auditor keeps outside the store.

A hash chain proves that nothing was changed *inside* it, but someone with write access to the
store could rewrite a whole history and recompute every hash. A checkpoint closes that gap: it
records, for each case, the last seq and the hash there, with a digest over all of them, when it
was taken and who signed it off. Kept elsewhere (another machine, a signed e-mail, paper), it
lets ``verify_checkpoint`` later prove that every history still passes through the very records
the auditor saw. With a key the auditor keeps, the checkpoint also carries an HMAC-SHA256
signature, so the checkpoint itself cannot be edited unnoticed by anyone without the key.

Typical use: ``audit(storage)`` passes, then ``export_checkpoint(storage, "Jeanne Martin,
auditrice").write("2026-q1.json")``; a year later ``verify_checkpoint(storage,
Checkpoint.read("2026-q1.json"))`` and a fresh ``audit``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import attrs

from stechnique._histories import case_ids, histories, link_problems
from stechnique.audit import AuditReport, Violation
from stechnique.errors import CheckpointInvalid, HistoryCorrupted
from stechnique.records import (
    GENESIS_HASH,
    Record,
    canonical_json,
    from_iso,
    record_hash,
    to_iso,
)
from stechnique.storage.base import Storage

__all__ = ["FORMAT", "ChainHead", "Checkpoint", "Key", "export_checkpoint", "verify_checkpoint"]

#: The format tag written in every checkpoint file.
FORMAT = "stechnique-checkpoint/1"

#: A checkpoint key: bytes, or text (used as its UTF-8 bytes).
Key = bytes | str


@attrs.frozen
class ChainHead:
    """The last record of one case when the checkpoint was taken: its seq and hash."""

    case_id: str
    seq: int
    hash: str


def _digest(heads: tuple[ChainHead, ...]) -> str:
    rows = [[head.case_id, head.seq, head.hash] for head in heads]
    return hashlib.sha256(canonical_json(rows).encode("utf-8")).hexdigest()


def _key_bytes(key: Key) -> bytes:
    raw = key.encode("utf-8") if isinstance(key, str) else key
    if not raw:
        raise ValueError("the signing key is empty; give the secret the auditor keeps")
    return raw


@attrs.frozen
class Checkpoint:
    """A signed-off summary of every chain head: see the module docstring.

    ``digest`` is the SHA-256 of the heads (sorted by case id); ``signature`` the HMAC-SHA256
    (hex) of the summary, digest included, under the auditor's key, or ``None`` when unsigned.
    """

    created_at: datetime
    signed_off_by: str
    heads: tuple[ChainHead, ...]
    digest: str
    signature: str | None = None

    def _signed_part(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "created_at": to_iso(self.created_at),
            "signed_off_by": self.signed_off_by,
            "cases": len(self.heads),
            "digest": self.digest,
        }

    def sign(self, key: Key) -> str:
        """The HMAC-SHA256 signature of this checkpoint under ``key`` (hex)."""
        message = canonical_json(self._signed_part()).encode("utf-8")
        return hmac.new(_key_bytes(key), message, hashlib.sha256).hexdigest()

    def check(self, key: Key | None = None) -> None:
        """Raise ``CheckpointInvalid`` unless the digest matches the heads (and, given ``key``,
        the signature verifies)."""
        if _digest(self.heads) != self.digest:
            raise CheckpointInvalid("its digest does not match the chain heads it lists")
        if key is None:
            return
        if self.signature is None:
            raise CheckpointInvalid("a key was given but the checkpoint is not signed")
        if not hmac.compare_digest(self.sign(key), self.signature):
            raise CheckpointInvalid("the signature does not verify with this key")

    def to_json(self) -> str:
        """The checkpoint as readable JSON text (what ``write`` stores)."""
        data = {
            **self._signed_part(),
            "signature": self.signature,
            "heads": [attrs.asdict(head) for head in self.heads],
        }
        return json.dumps(data, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, key: Key | None = None) -> Checkpoint:
        """Read what ``to_json`` wrote; checked as ``check(key)`` does."""
        try:
            checkpoint = _parse(json.loads(text))
        except (ValueError, KeyError, TypeError) as error:
            raise CheckpointInvalid(f"not a {FORMAT} document ({error})") from error
        checkpoint.check(key)
        return checkpoint

    def write(self, path: str | Path) -> None:
        """Store the checkpoint as a UTF-8 JSON file."""
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def read(cls, path: str | Path, key: Key | None = None) -> Checkpoint:
        """Load and check a checkpoint file written by ``write``."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"), key)


def _parse(data: Mapping[str, Any]) -> Checkpoint:
    if data["format"] != FORMAT:
        raise ValueError(f"format {data['format']!r}")
    heads = tuple(
        ChainHead(str(row["case_id"]), int(row["seq"]), str(row["hash"])) for row in data["heads"]
    )
    if len(heads) != data["cases"]:
        raise ValueError(f"it announces {data['cases']} cases but lists {len(heads)}")
    signature = data["signature"]
    return Checkpoint(
        from_iso(data["created_at"]),
        str(data["signed_off_by"]),
        heads,
        str(data["digest"]),
        None if signature is None else str(signature),
    )


def export_checkpoint(
    storage: Storage,
    signed_off_by: str,
    *,
    key: Key | None = None,
    now: datetime | None = None,
) -> Checkpoint:
    """The chain head of every case in ``storage``, signed off by ``signed_off_by``.

    Streams the store and verifies each hash chain on the way (contiguous seq, links, content
    hashes): a broken chain raises ``HistoryCorrupted`` naming the case and seq, since nobody
    should sign off a history that does not prove itself. Signed with ``key`` when given.
    ``now`` (aware, default: the current UTC time) dates the checkpoint.
    """
    if not signed_off_by.strip():
        raise ValueError("signed_off_by is empty: say who signs the checkpoint off")
    when = now if now is not None else datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError(f"now={when!r} is naive; give an aware datetime (UTC)")
    heads = [_verified_head(records) for records in histories(storage)]
    heads.sort(key=lambda head: head.case_id)
    frozen = tuple(heads)
    checkpoint = Checkpoint(when.astimezone(UTC), signed_off_by.strip(), frozen, _digest(frozen))
    if key is not None:
        checkpoint = attrs.evolve(checkpoint, signature=checkpoint.sign(key))
    return checkpoint


def _verified_head(records: list[Record]) -> ChainHead:
    head = GENESIS_HASH
    for expected, record in enumerate(records, start=1):
        problems = link_problems(record, expected, head)
        if problems:
            _, seq, message = problems[0]
            raise HistoryCorrupted(record.case_id, seq, f"{message}; audit it before sign-off")
        head = record.hash
    last = records[-1]
    return ChainHead(last.case_id, last.seq, last.hash)


def verify_checkpoint(
    storage: Storage, checkpoint: Checkpoint, *, key: Key | None = None
) -> AuditReport:
    """Whether ``storage`` still holds every history as ``checkpoint`` saw it.

    For each case of the checkpoint, the record at the checkpoint's seq must still be there
    with the same hash, and the records after it must chain from it. Reported with code
    ``checkpoint``: a missing case, a history now shorter than the checkpoint (seq went
    backwards), a different hash at the checkpoint's seq (chain rewritten); a broken link after
    it is reported with the audit's own codes.

    The checkpoint covers every case: a case it did not see is new since, and is listed in
    ``AuditReport.new_cases`` with the time its first record claims, so that a case claiming to
    have started before the checkpoint (a backdated insertion, or histories imported since)
    stands out to the auditor; a fresh ``audit`` judges its history. The checkpoint is checked
    first (``Checkpoint.check(key)``).
    """
    checkpoint.check(key)
    began = time.perf_counter()
    violations: list[Violation] = []
    records = 0
    for head in checkpoint.heads:
        tail = storage.records(head.case_id, after_seq=head.seq - 1)
        records += len(tail)
        violations += _against(storage, head, tail)
    return AuditReport(
        not violations,
        len(checkpoint.heads),
        records,
        tuple(violations),
        time.perf_counter() - began,
        new_cases=tuple(_unseen(storage, checkpoint)),
    )


def _unseen(storage: Storage, checkpoint: Checkpoint) -> list[tuple[str, datetime | None]]:
    """The cases the checkpoint did not see, with the time each one's first record claims."""
    seen = {head.case_id for head in checkpoint.heads}
    new: list[tuple[str, datetime | None]] = []
    for case_id in case_ids(storage):
        if case_id not in seen:
            first = storage.records(case_id)[:1]
            new.append((case_id, first[0].at if first else None))
    return new


def _against(storage: Storage, head: ChainHead, tail: Sequence[Record]) -> list[Violation]:
    def violation(message: str, seq: int = head.seq, code: str = "checkpoint") -> Violation:
        return Violation(head.case_id, seq, message, code)

    if not tail:
        history = storage.records(head.case_id)
        if not history and storage.get(head.case_id) is None:
            return [violation(f"case is missing (the checkpoint saw it at seq {head.seq})")]
        end = history[-1].seq if history else 0
        return [
            violation(
                f"seq went backwards: the history ends at seq {end}, the checkpoint saw "
                f"seq {head.seq}"
            )
        ]
    anchor = tail[0]
    if anchor.seq != head.seq:
        return [violation(f"record {head.seq}, seen by the checkpoint, is missing")]
    if anchor.hash != head.hash:
        return [
            violation(
                f"chain rewritten: the hash at seq {head.seq} is {anchor.hash[:12]}..., the "
                f"checkpoint saw {head.hash[:12]}..."
            )
        ]
    found: list[Violation] = []
    if record_hash(anchor.body()) != anchor.hash:
        found.append(violation("hash does not match the record's content", code="hash"))
    for previous, record in pairwise(tail):
        for code, seq, message in link_problems(record, previous.seq + 1, previous.hash):
            found.append(violation(message, seq, code))
    return found
