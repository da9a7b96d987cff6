//! The world a story runs in: the fakes behind every port, the fault plan every handler call
//! goes through, what Auto Scaling and EC2 do on their own (hook timeouts, terminated
//! instances leaving), and the history the invariants are checked on.

use super::*;

/// How an invocation ended, as its caller sees it.
#[derive(Debug)]
pub(crate) enum Answer<T> {
    /// It answered.
    Ok(T),
    /// It failed with this error type and message.
    Failed(ErrorClass, String),
    /// The Lambda was killed at its timeout (a call hung).
    Killed,
}

impl<T> Answer<T> {
    /// Whether a caller that retries transient failures would call again: the instance scripts
    /// retry a transient error or a timeout, never an answer that stands.
    pub(crate) fn worth_retrying(&self) -> bool {
        matches!(self, Self::Killed | Self::Failed(ErrorClass::Transient, _))
    }
}

/// Something that happened to an instance, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// A launch action ended with ABANDON (explicitly or by its heartbeat timeout): the
    /// instance is terminated; `member` when it belonged to the clusterized group or WEKA.
    LaunchAbandoned { instance: String, member: bool },
    /// The instance was terminated (TerminateInstances or its terminate hook completing) while
    /// WEKA still counted on its machine.
    ActiveTerminated { instance: String, how: String },
    /// A scale step mutated Auto Scaling while another execution held the lease.
    UnleasedMutation { execution: String, call: String },
}

/// One backend instance of the story.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub id: String,
    pub ip: String,
    pub terminated: bool,
}

/// The hook timers Auto Scaling keeps: when each pending action last heard from us.
#[derive(Debug, Clone)]
struct Timer {
    transition: Transition,
    last_heard: DateTime<Utc>,
}

pub(crate) struct World {
    pub store: Arc<InMemoryStateStore>,
    pub groups: Arc<FakeScalingGroups>,
    pub inventory: Arc<FakeInventory>,
    pub secrets: Arc<FakeSecrets>,
    pub weka: WekaModel,
    weka_connector: Arc<FakeWeka>,
    pub clock: TokioClock,
    pub plan: Arc<FaultPlan>,
    pub machines: BTreeMap<String, Machine>,
    pub events: Vec<Event>,
    timers: BTreeMap<String, Timer>,
    seen_calls: usize,
    pub executions: usize,
    /// Auto Scaling events not yet delivered: each starts an execution.
    pub queued: Vec<Value>,
}

pub(crate) const ASG: &str = BACKEND_GROUP;
pub(crate) const LAUNCH_HOOK: &str = "weka-launch";
pub(crate) const TERMINATE_HOOK: &str = "weka-terminate";
/// Lambda timeouts, as `infra/locals.tf` sets them.
pub(crate) const BOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(30);
pub(crate) const SCALE_FETCH_TIMEOUT: Duration = Duration::from_secs(30);
pub(crate) const SCALE_DOWN_TIMEOUT: Duration = Duration::from_secs(120);
pub(crate) const TERMINATE_TIMEOUT: Duration = Duration::from_secs(60);
/// What Auto Scaling does when a hook's heartbeat timeout passes (the module's default result).
const HOOK_TIMEOUT: Duration = Duration::from_secs(900);

pub(crate) fn lifecycle() -> LifecycleConfig {
    LifecycleConfig::with_hooks(ASG, LAUNCH_HOOK, TERMINATE_HOOK)
}

/// The `n`-th backend: `10.100.100.(11+n)`, with the instance id the WEKA builder gives it.
pub(crate) fn backend(n: usize) -> (String, String) {
    let ip = format!("10.100.100.{}", 11 + n);
    (format!("i-{}", ip.replace('.', "")), ip)
}

pub(crate) fn hostname(ip: &str) -> String {
    format!("ip-{}.ec2.internal", ip.replace('.', "-"))
}

