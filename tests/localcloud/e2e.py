"""End-to-end scenarios on the local cloud (run by `make test` through demo.py e2e).

One cloud, one story, assertions on the final AWS state (moto) and the WEKA simulator at each
step: clusterization of N with one backend whose install fails (recycled, the cluster still
forms); scale-out; self-heal after an external termination; a `skip_scale_down` override (nothing
removed); scale-in driven by two overlapping executions (no double action).
"""

import collections
import json
import os
import re
import subprocess
import time
from datetime import datetime

import iam
from cloud import wait_for


def deactivations(cloud):
    """(method, host id) of every deactivate/remove call the simulator received."""
    cluster = cloud.weka_cluster() or {}
    out = []
    for call in cluster.get("calls") or []:
        if call.get("error"):
            continue
        params = call.get("params") or {}
        for hid in params.get("host_ids") or []:
            out.append((call["method"], str(hid)))
    return out


def ec2_states(cloud, ids):
    if not ids:
        return {}
    r = cloud.ec2.describe_instances(InstanceIds=sorted(ids))
    return {i["InstanceId"]: i["State"]["Name"] for res in r["Reservations"]
            for i in res["Instances"]}


def run(args, settings, Story, say, check, Narration):
    from cloud import LocalCloud

    settings.install_faults = max(settings.install_faults, 1)
    settings.smb_gateways, settings.s3_gateways = SMB_GATEWAYS, S3_GATEWAYS
    cloud = LocalCloud(settings, say=say)
    story = Story(cloud, args)
    n, m = args.cluster_size, args.scale_to
    with Narration(cloud, "E2E FAILED", "the e2e run",
                   diagnose=story.dump_diagnostics) as narration:
        if not story.start_cloud():
            return 75  # demo.SETUP_FAILED
        # WEKA state changes take seconds here, not minutes (deactivation, drive phase-out).
        cloud.sim("/_sim/config", {"deactivate_host_secs": 3, "deactivate_drive_secs": 2})

        say(f"== e2e 1: clusterization of {n}; the first instance's WEKA install fails")
        story.clusterize()
        faulty = [h for h in list(cloud.fleet.gone) + list(cloud.fleet.hosts)
                  if _host(cloud, h) and _host(cloud, h).fault]
        check(len(faulty) == 1, "exactly one instance was launched with a failing install")
        bad = faulty[0]
        check(ec2_states(cloud, [bad]).get(bad) == "terminated",
              f"the failed instance {bad} was terminated (recycled)")
        check(bad not in cloud.active_backends(), "the failed instance never joined WEKA")
        errors = cloud.progress().get("errors") or {}
        check(any("installation failed" in str(v) for v in errors.values()),
              "its error report is visible in status progress")
        fault_host = _host(cloud, bad)
        recycled = cloud.fleet.gone[bad] - fault_host.launched
        check(recycled < 180, f"the failed install was ABANDONed and replaced after {recycled:.0f}s "
              "(the reference waited 30 minutes)")
        members = [i for i in cloud.active_backends()]
        wait_for("the members to be InService",
                 lambda: all(i in cloud.fleet.inservice_at for i in members), args.timeout, 0.5)
        check(all(cloud.fleet.joined_when_inservice.get(i) for i in members),
              "the first N stayed in Pending:Wait until the cluster had formed")
        clusters = cloud.sim("/_sim/state")["clusters"]
        check(len(clusters) == 1, "exactly one WEKA cluster was created")
        check(len(cloud.active_backends()) == n, f"{n} backends active in WEKA")
        _formation_events(cloud, check, set(members), bad)

        say(f"== e2e 1b: {SMB_GATEWAYS} SMB and {S3_GATEWAYS} S3 gateways form the SMB and S3 "
            "clusters (smb_setup_protocol, s3_setup_protocol)")
        _protocol_clusters(cloud, check, args.timeout)

        say(f"== e2e 2: scale-out {n} -> {m}")
        scale_out_checked(story, cloud, check, args)

        say("== e2e 2b: what an instance forges is refused (review C1, H1, H2)")
        _forgeries_refused(cloud, check, args.timeout)

        say("== e2e 2c: the network is AWS's (reachability.py): without its endpoint, no DynamoDB")
        error, result = cloud.probe_without_dynamodb_endpoint()
        check(error and "Connection refused" in result,
              "status run without the DynamoDB endpoint fails to reach the table: "
              + result[:160])
        check(cloud.progress().get("summary", {}).get("clusterized"),
              "the deployment's own status, with the endpoint, reads it")

        say("== e2e 2d: the seed's cluster_helper_commands, verbatim, with AWS CLI v2")
        _seed_helper_commands(cloud, check)

        say("== e2e 2e: IAM is enforced: a role lacking an action is refused (issue 16)")
        denial_windows = _iam_enforced(cloud, check)

        say("== e2e 3: self-heal after an external termination")
        self_heal_checked(story, cloud, check, args)

        say("== e2e 3b: an external TerminateInstanceInAutoScalingGroup is deactivated first")
        victim = sorted(cloud.active_backends())[0]
        victim_hosts = _host_ids(cloud, victim)
        victim, reacted, released = story.hook_termination(events=True)
        check("Terminating:Wait" in cloud.fleet.states_seen.get(victim, ()),
              "the instance was held in Terminating:Wait")
        deactivated_at = _first_call_time(cloud, "cluster_deactivate_hosts", victim_hosts)
        check(deactivated_at is not None, "its WEKA hosts were deactivated")
        check(deactivated_at <= cloud.fleet.gone[victim],
              f"deactivation ({deactivated_at - story_start(cloud):.1f}s) came before EC2 "
              f"termination ({cloud.fleet.gone[victim] - story_start(cloud):.1f}s)")
        check(len(cloud.active_backends()) == m, f"{m} backends active again")

        say("== e2e 4: skip_scale_down override: nothing is removed")
        cloud.sim("/_sim/overrides", {"key": "skip_scale_down", "enabled": True})
        before = deactivations(cloud)
        cloud.set_desired(n)
        ticks = cloud.clock.count
        wait_for("three more state machine runs", lambda: cloud.clock.count >= ticks + 3,
                 args.timeout, 0.5)
        time.sleep(2)
        story.view()
        check(deactivations(cloud) == before, "no deactivation while the override is set")
        check(len(cloud.active_backends()) == m, f"still {m} active backends")
        check(len(cloud.group()["Instances"]) == m,
              f"the ASG kept {m} instances (scale-in protection)")

        say("== e2e 4b: wekactl-aws pause: nothing deactivated or terminated until resume")
        _paused_by_the_console(cloud, check, m, n, args.timeout)

        say("== e2e 5: resumed; two overlapping executions scale in as `wekactl-aws plan` said")
        cloud.clock.stop()
        time.sleep(1)
        rc, out, err = cloud.console("resume")
        check(rc == 0 and out.startswith("resumed (paused by"), f"resume: {out.strip()} {err}")
        before_active = cloud.active_backends()
        planned = _planned(cloud)
        check(len(planned["deactivate"]) == m - n,
              f"the plan deactivates {m - n} machines: {sorted(planned['deactivate'])}")
        a = cloud.clock.fire(name=f"overlap-a-{int(time.time())}")
        b = cloud.clock.fire(name=f"overlap-b-{int(time.time())}")
        outcomes = [_wait_execution(cloud, x["executionArn"], args.timeout) for x in (a, b)]
        say(f"  executions: {[o[0] for o in outcomes]}")
        check(all(o[0] == "SUCCEEDED" for o in outcomes), "both executions succeeded")
        check(sum('"lease"' in (o[1] or "") for o in outcomes) >= 1,
              "at least one of them found the lease held and did nothing")
        counts = collections.Counter(deactivations(cloud)[len(before):])
        check(counts and max(counts.values()) == 1,
              f"each host deactivated at most once ({sum(counts.values())} calls)")
        acted = _acted_instances(_owners(cloud), deactivations(cloud)[len(before):])
        check(acted == planned,
              f"the run did what plan said: {_plan_text(acted)} (planned {_plan_text(planned)})")
        start = time.time()
        _runs_follow_the_plan(cloud, check, n, args.timeout)
        story.timings.append(("scale-in after the overlap (rest of the removal, run by run)",
                              time.time() - start))
        # The normal clock again, for what is left (terminations already done are kept).
        ticks_before = cloud.clock.count
        cloud.clock = type(cloud.clock)(cloud)
        cloud.clock.count = ticks_before
        cloud.clock.start()
        story.scale_in()
        left = cloud.active_backends()
        removed = before_active - left
        check(len(removed) == m - n, f"{m - n} machines removed from WEKA")
        states = ec2_states(cloud, removed)
        check(all(s == "terminated" for s in states.values()),
              "the removed machines were terminated in EC2")
        check(left <= before_active, "no active healthy machine outside the plan was touched")
        say(f"== e2e 5b: desired {n - 1}, below the safety floor: plan acts on nothing, nor does the run")
        _floor_plan_and_run(cloud, check, n, args.timeout)
        story.final_status()
        say("== e2e 6: `wekactl-aws events` lists every automatic action of the run, with why")
        _events_tell_the_run(cloud, check, removed, n)
        _no_other_denials(cloud, check, denial_windows)
        story.summary()
        say("E2E PASSED")
        return 0
    return narration.code



