//! The driver and the invariants: a story is played unfaulted to count its port calls K and
//! record its outcome; then once per call index k < K and fault kind, with that one fault,
//! until it is quiescent again (or a bound); each faulted run's end is checked against the
//! issue's invariants and against the unfaulted outcome.

use super::*;

/// Minutes a run may take before it counts as stuck.
const MAX_TICKS: usize = 45;
/// Quiet minutes (begun with the lease free, no Auto Scaling change, no WEKA write) that end a
/// run once no script runs and no hook is pending.
const QUIET_TICKS: usize = 2;

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
#[derive(Debug, Clone)]
pub(crate) struct End {
    /// Minutes from the start to the end of the last one that changed anything.
    pub(crate) active_ticks: usize,
    pub(crate) quiescent: bool,
    pub(crate) calls: Vec<PortCall>,
    pub(crate) injected: Option<(PortCall, FaultKind)>,
    pub(crate) events: Vec<Event>,
    pub(crate) weka: WekaRecord,
    pub(crate) targets: Vec<TargetEnd>,
    /// The world's final state, instance by instance and machine by machine.
    pub(crate) outcome: BTreeMap<String, String>,
    /// Whether the run was cut short once it was back in the unfaulted run's state.
    pub(crate) converged: bool,
}

/// One minute of the unfaulted run: the state it ended in, and what it saw.
#[derive(Debug)]
pub(crate) struct Minute {
    /// Port calls made by the end of the minute.
    calls: usize,
    fingerprint: String,
    events: usize,
    weka: WekaRecord,
}

/// The unfaulted run: its end, and minute by minute.
#[derive(Debug)]
pub(crate) struct Baseline {
    pub(crate) end: End,
    minutes: Vec<Minute>,
}

impl Baseline {
    /// The calls the matrix faults: every call up to the end of the first quiet minute. The
    /// quiet minutes after it make the same calls on the same state again.
    fn faulted_calls(&self) -> usize {
        self.minutes
            .get(self.end.active_ticks)
            .map_or(self.end.calls.len(), |m| m.calls)
    }

    /// The faulted run `w` is, after `minute`, where the unfaulted run was then: the rest of it
    /// goes as the unfaulted run's rest, so its end is the faulted past plus that rest.
    fn finish_from(&self, minute: usize, w: &World, past: &WekaRecord, active: usize) -> End {
        let mut weka = past.clone();
        for later in &self.minutes[minute..] {
            weka.absorb(&later.weka);
        }
        let mut events = w.events.clone();
        events.extend(
            self.end.events[self.minutes[minute - 1].events..]
                .iter()
                .cloned(),
        );
        let mut targets = self.end.targets.clone();
        for own in targets_of(w) {
            if !targets.iter().any(|t| t.instance == own.instance) {
                targets.push(own);
            }
        }
        let active_ticks = if self.end.active_ticks > minute {
            self.end.active_ticks
        } else {
            active
        };
        End {
            active_ticks,
            quiescent: self.end.quiescent,
            calls: w.plan.calls(),
            injected: w.plan.injected(),
            events,
            weka,
            targets,
            outcome: self.end.outcome.clone(),
            converged: true,
        }
    }
}

