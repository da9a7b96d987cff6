//! Review H4b: the clusterizing instance's `clusterize-finalization` call was lost for good. The
//! control plane sees the formed cluster in WEKA itself and finalizes the group; the members'
//! launch actions are then continued by the terminate step's lifecycle pass. A set still forming,
//! or a cluster of other hosts, is left alone.

use super::*;
use weka_shared::ports::WekaError;
use weka_shared::testing::FakeWeka;

const MEMBERS: [&str; 6] = [
    "i-10001", "i-10002", "i-10003", "i-10004", "i-10005", "i-10006",
];

/// Six members registered, `i-10006` claimed the clusterization now, every member waits in
/// `Pending:Wait` with its event recorded; WEKA answers with `weka`.
async fn lost_finalization_world(weka: FakeWeka) -> World {
    let mut w = World::forming(6);
    for id in MEMBERS {
        w.register(id).await;
    }
    let claim = w
        .store
        .claim_clusterization(Group::Backend, "i-10006", now(), Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(matches!(
        claim,
        weka_shared::domain::state::ClaimOutcome::Granted { .. }
    ));
    w.groups.add_group(ASG, 6, six_old_instances());
    for (n, id) in MEMBERS.iter().enumerate() {
        w.pending(id, Transition::Launch);
        w.record(id, Transition::Launch, &format!("10.0.0.{}", n + 1), now())
            .await;
    }
    w.weka = weka;
    w
}

/// One state-machine run `n` minutes after the last: scale-down on `info`, then terminate on its
/// answer (which releases the lease and runs the lifecycle pass). Returns scale-down's answer.
async fn run(w: &mut World, minutes: i64, info: &HostGroupInfoResponse) -> ScaleResponse {
    w.advance(minutes * 60);
    let execution = format!("exec-{}", w.now.timestamp());
    let scale = w.scale_down(&execution, info).await;
    w.terminate_ok(&execution, &scale).await;
    scale
}

async fn clusterized(w: &World) -> bool {
    w.store.load(Group::Backend).await.unwrap().clusterized
}

/// WEKA unreachable: every call fails as a timeout of every backend would.
fn unreachable_weka() -> FakeWeka {
    FakeWeka::new(|ips, method, _| {
        Err(WekaError::Unreachable {
            ip: ips.first().cloned().unwrap_or_default(),
            source: format!("{method}: connection refused").into(),
        })
    })
}

#[tokio::test]
async fn a_formed_cluster_whose_finalization_was_lost_is_finalized_by_scale_down() {
    let cb = six_healthy_backends();
    let mut w = lost_finalization_world(live_weka(Arc::new(Mutex::new(cb.snap.clone())))).await;

    // While the clusterizer may still be finishing its script, the group is left to it; the
    // members are kept waiting (heartbeats), none is continued or abandoned.
    for _ in 0..2 {
        let scale = run(&mut w, 5, &cb.info).await;
        assert!(scale.hosts.is_empty());
        assert!(!clusterized(&w).await);
    }
    assert!(w.groups.completions().is_empty());

    // The script is done (it would have called finalization by now): the call was lost.
    let scale = run(&mut w, 10, &cb.info).await;
    assert!(
        clusterized(&w).await,
        "the control plane finalized the formed cluster"
    );
    assert!(scale.to_terminate.is_empty());
    // The lifecycle pass of the same run continued every member.
    let mut completions = w.groups.completions();
    completions.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        completions,
        MEMBERS.iter().map(|id| continued(id)).collect::<Vec<_>>()
    );
    for id in MEMBERS {
        assert_eq!(
            w.phase(id, Transition::Launch),
            Some(LifecyclePhase::Completed),
            "{id}"
        );
    }
    // The next runs scale the formed cluster as usual; the clusterizer's own call, should it
    // arrive late, is answered as before (idempotent) and sends nothing twice.
    let scale = run(&mut w, 1, &cb.info).await;
    assert_eq!(scale.hosts.len(), 18, "the cluster is scaled as usual");
    w.finalize().await;
    assert_eq!(w.groups.completions().len(), 6);
}

#[tokio::test]
async fn a_set_still_forming_is_left_alone() {
    let cb = six_healthy_backends();
    // WEKA unreachable (no cluster created yet).
    let mut w = lost_finalization_world(unreachable_weka()).await;
    for _ in 0..4 {
        let scale = run(&mut w, 5, &cb.info).await;
        assert!(scale.hosts.is_empty() && scale.transient_errors.is_empty());
    }
    assert!(!clusterized(&w).await);

    // The deployment user does not exist yet: login refused.
    w.weka = FakeWeka::new(|ips, _, _| {
        Err(WekaError::Login {
            ip: ips[0].clone(),
            username: "weka-deployment".to_owned(),
            message: "invalid credentials".to_owned(),
        })
    });
    let scale = run(&mut w, 5, &cb.info).await;
    assert!(scale.transient_errors.is_empty());
    assert!(!clusterized(&w).await);

    // Created but io not started (drives still being added).
    let mut snap = cb.snap.clone();
    snap.status.io_status = "STOPPED".to_owned();
    w.weka = live_weka(Arc::new(Mutex::new(snap)));
    run(&mut w, 5, &cb.info).await;
    assert!(!clusterized(&w).await);

    // Io started, but one member's containers are not up.
    let mut snap = cb.snap.clone();
    for host in snap.hosts.values_mut() {
        if host.host_ip == "10.0.0.4" {
            host.status = weka_shared::weka::model::HostStatus::Down;
        }
    }
    w.weka = live_weka(Arc::new(Mutex::new(snap)));
    run(&mut w, 5, &cb.info).await;
    assert!(!clusterized(&w).await);
    assert!(
        w.groups.completions().is_empty(),
        "members of a forming cluster wait: {:?}",
        w.groups.completions()
    );
}

#[tokio::test]
async fn a_cluster_of_other_hosts_is_not_finalized() {
    let cb = six_healthy_backends();
    // WEKA (reached through the members) shows a healthy cluster in which one member is missing
    // and a stranger takes its place.
    let mut weka_view = Cb::new(6);
    for n in [1, 2, 3, 4, 5, 9] {
        weka_view.machine(&format!("10.0.0.{n}"), M::Healthy, Asg::Backend);
    }
    let mut w =
        lost_finalization_world(live_weka(Arc::new(Mutex::new(weka_view.snap.clone())))).await;
    for _ in 0..4 {
        run(&mut w, 5, &cb.info).await;
    }
    assert!(!clusterized(&w).await);

    // The six members and one more backend: not the members' cluster either.
    let mut weka_view = six_healthy_backends();
    weka_view.machine("10.0.0.9", M::Healthy, Asg::Backend);
    w.weka = live_weka(Arc::new(Mutex::new(weka_view.snap.clone())));
    run(&mut w, 5, &cb.info).await;
    assert!(!clusterized(&w).await);

    // A member Auto Scaling no longer lists (no IP to check it by): not finalized either.
    let mut info = cb.info.clone();
    info.weka_backend_instances.retain(|i| i.id != "i-10003");
    w.weka = live_weka(Arc::new(Mutex::new(cb.snap.clone())));
    run(&mut w, 5, &info).await;
    assert!(!clusterized(&w).await);
    assert!(w.groups.completions().is_empty());
}
