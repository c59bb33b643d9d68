"""The journeys shipped with journeylens, as YAML files in this package.

``templates()`` names them; ``load_template(name)`` reads one into a
:class:`~journeylens.activate.journey.Journey`. They use the simulator's event names
(``Product Added``, ``Order Completed``, ``Product Viewed``, ``Signed Up``, ``Product Reviewed``)
and the predictions' ``churn`` score, so they run as they are on simulated data.
"""

from __future__ import annotations

from importlib.resources import files

from journeylens.activate.journey import Journey, load_journey
from journeylens.errors import UnknownNameError

__all__ = ["load_template", "templates"]


def templates() -> list[str]:
    """The names of the shipped journey templates, sorted.

    Returns:
        File names without ``.yaml`` (``cart_abandonment``, ``welcome_series``…).

    >>> "cart_abandonment" in templates()
    True
    """
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in files(__package__).iterdir()
        if entry.name.endswith(".yaml")
    )


def load_template(name: str) -> Journey:
    """The shipped template ``name`` (see :func:`templates`).

    Returns:
        The journey, validated.

    >>> load_template("cart_abandonment").entry.event
    'Product Added'
    """
    known = templates()
    if name not in known:
        raise UnknownNameError("journey template", name, known)
    return load_journey(str(files(__package__).joinpath(f"{name}.yaml")))
