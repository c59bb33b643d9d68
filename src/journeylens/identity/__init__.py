"""Identity resolution: identifiers from events, normalised, joined into persons under rules.

Pure functions over Ibis tables and Arrow tables; the store runs them and keeps the results::

    raw = extract_identifiers(events, settings)                  # Ibis, alike messages collapsed
    ids = normalise_identifiers(raw.to_pyarrow(), settings)      # Arrow, per distinct value
    res = resolve(ids.table, settings, invalid_edges)            # id_map, merge_log, stats
    ev = attach_person(events, id_map, settings)                 # Ibis
    persons = build_persons(ev, id_map)                          # Ibis
"""

from journeylens.identity.attach import attach_person
from journeylens.identity.extract import extract_identifiers
from journeylens.identity.normalise import NormalisedIdentifiers, normalise_identifiers
from journeylens.identity.persons import build_persons
from journeylens.identity.resolve import Resolution, ResolutionStats, resolve
from journeylens.identity.scores import pairwise_scores

__all__ = [
    "NormalisedIdentifiers",
    "Resolution",
    "ResolutionStats",
    "attach_person",
    "build_persons",
    "extract_identifiers",
    "normalise_identifiers",
    "pairwise_scores",
    "resolve",
]
