"""Auto Scaling lifecycle hooks for moto server, as on AWS (see LIFECYCLE.md).

moto stores lifecycle hooks but never applies them. Installed by `moto_server.py`, this module:
- puts instances an Auto Scaling group launches into `Pending:Wait` while the group has
  `autoscaling:EC2_INSTANCE_LAUNCHING` hooks, and instances the group terminates (scale-in,
  `TerminateInstanceInAutoScalingGroup`, replacement of an unhealthy instance) into
  `Terminating:Wait` while it has `autoscaling:EC2_INSTANCE_TERMINATING` hooks;
- implements `CompleteLifecycleAction` and `RecordLifecycleActionHeartbeat`, and applies a hook's
  `DefaultResult` after its `HeartbeatTimeout` (or the global timeout) from a timer thread and on
  every autoscaling/EC2 request;
- enforces EC2 termination and stop protection (carried from the launch template, also for a
  group's launches) with AWS's OperationNotPermitted, without blocking Auto Scaling's own
  terminations;
- runs the EC2 health check on terminated/stopped members and honours suspended ReplaceUnhealthy,
  Terminate, Launch and HealthCheck processes (a terminated member of a group with
  ReplaceUnhealthy suspended stays, Unhealthy, until detached or terminated through the group);
- records EventBridge-shaped Auto Scaling events (lifecycle actions, launch/terminate
  successful/unsuccessful) for every group, served with the pending actions on
  `GET /_lifecycle/events?after=SEQ` and `GET /_lifecycle/state` of the same server.

All state changes run under the request lock of `moto_server.py` (passed to `install`).
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import (
    Activity,
    AutoScalingBackend,
    FakeAutoScalingGroup,
    LifecycleHook,
    TerminateInstanceActivity,
)
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.exceptions import InvalidParameterCombination, OperationNotPermitted
from moto.ec2.models.instances import Instance, InstanceBackend
from moto.ec2.responses.instances import InstanceResponse

import moto_routes

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
# States that count toward desired capacity (Standby and Terminating* do not).
COUNTED = {"Pending", "Pending:Wait", "Pending:Proceed", "InService"}
GLOBAL_TIMEOUT_MAX = 172800  # 48 h; AWS: min(48 h, 100 x HeartbeatTimeout)
MAX_EVENTS = 20000
MAX_ACTIVITIES_PER_GROUP = 200
TICK_SECONDS = 0.5

_lock: Any = threading.RLock()  # replaced by the server's request lock in install()
_waits: dict[str, _Wait] = {}  # instance id -> wait
_tokens: dict[str, _Action] = {}  # LifecycleActionToken -> action
_events: list[dict[str, Any]] = []
_seq = 0
_activities: dict[int, list[Activity]] = {}  # id(group) -> activities, newest last
_bypass_hooks = 0  # > 0 while a group is being deleted (hooks are not applied)
_installed = False


# --------------------------------------------------------------------------- model


class _Action:
    """One pending lifecycle action: one hook on one instance."""

    def __init__(self, wait: _Wait, hook: LifecycleHook, now: float):
        self.wait = wait
        self.token = str(uuid.uuid4())
        self.hook_name = hook.name
        self.heartbeat_timeout = int(hook.heartbeat_timeout)
        self.default_result = (hook.default_result or "ABANDON").upper()
        self.metadata = getattr(hook, "notification_metadata", None)
        self.started = now
        self.global_deadline = now + min(GLOBAL_TIMEOUT_MAX, 100 * self.heartbeat_timeout)
        self.deadline = min(now + self.heartbeat_timeout, self.global_deadline)
        self.started_wall = _utcnow()
        self.last_heartbeat_wall: datetime | None = None


class _Wait:
    """An instance in Pending:Wait or Terminating:Wait, with its pending actions."""

    def __init__(self, group: FakeAutoScalingGroup, state: Any, transition: str, activity: Activity):
        self.group = group
        self.backend: AutoScalingBackend = group.autoscaling_backend
        self.state = state
        self.instance_id: str = state.instance.id
        self.transition = transition
        self.activity = activity
        self.actions: dict[str, _Action] = {}
        self.result = "CONTINUE"


# --------------------------------------------------------------------------- helpers


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(dt: datetime, millis: bool = True) -> str:
    if millis:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _hooks(group: FakeAutoScalingGroup, transition: str) -> list[LifecycleHook]:
    if _bypass_hooks:
        return []
    return [
        h
        for h in group.autoscaling_backend.lifecycle_hooks.values()
        if h.auto_scaling_group_name == group.name and h.lifecycle_transition == transition
    ]


def _suspended(group: FakeAutoScalingGroup, process: str) -> bool:
    return process in (getattr(group, "_suspended_processes", None) or [])


def _replaces_unhealthy(group: FakeAutoScalingGroup) -> bool:
    """AWS: with Terminate suspended, ReplaceUnhealthy is inactive too (HealthCheck is not)."""
    return not (_suspended(group, "ReplaceUnhealthy") or _suspended(group, "Terminate"))


def _truthy(value: Any) -> bool:
    """An EC2 boolean as moto keeps it: True, or "true" from a query parameter."""
    return value is True or str(value).lower() == "true"


def _counted(group: FakeAutoScalingGroup) -> list[Any]:
    return [s for s in group.instance_states if s.lifecycle_state in COUNTED]


def _registered(group: FakeAutoScalingGroup) -> bool:
    return group.autoscaling_backend.autoscaling_groups.get(group.name) is group


def _instance_arn(group: FakeAutoScalingGroup, instance_id: str) -> str:
    partition = group.arn.split(":")[1]
    return f"arn:{partition}:ec2:{group.region}:{group.account_id}:instance/{instance_id}"


def _record_activity(group: FakeAutoScalingGroup, activity: Activity) -> Activity:
    acts = _activities.setdefault(id(group), [])
    acts.append(activity)
    del acts[:-MAX_ACTIVITIES_PER_GROUP]
    return activity


def _new_activity(group: FakeAutoScalingGroup, description: str, cause: str) -> Activity:
    activity = Activity(description, cause, group, status_code="InProgress")
    activity.status_message = ""  # type: ignore[attr-defined]
    activity.details = json.dumps({})  # type: ignore[attr-defined]
    return _record_activity(group, activity)


def _emit(group: FakeAutoScalingGroup, detail_type: str, detail: dict[str, Any], instance_id: str | None = None) -> None:
    global _seq
    _seq += 1
    resources = [group.arn]
    if instance_id:
        resources.append(_instance_arn(group, instance_id))
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.autoscaling",
        "account": group.account_id,
        "time": _iso(_utcnow(), millis=False),
        "region": group.region,
        "resources": resources,
        "detail": detail,
    }
    _events.append({"seq": _seq, "event": event})
    del _events[:-MAX_EVENTS]


def _emit_lifecycle_action(wait: _Wait, action: _Action) -> None:
    launching = wait.transition == LAUNCHING
    detail: dict[str, Any] = {
        "LifecycleActionToken": action.token,
        "AutoScalingGroupName": wait.group.name,
        "LifecycleHookName": action.hook_name,
        "EC2InstanceId": wait.instance_id,
        "LifecycleTransition": wait.transition,
    }
    if action.metadata:
        detail["NotificationMetadata"] = action.metadata
    detail["Origin"] = "EC2" if launching else "AutoScalingGroup"
    detail["Destination"] = "AutoScalingGroup" if launching else "EC2"
    kind = "launch" if launching else "terminate"
    _emit(wait.group, f"EC2 Instance-{kind} Lifecycle Action", detail)


def _emit_activity(group: FakeAutoScalingGroup, detail_type: str, activity: Activity, state: Any, launching: bool) -> None:
    instance = state.instance
    end = _utcnow()
    activity.end_time = end
    detail = {
        "Origin": "EC2" if launching else "AutoScalingGroup",
        "Destination": "AutoScalingGroup" if launching else "EC2",
        "StatusCode": "InProgress" if activity.status_code == "Successful" else activity.status_code,
        "Description": activity.description,
        "AutoScalingGroupName": group.name,
        "ActivityId": activity.activity_id,
        "Details": {
            "Availability Zone": state.availability_zone,
            "Subnet ID": getattr(instance, "subnet_id", None) or "",
        },
        "RequestId": str(uuid.uuid4()),
        "StatusMessage": getattr(activity, "status_message", "") or "",
        "EndTime": _iso(end),
        "EC2InstanceId": instance.id,
        "StartTime": _iso(activity.start_time.replace(tzinfo=timezone.utc)
                          if activity.start_time.tzinfo is None else activity.start_time),
        "Cause": activity.cause,
    }
    _emit(group, detail_type, detail, instance.id)


def _start_wait(group: FakeAutoScalingGroup, state: Any, transition: str, hooks: list[LifecycleHook], activity: Activity) -> None:
    now = time.monotonic()
    wait = _Wait(group, state, transition, activity)
    state.lifecycle_state = "Pending:Wait" if transition == LAUNCHING else "Terminating:Wait"
    activity.status_code = "MidLifecycleAction"
    _waits[wait.instance_id] = wait
    for hook in hooks:
        action = _Action(wait, hook, now)
        wait.actions[hook.name] = action
        _tokens[action.token] = action
        _emit_lifecycle_action(wait, action)


def _drop_wait(instance_id: str) -> _Wait | None:
    """Forget an instance's wait without applying any result."""
    wait = _waits.pop(instance_id, None)
    if wait is not None:
        for action in wait.actions.values():
            _tokens.pop(action.token, None)
        wait.actions.clear()
    return wait


