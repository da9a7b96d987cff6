//! The [`Builder`]: classifies machines, chooses what to remove and deactivate, and emits the
//! planned actions into phases. Inputs are validated and gated before it runs.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::weka::model::{HostId, HostStatus, WekaCall};
use crate::wire::scale::{
    HealingHold, HostGroupInfoResponse, InstanceRef, Refusal, ScaleHost, go_zero_time,
};

use super::leaving::{HeldMachine, admit_leaving};
use super::view::{MachineIx, View};
use super::{
    ActionId, Batch, ClusterSnapshot, Deactivation, Effect, GroupKind, GroupSummary, MachineCounts,
    Phase, PhaseKind, PlannedAction, Reason, SafetyFloor, ScaleDownPlan, ScaleDownPolicy,
    ScaleState, decide_target,
};

/// Machine state: unhealthy if any container is, else deactivating if any is, else healthy.
fn combine(states: impl Iterator<Item = ScaleState>) -> ScaleState {
    states.fold(ScaleState::Healthy, |acc, s| match (acc, s) {
        (ScaleState::Unhealthy, _) | (_, ScaleState::Unhealthy) => ScaleState::Unhealthy,
        (ScaleState::Deactivating, _) | (_, ScaleState::Deactivating) => ScaleState::Deactivating,
        _ => ScaleState::Healthy,
    })
}

/// Most non-client containers one machine may have (drives0, compute0, frontend0).
pub const MAX_CONTAINERS_PER_MACHINE: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Kept,
    Removal,
}

struct Builder<'a> {
    view: View<'a>,
    info: &'a HostGroupInfoResponse,
    policy: &'a ScaleDownPolicy,
    now: DateTime<Utc>,
    next_id: usize,
    orphan: Vec<Batch>,
    remove: Vec<Batch>,
    deactivate: Vec<Batch>,
    /// Per machine (IP order).
    classified: Vec<Option<Class>>,
    errors: Vec<String>,
    deactivations: Vec<Deactivation>,
    removals: Vec<String>,
    groups: Vec<GroupSummary>,
    held_back: Vec<HeldMachine>,
    /// First ASG instance (backend, then NFS) with the machine's IP.
    instance_of: Vec<Option<&'a InstanceRef>>,
    nfs_ports: BTreeMap<HostId, Vec<(&'a str, &'a str)>>,
}

/// Marks the machines whose IP is one of `instances`' IPs, and gives each machine the first of
/// them that has its IP (unless it has one already): one IP lookup per instance.
fn machines_in<'a>(
    view: &View<'_>,
    instances: &'a [InstanceRef],
    instance_of: &mut [Option<&'a InstanceRef>],
) -> Vec<bool> {
    let mut flags = vec![false; view.machines.len()];
    for i in instances {
        if let Some(m) = view.machine(&i.private_ip) {
            flags[m] = true;
            instance_of[m].get_or_insert(i);
        }
    }
    flags
}

