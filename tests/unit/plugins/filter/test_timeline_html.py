# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# The timeline report: times, tick steps, and what the page draws for known timelines.
import datetime
import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.openrollout.k8s.plugins.filter.timeline_html import (
    FAILED_COLOUR,
    LABEL_WIDTH,
    RIGHT_MARGIN,
    TRAFFIC_HEIGHT,
    VERSION_COLOURS,
    WIDTH,
    FilterModule,
    TimelineError,
    kind_of,
    nice_step,
    parse_time,
    render,
    timeline_html,
    traffic_buckets,
)


def at(seconds: float) -> str:
    stamp = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.timezone.utc) + datetime.timedelta(
        seconds=seconds
    )
    return stamp.isoformat(timespec="milliseconds")


def counts(new: int, old: int) -> dict:
    return {
        "new": {"replicas": new, "ready": new, "available": new},
        "old": {"replicas": old, "ready": old, "available": old},
    }


ROLLING = [
    {"time": at(0), "event": "hook_started", "phase": "pre", "job": "web-2-hook-pre", "attempt": 1},
    {
        "time": at(2),
        "event": "hook_finished",
        "phase": "pre",
        "job": "web-2-hook-pre",
        "attempt": 1,
        "succeeded": True,
    },
    {"time": at(2.5), "event": "applied", "revision": 2, "canary": True},
    {"time": at(3), "event": "replicas", **counts(0, 4)},
    {"time": at(4), "event": "replicas", **counts(1, 4)},
    {"time": at(4.1), "event": "canary_available"},
    {"time": at(6), "event": "replicas", **counts(4, 0)},
    {"time": at(7), "event": "complete"},
]
BROKEN = [
    {"time": at(8), "event": "applied", "revision": 3},
    {"time": at(9), "event": "failed", "reason": "CrashLoopBackOff", "message": "web-3-x <crash>"},
    {"time": at(9.5), "event": "rollback_started", "to_revision": 2},
    {"time": at(10), "event": "rolled_back", "revision": 4},
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2026-11-23T10:00:00.120+00:00",
            datetime.datetime(2026, 11, 23, 10, 0, 0, 120000, datetime.timezone.utc),
        ),
        ("2026-11-23T10:00:00Z", datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.timezone.utc)),
        ("2026-11-23T11:00:00+01:00", datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.timezone.utc)),
        ("2026-11-23T10:00:00", datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.timezone.utc)),
    ],
)
def test_parse_time(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize("bad", ["yesterday", 12, None])
def test_parse_time_refuses(bad):
    with pytest.raises(TimelineError, match="an event's time must be an ISO 8601 string"):
        parse_time(bad)


@pytest.mark.parametrize(
    ("span", "step"),
    [(9.3, 2.0), (8, 1.0), (40, 5.0), (130, 20.0), (0.4, 0.05), (0, 1.0), (600, 100.0)],
)
def test_nice_step(span, step):
    assert nice_step(span) == pytest.approx(step)
    if span > 0:
        assert 4 <= span / step <= 10  # a readable number of ticks


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ("applied", "applied"),
        ("complete", "complete"),
        ("hook_finished", "hook"),
        ("rolled_back", "rollback"),
        ("failed", "failed"),
        ("canary_available", "progress"),
        ("something_new", "other"),
    ],
)
def test_kind_of(event, kind):
    assert kind_of(event) == kind


def svgs(page: str) -> list[str]:
    return re.findall(r"<svg.*?</svg>", page)


def test_the_overview_puts_every_rollout_on_one_axis():
    page = render(
        [
            {"title": "web v2 (Rolling, pre hook)", "timeline": ROLLING},
            {
                "title": "web v3 (broken)",
                "result": {
                    "failed": True,
                    "rolled_back": True,
                    "msg": "CrashLoopBackOff",
                    "timeline": BROKEN,
                },
            },
        ],
        title="Demo",
    )
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Demo</title>" in page
    overview, *details = svgs(page)
    assert len(details) == 2  # one chart per rollout
    assert re.findall(r'<g class="row" data-status="([^"]+)">', overview) == ["ok", "failed"]
    # the bars: web v2 from +0 to +7 s, web v3 from +8 to +10 s, on an axis of 10 s
    bars = [
        (float(a), float(b))
        for a, b in re.findall(
            r'<rect class="bar[^"]*" x="([0-9.]+)" y="[0-9.]+" width="([0-9.]+)"', overview
        )
    ]
    scale = (WIDTH - RIGHT_MARGIN - LABEL_WIDTH) / 10
    assert bars == [
        (LABEL_WIDTH, pytest.approx(7 * scale, abs=0.2)),
        (pytest.approx(LABEL_WIDTH + 8 * scale, abs=0.1), pytest.approx(2 * scale, abs=0.2)),
    ]
    assert re.findall(r'class="tick"[^>]*>\+(\d+) s<', overview) == ["0", "2", "4", "6", "8", "10"]
    assert '<a href="#rollout-2">web v3 (broken)</a>' in overview
    assert 'id="rollout-2"' in page


