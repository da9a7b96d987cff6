//! Faults after which the system does not recover as the issue asks, kept as named tests.

use super::*;

/// The first call of the unfaulted run of `story` on `port` with `method`.
async fn first_call(story: Story, port: Port, method: &str) -> usize {
    let (end, _) = play(story, FaultPlan::counting(), &Configs::new(), None).await;
    story.check_unfaulted(&end);
    end.calls
        .iter()
        .find(|c| c.port == port && c.method == method)
        .unwrap()
        .index
}

/// Scale-in of a machine launched within terminate's 30-minute bootstrap grace: scale-down
/// removes its containers from WEKA and names it in `to_terminate`; when that run's terminate
/// step dies before `TerminateInstances` lands, no later run names it again (WEKA no longer
/// knows the machine, and as "not in WEKA" it is spared as a possible bootstrap until the grace
/// ends). The group stays one above its desired capacity with an idle, WEKA-less member for up
/// to 30 minutes, its termination protection lifted.
#[tokio::test(start_paused = true)]
#[ignore = "finding: a lost to_terminate of a young instance waits out the 30-minute bootstrap grace; scale-down names a machine in to_terminate only in the run that removed it (fix: keep removed machines in a note and name them until they are gone)"]
async fn a_removed_young_machine_whose_termination_was_lost_is_terminated_by_the_next_run() {
    let story = Story::ScaleInYoung;
    let k = first_call(story, Port::Scaling, "terminate").await;
    let (end, _) = play(
        story,
        FaultPlan::at(k, FaultKind::Hang),
        &Configs::new(),
        None,
    )
    .await;
    assert_eq!(end.injected.as_ref().unwrap().0.method, "terminate");
    let removed = backend(0).0;
    assert_eq!(
        end.outcome.get(&removed).map(String::as_str),
        Some("gone"),
        "{removed} still in the group: {:#?}",
        end.outcome
    );
}
