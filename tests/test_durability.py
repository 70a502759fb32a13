"""Durable runs (DESIGN §6, issue 5): kill a run with SIGKILL anywhere, resume, lose nothing.

A child process (``tests/_crash_workload.py``, thread backend) runs a deterministic
workload under FIFO, Hyperband stopping or Hyperband promotion with ``checkpoint=``; the
test kills it with SIGKILL, at random moments or at precise points inside the journal,
the snapshot writer and the results writer, resumes it (several kill/resume cycles per
run) and checks, after every kill and at the end:

1. every report the train_fn was told the decision of (its ack line) is in the resumed
   history exactly once (matched by task id and epoch), with the same reward and
   decision; each (config_id, epoch) has one non-replay row at most;
2. the rung state equals a brute-force replay of the history's non-replay rows through
   fresh kernels, and a scheduler resumed a second time from the same checkpoint has
   the same policy state and history;
3. with one worker (a sequential run, whose report order a kill cannot change), the
   non-replay reports, the decisions, each config's final status and the best config
   equal those of an uninterrupted run with the same seed;
4. ``results.csv`` and ``results.jsonl`` hold exactly the history's rows: nothing lost,
   nothing duplicated.

``SCHEDULER_CRASH_SEEDS=N`` runs N random-kill seeds per scheduler with one worker (default
4) and N // 2 with two.
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import _crash_workload as wl
import pytest

import scheduler as sch
from scheduler import kernels as _kernels
from scheduler.durability.journal import JournalError
from scheduler.results.export import JSONL_NAME as JSONL
from scheduler.results.export import csv_cell, read_jsonl

WORKLOAD = Path(__file__).with_name("_crash_workload.py")
KINDS = ("fifo", "stopping", "promotion")
SEEDS = int(os.environ.get("SCHEDULER_CRASH_SEEDS", "4"))
CHILD_TIMEOUT = 60.0
POOL = 2  # children at a time (the CI box has 2 cores)


# -- running the child --------------------------------------------------------------------


def _spawn(kind, run, seed, *, resume, workers=1, kill_at="", snapshot_every=0, final=False):
    cmd = [
        sys.executable,
        str(WORKLOAD),
        kind,
        "--checkpoint",
        str(run / "ckpt.json"),
        "--out",
        str(run / "out"),
        "--seed",
        str(seed),
        "--workers",
        str(workers),
    ]
    if resume:
        cmd.append("--resume")
    if kill_at:
        cmd += ["--kill-at", kill_at]
    if snapshot_every:
        cmd += ["--snapshot-every", str(snapshot_every)]
    if final:
        cmd += ["--final", str(run / "final.json")]
    # the child imports the same scheduler package as this process
    root = str(Path(sch.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def _kill_after(proc, acks: Path, target: int, jitter: float) -> bool:
    """SIGKILL ``proc`` ``jitter`` seconds after ``acks`` has ``target`` lines; False if
    it exited first."""
    deadline = time.monotonic() + CHILD_TIMEOUT
    while proc.poll() is None:
        if _count_lines(acks) >= target:
            time.sleep(jitter)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=CHILD_TIMEOUT)
            return proc.returncode == -signal.SIGKILL
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the child did not finish in time")
        time.sleep(0.001)
    _, err = proc.communicate(timeout=CHILD_TIMEOUT)
    if proc.returncode != 0:
        raise AssertionError(f"the child exited with {proc.returncode}\n{err.decode()[-3000:]}")
    return False


@dataclass
class Campaign:
    kind: str
    seed: int
    run: Path
    workers: int = 1
    kills: list[str] = field(default_factory=list)  # what each killed cycle was
    copies: list[Path] = field(default_factory=list)  # checkpoint right after each kill
    acks_at_kill: list[int] = field(default_factory=list)
    final: dict | None = None
    log: list[str] = field(default_factory=list)

    @property
    def acks(self) -> list[dict]:
        return _read_acks(self.run)

    def describe(self) -> str:
        return f"{self.kind} seed={self.seed} workers={self.workers} kills={self.kills}"


def _read_acks(run: Path) -> list[dict]:
    path = run / "out" / wl.ACKS
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _copy_checkpoint(run: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    if (run / "ckpt.json").exists():
        shutil.copy2(run / "ckpt.json", dest / "ckpt.json")
    if (run / "ckpt.json.journal").exists():
        shutil.copytree(run / "ckpt.json.journal", dest / "ckpt.json.journal")
    return dest / "ckpt.json"


def _finish(proc, what: str) -> None:
    _out, err = proc.communicate(timeout=CHILD_TIMEOUT)
    if proc.returncode != 0:
        raise AssertionError(
            f"{what}: the child exited with {proc.returncode}\n{err.decode()[-3000:]}"
        )


def run_campaign(
    kind,
    seed,
    run: Path,
    plan,
    *,
    workers=1,
    snapshot_every=0,
    expected_acks=60,
) -> Campaign:
    """Run the workload through ``plan`` (one kill per entry: ``"random"`` or a
    ``--kill-at`` spec), then resume it to its end."""
    run.mkdir(parents=True)
    rng = random.Random(f"{kind}-{seed}-{run.name}")
    c = Campaign(kind, seed, run, workers)
    for i, spec in enumerate(plan):
        random_kill = spec == "random"
        proc = _spawn(
            kind,
            run,
            seed,
            resume=i > 0,
            workers=workers,
            kill_at="" if random_kill else spec,
            snapshot_every=snapshot_every,
        )
        acks = run / "out" / wl.ACKS
        if random_kill:
            before = _count_lines(acks)
            target = before + rng.randint(1, max(1, expected_acks * 2 // (len(plan) + 1)))
            try:
                killed = _kill_after(proc, acks, target, rng.uniform(0.0, 0.004))
            except AssertionError as exc:
                raise AssertionError(f"{c.describe()} cycle {i} (random): {exc}") from None
        else:
            _, err = proc.communicate(timeout=CHILD_TIMEOUT)
            killed = proc.returncode == -signal.SIGKILL
            if not killed and proc.returncode != 0:
                raise AssertionError(
                    f"{c.describe()} cycle {i} ({spec}): exit {proc.returncode}\n"
                    f"{err.decode()[-3000:]}"
                )
        if not killed:
            c.log.append(f"cycle {i} ({spec}) finished before the kill")
            break
        c.kills.append(spec)
        c.acks_at_kill.append(_count_lines(acks))
        c.copies.append(_copy_checkpoint(run, run / f"copy{i}"))
    proc = _spawn(
        kind,
        run,
        seed,
        resume=bool(plan),
        workers=workers,
        snapshot_every=snapshot_every,
        final=True,
    )
    _finish(proc, f"{c.describe()}: final resume")
    c.final = json.loads((run / "final.json").read_text())
    return c


def run_all(jobs):
    """Run ``jobs`` (zero-argument callables) two at a time; return their results, or
    the AssertionError a job raised (a child that failed)."""

    def call(job):
        try:
            return job()
        except AssertionError as exc:
            return exc

    with ThreadPoolExecutor(POOL) as pool:
        return list(pool.map(call, jobs))


# -- resuming a checkpoint in this process ------------------------------------------------


def resume_here(kind, seed, ckpt: Path, workers=1):
    """A scheduler resumed from ``ckpt`` (not run). It journals the interrupted tasks."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return wl.make_scheduler(kind, str(ckpt), seed=seed, workers=workers, resume=True)