def _ec2_terminate(group: FakeAutoScalingGroup, instance_id: str) -> None:
    ec2 = group.autoscaling_backend.ec2_backend
    try:
        ec2.terminate_instances([instance_id])
    except Exception:  # noqa: BLE001 - e.g. API termination protection: the ASG terminates anyway
        try:
            ec2.get_instance(instance_id).terminate()
        except Exception:  # noqa: BLE001
            pass
    try:
        from moto.elbv2.models import elbv2_backends

        elbv2_backends[group.account_id][group.region].notify_terminate_instances([instance_id])
    except Exception:  # noqa: BLE001
        pass


def _refresh_lbs(group: FakeAutoScalingGroup) -> None:
    if _registered(group):
        group.autoscaling_backend.update_attached_elbs(group.name)
        group.autoscaling_backend.update_attached_target_groups(group.name)


# --------------------------------------------------------------------------- transitions


def _launched(group: FakeAutoScalingGroup, states: list[Any], capacity_from: int) -> None:
    """Instances the group just launched: Pending:Wait with launch hooks, else InService."""
    hooks = _hooks(group, LAUNCHING)
    ts = _iso(_utcnow(), millis=False)
    capacity_to = capacity_from + len(states)
    for state in states:
        cause = (
            f"At {ts} an instance was started in response to a difference between desired and actual "
            f"capacity, increasing the capacity from {capacity_from} to {capacity_to}."
        )
        activity = _new_activity(group, f"Launching a new EC2 instance: {state.instance.id}", cause)
        if hooks:
            _start_wait(group, state, LAUNCHING, hooks, activity)
        else:
            state.lifecycle_state = "InService"
            activity.status_code = "Successful"
            _emit_activity(group, "EC2 Instance Launch Successful", activity, state, launching=True)


