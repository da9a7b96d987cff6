//! Issue 15 item 2 (review M2): a registered member that dies before the set completes. The
//! lease holder's terminate step evicts it (one conditional write) once Auto Scaling no longer
//! runs it, and its replacement takes the slot; a claimed set is never touched.

use super::*;
use weka_shared::domain::state::{ClaimOutcome, Registration, RegistrationRefusal};
use weka_shared::domain::terminate::Lifecycle;

const SET: u32 = 6;

fn vm(id: &str) -> Vm {
    Vm {
        name: id.to_owned(),
        ..Vm::default()
    }
}

/// Five of six registered; the group runs `running` of them (ids 1..=6), the rest died.
async fn gathering(running: &[u32]) -> World {
    let w = World::forming(SET);
    for n in 1..=5 {
        w.register(&format!("i-1000{n}")).await;
    }
    let instances = six_old_instances()
        .into_iter()
        .filter(|i| {
            running
                .iter()
                .any(|n| i.instance.id == format!("i-1000{n}"))
        })
        .collect();
    w.groups.add_group(ASG, SET, instances);
    w
}

async fn registered(w: &World) -> Vec<String> {
    let state = w.store.load(Group::Backend).await.unwrap();
    state.instances.iter().map(|vm| vm.name.clone()).collect()
}

#[tokio::test]
async fn a_member_that_died_before_the_set_completed_gives_its_slot_to_its_replacement() {
    // i-10003 was terminated (gone from the group); i-10006 is the ASG's replacement.
    let mut w = gathering(&[1, 2, 4, 5, 6]).await;
    w.terminate_ok("exec-1", &empty_scale()).await;
    assert_eq!(
        registered(&w).await,
        ["i-10001", "i-10002", "i-10004", "i-10005"]
    );

    // Two newcomers fill the set; the replacement claims and clusterizes with live hosts only.
    let sixth = w
        .store
        .register(Group::Backend, &vm("i-10006"))
        .await
        .unwrap();
    assert!(matches!(
        sixth,
        Registration::Registered { position: 5, .. }
    ));
    let last = w
        .store
        .register(Group::Backend, &vm("i-10007"))
        .await
        .unwrap();
    assert!(last.completes_set(), "{last:?}");
    let claim = w
        .store
        .claim_clusterization(Group::Backend, "i-10007", now(), Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(matches!(claim, ClaimOutcome::Granted { .. }), "{claim:?}");
    assert!(!registered(&w).await.contains(&"i-10003".to_owned()));
}

#[tokio::test]
async fn a_terminating_member_is_evicted_and_live_ones_are_kept() {
    let mut w = gathering(&[1, 2, 3, 4, 5]).await;
    w.groups.update(ASG, "i-10002", |i| {
        i.instance.lifecycle = Lifecycle::Other("Terminating:Wait".to_owned());
    });
    w.terminate_ok("exec-1", &empty_scale()).await;
    assert_eq!(
        registered(&w).await,
        ["i-10001", "i-10003", "i-10004", "i-10005"]
    );
    // Nothing else left: a second run changes nothing.
    w.terminate_ok("exec-2", &empty_scale()).await;
    assert_eq!(registered(&w).await.len(), 4);
}

#[tokio::test]
async fn a_claimed_set_is_never_evicted_from() {
    let mut w = gathering(&[1, 2, 3, 5, 6]).await;
    w.register("i-10006").await;
    w.store
        .claim_clusterization(Group::Backend, "i-10006", now(), Duration::from_secs(3600))
        .await
        .unwrap();
    w.terminate_ok("exec-1", &empty_scale()).await;
    assert_eq!(registered(&w).await.len(), 6, "the clusterizer's set stays");
    let refused = w
        .store
        .register(Group::Backend, &vm("i-10007"))
        .await
        .unwrap();
    assert_eq!(
        refused,
        Registration::Refused(RegistrationRefusal::SetComplete { target: SET })
    );
}