def _policy_view(s) -> dict:
    return json.loads(json.dumps(s.policy.state_dict()))


def _tasks_view(tasks) -> list:
    return [
        (t["task_id"], t["config_id"], t["status"], t["resume_from"], t["bracket"]) for t in tasks
    ]


def _history_view(s) -> tuple[list, list]:
    state = json.loads(json.dumps(s.history.state_dict()))
    return state["reports"], _tasks_view(state["tasks"])


# -- the checks ---------------------------------------------------------------------------


def check_acked(rows: list[dict], acks: list[dict], where: str) -> None:
    """(1): every acked report is in ``rows`` exactly once, with its reward and decision;
    each (config_id, epoch) has at most one non-replay row."""
    by_task_epoch = Counter((r["task_id"], r["epoch"]) for r in rows)
    twice = [key for key, n in by_task_epoch.items() if n > 1]
    assert not twice, f"{where}: reports stored twice (task_id, epoch): {twice}"
    counted = Counter((r["config_id"], r["epoch"]) for r in rows if not r["replay"])
    twice = [key for key, n in counted.items() if n > 1]
    assert not twice, f"{where}: non-replay rows twice (config_id, epoch): {twice}"
    index = {(r["task_id"], r["epoch"]): r for r in rows}
    for ack in acks:
        row = index.get((ack["task_id"], ack["epoch"]))
        assert row is not None, f"{where}: acknowledged report missing from the history: {ack}"
        assert row["config_id"] == ack["config_id"], (where, ack, row)
        assert row["accuracy"] == ack["reward"], (where, ack, row)
        expected_replay = ack["resume_from"] is not None and ack["epoch"] <= ack["resume_from"]
        assert row["replay"] is expected_replay, (where, ack, row)
        if ack["decision"] == "returned":
            assert row["decision"] in ("continue", "complete"), (where, ack, row)
        else:
            assert row["decision"] == ack["decision"], (where, ack, row)


