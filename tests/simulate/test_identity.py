import json

import numpy as np
import pyarrow.compute as pc

from journeylens.simulate.config import make_config
from journeylens.simulate.population import make_population


def _identifiers(sim):
    return sim.truth.identifiers.to_pandas()


def test_every_emitted_user_and_anonymous_id_is_in_the_truth(sim):
    ids = _identifiers(sim)
    previous = set(sim.events["previous_id"].drop_null().to_pylist())
    for column in ("anonymous_id", "user_id"):
        emitted = set(sim.events[column].drop_null().to_pylist())
        truth = set(ids.loc[ids["id_type"] == column, "id_value"])
        assert emitted <= truth
        assert truth <= emitted | previous


def test_shared_devices_are_used_by_several_persons_who_log_in_on_them(sim):
    ids = _identifiers(sim)
    shared = ids[ids["shared_device"]]
    assert len(shared) > 0
    persons = shared.groupby("id_value")["person_key"].nunique()
    assert (persons >= 2).any()
    logged = sim.events.filter(
        pc.is_in(
            sim.events["anonymous_id"],
            pc.unique(
                sim.truth.identifiers.filter(sim.truth.identifiers["shared_device"])["id_value"]
            ),
        )
    )
    users = logged.filter(pc.equal(logged["type"], "identify")).to_pandas()
    assert (users.groupby("anonymous_id")["user_id"].nunique() >= 2).any()


def test_planted_shares_roughly_match_the_request():
    cfg = make_config(4_000, 90, shared_device_share=0.05, typo_email_share=0.02, junk_share=0.03)
    pop = make_population(cfg, 0, 4_000, np.random.default_rng(0))
    borrowed = pop.use_offsets[1:] - pop.use_offsets[:-1] > np.bincount(pop.dev_owner)
    assert borrowed.sum() == round(0.05 * 4_000)
    assert (pop.typo_of >= 0).sum() == round(0.02 * pop.registered.sum())
    assert 0.02 < (pop.dev_junk >= 0).mean() < 0.04
    assert 0.6 < pop.registered.mean() < 0.8
    assert 0.15 < pop.churned.mean() < 0.25


def test_a_typo_email_belongs_to_another_person(sim):
    ids = _identifiers(sim)
    typos = ids[ids["typo_email"]]
    assert len(typos) > 0
    assert (typos["owner_key"] != typos["person_key"]).all()
    persons = sim.truth.persons.to_pandas().set_index("person_key")
    owners = persons.loc[typos["owner_key"], "email"].to_numpy()
    assert (typos["id_value"].str.strip().str.lower().to_numpy() == owners).all()


def test_junk_identifiers_are_flagged_and_owned_by_nobody(sim):
    ids = _identifiers(sim)
    junk = ids[ids["junk"]]
    assert set(junk["id_value"]) <= {"undefined", "null", "0", "anonymous", "test@test.com"}
    assert junk["owner_key"].isna().all()
    assert len(junk) > 0


def test_emails_and_phones_are_written_in_varied_forms(sim):
    ids = _identifiers(sim)
    emails = ids.loc[(ids["id_type"] == "email") & ~ids["junk"], "id_value"]
    assert (emails != emails.str.strip().str.lower()).any()
    phones = ids.loc[ids["id_type"] == "phone", "id_value"]
    assert phones.str.startswith("+").any()
    assert phones.str.startswith("(").any()
    assert phones.str.fullmatch(r"\d{10}").any()


def test_identify_traits_carry_contact_details(sim):
    identify = sim.events.filter(pc.equal(sim.events["type"], "identify"))
    traits = [json.loads(t) for t in identify["traits"].to_pylist()]
    assert all("email" in t for t in traits)
    assert np.mean(["phone" in t for t in traits]) > 0.3


def test_some_persons_never_register(sim):
    persons = sim.truth.persons.to_pandas()
    anonymous = persons["user_id"].isna().mean()
    assert 0.2 < anonymous < 0.5
    assert persons["preferred_hour"].between(0, 23).all()
