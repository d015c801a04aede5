"""The words of the pages, French first, English available: one home for every label shown.

``lang_of`` decides the language of a request: a ``lang`` query (remembered in a cookie), else
the cookie, else French.
"""

from __future__ import annotations

from fastapi import Request

from stechnique.i18n import DEFAULT_LANG, LANGS, Lang, current_lang, parse_lang

__all__ = ["LANG_COOKIE", "TEXTS", "lang_of", "text"]

#: The cookie that remembers the language chosen.
LANG_COOKIE = "stechnique_lang"

# key -> (French, English)
TEXTS: dict[str, tuple[str, str]] = {
    "app": ("stechnique — procédures d'appui", "stechnique — support procedures"),
    "skip": ("Aller au contenu", "Skip to content"),
    "login": ("Connexion", "Log in"),
    "logout": ("Déconnexion", "Log out"),
    "token": ("Jeton du compte", "Account token"),
    "token_hint": ("Le jeton remis par l'opérateur du service (stq_…).",
                   "The token the service's operator gave you (stq_…)."),
    "bad_token": ("Jeton inconnu ou révoqué.", "Unknown or revoked token."),
    "bad_csrf": ("Formulaire expiré : rechargez la page et recommencez.",
                 "Form expired: reload the page and try again."),
    "cases": ("Dossiers", "Cases"),
    "case": ("Dossier", "Case"),
    "stats": ("Suivi et évaluation du dispositif", "Monitoring and evaluation"),
    "procedure": ("Procédure", "Procedure"),
    "version": ("Version", "Version"),
    "state": ("État", "State"),
    "year": ("Année d'ouverture", "Year opened"),
    "waiting_filter": ("En attente de", "Waiting on"),
    "waiting_hint": ("Un organisme (caf-13) ou un rôle coordinateur.",
                     "A body (caf-13) or a coordinating role."),
    "audit": ("Audit des historiques", "Audit of the histories"),
    "audit_intro": ("Rejoue chaque historique du magasin contre sa version de procédure et "
                    "vérifie sa chaîne d'empreintes.",
                    "Replays every history of the store against its procedure version and "
                    "checks its hash chain."),
    "auditors_only": ("Réservé aux comptes d'auditeur.", "For auditor accounts only."),
    "run_audit": ("Lancer l'audit", "Run the audit"),
    "report": ("Rapport", "Report"),
    "audit_ok": ("Aucune violation.", "No violation."),
    "audit_bad": ("Des violations ont été trouvées.", "Violations were found."),
    "cases_checked": ("Dossiers vérifiés", "Cases checked"),
    "records_checked": ("Enregistrements vérifiés", "Records checked"),
    "what": ("Constat", "Finding"),
    "audit_json": ("Télécharger le rapport (JSON)", "Download the report (JSON)"),
    "all": ("Tous", "All"),
    "filter": ("Filtrer", "Filter"),
    "created": ("Ouvert le", "Opened on"),
    "updated": ("Dernier pas le", "Last step on"),
    "no_case": ("Aucun dossier ne correspond.", "No case matches."),
    "previous": ("Page précédente", "Previous page"),
    "next": ("Page suivante", "Next page"),
    "page": ("Page", "Page"),
    "of": ("sur", "of"),
    "found": ("dossiers trouvés", "cases found"),
    "timeline": ("Chronologie", "Timeline"),
    "diagram": ("Schéma de la procédure et chemin suivi", "The procedure and the path taken"),
    "no_dot": ("Graphviz (dot) n'est pas installé : le chemin suivi, étape par étape :",
               "Graphviz (dot) is not installed: the path taken, step by step:"),
    "parties": ("Parties", "Parties"),
    "party": ("Partie", "Party"),
    "body": ("Organisme", "Body"),
    "coordinators": ("Rôles coordinateurs", "Coordinating roles"),
    "waiting": ("En attente de", "Waiting on"),
    "since": ("depuis le", "since"),
    "due": ("échéance", "due"),
    "nobody": ("Le dossier n'attend personne.", "The case waits on nobody."),
    "events": ("Ce que vous pouvez faire", "What you may do"),
    "no_event": ("Aucun événement ne vous est ouvert maintenant.",
                 "No event is open to you now."),
    "fire": ("Envoyer", "Send"),
    "refused": ("Refusé", "Refused"),
    "done": ("Enregistré.", "Recorded."),
    "not_found": ("Dossier introuvable", "Case not found"),
    "account": ("Compte", "Account"),
    "language": ("Langue", "Language"),
    "facts": ("Faits", "Facts"),
    "required": ("obligatoire", "required"),
    "by_state": ("Dossiers par état", "Cases by state"),
    "by_year": ("Dossiers par année d'ouverture", "Cases by year opened"),
    "by_procedure": ("Dossiers par procédure", "Cases by procedure"),
    "decisions": ("Décisions des financeurs", "Funders' decisions"),
    "durations": ("Temps passé dans chaque état (jours)", "Time spent in each state (days)"),
    "count": ("Nombre", "Count"),
    "chart": ("graphique ; les chiffres sont dans le tableau",
              "chart; the figures are in the table"),
    "median": ("Médiane", "Median"),
    "p90": ("90e centile", "90th percentile"),
    "csv": ("Télécharger en CSV", "Download as CSV"),
    "scope_full": ("Chiffres complets (organisme coordinateur).",
                   "Full figures (coordinating body)."),
    "scope_seen": ("Chiffres sur les seuls dossiers que votre compte peut voir ; les effectifs "
                   "inférieurs à 5 sont masqués (« < 5 »).",
                   "Figures over the cases your account may see only; counts under 5 are "
                   "hidden (« < 5 »)."),
}  # fmt: skip


def text(key: str) -> str:
    """The label ``key`` in the language in force."""
    fr, en = TEXTS[key]
    return en if current_lang() == "en" else fr


def lang_of(request: Request) -> Lang:
    """The language of ``request``: its ``lang`` query, else its cookie, else French."""
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value:
            try:
                return parse_lang(value)
            except ValueError:
                continue
    return DEFAULT_LANG if DEFAULT_LANG in LANGS else LANGS[0]