def brute_force_systems(kind: str, seed: int, rows: list[dict], tasks: list):
    """(2): the rung systems' states rebuilt from the history alone: fresh kernels fed
    the non-replay rows in report order; promotion flags set from the promotion tasks
    (a task with resume_from that does not restart an interrupted one). Also the state
    of a fresh bracket sampler after one draw per config, which must have given the
    configs' brackets. Returns (systems, sampler), or None for FIFO."""
    if kind == "fifo":
        return None
    levels, quantiles = _kernels.rung_levels(wl.GRACE_PERIOD, wl.REDUCTION_FACTOR, wl.MAX_T, None)
    sampler = _kernels.BracketSampler(levels, wl.MAX_T, wl.BRACKETS, seed)
    systems = []
    for b in range(sampler.num_brackets):
        if b >= len(levels):
            systems.append(None)
        elif kind == "stopping":
            systems.append(_kernels.StoppingRungs(levels[b:], quantiles[b:], "max"))
        else:
            systems.append(_kernels.PromotionRungs(levels[b:], quantiles[b:], wl.MAX_T, "max"))
    bracket = {}
    by_config = defaultdict(list)
    for _, config_id, status, resume_from, b in sorted(tasks):
        bracket[config_id] = b
        by_config[config_id].append((status, resume_from))
    drawn = [sampler.sample() for _ in bracket]
    assert [bracket[c] for c in sorted(bracket)] == drawn, "brackets are not the seeded stream"
    if kind == "promotion":
        for config_id in sorted(bracket):
            if systems[bracket[config_id]] is not None:
                systems[bracket[config_id]].add(config_id)
    for row in rows:
        system = systems[row["bracket"]]
        if row["replay"] or system is None:
            continue
        system.on_report(row["config_id"], row["epoch"], row["accuracy"])  # keyed by config
    states = [None if s is None else s.state_dict() for s in systems]
    if kind == "promotion":
        for config_id, runs in by_config.items():
            for previous, (_, resume_from) in zip([None, *runs], runs):
                if resume_from is None or (previous and previous[0] == "interrupted"):
                    continue  # a new config, or the restart of an interrupted task
                state = states[bracket[config_id]]
                j = state["levels"].index(resume_from)
                rung = state["rungs"][j]
                k = rung["config_ids"].index(config_id)
                assert not rung["promoted"][k], f"config {config_id} promoted twice at {j}"
                rung["promoted"][k] = True
    return states, sampler.state_dict()


def check_rungs(kind, seed, policy: dict, rows, tasks, where: str) -> None:
    expected = brute_force_systems(kind, seed, rows, tasks)
    if expected is None:
        return
    systems, sampler = expected
    assert policy["systems"] == systems, f"{where}: rung state differs from a replay"
    assert policy["sampler"] == sampler, f"{where}: bracket sampler state differs"


