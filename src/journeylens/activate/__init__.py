"""Act on journeys: a pure engine and an effectful runner.

- :mod:`~journeylens.activate.journey`: the versioned journey definition (``Journey``,
  ``load_journey``, ``parse_journey``).
- :mod:`~journeylens.activate.state`: the engine's values (inputs, ``PersonContext``,
  ``InstanceState``, ``Action``) and the runner's side of the contract.
- :mod:`~journeylens.activate.engine`: ``advance(state, input, journey, now, person)``, pure.
- :mod:`~journeylens.activate.timing`: quiet hours, best hours and date traits across time zones.
- :mod:`~journeylens.activate.templates`: the journeys shipped with journeylens.
"""
