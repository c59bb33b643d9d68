"""The journeys shipped with journeylens, as YAML files in this package.

``templates()`` names them; ``load_template(name)`` reads one into a
:class:`~journeylens.activate.journey.Journey`. They use the simulator's event names
(``Product Added``, ``Order Completed``, ``Product Viewed``, ``Signed Up``, ``Product Reviewed``)
and the predictions' ``churn`` score, so they run as they are on simulated data.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from journeylens.activate.journey import Journey, load_journey
from journeylens.errors import UnknownNameError

__all__ = ["TEMPLATE_PREFIX", "load_template", "read_journey", "template_text", "templates"]

#: ``template:cart_abandonment`` names a shipped template wherever a journey file is expected.
TEMPLATE_PREFIX = "template:"


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


def template_text(name: str) -> str:
    """The YAML text of the shipped template ``name``, to copy and edit.

    Returns:
        The file's text.

    >>> template_text("welcome_series").startswith("#") or "id:" in template_text("welcome_series")
    True
    """
    known = templates()
    if name not in known:
        raise UnknownNameError("journey template", name, known)
    return files(__package__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def read_journey(source: str | Path) -> Journey:
    """A journey from a YAML/JSON file, or a shipped template written ``template:NAME``.

    Returns:
        The journey, validated.

    >>> read_journey("template:cart_abandonment").id
    'cart-abandonment'
    """
    text = str(source)
    if text.startswith(TEMPLATE_PREFIX):
        return load_template(text.removeprefix(TEMPLATE_PREFIX))
    return load_journey(source)