def check_resumed_copy(c: Campaign, i: int, ckpt: Path) -> None:
    """(1) and (2) on the checkpoint left by kill ``i``: resume it twice, in this process."""
    where = f"{c.describe()}, after kill {i} ({c.kills[i]})"
    acks = c.acks[: c.acks_at_kill[i]]
    first = resume_here(c.kind, c.seed, ckpt, c.workers)
    rows, tasks = _history_view(first)
    check_acked(rows, acks, where)
    policy = _policy_view(first)
    check_rungs(c.kind, c.seed, policy, rows, tasks, where)
    first.shutdown()  # one driver per checkpoint: release it for the second resume
    second = resume_here(c.kind, c.seed, ckpt, c.workers)
    assert _policy_view(second) == policy, f"{where}: a second resume has another policy state"
    assert _history_view(second) == (rows, tasks), f"{where}: a second resume differs"


def check_results_files(c: Campaign, rows: list[dict], configs: dict) -> None:
    """(4): results.csv and results.jsonl hold the history's rows, once each.

    A history row gets its task's final ``status`` when the task ends, after the files
    got the row: that key is left out of the comparison."""
    where = c.describe()
    out = c.run / "out" / "latest"  # the run's own folder (a resume keeps its id)
    expected = [
        {
            **{k: v for k, v in row.items() if k != "status"},
            **{f"config.{k}": v for k, v in configs[row["task_id"]].items()},
        }
        for row in rows
    ]
    with open(out / "results.csv", newline="") as f:
        table = [{k: v for k, v in r.items() if k != "status"} for r in csv.DictReader(f)]
    keys = Counter((r["config_id"], r["epoch"]) for r in table if r["replay"] == "False")
    assert all(n == 1 for n in keys.values()), f"{where}: results.csv repeats {keys}"
    got = [(r["task_id"], r["epoch"], r["replay"]) for r in table]
    want = [(str(r["task_id"]), str(r["epoch"]), str(r["replay"])) for r in expected]
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    assert got == want, f"{where}: results.csv rows differ; missing {missing}, extra {extra}"
    for have, row in zip(table, expected):
        assert have == {k: csv_cell(row.get(k)) for k in have}, (where, have, row)
    jsonl = [{k: v for k, v in r.items() if k != "status"} for r in read_jsonl(out / JSONL)]
    assert jsonl == expected, f"{where}: results.jsonl differs"


def _final_status(tasks: list) -> dict:
    status = {}
    for _, config_id, state, _, _ in sorted(tasks):
        status[config_id] = state
    return status


def _counted(rows: list[dict]) -> list[tuple]:
    return [
        (r["config_id"], r["epoch"], r["accuracy"], r["decision"]) for r in rows if not r["replay"]
    ]


def check_campaign(c: Campaign, reference: dict | None) -> None:
    """Every check on one campaign; ``reference``: the uninterrupted run's final state."""
    for i, copy in enumerate(c.copies):
        check_resumed_copy(c, i, copy)
    where = c.describe()
    final = c.final
    rows = final["history"]["reports"]
    tasks = _tasks_view(final["history"]["tasks"])
    configs = {t["task_id"]: t["config"] for t in final["history"]["tasks"]}
    check_acked(rows, c.acks, f"{where}, at the end")
    policy = json.loads(json.dumps(final["policy"]))
    check_rungs(c.kind, c.seed, policy, rows, tasks, f"{where}, at the end")
    check_results_files(c, rows, configs)
    assert all(t[2] != "running" for t in tasks), f"{where}: tasks still running at the end"
    # the final checkpoint resumes to the same state
    again = resume_here(c.kind, c.seed, _copy_checkpoint(c.run, c.run / "copy-final"), c.workers)
    assert _history_view(again) == (rows, tasks), f"{where}: the final checkpoint differs"
    assert _policy_view(again) == policy, f"{where}: the final checkpoint's policy differs"
    if reference is not None:
        ref_rows = reference["history"]["reports"]
        ref_tasks = _tasks_view(reference["history"]["tasks"])
        mine, theirs = _counted(rows), _counted(ref_rows)
        if mine != theirs:
            i = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b), None)
            i = min(len(mine), len(theirs)) if i is None else i
            raise AssertionError(
                f"{where}: the counted reports (config_id, epoch, reward, decision) differ "
                f"from an uninterrupted run's from report {i} on: "
                f"{mine[i : i + 3]} instead of {theirs[i : i + 3]}; tasks: {tasks}"
            )
        status, ref_status = _final_status(tasks), _final_status(ref_tasks)
        diff = {k: (v, ref_status.get(k)) for k, v in status.items() if v != ref_status.get(k)}
        assert not diff, (
            f"{where}: final task statuses (resumed, uninterrupted) differ: {diff}; tasks: {tasks}"
        )
        drawn = {t["config_id"]: t["config"] for t in final["history"]["tasks"]}
        ref_configs = {t["config_id"]: t["config"] for t in reference["history"]["tasks"]}
        assert drawn == ref_configs, f"{where}: the searcher drew other configs"
        assert final["best_config"] == reference["best_config"], where
        assert final["best_reward"] == reference["best_reward"], where


