"""`make demo` and the end-to-end scenarios: the seed's story on the local cloud.

  python tests/localcloud/demo.py demo [--cluster-size 6] [--scale-to 8] [--tick 5] [--faults 0]
  python tests/localcloud/demo.py e2e          # the same story plus fault scenarios, asserted
  python tests/localcloud/demo.py faults [--scenarios 1,2,...]   # issue 15's fault scenarios
  python tests/localcloud/demo.py migration [--infra-src DIR] [--with-alb]   # issue 17's switch

Story: N backends clusterize; desired raised to N+2 -> two join; one backend terminated from
outside (its termination protection cleared first, as on AWS) -> the control plane detaches it,
the group launches a replacement, which joins (self-healing); desired lowered to N -> two machines deactivated,
removed and terminated; final status. Prints a compact progress view and a summary with timings,
and stops every process it started.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cloud import LocalCloud, Settings, wait_for  # noqa: E402
from timeline import Timeline  # noqa: E402

T0 = time.time()
# Exit code when the emulator setup (not the story) failed; run.sh retries once on it.
SETUP_FAILED = 75


# Backends per state over time, with the chapters, drawn at the end of `make demo`.
TIMELINE = Timeline()


def say(msg):
    print(f"[{time.time() - T0:6.1f}s] {msg}", flush=True)
    if msg.startswith("== ") and not msg.startswith(("== summary", "== final")):
        TIMELINE.chapter(time.time() - T0, msg[3:])


class Failure(AssertionError):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)
    say(f"  ok: {what}")


class Narration:
    """A run on the local cloud, as a `with` block around it: a failed check (or an exception of
    `also`) is reported after `failed` and makes `code` 1, `diagnose()` run first for a failed
    check; Ctrl-C makes it 130; whatever happens, every process the cloud started is stopped and
    that is said. A `return` inside the block returns as usual; after it, return `code`."""

    def __init__(self, cloud, failed, stopped, diagnose=None, also=()):
        self.cloud, self.failed, self.stopped = cloud, failed, stopped
        self.diagnose, self.also = diagnose, also
        self.code = None

    def __enter__(self):
        return self

    def __exit__(self, kind, error, _traceback):
        try:
            if kind is None:
                pass
            elif issubclass(kind, Failure):
                say(f"{self.failed}: {error}")
                if self.diagnose:
                    self.diagnose()
                self.code = 1
            elif issubclass(kind, self.also):
                say(f"{self.failed}: {error}")
                self.code = 1
            elif issubclass(kind, KeyboardInterrupt):
                say("interrupted")
                self.code = 130
        finally:
            self.cloud.stop()
            say(f"stopped every process {self.stopped} started")
        return self.code is not None


class Story:
    def __init__(self, cloud, args):
        self.c = cloud
        self.a = args
        self.timings = []
        self.last_view = None
        self.healed = None
        # Set when `wekactl-aws watch` prints the live view (make demo): view() then only
        # samples the timeline.
        self.watching = False

    # ---- views --------------------------------------------------------------------------------

    def view(self):
        """One line: ASG, registration/clusterization, WEKA hosts; printed when it changes."""
        g = self.c.group()
        states = {}
        for i in g.get("Instances", []):
            states[i["LifecycleState"]] = states.get(i["LifecycleState"], 0) + 1
        p = self.c.progress()
        summary = p.get("summary") or {}
        cluster = self.c.weka_cluster()
        weka = "no cluster"
        if cluster:
            counts = {}
            for h in (cluster.get("hosts_list") or {}).values():
                if h.get("mode") == "backend" and h.get("container_name") == "drives0":
                    key = f"{h.get('state', '?').lower()}/{h.get('status', '?').lower()}"
                    counts[key] = counts.get(key, 0) + 1
            weka = "machines " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
            weka += f", io {cluster.get('io_status')}"
        machines = {}
        for h in ((cluster or {}).get("hosts_list") or {}).values():
            if h.get("mode") == "backend" and h.get("container_name") == "drives0":
                state = "down" if h.get("status") == "DOWN" else h.get("state", "?").lower()
                machines[state] = machines.get(state, 0) + 1
        TIMELINE.sample(time.time() - T0, states, machines)
        errors = p.get("errors") or {}
        line = (f"asg desired {g['DesiredCapacity']} "
                f"[{', '.join(f'{v} {k}' for k, v in sorted(states.items()))}] | "
                + ("clusterized" if summary.get("clusterized") else
                   f"registered {summary.get('ready_for_clusterization', 0)}/"
                   f"{summary.get('clusterization_target')}")
                + f" | weka: {weka}"
                + (f" | {sum(len(v) for v in errors.values())} error reports" if errors else ""))
        if line != self.last_view and not self.watching:
            say(line)
        self.last_view = line
        return line

    def wait(self, what, cond, timeout):
        deadline = time.time() + timeout
        while True:
            try:
                self.view()
                if cond():
                    return
            except Failure:
                raise
            except Exception as e:  # a transient emulator hiccup must not end the story
                say(f"  (view failed: {type(e).__name__}: {e})")
            if time.time() > deadline:
                self.dump_diagnostics()
                raise Failure(f"timed out after {timeout}s waiting for {what}")
            time.sleep(1.0)

    def dump_diagnostics(self):
        say(f"diagnostics: run dir {self.c.s.run_dir}")
        try:
            p = self.c.progress()
            say("progress errors: " + json.dumps(p.get("errors"))[:2000])
        except Exception as e:
            say(f"progress failed: {e}")

    def timed(self, label, start):
        took = time.time() - start
        self.timings.append((label, took))
        say(f"==> {label}: {took:.1f}s")
        return took

    # ---- chapters -----------------------------------------------------------------------------

    def clusterize(self):
        n = self.a.cluster_size
        say(f"== 1. {n} backends launch, register and clusterize "
            f"(tick every {self.a.tick:g}s plays the one-minute EventBridge rule)")
        start = time.time()
        self.c.clock.start()
        self.wait(f"{n} active backends in WEKA",
                  lambda: len(self.c.active_backends()) >= n
                  and self.c.progress()["summary"].get("clusterized"), self.a.timeout)
        self.timed(f"cluster of {n} formed (first launch to all hosts active)", start)
        return start

    def scale_out(self):
        n, m = self.a.cluster_size, self.a.scale_to
        say(f"== 2. desired capacity raised {n} -> {m}")
        before = self.c.active_backends()
        start = time.time()
        self.c.set_desired(m)
        self.wait(f"{m} active backends", lambda: len(self.c.active_backends()) >= m,
                  self.a.timeout)
        self.timed(f"desired {n}->{m} until the new hosts are active in WEKA", start)
        return self.c.active_backends() - before

    def terminate_from_outside(self, victim):
        """Terminates a backend as a user does on AWS, where backends have termination protection:
        the plain terminate-instances is refused (OperationNotPermitted), so the module's
        `terminate_instance` helper command clears protection first; both run verbatim with AWS
        CLI v2 in a user's shell."""
        plain = f"aws ec2 terminate-instances --instance-ids {victim}"
        rc, _, err = self.c.run_user_command(plain)
        say(f"  $ {plain}")
        if rc == 0 or "OperationNotPermitted" not in err:
            raise Failure(f"terminate-instances on the protected {victim} was not refused: {err}")
        say(f"    refused as on AWS: {err.strip().splitlines()[-1]}")
        command = self.c.helper_command("terminate-instances")
        say(f"  $ INSTANCE_ID={victim}; {command}")
        rc, _, err = self.c.run_user_command(command, INSTANCE_ID=victim)
        if rc != 0:
            raise Failure(f"the terminate_instance helper command failed: {err}")

    def self_heal(self):
        """Chapter 3: one backend terminated from outside. With ReplaceUnhealthy suspended the
        group keeps it (Unhealthy) and launches nothing; the control plane's terminate detaches
        it and the group backfills. Returns the victim; `self.healed` keeps what was seen."""
        say("== 3. one backend is terminated from outside (termination protection cleared, "
            "then ec2 terminate-instances)")
        active = self.c.active_backends()
        victim = sorted(active)[0]
        # Held: the group is observed holding the terminated instance before a run detaches it.
        with self.c.clock.held():
            start = time.time()
            self.terminate_from_outside(victim)
            member = {i["InstanceId"]: (i["LifecycleState"], i["HealthStatus"])
                      for i in self.c.group()["Instances"]}.get(victim)
        say(f"  terminated {victim}; in the group it is now {member} (ReplaceUnhealthy suspended: "
            "not replaced until the control plane detaches it)")
        self.healed = {"victim": victim, "at": start, "member_after": member}
        target = len(active)

        def healed():
            now = self.c.active_backends()
            return victim not in now and len(now) >= target
        self.wait("a replacement active in WEKA", healed, self.a.timeout)
        self.timed("external termination until a replacement is active", start)
        self.healed["replacements"] = self.c.active_backends() - active
        return victim

    def hook_termination(self, events, tick=None):
        """An ASG-initiated termination (TerminateInstanceInAutoScalingGroup): the terminate hook
        holds the instance in Terminating:Wait until WEKA has deactivated it. Measures the control
        plane's reaction (deactivation begun), the release (EC2 terminated) and the replacement."""
        how = "ASG events + tick" if events else f"tick only (every {tick or self.a.tick:g}s)"
        say(f"== TerminateInstanceInAutoScalingGroup from outside, reaction with {how}")
        c = self.c
        saved_tick = c.s.tick
        if tick:
            c.s.tick = tick
        if c.events:
            c.events.paused = not events
        try:
            victim = sorted(c.active_backends())[0]
            before = set(c.fleet.first_seen)
            target = len(c.active_backends())
            start = time.time()
            c.asg.terminate_instance_in_auto_scaling_group(
                InstanceId=victim, ShouldDecrementDesiredCapacity=False)
            say(f"  {victim}: terminate requested")
            self.wait("WEKA to start deactivating it", lambda: victim not in c.active_backends(),
                      self.a.timeout)
            reacted = time.time() - start
            self.wait("the instance to be released and terminated",
                      lambda: victim in c.fleet.gone, self.a.timeout)
            released = c.fleet.gone[victim] - start
            self.wait("a replacement active in WEKA",
                      lambda: (set(c.fleet.first_seen) - before) & c.active_backends()
                      and len(c.active_backends()) >= target, self.a.timeout)
            active = time.time() - start
        finally:
            c.s.tick = saved_tick
            if c.events:
                c.events.paused = False
        for label, took in (("deactivation begun", reacted), ("instance released", released),
                            ("replacement active", active)):
            self.timings.append((f"ASG termination until {label} ({how})", took))
        say(f"==> {how}: deactivation begun after {reacted:.1f}s, instance released after "
            f"{released:.1f}s, replacement active after {active:.1f}s")
        return victim, reacted, released

    def scale_in(self):
        n, m = self.a.cluster_size, self.a.scale_to
        say(f"== 4. desired capacity lowered {m} -> {n}")
        start = time.time()
        self.c.set_desired(n)

        def shrunk():
            g = self.c.group()
            in_asg = {i["InstanceId"] for i in g["Instances"]}
            return len(in_asg) == n and len(self.c.active_backends()) == n \
                and self._weka_machines() == n
        self.wait(f"{n} machines left in ASG and WEKA", shrunk, self.a.timeout)
        self.timed(f"desired {m}->{n} until two machines are deactivated, removed, terminated",
                   start)

    def _weka_machines(self):
        """Backend machines in WEKA (a drives0 container): protocol gateways, frontend-only
        machines outside the ASG, are not counted."""
        cluster = self.c.weka_cluster()
        return len({h.get("aws", {}).get("instance_id") for h in
                    (cluster.get("hosts_list") or {}).values()
                    if h.get("mode") == "backend" and h.get("container_name") == "drives0"}
                   ) if cluster else 0

    def final_status(self):
        st = self.c.status()
        ws = st.get("weka_status") or {}
        say("== final status (status Lambda): " + json.dumps({
            "initial_size": st.get("initial_size"), "desired_size": st.get("desired_size"),
            "clusterized": st.get("clusterized"),
            "weka": {"io_status": ws.get("io_status"), "status": ws.get("status"),
                     "hosts": ws.get("hosts")}}))
        return st

    def start_cloud(self):
        """Starts the local cloud; False, once said why, when the emulator setup failed (the
        caller exits SETUP_FAILED, which run.sh retries once)."""
        say("starting the local cloud")
        try:
            self.c.start()
            return True
        except RuntimeError as e:
            say(f"SETUP FAILED: {e}")
            return False

    def summary(self):
        say("== summary")
        for label, took in self.timings:
            print(f"   {took:7.1f}s  {label}")
        print(f"   {time.time() - T0:7.1f}s  total; {self.c.clock.count} state machine ticks, "
              f"{self.c.fleet.launches} instances launched; logs: {self.c.s.run_dir}")