def test_each_rollout_gets_its_own_axis_with_hooks_pods_and_labelled_markers():
    page = render(
        [
            {"title": "web v2", "timeline": ROLLING},
            {"title": "web v3", "result": {"failed": True, "msg": "CrashLoopBackOff", "timeline": BROKEN}},
        ]
    )
    rolling, broken = svgs(page)[1:]
    # one marker per event that is not a replicas count, each labelled
    assert rolling.count("<circle") == 5 and broken.count("<circle") == 4
    assert re.findall(r'<text class="label"[^>]*>([^<]+)<', rolling) == [
        "hook_started pre",
        "hook_finished pre",
        "applied",
        "canary_available",
        "complete",
    ]
    # its own axis: 7 s, from the first event at the left to the last at the right
    xs = [float(v) for v in re.findall(r'<circle cx="([0-9.]+)"', rolling)]
    assert (min(xs), max(xs)) == (60, WIDTH - 150)
    assert re.findall(r'class="tick"[^>]*>\+(\d+) s<', broken) == ["0", "1", "2"]
    # the pre hook as a band; the new and old available pods as step lines (4 pods at most)
    assert rolling.count('<rect class="hook"') == 1
    assert "<title>hook pre (web-2-hook-pre): succeeded</title>" in rolling
    assert rolling.count('<polyline class="pods"') == 2
    assert '<text class="axis" x="52" y="' in rolling and ">4</text>" in rolling
    assert "<polyline" not in broken  # no replicas event, no pod line
    # details in tooltips and in the tables, escaped; the failure's message and status
    assert "&lt;crash&gt;" in broken and "<crash>" not in page
    assert page.count("<details>") == 2
    assert '<p class="msg">CrashLoopBackOff</p>' in page
    assert '<span class="status failed">failed</span>' in page
    assert "5 events" not in page and "8 events over 7.0 s" in page


def test_the_page_is_self_contained():
    page = render([{"title": "<b>web</b>", "timeline": ROLLING}])
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert set(re.findall(r"https?://[^\"' ]+", page)) == {
        "http://www.w3.org/2000/svg"
    }  # the SVG namespace only
    assert "&lt;b&gt;web&lt;/b&gt;" in page and "<b>web</b>" not in page


def test_a_rollout_without_events_and_an_empty_input():
    page = render([{"title": "nothing to do", "timeline": []}])
    assert "0 events over" in page and "no event: nothing changed" in page
    assert "<circle" not in page
    assert "0 rollouts" in render([])


def test_the_filter_names_bad_input():
    assert FilterModule().filters()["timeline_html"] is timeline_html
    with pytest.raises(
        AnsibleFilterError, match=r"^openrollout.k8s.timeline_html: the input must be a list of rollouts"
    ):
        timeline_html({"title": "x"})
    with pytest.raises(AnsibleFilterError, match=r"each event of rollout 0 needs time and event"):
        timeline_html([{"title": "x", "timeline": [{"event": "applied"}]}])
    with pytest.raises(AnsibleFilterError, match=r"rollout 1 must be a dictionary"):
        timeline_html([{"timeline": []}, "web"])


# The load beside ROLLING: it starts 1 s ahead of the first event and runs 9.5 s; v1 answers, then
# v2; two requests fail in its 5th second (+3..4 s of the rollout).
TRAFFIC = {
    "start": at(-1),
    "sent": 12,
    "ok": 10,
    "failed": 2,
    "by_version": {"v1": 5, "v2": 5},
    "errors": {"connection_refused": 2},
    "elapsed_s": 9.5,
    "timeline": [
        [0.1, "ok", "v1"],
        [1.1, "ok", "v1"],
        [2.1, "ok", "v1"],
        [3.1, "ok", "v1"],
        [4.1, "ok", "v1"],
        [4.3, "fail", ""],
        [4.6, "fail", ""],
        [5.1, "ok", "v2"],
        [6.1, "ok", "v2"],
        [7.1, "ok", "v2"],
        [8.1, "ok", "v2"],
        [9.1, "ok", "v2"],
    ],
}


def test_traffic_buckets_count_each_second_of_the_load():
    assert traffic_buckets([]) == []
    assert traffic_buckets([(0.1, True, "v1"), (0.6, False, ""), (2.2, True, "v2"), (2.9, True, "v2")]) == [
        ({"v1": 1}, 1),
        ({}, 0),
        ({"v2": 2}, 0),
    ]