def _terminate(group: FakeAutoScalingGroup, states: list[Any], cause: str, activity: Activity | None = None) -> None:
    """Terminations the group performs: Terminating:Wait with terminate hooks, else at once."""
    hooks = _hooks(group, TERMINATING)
    for state in states:
        launch_wait = _drop_wait(state.instance.id)
        if launch_wait is not None and launch_wait.transition == LAUNCHING:
            launch_wait.activity.status_code = "Cancelled"
        act = activity or _new_activity(group, f"Terminating EC2 instance: {state.instance.id}", cause)
        if activity is not None:
            _record_activity(group, activity)
            activity.status_message = ""  # type: ignore[attr-defined]
        if hooks:
            _start_wait(group, state, TERMINATING, hooks, act)
        else:
            state.lifecycle_state = "Terminating"
            _terminated(group, state, act)


def _terminated(group: FakeAutoScalingGroup, state: Any, activity: Activity) -> None:
    state.lifecycle_state = "Terminating:Proceed"
    _ec2_terminate(group, state.instance.id)
    group.instance_states = [s for s in group.instance_states if s is not state]
    activity.status_code = "Successful"
    activity.progress = 100
    _emit_activity(group, "EC2 Instance Terminate Successful", activity, state, launching=False)
    _refresh_lbs(group)


def _finish(wait: _Wait) -> None:
    """All actions of a wait are done (or one was abandoned): move the instance on."""
    _drop_wait(wait.instance_id)
    group, state = wait.group, wait.state
    if state not in group.instance_states:
        return
    if wait.transition == TERMINATING:
        _terminated(group, state, wait.activity)
        return
    if wait.result == "CONTINUE":
        state.lifecycle_state = "InService"
        wait.activity.status_code = "Successful"
        wait.activity.progress = 100
        _emit_activity(group, "EC2 Instance Launch Successful", wait.activity, state, launching=True)
        _refresh_lbs(group)
        return
    # Launch abandoned: terminate (without terminate hooks) and launch a replacement.
    state.lifecycle_state = "Terminating:Proceed"
    wait.activity.status_code = "Cancelled"
    wait.activity.status_message = (  # type: ignore[attr-defined]
        "Instance failed to complete user's Lifecycle Action: Lifecycle Action with token "
        f"{wait.abandon_token} was abandoned: Lifecycle Action Completed with ABANDON Result"  # type: ignore[attr-defined]
    )
    _ec2_terminate(group, state.instance.id)
    group.instance_states = [s for s in group.instance_states if s is not state]
    _emit_activity(group, "EC2 Instance Launch Unsuccessful", wait.activity, state, launching=True)
    if _registered(group):
        group.set_desired_capacity(group.desired_capacity)


def _resolve(action: _Action, result: str) -> None:
    wait = action.wait
    wait.actions.pop(action.hook_name, None)
    _tokens.pop(action.token, None)
    if result == "ABANDON":
        wait.result = "ABANDON"
        wait.abandon_token = action.token  # type: ignore[attr-defined]
    if wait.result == "ABANDON" or not wait.actions:
        _finish(wait)


def _stale(wait: _Wait) -> bool:
    return (
        _waits.get(wait.instance_id) is not wait
        or not _registered(wait.group)
        or wait.state not in wait.group.instance_states
    )


def tick() -> None:
    """Apply default results of expired actions; forget actions of vanished groups/instances.

    Call with the request lock held."""
    if not _waits:
        return
    for wait in list(_waits.values()):
        if _stale(wait):
            _drop_wait(wait.instance_id)
    now = time.monotonic()
    expired = sorted((a for a in _tokens.values() if a.deadline <= now), key=lambda a: a.deadline)
    for action in expired:
        if _tokens.get(action.token) is action:
            _resolve(action, action.default_result)


def reset() -> None:
    global _bypass_hooks
    _waits.clear()
    _tokens.clear()
    _events.clear()
    _activities.clear()
    _bypass_hooks = 0


