//! The callers of the real handlers: the instance scripts (deploy, clusterize and its
//! clusterization script, finalization, reports), each call retried as the scripts' Lambda
//! wrapper does, and the scale state machine (Fetch → ScaleDown [→ ScaleDownFailed] →
//! Terminate) with the retries and catches of `state-machine/scale.asl.json`.

use super::*;

/// Attempts of an instance script's Lambda call (`WEKA_LAMBDA_ATTEMPTS`, prelude.sh).
const SCRIPT_ATTEMPTS: usize = 5;
/// Attempts of a scale step on `Weka.Transient` (1 + the ASL's `MaxAttempts: 2`).
pub(crate) const STEP_ATTEMPTS: usize = 3;

/// The configurations every handler gets, read once.
pub(crate) struct Configs {
    clusterize: clusterize::Config,
    deploy: deploy::Config,
    scale_fetch: scale_fetch::Config,
}

impl Configs {
    pub(crate) fn new() -> Self {
        let env = bootstrap_env();
        let fetch_env = scale_fetch_env(
            ASG,
            &[
                ("LAUNCH_LIFECYCLE_HOOK_NAME", LAUNCH_HOOK),
                ("TERMINATE_LIFECYCLE_HOOK_NAME", TERMINATE_HOOK),
            ],
        );
        Self {
            clusterize: clusterize::Config {
                callers: callers(),
                ..clusterize::Config::from_lookup(&env).unwrap()
            },
            deploy: deploy::Config::from_lookup(&env).unwrap(),
            scale_fetch: scale_fetch::Config::from_lookup(&fetch_env).unwrap(),
        }
    }
}

/// Calls `call` as an instance script does: again after a transient failure or a timeout, up
/// to [`SCRIPT_ATTEMPTS`] times.
async fn retried<T, F: Future<Output = Answer<T>>>(mut call: impl FnMut() -> F) -> Answer<T> {
    let mut answer = call().await;
    for _ in 1..SCRIPT_ATTEMPTS {
        if !answer.worth_retrying() {
            break;
        }
        answer = call().await;
    }
    answer
}

impl World {
    pub(crate) async fn clusterize(&self, configs: &Configs, id: &str) -> Answer<String> {
        let payload = serde_json::to_value(Vm {
            name: id.to_owned(),
            ..Vm::default()
        })
        .unwrap();
        retried(|| async {
            let deps = clusterize::Deps {
                store: self.faulty(&self.store),
                groups: self.faulty(&self.groups),
                inventory: self.faulty(&self.inventory),
                secrets: self.faulty(&self.secrets),
                clock: self.clock,
                config: configs.clusterize.clone(),
            };
            let answer = clusterize::handle(&deps, payload.clone());
            self.invoke(BOOTSTRAP_TIMEOUT, answer).await
        })
        .await
    }

    pub(crate) async fn deploy(&self, configs: &Configs, id: &str) -> Answer<String> {
        let payload = serde_json::to_value(Vm {
            name: id.to_owned(),
            ..Vm::default()
        })
        .unwrap();
        retried(|| async {
            let deps = deploy::Deps {
                store: self.faulty(&self.store),
                inventory: self.faulty(&self.inventory),
                config: configs.deploy.clone(),
            };
            let answer = deploy::handle(&deps, payload.clone());
            self.invoke(BOOTSTRAP_TIMEOUT, answer).await
        })
        .await
    }

