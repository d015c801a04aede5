"""Rich renderables for the ``stechnique`` command: procedures, cases, histories, audits.

Everything is said in the language in force (``--lang``, French by default: the people who
read them are French public bodies and associations), times in Paris time and numbers as that
language writes them; identifiers stay beside labels where a reader matches them with the
stored data. ``show`` deliberately gives both languages of a procedure's labels.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from stechnique._labels import (
    CASE,
    CASES,
    CONFIDENTIAL,
    PARIS_TIMES,
    STEP,
    Label,
    event_both,
    field_label,
    record_event_both,
    role_both,
    source_title,
    state_both,
)
from stechnique.audit import AuditReport
from stechnique.bodies import Bodies
from stechnique.definition import ANY_ACTIVE, Procedure
from stechnique.explanation import Explanation
from stechnique.i18n import (
    both,
    both_n,
    current_lang,
    format_date,
    format_datetime,
    format_number,
)
from stechnique.records import Case, Record
from stechnique.registry import Registry
from stechnique.schema import Field
from stechnique.timeline import payload_lines
from stechnique.visibility import REDACTED, is_redacted
from stechnique.waiting import Overdue, Waited, Waiting

__all__ = [
    "audit_json",
    "audit_summary",
    "cases_table",
    "demo_summary",
    "history_table",
    "moment",
    "payload_text",
    "procedure_tables",
    "procedures_table",
    "verdict",
    "waiting_table",
]


def moment(value: datetime) -> str:
    """A stored time as people read it, in Paris time: « 14 mars 2016, 10:30:00 UTC+01:00 »."""
    return format_datetime(value)


def _said(label: Label) -> str:
    return label.text()


def procedures_table(registry: Registry) -> Table:
    """One row per registered procedure version, the latest of each name marked, and its origin."""
    table = Table(title="Procédures enregistrées / registered procedures", title_justify="left")
    columns = ("procédure", "version", "intitulé", "états", "transitions", "empreinte", "origine")
    for column in columns:
        table.add_column(column)
    latest = {p.name: registry.latest(p.name).fingerprint for p in registry}
    for procedure in registry:
        mark = " (dernière)" if latest[procedure.name] == procedure.fingerprint else ""
        if not registry.is_latest(procedure):
            mark = " (remplacée)"  # a later revision of its version opens the new cases
        origin = registry.origin(procedure.name, procedure.version, procedure.revision)
        # Revision 1 shows as the bare version, as before revisions existed.
        shown = procedure.revision_key.partition("@")[2]
        table.add_row(
            procedure.name,
            shown + mark,
            procedure.fr,
            str(len(procedure.states)),
            str(len(procedure.transitions)),
            procedure.fingerprint[:12],
            str(origin) if origin is not None else "application",
        )
    return table


def procedure_tables(procedure: Procedure) -> list[RenderableType]:
    """Everything a reader needs to check a version against its source document."""
    header = Text.assemble(
        (procedure.key, "bold"),
        f"\n{procedure.fr}\n",
        (procedure.en, "italic"),
        f"\nempreinte / fingerprint: {procedure.fingerprint}",
    )
    if procedure.source:
        header.append(f"\nsource: {source_title(procedure.source)}")
    parts: list[RenderableType] = [header, _roles(procedure), _facts(procedure.facts)]
    parts += [_states(procedure), _transitions(procedure), _guards(procedure)]
    if procedure.confidential:
        parts.append(_confidential(procedure))
    return parts


def _table(title: str, *columns: str) -> Table:
    # Identifiers (first column) are never broken: a reader copies them into commands.
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, overflow="fold", no_wrap=index == 0)
    return table


def _roles(procedure: Procedure) -> Table:
    table = _table("Rôles / roles", "rôle", "libellé", "label")
    for role in procedure.roles:
        table.add_row(role.id, role.fr, role.en)
    for case_role in procedure.case_roles:
        meaning = ", ".join(f"{case_role.fact}={value} → {role}" for value, role in case_role.roles)
        table.add_row(case_role.id, f"{case_role.fr} ({meaning})", case_role.en)
    return table


def _facts(fields: Sequence[Field]) -> Table:
    table = _table("Faits à l'ouverture / start facts", "champ", "type", "obligatoire", "libellé")
    for field in fields:
        kind = _said(field.description())
        table.add_row(field.name, kind, "oui" if field.required else "non", field.fr)
    return table


def _states(procedure: Procedure) -> Table:
    table = _table("États / states", "état", "libellé", "label", "nature")
    for state in procedure.states:
        kind = "initial" if state.initial else "terminal" if state.terminal else ""
        table.add_row(state.id, state.fr, state.en, kind)
    return table


def _transitions(procedure: Procedure) -> Table:
    table = _table(
        "Transitions", "événement", "libellé", "de → vers", "rôles", "gardes", "données (payload)"
    )
    for transition in procedure.transitions:
        sources = (
            "tout état non terminal"
            if transition.sources == (ANY_ACTIVE,)
            else ", ".join(transition.sources)
        )
        when = ""
        if transition.when:
            field, value = transition.when
            when = _said(both(" if {field}={value}", field=field, value=value))
        table.add_row(
            transition.event,
            transition.fr,
            f"{sources}\n→ {transition.target}{when}",
            "\n".join(transition.roles),
            "\n".join(transition.guards),
            "\n".join(_field_text(field) for field in transition.payload),
        )
    return table


def _field_text(field: Field) -> str:
    optional = "" if field.required else "?"
    return f"{field.name}{optional}: {_said(field.description())}"


def _guards(procedure: Procedure) -> Table:
    table = _table("Gardes / guards", "garde", "règle", "rule")
    for guard in procedure.guards:
        table.add_row(guard.name, guard.fr, guard.en)
    return table


def _confidential(procedure: Procedure) -> Table:
    table = _table("Confidentialité / confidentiality", "champ", "lecteurs", "ouvert à", "motif")
    for rule in procedure.confidential:
        opens = f"{', '.join(rule.opens_to)} dès {rule.opens_at}" if rule.opens_at else ""
        table.add_row(f"{rule.event}.{rule.field}", ", ".join(rule.readers), opens, rule.fr)
    return table


def cases_table(cases: Iterable[Case], registry: Registry) -> Table:
    """One row per stored case, with its state's label."""
    table = _table(
        _said(CASES).capitalize(), _said(CASE), _said(both("procedure")), _said(both("state")),
        "seq", _said(both("updated")),
    )  # fmt: skip
    for case in cases:
        table.add_row(
            case.id,
            f"{case.name}@{case.version}",
            _state_label(registry, case.fingerprint, case.state),
            str(case.seq),
            moment(case.updated_at),
        )
    return table


