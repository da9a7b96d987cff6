//! A stateful WEKA behind [`FakeWeka`]: no cluster until a clusterization script creates one;
//! reads answer the current snapshot; deactivations, removals and drive changes take effect;
//! a deactivating machine is inactive one world tick later. Every write is checked as it lands:
//! the healthy count is tracked, and a write from a scale run not holding the lease is a
//! violation.

use super::*;

/// What WEKA saw during (part of) a run, for the invariants.
#[derive(Debug, Default, Clone)]
pub(crate) struct WekaRecord {
    /// `weka cluster create` runs (by clusterization scripts).
    pub creates: usize,
    /// Machines (IPs) a `cluster_deactivate_hosts` reached.
    pub deactivated: BTreeSet<String>,
    /// The fewest machines with every container ACTIVE and UP after any write.
    pub min_healthy: Option<usize>,
    /// Writes (deactivations, removals) that landed.
    pub writes: usize,
    /// Writes made by a scale step whose execution did not hold the lease.
    pub unleased_writes: Vec<String>,
}

#[derive(Default)]
struct Sim {
    cluster: Option<Cb>,
    /// The read answers of the cluster as it stands (dropped by every change).
    reads: Option<BTreeMap<&'static str, Value>>,
    record: WekaRecord,
    /// The execution whose scale step is running, and the store holding its lease.
    acting: Option<(String, Arc<InMemoryStateStore>, TokioClock)>,
}

impl WekaRecord {
    /// Adds what was seen `later`.
    pub(crate) fn absorb(&mut self, later: &Self) {
        self.creates += later.creates;
        self.deactivated.extend(later.deactivated.iter().cloned());
        self.min_healthy = match (self.min_healthy, later.min_healthy) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.writes += later.writes;
        self.unleased_writes
            .extend(later.unleased_writes.iter().cloned());
    }
}

/// The simulated WEKA cluster.
#[derive(Clone, Default)]
pub(crate) struct WekaModel(Arc<Mutex<Sim>>);

const WRITES: [&str; 4] = [
    "cluster_deactivate_hosts",
    "cluster_remove_host",
    "cluster_deactivate_drives",
    "cluster_remove_drives",
];

impl WekaModel {
    /// A formed cluster of healthy machines on `ips` (the stories' starting point).
    pub(crate) fn formed(machines: &[(&str, M)]) -> Self {
        let model = Self::default();
        let mut cb = Cb::new(i64::try_from(machines.len()).unwrap());
        for (ip, kind) in machines {
            cb.machine(ip, *kind, Asg::Backend);
        }
        model.0.lock().unwrap().cluster = Some(cb);
        model
    }

    /// The connector the handlers get (wrapped in the run's faults).
    pub(crate) fn connector(&self) -> FakeWeka {
        let sim = self.clone();
        FakeWeka::new(move |_, method, params| sim.answer(method, params))
    }

    /// A clusterization script's `weka cluster create` on the member machines `ips`, unless
    /// they already form a cluster with io started (the script finalizes that one instead).
    pub(crate) fn create_unless_formed(&self, ips: &[String]) -> bool {
        let mut sim = self.0.lock().unwrap();
        if sim.cluster.is_some() {
            return false;
        }
        let mut cb = Cb::new(i64::try_from(ips.len()).unwrap());
        for ip in ips {
            cb.machine_aged(ip, M::Healthy, Asg::Backend, TimeDelta::zero());
        }
        sim.cluster = Some(cb);
        sim.reads = None;
        sim.record.creates += 1;
        true
    }

    /// A join script: the machine on `ip` joins the formed cluster with its containers up.
    pub(crate) fn join(&self, ip: &str) -> bool {
        let mut sim = self.0.lock().unwrap();
        sim.reads = None;
        let Some(cb) = sim.cluster.as_mut() else {
            return false;
        };
        if !cb.snap.hosts.values().any(|h| h.host_ip == ip) {
            cb.machine_aged(ip, M::Healthy, Asg::Backend, TimeDelta::zero());
        }
        true
    }

    /// The machine on `ip` is gone (its instance terminated): its containers still in the
    /// cluster (not INACTIVE) are DOWN.
    pub(crate) fn machine_gone(&self, ip: &str) {
        let mut sim = self.0.lock().unwrap();
        sim.reads = None;
        if let Some(cb) = sim.cluster.as_mut() {
            for host in cb
                .snap
                .hosts
                .values_mut()
                .filter(|h| h.host_ip == ip && h.state != HostState::Inactive)
            {
                host.status = HostStatus::Down;
            }
        }
    }

    /// One world tick: deactivations in progress finish.
    pub(crate) fn tick(&self) {
        let mut sim = self.0.lock().unwrap();
        sim.reads = None;
        if let Some(cb) = sim.cluster.as_mut() {
            for host in cb.snap.hosts.values_mut() {
                if host.state == HostState::Deactivating {
                    host.state = HostState::Inactive;
                    host.status = HostStatus::Inactive;
                }
            }
        }
    }

    /// Whether WEKA counts on the machine on `ip`: a container of it ACTIVE (or DEACTIVATING)
    /// and UP.
    pub(crate) fn counts_on(&self, ip: &str) -> bool {
        self.0.lock().unwrap().cluster.as_ref().is_some_and(|cb| {
            cb.snap.hosts.values().any(|h| {
                h.host_ip == ip
                    && matches!(h.state, HostState::Active | HostState::Deactivating)
                    && h.status == HostStatus::Up
            })
        })
    }

