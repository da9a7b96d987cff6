//! The instances' scripts, one step per world tick: a bootstrap member calls `clusterize` and
//! runs what it answers (the clusterization script creates the cluster unless the members
//! already form one, then calls `clusterize-finalization`; a registered member polls again
//! next minute); a backend launched into a formed cluster calls `deploy`, joins and reports
//! `Join completed successfully`.

use super::*;

/// Where an instance's script is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Script {
    /// Calls `clusterize` (again, as a registered member's poll).
    Clusterize,
    /// Calls `deploy`, joins, reports.
    Join,
    /// Finished.
    Done,
    /// Exited with an error (reported).
    Died(String),
}

/// One instance and its script.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    pub machine: Machine,
    pub script: Script,
}

impl Agent {
    pub(crate) fn finished(&self) -> bool {
        matches!(self.script, Script::Done | Script::Died(_))
    }

    /// One step of the script.
    pub(crate) async fn act(&mut self, w: &World, configs: &Configs) {
        if self.machine.terminated
            || w.machines
                .get(&self.machine.id)
                .is_some_and(|m| m.terminated)
        {
            self.script = Script::Died("terminated".to_owned());
            return;
        }
        self.script = match self.script.clone() {
            Script::Clusterize => self.clusterize(w, configs).await,
            Script::Join => self.join(w, configs).await,
            done => done,
        };
    }

    async fn clusterize(&self, w: &World, configs: &Configs) -> Script {
        let script = match w.clusterize(configs, &self.machine.id).await {
            Answer::Ok(script) => script,
            other => return self.die(w, format!("clusterize: {other:?}")).await,
        };
        if script.contains("weka cluster create") {
            // The script carries the members' IPs; the set as stored is the same list.
            let members = sync(w.store.load(Group::Backend)).unwrap().instances;
            let ips: Vec<String> = members
                .iter()
                .map(|vm| w.machines[&vm.name].ip.clone())
                .collect();
            w.weka.create_unless_formed(&ips);
            drop(
                w.report(&self.machine.ip, "Clusterization completed successfully")
                    .await,
            );
            return match w.finalization().await {
                Answer::Ok(_) => Script::Done,
                other => {
                    self.die(w, format!("clusterize_finalization: {other:?}"))
                        .await
                }
            };
        }
        if script.contains("ready for clusterization") {
            return Script::Clusterize;
        }
        if script.contains("of the clusterized set") {
            return Script::Done;
        }
        self.die(w, "not needed".to_owned()).await
    }

    async fn join(&self, w: &World, configs: &Configs) -> Script {
        let script = match w.deploy(configs, &self.machine.id).await {
            Answer::Ok(script) => script,
            other => return self.die(w, format!("deploy: {other:?}")).await,
        };
        if !script.contains("Join completed successfully") {
            return self
                .die(w, "deploy answered no join script".to_owned())
                .await;
        }
        if !w.weka.join(&self.machine.ip) {
            return self.die(w, "no cluster to join".to_owned()).await;
        }
        match w
            .report(&self.machine.ip, "Join completed successfully")
            .await
        {
            Answer::Ok(_) => Script::Done,
            other => Script::Died(format!("join report: {other:?}")),
        }
    }

    /// `die` in the scripts: report the error (best effort), exit 1.
    async fn die(&self, w: &World, why: String) -> Script {
        let payload = json!({"type": "error", "message": why, "hostname": hostname(&self.machine.ip), "protocol": ""});
        let deps = w.report_deps();
        drop(
            w.invoke(BOOTSTRAP_TIMEOUT, report::handle(&deps, payload))
                .await,
        );
        Script::Died(why)
    }
}

/// Runs a fake's future that never waits.
pub(crate) fn sync<F: Future>(future: F) -> F::Output {
    future.now_or_never().expect("in-memory fakes never wait")
}
