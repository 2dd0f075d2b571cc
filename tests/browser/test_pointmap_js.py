"""The point map's JavaScript (`vizcore/ui/pointmap_frontend/geometry.js`, `raster.js`) against hand-computed
answers, degenerate inputs included, run in Chromium from the files the component serves."""

from __future__ import annotations

import pytest

from tests.browser.conftest import wait_idle

pytestmark = pytest.mark.browser
BASE = "component/vizcore.ui.pointmap.vizcore_pointmap/"


@pytest.fixture
def js(server, page):
    page.goto(server.url("projector"))  # registers the component, so its files are served
    wait_idle(page)
    page.locator('iframe[title*="pointmap"]').first.wait_for(timeout=180_000)
    page.goto(server.url(BASE + "index.html"))

    def run(body: str, arg=None):
        return page.evaluate(f"""async arg => {{
            const g = await import('./geometry.js'), r = await import('./raster.js');
            {body} }}""", arg)
    return run


def test_ticks_are_round_numbers_inside_the_range(js):
    assert js("return g.niceTicks(0, 1, 5).map(t => t.label);") == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
    assert js("return g.niceTicks(-13, 27, 4).map(t => t.value);") == [-10, 0, 10, 20]
    assert js("return g.niceTicks(-0.3, 0.3, 3).map(t => t.label);") == ["-0.2", "0.0", "0.2"]  # no "-0.0"
    assert js("return [g.niceTicks(5, 5, 4), g.niceTicks(0, NaN, 4), g.niceTicks(0, Infinity, 4)];") == [[], [], []]
    # zoomed in beyond float64's resolution (this looped forever), and a step too small for toFixed's 100 digits
    assert js("return [g.niceTicks(0.7, 0.7 + Number.EPSILON, 5), g.niceTicks(0, 1e-120, 5).length];") == [[], 6]


def test_polygon_selection_by_the_even_odd_rule(js):
    xy = [0, 0, 1, 1, 2, 2, 3, 1, 1, 3]  # five points
    assert js("return g.pointsInPolygon(new Float32Array(arg), 5, [[0.5, 0.5], [2.5, 0.5], [2.5, 2.5], "
              "[0.5, 2.5]]);", xy) == [1, 2]  # a box (fast path), its edges included
    assert js("return g.pointsInPolygon(new Float32Array(arg), 5, [[0, 0.5], [4, 0.5], [0, 4]]);", xy) == [1, 2, 3, 4]
    assert js("return g.pointsInPolygon(new Float32Array(arg), 5, [[0, 0], [3, 3]]);", xy) == []  # no area
    assert js("return g.pointsInPolygon(new Float32Array(0), 0, [[0, 0], [1, 0], [1, 1]]);") == []


def test_nearest_finds_the_closest_point_within_the_radius(js):
    setup = """const xy = new Float32Array([0, 0, 1, 0, 1, 0, 5, 5]);
               const grid = g.gridIndex(xy, 4, [0, 0, 5, 5]);"""
    assert js(setup + "return g.nearest(grid, xy, 0.9, 0.1, 0.5, 0.5);") == 2  # rows 1 and 2 tie: the later (on top)
    assert js(setup + "return g.nearest(grid, xy, 0.9, 0.1, 0.5, 0.5, i => i === 2);") == 1  # a hidden row skipped
    assert js(setup + "return g.nearest(grid, xy, 3, 3, 0.5, 0.5);") == -1  # nothing within the radius
    assert js(setup + "return g.nearest(grid, xy, 5.2, 4.9, 0.5, 0.5);") == 3  # at the grid's edge
    one = "const xy = new Float32Array([2, 2]); const grid = g.gridIndex(xy, 1, [1, 1, 3, 3]);"
    assert js(one + "return g.nearest(grid, xy, 2, 2, 0.1, 0.1);") == 0  # a single point (one cell)
    assert js("const grid = g.gridIndex(new Float32Array(0), 0, [0, 0, 1, 1]); "
              "return g.nearest(grid, new Float32Array(0), 0, 0, 1, 1);") == -1


def test_points_are_blended_over_white_and_clipped_at_the_edges(js):
    got = js("""const W = 5, H = 4, px = new Uint32Array(W * H).fill(0xffffffff);
        const xy = new Float32Array([0, 0, 4, 3, 2, 1.5]), rgba = new Uint8Array([255, 0, 0, 255, 0, 0, 255, 128,
                                                                                  0, 255, 0, 0]);
        const view = {x0: 0, y0: 0, sx: 1, sy: 1, height: H};
        r.drawPoints(px, W, H, xy, rgba, 3, view, r.discOffsets(1));
        return Array.from(px, v => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24]);""")
    grid = [got[y * 5:(y + 1) * 5] for y in range(4)]
    red, white = [255, 0, 0, 255], [255, 255, 255, 255]
    half_blue = [127, 127, 255, 255]  # blue at alpha 128 over white: 255 + round(-255 * 128 / 255) = 255 - 128
    # a disc of radius 1 is the 3x3 block (centres within 1.5 px); point 0 at map (0, 0) = pixel (0, 3), clipped by
    # the left and bottom edges
    assert grid[3][0] == grid[3][1] == grid[2][0] == grid[2][1] == red and grid[1][0] == white
    # point 1 at map (4, 3) = pixel (4, 0): clipped by the top and right edges
    assert grid[0][4] == grid[0][3] == grid[1][4] == grid[1][3] == half_blue and grid[2][4] == white
    assert grid[1][2] == white  # point 2 has alpha 0: not drawn
    assert sum(v == white for row in grid for v in row) == 20 - 4 - 4  # nothing written anywhere else (no wrap)