/// Plans a validated, ungated run (see [`super::plan_with_leaving`]).
pub(super) fn build(
    info: &HostGroupInfoResponse,
    cluster: &ClusterSnapshot,
    policy: &ScaleDownPolicy,
    now: DateTime<Utc>,
    leaving: &BTreeSet<String>,
) -> ScaleDownPlan {
    let view = View::new(cluster);
    let machine_count = view.machines.len();
    // First ASG instance with the machine's IP: backend, then NFS.
    let mut instance_of = vec![None; machine_count];
    let in_backend = machines_in(&view, &info.weka_backend_instances, &mut instance_of);
    let in_nfs = machines_in(&view, info.nfs_instances(), &mut instance_of);
    let mut b = Builder {
        view,
        info,
        policy,
        now,
        next_id: 0,
        orphan: Vec::new(),
        remove: Vec::new(),
        deactivate: Vec::new(),
        classified: vec![None; machine_count],
        errors: Vec::new(),
        deactivations: Vec::new(),
        removals: Vec::new(),
        groups: Vec::new(),
        held_back: Vec::new(),
        instance_of,
        nfs_ports: BTreeMap::new(),
    };

    b.remove_orphan_drives();
    b.skip_anomalous_machines();
    let leaving_in_flight = if leaving.is_empty() {
        0
    } else {
        b.leave(&in_backend, leaving)
    };

    let backend_machines = b.machines_on(&in_backend);
    b.scale_group(
        GroupKind::Weka,
        &backend_machines,
        info.weka_backends_desired_capacity,
        policy.floor,
        policy
            .max_unhealthy_in_flight
            .saturating_sub(leaving_in_flight),
    );

    let mut leftover_candidates: Vec<MachineIx> = Vec::new();
    match &cluster.interface_groups {
        Err(e) => {
            b.errors.push(format!("GetNfsHostsMap: {e}"));
            // Without the group membership every NFS host would look like a leftover: keep them all.
            for m in b.machines_on(&in_nfs) {
                b.classified[m] = Some(Class::Kept);
            }
        }
        Ok(groups) => {
            for g in groups.iter().filter(|g| g.is_nfs()) {
                for p in &g.ports {
                    b.nfs_ports
                        .entry(p.host_id)
                        .or_default()
                        .push((g.name.as_str(), p.port.as_str()));
                }
            }
            let mut in_group = Vec::new();
            for m in b.machines_on(&in_nfs) {
                let hosts = b.view.hosts_of(m);
                let ip = b.view.machines[m].ip;
                if hosts
                    .iter()
                    .any(|&ix| b.nfs_ports.contains_key(&b.view.ids[ix]))
                {
                    in_group.push(m);
                } else if !b.view.all_inactive(m)
                    && (info.nfs_ip_was_in_group(ip)
                        || hosts.iter().any(|&ix| {
                            b.view
                                .management_timed_out(ix, policy.nfs_leftover_down_timeout, now)
                        }))
                {
                    let (desired, current) = b.backend_sizes();
                    let state = b.machine_state(m);
                    b.emit_deactivation(
                        GroupKind::Leftover,
                        m,
                        state,
                        Reason::NfsLeftover,
                        (desired, current),
                    );
                } else {
                    leftover_candidates.push(m);
                }
            }
            b.scale_group(
                GroupKind::Nfs,
                &in_group,
                info.nfs_backends_desired_capacity,
                SafetyFloor::NONE,
                policy.max_unhealthy_in_flight,
            );
        }
    }

    leftover_candidates.extend((0..machine_count).filter(|&m| !in_backend[m] && !in_nfs[m]));
    // Machine indices are in IP order.
    leftover_candidates.sort_unstable();
    b.handle_leftovers(&leftover_candidates);

    b.finish_plan()
}

impl<'a> Builder<'a> {
    fn alloc(&mut self) -> ActionId {
        let id = ActionId(self.next_id);
        self.next_id += 1;
        id
    }

    #[allow(clippy::too_many_arguments)]
    fn action(
        &mut self,
        call: WekaCall,
        reason: Reason,
        ip: Option<&str>,
        depends_on: Vec<ActionId>,
        on_success: Vec<Effect>,
        best_effort: bool,
        error_context: &'static str,
    ) -> PlannedAction {
        PlannedAction {
            id: self.alloc(),
            call,
            reason,
            machine_ip: ip.map(str::to_owned),
            depends_on,
            on_success,
            best_effort,
            error_context,
        }
    }

    fn event(&mut self, message: String, reason: Reason, ip: &str) -> PlannedAction {
        self.action(
            WekaCall::EventsTriggerCustom { message },
            reason,
            Some(ip),
            Vec::new(),
            Vec::new(),
            true,
            "triggerEvent",
        )
    }

    /// Machines of the group (unclassified, with at least one non-client container), in IP order.
    fn machines_on(&self, member: &[bool]) -> Vec<MachineIx> {
        (0..self.view.machines.len())
            .filter(|&m| member[m] && self.classified[m].is_none())
            .collect()
    }

    fn backend_sizes(&self) -> (i64, u32) {
        let current = self
            .groups
            .iter()
            .find(|g| g.group == GroupKind::Weka)
            .map_or(0, |g| g.counts.total());
        (self.info.weka_backends_desired_capacity, current)
    }

    fn remove_orphan_drives(&mut self) {
        for i in 0..self.view.orphan_drives().len() {
            let d = self.view.orphan_drives()[i];
            if d.status == crate::weka::model::DriveStatus::Inactive {
                let a = self.action(
                    WekaCall::RemoveDrives {
                        drive_uuids: vec![d.uuid.clone()],
                    },
                    Reason::OrphanDrive,
                    None,
                    Vec::new(),
                    Vec::new(),
                    false,
                    "removeOldDrive",
                );
                self.orphan.push(Batch {
                    machine_ip: None,
                    before: Vec::new(),
                    actions: vec![a],
                });
            }
        }
    }

