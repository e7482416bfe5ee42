"""Ansible callback for the benchmarks: when each task started and when each host's result came back.

Enabled by bench/_tools.py only (ANSIBLE_CALLBACKS_ENABLED=bench_timing). It writes one JSON file,
named by the BENCH_TIMING_FILE variable, when the playbook ends: per task its start time, and per
host result its arrival time (wall clock, the same clock as the benchmark's watch), status and the
result itself (for our module's timeline).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_timing
type: aggregate
short_description: Timestamps of task starts and results, for bench/
description:
  - Writes task start times and result arrival times to the file named by BENCH_TIMING_FILE.
requirements:
  - enabled in configuration
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started = time.time()
        self.tasks: list[dict[str, Any]] = []
        self.results: list[dict[str, Any]] = []

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self.tasks.append({"name": task.get_name(), "start": time.time()})

    def _result(self, result: Any, status: str) -> None:
        raw = dict(result._result)
        self.results.append(
            {
                "time": time.time(),
                "task": result._task.get_name(),
                "host": result._host.get_name(),
                "status": status,
                "result": raw,
            }
        )

    def v2_runner_on_ok(self, result: Any) -> None:
        self._result(result, "ok")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._result(result, "failed")

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._result(result, "unreachable")

    def v2_playbook_on_stats(self, stats: Any) -> None:
        path = os.environ.get("BENCH_TIMING_FILE")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(
                    {
                        "started": self.started,
                        "ended": time.time(),
                        "tasks": self.tasks,
                        "results": self.results,
                    },
                    handle,
                    default=str,
                )