    pub(crate) async fn finalization(&self) -> Answer<&'static str> {
        retried(|| async {
            let deps = clusterize_finalization::Deps {
                store: self.faulty(&self.store),
                inventory: self.faulty(&self.inventory),
                clock: self.clock,
                groups: self.faulty(&self.groups),
                lifecycle: lifecycle(),
                callers: callers(),
            };
            let answer = clusterize_finalization::handle(&deps, json!({}));
            self.invoke(BOOTSTRAP_TIMEOUT, answer).await
        })
        .await
    }

    /// `report` as an instance calls it.
    pub(crate) fn report_deps(
        &self,
    ) -> report::Deps<Faulty<InMemoryStateStore>, TokioClock, Faulty<FakeScalingGroups>> {
        report::Deps {
            store: self.faulty(&self.store),
            clock: self.clock,
            groups: self.faulty(&self.groups),
            config: report::Config {
                state: state_config(),
                reports_per_host: 50,
                retention: Duration::from_secs(86_400),
                lifecycle: lifecycle(),
                callers: callers(),
            },
        }
    }

    pub(crate) async fn report(&self, ip: &str, message: &str) -> Answer<&'static str> {
        let payload = json!({"type": "progress", "message": message, "hostname": hostname(ip), "protocol": ""});
        retried(|| async {
            let deps = self.report_deps();
            let answer = report::handle(&deps, payload.clone());
            self.invoke(BOOTSTRAP_TIMEOUT, answer).await
        })
        .await
    }

    /// Whether `execution` may act now: the lease is free, expired or its own.
    fn may_act(&self, execution: &str) -> bool {
        self.store
            .lease(SCALE_LEASE)
            .is_none_or(|l| l.owner == execution || l.expires_at <= self.now())
    }

    /// One scale step, retried on `Weka.Transient` as the state machine does; a timeout is
    /// not retried (it is caught). Auto Scaling's side of its calls is applied after each try.
    async fn step<T>(
        &mut self,
        execution: &str,
        call: impl AsyncFn(&Self) -> Answer<T>,
    ) -> Answer<T> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let leased = self.may_act(execution);
            let acting = (execution.to_owned(), Arc::clone(&self.store), self.clock);
            self.weka.acting(Some(acting));
            let answer = call(self).await;
            self.weka.acting(None);
            self.observe(Some((execution, leased)));
            match &answer {
                Answer::Failed(ErrorClass::Transient, _) if attempt < STEP_ATTEMPTS => {}
                _ => return answer,
            }
        }
    }

    /// One execution of the scale state machine, started by `event`.
    pub(crate) async fn execution(&mut self, configs: &Configs, event: Value) -> Ending {
        self.executions += 1;
        let execution = format!("exec-{}", self.executions);
        let payload = json!({"execution": execution, "event": event});
        let fetched = self
            .step(&execution, async |w: &Self| {
                let deps = scale_fetch::Deps {
                    groups: w.faulty(&w.groups),
                    inventory: w.faulty(&w.inventory),
                    store: w.faulty(&w.store),
                    clock: w.clock,
                    config: configs.scale_fetch.clone(),
                };
                let invocation = w.invocation(SCALE_FETCH_TIMEOUT);
                let answer = scale_fetch::handle(&deps, payload.clone(), invocation);
                w.invoke(SCALE_FETCH_TIMEOUT, answer).await
            })
            .await;
        let info = match fetched {
            Answer::Ok(info) => info,
            Answer::Failed(ErrorClass::Conflict, _) => return Ending::LeaseHeld,
            other => return Ending::Failed(format!("fetch: {other:?}")),
        };
        let payload = json!({"execution": execution, "input": info});
        let scaled = self
            .step(&execution, async |w: &Self| {
                let deps = scale_down::Deps {
                    store: w.faulty(&w.store),
                    secrets: w.faulty(&w.secrets),
                    weka: w.weka(),
                    clock: w.clock,
                    config: scale_down_config(lifecycle()),
                };
                let invocation = w.invocation(SCALE_DOWN_TIMEOUT);
                let answer = scale_down::handle(&deps, payload.clone(), invocation);
                w.invoke(SCALE_DOWN_TIMEOUT, answer).await
            })
            .await;
        let mut scale_down_failed = None;
        let scale = match scaled {
            Answer::Ok(scale) => serde_json::to_value(scale).unwrap(),
            Answer::Failed(ErrorClass::Conflict, _) => return Ending::LeaseHeld,
            other => {
                // ScaleDownFailed: terminate runs on no scale answer and the caught failure.
                let (error, message) = match &other {
                    Answer::Failed(class, message) => (class.error_type(), message.clone()),
                    _ => ("States.Timeout", "task timed out".to_owned()),
                };
                let failure =
                    json!({"Error": error, "Cause": json!({"errorMessage": message}).to_string()});
                scale_down_failed = Some(format!("scale-down: {other:?}"));
                json!({"hosts": [], "to_terminate": [], "TransientErrors": null, "version": 1, "scale_down_failure": failure})
            }
        };
        let payload = json!({"execution": execution, "input": scale});
        let terminated = self
            .step(&execution, async |w: &Self| {
                let deps = terminate::Deps {
                    groups: w.faulty(&w.groups),
                    store: w.faulty(&w.store),
                    clock: w.clock,
                    config: terminate_config(ASG, None, TerminatePolicy::default(), lifecycle()),
                };
                let invocation = w.invocation(TERMINATE_TIMEOUT);
                let answer = terminate::handle(&deps, payload.clone(), invocation);
                w.invoke(TERMINATE_TIMEOUT, answer).await
            })
            .await;
        match (terminated, scale_down_failed) {
            (Answer::Failed(ErrorClass::Conflict, _), _) => Ending::LeaseHeld,
            (Answer::Ok(_), None) => Ending::Done,
            (Answer::Ok(_), Some(failure)) => Ending::Failed(failure),
            (other, _) => Ending::Failed(format!("terminate: {other:?}")),
        }
    }
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Success (with or without transient errors: `Transient` only reports them).
    Done,
    /// Another execution held the lease.
    LeaseHeld,
    /// Failed, with the step and its error.
    Failed(String),
}
