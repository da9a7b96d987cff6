//! `status` `{"type":"plan"}`: the plan it explains is what scale-down then does on the same
//! fakes (same reads, same planner), for several clusters; a pause turns actions into holds;
//! explaining writes nothing and takes no lease.

use super::scale_down_tests::{machines, reads_for, scale_deps, step};
use super::*;
use std::collections::BTreeSet;
use weka_shared::config::asg::AsgConfig;
use weka_shared::domain::control::Pause;
use weka_shared::domain::scale_down::{MachineAction, MachineStep};
use weka_shared::domain::terminate::TerminatePolicy;
use weka_shared::services::inventory::InventoryConfig;
use weka_shared::services::scale_plan::{FloorConfig, PlanSources, explain_now};

/// A fake WEKA answering the reads from `cb`, every mutating call succeeding.
fn weka(cb: &Cb) -> FakeWeka {
    let reads = reads_for(&cb.snap);
    FakeWeka::new(move |_, method, _| Ok(reads.get(method).cloned().unwrap_or_else(|| json!({}))))
}

fn host_ip(cb: &Cb, params: &Value) -> Option<String> {
    let id: HostId = match params.get("host_id") {
        Some(n) => HostId(n.as_i64()?),
        None => params["host_ids"].get(0)?.as_str()?.parse().ok()?,
    };
    Some(cb.snap.hosts.get(&id)?.host_ip.to_string())
}

/// The machines scale-down deactivated and removed, by IP.
fn done(weka: &FakeWeka, cb: &Cb) -> (BTreeSet<String>, BTreeSet<String>) {
    let calls = weka.calls();
    let of = |method: &str| -> BTreeSet<String> {
        calls
            .iter()
            .filter(|(m, _)| m == method)
            .filter_map(|(_, p)| host_ip(cb, p))
            .collect()
    };
    (of("cluster_deactivate_hosts"), of("cluster_remove_host"))
}

fn planned(machines: &[MachineStep], action: MachineAction) -> BTreeSet<String> {
    machines
        .iter()
        .filter(|m| m.action == action)
        .map(|m| m.ip.clone())
        .collect()
}

async fn explain(
    store: &InMemoryStateStore,
    weka: &FakeWeka,
    cb: &Cb,
    floor: FloorConfig,
) -> weka_shared::services::scale_plan::Explanation {
    let sources = PlanSources {
        store,
        secrets: &fake_secrets(),
        secret_ids: &scale_down_config(LifecycleConfig::disabled()).secrets,
        weka,
        floor: &floor,
        lifecycle: &LifecycleConfig::disabled(),
        deadline: None,
    };
    explain_now(&sources, &cb.info, now()).await.unwrap()
}

fn floor(geometry: Option<(u32, u32, u32)>) -> FloorConfig {
    FloorConfig {
        geometry: geometry.map(|(stripe, protection_level, hot_spare)| GeometryConfig {
            stripe_width: Some(stripe),
            protection_level,
            hot_spare,
        }),
        min_cluster_size: 0,
    }
}