# --------------------------------------------------------------------------- lookups (API)


def _find_action(
    backend: AutoScalingBackend, group_name: str | None, hook_name: str | None, token: str | None, instance_id: str | None
) -> _Action:
    if token:
        action = _tokens.get(token)
        if (
            action is None
            or action.wait.backend is not backend
            or action.wait.group.name != group_name
            or action.hook_name != hook_name
            or _stale(action.wait)
        ):
            raise ValidationError(f"No active Lifecycle Action found with token {token}")
        return action
    if instance_id:
        wait = _waits.get(instance_id)
        action = wait.actions.get(hook_name or "") if wait is not None else None
        if (
            wait is None
            or action is None
            or wait.backend is not backend
            or wait.group.name != group_name
            or _stale(wait)
        ):
            raise ValidationError(f"No active Lifecycle Action found with instance ID {instance_id}")
        return action
    raise ValidationError("Either LifecycleActionToken or InstanceId must be specified.")


# --------------------------------------------------------------------------- patches: models


def _target_instances(group: FakeAutoScalingGroup) -> int:
    """moto's FakeAutoScalingGroup.set_desired_capacity target computation (mixed instances)."""
    target_capacity = group.desired_capacity or 0
    policy = group.mixed_instances_policy or {}
    overrides = policy.get("LaunchTemplate", {}).get("Overrides", []) if policy else []
    if not overrides:
        return target_capacity
    distribution = policy.get("InstancesDistribution", {})
    on_demand_base = int(distribution.get("OnDemandBaseCapacity", 0))
    percent_above_base = int(distribution.get("OnDemandPercentageAboveBaseCapacity", 100))
    primary_weight_str = overrides[0].get("WeightedCapacity", "1")
    primary_weight = int(primary_weight_str) if primary_weight_str.isdigit() else 1
    if primary_weight == 0:
        primary_weight = 1
    if on_demand_base >= target_capacity:
        total_on_demand, total_spot = target_capacity, 0
    else:
        above_base = target_capacity - on_demand_base
        on_demand_above = int(above_base * percent_above_base) / 100.0
        total_spot = int(above_base - on_demand_above)
        total_on_demand = int(on_demand_base + on_demand_above)
    return math.ceil(total_on_demand / primary_weight) + math.ceil(total_spot / primary_weight)


def _set_desired_capacity(self: FakeAutoScalingGroup, new_capacity: int | None) -> None:
    self.desired_capacity = self.min_size if new_capacity is None else new_capacity
    counted = _counted(self)
    delta = _target_instances(self) - len(counted)
    if delta > 0 and not _suspended(self, "Launch"):
        self.replace_autoscaling_group_instances(delta, self.get_propagated_tags())
    elif delta < 0 and not _suspended(self, "Terminate"):
        to_remove = [s for s in counted if not s.protected_from_scale_in][: -delta]
        if to_remove:
            ts = _iso(_utcnow(), millis=False)
            cause = (
                f"At {ts} an instance was taken out of service in response to a difference between "
                f"desired and actual capacity, shrinking the capacity from {len(counted)} to "
                f"{len(counted) - len(to_remove)}."
            )
            _terminate(self, to_remove, cause)
    if self.name in self.autoscaling_backend.autoscaling_groups:
        self.autoscaling_backend.update_attached_elbs(self.name)
        self.autoscaling_backend.update_attached_target_groups(self.name)


_orig_replace = FakeAutoScalingGroup.replace_autoscaling_group_instances


def _replace_instances(self: FakeAutoScalingGroup, count_needed: int, propagated_tags: dict[str, str]) -> None:
    before = len(self.instance_states)
    capacity_from = len(_counted(self))
    _orig_replace(self, count_needed, propagated_tags)
    _launched(self, self.instance_states[before:], capacity_from)


_orig_delete_group = AutoScalingBackend.delete_auto_scaling_group


def _delete_auto_scaling_group(self: AutoScalingBackend, group_name: str) -> None:
    """As with ForceDelete: no lifecycle hooks, outstanding actions are dropped."""
    global _bypass_hooks
    group = self.autoscaling_groups.get(group_name)
    if group is None:
        return _orig_delete_group(self, group_name)
    _bypass_hooks += 1
    try:
        for state in list(group.instance_states):
            wait = _drop_wait(state.instance.id)
            # ForceDelete terminates every instance, scale-in protection or not (moto's own
            # delete scales to 0 and so left protected instances running).
            activity = (
                wait.activity
                if wait is not None and wait.transition == TERMINATING
                else _new_activity(
                    group,
                    f"Terminating EC2 instance: {state.instance.id}",
                    f"At {_iso(_utcnow(), millis=False)} an instance was taken out of service "
                    "in response to a user request.",
                )
            )
            _terminated(group, state, activity)
        _orig_delete_group(self, group_name)
    finally:
        _bypass_hooks -= 1
    for key in [k for k, h in self.lifecycle_hooks.items() if h.auto_scaling_group_name == group_name]:
        del self.lifecycle_hooks[key]
    _activities.pop(id(group), None)