def waiting_table(
    waiting: Iterable[Waiting],
    registry: Registry,
    late: Mapping[str, Overdue] | None = None,
    *,
    title: str | None = None,
) -> Table:
    """One row per open case: whom it waits on and since when, its due date, and, when a
    policy was given (``late``: the overdue cases by id), since when it is overdue."""
    title = title or _said(both("Waiting"))
    table = _table(
        f"{title} ({_said(PARIS_TIMES)})", _said(CASE),
        _said(both("procedure")), _said(both("state")), _said(both("waiting on")),
        _said(both("since")), _said(both("due")),
    )  # fmt: skip
    for column in table.columns[4:]:
        column.no_wrap = True  # dates stay whole
    if late is not None:
        table.add_column(_said(both("overdue since")), no_wrap=True)
    for item in waiting:
        procedure = registry.by_fingerprint(item.fingerprint)
        row = [
            item.case_id,
            f"{item.name}@{item.version}",
            _state_label(registry, item.fingerprint, item.state),
            "\n".join(_waited_label(procedure, waited) for waited in item.on) or "—",
            "\n".join(format_date(waited.since) for waited in item.on) or "—",
            format_date(item.due) if item.due is not None else "—",
        ]
        if late is not None:
            overdue = late.get(item.case_id)
            row.append(format_date(overdue.since) if overdue is not None else "—")
        table.add_row(*row)
    return table


def _waited_label(procedure: Procedure | None, waited: Waited) -> str:
    """« etat (les financeurs consultés) », « Coordinateur CAF du dispositif »; a party no
    body is bound to yet says so."""
    if waited.role is not None:
        return _said(role_both(procedure, waited.role))
    party = procedure.party(waited.party or "") if procedure is not None else None
    label = Label(party.fr, party.en) if party is not None else Label(*[waited.party or ""] * 2)
    if waited.body is None:
        return _said(both("{party} (not known yet)", party=label))
    return f"{waited.body} ({_said(label)})"


