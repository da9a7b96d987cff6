//! The driver and the invariants: a story is played unfaulted to count its port calls K and
//! record its outcome; then once per call index k < K and fault kind, with that one fault,
//! until it is quiescent again (or a bound); each faulted run's end is checked against the
//! issue's invariants and against the unfaulted outcome.

use super::*;

/// Minutes a run may take before it counts as stuck.
const MAX_TICKS: usize = 45;
/// Quiet minutes (no Auto Scaling change, no WEKA write) that end a run: longer than the
/// lease's 180 s, so a run waiting out a dead holder's lease is not taken for finished.
const QUIET_TICKS: usize = 5;

/// A terminate target at the end: terminated, or what protection it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetEnd {
    pub instance: String,
    pub terminated: bool,
    /// The last termination-attribute call was the one that protects it again.
    pub termination_protected: bool,
    /// Auto Scaling shows it protected from scale-in.
    pub scale_in_protected: bool,
}

/// What a run left, for the invariants.
#[derive(Debug)]
pub(crate) struct End {
    /// Minutes until the last one that changed anything.
    pub active_ticks: usize,
    pub quiescent: bool,
    pub calls: Vec<PortCall>,
    pub injected: Option<(PortCall, FaultKind)>,
    pub events: Vec<Event>,
    pub weka: WekaRecord,
    pub targets: Vec<TargetEnd>,
    /// The world's final state, instance by instance and machine by machine.
    pub outcome: BTreeMap<String, String>,
    pub scripts: Vec<(String, Script)>,
    pub endings: Vec<Ending>,
}

/// Plays `story` with `plan`'s fault (none when counting).
pub(crate) async fn play(story: Story, plan: Arc<FaultPlan>, configs: &Configs) -> End {
    let (mut w, mut agents) = story.build(Arc::clone(&plan));
    let initial_healthy = w.weka.machines().values().filter(|s| !s.contains("Down") && !s.contains("Inactive")).count();
    let mut endings = Vec::new();
    let mut quiet = 0;
    let mut ticks = 0;
    let mut active_ticks = 0;
    while ticks < MAX_TICKS {
        ticks += 1;
        let moved_before = w.groups.calls().len() + w.weka.writes();
        for agent in agents.iter_mut().filter(|a| !a.finished()) {
            agent.act(&w, configs).await;
            w.observe(None);
        }
        for event in std::mem::take(&mut w.queued) {
            endings.push(w.execution(configs, event).await);
        }
        endings.push(w.execution(configs, json!({})).await);
        w.tick().await;
        let moved = w.groups.calls().len() + w.weka.writes() != moved_before;
        if moved {
            active_ticks = ticks;
            quiet = 0;
        } else {
            quiet += 1;
        }
        if quiet >= QUIET_TICKS && agents.iter().all(Agent::finished) && !w.hooks_pending() {
            break;
        }
    }
    let quiescent = quiet >= QUIET_TICKS && agents.iter().all(Agent::finished) && !w.hooks_pending();
    let mut weka = w.weka.take_record();
    weka.min_healthy = Some(weka.min_healthy.map_or(initial_healthy, |m| m.min(initial_healthy)));
    End {
        active_ticks,
        quiescent,
        calls: plan.calls(),
        injected: plan.injected(),
        events: std::mem::take(&mut w.events),
        targets: targets(&w),
        outcome: outcome(&w),
        weka,
        scripts: agents
            .iter()
            .map(|a| (a.machine.id.clone(), a.script.clone()))
            .collect(),
        endings,
    }
}

fn targets(w: &World) -> Vec<TargetEnd> {
    let calls = w.groups.calls();
    let group = w.groups.group(ASG).unwrap();
    let mut targets: BTreeMap<String, TargetEnd> = BTreeMap::new();
    for call in &calls {
        match call {
            ScalingCall::AllowTermination { id } | ScalingCall::ProtectFromTermination { id } => {
                let protected = matches!(call, ScalingCall::ProtectFromTermination { .. });
                let target = targets.entry(id.clone()).or_insert_with(|| TargetEnd {
                    instance: id.clone(),
                    terminated: w.machines.get(id).is_some_and(|m| m.terminated),
                    termination_protected: false,
                    scale_in_protected: group
                        .instances
                        .iter()
                        .find(|i| &i.instance.id == id)
                        .is_some_and(|i| i.instance.protected_from_scale_in),
                });
                target.termination_protected = protected;
            }
            _ => {}
        }
    }
    targets.into_values().collect()
}

fn outcome(w: &World) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let state = sync(w.store.load(Group::Backend)).unwrap();
    out.insert("clusterized".to_owned(), state.clusterized.to_string());
    let group = w.groups.group(ASG).unwrap();
    for machine in w.machines.values() {
        let shown = group
            .instances
            .iter()
            .find(|i| i.instance.id == machine.id)
            .map_or_else(
                || "gone".to_owned(),
                |i| format!("{:?}", i.instance.lifecycle),
            );
        out.insert(machine.id.clone(), shown);
    }
    for (ip, states) in w.weka.machines() {
        out.insert(format!("weka {ip}"), states);
    }
    out
}