_orig_detach = AutoScalingBackend.detach_instances


def _detach_instances(self: AutoScalingBackend, group_name: str, instance_ids: list[str], should_decrement: bool) -> Any:
    """As moto, and the detach activities are listed by DescribeScalingActivities."""
    for instance_id in instance_ids:
        _drop_wait(instance_id)
    activities = _orig_detach(self, group_name, instance_ids, should_decrement)
    group = self.autoscaling_groups.get(group_name)
    if group is not None:
        for activity in activities:
            done = copy.copy(activity)  # the answer keeps InProgress, as AWS's does
            done.status_code = "Successful"
            done.progress = 100
            done.status_message = ""  # type: ignore[attr-defined]
            done.details = json.dumps({})  # type: ignore[attr-defined]
            _record_activity(group, done)
    return activities


def _terminate_instance(self: AutoScalingBackend, instance_id: str, should_decrement: bool) -> TerminateInstanceActivity:
    state = next(
        (s for g in self.autoscaling_groups.values() for s in g.instance_states if s.instance.id == instance_id),
        None,
    )
    if state is None:
        raise ValidationError(f"Instance Id not found - No managed instance found for instance ID: {instance_id}")
    group = state.instance.autoscaling_group
    original_size = group.desired_capacity
    if should_decrement and state.lifecycle_state in COUNTED:
        group.desired_capacity = original_size - 1
    activity = TerminateInstanceActivity(state.instance, original_size)
    if not state.lifecycle_state.startswith("Terminating"):
        _terminate(group, [state], activity.cause, activity=activity)
        group.set_desired_capacity(group.desired_capacity)
    return activity


_orig_set_health = AutoScalingBackend.set_instance_health


def _set_instance_health(self: AutoScalingBackend, instance_id: str, health_status: str) -> None:
    _orig_set_health(self, instance_id, health_status)
    if health_status != "Unhealthy":
        return
    for group in list(self.autoscaling_groups.values()):
        for state in list(group.instance_states):
            if state.instance.id != instance_id or state.lifecycle_state != "InService":
                continue
            if not _replaces_unhealthy(group):
                return
            ts = _iso(_utcnow(), millis=False)
            _terminate(group, [state], f"At {ts} an instance was taken out of service in response to a user health-check.")
            group.set_desired_capacity(group.desired_capacity)
            return


def _ec2_health_cause() -> str:
    return (f"At {_iso(_utcnow(), millis=False)} an instance was taken out of service in response to an EC2 "
            "health check indicating it has been terminated or stopped.")


def _replace_unhealthy(group: FakeAutoScalingGroup) -> None:
    """ReplaceUnhealthy: unhealthy InService members are terminated (through the terminate
    hooks) and replaced, unless the process is suspended."""
    if not _replaces_unhealthy(group):
        return
    unhealthy = [s for s in group.instance_states if s.lifecycle_state == "InService" and s.health_status == "Unhealthy"]
    if unhealthy:
        _terminate(group, unhealthy, _ec2_health_cause())
        group.set_desired_capacity(group.desired_capacity)


def _ec2_health_check(group: FakeAutoScalingGroup) -> None:
    """HealthCheck (EC2 type), unless suspended: an InService member whose instance is not
    running (stopped, terminated) is marked Unhealthy; then ReplaceUnhealthy."""
    if _suspended(group, "HealthCheck"):
        return
    for state in group.instance_states:
        if state.lifecycle_state == "InService" and state.instance.state not in ("pending", "running"):
            state.health_status = "Unhealthy"
    _replace_unhealthy(group)


def _notify_stop_instances(self: AutoScalingBackend, instance_ids: list[str]) -> None:
    """EC2 StopInstances on members: the EC2 health check finds them unhealthy."""
    for group in list(self.autoscaling_groups.values()):
        if any(s.instance.id in instance_ids for s in group.instance_states):
            _ec2_health_check(group)


def _notify_terminate_instances(self: AutoScalingBackend, instance_ids: list[str]) -> None:
    """EC2 TerminateInstances outside the group: noticed as unhealthy, replaced (no hooks).

    An InService member is kept, marked Unhealthy, while ReplaceUnhealthy (or Terminate) is
    suspended, and kept unnoticed (Healthy) while HealthCheck is: only DetachInstances,
    TerminateInstanceInAutoScalingGroup or resuming the process makes the group replace it."""
    for group_name, group in list(self.autoscaling_groups.items()):
        gone = [s for s in group.instance_states if s.instance.id in instance_ids]
        if not gone:
            continue
        if _suspended(group, "HealthCheck") or not _replaces_unhealthy(group):
            kept = [s for s in gone if s.lifecycle_state == "InService"]
            if not _suspended(group, "HealthCheck"):
                for state in kept:
                    state.health_status = "Unhealthy"
            gone = [s for s in gone if s not in kept]
            if not gone:
                continue
        before = len(_counted(group))
        ts = _iso(_utcnow(), millis=False)
        for state in gone:
            wait = _drop_wait(state.instance.id)
            activity = wait.activity if wait is not None and wait.transition == TERMINATING else _new_activity(
                group,
                f"Terminating EC2 instance: {state.instance.id}",
                f"At {ts} an instance was taken out of service in response to an EC2 health check "
                "indicating it has been terminated or stopped.",
            )
            group.instance_states = [s for s in group.instance_states if s is not state]
            activity.status_code = "Successful"
            _emit_activity(group, "EC2 Instance Terminate Successful", activity, state, launching=False)
        # AWS only replaces what the desired capacity still needs: a member the control plane
        # terminated after lowering the desired capacity is not replaced.
        difference = min(before - len(_counted(group)), _target_instances(group) - len(_counted(group)))
        if difference > 0 and not _suspended(group, "Launch"):
            group.replace_autoscaling_group_instances(difference, group.get_propagated_tags())
        self.update_attached_elbs(group_name)