def _paused_by_the_console(cloud, check, m, n, timeout):
    """The override is lifted with desired already at n: while the operator's pause stands, three
    runs deactivate nothing and terminate nothing, and `plan` says every would-be action is held
    by the pause."""
    rc, out, err = cloud.console("pause", "--reason", "e2e maintenance")
    check(rc == 0 and "paused by arn:aws:iam::" in out, f"wekactl-aws pause: {out.strip()} {err}")
    status = cloud.console_json("status")
    check((status.get("paused") or {}).get("reason") == "e2e maintenance",
          f"status shows the pause: {status.get('paused')}")
    before = deactivations(cloud)
    members = {i["InstanceId"] for i in cloud.group()["Instances"]}
    cloud.sim("/_sim/overrides/clear", {"key": "skip_scale_down"})
    ticks = cloud.clock.count
    wait_for("three runs while paused", lambda: cloud.clock.count >= ticks + 3, timeout, 0.5)
    time.sleep(2)
    check(deactivations(cloud) == before, "no deactivation while paused")
    states = ec2_states(cloud, members)
    check(all(v == "running" for v in states.values()),
          f"no instance terminated while paused: {states}")
    check(len(cloud.group()["Instances"]) == m, f"the ASG still holds {m} instances")
    plan = cloud.console_json("plan")
    held = [x for x in plan["machines"] if x["action"] == "hold"]
    acting = [x for x in plan["machines"] if x["action"] in ("deactivate", "remove")]
    check(len(held) == m - n and not acting and all("paus" in x["reason"] for x in held),
          f"plan holds {m - n} machines for the pause: {[(x['ip'], x['reason']) for x in held]}")
    rc, text, _ = cloud.console("plan")
    check(rc == 0 and "PAUSED by" in text and "hold" in text, "plan's table says so too")


