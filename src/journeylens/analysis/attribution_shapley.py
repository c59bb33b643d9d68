"""Shapley value attribution in the simplified formulation of Zhao et al. (2018).

In cooperative game theory the Shapley value of a player is its marginal contribution averaged
over every order in which the players can join. Zhao, Mahboobi and Bagheri ("Shapley Value
Methods for Attribution Modeling in Online Advertising", 2018) take channels as players and as
the worth of a coalition ``S`` the conversions of the journeys whose set of channels lies within
``S``. The sum over coalitions then collapses: with ``R(T)`` the conversions of journeys whose
set of distinct channels is exactly ``T``,

    phi(c) = sum over T containing c of R(T) / |T|.

So the simplified Shapley value **equals splitting each conversion equally among the distinct
channels of its journey**: linear attribution over unique channels (``email > search > email``
gives email and search half each, where linear attribution over touches gives email two
thirds). It is exact, and costs one pass over the paths, linear in their number, however many
channels there are (the textbook formula enumerates 2^channels coalitions).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from journeylens.analysis.attribution_paths import PathCounts, credits_frame

__all__ = ["shapley"]


def shapley(paths: PathCounts) -> pd.DataFrame:
    """Credit each path's conversions and value equally to the distinct channels it touched.

    This is the exact simplified Shapley value of Zhao et al. (2018) with the worth of a set of
    channels being the conversions of journeys that use only channels of that set; how often
    a journey repeats a channel does not matter, only whether it touched it.

    Returns:
        DataFrame with one row per channel that earned credit, in channel (alphabetical) order:
        ``channel``; ``conversions``, the channel's Shapley value (over all channels they add
        up to the observed conversions); ``value``, the conversion value split the same way
        (adds up to the observed value).

    >>> counts = PathCounts(paths=(("Email", "Search", "Email"), ("Search",)),
    ...                     conversions=[2.0, 1.0], value=[20.0, 5.0], non_conversions=[0.0, 3.0])
    >>> shapley(counts).to_dict("list")
    {'channel': ['Email', 'Search'], 'conversions': [1.0, 2.0], 'value': [10.0, 15.0]}
    """
    # A touch earns a share only if it is the first touch of its channel in its path; each
    # such touch gets 1 / (distinct channels of the path). Sorting touches by (path, channel)
    # puts repeats of a channel next to each other.
    n_channels = max(len(paths.channels), 1)
    key = paths.path_index * n_channels + paths.codes
    order = np.argsort(key, kind="stable")
    repeat = np.zeros(len(key), dtype=bool)
    repeat[order[1:]] = key[order[1:]] == key[order[:-1]]
    first_of_channel = ~repeat
    distinct = np.bincount(paths.path_index[first_of_channel], minlength=len(paths)).astype(
        np.float64
    )
    weights = np.where(first_of_channel, 1.0 / np.maximum(distinct, 1.0)[paths.path_index], 0.0)
    return credits_frame(paths, weights)