_orig_resume = AutoScalingBackend.resume_processes


def _resume_processes(self: AutoScalingBackend, group_name: str, scaling_processes: list[str]) -> None:
    """Resumed processes catch up at once: health check, replacement, desired capacity."""
    _orig_resume(self, group_name, scaling_processes)
    group = self.autoscaling_groups[group_name]
    _ec2_health_check(group)
    group.set_desired_capacity(group.desired_capacity)


_orig_delete_hook = AutoScalingBackend.delete_lifecycle_hook


def _delete_lifecycle_hook(self: AutoScalingBackend, as_name: str, name: str) -> None:
    """AWS completes outstanding actions first: ABANDON for launching, CONTINUE for terminating."""
    _orig_delete_hook(self, as_name, name)
    for action in list(_tokens.values()):
        wait = action.wait
        if wait.backend is self and wait.group.name == as_name and action.hook_name == name:
            _resolve(action, "ABANDON" if wait.transition == LAUNCHING else "CONTINUE")


# --------------------------------------------------------------------------- patches: EC2 protection

# DisableApiTermination / DisableApiStop of the RunInstances request being served (requests are
# serialised by the server's lock), for the instances it creates.
_run_request: dict[str, Any] = {}
_orig_instance_init = Instance.__init__


def _instance_init(self: Instance, ec2_backend: Any, image_id: str, user_data: Any, security_groups: Any, **kwargs: Any) -> None:
    """Termination and stop protection from RunInstances, else from the launch template (moto
    ignored both for an Auto Scaling group's launches and DisableApiTermination altogether)."""
    _orig_instance_init(self, ec2_backend, image_id, user_data, security_groups, **kwargs)
    data: dict[str, Any] = {}
    if kwargs.get("launch_template"):
        try:
            data = ec2_backend._get_template_from_args(kwargs["launch_template"]).data or {}
        except Exception:  # noqa: BLE001 - moto's own init already accepted the template
            data = {}
    for attr, key in (("disable_api_termination", "DisableApiTermination"), ("disable_api_stop", "DisableApiStop")):
        value = _run_request.get(key)
        if value is None:
            value = data.get(key)
        if value is None:
            value = getattr(self, attr, False)  # what moto's own init took from its caller
        setattr(self, attr, _truthy(value))


_orig_run_instances = InstanceResponse.run_instances


def _run_instances(self: InstanceResponse) -> Any:
    _run_request.clear()
    _run_request.update({k: self._get_param(k) for k in ("DisableApiTermination", "DisableApiStop")})
    try:
        return _orig_run_instances(self)
    finally:
        _run_request.clear()


_orig_modify_attribute = InstanceBackend.modify_instance_attribute


def _modify_instance_attribute(self: InstanceBackend, instance_id: str, key: str, value: Any) -> Instance:
    if key in ("disable_api_termination", "disable_api_stop"):
        value = _truthy(value)
    return _orig_modify_attribute(self, instance_id, key, value)


def _notify_autoscaling(ec2: InstanceBackend, method: str, instance_ids: list[str]) -> None:
    from moto.autoscaling import autoscaling_backends

    getattr(autoscaling_backends[ec2.account_id][ec2.region_name], method)(instance_ids)


def _terminate_instances(self: InstanceBackend, instance_ids: list[str]) -> list[tuple[Instance, Any]]:
    """TerminateInstances as AWS: an unknown id terminates nothing; with termination protection
    on an instance, the request fails with OperationNotPermitted and the instances in that
    instance's Availability Zone are not terminated (those in other zones are)."""
    if not instance_ids:
        raise InvalidParameterCombination("No instances specified")
    instances = self.get_multi_instances_by_id(instance_ids)
    protected = [i for i in instances if _truthy(i.disable_api_termination)]
    if not protected:
        return [(i, i.terminate()) for i in instances]
    blocked = {i.placement.zone for i in protected}
    done = [i for i in instances if i.placement.zone not in blocked]
    for instance in done:
        instance.terminate()
    if done:
        # The response handler, which notifies Auto Scaling and ELB, does not run on an error.
        ids = [i.id for i in done]
        _notify_autoscaling(self, "notify_terminate_instances", ids)
        try:
            from moto.elbv2.models import elbv2_backends

            elbv2_backends[self.account_id][self.region_name].notify_terminate_instances(ids)
        except Exception:  # noqa: BLE001
            pass
    raise OperationNotPermitted(
        f"The instance '{protected[0].id}' may not be terminated. "
        "Modify its 'disableApiTermination' instance attribute and try again."
    )