def _planned(cloud):
    """What `wekactl-aws plan --json` says the next run does: instance ids per action, and
    which it terminates."""
    plan = cloud.console_json("plan")
    out = {"deactivate": set(), "remove": set(), "terminate": set()}
    for line in plan["machines"]:
        iid = line.get("instance_id") or line["ip"]
        if line["action"] in ("deactivate", "remove"):
            out[line["action"]].add(iid)
        if line.get("terminate"):
            out["terminate"].add(iid)
    return out


def _acting_calls(cloud):
    """(method, host id) of every successful deactivate and remove call the simulator received
    (`cluster_remove_host` names one `host_id`)."""
    out = []
    for call in (cloud.weka_cluster() or {}).get("calls") or []:
        params = call.get("params") or {}
        if call.get("error") or call.get("method") not in ("cluster_deactivate_hosts",
                                                             "cluster_remove_host"):
            continue
        ids = params.get("host_ids") or ([params["host_id"]] if "host_id" in params else [])
        out.extend((call["method"], str(hid)) for hid in ids)
    return out


def _owners(cloud):
    """Host id (digits) -> instance id, from the simulator (read before a run: removed
    containers leave the list)."""
    return {_digits(k): (h.get("aws") or {}).get("instance_id")
            for k, h in ((cloud.weka_cluster() or {}).get("hosts_list") or {}).items()}


def _acted_instances(owners, calls, terminated=()):
    """The instances of the deactivate/remove `calls` ((method, host id)), in the shape of
    `_planned`."""
    out = {"deactivate": set(), "remove": set(), "terminate": set(terminated)}
    for method, hid in calls:
        iid = owners.get(_digits(hid))
        out["deactivate" if method == "cluster_deactivate_hosts" else "remove"].add(iid)
    return out


def _plan_text(p):
    return ", ".join(f"{k} {sorted(v)}" for k, v in p.items() if v) or "nothing"


def _quiet(cloud):
    """No container is deactivating in the simulator (a plan then stays true until the run)."""
    hosts = ((cloud.weka_cluster() or {}).get("hosts_list") or {}).values()
    return not any(h.get("state") == "DEACTIVATING" for h in hosts)


def _runs_follow_the_plan(cloud, check, n, timeout):
    """Run by run until the removals are done: `plan`, one execution, and the run deactivates,
    removes and terminates exactly the machines the plan named (each run a different cluster:
    deactivating, all inactive, removed)."""
    compared = 0
    for _ in range(8):
        wait_for("the deactivations to settle in WEKA", lambda: _quiet(cloud), timeout, 0.5)
        planned = _planned(cloud)
        if not (planned["deactivate"] or planned["remove"]):
            break
        calls_before = len(_acting_calls(cloud))
        owners = _owners(cloud)
        group_before = {i["InstanceId"] for i in cloud.group()["Instances"]}
        run = cloud.clock.fire(name=f"planned-{compared}-{int(time.time())}")
        status, _ = _wait_execution(cloud, run["executionArn"], timeout)
        check(status == "SUCCEEDED", f"planned run {compared + 1} succeeded")
        # Terminated: out of the group, held by its terminate hook, or gone in EC2.
        after = {i["InstanceId"]: i["LifecycleState"] for i in cloud.group()["Instances"]}
        states = ec2_states(cloud, group_before)
        terminated = {i for i in group_before
                      if i not in after or after[i].startswith("Terminating")
                      or states.get(i) in ("shutting-down", "terminated")}
        acted = _acted_instances(owners, _acting_calls(cloud)[calls_before:], terminated)
        check(acted == planned, f"run {compared + 1} did what plan said: {_plan_text(acted)}")
        compared += 1
    check(compared >= 1, f"{compared} more runs compared with their plans")


