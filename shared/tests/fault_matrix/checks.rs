//! The invariants catch what they claim to: each broken history fed to the checker is
//! reported, and the world records an abandoned member and a terminated active machine.

use super::*;

fn clean() -> End {
    End {
        active_ticks: 2,
        quiescent: true,
        calls: Vec::new(),
        injected: None,
        events: Vec::new(),
        weka: WekaRecord {
            deactivated: BTreeSet::from(["10.100.100.11".to_owned()]),
            min_healthy: Some(5),
            ..WekaRecord::default()
        },
        targets: vec![TargetEnd {
            instance: "i-1010010011".to_owned(),
            terminated: true,
            termination_protected: false,
            scale_in_protected: false,
        }],
        outcome: BTreeMap::from([("i-1010010011".to_owned(), "gone".to_owned())]),
        converged: false,
    }
}

#[track_caller]
fn reported(broken: &End, words: &str) {
    let found = violations(Story::ScaleIn, broken, &clean());
    assert!(
        found.iter().any(|v| v.contains(words)),
        "expected a violation naming {words:?}, got {found:?}"
    );
}

#[test]
fn a_clean_run_breaks_nothing() {
    assert_eq!(
        violations(Story::ScaleIn, &clean(), &clean()),
        Vec::<String>::new()
    );
}

#[test]
fn every_broken_invariant_is_reported() {
    let mut end = clean();
    end.events.push(Event::LaunchAbandoned {
        instance: "i-1".to_owned(),
        member: true,
    });
    reported(&end, "member i-1 abandoned");

    let mut end = clean();
    end.events.push(Event::ActiveTerminated {
        instance: "i-2".to_owned(),
        how: "TerminateInstances".to_owned(),
    });
    reported(&end, "i-2 terminated while WEKA counted on it");

    let mut end = clean();
    end.events.push(Event::UnleasedMutation {
        execution: "exec-3".to_owned(),
        call: "Detach".to_owned(),
    });
    reported(&end, "exec-3 acted without the lease");

    let mut end = clean();
    end.weka
        .unleased_writes
        .push("cluster_deactivate_hosts by exec-4 without the lease".to_owned());
    reported(&end, "exec-4 without the lease");

    let mut end = clean();
    end.targets[0].terminated = false;
    end.targets[0].termination_protected = true;
    reported(&end, "neither terminated nor protected again");

    let mut end = clean();
    end.weka.deactivated.insert("10.100.100.12".to_owned());
    reported(&end, "the unfaulted plan");

    let mut end = clean();
    end.weka.min_healthy = Some(4);
    reported(&end, "below the unfaulted floor");

    let mut end = clean();
    end.weka.creates = 1;
    reported(&end, "`weka cluster create` runs");

    let mut end = clean();
    end.quiescent = false;
    reported(&end, "not quiescent");

    let mut end = clean();
    end.outcome
        .insert("i-1010010011".to_owned(), "InService".to_owned());
    reported(&end, "ended unlike the unfaulted run");
}

#[test]
fn a_target_protected_again_or_never_touched_is_fine() {
    let mut end = clean();
    end.targets[0].terminated = false;
    end.targets[0].termination_protected = true;
    end.targets[0].scale_in_protected = true;
    end.outcome = clean().outcome;
    let found = violations(Story::ScaleIn, &end, &clean());
    assert!(
        found.iter().all(|v| !v.contains("protected again")),
        "{found:?}"
    );
}

/// The world itself sees an active member go: abandoned at its launch hook's timeout after it
/// joined, and terminated while WEKA runs it.
#[tokio::test(start_paused = true)]
async fn the_world_records_an_abandoned_member_and_a_terminated_active_machine() {
    let (mut w, agents) = Story::LaunchHook.build(FaultPlan::counting());
    let joining = &agents[0].machine;
    assert!(w.weka.join(&joining.ip));
    // Nobody answers the launch hook: Auto Scaling abandons it at the timeout.
    for _ in 0..16 {
        w.tick().await;
    }
    assert!(
        w.events.contains(&Event::LaunchAbandoned {
            instance: joining.id.clone(),
            member: true,
        }),
        "{:?}",
        w.events
    );

    let (member, _) = backend(0);
    w.faulty(&w.groups)
        .terminate(std::slice::from_ref(&member))
        .await
        .unwrap();
    w.observe(None);
    assert!(
        w.events
            .iter()
            .any(|e| matches!(e, Event::ActiveTerminated { instance, .. } if *instance == member)),
        "{:?}",
        w.events
    );
}
