# Copyright (c) openrollout.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime
import html
import json
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: timeline_html
short_description: Render the timelines of rollouts as one self-contained HTML page with an SVG chart
version_added: 0.1.0
author: openrollout.k8s contributors (@openrollout)
description:
  - Takes the C(timeline) of registered results of M(openrollout.k8s.rollout),
    M(openrollout.k8s.rollout_undo), M(openrollout.k8s.rollout_control) or M(openrollout.k8s.lifecycle_hook),
    and returns an HTML page that draws them on one time axis. Write it to a file with
    M(ansible.builtin.copy) and open it in a browser.
  - Each rollout is a row. A bar spans its first to its last event. Lines show the pods of the new
    revision and of the old ones that are available, from the C(replicas) events. Hook runs are bands from
    C(hook_started) to C(hook_finished). The other events are markers, coloured by kind (applied, progress,
    complete, hooks, failure, rollback), with their details in a tooltip and in a table below the chart.
  - A rollout can carry the requests that a load generator sent while it ran (C(traffic)). Its chart then
    has a lane of requests per second on the same time axis, stacked by the version that answered, the
    failed ones in red on top, and its section sums them up (served, failed by kind, versions). The axis
    then spans the load too, so seconds before the rollout's first event are negative.
  - The page has no external asset (inline CSS and SVG, no script), so it can be attached or archived as
    it is.