def _stop_instances(self: InstanceBackend, instance_ids: list[str]) -> list[tuple[Instance, Any]]:
    """StopInstances as AWS: refused while an instance has stop protection (moto's message said
    "terminated"); a stopped group member fails its EC2 health check."""
    instances = self.get_multi_instances_by_id(instance_ids)
    for instance in instances:
        if _truthy(instance.disable_api_stop):
            raise OperationNotPermitted(
                f"The instance '{instance.id}' may not be stopped. "
                "Modify its 'disableApiStop' instance attribute and try again."
            )
    stopped = [(i, i.stop()) for i in instances]
    _notify_autoscaling(self, "notify_stop_instances", [i.id for i in instances])
    return stopped


# --------------------------------------------------------------------------- patches: responses


def _put_hook_extras(backend: AutoScalingBackend, as_name: str, name: str, spec: dict[str, Any]) -> None:
    hook = backend.lifecycle_hooks.get(f"{as_name}_{name}")
    if hook is None:
        return
    hook.notification_metadata = spec.get("NotificationMetadata")
    if spec.get("RoleARN"):
        hook.role_arn = spec["RoleARN"]
    if spec.get("NotificationTargetARN"):
        hook.notification_target_arn = spec["NotificationTargetARN"]
    hook.global_timeout = min(GLOBAL_TIMEOUT_MAX, 100 * int(hook.heartbeat_timeout))


_orig_put_hook = AutoScalingResponse.put_lifecycle_hook


def _put_lifecycle_hook(self: AutoScalingResponse) -> ActionResult:
    result = _orig_put_hook(self)
    _put_hook_extras(
        self.autoscaling_backend,
        self._get_param("AutoScalingGroupName"),
        self._get_param("LifecycleHookName"),
        {k: self._get_param(k) for k in ("NotificationMetadata", "RoleARN", "NotificationTargetARN")},
    )
    return result


_orig_create_group = AutoScalingResponse.create_auto_scaling_group


def _create_auto_scaling_group(self: AutoScalingResponse) -> ActionResult:
    """Create the group's LifecycleHookSpecificationList hooks before its first launch."""
    backend = self.autoscaling_backend
    as_name = self._get_param("AutoScalingGroupName")
    specs = self._get_param("LifecycleHookSpecificationList", []) or []
    created = []
    for spec in specs:
        hook_timeout = spec.get("HeartbeatTimeout")
        backend.create_lifecycle_hook(
            name=spec.get("LifecycleHookName"),
            as_name=as_name,
            transition=spec.get("LifecycleTransition"),
            timeout=int(hook_timeout) if hook_timeout is not None else None,
            result=spec.get("DefaultResult"),
        )
        _put_hook_extras(backend, as_name, spec.get("LifecycleHookName"), spec)
        created.append(f"{as_name}_{spec.get('LifecycleHookName')}")
    try:
        return _orig_create_group(self)
    except Exception:
        for key in created:
            backend.lifecycle_hooks.pop(key, None)
        raise


def _complete_lifecycle_action(self: AutoScalingResponse) -> ActionResult:
    result = (self._get_param("LifecycleActionResult") or "").upper()
    if result not in ("CONTINUE", "ABANDON"):
        raise ValidationError("Valid values for LifecycleActionResult are: CONTINUE, ABANDON")
    action = _find_action(
        self.autoscaling_backend,
        self._get_param("AutoScalingGroupName"),
        self._get_param("LifecycleHookName"),
        self._get_param("LifecycleActionToken"),
        self._get_param("InstanceId"),
    )
    _resolve(action, result)
    return EmptyResult()


def _record_lifecycle_action_heartbeat(self: AutoScalingResponse) -> ActionResult:
    action = _find_action(
        self.autoscaling_backend,
        self._get_param("AutoScalingGroupName"),
        self._get_param("LifecycleHookName"),
        self._get_param("LifecycleActionToken"),
        self._get_param("InstanceId"),
    )
    action.deadline = min(time.monotonic() + action.heartbeat_timeout, action.global_deadline)
    action.last_heartbeat_wall = _utcnow()
    return EmptyResult()


def _describe_scaling_activities(self: AutoScalingResponse) -> ActionResult:
    backend = self.autoscaling_backend
    name = self._get_param("AutoScalingGroupName")
    ids = set(self._get_param("ActivityIds", []) or [])
    groups = [g for g in backend.autoscaling_groups.values() if not name or g.name == name]
    acts = [a for g in groups for a in _activities.get(id(g), [])]
    if ids:
        acts = [a for a in acts if a.activity_id in ids]
    acts.sort(key=lambda a: a.start_time, reverse=True)
    max_records = self._get_int_param("MaxRecords", 100)
    return ActionResult({"Activities": acts[:max_records]})


# --------------------------------------------------------------------------- control endpoint


