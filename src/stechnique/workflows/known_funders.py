"""The funders the 2015-2017 leaflet lists, by id, with their French names (revision 2 drafts).

« Les partenaires financeurs sont : l'Etat, la Région, le Département, la CAF et les communes
d'Aix-en-Provence, La Ciotat, Les Pennes-Mirabeau, Marseille, Miramas, Port de Bouc,
Salon-de-Provence, Septèmes-les-Vallons, Vitrolles. » (seed ``001_28d3ef919107c964.txt``)

From revision 2 on, MSTR and DLA funder lists accept only these ids, without duplicates; ids
already recorded by revision-1 cases stay as recorded. Refusals and pages name a known funder
by its French name (``KNOWN_FUNDERS[id]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["KNOWN_FUNDERS", "KNOWN_FUNDER_IDS"]

#: Known funder id -> French name, in the leaflet's order (read-only).
KNOWN_FUNDERS: Mapping[str, str] = MappingProxyType(
    {
        "etat": "État",
        "region": "Région Provence-Alpes-Côte d'Azur",
        "departement-13": "Département des Bouches-du-Rhône",
        "caf-13": "Caf des Bouches-du-Rhône",
        "ville-aix-en-provence": "Ville d'Aix-en-Provence",
        "ville-la-ciotat": "Ville de La Ciotat",
        "ville-les-pennes-mirabeau": "Ville des Pennes-Mirabeau",
        "ville-marseille": "Ville de Marseille",
        "ville-miramas": "Ville de Miramas",
        "ville-port-de-bouc": "Ville de Port-de-Bouc",
        "ville-salon-de-provence": "Ville de Salon-de-Provence",
        "ville-septemes-les-vallons": "Ville de Septèmes-les-Vallons",
        "ville-vitrolles": "Ville de Vitrolles",
    }
)

#: The known funder ids, in the same order: the options of a funder field.
KNOWN_FUNDER_IDS: tuple[str, ...] = tuple(KNOWN_FUNDERS)