def run_demo(args):
    cloud = LocalCloud(settings(args), say=say)
    story = Story(cloud, args)
    with Narration(cloud, "FAILED", "the demo") as narration:
        if not story.start_cloud():
            return SETUP_FAILED
        say("live view: wekactl-aws watch (the operator's CLI, README \"The operator's CLI\")")
        cloud.watch(lambda line: say("watch | " + line))
        story.watching = True
        story.clusterize()
        story.scale_out()
        story.self_heal()
        story.hook_termination(events=False, tick=args.hook_tick)
        story.hook_termination(events=True)
        story.scale_in()
        story.final_status()
        story.summary()
        picture = os.path.join(cloud.s.run_dir, "timeline.svg")
        with open(picture, "w") as f:
            f.write(TIMELINE.svg(f"make demo: {args.cluster_size} -> {args.scale_to} -> "
                                 f"{args.cluster_size} backends"))
        say(f"timeline of the run: {picture}")
        if args.mode == "up":
            stay_up(cloud)
        return 0
    return narration.code


def stay_up(cloud):
    """`make up`: keeps the local cloud (clock, events, fleet, control plane) running after the
    story until `make down` (SIGTERM), and writes what a shell needs to use it."""
    path = os.path.join(cloud.s.run_dir, "sandbox.env")
    with open(path + ".tmp", "w") as f:
        f.write(cloud.sandbox_env_text())
    os.replace(path + ".tmp", path)
    say(f"sandbox up: `source {path}` then e.g. the seed's helper commands:")
    for line in cloud.outputs["cluster_helper_commands"].splitlines():
        if line.strip():
            print("  " + line, flush=True)
    say("`make down` stops it")
    while True:
        time.sleep(3600)