def _wait_view(wait: _Wait, action: _Action, now: float) -> dict[str, Any]:
    return {
        "LifecycleActionToken": action.token,
        "AutoScalingGroupName": wait.group.name,
        "LifecycleHookName": action.hook_name,
        "EC2InstanceId": wait.instance_id,
        "LifecycleTransition": wait.transition,
        "LifecycleState": wait.state.lifecycle_state,
        "HeartbeatTimeout": action.heartbeat_timeout,
        "DefaultResult": action.default_result,
        "NotificationMetadata": action.metadata,
        "StartTime": _iso(action.started_wall),
        "LastHeartbeat": _iso(action.last_heartbeat_wall) if action.last_heartbeat_wall else None,
        "SecondsUntilTimeout": round(max(0.0, action.deadline - now), 3),
        "SecondsUntilGlobalTimeout": round(max(0.0, action.global_deadline - now), 3),
        "account": wait.group.account_id,
        "region": wait.group.region,
    }


def _control_app(environ: dict[str, Any], start_response: Any) -> Any:
    from werkzeug.wrappers import Request, Response

    request = Request(environ)
    path = request.path.rstrip("/")
    status, body = 200, None
    with _lock:
        tick()
        if path == "/_lifecycle/events" and request.method == "GET":
            try:
                after = int(request.args.get("after", "0"))
                limit = int(request.args.get("limit", "0"))
            except ValueError:
                status, body = 400, {"error": "after and limit must be integers"}
            else:
                body = [e for e in _events if e["seq"] > after]
                if limit > 0:
                    body = body[:limit]
        elif path == "/_lifecycle/state" and request.method == "GET":
            now = time.monotonic()
            body = {
                "pending": [_wait_view(w, a, now) for w in _waits.values() for a in w.actions.values()],
                "last_seq": _seq,
            }
        elif path == "/_lifecycle/tick" and request.method == "POST":
            body = {"ok": True}
        else:
            status, body = 404, {"error": f"no such endpoint: {request.method} {request.path}"}
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    return response(environ, start_response)


def _install_route() -> None:
    moto_routes.mount("/_lifecycle/", _control_app)


def _timer() -> None:
    while True:
        time.sleep(TICK_SECONDS)
        try:
            with _lock:
                tick()
        except Exception as exc:  # noqa: BLE001 - never let the timer die
            print(f"moto_lifecycle: tick failed: {exc!r}", flush=True)


def install(lock: Any, start_timer: bool = True) -> None:
    """Patch moto (idempotent). `lock` is the server's request-serialising lock."""
    global _lock, _installed
    _lock = lock
    if _installed:
        return
    _installed = True
    FakeAutoScalingGroup.set_desired_capacity = _set_desired_capacity  # type: ignore[method-assign]
    FakeAutoScalingGroup.replace_autoscaling_group_instances = _replace_instances  # type: ignore[method-assign]
    AutoScalingBackend.delete_auto_scaling_group = _delete_auto_scaling_group  # type: ignore[method-assign]
    AutoScalingBackend.detach_instances = _detach_instances  # type: ignore[method-assign]
    AutoScalingBackend.terminate_instance = _terminate_instance  # type: ignore[method-assign]
    AutoScalingBackend.set_instance_health = _set_instance_health  # type: ignore[method-assign]
    AutoScalingBackend.notify_terminate_instances = _notify_terminate_instances  # type: ignore[method-assign]
    AutoScalingBackend.notify_stop_instances = _notify_stop_instances  # type: ignore[attr-defined]
    AutoScalingBackend.resume_processes = _resume_processes  # type: ignore[method-assign]
    Instance.__init__ = _instance_init  # type: ignore[method-assign]
    InstanceResponse.run_instances = _run_instances  # type: ignore[method-assign]
    InstanceBackend.modify_instance_attribute = _modify_instance_attribute  # type: ignore[method-assign]
    InstanceBackend.terminate_instances = _terminate_instances  # type: ignore[method-assign]
    InstanceBackend.stop_instances = _stop_instances  # type: ignore[method-assign]
    AutoScalingBackend.delete_lifecycle_hook = _delete_lifecycle_hook  # type: ignore[method-assign]
    AutoScalingResponse.put_lifecycle_hook = _put_lifecycle_hook  # type: ignore[method-assign]
    AutoScalingResponse.create_auto_scaling_group = _create_auto_scaling_group  # type: ignore[method-assign]
    AutoScalingResponse.complete_lifecycle_action = _complete_lifecycle_action  # type: ignore[attr-defined]
    AutoScalingResponse.record_lifecycle_action_heartbeat = _record_lifecycle_action_heartbeat  # type: ignore[attr-defined]
    AutoScalingResponse.describe_scaling_activities = _describe_scaling_activities  # type: ignore[method-assign]

    from moto.moto_api._internal.models import MotoAPIBackend

    orig_reset = MotoAPIBackend.reset

    def _reset(self: Any) -> None:
        with _lock:
            orig_reset(self)
            reset()

    MotoAPIBackend.reset = _reset  # type: ignore[method-assign]
    _install_route()
    if start_timer:
        threading.Thread(target=_timer, name="moto-lifecycle-timer", daemon=True).start()


__all__ = ["install", "tick", "reset"]