/// A named cluster with its configured geometry (stripe, protection, hot spares).
type Cluster = (&'static str, Cb, Option<(u32, u32, u32)>);

/// Several clusters: shrinking, healing, inactive machines to remove, a floor that refuses.
fn clusters() -> Vec<Cluster> {
    let mut out = Vec::new();
    let mut cb = Cb::new(3);
    machines(&mut cb, &[M::Healthy; 4]);
    out.push(("shrink by one", cb, Some((1, 1, 0))));
    let mut cb = Cb::new(6);
    machines(
        &mut cb,
        &[
            M::Healthy,
            M::Healthy,
            M::Healthy,
            M::Healthy,
            M::Healthy,
            M::Unhealthy,
        ],
    );
    out.push(("heal one", cb, Some((3, 2, 0))));
    let mut cb = Cb::new(4);
    machines(
        &mut cb,
        &[
            M::Healthy,
            M::Healthy,
            M::Healthy,
            M::Healthy,
            M::Inactive,
            M::Deactivating,
        ],
    );
    out.push(("remove and keep deactivating", cb, Some((1, 1, 0))));
    let mut cb = Cb::new(2);
    machines(&mut cb, &[M::Healthy; 6]);
    out.push(("floor refuses the shrink", cb, Some((3, 2, 1))));
    let mut cb = Cb::new(8);
    machines(&mut cb, &[M::Healthy; 8]);
    out.push(("steady", cb, Some((3, 2, 1))));
    out
}

#[tokio::test]
async fn the_plan_is_what_scale_down_then_does_for_several_clusters() {
    for (name, cb, geometry) in clusters() {
        let store = clusterized_store().await;
        let reader = weka(&cb);
        let writes = store.writes();
        let explanation = explain(&store, &reader, &cb, floor(geometry)).await;
        assert_eq!(store.writes(), writes, "{name}: explaining writes nothing");
        assert_eq!(lease_holder(&store).await, None, "{name}: no lease");
        assert!(
            reader
                .calls()
                .iter()
                .all(|(m, _)| !m.starts_with("cluster_") && m != "events_trigger_custom"),
            "{name}: explaining changes nothing in WEKA"
        );
        assert!(explanation.skipped.is_none(), "{name}: {explanation:?}");

        let acting = weka(&cb);
        let deps = scale_deps(store, acting.clone(), geometry);
        let out = scale_down::handle(&deps, step(&cb.info), invocation(now()))
            .await
            .unwrap();
        let (deactivated, removed) = done(&acting, &cb);
        assert_eq!(
            planned(&explanation.machines, MachineAction::Deactivate),
            deactivated,
            "{name}: deactivations: {explanation:#?}"
        );
        assert_eq!(
            planned(&explanation.machines, MachineAction::Remove),
            removed,
            "{name}: removals"
        );
        let terminated: BTreeSet<String> = out
            .to_terminate
            .iter()
            .map(|i| i.private_ip.clone())
            .collect();
        let to_terminate: BTreeSet<String> = explanation
            .machines
            .iter()
            .filter(|m| m.terminate)
            .map(|m| m.ip.clone())
            .collect();
        assert_eq!(to_terminate, terminated, "{name}: terminations");
        assert_eq!(explanation.refusal, out.refusal, "{name}: refusal");
        assert_eq!(
            explanation.machines.len(),
            cb.info.weka_backend_instances.len(),
            "{name}: one line per machine"
        );
        assert!(explanation.machines.iter().all(|m| !m.reason.is_empty()));
    }
}

#[tokio::test]
async fn a_paused_plan_holds_what_it_would_do_and_says_why() {
    let (_, cb, geometry) = clusters().remove(0);
    let store = clusterized_store().await;
    store
        .pause(&Pause::new("ops@example", "disk swap", now()))
        .await
        .unwrap();
    let explanation = explain(&store, &weka(&cb), &cb, floor(geometry)).await;
    assert!(planned(&explanation.machines, MachineAction::Deactivate).is_empty());
    let held: Vec<&MachineStep> = explanation
        .machines
        .iter()
        .filter(|m| m.action == MachineAction::Hold)
        .collect();
    assert_eq!(held.len(), 1, "{explanation:#?}");
    assert!(
        held[0].reason.starts_with("would deactivate: scale down; held: scale-down and terminations are paused by ops@example"),
        "{}",
        held[0].reason
    );
}

#[tokio::test]
async fn status_answers_the_plan_with_the_last_run_pause_and_lease() {
    let (_, cb, _) = clusters().remove(0);
    let mut deps = status_deps(clusterized_store().await, weka(&cb), now());
    let groups = FakeScalingGroups::default();
    let mut instances: Vec<GroupInstance> = cb
        .info
        .weka_backend_instances
        .iter()
        .map(|i| group_instance(&i.id, &i.private_ip, now() - TimeDelta::days(5)))
        .collect();
    // Two newcomers WEKA does not run: one within the bootstrap grace, one long past it.
    instances.push(group_instance(
        "i-young",
        "10.9.9.1",
        now() - TimeDelta::minutes(5),
    ));
    instances.push(group_instance(
        "i-stray",
        "10.9.9.2",
        now() - TimeDelta::hours(2),
    ));
    groups.add_group(ASG, 3, instances);
    deps.groups = groups;
    deps.inventory.add_running(
        "poc",
        "backend",
        cb.info
            .weka_backend_instances
            .iter()
            .map(|i| Instance {
                id: i.id.clone(),
                private_ip: Some(i.private_ip.clone()),
                private_dns_name: None,
            })
            .collect(),
    );
    deps.config.cluster_name = "poc".to_owned();
    deps.config.plan = Some(status::PlanConfig {
        inventory: InventoryConfig {
            cluster_name: "poc".to_owned(),
            groups: AsgConfig {
                backend: ASG.to_owned(),
                nfs: None,
            },
            role: "backend".to_owned(),
            down_backends_removal_timeout: Duration::from_secs(3 * 3600),
        },
        floor: floor(Some((1, 1, 0))),
        lifecycle: LifecycleConfig::disabled(),
        terminate: TerminatePolicy::default(),
    });
    let answer = status::handle(&deps, json!({"type": "plan"}), None)
        .await
        .unwrap();
    // Terminate's side, on the answer the plan predicts: the grace holds the newcomer, the
    // stray past it would be terminated, the machines WEKA runs are not its business.
    let instances: Vec<(&str, &str)> = answer["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["instance_id"].as_str().unwrap(),
                i["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        instances,
        [("i-stray", "terminate"), ("i-young", "hold")],
        "{answer:#}"
    );
    assert!(
        answer["instances"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("bootstrap grace"),
        "{answer:#}"
    );
    assert_eq!(answer["desired"], 3);
    assert_eq!(
        answer["machines"].as_array().unwrap().len(),
        4,
        "{answer:#}"
    );
    let deactivate: Vec<&Value> = answer["machines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["action"] == "deactivate")
        .collect();
    assert_eq!(deactivate.len(), 1, "{answer:#}");
    assert_eq!(deactivate[0]["reason"], "scale down");
    assert!(
        deactivate[0]["instance_id"]
            .as_str()
            .unwrap()
            .starts_with("i-")
    );
    assert_eq!(answer["paused"], Value::Null);
    assert_eq!(answer["last_run"], Value::Null);
    assert_eq!(answer["lease"], Value::Null);

    // Paused: status shows the pause, and both sides' holds cite it in one wording.
    deps.store
        .pause(&Pause::new("ops@example", "disk swap", now()))
        .await
        .unwrap();
    let answer = status::handle(&deps, json!({"type": "plan"}), None)
        .await
        .unwrap();
    assert_eq!(answer["paused"]["paused_by"], "ops@example", "{answer:#}");
    let machine_hold: Vec<&str> = answer["machines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["action"] == "hold")
        .map(|m| m["reason"].as_str().unwrap())
        .collect();
    let cited = "held: scale-down and terminations are paused by ops@example since 2026-";
    assert_eq!(machine_hold.len(), 1, "{answer:#}");
    let pause_text = &machine_hold[0][machine_hold[0].find(cited).expect("machine hold")..];
    assert!(
        answer["instances"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["instance_id"] == "i-stray"
                && i["action"] == "hold"
                && i["reason"].as_str().unwrap().ends_with(pause_text)),
        "terminate's hold cites the pause as scale-down's does ({pause_text}): {answer:#}"
    );

    deps.config.plan = None;
    let refused = status::handle(&deps, json!({"type": "plan"}), None)
        .await
        .unwrap_err();
    assert_eq!(refused.class(), ErrorClass::InvalidInput);
}

#[tokio::test]
async fn a_floor_refusal_is_an_event_once_per_change_not_every_run() {
    let mut cb = Cb::new(2);
    machines(&mut cb, &[M::Healthy; 6]);
    let deps = scale_deps(clusterized_store().await, weka(&cb), Some((3, 2, 1)));
    for _ in 0..3 {
        let out = scale_down::handle(&deps, step(&cb.info), invocation(now()))
            .await
            .unwrap();
        assert!(out.refusal.is_some());
        deps.store
            .release_lease(SCALE_LEASE, "exec-1")
            .await
            .unwrap();
    }
    let events = deps.store.events().await.unwrap();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(
        events[0].kind,
        weka_shared::domain::events::EventKind::Refusal
    );
    assert!(
        events[0]
            .reason
            .starts_with("safety floor: desired 2 machine(s), at least 6 must stay active"),
        "{}",
        events[0].reason
    );
}