/// The invariants on a faulted run's `end`, given the unfaulted run's `baseline`.
pub(crate) fn violations(story: Story, end: &End, baseline: &End) -> Vec<String> {
    let mut found = Vec::new();
    if !end.quiescent {
        found.push(format!("not quiescent after {MAX_TICKS} minutes"));
    }
    let expected_creates = usize::from(story == Story::Bootstrap);
    if end.weka.creates != expected_creates {
        found.push(format!(
            "{} `weka cluster create` runs, expected {expected_creates}",
            end.weka.creates
        ));
    }
    for event in &end.events {
        match event {
            Event::LaunchAbandoned {
                instance,
                member: true,
            } => found.push(format!("member {instance} abandoned")),
            Event::ActiveTerminated { instance, how } => {
                found.push(format!("{instance} terminated while WEKA counted on it ({how})"));
            }
            Event::UnleasedMutation { execution, call } => {
                found.push(format!("{execution} acted without the lease: {call}"));
            }
            Event::LaunchAbandoned { member: false, .. } => {}
        }
    }
    for write in &end.weka.unleased_writes {
        found.push(write.clone());
    }
    for target in &end.targets {
        if !target.terminated && !(target.termination_protected && target.scale_in_protected) {
            found.push(format!(
                "terminate target {} neither terminated nor protected again: {target:?}",
                target.instance
            ));
        }
    }
    if end.weka.deactivated != baseline.weka.deactivated {
        found.push(format!(
            "deactivated {:?}, the unfaulted plan {:?}",
            end.weka.deactivated, baseline.weka.deactivated
        ));
    }
    if end.weka.min_healthy < baseline.weka.min_healthy {
        found.push(format!(
            "healthy machines fell to {:?}, below the unfaulted floor {:?}",
            end.weka.min_healthy, baseline.weka.min_healthy
        ));
    }
    if end.outcome != baseline.outcome {
        let differ: Vec<String> = end
            .outcome
            .iter()
            .filter(|(k, v)| baseline.outcome.get(*k) != Some(*v))
            .map(|(k, v)| format!("{k}: {v} (unfaulted: {:?})", baseline.outcome.get(k)))
            .collect();
        found.push(format!("ended unlike the unfaulted run: {differ:?}"));
    }
    found
}

/// Tallies of a story's matrix, printed as one line.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub runs: usize,
    pub by_kind: BTreeMap<FaultKind, usize>,
    pub by_port: BTreeMap<Port, usize>,
    pub recovered: usize,
    /// Recovered runs by the minutes they took beyond the unfaulted run.
    pub extra_ticks: BTreeMap<usize, usize>,
    pub failures: Vec<String>,
}

impl Summary {
    pub(crate) fn add(&mut self, end: &End, baseline: &End, found: Vec<String>) {
        self.runs += 1;
        if let Some((call, kind)) = &end.injected {
            *self.by_kind.entry(*kind).or_default() += 1;
            *self.by_port.entry(call.port).or_default() += 1;
        }
        if found.is_empty() {
            self.recovered += 1;
            let extra = end.active_ticks.saturating_sub(baseline.active_ticks);
            *self.extra_ticks.entry(extra).or_default() += 1;
        } else {
            let fault = end.injected.as_ref().map_or_else(
                || "a fault never reached".to_owned(),
                |(call, kind)| format!("{kind} at call {} ({} {})", call.index, call.port, call.method),
            );
            self.failures.push(format!("{fault}: {}", found.join("; ")));
        }
    }

    pub(crate) fn line(&self, story: Story, calls: &[PortCall]) -> String {
        let mut per_port: BTreeMap<Port, usize> = BTreeMap::new();
        for call in calls {
            *per_port.entry(call.port).or_default() += 1;
        }
        format!(
            "fault matrix {}: {} calls unfaulted {per_port:?}; {} runs, faults by kind {:?}, by port {:?}; {} recovered (extra minutes: count {:?}), {} not",
            story.name(),
            calls.len(),
            self.runs,
            self.by_kind
                .iter()
                .map(|(k, n)| format!("{k}={n}"))
                .collect::<Vec<_>>(),
            self.by_port
                .iter()
                .map(|(p, n)| format!("{p}={n}"))
                .collect::<Vec<_>>(),
            self.recovered,
            self.extra_ticks,
            self.failures.len()
        )
    }
}

/// The whole matrix of `story` for the fault `kinds`: prints its summary line and returns it.
pub(crate) async fn run_matrix(story: Story, kinds: &[FaultKind]) -> Summary {
    let configs = Configs::new();
    let baseline = play(story, FaultPlan::counting(), &configs).await;
    let unfaulted = violations(story, &baseline, &baseline);
    assert!(
        unfaulted.is_empty(),
        "{}: the unfaulted run breaks the invariants: {unfaulted:?}\n{:#?}",
        story.name(),
        baseline.outcome
    );
    let mut summary = Summary::default();
    for k in 0..baseline.calls.len() {
        for kind in kinds {
            let end = play(story, FaultPlan::at(k, *kind), &configs).await;
            let found = violations(story, &end, &baseline);
            summary.add(&end, &baseline, found);
        }
    }
    let line = summary.line(story, &baseline.calls);
    println!("{line}");
    eprintln!("{line}");
    summary
}