options:
  _input:
    description:
      - The rollouts, in the order of the rows. Each is a dictionary with C(title) (the row's name) and
        C(timeline) (a module result's C(timeline) list). A whole registered result can be given as C(result)
        instead of C(timeline); then its C(failed), C(rolled_back) and C(msg) are shown too.
      - "Optionally C(traffic): the requests sent while it ran, as the test app's C(load) generator sums
        them up (C(hack/cluster/go/testapp/README.md)): a dictionary with C(timeline), a list of
        C([seconds, status, version]) points, one per request (C(seconds) since the load's start,
        C(status) C(ok) or C(fail), C(version) the answer's version or an empty string); C(start), the
        ISO 8601 time of the load's start (without it the load is taken to start with the rollout's first
        event); and the totals C(sent), C(ok), C(failed), C(by_version) and C(errors) (a dictionary of
        counts by kind), each counted from C(timeline) when missing. The totals, when given, are the ones
        shown: a downsampled C(timeline) keeps every failure but not every success."
    type: list
    elements: dict
    required: true
  title:
    description: The page's title.
    type: str
    default: openrollout.k8s timeline
seealso:
  - module: openrollout.k8s.rollout
    description: Its RV(openrollout.k8s.rollout#module:timeline) result is what this filter draws.
"""

EXAMPLES = r"""
- name: Write the timelines of two rollouts to an HTML report
  ansible.builtin.copy:
    dest: build/timeline.html
    mode: "0644"
    content: >-
      {{ [{'title': 'web v2', 'result': web_v2}, {'title': 'worker v2', 'result': worker_v2}]
         | openrollout.k8s.timeline_html(title='Release 2.0') }}

- name: With the requests served and failed while web v2 rolled out (a load generator's summary)
  ansible.builtin.copy:
    dest: build/timeline.html
    mode: "0644"
    content: >-
      {{ [{'title': 'web v2', 'result': web_v2,
           'traffic': {'start': '2026-11-23T10:00:00.000+00:00', 'sent': 3, 'ok': 2, 'failed': 1,
                       'timeline': [[0.0, 'ok', 'v1'], [0.5, 'fail', ''], [1.0, 'ok', 'v2']]}}]
         | openrollout.k8s.timeline_html }}
"""

RETURN = r"""
_value:
  description: The HTML page.
  type: str
"""

JSONDict = Dict[str, Any]

# Layout of the chart, in SVG user units (pixels at 100%).
WIDTH = 1100
LABEL_WIDTH = 230
RIGHT_MARGIN = 30
AXIS_HEIGHT = 34
TOP = 16

# Event kinds, their colour and their legend; an event that is none of these is "other".
KINDS: Dict[str, Tuple[str, str]] = {
    "applied": ("#2563eb", "applied, resumed"),
    "progress": ("#0891b2", "progress (canary available, old scaled down, scaled, validated)"),
    "complete": ("#16a34a", "complete"),
    "hook": ("#7c3aed", "hook"),
    "failed": ("#dc2626", "failure"),
    "rollback": ("#ea580c", "rollback"),
    "other": ("#6b7280", "other"),
}
EVENT_KIND = {
    "applied": "applied",
    "resumed": "applied",
    "resumed_by_module": "applied",
    "restarted": "applied",
    "paused": "applied",
    "staged": "applied",
    "canary_available": "progress",
    "old_scaled_down": "progress",
    "scaled": "progress",
    "new_validated": "progress",
    "pods_recreated": "progress",
    "unready_pods_deleted": "progress",
    "progress_deadline_restarted": "progress",
    "complete": "complete",
    "unchanged": "complete",
    "hook_started": "hook",
    "hook_finished": "hook",
    "hook_skipped": "hook",
    "hook_job_deleted": "hook",
    "failed": "failed",
    "rollback_started": "rollback",
    "rolled_back": "rollback",
}
NEW_COLOUR = "#16a34a"
OLD_COLOUR = "#9ca3af"
# The traffic lane: served requests by the version that answered (colours in order of first
# appearance on the page), failed ones in red.
VERSION_COLOURS = ("#60a5fa", "#34d399", "#fbbf24", "#f472b6", "#a78bfa", "#2dd4bf", "#fb923c")
FAILED_COLOUR = "#dc2626"
TRAFFIC_HEIGHT = 48


class TimelineError(ValueError):
    """The input is not a list of rollouts with timelines."""


def parse_time(value: Any) -> datetime.datetime:
    """An event's ISO 8601 time ("2026-11-23T10:00:00.120+00:00", or with Z) as an aware datetime."""
    if not isinstance(value, str):
        raise TimelineError(f"an event's time must be an ISO 8601 string, got {value!r}")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise TimelineError(f"an event's time must be an ISO 8601 string, got {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed


def kind_of(event: str) -> str:
    return EVENT_KIND.get(event, "other")


def nice_step(span: float, ticks: int = 8) -> float:
    """A tick interval of 1, 2 or 5 times a power of ten giving about ``ticks`` ticks over ``span`` seconds.

    nice_step(9.3) -> 1, nice_step(40) -> 5, nice_step(130) -> 20, nice_step(0.4) -> 0.05
    """
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return float(10 * power)  # pragma: no cover


def _rows(rollouts: Any) -> List[JSONDict]:
    """The input checked: [{title, events (parsed, sorted), failed, rolled_back, msg}]."""
    if not isinstance(rollouts, (list, tuple)):
        raise TimelineError(
            f"the input must be a list of rollouts ({{title, timeline}}), got {type(rollouts).__name__}"
        )
    rows = []
    for index, rollout in enumerate(rollouts):
        if not isinstance(rollout, dict):
            raise TimelineError(
                f"rollout {index} must be a dictionary with title and timeline, got {rollout!r}"
            )
        result = rollout.get("result") if isinstance(rollout.get("result"), dict) else {}
        timeline = rollout.get("timeline", result.get("timeline", []))
        if timeline is None:
            timeline = []
        if not isinstance(timeline, (list, tuple)):
            raise TimelineError(f"the timeline of rollout {index} must be a list of events")
        events = []
        for event in timeline:
            if not isinstance(event, dict) or "event" not in event or "time" not in event:
                raise TimelineError(f"each event of rollout {index} needs time and event, got {event!r}")
            events.append({**event, "_at": parse_time(event["time"])})
        events.sort(key=lambda e: e["_at"])
        rows.append(
            {
                "title": str(rollout.get("title") or f"rollout {index + 1}"),
                "events": events,
                "failed": bool(result.get("failed", rollout.get("failed", False))),
                "rolled_back": bool(result.get("rolled_back", rollout.get("rolled_back", False))),
                "msg": str(result.get("msg", rollout.get("msg", "")) or ""),
                "traffic": _traffic(rollout.get("traffic"), index),
            }
        )
    return rows


def _traffic(value: Any, index: int) -> Optional[JSONDict]:
    """A rollout's ``traffic`` checked: {start (datetime or None), points [(seconds, ok, version)],
    the totals}."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("timeline"), (list, tuple)):
        raise TimelineError(
            f"the traffic of rollout {index} must be a dictionary with a timeline of "
            "[seconds, status, version]"
        )
    points = []
    for point in value["timeline"]:
        if (
            not isinstance(point, (list, tuple))
            or len(point) < 2
            or isinstance(point[0], bool)
            or not isinstance(point[0], (int, float))
            or point[1] not in ("ok", "fail")
        ):
            raise TimelineError(
                f"each traffic point of rollout {index} must be [seconds, 'ok' or 'fail', version], "
                f"got {point!r}"
            )
        points.append((float(point[0]), point[1] == "ok", str(point[2] if len(point) > 2 else "") or ""))
    points.sort(key=lambda p: p[0])
    by_version: Dict[str, int] = {}
    for _second, _outcome, version in points:
        if version:
            by_version[version] = by_version.get(version, 0) + 1
    served = sum(1 for p in points if p[1])

    def total(key: str, counted: Any) -> Any:
        given = value.get(key)
        return given if isinstance(given, type(counted)) and not isinstance(given, bool) else counted

    return {
        "start": parse_time(value["start"]) if value.get("start") is not None else None,
        "points": points,
        "sent": total("sent", len(points)),
        "ok": total("ok", served),
        "failed": total("failed", len(points) - served),
        "by_version": total("by_version", by_version),
        "errors": total("errors", {}),
        "elapsed": max([float(value.get("elapsed_s") or 0)] + [p[0] for p in points]),
    }


def _details(event: JSONDict) -> str:
    extra = {k: v for k, v in event.items() if k not in ("time", "event", "_at")}
    return json.dumps(extra, sort_keys=True, default=str) if extra else ""


def _hook_bands(events: Sequence[JSONDict]) -> List[Tuple[JSONDict, Optional[JSONDict]]]:
    """Each hook_started with its hook_finished (same job and attempt), or None if it never finished."""
    bands = []
    for index, event in enumerate(events):
        if event["event"] != "hook_started":
            continue
        end = next(
            (
                later
                for later in events[index + 1 :]
                if later["event"] == "hook_finished"
                and later.get("job") == event.get("job")
                and later.get("attempt", event.get("attempt")) == event.get("attempt")
            ),
            None,
        )
        bands.append((event, end))
    return bands


def _available(event: JSONDict, side: str) -> Optional[int]:
    counts = event.get(side)
    if isinstance(counts, dict) and isinstance(counts.get("available"), int):
        return int(counts["available"])
    return None


class _Axis:
    """A time axis from ``before`` seconds ahead of ``start`` to ``span`` seconds after it, drawn
    between x = ``left`` and ``right``; its ticks count from ``start`` (negative ahead of it)."""

    def __init__(
        self, start: datetime.datetime, span: float, left: float, right: float, before: float = 0.0
    ) -> None:
        self.start = start
        self.before = max(before, 0.0)
        self.span = max(span + self.before, 1.0)
        self.left = left
        self.scale = (right - left) / self.span

    def x(self, at: datetime.datetime) -> float:
        return self.xs((at - self.start).total_seconds())

    def xs(self, seconds: float) -> float:
        """The x of ``seconds`` from the start."""
        return round(self.left + (seconds + self.before) * self.scale, 1)

    def ticks(self, top: float, bottom: float) -> List[str]:
        """Grid lines and "+N s" labels above ``top``, about 8 of them ("-N s" ahead of the start)."""
        step = nice_step(self.span)
        parts = []
        count = -math.floor(self.before / step + 1e-9)
        while count * step <= self.span - self.before + 1e-9:
            tick = count * step
            tx = self.xs(tick)
            label = f"{abs(tick):g}" if step < 1 else f"{abs(round(tick)):d}"
            parts.append(
                f'<line class="grid" x1="{tx}" y1="{top}" x2="{tx}" y2="{bottom}"/>'
                f'<text class="tick" x="{tx}" y="{top - 6}" text-anchor="middle">'
                f"{'-' if tick < -1e-9 else '+'}{label} s</text>"
            )
            count += 1
        return parts


def _span(events: Sequence[JSONDict]) -> Tuple[datetime.datetime, float]:
    if not events:
        return datetime.datetime.fromtimestamp(0, tz=datetime.timezone.utc), 1.0
    return events[0]["_at"], (events[-1]["_at"] - events[0]["_at"]).total_seconds()


def _status(row: JSONDict) -> str:
    return "failed" if row["failed"] else ("rolled back" if row["rolled_back"] else "ok")


def _marker(axis: _Axis, event: JSONDict, y: float) -> str:
    detail = _details(event)
    colour = KINDS[kind_of(event["event"])][0]
    return (
        f'<circle cx="{axis.x(event["_at"])}" cy="{y}" r="5" fill="{colour}"><title>'
        f"{html.escape(event['event'])} at {html.escape(str(event['time']))}"
        f"{html.escape(' ' + detail) if detail else ''}</title></circle>"
    )


def _overview(rows: Sequence[JSONDict], title: str) -> str:
    """Every rollout on one time axis (seconds from the first event of all): when each ran."""
    stamps = sorted(e["_at"] for row in rows for e in row["events"])
    start = stamps[0] if stamps else datetime.datetime.fromtimestamp(0, tz=datetime.timezone.utc)
    axis = _Axis(
        start, (stamps[-1] - start).total_seconds() if stamps else 1.0, LABEL_WIDTH, WIDTH - RIGHT_MARGIN
    )
    row_height = 30
    top = TOP + AXIS_HEIGHT
    height = top + row_height * max(len(rows), 1) + 6
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" role="img" aria-label="{html.escape(title)}: overview">',
        *axis.ticks(top - 8, height - 4),
    ]
    for number, row in enumerate(rows):
        mid = top + number * row_height + row_height / 2
        events, status = row["events"], _status(row)
        parts.append(
            f'<g class="row" data-status="{status}"><text class="title" x="8" y="{mid + 4}">'
            f'<a href="#rollout-{number + 1}">{html.escape(row["title"])}</a></text>'
        )
        if events:
            x0, x1 = axis.x(events[0]["_at"]), axis.x(events[-1]["_at"])
            parts.append(
                f'<rect class="bar {status.replace(" ", "-")}" x="{x0}" y="{mid - 8}" '
                f'width="{max(x1 - x0, 4):.1f}" height="16" rx="3"><title>{html.escape(row["title"])}: '
                f"{html.escape(str(events[0]['time']))} to "
                f"{html.escape(str(events[-1]['time']))}</title></rect>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def version_colours(rows: Sequence[JSONDict]) -> Dict[str, str]:
    """A colour for each version that answered, in order of first appearance on the page."""
    colours: Dict[str, str] = {}
    for row in rows:
        for _second, _outcome, version in (row["traffic"] or {}).get("points", []):
            if version and version not in colours:
                colours[version] = VERSION_COLOURS[len(colours) % len(VERSION_COLOURS)]
    return colours


def traffic_buckets(points: Sequence[Tuple[float, bool, str]]) -> List[Tuple[Dict[str, int], int]]:
    """The requests of each second from the load's start: ({version: served}, failed), one per second.

    traffic_buckets([(0.1, True, "v1"), (0.6, False, ""), (2.2, True, "v2")])
      -> [({"v1": 1}, 1), ({}, 0), ({"v2": 1}, 0)]
    """
    if not points:
        return []
    buckets: List[Tuple[Dict[str, int], List[int]]] = [
        ({}, [0]) for _second in range(int(max(p[0] for p in points)) + 1)
    ]
    for seconds, ok, version in points:
        served, failed = buckets[max(int(seconds), 0)]
        if ok:
            served[version] = served.get(version, 0) + 1
        else:
            failed[0] += 1
    return [(served, failed[0]) for served, failed in buckets]


def _traffic_lane(
    axis: _Axis, traffic: JSONDict, offset: float, top: float, colours: Dict[str, str]
) -> List[str]:
    """Requests per second as bars, served stacked by version with the failed ones on top in red.

    ``offset``: the seconds from the rollout's start (the axis' zero) to the load's start.
    """
    buckets = traffic_buckets(traffic["points"])
    most = max([sum(served.values()) + failed for served, failed in buckets] + [1])
    bottom = top + TRAFFIC_HEIGHT
    parts = [
        f'<text class="axis" x="52" y="{top + 4}" text-anchor="end">{most}</text>'
        f'<text class="axis" x="52" y="{bottom}" text-anchor="end">0</text>'
        f'<text class="axis" x="8" y="{top + TRAFFIC_HEIGHT / 2 - 2}">req/s</text>'
        f'<line class="baseline thin" x1="{axis.left}" y1="{bottom}" x2="{WIDTH - 150}" y2="{bottom}"/>'
    ]
    for second, (served, failed) in enumerate(buckets):
        x0, x1 = axis.xs(offset + second), axis.xs(offset + second + 1)
        width = max(round(x1 - x0 - 1, 1), 1.0)
        y = bottom
        stack = [(v, n, colours.get(v, OLD_COLOUR)) for v, n in sorted(served.items()) if n]
        if failed:
            stack.append(("failed", failed, FAILED_COLOUR))
        for name, count, colour in stack:
            height = max(round(TRAFFIC_HEIGHT * count / most, 1), 2.0)
            y = round(y - height, 1)
            parts.append(
                f'<rect class="req{" req-failed" if name == "failed" else ""}" x="{x0}" y="{y}" '
                f'width="{width}" height="{height}" fill="{colour}"><title>'
                f"+{second}..{second + 1} s of the load: {count} "
                f"{'failed' if name == 'failed' else 'served by ' + html.escape(name or 'no version')}"
                f"</title></rect>"
            )
    return parts


def _traffic_summary(traffic: JSONDict, colours: Dict[str, str]) -> str:
    """ "412 requests: 400 served, 12 failed (connection_refused 12); answered by v1 200, v2 212"."""
    errors = ", ".join(f"{html.escape(str(k))} {v}" for k, v in sorted(traffic["errors"].items()))
    versions = ", ".join(
        f'<span class="dot" style="background:{colours.get(str(v), OLD_COLOUR)}"></span>'
        f"{html.escape(str(v))} {n}"
        for v, n in sorted(traffic["by_version"].items())
    )
    failed = traffic["failed"]
    return (
        f'<p class="traffic">Requests while it ran: {traffic["sent"]} sent, {traffic["ok"]} served, '
        f'<span class="{"failed" if failed else "none-failed"}">{failed} failed</span>'
        f"{f' ({errors})' if errors else ''}; answered by {versions or 'no version'}.</p>"
    )


def _detail(number: int, row: JSONDict, colours: Optional[Dict[str, str]] = None) -> str:
    """One rollout on its own time axis: requests, available pods, hook bands, markers labelled with
    their event."""
    events = row["events"]
    start, span = _span(events)
    traffic, colours = row.get("traffic"), colours or {}
    before, offset = 0.0, 0.0
    if traffic is not None:
        if traffic["start"] is None:
            traffic = {**traffic, "start": start if events else None}
        if not events and traffic["start"] is not None:
            start, span = traffic["start"], 0.0
        if traffic["start"] is not None:
            offset = (traffic["start"] - start).total_seconds()
        end = offset + max(traffic["elapsed"], float(len(traffic_buckets(traffic["points"]))))
        before, span = max(-offset, 0.0), max(span, end)
    axis = _Axis(start, span, 60, WIDTH - 150, before=before)
    traffic_top = TOP + AXIS_HEIGHT + 10
    pods_top, pods_height = traffic_top + (TRAFFIC_HEIGHT + 20 if traffic is not None else 0), 70
    hooks_y = pods_top + pods_height + 14
    markers_y = hooks_y + 22
    height = markers_y + 20 + 14 * 3 + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" role="img" aria-label="{html.escape(row["title"])}">',
        *axis.ticks(TOP + AXIS_HEIGHT - 8, height - 4),
    ]
    if traffic is not None:
        parts.extend(_traffic_lane(axis, traffic, offset, traffic_top, colours))
    # available pods of the new and the old revisions, as step lines
    counted = [e for e in events if e["event"] == "replicas"]
    most = max([_available(e, side) or 0 for e in counted for side in ("new", "old")] + [1])
    if counted:
        parts.append(
            f'<text class="axis" x="52" y="{pods_top + 4}" text-anchor="end">{most}</text>'
            f'<text class="axis" x="52" y="{pods_top + pods_height}" text-anchor="end">0</text>'
            f'<text class="axis" x="8" y="{pods_top + pods_height / 2 + 4}">pods</text>'
        )
    for side, colour in (("new", NEW_COLOUR), ("old", OLD_COLOUR)):
        points: List[str] = []
        last_y: Optional[float] = None
        for event in counted:
            value = _available(event, side)
            if value is None:
                continue
            px, py = axis.x(event["_at"]), round(pods_top + pods_height - pods_height * value / most, 1)
            if last_y is not None:
                points.append(f"{px},{last_y}")
            points.append(f"{px},{py}")
            last_y = py
        if points:
            points.append(f"{axis.x(events[-1]['_at'])},{last_y}")
            label = "new revision" if side == "new" else "old revisions"
            parts.append(
                f'<polyline class="pods" stroke="{colour}" points="{" ".join(points)}"><title>{label}: '
                f"available pods</title></polyline>"
            )
    for started, finished in _hook_bands(events):
        hx0 = axis.x(started["_at"])
        hx1 = axis.x(finished["_at"]) if finished else axis.x(events[-1]["_at"])
        ok = finished is not None and finished.get("succeeded") is not False
        phase, job = html.escape(str(started.get("phase"))), html.escape(str(started.get("job")))
        parts.append(
            f'<rect class="hook{"" if ok else " hook-failed"}" x="{hx0}" y="{hooks_y - 6}" '
            f'width="{max(hx1 - hx0, 3):.1f}" height="12" rx="3">'
            f"<title>hook {phase} ({job}): {'succeeded' if ok else 'failed'}</title></rect>"
            f'<text class="hooklabel" x="{hx0 + 4}" y="{hooks_y - 9}">hook {phase}</text>'
        )
    parts.append(
        f'<line class="baseline" x1="{axis.left}" y1="{markers_y}" x2="{WIDTH - 150}" y2="{markers_y}"/>'
    )
    lanes: List[float] = [-1e9, -1e9, -1e9]  # the right end of the last label in each of 3 label rows
    for event in events:
        if event["event"] == "replicas":
            continue
        ex = axis.x(event["_at"])
        parts.append(_marker(axis, event, markers_y))
        name = event["event"] + (f" {event['phase']}" if event.get("phase") else "")
        lane = next((i for i, right in enumerate(lanes) if right < ex - 2), lanes.index(min(lanes)))
        lanes[lane] = ex + 6.5 * len(name)
        parts.append(
            f'<text class="label" x="{ex}" y="{markers_y + 20 + 14 * lane}">{html.escape(name)}</text>'
        )
    if not events:
        parts.append(
            f'<text class="axis" x="{axis.left}" y="{markers_y + 4}">no event: nothing changed</text>'
        )
    parts.append("</svg>")
    status = _status(row)
    first = html.escape(str(events[0]["time"])) if events else "-"
    message = f'<p class="msg">{html.escape(row["msg"])}</p>' if row["msg"] else ""
    lines = "".join(
        f"<tr><td>+{(e['_at'] - start).total_seconds():.3f} s</td><td>{html.escape(str(e['time']))}</td>"
        f'<td><span class="dot" style="background:{KINDS[kind_of(e["event"])][0]}"></span>'
        f"{html.escape(e['event'])}</td><td><code>{html.escape(_details(e))}</code></td></tr>"
        for e in events
    )
    return (
        f'<section id="rollout-{number + 1}"><h2>{number + 1}. {html.escape(row["title"])} '
        f'<span class="status {status.replace(" ", "-")}">{status}</span></h2>'
        f"<p>{len(events)} events over {_span(events)[1] if events else 0.0:.1f} s, from {first}.</p>"
        f"{message}"
        f"{_traffic_summary(traffic, colours) if traffic is not None else ''}"
        f'<div class="chart">{"".join(parts)}</div>'
        f"<details><summary>Events</summary><table><tr><th>since start</th><th>time</th><th>event</th>"
        f"<th>details</th></tr>{lines}</table></details></section>"
    )


def render(rollouts: Any, title: str = "openrollout.k8s timeline") -> str:
    """The HTML page (inline CSS and SVG) for ``rollouts``: [{title, timeline | result}, ...].

    First an overview, every rollout on one time axis; then each rollout on its own axis.
    """
    rows = _rows(rollouts)
    colours = version_colours(rows)
    legend = "".join(
        f'<span class="key"><span class="dot" style="background:{colour}"></span>{html.escape(text)}</span>'
        for colour, text in KINDS.values()
    )
    legend += "".join(
        f'<span class="key"><span class="line" style="background:{colour}"></span>{text}</span>'
        for colour, text in (
            (NEW_COLOUR, "new revision, available pods"),
            (OLD_COLOUR, "old revisions, available pods"),
            ("#a78bfa", "hook run"),
        )
    )
    if any(row["traffic"] is not None for row in rows):
        legend += "".join(
            f'<span class="key"><span class="box" style="background:{colour}"></span>'
            f"{html.escape(text)}</span>"
            for colour, text in [(c, f"requests served by {v}") for v, c in colours.items()]
            + [(FAILED_COLOUR, "failed requests")]
        )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{len(rows)} rollouts. The overview puts them on one time axis; below, each one has its own. "
        "Hover a marker for its details.</p>"
        f'<div class="legend">{legend}</div>'
        f'<div class="chart">{_overview(rows, title)}</div>'
        f"{''.join(_detail(number, row, colours) for number, row in enumerate(rows))}"
        "</body></html>\n"
    )


CSS = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#111827}"
    "h1{font-size:20px}h2{font-size:16px;margin-top:24px}"
    ".legend{display:flex;flex-wrap:wrap;gap:14px;margin:8px 0 12px}"
    ".key{display:inline-flex;align-items:center;gap:6px}"
    ".dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:4px}"
    ".line{display:inline-block;width:18px;height:3px}"
    ".box{display:inline-block;width:10px;height:10px}"
    ".chart{overflow-x:auto}"
    "svg .grid{stroke:#e5e7eb;stroke-width:1}svg .tick{font-size:11px;fill:#6b7280}"
    "svg .title{font-size:13px;font-weight:600;fill:#111827}"
    "svg .bar{fill:#bfdbfe;stroke:#3b82f6}svg .bar.failed{fill:#fecaca;stroke:#dc2626}"
    "svg .bar.rolled-back{fill:#fed7aa;stroke:#ea580c}svg a{fill:#111827}"
    "svg .hook{fill:#a78bfa}svg .hook-failed{fill:#dc2626}svg .hooklabel{font-size:11px;fill:#6d28d9}"
    "svg .pods{fill:none;stroke-width:2.5}svg .axis{font-size:11px;fill:#6b7280}"
    "svg .baseline{stroke:#d1d5db;stroke-width:2}svg .baseline.thin{stroke-width:1}"
    "svg .label{font-size:11px;fill:#374151}"
    ".status{font-size:12px;font-weight:600;color:#16a34a}.status.failed{color:#dc2626}"
    ".status.rolled-back{color:#ea580c}section{margin-top:28px}"
    "table{border-collapse:collapse;margin:6px 0 12px}td,th{border-bottom:1px solid #e5e7eb;padding:2px 10px;"
    "text-align:left;vertical-align:top}code{font-size:12px}.msg{color:#dc2626}"
    "details{margin:4px 0}summary{cursor:pointer;font-weight:600}"
    ".traffic .failed{color:#dc2626;font-weight:600}.traffic .none-failed{color:#16a34a;font-weight:600}"
)


def timeline_html(rollouts: Any, title: str = "openrollout.k8s timeline") -> str:
    try:
        return render(rollouts, str(title))
    except TimelineError as exc:
        raise AnsibleFilterError(f"openrollout.k8s.timeline_html: {exc}") from None


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"timeline_html": timeline_html}