def _floor_plan_and_run(cloud, check, n, timeout):
    """A third cluster for plan-versus-run: desired below the floor. `plan` keeps every machine
    for the floor and acts on none; one run then deactivates and terminates nothing; desired
    back."""
    cloud.clock.stop()
    time.sleep(1)
    cloud.set_desired(n - 1)
    planned = _planned(cloud)
    plan = cloud.console_json("plan")
    reasons = {x["reason"] for x in plan["machines"]}
    check((plan.get("refusal") or {}).get("shrink_refused")
          and not (planned["deactivate"] or planned["remove"])
          and all("safety floor" in r for r in reasons),
          f"plan: the floor refuses the shrink, every machine kept: {sorted(reasons)}")
    calls_before = len(_acting_calls(cloud))
    owners = _owners(cloud)
    members = {i["InstanceId"] for i in cloud.group()["Instances"]}
    run = cloud.clock.fire(name=f"floor-{int(time.time())}")
    status, _ = _wait_execution(cloud, run["executionArn"], timeout)
    check(status == "SUCCEEDED", "the run below the floor succeeded")
    states = ec2_states(cloud, members)
    terminated = {i for i, v in states.items() if v != "running"}
    acted = _acted_instances(owners, _acting_calls(cloud)[calls_before:], terminated)
    check(acted == planned, f"the run did what plan said: {_plan_text(acted)}")
    cloud.set_desired(n)


def scale_out_checked(story, cloud, check, args):
    """Chapter 2 (also the migration e2e's): desired N -> M; the new instances join WEKA and
    are held in Pending:Wait until they have."""
    n, m = args.cluster_size, args.scale_to
    joined = story.scale_out()
    check(len(joined) == m - n, f"{m - n} new instances joined")
    check(len(cloud.group()["Instances"]) == m, f"ASG holds {m} instances")
    wait_for("the new instances to be InService",
             lambda: all(i in cloud.fleet.inservice_at for i in joined), args.timeout, 0.5)
    check(all("Pending:Wait" in cloud.fleet.states_seen.get(i, ()) for i in joined),
          "the new instances were held in Pending:Wait")
    check(all(cloud.fleet.joined_when_inservice.get(i) for i in joined),
          "they became InService only after joining WEKA")
    return joined


def self_heal_checked(story, cloud, check, args):
    """Chapter 3 (also the migration e2e's): a backend terminated from outside is detached by
    the control plane, replaced, and removed from WEKA; M backends active again."""
    m = args.scale_to
    victim = story.self_heal()
    _replaced_by_control_plane(cloud, check, story.healed)
    wait_for("the terminated machine to leave WEKA",
             lambda: victim not in _weka_instances(cloud), args.timeout, 1)
    check(victim not in _weka_instances(cloud),
          "the terminated machine was removed from WEKA (DOWN timeout)")
    check(len(cloud.active_backends()) == m, f"{m} backends active again")
    return victim


def _events_by_kind(cloud, check):
    """`wekactl-aws events --json`, by kind; every event has a reason."""
    events = cloud.console_json("events")["events"]
    by_kind = collections.defaultdict(list)
    for e in events:
        by_kind[e["kind"]].append(e)
    check(all(e.get("reason") for e in events), f"every one of {len(events)} events has a reason")
    return by_kind


def _formation_events(cloud, check, members, failed):
    """After formation: one registration per
    member however often it polled, the claim by the completer, and a lifecycle decision for
    each member and for the failed install."""
    by_kind = _events_by_kind(cloud, check)
    registered = collections.Counter(e["subject"] for e in by_kind["registration"])
    check(set(registered) == members and set(registered.values()) == {1},
          f"one registration event per member, polls not counted: {dict(registered)}")
    completer = [e for e in by_kind["registration"] if "completes the set" in e["reason"]]
    claims = by_kind["claim"]
    check(len(completer) == 1 and [c["subject"] for c in claims] == [completer[0]["subject"]],
          f"the completer {completer[0]['subject'] if completer else None} claimed: {claims}")
    decided = {e["subject"] for e in by_kind["lifecycle"]}
    check(members | {failed} <= decided,
          f"a lifecycle decision for each member and for {failed} (abandoned): "
          f"{sorted((members | {failed}) - decided)} missing")


def _events_tell_the_run(cloud, check, removed, n):
    """`events --json` holds a registration for each initial member, the claim, and for each
    machine scaled in its deactivation and removal (by IP) and its termination (by instance),
    each with a reason; the text table lists them too."""
    by_kind = _events_by_kind(cloud, check)
    check(by_kind["lifecycle"] and by_kind["detach"],
          f"{len(by_kind['lifecycle'])} lifecycle decisions, {len(by_kind['detach'])} detaches")
    ips = {}
    for res in cloud.ec2.describe_instances(InstanceIds=sorted(removed))["Reservations"]:
        for i in res["Instances"]:
            ips[i["InstanceId"]] = i.get("PrivateIpAddress")
    for iid in sorted(removed):
        for kind, subject in (("deactivation", ips[iid]), ("removal", ips[iid]),
                              ("termination", iid)):
            check(any(e["subject"] == subject for e in by_kind[kind]),
                  f"a {kind} event for {iid} ({subject})")
    rc, text, _ = cloud.console("events", "--kind", "termination")
    check(rc == 0 and all(i in text for i in removed), "the text table lists the terminations")

SMB_GATEWAYS, S3_GATEWAYS = 3, 1


def _gateway_ids(cloud, protocol):
    r = cloud.ec2.describe_instances(Filters=[
        {"Name": "tag:protocol", "Values": [protocol]},
        {"Name": "instance-state-name", "Values": ["running"]}])
    return sorted(i["InstanceId"] for res in r["Reservations"] for i in res["Instances"])


