"""Click heatmaps: bins, page and viewport filters, clicks vs persons, scroll depth."""

from __future__ import annotations

import json

import pydantic
import pytest

import journeylens as jl
from journeylens.analysis.heatmap import HeatmapSpec, heatmap
from journeylens.simulate.journeys import ELEMENTS, SCROLL_DEPTH


def click(person, x, y, path="/", width=1000, height=800, **props):
    properties = {"x": x, "y": y, "path": path, "viewport_width": width}
    properties |= {"viewport_height": height, **props}
    return {"person": person, "event": "Element Clicked", "ts": 0, "properties": properties}


def scroll(person, path, depth):
    props = {"path": path, "depth_percent": depth}
    return {"person": person, "event": "Page Scrolled", "ts": 0, "properties": props}


ROWS = [
    click("a", 100, 10),  # x 0.1 -> column 0 of 4; y 10 -> row 0 of 100 px
    click("a", 120, 90),  # column 0, row 0
    click("b", 240, 99),  # column 0 (0.24), row 0
    click("b", 1000, 950),  # right edge -> last column 3; row 9, below the 800 px fold
    click("c", 500, 150, width=400),  # a phone: x 1.25 is outside the viewport -> unusable
    click("c", 200, 150, width=400),  # phone: x 0.5 -> column 2, row 1
    click("d", 300, 20, path="/product/1"),
    click("d", 300, 40, path="/product/22"),
    click("e", 10, 10, path="/help"),
    {"event": "Element Clicked", "ts": 0, "properties": {"x": 1, "y": 1, "path": "/"}},
    {"person": "f", "event": "Element Clicked", "ts": 0, "properties": {"path": "/"}},
    scroll("a", "/", 35),
    scroll("b", "/", 100),
    scroll("c", "/", 70),
    scroll("d", "/product/1", 5),
]


def cells(result):
    return {(c.x_bin, c.y_bin): (c.clicks, c.persons) for c in result.grid.itertuples()}


def test_clicks_fall_in_columns_of_the_width_and_rows_of_pixels(make_events):
    result = heatmap(make_events(ROWS), HeatmapSpec(path="/", x_bins=4, y_bin_px=100))
    assert cells(result) == {(0, 0): (3, 2), (2, 1): (1, 1), (3, 9): (1, 1)}
    assert (result.clicks, result.persons) == (5, 3)
    first = result.grid.iloc[0]
    assert (first.x_start, first.x_end, first.y_start, first.y_end) == (0.0, 0.25, 0, 100)
    assert first.click_share == pytest.approx(0.6)
    assert result.below_fold_share == pytest.approx(0.2)


def test_unusable_clicks_are_left_out_with_a_warning(make_events):
    result = heatmap(make_events(ROWS), HeatmapSpec(path="/"))
    # The phone click outside its viewport and the click without coordinates; the click
    # without a person is not counted at all.
    assert [w.code for w in result.warnings] == ["UNUSABLE_CLICKS"]
    assert "2 of 7" in result.warnings[0].message


def test_the_page_filter_is_exact_or_a_regular_expression(make_events):
    events = make_events(ROWS)
    exact = heatmap(events, HeatmapSpec(path="/product/1", x_bins=10))
    assert (exact.clicks, cells(exact)) == (1, {(3, 0): (1, 1)})
    pattern = heatmap(events, HeatmapSpec(path="^/product/", path_match="regex", x_bins=10))
    assert cells(pattern) == {(3, 0): (2, 1)}
    everything = heatmap(events, HeatmapSpec())
    assert everything.clicks == 8


def test_the_viewport_filter_keeps_widths_in_range(make_events):
    events = make_events(ROWS)
    phones = heatmap(events, HeatmapSpec(path="/", viewport_width_max=500, x_bins=4))
    assert (phones.clicks, cells(phones)) == (1, {(2, 3): (1, 1)})
    desktops = heatmap(events, HeatmapSpec(path="/", viewport_width_min=900, x_bins=4))
    assert desktops.clicks == 4


def test_x_may_already_be_a_share_of_the_width(make_events):
    rows = [click("a", 0.3, 10, width=None), click("a", 1.0, 10, width=None)]
    result = heatmap(make_events(rows), HeatmapSpec(x_units="share", x_bins=10))
    assert cells(result) == {(3, 0): (1, 1), (9, 0): (1, 1)}