    /// The reference aborted the process here; one odd machine must not block every other one.
    fn skip_anomalous_machines(&mut self) {
        let mut skipped = Vec::new();
        for (m, machine) in self.view.machines.iter().enumerate() {
            let (ip, hosts) = (machine.ip, self.view.hosts_of(m));
            if hosts.len() > MAX_CONTAINERS_PER_MACHINE {
                skipped.push((
                    m,
                    format!(
                        "machine {ip}: {} backend containers (at most {MAX_CONTAINERS_PER_MACHINE}); skipped",
                        hosts.len()
                    ),
                ));
                continue;
            }
            let mut idents: Vec<&str> = Vec::with_capacity(MAX_CONTAINERS_PER_MACHINE);
            for &ix in hosts {
                let ident = self.view.hosts[ix].machine_identifier.as_str();
                if !ident.is_empty() && !idents.contains(&ident) {
                    idents.push(ident);
                }
            }
            if idents.len() > 1 {
                skipped.push((
                    m,
                    format!(
                        "machine {ip}: {} distinct machine identifiers; skipped",
                        idents.len()
                    ),
                ));
            }
        }
        for (m, msg) in skipped {
            self.classified[m] = Some(Class::Kept);
            self.errors.push(msg);
        }
    }

    fn machine_state(&self, m: MachineIx) -> ScaleState {
        combine(
            self.view
                .hosts_of(m)
                .iter()
                .map(|&ix| self.view.container_state(ix, self.policy, self.now)),
        )
    }

    /// The machines of the backend group the ASG terminates on its own (terminate hook): those
    /// the floor and the in-flight cap admit are deactivated (reason
    /// [`Reason::AsgTermination`]), the others held back ([`super::leaving`]); neither counts
    /// against the desired capacity any more. Returns the in-flight slots they take.
    fn leave(&mut self, in_backend: &[bool], leaving: &BTreeSet<String>) -> u32 {
        let members = self.machines_on(in_backend);
        let mut counts = MachineCounts::default();
        let mut candidates = Vec::new();
        for &m in &members {
            if self.view.all_inactive(m) {
                continue;
            }
            let state = self.machine_state(m);
            match state {
                ScaleState::Healthy => counts.healthy += 1,
                ScaleState::Unhealthy => counts.unhealthy += 1,
                ScaleState::Deactivating => counts.deactivating += 1,
            }
            if leaving.contains(self.view.machines[m].ip) {
                candidates.push((m, state));
            }
        }
        let decision = admit_leaving(
            &candidates,
            counts,
            self.policy.floor,
            self.policy.max_unhealthy_in_flight,
        );
        let sizes = (
            self.info.weka_backends_desired_capacity,
            u32::try_from(in_backend.iter().filter(|m| **m).count()).unwrap_or(u32::MAX),
        );
        for m in decision.admitted {
            let state = self.machine_state(m);
            self.emit_deactivation(GroupKind::Weka, m, state, Reason::AsgTermination, sizes);
        }
        for (m, reason) in decision.held {
            self.classified[m] = Some(Class::Kept);
            self.held_back.push(HeldMachine {
                ip: self.view.machines[m].ip.to_owned(),
                reason,
            });
        }
        decision.in_flight
    }