# -- the uninterrupted runs ---------------------------------------------------------------


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """Uninterrupted runs per (kind, seed), computed on first use."""
    root = tmp_path_factory.mktemp("reference")
    cache: dict[tuple[str, int], dict] = {}

    def get(pairs):
        todo = sorted({p for p in pairs if p not in cache})
        done = run_all(
            [lambda k=k, s=s: run_campaign(k, s, root / f"{k}-{s}", []) for k, s in todo]
        )
        for (k, s), c in zip(todo, done):
            if isinstance(c, AssertionError):
                raise c
            assert c.final["best_config"] is not None
            cache[k, s] = c.final
        return {p: cache[p] for p in pairs}

    return get


def _num_acks(reference: dict) -> int:
    return len(reference["history"]["reports"])


def _check_all(campaigns, refs, plan=None) -> None:
    """Check every campaign (each against its reference run, if any); report all the
    failures together. ``plan``: every kill of it must have landed."""
    failures = []
    for c in campaigns:
        if isinstance(c, AssertionError):
            failures.append(str(c))
            continue
        try:
            if plan is not None:
                assert c.kills == plan, f"not every kill landed: {c.log}"
            check_campaign(c, refs.get((c.kind, c.seed)) if c.workers == 1 else None)
        except AssertionError as exc:
            failures.append(f"{c.describe()}:\n{exc}")
    assert not failures, "\n\n".join(failures)


# -- the crash tests ----------------------------------------------------------------------


def test_random_sigkills_resume_exactly(references, tmp_path):
    """Many seeds, three random SIGKILLs per run, all three schedulers, one worker.

    Odd seeds snapshot every 3 events, so random kills also land in snapshot writes;
    even seeds use the journal's own (doubling) schedule, so resume replays long tails.
    """
    pairs = [(k, s) for k in KINDS for s in range(SEEDS)]
    refs = references(pairs)
    jobs = [
        lambda k=k, s=s: run_campaign(
            k,
            s,
            tmp_path / f"{k}-{s}",
            ["random"] * 3,
            snapshot_every=3 if s % 2 else 0,
            expected_acks=_num_acks(refs[k, s]),
        )
        for k, s in pairs
    ]
    campaigns = run_all(jobs)
    landed = sum(len(c.kills) for c in campaigns if isinstance(c, Campaign))
    assert landed >= len(campaigns), f"only {landed} kills landed"
    _check_all(campaigns, refs)


def test_sigkills_inside_snapshot_writes(references, tmp_path):
    """Kills inside the snapshot path: after begin_snapshot (new segment, no snapshot),
    with the temporary file written but not renamed, after the rename but before the old
    segments are deleted, inside the final snapshot; and a torn journal line."""
    plan = ["begin:2", "tmp:2", "renamed:2", "append:9", "renamed:1", "final"]
    refs = references([(k, 11) for k in KINDS])
    campaigns = run_all(
        [lambda k=k: run_campaign(k, 11, tmp_path / k, plan, snapshot_every=4) for k in KINDS]
    )
    _check_all(campaigns, refs, plan)


def test_sigkill_after_a_decision_before_the_task_ended(references, tmp_path):
    """The decision (stop, pause, complete) is journaled and heard, the task has not
    ended yet: resume must not run the config on as if it had been interrupted."""
    refs = references([(k, 11) for k in KINDS])
    plan = ["decided:1", "decided:2", "decided:3"]  # FIFO: after a task's last report
    campaigns = run_all([lambda k=k: run_campaign(k, 11, tmp_path / k, plan) for k in KINDS])
    _check_all(campaigns, refs, plan)