def test_the_traffic_lane_draws_requests_per_second_on_the_rollouts_axis():
    page = render(
        [
            {"title": "web v2", "timeline": ROLLING, "traffic": TRAFFIC},
            {"title": "web v3", "timeline": BROKEN, "traffic": {**TRAFFIC, "start": at(7.5)}},
            {"title": "worker", "timeline": BROKEN},
        ]
    )
    rolling, broken, worker = svgs(page)[1:]
    # the axis spans the load: from -1 s (its start) to +9 s (the end of its last second), ticks from the
    # rollout's first event
    assert re.findall(r'class="tick"[^>]*>([+-]\d+) s<', rolling) == ["+0", "+2", "+4", "+6", "+8"]
    scale = (WIDTH - 150 - 60) / 10
    xs = [float(v) for v in re.findall(r'<circle cx="([0-9.]+)"', rolling)]
    assert min(xs) == pytest.approx(60 + scale, abs=0.1)  # the first event at +0 s, 1 s from the left
    # one bar per version and second, the failed ones on top in red
    bars = re.findall(
        r'<rect class="req( req-failed)?" x="([0-9.]+)" y="([0-9.]+)" width="[0-9.]+" height="([0-9.]+)" fill="([^"]+)">',
        rolling,
    )
    assert len(bars) == 11
    assert float(bars[0][1]) == 60  # the load's first second at the left edge, -1 s
    failed = [b for b in bars if b[0]]
    assert [(float(x), float(h), c) for _tag, x, _y, h, c in failed] == [
        (
            pytest.approx(60 + 4 * scale, abs=0.1),
            pytest.approx(TRAFFIC_HEIGHT * 2 / 3, abs=0.1),
            FAILED_COLOUR,
        )
    ]
    assert "<title>+4..5 s of the load: 2 failed</title>" in rolling
    assert "<title>+4..5 s of the load: 1 served by v1</title>" in rolling
    assert "req/s" in rolling and ">3</text>" in rolling  # the busiest second, 3 requests
    # versions keep one colour on the whole page, in order of first appearance
    v1, v2 = VERSION_COLOURS[:2]
    assert {c for _tag, _x, _y, _h, c in bars if c != FAILED_COLOUR} == {v1, v2}
    assert f'fill="{v1}"><title>+0..1 s of the load: 1 served by v1' in broken
    # a load that starts 2 s ahead: a negative tick
    ahead = svgs(render([{"title": "web", "timeline": ROLLING, "traffic": {**TRAFFIC, "start": at(-2)}}]))[1]
    assert re.findall(r'class="tick"[^>]*>([+-]\d+) s<', ahead)[:2] == ["-2", "+0"]
    # a load that starts after the first event: no negative tick
    assert re.findall(r'class="tick"[^>]*>([+-]\d+) s<', broken)[0] == "+0"
    assert "req/s" not in worker and "Requests while it ran" not in page.split('id="rollout-3"')[1]
    # the totals in the section, and the legend
    assert (
        "Requests while it ran: 12 sent, 10 served, "
        '<span class="failed">2 failed</span> (connection_refused 2); answered by '
    ) in page
    assert "requests served by v1" in page and "failed requests" in page


def test_traffic_totals_are_counted_when_missing_and_start_with_the_rollout():
    page = render(
        [{"title": "web", "timeline": ROLLING, "traffic": {"timeline": [[0, "ok", "v1"], [0.5, "fail", ""]]}}]
    )
    assert '2 sent, 1 served, <span class="failed">1 failed</span>; answered by ' in page
    detail = svgs(page)[1]
    assert re.findall(r'class="tick"[^>]*>([+-]\d+) s<', detail)[0] == "+0"
    quiet = render(
        [{"title": "web", "timeline": [], "traffic": {"start": at(0), "timeline": [[0.2, "ok", "v1"]]}}]
    )
    assert '<span class="none-failed">0 failed</span>' in quiet and "req/s" in quiet
    assert "requests served by v1" in quiet
    assert "failed requests" not in render([{"title": "web", "timeline": ROLLING}])


@pytest.mark.parametrize(
    ("traffic", "message"),
    [
        ([[0, "ok", "v1"]], "the traffic of rollout 0 must be a dictionary with a timeline"),
        ({"sent": 1}, "the traffic of rollout 0 must be a dictionary with a timeline"),
        (
            {"timeline": [[0, "maybe", "v1"]]},
            r"each traffic point of rollout 0 must be \[seconds, 'ok' or 'fail', version\]",
        ),
        ({"timeline": [["0", "ok", "v1"]]}, "each traffic point of rollout 0"),
        ({"timeline": [], "start": "soon"}, "an event's time must be an ISO 8601 string"),
    ],
)
def test_bad_traffic_is_named(traffic, message):
    with pytest.raises(AnsibleFilterError, match=message):
        timeline_html([{"title": "web", "timeline": ROLLING, "traffic": traffic}])