    /// §9.5 for one group; at most `max_in_flight` machines deactivating once healed.
    fn scale_group(
        &mut self,
        group: GroupKind,
        machines: &[MachineIx],
        desired: i64,
        floor: SafetyFloor,
        max_in_flight: u32,
    ) {
        let mut ranked = Vec::with_capacity(machines.len());
        let mut counts = MachineCounts::default();
        for &m in machines {
            if self.view.all_inactive(m) {
                self.emit_removal(m);
                continue;
            }
            self.classified[m] = Some(Class::Kept);
            let mut mstate = ScaleState::Healthy;
            let mut first = None;
            for &ix in self.view.hosts_of(m) {
                let s = self.view.container_state(ix, self.policy, self.now);
                mstate = combine([mstate, s].into_iter());
                let key = self.view.container_key(ix, s);
                if first.as_ref().is_none_or(|f| key < *f) {
                    first = Some(key);
                }
            }
            match mstate {
                ScaleState::Healthy => counts.healthy += 1,
                ScaleState::Unhealthy => counts.unhealthy += 1,
                ScaleState::Deactivating => counts.deactivating += 1,
            }
            // Machine order = first appearance in the sorted container list, but grouped by machine
            // state first so that deactivating machines are always inside the first n. Machine
            // indices are in IP order, so they break ties exactly as the IPs would.
            ranked.push((mstate, first, m));
        }
        let decision = decide_target(counts, desired, floor, max_in_flight);
        self.groups.push(GroupSummary {
            group,
            counts,
            desired,
            decision,
        });
        // Only the first `limit` machines are taken: they are selected, then sorted (the keys are
        // distinct, so this is the order a full sort gives, at a fraction of its cost).
        let limit = usize::try_from(decision.n).unwrap_or(usize::MAX);
        if limit < ranked.len() {
            ranked.select_nth_unstable(limit);
            ranked.truncate(limit);
        }
        ranked.sort_unstable();
        for (mstate, _, m) in ranked {
            let reason = match mstate {
                ScaleState::Deactivating => Reason::AlreadyDeactivating,
                ScaleState::Unhealthy => Reason::Unhealthy,
                ScaleState::Healthy => Reason::ScaleDown,
            };
            self.emit_deactivation(group, m, mstate, reason, (desired, counts.total()));
        }
    }

    fn emit_removal(&mut self, m: MachineIx) {
        let view = &self.view;
        let ip = view.machines[m].ip;
        self.classified[m] = Some(Class::Removal);
        self.removals.push(ip.to_owned());
        let mut actions = vec![self.event(
            format!("Trying to remove machine {ip}. reason: inactive machine"),
            Reason::InactiveMachine,
            ip,
        )];
        let instance = self.instance_of[m];
        for i in 0..self.view.hosts_of(m).len() {
            let ix = self.view.hosts_of(m)[i];
            let host = self.view.hosts[ix];
            // A container whose status is not yet INACTIVE is retried next run.
            if host.status != HostStatus::Inactive {
                continue;
            }
            let on_success = instance
                .into_iter()
                .cloned()
                .map(Effect::AddToTerminate)
                .collect();
            let rm = self.action(
                WekaCall::RemoveHost {
                    host_id: self.view.ids[ix],
                },
                Reason::InactiveMachine,
                Some(ip),
                Vec::new(),
                on_success,
                false,
                "removeInactive",
            );
            let rm_id = rm.id;
            actions.push(rm);
            for d in 0..self.view.drives_of(ix).len() {
                let uuid = self.view.drives_of(ix)[d].uuid.clone();
                let a = self.action(
                    WekaCall::RemoveDrives {
                        drive_uuids: vec![uuid],
                    },
                    Reason::InactiveMachine,
                    Some(ip),
                    vec![rm_id],
                    Vec::new(),
                    false,
                    "removeDrive",
                );
                actions.push(a);
            }
        }
        self.remove.push(Batch {
            machine_ip: Some(ip.to_owned()),
            before: vec![Effect::DropFromPool(ip.to_owned())],
            actions,
        });
    }

    fn emit_deactivation(
        &mut self,
        group: GroupKind,
        m: MachineIx,
        state: ScaleState,
        reason: Reason,
        (desired, current): (i64, u32),
    ) {
        self.classified[m] = Some(Class::Kept);
        let ip = self.view.machines[m].ip;
        let hosts = self.view.hosts_of(m).to_vec();
        let mut actions = Vec::new();
        let mut ports = Vec::new();
        for &ix in &hosts {
            for d in 0..self.view.drives_of(ix).len() {
                let drive = self.view.drives_of(ix)[d];
                if !drive.should_be_active {
                    continue;
                }
                let a = self.action(
                    WekaCall::DeactivateDrives {
                        drive_uuids: vec![drive.uuid.clone()],
                    },
                    reason,
                    Some(ip),
                    Vec::new(),
                    Vec::new(),
                    false,
                    "deactivateDrive",
                );
                actions.push(a);
            }
        }
        if group == GroupKind::Nfs {
            for &ix in &hosts {
                let id = self.view.ids[ix];
                let entries = self.nfs_ports.get(&id).cloned().unwrap_or_default();
                for (name, port) in entries {
                    let a = self.action(
                        WekaCall::InterfaceGroupDeletePort {
                            name: name.to_owned(),
                            host_id: id,
                            port: port.to_owned(),
                        },
                        reason,
                        Some(ip),
                        Vec::new(),
                        Vec::new(),
                        false,
                        "interfaceGroupDeletePort",
                    );
                    ports.push(a.id);
                    actions.push(a);
                }
            }
        }
        let kind = match group {
            GroupKind::Weka => "weka backend machine",
            GroupKind::Nfs => "nfs backend machine",
            GroupKind::Leftover => "machine",
        };
        let ev = self.event(
            format!(
                "Trying to deactivate {kind} {ip}. Desired size: {desired}, current size: {current}, reason: {}.",
                reason.as_str()
            ),
            reason,
            ip,
        );
        actions.push(ev);
        let deact = self.action(
            WekaCall::DeactivateHosts {
                host_ids: hosts.iter().map(|&ix| self.view.ids[ix]).collect(),
            },
            reason,
            Some(ip),
            ports,
            vec![Effect::DropFromPool(ip.to_owned())],
            false,
            "deactivateHost",
        );
        actions.push(deact);
        self.deactivate.push(Batch {
            machine_ip: Some(ip.to_owned()),
            before: Vec::new(),
            actions,
        });
        self.deactivations.push(Deactivation {
            group,
            ip: ip.to_owned(),
            state,
            reason,
        });
    }