    /// Each machine's containers' states, for comparing outcomes.
    pub(crate) fn machines(&self) -> BTreeMap<String, String> {
        let sim = self.0.lock().unwrap();
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        for host in sim.cluster.iter().flat_map(|cb| cb.snap.hosts.values()) {
            let entry = out.entry(host.host_ip.to_string()).or_default();
            entry.push_str(&format!("{:?}/{:?} ", host.state, host.status));
        }
        out
    }

    /// Scale steps of `execution` are running (their writes must be under its lease).
    pub(crate) fn acting(&self, acting: Option<(String, Arc<InMemoryStateStore>, TokioClock)>) {
        self.0.lock().unwrap().acting = acting;
    }

    /// What WEKA saw since the last time this was asked.
    pub(crate) fn take_record(&self) -> WekaRecord {
        std::mem::take(&mut self.0.lock().unwrap().record)
    }

    /// The cluster as it stands, for telling whether two runs are in the same state.
    pub(crate) fn fingerprint(&self) -> String {
        let sim = self.0.lock().unwrap();
        sim.cluster
            .as_ref()
            .map(|cb| format!("{:?} {:?}", cb.snap.hosts, cb.snap.drives))
            .unwrap_or_default()
    }

    fn answer(&self, method: &str, params: &Value) -> Result<Value, WekaError> {
        let mut sim = self.0.lock().unwrap();
        let Sim {
            cluster,
            reads,
            record,
            acting,
        } = &mut *sim;
        let Some(cb) = cluster.as_mut() else {
            // Before any cluster exists there is no user database: every login fails.
            return Err(WekaError::Login {
                ip: "10.100.100.11".to_owned(),
                username: "weka-deployment".to_owned(),
                message: "no cluster".to_owned(),
            });
        };
        let snap = &mut cb.snap;
        let answers = reads.get_or_insert_with(|| {
            BTreeMap::from([
                ("status", serde_json::to_value(&snap.status).unwrap()),
                (
                    "manual_override_list",
                    serde_json::to_value(&snap.overrides).unwrap(),
                ),
                ("hosts_list", serde_json::to_value(&snap.hosts).unwrap()),
                ("disks_list", serde_json::to_value(&snap.drives).unwrap()),
                ("nodes_list", serde_json::to_value(&snap.nodes).unwrap()),
                ("interface_group_list", json!([])),
            ])
        });
        if let Some(read) = answers.get(method) {
            return Ok(read.clone());
        }
        *reads = None;
        if WRITES.contains(&method)
            && let Some((execution, store, clock)) = acting.as_ref()
        {
            let held = store
                .lease(SCALE_LEASE)
                .is_some_and(|l| &l.owner == execution && l.expires_at > clock.now());
            if !held {
                record
                    .unleased_writes
                    .push(format!("{method} by {execution} without the lease"));
            }
        }
        match method {
            "cluster_deactivate_hosts" => {
                for id in params["host_ids"].as_array().into_iter().flatten() {
                    let id: HostId = id.as_str().unwrap().parse().unwrap();
                    if let Some(host) = snap.hosts.get_mut(&id) {
                        record.deactivated.insert(host.host_ip.to_string());
                        if host.state == HostState::Active {
                            host.state = HostState::Deactivating;
                        }
                    }
                }
            }
            "cluster_remove_host" => {
                let id = HostId(params["host_id"].as_i64().unwrap());
                snap.hosts.remove(&id);
                snap.nodes.retain(|_, n| n.host_id != id);
                snap.drives.retain(|_, d| d.host_id != id);
            }
            "cluster_deactivate_drives" | "cluster_remove_drives" => {
                let uuids: BTreeSet<&str> = params["drive_uuids"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if method == "cluster_remove_drives" {
                    snap.drives.retain(|_, d| !uuids.contains(d.uuid.as_str()));
                } else {
                    for drive in snap.drives.values_mut() {
                        if uuids.contains(drive.uuid.as_str()) {
                            drive.status = DriveStatus::Inactive;
                            drive.should_be_active = false;
                        }
                    }
                }
            }
            _ => return Ok(json!({})),
        }
        record.writes += 1;
        let healthy = healthy_machines(snap);
        record.min_healthy = Some(record.min_healthy.map_or(healthy, |m| m.min(healthy)));
        Ok(json!({}))
    }
}

impl WekaModel {
    /// Machines whose every container is ACTIVE and UP.
    pub(crate) fn healthy(&self) -> usize {
        self.0
            .lock()
            .unwrap()
            .cluster
            .as_ref()
            .map_or(0, |cb| healthy_machines(&cb.snap))
    }
}

/// Machines whose every container is ACTIVE and UP.
fn healthy_machines(snap: &ClusterSnapshot) -> usize {
    let mut machines: BTreeMap<&str, bool> = BTreeMap::new();
    for host in snap.hosts.values() {
        let up = host.state == HostState::Active && host.status == HostStatus::Up;
        *machines.entry(&host.host_ip).or_insert(true) &= up;
    }
    machines.values().filter(|up| **up).count()
}