def history_table(
    records: Sequence[Record], registry: Registry, title: str, bodies: Bodies | None = None
) -> Table:
    """A case's records as a table; redacted fields say so, they are never left out."""
    table = Table(title=f"{title} ({_said(PARIS_TIMES)})", title_justify="left", show_lines=True)
    table.add_column("seq", justify="right", no_wrap=True)
    table.add_column(_said(both("date")), ratio=2, overflow="fold")
    table.add_column(_said(both("actor")), ratio=2, overflow="fold")
    table.add_column(_said(STEP), ratio=4, overflow="fold")
    table.add_column(_said(both("data")), ratio=5, overflow="fold")
    before = records[0].fingerprint if records else ""
    for record in records:
        # A migration leaves a state of the older version: label it with that version.
        source_version = before if record.event == "migrate" else record.fingerprint
        source = (
            _state_label(registry, source_version, record.source, with_id=False)
            if record.source
            else "—"
        )
        target = _state_label(registry, record.fingerprint, record.target, with_id=False)
        before = record.fingerprint
        procedure = registry.by_fingerprint(record.fingerprint)
        step = Text(_event_label(registry, record), "bold")
        if source == target:
            step.append("\n(" + _said(both("step: {state}", state=target)) + ")")
        else:
            step.append(f"\n{source} → {target}")
        roles = ", ".join(sorted(_said(role_both(procedure, r)) for r in record.actor.roles))
        table.add_row(
            str(record.seq),
            moment(record.at),
            Text(record.actor.id).append(f"\n{roles}", "dim"),
            step,
            payload_text(record, registry, bodies),
        )
    return table


def payload_text(record: Record, registry: Registry, bodies: Bodies | None = None) -> Text:
    """The record's data as the timeline writes it, labelled in the language in force; a
    redacted field shows « confidentiel », why and who may read it, in red."""
    text = Text()
    lines = payload_lines(record, registry, bodies=bodies)
    # One line per field, in order (a migration's facts span several, but none is withheld).
    fields: list[tuple[str, Any]] = list(record.payload.items())
    by_field = record.event != "migrate" and len(lines) == len(fields)
    procedure = registry.by_fingerprint(record.fingerprint)
    for index, line in enumerate(lines):
        if index:
            text.append("\n")
        key, value = fields[index] if by_field else ("", {})
        if not is_redacted(value):
            text.append(line)
            continue
        marker: Mapping[str, Any] = value[REDACTED]
        readers = ", ".join(marker.get("readers", ()))
        reason = Label(marker.get("fr", ""), marker.get("en", "") or marker.get("fr", ""))
        # French sets a colon apart (« Rapport : »), English does not.
        text.append(field_label(procedure, key) + (" : " if current_lang() == "fr" else ": "))
        text.append(f"« {_said(CONFIDENTIAL)} »", "bold red")
        said = both("{reason} (readers: {readers})", reason=reason, readers=readers)
        text.append(f" {_said(said)}", "red")
    return text


def _state_label(registry: Registry, fingerprint: str, state: str, *, with_id: bool = True) -> str:
    label = _said(state_both(registry.by_fingerprint(fingerprint), state))
    if label == state:
        return state
    return f"{label} ({state})" if with_id else label


def _event_label(registry: Registry, record: Record) -> str:
    label = _said(record_event_both(registry.by_fingerprint(record.fingerprint), record))
    return f"{label} ({record.event})" if label != record.event else record.event


#: What an audit found: everything checked is right, something is wrong, or nothing was
#: selected to check (which is neither, and never « conforme »).
Verdict = Literal["ok", "violations", "nothing_selected"]


def _verdict_text(found: Verdict) -> Text:
    if found == "ok":
        return Text(_said(both("compliant")), "green")
    if found == "violations":
        return Text(_said(both("VIOLATIONS")), "bold red")
    return Text(_said(both("nothing selected")), "yellow")


def explanation_lines(answer: Explanation, procedure: Procedure | None = None) -> list[str]:
    """What ``stechnique explain`` prints: that the event would fire, or every reason not,
    in the explanation's language (``procedure``, the case's, names the event and state)."""
    lang = answer.lang
    event = event_both(procedure, answer.event, answer.state).text(lang)
    state = state_both(procedure, answer.state).text(lang)
    if answer.allowed:
        said = both("{event}: would fire now ({case_id}, {state})", event=event,
                    case_id=answer.case_id, state=state)  # fmt: skip
        return [said.text(lang)]
    said = both("{event}: refused ({case_id}, {state})", event=event, case_id=answer.case_id,
                state=state)  # fmt: skip
    return [said.text(lang)] + [f"- {text}" for text in answer.texts()]


