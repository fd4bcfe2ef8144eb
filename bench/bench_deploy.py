"""Deploy benchmark of the local default: `make bench-deploy`.

Measures, in one run, against a fresh emulator state (restarted, then reset):

1. instant mode (the emulator as `make up` starts it): a cold `site.yml` (wall
   time), a no-op `site.yml` right after (wall time; must report changed=0 in
   the recap) and the ratio no-op / cold, where the no-op's time goes (module
   tasks, distinct modules, other tasks), and the same no-op with the plain
   `local` connection instead of the inventory's `warm_local`, for
   reference; then `teardown.yml` (wall time);
2. slow mode (the emulator restarted with SMARTSTREAM_EMULATOR_SLOW=60, fresh
   state: RDS, DMS, Firehose, Kinesis, NAT and Lambda's VPC ENIs take AWS's
   times / 60, see emulator/slow.py): a cold `site.yml` and then
   `teardown.yml`, each with its wall time, its longest dependency chain and
   the ratio wall / chain (the goal: <= 1.15).

What a run could take at best: every task is timed (a small callback plugin
this script writes to bench/.work/: a task lasts from its start to the next
task's start) and charged to its *layer*, the outermost role it runs in.
Ansible runs one task at a time, so a run takes at least the work itself, W:
the same playbook's wall time in instant mode. And at least the longest
dependency chain, C: fixed costs (start-up, preflight, outputs, the
smartstream role) plus the heaviest path through a resource-level graph
(CREATE_GRAPH / TEARDOWN_GRAPH below) where each layer weighs its instant-mode
time and each slow resource (RDS, the DMS instance, Firehose, Kinesis, NAT,
Lambda's ENIs) AWS's time / scale, after the layer that starts it. The goal
is wall <= 1.15 x max(W, C): every wait overlapped with other work or other
waits. A playbook that sits out each wait in turn pays their sum on top of W.

Results: bench/.work/results-deploy.json (build output, not committed), the
playbook logs and per-task timings beside it. Needs the local default's
settings (SMARTSTREAM_RUN_DIR, SMARTSTREAM_MOTO_PORT, SMARTSTREAM_PG_PORT) and
restarts that emulator twice. BENCH_SLOW_SCALE (default 60) sets slow mode's scale.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.slow import AWS_SECONDS  # noqa: E402 - the same times the emulator uses

WORK = ROOT / "bench" / ".work"
RESULTS = WORK / "results-deploy.json"
INVENTORY = os.environ.get("INVENTORY", "inventories/local")
SLOW_SCALE = os.environ.get("BENCH_SLOW_SCALE", "60")
ANSIBLE_PLAYBOOK = str(ROOT / ".venv" / "bin" / "ansible-playbook")
GOAL = 1.15
NOOP_GOAL_S, NOOP_GOAL_RATIO = 15.0, 0.3
# The reference no-op: every module a new Python process (ansible.builtin.local)
PLAIN_LOCAL = ["-e", "ansible_connection=local"]
# Actions that run on the controller alone (no module process)
CONTROLLER_ACTIONS = {
    "set_fact", "assert", "debug", "include_tasks", "import_tasks", "include_role", "import_role", "meta",
    "include_vars", "fail", "validate_argument_spec", "pause", "add_host", "group_by",
}  # fmt: skip

LAYERS = (
    "network",
    "secrets",
    "storage",
    "database",
    "streaming",
    "ingestion",
    "processing",
    "catalog",
    "analytics",
    "monitoring",
)
FIXED_LAYERS = {None, "smartstream"}

CALLBACK = '''
"""bench_timings: one JSON line per task (name, layer = outermost role, start, end) to $BENCH_TIMINGS_FILE."""
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase


def _layer(task):
    outer, node, depth = None, task, 0
    while node is not None and depth < 100:
        for role in (getattr(node, "_role", None), getattr(node, "_parent_role", None)):
            if role is not None:
                outer = role.get_name().split(".")[-1]
        node, depth = getattr(node, "_parent", None), depth + 1
    return outer


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timings"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._current, self._out = None, open(os.environ["BENCH_TIMINGS_FILE"], "w")

    def _close(self):
        if self._current is not None:
            self._current["end"] = time.time()
            self._out.write(json.dumps(self._current) + "\\n")
            self._out.flush()
            self._current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        self._current = {"name": task.get_name(), "layer": _layer(task), "action": task.action, "start": time.time()}

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start

    def v2_playbook_on_stats(self, stats):
        self._close()
        self._out.close()
'''


def localenv(action: str, slow_scale: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SMARTSTREAM_EMULATOR_SLOW"}
    if slow_scale:
        env["SMARTSTREAM_EMULATOR_SLOW"] = slow_scale
    subprocess.run([str(ROOT / "scripts" / "localenv.sh"), action], env=env, check=True, stdout=subprocess.DEVNULL)


def fresh_emulator(slow_scale: str | None) -> None:
    """Restart the emulator (with or without slow mode) and wipe its state."""
    print(f"-- emulator: restart, slow mode {'x' + slow_scale if slow_scale else 'off'}, reset", flush=True)
    localenv("down", slow_scale)
    localenv("up", slow_scale)
    localenv("reset", slow_scale)


def configured_callbacks() -> list[str]:
    """The callbacks the repository's ansible.cfg enables (callbacks_enabled), as a user's run has them."""
    import configparser

    config = configparser.ConfigParser(inline_comment_prefixes=("#", ";"))
    config.read(os.environ.get("ANSIBLE_CONFIG", ROOT / "ansible.cfg"))
    listed = config.get("defaults", "callbacks_enabled", fallback="")
    return [name.strip() for name in listed.split(",") if name.strip()]


def run_playbook(playbook: str, label: str, args: list[str] | None = None) -> dict[str, Any]:
    """Run a playbook; its wall time, recap and per-task timings (it must not fail)."""
    log, timings = WORK / f"{label}.log", WORK / f"{label}.tasks.jsonl"
    env = {
        **os.environ,
        "ANSIBLE_CALLBACK_PLUGINS": str(WORK / "callback_plugins"),
        # The env var replaces ansible.cfg's list: keep what the repository enables (warm_controller).
        "ANSIBLE_CALLBACKS_ENABLED": ",".join([*configured_callbacks(), "bench_timings"]),
        "BENCH_TIMINGS_FILE": str(timings),
    }
    print(f"-- {label}: ansible-playbook {playbook} -i {INVENTORY} (log {log.relative_to(ROOT)})", flush=True)
    start = time.time()
    with log.open("w") as out:
        proc = subprocess.run(
            [ANSIBLE_PLAYBOOK, playbook, "-i", INVENTORY, *(args or [])],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wall = time.time() - start
    recap = parse_recap(log.read_text())
    if proc.returncode != 0 or recap.get("failed", 0) or recap.get("unreachable", 0):
        sys.exit(f"{label}: {playbook} failed (rc {proc.returncode}, recap {recap}); see {log}")
    tasks = [json.loads(line) for line in timings.read_text().splitlines() if line.strip()]
    print(f"   {wall:.1f} s, {len(tasks)} tasks, recap {recap}", flush=True)
    return {"playbook": playbook, "wall_s": round(wall, 2), "recap": recap, "tasks": tasks}


def parse_recap(text: str) -> dict[str, int]:
    """The PLAY RECAP counters, summed over hosts."""
    totals: dict[str, int] = {}
    recap = text.split("PLAY RECAP", 1)[-1] if "PLAY RECAP" in text else ""
    for key, value in re.findall(r"\b(ok|changed|unreachable|failed|skipped|rescued|ignored)=(\d+)", recap):
        totals[key] = totals.get(key, 0) + int(value)
    return totals


def layer_times(tasks: list[dict[str, Any]]) -> dict[str | None, float]:
    times: dict[str | None, float] = {}
    for task in tasks:
        layer = task["layer"] if task["layer"] in LAYERS or task["layer"] == "smartstream" else None
        times[layer] = times.get(layer, 0.0) + task["end"] - task["start"]
    return times


def longest_path(weights: dict[str, float], deps: dict[str, list[str]]) -> tuple[float, list[str]]:
    """The heaviest path through the DAG ``deps`` (layer -> layers before it): (weight, layers in order)."""
    best: dict[str, tuple[float, list[str]]] = {}

    def visit(layer: str) -> tuple[float, list[str]]:
        if layer not in best:
            before = max((visit(d) for d in deps[layer]), default=(0.0, []), key=lambda found: found[0])
            best[layer] = (before[0] + weights.get(layer, 0.0), [*before[1], layer])
        return best[layer]

    return max((visit(layer) for layer in deps), key=lambda found: found[0])


# The resource-level graph of a cold converge: each layer weighs its instant-mode time; the slow resources
# are nodes of their own weighing AWS's time / scale (emulator/slow.py), after the layer that starts them.
CREATE_GRAPH: dict[str, tuple[list[str], list[str]]] = {
    # node: (nodes before it, AWS_SECONDS kinds it waits for)
    "network": ([], []),
    "nat": (["network"], ["nat.pending"]),
    "secrets": ([], []),
    "storage": ([], []),
    "database": (["network", "secrets"], []),
    "rds": (["database"], ["rds.creating", "rds.backing-up"]),
    "streaming": (["storage"], ["kinesis.creating"]),
    "firehose": (["streaming"], ["firehose.creating"]),
    "dms_instance": (["network"], ["dms.creating"]),
    "ingestion": (["rds", "firehose", "dms_instance", "secrets"], []),
    "processing": (["nat", "storage"], []),
    "catalog": (["storage"], []),
    "analytics": (["storage", "catalog"], []),
    "monitoring": (["ingestion", "processing"], []),
}
TEARDOWN_GRAPH: dict[str, tuple[list[str], list[str]]] = {
    "monitoring": ([], []),
    "analytics": ([], []),
    "catalog": (["analytics"], []),
    "processing": (["monitoring"], []),
    "lambda_enis": (["processing"], ["lambda_eni.in-use", "lambda_eni.available"]),
    "ingestion": (["monitoring"], []),
    "dms_instance": (["ingestion"], ["dms.deleting"]),
    "streaming": (["ingestion"], ["firehose.deleting"]),
    "database": (["ingestion"], []),
    "rds": (["database"], ["rds.deleting"]),
    "storage": (["streaming", "processing", "catalog", "analytics"], []),
    "secrets": (["ingestion", "database"], []),  # the DMS endpoints that read it went with ingestion
    "nat": (["processing"], ["nat.deleting"]),
    "network": (["rds", "dms_instance", "lambda_enis", "nat"], []),
}


def chain(slow: dict[str, Any], instant: dict[str, Any], graph: dict[str, Any], uses_nat: bool) -> dict[str, Any]:
    """What the slow run could take at best, and its wall time against it.

    Ansible runs one task at a time, so a run can never take less than the
    work itself: W, the same playbook's wall time in instant mode (no AWS
    waits). Nor less than C, the longest dependency chain: ``fixed`` (start-up,
    preflight, outputs, the smartstream role) plus the heaviest path through
    ``graph``, each layer weighing its instant-mode time and each slow
    resource AWS's time / scale. The best possible wall time is max(W, C);
    wall / max(W, C) is 1.0 when every wait overlaps with other work (or with
    other waits), and grows with every wait the playbook sits out in sequence.
    """
    scale = float(SLOW_SCALE)
    times = layer_times(instant["tasks"])
    fixed = (instant["wall_s"] - sum(times.values())) + sum(t for layer, t in times.items() if layer in FIXED_LAYERS)
    weights = {
        node: times.get(node, 0.0) + sum(AWS_SECONDS[k] / scale for k in kinds) for node, (_, kinds) in graph.items()
    }
    if not uses_nat:
        weights["nat"] = 0.0
    path_s, path = longest_path(weights, {node: before for node, (before, _) in graph.items()})
    chain_s = fixed + path_s
    best_s = max(instant["wall_s"], chain_s)
    return {
        "chain_s": round(chain_s, 2),
        "path": [node for node in path if weights.get(node)],
        "fixed_s": round(fixed, 2),
        "work_s": round(instant["wall_s"], 2),
        "best_s": round(best_s, 2),
        "wall_over_chain": round(slow["wall_s"] / best_s, 3),
        "layers_s": {
            str(layer): round(t, 2) for layer, t in sorted(layer_times(slow["tasks"]).items(), key=lambda kv: -kv[1])
        },
        "slowest_tasks": [
            {"task": t["name"], "layer": t["layer"], "s": round(t["end"] - t["start"], 2)}
            for t in sorted(slow["tasks"], key=lambda t: t["start"] - t["end"])[:8]
        ],
    }


def noop_split(tasks: list[dict[str, Any]]) -> str:
    """Where a run's time went: tasks that run a module (and how many distinct ones) and the others."""
    modules = [t for t in tasks if t.get("action", "").rsplit(".", 1)[-1] not in CONTROLLER_ACTIONS]
    others = [t for t in tasks if t not in modules]
    spent = lambda group: sum(t["end"] - t["start"] for t in group)  # noqa: E731
    return (
        f"module tasks {len(modules)} ({len({t['action'] for t in modules})} distinct modules) {spent(modules):.1f} s,"
        f" controller-only tasks {len(others)} {spent(others):.1f} s"
    )