    /// §9.6: machines outside every ASG (and NFS leftovers not deactivated above).
    fn handle_leftovers(&mut self, machines: &[MachineIx]) {
        let timeout = self.info.down_backends_removal_timeout();
        for &m in machines {
            if self.classified[m].is_some() {
                continue;
            }
            if self.view.all_inactive(m) {
                self.emit_removal(m);
                continue;
            }
            let view = &self.view;
            let hosts = view.hosts_of(m);
            let down_timed_out = hosts.iter().find(|&&ix| {
                view.hosts[ix].status == HostStatus::Down
                    && view.management_timed_out(ix, timeout, self.now)
            });
            let Some(&down_ix) = down_timed_out else {
                self.classified[m] = Some(Class::Kept);
                continue;
            };
            let all_down = hosts.iter().all(|&ix| {
                matches!(
                    view.hosts[ix].status,
                    HostStatus::Down | HostStatus::Inactive
                )
            });
            if all_down {
                let sizes = self.backend_sizes();
                let state = self.machine_state(m);
                self.emit_deactivation(GroupKind::Leftover, m, state, Reason::DownMachine, sizes);
            } else {
                let down_id = view.ids[down_ix];
                let ip = view.machines[m].ip;
                self.classified[m] = Some(Class::Kept);
                self.errors.push(format!(
                    "host {down_id} is down but not all containers on the machine {ip} are down"
                ));
            }
        }
    }

    fn finish_plan(self) -> ScaleDownPlan {
        let view = &self.view;
        let mut hosts = Vec::with_capacity(view.hosts.len());
        hosts.extend(
            view.hosts
                .iter()
                .enumerate()
                .filter(|(_, h)| !h.is_client())
                .filter(|(ix, _)| {
                    view.machine_of[*ix].is_none_or(|m| self.classified[m] != Some(Class::Removal))
                })
                .map(|(ix, h)| ScaleHost {
                    instance_id: h.instance_id().to_owned(),
                    private_ip: h.host_ip.as_str().to_owned(),
                    status: h.state.clone(),
                    added_time: h.added_time.unwrap_or_else(go_zero_time),
                    host_id: view.ids[ix],
                }),
        );
        let refusal = self
            .groups
            .iter()
            .find(|g| g.group == GroupKind::Weka)
            .filter(|g| g.decision.shrink_refused || g.decision.healing_held)
            .map(|g| Refusal {
                desired: g.desired,
                minimum: self.policy.floor.min_cluster_size,
                shrink_refused: g.decision.shrink_refused,
                healing_held: g.decision.healing_held.then_some(HealingHold {
                    healthy: g.counts.healthy,
                    required: self.policy.floor.min_healthy_to_heal,
                }),
            });
        let phases = [
            (PhaseKind::RemoveOrphanDrives, self.orphan),
            (PhaseKind::RemoveInactiveMachines, self.remove),
            (PhaseKind::DeactivateMachines, self.deactivate),
        ]
        .into_iter()
        .filter(|(_, b)| !b.is_empty())
        .map(|(kind, batches)| Phase { kind, batches })
        .collect();
        ScaleDownPlan {
            phases,
            hosts,
            refusal,
            transient_errors: self.errors,
            deactivations: self.deactivations,
            removals: self.removals,
            groups: self.groups,
            held_back: self.held_back,
        }
    }
}