def verdict(report: AuditReport) -> Verdict:
    """The audit's verdict: ``nothing_selected`` when it checked no case and found nothing."""
    if not report.ok:
        return "violations"
    return "ok" if report.cases_checked else "nothing_selected"


def audit_summary(report: AuditReport, context: Mapping[str, Any] | None = None) -> RenderableType:
    """The audit's summary table, then one row per violation; with ``context`` (see
    ``_support.audit_context``), the store and the version of stechnique that checked it."""
    summary = _table(
        "Audit", _said(both("result")), _said(CASES), _said(both("records")),
        _said(both("violations")), _said(both("duration")),
    )  # fmt: skip
    duration = both(
        "{seconds} s ({rate} records/s)",
        seconds=format_number(report.seconds, at_least=2),
        rate=format_number(report.records_per_second, digits=0),
    )
    summary.add_row(
        _verdict_text(verdict(report)),
        format_number(report.cases_checked),
        format_number(report.records_checked),
        format_number(len(report.violations)),
        _said(duration),
    )
    parts: list[RenderableType] = [summary]
    if context is not None:
        said = both(
            "store: {store} (tables {prefix}*), stechnique {version}, {at}",
            store=context["store"],
            prefix=context["table_prefix"],
            version=context["stechnique"],
            at=context["audited_at"],
        )
        parts.append(Text(_said(said)))
    if report.unjudged_guards:
        names = ", ".join(report.unjudged_guards)
        said = both("Guards not re-judged (they read other cases): {names}", names=names)
        parts.append(Text(_said(said)))
    if not report.ok:
        found = _table("Violations", _said(CASE), "seq", "code", _said(both("finding")))
        for violation in report.violations:
            seq = "" if violation.seq is None else str(violation.seq)
            found.add_row(violation.case_id, seq, violation.code, violation.message)
        parts.append(found)
    return Group(*parts)


def audit_json(report: AuditReport, context: Mapping[str, Any] | None = None) -> str:
    """The audit report as JSON for programs: ``result`` is the verdict, ``ok`` whether it is
    ``"ok"`` (false when nothing was selected), then ``context`` (what, when, against what)."""
    found = verdict(report)
    return json.dumps(
        {
            "result": found,
            "ok": found == "ok",
            "cases_checked": report.cases_checked,
            "records_checked": report.records_checked,
            "seconds": round(report.seconds, 6),
            "records_per_second": round(report.records_per_second, 1),
            "unjudged_guards": list(report.unjudged_guards),
            "violations": [
                {"case_id": v.case_id, "seq": v.seq, "code": v.code, "message": v.message}
                for v in report.violations
            ],
            **(context or {}),
        },
        ensure_ascii=False,
        indent=2,
    )


def demo_summary(
    where: str, stories: int, written: int, reports: Sequence[AuditReport]
) -> list[str]:
    """The lines that end ``demo``: where it wrote, what was new, the audit of its cases."""
    cases = sum(report.cases_checked for report in reports)
    records = sum(report.records_checked for report in reports)
    violations = sum(len(report.violations) for report in reports)
    cases_said = both_n("{n} case", "{n} cases", cases, n=format_number(cases))
    new = both("nothing new written")
    if written:
        new = both_n("{n} record written", "{n} records written", written,
                     n=format_number(written))  # fmt: skip
    found = both("compliant")
    if violations:
        found = both_n("{n} violation", "{n} violations", violations, n=format_number(violations))
    said = both(
        "Demo: {stories}, {cases} in {where} ({new}); audit {verdict} ({cases}, {records}).",
        stories=both_n("{n} story", "{n} stories", stories, n=format_number(stories)),
        cases=cases_said,
        where=where,
        new=new,
        verdict=found,
        records=both_n("{n} record", "{n} records", records, n=format_number(records)),
    )
    nexts = (
        f"stechnique cases --as caf-13-coordination:caf_coordinator --db {where} | stechnique "
        f"history CASE --as ID:ROLE[:BODY] --db {where} | stechnique audit --db {where}"
    )
    return [_said(said), _said(both("Next: {commands}", commands=nexts))]