def test_pages_rank_paths_by_clicks(make_events):
    pages = heatmap(make_events(ROWS), HeatmapSpec()).pages
    assert pages.values.tolist()[0] == ["/", 7, 4]
    assert set(pages.path) == {"/", "/product/1", "/product/22", "/help"}


def test_scroll_depth_counts_views_reaching_each_depth(make_events):
    scroll_table = heatmap(make_events(ROWS), HeatmapSpec(path="/")).scroll
    reach = dict(zip(scroll_table.depth_percent, scroll_table.views, strict=True))
    assert [reach[d] for d in (0, 30, 40, 70, 80, 100)] == [3, 3, 2, 2, 1, 1]
    assert scroll_table.share.iloc[4] == pytest.approx(2 / 3)


def test_an_empty_table_gives_an_empty_grid_with_a_warning(make_events):
    result = heatmap(make_events([]), HeatmapSpec())
    assert result.grid.empty
    assert (result.clicks, result.below_fold_share) == (0, None)
    assert [w.code for w in result.warnings] == ["NO_CLICKS"]
    assert json.loads(json.dumps(result.to_dict()))["scroll"][0]["share"] is None
    result.figure()


def test_the_figure_is_an_overlay_ready_heatmap(make_events):
    result = heatmap(make_events(ROWS), HeatmapSpec(path="/", x_bins=4, y_bin_px=100))
    fig = result.figure()
    trace = fig.data[0]
    assert trace.type == "heatmap"
    assert fig.layout.paper_bgcolor == fig.layout.plot_bgcolor == "rgba(0, 0, 0, 0)"
    assert list(trace.z[0][:2]) == [3, None]
    assert list(trace.x) == [0.125, 0.375, 0.625, 0.875]
    persons = heatmap(
        make_events(ROWS), HeatmapSpec(path="/", x_bins=4, y_bin_px=100, count="persons")
    )
    assert persons.figure().data[0].z[0][0] == 2
    assert json.loads(json.dumps(result.to_dict()))["grid"][0]["clicks"] == 3


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"viewport_width_min": 900, "viewport_width_max": 400}, "must not exceed"),
        ({"path_match": "regex"}, "needs a path pattern"),
        ({"path": "(", "path_match": "regex"}, "regular expression"),
        ({"x_bins": 0}, "greater than or equal to 1"),
        ({"count": "views"}, "Input should be"),
    ],
)
def test_a_bad_spec_says_what_is_wrong(spec, problem):
    with pytest.raises(pydantic.ValidationError, match=problem):
        HeatmapSpec.model_validate(spec)


def test_clicks_concentrate_where_the_simulator_puts_the_elements():
    sim = jl.simulate(customers=500, days=30, seed=1)
    ws = jl.Workspace.open()
    ws.ingest(sim.events)
    spec = HeatmapSpec(path="/", viewport_width_min=1024, x_bins=20, y_bin_px=50)
    result = heatmap(ws.events(), spec)
    grid = result.grid.assign(
        x=(result.grid.x_start + result.grid.x_end) / 2,
        y=(result.grid.y_start + result.grid.y_end) / 2,
    )

    def near_an_element(cell):
        return any(
            abs(cell.x - x) <= 2 * spread + 0.05 and abs(cell.y - y) <= 75
            for _, x, y, spread in ELEMENTS["Home"]
        )

    near = grid[[near_an_element(c) for c in grid.itertuples()]]
    assert near.clicks.sum() / result.clicks >= 0.9
    assert all(near_an_element(c) for c in grid.nlargest(5, "clicks").itertuples())
    # Scroll depth: the home page is planted at a mean depth of 60%.
    scrolled = result.scroll.set_index("depth_percent").share
    assert scrolled[0] == 1.0
    assert 0.4 < scrolled[60] < 0.65
    assert SCROLL_DEPTH["Home"][1] == 0.6


@pytest.mark.spark
def test_spark_gives_the_same_heatmap_as_duckdb(make_events, make_spark_events):
    spec = HeatmapSpec(path="/", x_bins=4, y_bin_px=100)
    duck = heatmap(make_events(ROWS), spec).to_dict()
    assert heatmap(make_spark_events(ROWS), spec).to_dict() == duck