def _protocol_clusters(cloud, check, timeout):
    """The SMB cluster spans the 3 SMB gateways' frontend0 containers and the S3 cluster the S3
    gateway's, each created once; every gateway's script ended well; a second run of a
    gateway's setup (the creator's and another's) changes nothing."""
    smb_ids, s3_ids = _gateway_ids(cloud, "SMB"), _gateway_ids(cloud, "S3")
    check((len(smb_ids), len(s3_ids)) == (SMB_GATEWAYS, S3_GATEWAYS),
          f"EC2 runs {SMB_GATEWAYS} SMB and {S3_GATEWAYS} S3 gateways")

    def formed():
        c = cloud.weka_cluster() or {}
        smb, s3 = c.get("smb") or {}, c.get("s3") or {}
        done = (len(smb.get("container_ids") or []) == SMB_GATEWAYS
                and len(s3.get("container_ids") or []) == S3_GATEWAYS)
        return c if done else None
    start = time.time()
    try:
        cluster = wait_for("the SMB and S3 clusters to span their gateways", formed, timeout, 1)
    except TimeoutError:
        seen = cloud.weka_cluster() or {}
        check(False, f"the SMB and S3 clusters span their gateways within {timeout:.0f}s "
              f"(WEKA has smb={seen.get('smb')}, s3={seen.get('s3')})")
    say_time = time.time() - start
    hosts = cluster["hosts_list"]

    def owners(ids):
        return sorted((hosts.get(f"HostId<{i}>") or {}).get("aws", {}).get("instance_id", "?")
                      for i in ids)

    def frontends(ids):
        return all((hosts.get(f"HostId<{i}>") or {}).get("container_name") == "frontend0"
                   for i in ids)
    smb, s3 = cluster["smb"], cluster["s3"]
    check(owners(smb["container_ids"]) == smb_ids and frontends(smb["container_ids"]),
          f"the SMB cluster spans the SMB gateways' frontend0 containers {smb['container_ids']} "
          f"({say_time:.0f}s after the backends formed)")
    check((smb["name"], smb["domain"], smb["config_fs"]) == ("Weka-SMB", "weka.local", ".config_fs"),
          f"SMB cluster {smb['name']} in domain {smb['domain']} on {smb['config_fs']}")
    check(owners(s3["container_ids"]) == s3_ids and frontends(s3["container_ids"]),
          f"the S3 cluster spans the S3 gateway's frontend0 container {s3['container_ids']}")
    check((s3["name"], s3["config_fs"], s3["port"]) == ("default", ".config_fs", 9000),
          "S3 cluster on default / .config_fs, port 9000")
    gateways = {iid: cloud.fleet.gateways[iid] for iid in smb_ids + s3_ids}
    wait_for("every gateway's script to end", lambda: all(
        h.exit_code() is not None for h in gateways.values()), timeout, 1)
    codes = {iid: h.exit_code() for iid, h in gateways.items()}
    check(all(c == 0 for c in codes.values()), f"every gateway's user data exited 0: {codes}")
    progress = json.dumps(cloud.progress().get("progress") or {})
    check(all(f"protocol gw: {iid} is in the" in progress for iid in gateways),
          "each gateway reported itself in its protocol cluster")
    # A second run (a rebooted gateway, a retried script): the creator's and another's.
    for iid, protocol in ((smb_ids[0], "smbw"), (smb_ids[-1], "smbw"), (s3_ids[0], "s3")):
        host = gateways[iid]
        ident = {name: open(os.path.join(host.dir, "identity", name)).read()
                 for name in ("document", "signature")}
        error, script = cloud.invoke("clusterize", {
            "name": iid, "protocol": protocol, "container_uid": "", "nic_name": "",
            "identity": ident})
        answered = not error and "cluster create" in script
        check(answered, f"clusterize answers {iid} the setup again"
              + ("" if answered else f": {str(script)[:300]}"))
        code, out = host.shell(script, timeout=120)
        check(code == 0, f"a second run of {iid}'s setup exits 0"
              + ("" if code == 0 else f": {out[-300:]}"))
    again = cloud.weka_cluster()
    check((again["smb"], again["s3"]) == (smb, s3),
          "the second runs changed nothing (no second create, no member added twice)")


def _replaced_by_control_plane(cloud, check, healed):
    """The self-healing replacement came from the control plane's path, as on AWS where the
    module suspends ReplaceUnhealthy: the terminated backend stayed in the group (Unhealthy),
    Auto Scaling did not terminate or replace it itself, the `terminate` function detached it
    (its log and the group's activities say so), and the replacement launched after that."""
    victim = healed["victim"]
    check(healed["member_after"] == ("InService", "Unhealthy"),
          f"once terminated, {victim} stayed in the group InService/Unhealthy (not replaced by "
          f"Auto Scaling: ReplaceUnhealthy suspended); seen {healed['member_after']}")
    acts = cloud.asg.describe_scaling_activities(AutoScalingGroupName=cloud.asg_name,
                                                 MaxRecords=100)["Activities"]
    by_description = collections.defaultdict(list)
    for a in acts:
        by_description[a["Description"]].append(a)
    detached = by_description.get(f"Detaching EC2 instance: {victim}", [])
    check(len(detached) == 1, f"{victim} was detached once (DescribeScalingActivities)")
    check(not by_description.get(f"Terminating EC2 instance: {victim}"),
          f"Auto Scaling did not terminate {victim} itself")
    log = os.path.join(cloud.logs, "lambda", f"{cloud.lambda_names['terminate']}.log")
    with open(log, errors="replace") as f:
        lines = [line for line in f if "detached without decrementing desired capacity" in line
                 and victim in line]
    check(lines, f"the terminate function detached it ({os.path.basename(log)}: "
          f"{lines[0].strip()[:200] if lines else 'no detach line'})")
    replacements = healed["replacements"]
    launched = [a for r in replacements
                for a in by_description.get(f"Launching a new EC2 instance: {r}", [])]
    check(len(replacements) == 1 and len(launched) == 1
          and launched[0]["StartTime"] >= detached[0]["StartTime"],
          f"the replacement {sorted(replacements)} was launched after the detach "
          f"({launched[0]['StartTime'] if launched else '?'} >= {detached[0]['StartTime']})")


