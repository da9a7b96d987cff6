//! The independent model of §9.4–9.6 the property checks the planner against: what state
//! each container and machine must reach, read off the snapshot.

use super::*;

/// A management node of the container DOWN for longer than `timeout` (§9.4 step 3).
pub(super) fn management_timed_out(c: &Cb, id: HostId, timeout: TimeDelta) -> bool {
    let host = &c.snap.hosts[&id];
    c.snap.nodes.iter().any(|(nid, n)| {
        nid.is_management()
            && n.host_id == id
            && n.status == NodeStatus::Down
            && n.last_fencing_time
                .or(host.state_changed_time)
                .is_none_or(|t| now() - t > timeout)
    })
}

/// §9.4, read off the snapshot.
pub(super) fn expected_container_state(c: &Cb, policy: &ScaleDownPolicy, id: HostId) -> ScaleState {
    let host = &c.snap.hosts[&id];
    let drives: Vec<_> = c.snap.drives.values().filter(|d| d.host_id == id).collect();
    if host.container_name.contains("drive")
        && !drives.is_empty()
        && drives.iter().all(|d| !d.should_be_active)
    {
        return ScaleState::Deactivating;
    }
    if matches!(
        host.state,
        HostState::Deactivating | HostState::Removing | HostState::Inactive
    ) {
        return ScaleState::Deactivating;
    }
    if matches!(host.status, HostStatus::Down | HostStatus::Degraded)
        && management_timed_out(c, id, policy.unhealthy_timeout)
    {
        return ScaleState::Unhealthy;
    }
    let past_grace = host
        .added_time
        .is_none_or(|t| now() - t > policy.inactive_drive_grace);
    if drives.iter().any(|d| !d.should_be_active)
        || (past_grace && drives.iter().any(|d| d.status == DriveStatus::Inactive))
    {
        return ScaleState::Unhealthy;
    }
    ScaleState::Healthy
}

/// §9.5 step 5: unhealthy if any container is, else deactivating if any is.
pub(super) fn expected_machine_state(c: &Cb, policy: &ScaleDownPolicy, f: &Facts) -> ScaleState {
    let states: Vec<ScaleState> = f
        .backend
        .iter()
        .map(|&id| expected_container_state(c, policy, id))
        .collect();
    if states.contains(&ScaleState::Unhealthy) {
        ScaleState::Unhealthy
    } else if states.contains(&ScaleState::Deactivating) {
        ScaleState::Deactivating
    } else {
        ScaleState::Healthy
    }
}

pub(super) fn all_inactive(c: &Cb, f: &Facts) -> bool {
    f.backend
        .iter()
        .all(|id| c.snap.hosts[id].state == HostState::Inactive)
}