/// Plays `story` with `plan`'s fault (none when counting); with the unfaulted `baseline`, a
/// run stops as soon as, after its fault, it is back in the state the unfaulted run had at the
/// same minute.
pub(crate) async fn play(
    story: Story,
    plan: Arc<FaultPlan>,
    configs: &Configs,
    baseline: Option<&Baseline>,
) -> (End, Vec<Minute>) {
    let (mut w, mut agents) = story.build(Arc::clone(&plan));
    let mut weka = WekaRecord {
        min_healthy: Some(w.weka.healthy()),
        ..WekaRecord::default()
    };
    let mut minutes = Vec::new();
    let mut quiet = 0;
    let mut active_ticks = 0;
    while minutes.len() < MAX_TICKS {
        let calls_before = w.groups.calls().len();
        // A minute whose runs a dead execution's lease kept waiting proves nothing.
        let unblocked = w.lease_free();
        for agent in agents.iter_mut().filter(|a| !a.finished()) {
            agent.act(&w, configs).await;
            w.observe(None);
        }
        for event in std::mem::take(&mut w.queued) {
            w.execution(configs, event).await;
        }
        w.execution(configs, json!({})).await;
        w.tick().await;
        let seen = w.weka.take_record();
        weka.absorb(&seen);
        let minute = Minute {
            calls: plan.call_count(),
            fingerprint: format!("{}|{:?}", w.fingerprint(), agents_state(&agents)),
            events: w.events.len(),
            weka: seen,
        };
        if w.groups.calls().len() != calls_before || minute.weka.writes > 0 {
            active_ticks = w.minute();
            quiet = 0;
        } else if unblocked {
            quiet += 1;
        } else {
            quiet = 0;
        }
        // The fingerprint holds the time: only the unfaulted run's same minute can match.
        if let Some(baseline) = baseline
            && plan.injected().is_some()
            && baseline
                .minutes
                .get(w.minute() - 1)
                .is_some_and(|m| m.fingerprint == minute.fingerprint)
        {
            let end = baseline.finish_from(w.minute(), &w, &weka, active_ticks);
            return (end, Vec::new());
        }
        minutes.push(minute);
        if quiet >= QUIET_TICKS && w.at_rest(&agents) {
            break;
        }
    }
    let quiescent = quiet >= QUIET_TICKS && w.at_rest(&agents);
    let end = End {
        active_ticks,
        quiescent,
        calls: plan.calls(),
        injected: plan.injected(),
        events: w.events.clone(),
        targets: targets_of(&w),
        outcome: outcome(&w),
        weka,
        converged: false,
    };
    (end, minutes)
}

fn agents_state(agents: &[Agent]) -> Vec<&Script> {
    agents.iter().map(|a| &a.script).collect()
}

fn targets_of(w: &World) -> Vec<TargetEnd> {
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
                found.push(format!(
                    "{instance} terminated while WEKA counted on it ({how})"
                ));
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
        let protected_again = target.termination_protected && target.scale_in_protected;
        if !(target.terminated || protected_again) {
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
    pub(crate) runs: usize,
    pub(crate) by_kind: BTreeMap<FaultKind, usize>,
    pub(crate) by_port: BTreeMap<Port, usize>,
    pub(crate) recovered: usize,
    /// Recovered runs by the minutes they took beyond the unfaulted run.
    pub(crate) extra_ticks: BTreeMap<usize, usize>,
    /// Runs cut short once back in the unfaulted run's state.
    pub(crate) converged: usize,
    pub(crate) failures: Vec<String>,
}

impl Summary {
    pub(crate) fn add(&mut self, end: &End, baseline: &End, found: &[String]) {
        self.runs += 1;
        self.converged += usize::from(end.converged);
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
                |(call, kind)| {
                    format!(
                        "{kind} at call {} ({} {})",
                        call.index, call.port, call.method
                    )
                },
            );
            self.failures.push(format!("{fault}: {}", found.join("; ")));
        }
    }

    pub(crate) fn line(&self, story: Story, baseline: &End, faulted: usize) -> String {
        let kinds: Vec<String> = self.by_kind.keys().map(ToString::to_string).collect();
        let kinds = kinds.join("+");
        let mut per_port: BTreeMap<String, usize> = BTreeMap::new();
        for call in &baseline.calls[..faulted] {
            *per_port.entry(call.port.to_string()).or_default() += 1;
        }
        format!(
            "fault matrix {} {kinds}: unfaulted {} calls {per_port:?} over {} active minutes, the first {faulted} faulted; {} runs ({} cut short once back in the unfaulted state), faults by kind {:?}, by port {:?}; {} recovered (extra minutes: count {:?}), {} not",
            story.name(),
            baseline.calls.len(),
            baseline.active_ticks,
            self.runs,
            self.converged,
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
    let (end, minutes) = play(story, FaultPlan::counting(), &configs, None).await;
    story.check_unfaulted(&end);
    let baseline = Baseline { end, minutes };
    let unfaulted = violations(story, &baseline.end, &baseline.end);
    assert!(
        unfaulted.is_empty(),
        "{}: the unfaulted run breaks the invariants: {unfaulted:?}\n{:#?}",
        story.name(),
        baseline.end.outcome
    );
    let mut summary = Summary::default();
    for k in 0..baseline.faulted_calls() {
        for kind in kinds {
            let (end, _) = play(story, FaultPlan::at(k, *kind), &configs, Some(&baseline)).await;
            let found = violations(story, &end, &baseline.end);
            summary.add(&end, &baseline.end, &found);
        }
    }
    let line = summary.line(story, &baseline.end, baseline.faulted_calls());
    println!("{line}");
    eprintln!("{line}");
    summary
}
