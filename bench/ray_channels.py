"""Report round trip between a Ray actor and the driver, for the channels the Ray
backend could use (why ``scheduler/runtime/backends/ray.py`` uses the first).

Two actors, each with a "trial" thread that reports ``--reports`` times in a row and
waits for each decision (the driver answers "continue"); the time from the report to
its decision, measured in the trial thread (median, p99), and reports/s over both:

* ``actor call``: the trial's report is the return value of an actor call, the
  decision travels with the next call (``step(decision)``); the driver hands each
  result from Ray's callback (``ObjectRef._on_completed``) to one dispatcher thread:
  one actor call per report (the Ray backend's channel);
* ``actor call, ray.wait``: the same calls, the driver looping on ``ray.wait`` over
  the pending calls (100 ms timeout) instead of callbacks;
* ``queue actor``: the trial calls a driver-side hub actor with its report and waits
  on the call; the driver long-polls the hub for reports and answers with a second
  call: two actor calls per report, three processes.

Run: ``python bench/ray_channels.py`` or ``--smoke`` (CI).
"""

from __future__ import annotations

import argparse
import queue
import statistics
import threading
import time

from _common import command_line, load_average, machine_line


def make_classes(ray):
    @ray.remote(num_cpus=1)
    class Trial:
        def __init__(self):
            self.events = queue.SimpleQueue()
            self.decisions = queue.SimpleQueue()

        def run(self, n):
            def body():
                round_trips = []
                for i in range(n):
                    t0 = time.perf_counter()
                    self.events.put(("report", i))
                    self.decisions.get()
                    round_trips.append(time.perf_counter() - t0)
                self.events.put(("end", round_trips))

            threading.Thread(target=body, daemon=True).start()
            return self.events.get()

        def step(self, decision):
            self.decisions.put(decision)
            return self.events.get()

    @ray.remote(num_cpus=0)
    class Hub:
        def __init__(self):
            self.reports = queue.SimpleQueue()
            self.waiting = {}

        def report(self, key, value):
            done = threading.Event()
            self.waiting[key] = [done, None]
            self.reports.put((key, value))
            done.wait()
            return self.waiting.pop(key)[1]

        def poll(self, timeout):
            try:
                items = [self.reports.get(timeout=timeout)]
            except queue.Empty:
                return []
            while True:
                try:
                    items.append(self.reports.get_nowait())
                except queue.Empty:
                    return items

        def decide(self, key, decision):
            entry = self.waiting[key]
            entry[1] = decision
            entry[0].set()

    @ray.remote(num_cpus=1)
    class HubTrial:
        def run(self, hub, key, n):
            round_trips = []
            for i in range(n):
                t0 = time.perf_counter()
                ray.get(hub.report.remote(key, i))
                round_trips.append(time.perf_counter() - t0)
            return round_trips

    return Trial, Hub, HubTrial


def actor_calls(ray, actors, n):
    events: queue.SimpleQueue = queue.SimpleQueue()

    def watch(ref, actor):
        ref._on_completed(lambda value: events.put((actor, value)))

    for actor in actors:
        watch(actor.run.remote(n), actor)
    out, live = [], len(actors)
    while live:
        actor, event = events.get(timeout=60)
        if event[0] == "report":
            watch(actor.step.remote("continue"), actor)
        else:
            out.extend(event[1])
            live -= 1
    return out


def actor_calls_wait(ray, actors, n):
    pending = {actor.run.remote(n): actor for actor in actors}
    out = []
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.1)
        for ref in ready:
            actor = pending.pop(ref)
            event = ray.get(ref)
            if event[0] == "report":
                pending[actor.step.remote("continue")] = actor
            else:
                out.extend(event[1])
    return out


def queue_actor(ray, hub_classes, n):
    Hub, HubTrial = hub_classes
    hub = Hub.options(max_concurrency=8).remote()
    trials = [HubTrial.remote() for _ in range(2)]
    refs = [t.run.remote(hub, key, n) for key, t in enumerate(trials)]
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            for key, _ in ray.get(hub.poll.remote(0.2)):
                hub.decide.remote(key, "continue")

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    out = [rt for rts in ray.get(refs) for rt in rts]
    stop.set()
    server.join(5)
    for actor in [*trials, hub]:
        ray.kill(actor)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=2000, help="per trial")
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI")
    options = parser.parse_args(argv)
    if options.smoke:
        options.reports = 50
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    print(f"command: {command_line('bench/ray_channels.py')}")
    print(f"machine: {machine_line()}; Ray {ray.__version__}; load {load_average()}")
    Trial, Hub, HubTrial = make_classes(ray)
    n = options.reports
    rows = []
    actors = [Trial.remote() for _ in range(2)]
    ray.get([a.__ray_ready__.remote() for a in actors])
    for name, measure in (
        ("actor call (the backend's)", lambda: actor_calls(ray, actors, n)),
        ("actor call, ray.wait loop", lambda: actor_calls_wait(ray, actors, n)),
    ):
        measure()  # warm-up
        t0 = time.perf_counter()
        round_trips = measure()
        rows.append((name, round_trips, time.perf_counter() - t0))
    for actor in actors:
        ray.kill(actor)
    queue_actor(ray, (Hub, HubTrial), min(n, 100))  # warm-up
    t0 = time.perf_counter()
    round_trips = queue_actor(ray, (Hub, HubTrial), n)
    rows.append(("queue actor (2 calls per report)", round_trips, time.perf_counter() - t0))
    print(f"2 trials x {n} reports")
    print("| channel | round trip p50 | round trip p99 | reports/s |")
    print("|---|--:|--:|--:|")
    for name, round_trips, wall in rows:
        p50 = statistics.median(round_trips) * 1e6
        p99 = statistics.quantiles(round_trips, n=100)[98] * 1e6
        print(f"| {name} | {p50:.0f} us | {p99:.0f} us | {len(round_trips) / wall:.0f} |")
    ray.shutdown()


if __name__ == "__main__":
    main()
