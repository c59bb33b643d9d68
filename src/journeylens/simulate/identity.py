"""Identity calls: identify, alias, group and sign-up events, with the messiness of real clients.

* ``identify`` on the first logged-in visit of each (person, device) and on some later visits,
  with traits ``email`` (varied case and stray whitespace), ``phone`` (varied formats),
  ``firstName``, ``lastName``.
* A typo'd registration: the person's sign-up identify carries another person's e-mail address;
  later identifies carry their own.
* Buggy clients: identify calls from a buggy device carry ``test@test.com`` half the time (their
  logged-out events carry a junk user id, see :mod:`~journeylens.simulate.journeys`).
* ``alias``: previousId = the anonymous id at sign-up (some new registrants), or a legacy user id
  replaced by the current one on a migration day (server-side call).
* ``group``: company members send one group call on their first logged-in visit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.simulate.columns import choose, const, field_raw, field_str, json_object
from journeylens.simulate.population import Population
from journeylens.simulate.rows import Block
from journeylens.simulate.visits import Visits

__all__ = ["JUNK_EMAIL", "IdRecords", "email_variants", "identity_calls", "phone_variants"]

JUNK_EMAIL = "test@test.com"


@dataclass(frozen=True)
class IdRecords:
    """Identifier values emitted inside JSON columns, with who emitted them (cohort-local)."""

    id_type: str
    value: pa.Array
    person: np.ndarray
    typo: np.ndarray | None = None


def email_variants(rng: np.random.Generator, email: pa.Array) -> pa.Array:
    """The same addresses as typed by people and forms: mostly as is, some re-cased or padded."""
    forms = [
        email,
        pc.utf8_capitalize(email),
        pc.binary_join_element_wise(" ", email, " ", ""),
        pc.utf8_upper(email),
        pc.binary_join_element_wise(email, " ", ""),
    ]
    return choose(rng.choice(5, len(email), p=[0.7, 0.1, 0.07, 0.06, 0.07]), forms)


def phone_variants(rng: np.random.Generator, pop: Population, person: np.ndarray) -> pa.Array:
    """Each person's phone number written in a randomly chosen format (null if none given)."""
    index = pa.array(person)
    forms = [f.take(index) for f in pop.phone_forms]
    written = choose(rng.integers(0, len(forms), len(person)), forms)
    return pc.if_else(pc.is_valid(pop.phone.take(index)), written, pa.scalar(None, pa.string()))


def identity_calls(
    pop: Population, visits: Visits, anon: pa.Array, user: pa.Array, rng: np.random.Generator
) -> tuple[list[Block], list[IdRecords]]:
    """identify / Signed Up / alias / group rows for a cohort.

    ``anon`` and ``user`` are the per-visit anonymous id and user id (see
    :func:`journeylens.simulate.journeys.visit_ids`).

    Returns:
        (blocks, records): event blocks, and the e-mail / phone / alias identifiers they emit.
    """
    v = visits
    online = v.kind <= 1
    again = v.logged_in & online & ~v.first_login & (rng.random(len(v)) < 0.08)
    rows = np.flatnonzero(v.first_login | again | v.signs_up)
    person = v.person[rows]
    n = len(rows)
    idx = pa.array(rows)
    typo = v.signs_up[rows] & (pop.typo_of[person] >= 0)
    email_of = np.where(typo, pop.typo_of[person], person)
    email = email_variants(rng, pop.email.take(pa.array(email_of)))
    device = v.device[rows]
    junk = (pop.dev_junk[device] >= 0) & (rng.random(n) < 0.5)
    email = pc.if_else(pa.array(junk), pa.scalar(JUNK_EMAIL), email)
    phone = phone_variants(rng, pop, person)
    traits = json_object(
        [
            field_str("email", email),
            field_str("phone", phone),
            field_str("firstName", pop.first_name.take(pa.array(person))),
            field_str("lastName", pop.last_name.take(pa.array(person))),
        ],
        n,
    )
    ctx = json_object([field_raw("page", const('{"path":"/account"}', n), online[rows])], n)
    # The identify comes right after sign-up or login, a few seconds into the visit.
    ts = v.start_us[rows] + np.where(v.signs_up[rows], 30, 3) * 1_000_000
    blocks = [
        Block(
            person=person,
            timestamp_us=ts,
            type="identify",
            event=None,
            source=_sources(pop, device),
            context=ctx,
            delay="web",
            anonymous_id=anon.take(idx),
            user_id=user.take(idx),
            traits=traits,
        ),
    ]
    has_phone = pc.is_valid(phone)
    records = [
        IdRecords("email", email, person, typo),
        IdRecords("phone", phone.filter(has_phone), person[_np(has_phone)]),
    ]
    signup = np.flatnonzero(v.signs_up)
    s_idx = pa.array(signup)
    blocks.append(
        Block(
            person=v.person[signup],
            timestamp_us=v.start_us[signup] + 29_000_000,
            type="track",
            event="Signed Up",
            source=_sources(pop, v.device[signup]),
            context=const("{}", len(signup)),
            delay="web",
            anonymous_id=anon.take(s_idx),
            user_id=user.take(s_idx),
            properties=const('{"method":"email"}', len(signup)),
        )
    )
    aliased = signup[pop.alias_anonymous[v.person[signup]]]
    a_idx = pa.array(aliased)
    blocks.append(
        Block(
            person=v.person[aliased],
            timestamp_us=v.start_us[aliased] + 31_000_000,
            type="alias",
            event=None,
            source=_sources(pop, v.device[aliased]),
            context=const("{}", len(aliased)),
            delay="web",
            anonymous_id=anon.take(a_idx),
            user_id=user.take(a_idx),
            previous_id=anon.take(a_idx),
        )
    )
    records.append(IdRecords("anonymous_id", anon.take(a_idx), v.person[aliased]))
    migrated = np.flatnonzero(pop.migrate_us > 0)
    legacy = pop.legacy_id.take(pa.array(migrated))
    blocks.append(
        Block(
            person=migrated,
            timestamp_us=pop.migrate_us[migrated],
            type="alias",
            event=None,
            source="server",
            context=const("{}", len(migrated)),
            delay="server",
            user_id=pop.user_id.take(pa.array(migrated)),
            previous_id=legacy,
        )
    )
    records.append(IdRecords("user_id", legacy, migrated))
    blocks.append(_group_calls(pop, v, anon, user))
    return blocks, records


def _np(mask: pa.Array) -> np.ndarray:
    return mask.to_numpy(zero_copy_only=False)


def _sources(pop: Population, device: np.ndarray) -> pa.Array:
    kinds = np.where(device >= 0, pop.dev_kind[np.maximum(device, 0)], 0)
    return pa.array(np.array(["web", "web", "ios", "android"], dtype=object)[kinds])


def _group_calls(pop: Population, v: Visits, anon: pa.Array, user: pa.Array) -> Block:
    members = np.flatnonzero(v.first_login & (pop.company[v.person] >= 0))
    _, first = np.unique(v.person[members], return_index=True)
    rows = members[first]
    company = pa.array(pop.company[v.person[rows]])
    idx = pa.array(rows)
    return Block(
        person=v.person[rows],
        timestamp_us=v.start_us[rows] + 5_000_000,
        type="group",
        event=None,
        source=_sources(pop, v.device[rows]),
        context=const("{}", len(rows)),
        delay="web",
        anonymous_id=anon.take(idx),
        user_id=user.take(idx),
        group_id=pop.company_id.take(company),
        traits=pop.company_traits.take(company),
    )