def test_sigkill_between_resume_and_the_restarts(references, tmp_path):
    """Killed again right after resuming (in-flight tasks ended as interrupted, their
    restarts not launched): the next resume must still restart those configs."""
    refs = references([(k, 11) for k in KINDS])
    plan = ["ack:5", "resumed", "ack:4", "resumed"]
    campaigns = run_all([lambda k=k: run_campaign(k, 11, tmp_path / k, plan) for k in KINDS])
    _check_all(campaigns, refs)


def test_sigkill_between_the_two_results_files(references, tmp_path):
    """Killed after results.jsonl got a row and before results.csv did."""
    refs = references([(k, 11) for k in KINDS])
    plan = ["csv:5", "csv:3"]
    campaigns = run_all([lambda k=k: run_campaign(k, 11, tmp_path / k, plan) for k in KINDS])
    _check_all(campaigns, refs)


def test_torn_line_then_a_second_crash(references, tmp_path):
    """A torn last line is skipped on resume; a second crash before the next snapshot
    must not turn it into a corrupt middle line."""
    refs = references([(k, 11) for k in KINDS])
    plan = ["append:12", "ack:4", "random"]
    campaigns = run_all([lambda k=k: run_campaign(k, 11, tmp_path / k, plan) for k in KINDS])
    _check_all(campaigns, refs)