def summary(results: dict[str, Any]) -> str:
    inst, slow = results["instant"], results["slow"]
    lines = [
        "",
        "== bench-deploy (local default, one host)",
        f"instant  cold site.yml      {inst['cold']['wall_s']:7.1f} s",
        f"instant  no-op site.yml     {inst['noop']['wall_s']:7.1f} s   changed={inst['noop']['recap'].get('changed')}"
        f"   no-op / cold = {inst['noop_over_cold']:.2f}",
        f"         (goal <= {NOOP_GOAL_S:.0f} s and <= {NOOP_GOAL_RATIO} x cold) " + noop_split(inst["noop"]["tasks"]),
        f"instant  no-op, plain local {inst['noop_plain']['wall_s']:7.1f} s   changed={inst['noop_plain']['recap'].get('changed')}"
        f"   (ansible_connection=local: a new Python per module, for reference)",
        f"instant  teardown.yml       {inst['teardown']['wall_s']:7.1f} s",
    ]
    for label in ("cold", "teardown"):
        run, found = slow[label], slow[f"{label}_chain"]
        name = "site.yml" if label == "cold" else "teardown.yml"
        verdict = "meets" if found["wall_over_chain"] <= GOAL else "above"
        lines += [
            f"slow x{SLOW_SCALE} {label:<5} {name:<13} {run['wall_s']:7.1f} s   best max(work {found['work_s']:.1f} s,"
            f" chain {found['chain_s']:.1f} s = fixed {found['fixed_s']:.1f} + {' -> '.join(found['path'])})"
            f"   wall / best = {found['wall_over_chain']:.2f} ({verdict} the goal {GOAL})",
            "         layers: " + ", ".join(f"{k} {v:.1f}" for k, v in found["layers_s"].items()),
            "         slowest tasks: " + "; ".join(f"{t['task']} {t['s']:.1f}" for t in found["slowest_tasks"][:5]),
        ]
    return "\n".join(lines)


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "callback_plugins").mkdir(exist_ok=True)
    (WORK / "callback_plugins" / "bench_timings.py").write_text(CALLBACK.lstrip())
    results: dict[str, Any] = {"inventory": INVENTORY, "slow_scale": SLOW_SCALE, "started": time.strftime("%FT%TZ")}

    fresh_emulator(None)
    cold = run_playbook("playbooks/site.yml", "instant-cold")
    noop = run_playbook("playbooks/site.yml", "instant-noop")
    noop_plain = run_playbook("playbooks/site.yml", "instant-noop-plain-local", PLAIN_LOCAL)
    for run in (noop, noop_plain):
        if run["recap"].get("changed", -1) != 0:
            print(f"!! a no-op run changed {run['recap'].get('changed')} task(s): not idempotent", flush=True)
    teardown = run_playbook("playbooks/teardown.yml", "instant-teardown")
    results["instant"] = {
        "cold": cold, "noop": noop, "noop_plain": noop_plain, "teardown": teardown,
        "noop_over_cold": round(noop["wall_s"] / cold["wall_s"], 3),
        "noop_plain_over_cold": round(noop_plain["wall_s"] / cold["wall_s"], 3),
    }  # fmt: skip

    fresh_emulator(SLOW_SCALE)
    try:
        slow_cold = run_playbook("playbooks/site.yml", "slow-cold")
        uses_nat = any(  # outputs of the converge (teardown removes them)
            json.loads(path.read_text()).get("network", {}).get("nat_gateway_ids")
            for path in (ROOT / "outputs").glob("*.json")
        )
        slow_teardown = run_playbook("playbooks/teardown.yml", "slow-teardown")
    finally:
        fresh_emulator(None)  # leave the local default as `make up` starts it
    results["slow"] = {
        "cold": slow_cold, "cold_chain": chain(slow_cold, cold, CREATE_GRAPH, uses_nat),
        "teardown": slow_teardown, "teardown_chain": chain(slow_teardown, teardown, TEARDOWN_GRAPH, uses_nat),
    }  # fmt: skip
    RESULTS.write_text(json.dumps(results, indent=2))
    print(summary(results))
    print(f"\nwritten: {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
