"""The route map is one self-contained HTML file: every route drawn, nothing fetched."""

from __future__ import annotations

import re

from services.cli.routemap import render
from services.common.scenario import load_scenario
from services.common.settings import DEFAULT_SCENARIO
from tests import factories as f


def test_the_map_draws_each_route_and_loads_nothing_from_outside():
    plan = f.plan()
    html = render(plan, load_scenario(DEFAULT_SCENARIO).scenario)
    assert html.count("<polyline") == len(plan.routes)
    assert "DEPOT-HARBOR" in html and "1. FOB-HALCYON" in html
    external = re.findall(r"(?:src|href)=['\"]?https?://", html)
    assert external == []