impl World {
    /// A world at `now()` with a backend group of `desired`, a registration set of `set_size`,
    /// and WEKA as `weka` has it; every handler call goes through `plan`.
    pub(crate) fn new(set_size: u32, desired: u32, weka: WekaModel, plan: Arc<FaultPlan>) -> Self {
        let groups = FakeScalingGroups::default();
        groups.add_group(ASG, desired, Vec::new());
        groups.add_group(NFS_GROUP, 0, Vec::new());
        let weka_connector = Arc::new(weka.connector());
        Self {
            store: Arc::new(InMemoryStateStore::with_sizes(set_size, 0)),
            groups: Arc::new(groups),
            inventory: Arc::new(FakeInventory::default()),
            secrets: Arc::new(FakeSecrets::default()),
            weka,
            weka_connector,
            clock: TokioClock::starting_at(now()),
            plan,
            machines: BTreeMap::new(),
            events: Vec::new(),
            timers: BTreeMap::new(),
            seen_calls: 0,
            executions: 0,
            queued: Vec::new(),
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(crate) fn faulty<P>(&self, port: &Arc<P>) -> Faulty<P> {
        Faulty::new(Arc::clone(port), Arc::clone(&self.plan))
    }

    pub(crate) fn weka(&self) -> Faulty<FakeWeka> {
        self.faulty(&self.weka_connector)
    }

    // --- the fleet -----------------------------------------------------------------------------

    /// Backend `n` runs since `launched`: in the group (in service, or waiting at launch under
    /// our hook) and tagged in EC2.
    pub(crate) fn launch(&mut self, n: usize, launched: DateTime<Utc>, waiting: bool) -> Machine {
        let (id, ip) = backend(n);
        let mut instance = group_instance(&id, &ip, launched);
        instance
            .tags
            .insert("weka_cluster_name".to_owned(), CLUSTER_NAME.to_owned());
        let mut group = self.groups.group(ASG).unwrap();
        group.instances.push(instance);
        self.groups
            .add_group(ASG, group.desired_capacity, group.instances);
        self.inventory.add_running(
            CLUSTER_NAME,
            "backend",
            vec![Instance {
                id: id.clone(),
                private_ip: Some(ip.clone()),
                private_dns_name: None,
            }],
        );
        if waiting {
            self.wait(&id, Transition::Launch);
        }
        let machine = Machine {
            id: id.clone(),
            ip,
            terminated: false,
        };
        self.machines.insert(id, machine.clone());
        machine
    }

    /// Auto Scaling holds `id` in `transition`'s wait state under our hook.
    pub(crate) fn wait(&mut self, id: &str, transition: Transition) {
        let hook = match transition {
            Transition::Launch => LAUNCH_HOOK,
            Transition::Terminate => TERMINATE_HOOK,
        };
        self.groups.add_pending_action(ASG, hook, id, transition);
        let (detail_type, aws_transition) = match transition {
            Transition::Launch => (
                "EC2 Instance-launch Lifecycle Action",
                "autoscaling:EC2_INSTANCE_LAUNCHING",
            ),
            Transition::Terminate => (
                "EC2 Instance-terminate Lifecycle Action",
                "autoscaling:EC2_INSTANCE_TERMINATING",
            ),
        };
        self.queued.push(json!({
            "version": "0",
            "id": format!("event-{id}"),
            "detail-type": detail_type,
            "source": "aws.autoscaling",
            "account": "123456789012",
            "time": self.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "region": "us-east-1",
            "resources": [],
            "detail": {
                "LifecycleActionToken": format!("token-{id}"),
                "AutoScalingGroupName": ASG,
                "LifecycleHookName": hook,
                "EC2InstanceId": id,
                "LifecycleTransition": aws_transition,
            }
        }));
        self.timers.insert(
            id.to_owned(),
            Timer {
                transition,
                last_heard: self.now(),
            },
        );
    }

    /// Sets the group's desired capacity.
    pub(crate) fn set_desired(&self, desired: u32) {
        let group = self.groups.group(ASG).unwrap();
        self.groups.add_group(ASG, desired, group.instances);
    }

    fn ip_of(&self, id: &str) -> Option<String> {
        self.machines.get(id).map(|m| m.ip.clone())
    }

    /// Whether `id` belongs to the cluster: registered in a clusterized set, or WEKA runs it.
    fn is_member(&self, id: &str) -> bool {
        let state = sync(self.store.load(Group::Backend)).unwrap();
        (state.clusterized && state.instances.iter().any(|vm| vm.name == id))
            || self.ip_of(id).is_some_and(|ip| self.weka.counts_on(&ip))
    }

    /// The instance is gone: out of its group, out of EC2's running list, its machine DOWN.
    fn gone(&mut self, id: &str) {
        let group = self.groups.group(ASG).unwrap();
        let instances = group
            .instances
            .into_iter()
            .filter(|i| i.instance.id != id)
            .collect();
        self.groups
            .add_group(ASG, group.desired_capacity, instances);
        for list in self.inventory.running.lock().unwrap().values_mut() {
            list.retain(|i| i.id != id);
        }
        self.timers.remove(id);
        if let Some(machine) = self.machines.get_mut(id) {
            machine.terminated = true;
            let ip = machine.ip.clone();
            self.weka.machine_gone(&ip);
        }
    }

    /// Applies what Auto Scaling and EC2 do with the calls they received since last time, and
    /// checks each against the invariants at the moment it landed. `acting` names the scale
    /// execution that made them, with whether it held the lease when its step started.
    pub(crate) fn observe(&mut self, acting: Option<(&str, bool)>) {
        let calls = self.groups.calls();
        let new: Vec<ScalingCall> = calls[self.seen_calls..].to_vec();
        self.seen_calls = calls.len();
        for call in new {
            if let Some((execution, leased)) = acting
                && !leased
            {
                self.events.push(Event::UnleasedMutation {
                    execution: execution.to_owned(),
                    call: format!("{call:?}"),
                });
            }
            match call {
                ScalingCall::Terminate { ids } => {
                    for id in ids {
                        self.terminated(&id, "TerminateInstances");
                    }
                }
                ScalingCall::CompleteLifecycle {
                    target,
                    result,
                    answer: LifecycleAnswer::Accepted,
                } => {
                    let id = target.instance_id;
                    let transition = self.timers.get(&id).map(|t| t.transition);
                    self.timers.remove(&id);
                    match (transition, result) {
                        (Some(Transition::Launch), LifecycleResult::Continue) => {}
                        (Some(Transition::Launch), LifecycleResult::Abandon) => {
                            self.abandoned(&id);
                        }
                        _ => self.terminated(&id, "its terminate hook completed"),
                    }
                }
                ScalingCall::Heartbeat {
                    target,
                    answer: LifecycleAnswer::Accepted,
                } => {
                    let now = self.now();
                    if let Some(timer) = self.timers.get_mut(&target.instance_id) {
                        timer.last_heard = now;
                    }
                }
                ScalingCall::Detach { ids, .. } => {
                    for id in ids {
                        self.timers.remove(&id);
                    }
                }
                _ => {}
            }
        }
    }

    fn abandoned(&mut self, id: &str) {
        let member = self.is_member(id);
        self.events.push(Event::LaunchAbandoned {
            instance: id.to_owned(),
            member,
        });
        self.gone(id);
    }

    fn terminated(&mut self, id: &str, how: &str) {
        if self.ip_of(id).is_some_and(|ip| self.weka.counts_on(&ip)) {
            self.events.push(Event::ActiveTerminated {
                instance: id.to_owned(),
                how: how.to_owned(),
            });
        }
        self.gone(id);
    }

    /// Whole minutes since the story began.
    pub(crate) fn minute(&self) -> usize {
        usize::try_from((self.now() - now()).num_seconds() / 60).unwrap()
    }

    /// The world moves on to the next minute (the schedule's next start; a minute a hung call
    /// took is not played twice): deactivations finish, and hooks nobody answered or
    /// heartbeated for their timeout end with Auto Scaling's default result (ABANDON).
    pub(crate) async fn tick(&mut self) {
        let next = now() + TimeDelta::minutes(i64::try_from(self.minute()).unwrap() + 1);
        tokio::time::advance((next - self.now()).to_std().unwrap()).await;
        self.weka.tick();
        let now = self.now();
        let timeout = TimeDelta::from_std(HOOK_TIMEOUT).unwrap();
        let expired: Vec<(String, Transition)> = self
            .timers
            .iter()
            .filter(|(_, t)| now - t.last_heard >= timeout)
            .map(|(id, t)| (id.clone(), t.transition))
            .collect();
        for (id, transition) in expired {
            let target = LifecycleTarget {
                group: ASG.to_owned(),
                hook: match transition {
                    Transition::Launch => LAUNCH_HOOK,
                    Transition::Terminate => TERMINATE_HOOK,
                }
                .to_owned(),
                instance_id: id.clone(),
                token: None,
            };
            // Auto Scaling itself: not a port call of ours, so not faulted or counted.
            self.groups
                .complete_lifecycle_action(&target, LifecycleResult::Abandon)
                .await
                .unwrap();
            self.observe(None);
        }
    }

    /// Everything the rest of a run depends on (the store's state, records, lease and notes;
    /// the groups; EC2; WEKA; the hook timers; the time): two runs with the same fingerprint at
    /// the same minute go on the same way.
    pub(crate) fn fingerprint(&self) -> String {
        let store = &self.store;
        let notes: Vec<_> = [
            SCALE_NOTE,
            LEASE_NOTE,
            SCALE_DOWN_FAILURE_NOTE,
            WEKA_REFUSALS_NOTE,
        ]
        .into_iter()
        .map(|name| sync(store.note(name)).unwrap())
        .collect();
        let running: BTreeMap<_, _> = self
            .inventory
            .running
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), format!("{v:?}")))
            .collect();
        let pending: Vec<bool> = self
            .machines
            .keys()
            .map(|id| self.groups.is_pending(id))
            .collect();
        format!(
            "{:?}|{:?}|{:?}|{:?}|{notes:?}|{:?}|{running:?}|{pending:?}|{:?}|{}|{:?}|{:?}",
            sync(store.load(Group::Backend)).unwrap(),
            sync(store.load(Group::Nfs)).unwrap(),
            sync(store.lifecycle_actions()).unwrap(),
            store.lease(SCALE_LEASE),
            self.groups.group(ASG),
            self.timers,
            self.weka.fingerprint(),
            self.machines,
            self.now(),
        )
    }

    /// Nothing is left to happen: every script finished, no lifecycle action pending, and no
    /// execution holds the lease (a dead holder's lease would keep the next runs waiting).
    pub(crate) fn at_rest(&self, agents: &[Agent]) -> bool {
        agents.iter().all(Agent::finished) && self.timers.is_empty() && self.lease_free()
    }

    /// No execution holds the scale lease now.
    pub(crate) fn lease_free(&self) -> bool {
        self.store
            .lease(SCALE_LEASE)
            .is_none_or(|l| l.expires_at <= self.now())
    }

    // --- invocations ---------------------------------------------------------------------------

    /// Runs one Lambda invocation that the runtime kills at `timeout`.
    pub(crate) async fn invoke<T, E>(
        &self,
        timeout: Duration,
        call: impl Future<Output = Result<T, E>>,
    ) -> Answer<T>
    where
        E: Classify + std::error::Error,
    {
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(answer)) => Answer::Ok(answer),
            Ok(Err(e)) => Answer::Failed(e.class(), error_chain(&e)),
            Err(_) => Answer::Killed,
        }
    }

    pub(crate) fn invocation(&self, timeout: Duration) -> Invocation {
        Invocation {
            request_id: format!("req-{}", self.plan.call_count()),
            deadline: Some(self.now() + TimeDelta::from_std(timeout).unwrap()),
        }
    }
}
