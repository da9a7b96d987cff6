//! The stories the matrix faults: each builds a world and its instances' scripts; the driver
//! then plays minutes (scripts, the events' executions, the scheduled execution, the world's
//! own moves) until nothing moves any more.

use super::*;

/// A story of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Story {
    /// Six backends launch (launch hook pending), register, one claims and clusterizes,
    /// finalizes; the others poll until the cluster is formed; the scale ticks run throughout.
    Bootstrap,
    /// A clusterized group of six is scaled in to five: one machine deactivated, removed and
    /// terminated.
    ScaleIn,
    /// Auto Scaling terminates a member on its own (terminate hook): deactivated first, then
    /// let go.
    TerminateHook,
    /// A seventh backend launches into the clusterized group (launch hook): deploy, join, join
    /// report, continued.
    LaunchHook,
    /// A member is DOWN in WEKA for three hours: removed and terminated.
    Unhealthy,
    /// As [`Self::ScaleIn`], on members launched ten minutes ago (within terminate's bootstrap
    /// grace).
    ScaleInYoung,
}

impl Story {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Bootstrap => "bootstrap",
            Self::ScaleIn => "scale-in",
            Self::TerminateHook => "terminate-hook",
            Self::LaunchHook => "launch-hook",
            Self::Unhealthy => "unhealthy",
            Self::ScaleInYoung => "scale-in-young",
        }
    }

    /// Fails unless the unfaulted run `end` did what the story is about.
    pub(crate) fn check_unfaulted(self, end: &End) {
        let shown = |id: &str| end.outcome.get(id).map(String::as_str);
        let in_service = end.outcome.values().filter(|v| *v == "InService").count();
        let (gone, serving) = match self {
            Self::Bootstrap => (None, 6),
            Self::ScaleIn | Self::ScaleInYoung => (Some(backend(0).0), 5),
            Self::TerminateHook | Self::Unhealthy => (Some(backend(5).0), 5),
            Self::LaunchHook => (None, 7),
        };
        assert_eq!(
            shown("clusterized"),
            Some("true"),
            "{}: {:#?}",
            self.name(),
            end.outcome
        );
        assert_eq!(in_service, serving, "{}: {:#?}", self.name(), end.outcome);
        if let Some(gone) = gone {
            assert_eq!(
                shown(&gone),
                Some("gone"),
                "{}: {:#?}",
                self.name(),
                end.outcome
            );
        }
    }

    /// The world at the story's start, and the scripts its instances run.
    pub(crate) fn build(self, plan: Arc<FaultPlan>) -> (World, Vec<Agent>) {
        if self == Self::Bootstrap {
            let mut w = World::new(6, 6, WekaModel::default(), plan);
            // Only the user name exists before clusterization; the passwords are made then.
            sync(w.secrets.put("user-id", "weka-deployment")).unwrap();
            let agents = (0..6)
                .map(|n| Agent {
                    machine: w.launch(n, w.now(), true),
                    script: Script::Clusterize,
                })
                .collect();
            return (w, agents);
        }
        let kinds: Vec<M> = (0..6)
            .map(|n| {
                if self == Self::Unhealthy && n == 5 {
                    M::Unhealthy
                } else {
                    M::Healthy
                }
            })
            .collect();
        let ips: Vec<String> = (0..6).map(|n| backend(n).1).collect();
        let machines: Vec<(&str, M)> = ips.iter().map(String::as_str).zip(kinds).collect();
        let mut w = World::new(6, 6, WekaModel::formed(&machines), plan);
        for (name, value) in [
            ("user-id", "weka-deployment"),
            ("deploy-pw-id", "deploy-secret-pw"),
            ("admin-pw-id", "admin-secret-pw"),
        ] {
            sync(w.secrets.put(name, value)).unwrap();
        }
        let age = if self == Self::ScaleInYoung {
            TimeDelta::minutes(10)
        } else {
            TimeDelta::days(3)
        };
        for n in 0..6 {
            let machine = w.launch(n, w.now() - age, false);
            let vm = Vm {
                name: machine.id,
                ..Vm::default()
            };
            sync(w.store.register(Group::Backend, &vm)).unwrap();
        }
        sync(w.store.finalize(Group::Backend, w.now())).unwrap();
        let mut agents = Vec::new();
        match self {
            Self::ScaleIn | Self::ScaleInYoung => w.set_desired(5),
            Self::TerminateHook => w.wait(&backend(5).0, Transition::Terminate),
            Self::LaunchHook => {
                w.set_desired(7);
                agents.push(Agent {
                    machine: w.launch(6, w.now(), true),
                    script: Script::Join,
                });
            }
            Self::Bootstrap | Self::Unhealthy => {}
        }
        (w, agents)
    }
}