def _forgeries_refused(cloud, check, timeout):
    """An instance's requests to `fetch` (all the instance profile may invoke of the scale path)
    that try to take the scale lease, record a forged terminate-lifecycle event for a healthy
    member, or read the admin password after formation are refused with a typed error, and
    nothing is deactivated, recorded or leased for them."""
    victim = sorted(cloud.active_backends())[0]
    victim_hosts = _host_ids(cloud, victim)
    hooks = cloud.asg.describe_lifecycle_hooks(AutoScalingGroupName=cloud.asg_name)
    terminate_hook = next(h["LifecycleHookName"] for h in hooks["LifecycleHooks"]
                          if h["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING")
    forged = {
        "version": "0", "id": "forged", "source": "aws.autoscaling",
        "detail-type": "EC2 Instance-terminate Lifecycle Action", "account": "123456789012",
        "time": datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
        "resources": [],
        "detail": {"LifecycleActionToken": "forged", "AutoScalingGroupName": cloud.asg_name,
                   "LifecycleHookName": terminate_hook, "EC2InstanceId": victim,
                   "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING"},
    }
    before = deactivations(cloud)
    for payload, error_type in [({"execution": "forged"}, "Weka.InvalidInput"),
                                ({"execution": "forged", "event": forged}, "Weka.InvalidInput"),
                                ({"event": forged}, "Weka.InvalidInput"),
                                ({"show_admin_password": True}, "Weka.Conflict")]:
        err, value = cloud.invoke("fetch", payload)
        got = value.get("errorType") if isinstance(value, dict) else None
        check(err and got == error_type,
              f"fetch {sorted(payload)} refused with {error_type} (got {got})")
    ticks = cloud.clock.count
    wait_for("two more state machine runs", lambda: cloud.clock.count >= ticks + 2, timeout, 0.5)
    waiting = [w.get("instance_id") for w in cloud.status().get("lifecycle_waiting") or []]
    check(victim not in waiting, "no lifecycle action was recorded for the forged event")
    mine = [c for c in deactivations(cloud)[len(before):] if _digits(c[1]) in victim_hosts]
    check(not mine, f"the member {victim} named by the forged event was not deactivated")
    check(victim in cloud.active_backends(), f"{victim} is still active in WEKA")
    recent = sorted(cloud.executions(), key=lambda x: x["startDate"], reverse=True)[:2]
    outputs = [json.dumps(cloud.sfn.describe_execution(executionArn=x["executionArn"]),
                          default=str) for x in recent]
    check(not any("forged" in o for o in outputs), "no execution found the lease held by the forger")
    _a_host_speaks_only_for_itself(cloud, check, victim)


# From a host's shell: the payload, with the host's own signed identity from its IMDS when the
# second argument is 1, sent with the AWS CLI as any process on the host could.
_FORGE = r"""
set -euo pipefail
payload=$1
if [[ $2 == 1 ]]; then
  imds=http://169.254.169.254/latest/dynamic/instance-identity
  payload=$(jq -c --arg d "$(curl -s $imds/document)" --arg s "$(curl -s $imds/signature)" \
    '. + {identity: {document: $d, signature: $s}}' <<<"$payload")
fi
out=$(mktemp)
aws lambda invoke --function-name "$3" --payload "$payload" "$out" >/dev/null
cat "$out"
"""


def _a_host_speaks_only_for_itself(cloud, check, victim):
    """From one backend's shell (the forger), with its own signed identity document as its IMDS
    serves it: speaking for another backend (the victim), for an instance no group holds,
    without proof and with oversized fields is refused with a typed error, and nothing about
    the victim changes (review H3, M5)."""
    forger = next(i for i in sorted(cloud.active_backends()) if i != victim)
    host = _host(cloud, forger)
    victim_name = "ip-" + _host(cloud, victim).ip.replace(".", "-")
    registered_before = _table_items(cloud)
    reports_before = len(cloud.progress().get("messages", {}).get(victim_name, []))
    attempts = [
        ("report", {"type": "error", "message": "forged failure", "hostname": victim_name,
                    "protocol": ""}, True, "Weka.InvalidInput"),
        ("report", {"type": "error", "message": "unproven", "hostname": victim_name,
                    "protocol": ""}, False, "Weka.InvalidInput"),
        ("report", {"type": "progress", "message": "x", "hostname": "h" * 300, "protocol": ""},
         True, "Weka.InvalidInput"),
        ("clusterize", {"name": victim}, True, "Weka.InvalidInput"),
        ("clusterize", {"name": "i-00000000deadbeef0"}, True, "Weka.InvalidInput"),
        ("clusterize", {"name": forger}, False, "Weka.InvalidInput"),
        ("clusterize", {"name": forger, "protocol": "nfs", "container_uid": "u" * 100_000},
         True, "Weka.InvalidInput"),
        ("clusterize-finalization", {"name": victim, "protocol": "nfs"}, True, "Weka.InvalidInput"),
        ("clusterize-finalization", {"name": forger, "protocol": "nfs"}, True, "Weka.Conflict"),
    ]
    for function, payload, signed, error_type in attempts:
        rc, out = host.shell(_FORGE, json.dumps(payload), "1" if signed else "0",
                             cloud.lambda_names[function])
        try:
            got = json.loads(out).get("errorType")
        except (ValueError, AttributeError):
            got = f"(rc {rc}: {out[:200]!r})"
        shown = {k: (v if len(str(v)) < 40 else f"<{len(str(v))} chars>") for k, v in payload.items()}
        check(got == error_type, f"from {forger}'s shell{' (signed)' if signed else ''}: {function} "
              f"{shown} refused with {error_type} (got {got})")
    check(_table_items(cloud) == registered_before, "nothing was registered, claimed or finalized")
    check(len(cloud.progress().get("messages", {}).get(victim_name, [])) == reports_before,
          "nothing was reported under the victim's name")
    check(victim in cloud.active_backends(), f"{victim} is still active in WEKA")


def _iam_enforced(cloud, check):
    """moto enforces IAM as AWS would for the local cloud's identities (tests/localcloud/iam.py):
    a host's instance role may not invoke a scale-path function, and with one action taken out
    of the `status` function's role its invocation fails with AccessDenied naming that action,
    then succeeds again once the policy is back. Returns the (start, end) times in which these
    refusals were caused on purpose."""
    windows = []
    t0 = time.time()
    host = _host(cloud, sorted(cloud.active_backends())[0])
    rc, out = host.shell('aws lambda invoke --function-name "$1" --payload "{}" /dev/null 2>&1',
                         cloud.lambda_names["scale-fetch"])
    check(rc != 0 and "AccessDenied" in out and "lambda:InvokeFunction" in out
          and "backend-instance-role" in out,
          f"a host (its instance role, from IMDS) may not invoke scale-fetch: {out.strip()[-300:]}")
    windows.append((t0, time.time()))
    role = cloud.lam.get_function_configuration(
        FunctionName=cloud.lambda_names["status"])["Role"].rsplit("/", 1)[-1]
    t0 = time.time()
    with iam.without_action(cloud.iam, role, STATUS_ACTION):
        err, value = cloud.invoke("status", {"type": "status"})
    windows.append((t0, time.time()))
    message = json.dumps(value)
    check(err and "AccessDenied" in message and STATUS_ACTION in message,
          f"without {STATUS_ACTION} in {role}, status fails with AccessDenied naming it "
          f"(got {message[:300]})")
    check(isinstance(cloud.status(), dict), f"with {STATUS_ACTION} back, status succeeds")
    return windows


# The action the harness check takes out of the status function's role: every status call
# reads the cluster state (its head and registration items, one Query).
STATUS_ACTION = "dynamodb:Query"


def _no_other_denials(cloud, check, windows):
    """No request of the run was refused by IAM except those caused on purpose: a missing
    permission fails the run even where the code tolerates the error."""
    denials = iam.denials(cloud.moto_url)
    other = [d for d in denials if not any(a - 1 <= d["time"] <= b + 1 for a, b in windows)]
    check(denials and not other, f"IAM refused only the deliberate requests ({len(denials)}); "
          f"others: {json.dumps(other[:5])}")


def _seed_helper_commands(cloud, check):
    """Each line of the `cluster_helper_commands` output runs as printed in a user's shell
    (AWS CLI v2) and answers as the seed describes: the backends' IPs, the progress JSON, the
    admin password."""
    text = cloud.outputs["cluster_helper_commands"]
    check(cloud.outputs["weka_deployment"]["cluster_helper_commands"] == text,
          "weka_deployment.cluster_helper_commands is the top-level output's text")
    lines = [line for line in text.splitlines() if line.strip()]
    check(len(lines) >= 3 and lines[0].startswith("aws ec2 describe-instances")
          and '"progress"' in lines[1] and lines[2].startswith("aws secretsmanager"),
          "the seed's three commands come first: IPs, progress, password")
    check(any("$INSTANCE_ID" in line and "terminate-instances" in line for line in lines),
          "ours include the self-healing test's terminate_instance (run in e2e 3)")
    results = []
    for line in (line for line in lines if "$INSTANCE_ID" not in line):
        rc, out, err = cloud.run_user_command(line)
        check(rc == 0, f"`{line[:60]}...` exits 0 (stderr: {err.strip()[-200:]})")
        results.append(out)
    deployment = cloud.outputs["weka_deployment"]
    check(SEED_OUTPUT_KEYS <= set(deployment),
          f"weka_deployment has every key the seed shows ({sorted(SEED_OUTPUT_KEYS - set(deployment))} missing)")
    key_path = deployment["local_ssh_private_key"]
    check(key_path == cloud.ssh_private_key_path and os.stat(key_path).st_mode & 0o777 == 0o600,
          f"no key given: the generated key pair's private key is {key_path}, mode 0600")
    from cryptography.hazmat.primitives import serialization
    with open(key_path, "rb") as f:
        serialization.load_pem_private_key(f.read(), password=None)
    key_names = {i.get("KeyName") for r in cloud.ec2.describe_instances(
        InstanceIds=[i["InstanceId"] for i in cloud.group()["Instances"]])["Reservations"]
        for i in r["Instances"]}
    check(len(key_names) == 1 and None not in key_names,
          f"it is a valid private key, and the backends launch with its key pair {key_names}")
    env_file = os.path.join(cloud.s.run_dir, "sandbox.env")
    with open(env_file, "w") as f:
        f.write(cloud.sandbox_env_text())
    done = subprocess.run(
        ["env", "-i", "HOME=" + os.environ.get("HOME", "/root"), "PATH=/usr/local/bin:/usr/bin:/bin",
         "bash", "-c", f"source {env_file} && aws autoscaling describe-auto-scaling-groups "
         "--query 'AutoScalingGroups[].AutoScalingGroupName' --output text"],
        capture_output=True, text=True, timeout=60)
    check(done.returncode == 0 and cloud.asg_name in done.stdout,
          f"a clean shell that sources `make up`'s sandbox.env reaches the cloud: {done.stderr[-200:]}")
    ips_type = deployment["ips_type"]
    ids = [i["InstanceId"] for i in cloud.group()["Instances"]]
    expected = sorted(i.get(ips_type) for r in cloud.ec2.describe_instances(
        InstanceIds=ids)["Reservations"] for i in r["Instances"])
    ips = sorted(json.loads(results[0]))
    check(ips and all(ips) and ips == expected,
          f"get_ips lists the {len(ids)} backends' {ips_type}: {ips}")
    progress, _ = json.JSONDecoder().raw_decode(results[1])
    check((progress.get("summary") or {}).get("clusterized") is True,
          "the progress command prints the status lambda's JSON (clusterized)")
    secret = cloud.outputs["weka_deployment"]["weka_cluster_password_secret_id"]
    password = results[2].strip()
    check(password and password == iam.admin_client(
        "secretsmanager", cloud.router_url, cloud.admin).get_secret_value(
        SecretId=secret)["SecretString"],
          "the password command prints the admin password")


# The keys of the seed's `weka_deployment` output (seed-weka-on-aws-terraform.md).
SEED_OUTPUT_KEYS = {
    "alb_alias_record", "alb_dns_name", "asg_name", "client_ips", "cluster_helper_commands",
    "cluster_name", "ips_type", "lambda_status_name", "local_ssh_private_key",
    "nfs_protocol_gateways_ips", "smb_protocol_gateways_ips", "ssh_user",
    "weka_cluster_password_secret_id",
}


def _table_items(cloud):
    """The state table's cluster-state items (registrations, claims): reports, notes, leases and
    lifecycle records change with every scale run and are checked apart."""
    items = cloud.ddb.scan(TableName=cloud.outputs["state_table_name"])["Items"]
    return sorted(json.dumps(i, sort_keys=True) for i in items
                  if not any(t in i["pk"]["S"] for t in ("#report", "#note", "#lease", "#lifecycle")))


def _host(cloud, iid):
    return cloud.fleet.hosts.get(iid) or cloud.fleet.gone_hosts.get(iid)


def story_start(cloud):
    return min(cloud.fleet.first_seen.values())


def _digits(value):
    m = re.search(r"\d+", str(value))
    return m.group(0) if m else None


def _host_ids(cloud, instance_id):
    """The simulator's host ids (digits) of an instance's containers."""
    cluster = cloud.weka_cluster() or {}
    return {_digits(k) for k, h in (cluster.get("hosts_list") or {}).items()
            if (h.get("aws") or {}).get("instance_id") == instance_id}


def _first_call_time(cloud, method, host_ids):
    """Epoch seconds of the first successful `method` call naming one of `host_ids`."""
    cluster = cloud.weka_cluster() or {}
    times = [datetime.fromisoformat(c["time"].replace("Z", "+00:00")).timestamp()
             for c in cluster.get("calls") or []
             if c.get("method") == method and not c.get("error")
             and {_digits(h) for h in (c.get("params") or {}).get("host_ids") or []} & host_ids]
    return min(times) if times else None


def _weka_instances(cloud):
    cluster = cloud.weka_cluster() or {}
    return {(h.get("aws") or {}).get("instance_id")
            for h in (cluster.get("hosts_list") or {}).values()}


def _wait_execution(cloud, arn, timeout):
    def done():
        d = cloud.sfn.describe_execution(executionArn=arn)
        return d if d["status"] != "RUNNING" else None
    d = wait_for(f"execution {arn}", done, timeout, 0.5)
    return d["status"], d.get("output")