@pytest.mark.parametrize("kind", ["stopping", "promotion"])
def test_two_workers_random_sigkills(kind, tmp_path):
    """Two workers: reports interleave, so a kill changes their order; (1), (2) and (4)
    must hold regardless."""
    campaigns = run_all(
        [
            lambda s=s: run_campaign(
                kind,
                s,
                tmp_path / str(s),
                ["random"] * 3,
                workers=2,
                snapshot_every=5 if s % 2 else 0,
                expected_acks=40,
            )
            for s in range(max(2, SEEDS // 2))
        ]
    )
    _check_all(campaigns, {})


# -- a journal that cannot be resumed as is -------------------------------------------------


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """A promotion run killed in its 25th report, before any snapshot: journal only."""
    run = tmp_path_factory.mktemp("killed")
    proc = _spawn("promotion", run, 3, resume=False, kill_at="ack:25")
    proc.communicate(timeout=CHILD_TIMEOUT)
    assert proc.returncode == -signal.SIGKILL
    return run


def _segment(ckpt: Path) -> Path:
    (segment,) = sorted((ckpt.parent / "ckpt.json.journal").iterdir())
    return segment


@pytest.mark.filterwarnings("ignore:resuming")
def test_torn_last_line_is_skipped_with_a_warning(killed_run, tmp_path):
    ckpt = _copy_checkpoint(killed_run, tmp_path / "c")
    whole = resume_here("promotion", 3, _copy_checkpoint(killed_run, tmp_path / "w"))
    segment = _segment(ckpt)
    data = segment.read_bytes()
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[1]
    segment.write_bytes(data[: len(data) - len(last) // 2 - 1])  # cut the last line
    with pytest.warns(RuntimeWarning, match=r"torn last line"):
        s = wl.make_scheduler("promotion", str(ckpt), seed=3, resume=True)
    lost = json.loads(last)
    rows = s.history.rows()
    if lost["type"] == "report":
        assert len(rows) == len(whole.history.rows()) - 1
    assert [r["epoch"] for r in rows] == [r["epoch"] for r in whole.history.rows()][: len(rows)]


def test_corrupt_middle_line_is_an_error_naming_file_and_line(killed_run, tmp_path):
    ckpt = _copy_checkpoint(killed_run, tmp_path / "c")
    segment = _segment(ckpt)
    lines = segment.read_bytes().split(b"\n")
    lines[5] = lines[5][:20] + b"#garbage#" + lines[5][20:]
    segment.write_bytes(b"\n".join(lines))
    with pytest.raises(JournalError, match=rf"{segment.name}.* at line 6"):
        wl.make_scheduler("promotion", str(ckpt), seed=3, resume=True)


def _lines(segment: Path) -> list[bytes]:
    return segment.read_bytes().split(b"\n")


def _damage_line(line: bytes, edit) -> bytes:
    """Re-encode a journal line after ``edit(record)`` (a valid checksum: the damage is
    in the content, so that the type checks have to find it)."""
    from scheduler.durability.journal import encode_line

    record = json.loads(line)
    record.pop("crc")
    edit(record)
    return encode_line(record).rstrip(b"\n")


def _report_index(lines: list[bytes]) -> int:
    return next(i for i, line in enumerate(lines) if b'"type":"report"' in line and i > 3)


@pytest.mark.parametrize(
    "damage, match",
    [
        ("cut", r"is damaged at line \d+"),
        ("gap", r"line \d+: event seq \d+ where \d+ was expected"),
        ("checksum", r"is damaged at line \d+: checksum mismatch"),
        ("bytes", r"is damaged at line \d+"),
        ("epoch_as_text", r"line \d+: field 'result.epoch' must be an integer >= 0"),
        ("decision", r"line \d+: field 'decision' must be one of"),
        ("task_id", r"line \d+: field 'task_id' must be an integer >= 0"),
        ("status", r"line \d+: field 'status' must be one of"),
    ],
)
def test_a_damaged_journal_is_an_error_naming_file_line_and_field(
    killed_run, tmp_path, damage, match
):
    ckpt = _copy_checkpoint(killed_run, tmp_path / "c")
    segment = _segment(ckpt)
    lines = _lines(segment)
    i = _report_index(lines)
    if damage == "cut":  # a segment cut in the middle of a line, then more lines
        lines[i] = lines[i][: len(lines[i]) // 2]
    elif damage == "gap":
        del lines[i]
    elif damage == "checksum":
        lines[i] = lines[i].replace(b'"decision":"', b'"decision": "', 1)
    elif damage == "bytes":
        lines[i] = lines[i][:10] + bytes(range(128, 160)) + lines[i][10:]
    elif damage == "epoch_as_text":
        lines[i] = _damage_line(
            lines[i], lambda r: r["result"].update(epoch=str(r["result"]["epoch"]))
        )
    elif damage == "decision":
        lines[i] = _damage_line(lines[i], lambda r: r.update(decision="maybe"))
    elif damage == "task_id":
        lines[i] = _damage_line(lines[i], lambda r: r.update(task_id=-1))
    elif damage == "status":
        j = next(k for k, line in enumerate(lines) if b'"type":"end"' in line)
        lines[j] = _damage_line(lines[j], lambda r: r.update(status="done"))
    segment.write_bytes(b"\n".join(lines))
    with pytest.raises(JournalError, match=rf"{segment.name}.*{match}"):
        wl.make_scheduler("promotion", str(ckpt), seed=3, resume=True)


@pytest.fixture(scope="module")
def snapshotted_run(tmp_path_factory):
    """A promotion run killed after a snapshot: snapshot plus journal segment."""
    run = tmp_path_factory.mktemp("snapshotted")
    proc = _spawn("promotion", run, 5, resume=False, kill_at="ack:30", snapshot_every=10)
    proc.communicate(timeout=CHILD_TIMEOUT)
    assert proc.returncode == -signal.SIGKILL
    assert (run / "ckpt.json").exists()
    return run


def test_a_deleted_journal_folder_beside_a_snapshot_is_an_error(snapshotted_run, tmp_path):
    ckpt = _copy_checkpoint(snapshotted_run, tmp_path / "c")
    shutil.rmtree(ckpt.parent / "ckpt.json.journal")
    with pytest.raises(JournalError, match=r"journal folder .* is missing but snapshot"):
        wl.make_scheduler("promotion", str(ckpt), seed=5, resume=True)


def test_a_missing_segment_after_the_snapshot_is_an_error(snapshotted_run, tmp_path):
    ckpt = _copy_checkpoint(snapshotted_run, tmp_path / "c")
    for segment in (ckpt.parent / "ckpt.json.journal").iterdir():
        segment.unlink()
    with pytest.raises(JournalError, match=r"journal segment .* is missing: snapshot"):
        wl.make_scheduler("promotion", str(ckpt), seed=5, resume=True)


@pytest.mark.parametrize(
    "damage, match",
    [
        ("bytes", r"snapshot .*ckpt\.json.* is not valid JSON"),
        ("format", r"is not a scheduler checkpoint of format"),
        ("seq", r"snapshot .*: field 'seq' must be int"),
        ("wrong_type", r"snapshot .* cannot be loaded"),
    ],
)
def test_a_damaged_snapshot_is_an_error_naming_the_file(snapshotted_run, tmp_path, damage, match):
    ckpt = _copy_checkpoint(snapshotted_run, tmp_path / "c")
    text = ckpt.read_text()
    if damage == "bytes":
        ckpt.write_bytes(os.urandom(64) + text.encode()[64:])
    else:
        state = json.loads(text)
        if damage == "format":
            state["journal_format"] = 99
        elif damage == "seq":
            state["seq"] = "12"
        else:
            state["runner"]["next_task_id"] = "many"
        ckpt.write_text(json.dumps(state))
    with pytest.raises(JournalError, match=match):
        wl.make_scheduler("promotion", str(ckpt), seed=5, resume=True)


@pytest.mark.filterwarnings("ignore:resuming")
def test_resume_after_a_snapshot_keeps_results_and_history_in_agreement(snapshotted_run, tmp_path):
    shutil.copytree(snapshotted_run, tmp_path / "r", symlinks=True)
    run = tmp_path / "r"
    proc = _spawn("promotion", run, 5, resume=True)
    _out, err = proc.communicate(timeout=CHILD_TIMEOUT)
    assert proc.returncode == 0, err[-2000:]
    s = resume_here("promotion", 5, run / "ckpt.json")
    rows = s.history.rows()
    files = read_jsonl(run / "out" / "latest" / JSONL)
    assert [(r["task_id"], r["epoch"]) for r in files] == [(r["task_id"], r["epoch"]) for r in rows]


@sch.args(x=sch.space.Real(0.0, 2.0), width=sch.space.Int(1, 4), epochs=wl.MAX_T)
def wider_fn(args, reporter):
    wl.train_fn(args, reporter)


@pytest.mark.parametrize(
    "kind, fn, match",
    [
        ("promotion", wider_fn, r"different setup: its space"),
        ("fifo", None, r"different setup: its scheduler is 'HyperbandScheduler'"),
        ("stopping", None, r"different setup: its settings .*'type': 'promotion'"),
    ],
)
def test_resuming_another_setup_is_refused(killed_run, tmp_path, kind, fn, match):
    ckpt = _copy_checkpoint(killed_run, tmp_path / "c")
    before = sorted(p.name for p in ckpt.parent.rglob("*"))
    with pytest.raises(JournalError, match=match):
        wl.make_scheduler(kind, str(ckpt), seed=3, resume=True, fn=fn)
    # nothing written but the (empty) lock file of the refused driver
    after = sorted(p.name for p in ckpt.parent.rglob("*") if p.name != "ckpt.json.lock")
    assert after == before


def test_resume_on_an_empty_path_warns_and_starts_fresh(tmp_path):
    ckpt = tmp_path / "new" / "ckpt.json"
    with pytest.warns(UserWarning, match=r"holds no run yet; starting a new experiment"):
        s = wl.make_scheduler("stopping", str(ckpt), seed=0, trials=3, resume=True)
    s.run()
    assert s.join_jobs(timeout=60)
    assert len(s.history.tasks) == 3 and ckpt.exists()


def test_an_existing_checkpoint_needs_resume(killed_run, tmp_path):
    ckpt = _copy_checkpoint(killed_run, tmp_path / "c")
    with pytest.raises(ValueError, match=r"already holds a run: pass resume=True"):
        wl.make_scheduler("promotion", str(ckpt), seed=3)


def test_save_and_load_state_dict_round_trip(tmp_path):
    s = wl.make_scheduler("promotion", None, seed=5, trials=6)
    s.run()
    assert s.join_jobs(timeout=60)
    path = tmp_path / "state.json"
    s.save(str(path))
    t = wl.make_scheduler("promotion", None, seed=5, trials=6)
    t.load_state_dict(json.loads(path.read_text()))
    assert _policy_view(t) == _policy_view(s)
    assert _history_view(t) == _history_view(s)
    assert t.get_best_config() == s.get_best_config()
    with pytest.raises(ValueError, match=r"saved by 'HyperbandScheduler'"):
        wl.make_scheduler("fifo", None, seed=5).load_state_dict(json.loads(path.read_text()))