def settings(args):
    return Settings(cluster_size=args.cluster_size, tick=args.tick,
                    sleep_scale=args.sleep_scale, install_faults=args.faults,
                    bootstrap_grace_minutes=args.bootstrap_grace_minutes,
                    down_removal_timeout=args.down_removal_timeout, run_dir=args.run_dir,
                    dpdk=args.dpdk, bin_dir=args.bin_dir, private_subnet=args.private_subnet)


def parser():
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["demo", "up", "e2e", "faults", "migration"])
    p.add_argument("--cluster-size", type=int, default=int(env("DEMO_CLUSTER_SIZE", "6")))
    p.add_argument("--scale-to", type=int, default=int(env("DEMO_SCALE_TO", "0")) or None)
    p.add_argument("--tick", type=float, default=float(env("DEMO_TICK", "5")),
                   help="seconds between state machine starts (EventBridge: 60)")
    p.add_argument("--faults", type=int, default=int(env("DEMO_FAULTS", "0")),
                   help="number of first instances whose WEKA install fails")
    p.add_argument("--sleep-scale", type=float, default=float(env("DEMO_SLEEP_SCALE", "0.02")),
                   help="factor applied to the scripts' sleeps")
    p.add_argument("--bootstrap-grace-minutes", type=int,
                   default=int(env("DEMO_BOOTSTRAP_GRACE_MINUTES", "3")))
    p.add_argument("--down-removal-timeout", default=env("DEMO_DOWN_REMOVAL_TIMEOUT", "30s"))
    p.add_argument("--dpdk", action="store_true", default=env("DEMO_DPDK") == "1",
                   help="DPDK mode: the user data creates three extra ENIs per backend")
    p.add_argument("--private-subnet", action="store_true",
                   default=env("DEMO_PRIVATE_SUBNET") == "1",
                   help="deploy into a private subnet without NAT (subnet_autocreate_as_private): "
                        "instances and VPC functions reach AWS only through the module's endpoints")
    p.add_argument("--hook-tick", type=float, default=float(env("DEMO_HOOK_TICK", "60")),
                   help="tick of the tick-only termination chapter (EventBridge's 60 s)")
    p.add_argument("--timeout", type=float, default=float(env("DEMO_STEP_TIMEOUT", "300")),
                   help="seconds each chapter may take")
    p.add_argument("--scenarios", default=env("DEMO_SCENARIOS", "1,2,3,4,5,6,7"),
                   help="faults mode: which scenarios to inject (tests/localcloud/faults.py)")
    p.add_argument("--infra-src", default=env("INFRA_SRC"),
                   help="migration mode: the module to switch to (default this checkout's "
                        "infra/; an older checkout's to see the test fail)")
    p.add_argument("--with-alb", action="store_true", default=env("MIGRATION_WITH_ALB") == "1",
                   help="migration mode: WEKA's module's ALB too (with a certificate of the "
                        "caller's; ~1-2 min more)")
    p.add_argument("--run-dir", default=env("DEMO_RUN_DIR"))
    p.add_argument("--bin-dir", default=env("DEMO_BIN_DIR"),
                   help="directory with the function and weka-sim binaries (default target/debug)")
    return p


def _terminated(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    import signal
    signal.signal(signal.SIGTERM, _terminated)
    args = parser().parse_args()
    if args.scale_to is None:
        args.scale_to = args.cluster_size + 2
    if args.mode in ("demo", "up"):
        return run_demo(args)
    if args.mode == "faults":
        import faults
        args.scenarios = faults.parse_scenarios(args.scenarios)
        return faults.run(args, settings(args), Story, say, check, Failure)
    if args.mode == "migration":
        import migration
        return migration.run(args, settings(args), Story, say, check, Narration)
    import e2e
    return e2e.run(args, settings(args), Story, say, check, Narration)


if __name__ == "__main__":
    sys.exit(main())
