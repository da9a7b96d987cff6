//! Lifecycle hooks on fakes: start events.

use super::*;

#[test]
fn every_start_event_parses() {
    for tick in [
        Some(fixture("scheduled")),
        Some(json!({})),
        Some(Value::Null),
        None,
        Some(json!({"detail-type": "Scheduled Event", "detail": {}})),
    ] {
        assert_eq!(
            parse_trigger(tick.as_ref()).unwrap(),
            ScaleTrigger::Tick,
            "{tick:?}"
        );
    }
    for (name, detail_type, instance) in [
        (
            "launch_successful",
            "EC2 Instance Launch Successful",
            Some("i-10007"),
        ),
        (
            "launch_unsuccessful",
            "EC2 Instance Launch Unsuccessful",
            None,
        ),
        (
            "terminate_successful",
            "EC2 Instance Terminate Successful",
            Some("i-10006"),
        ),
    ] {
        assert_eq!(
            parse_trigger(Some(&fixture(name))).unwrap(),
            ScaleTrigger::GroupActivity {
                detail_type: detail_type.to_owned(),
                group: ASG.to_owned(),
                instance_id: instance.map(str::to_owned),
            },
            "{name}"
        );
    }
    let ScaleTrigger::LifecycleAction(launch) =
        parse_trigger(Some(&fixture("launch_lifecycle_action"))).unwrap()
    else {
        panic!("launch lifecycle action not recognised");
    };
    assert_eq!(launch.transition, Transition::Launch);
    assert_eq!(launch.instance_id, "i-10007");
    assert_eq!(launch.hook, LAUNCH_HOOK);
    assert_eq!(launch.group, ASG);
    assert_eq!(
        launch.token.as_deref(),
        Some("87654321-4321-4321-4321-210987654321")
    );
    assert_eq!(launch.at, now());
    let ScaleTrigger::LifecycleAction(term) =
        parse_trigger(Some(&fixture("terminate_lifecycle_action"))).unwrap()
    else {
        panic!("terminate lifecycle action not recognised");
    };
    assert_eq!(term.transition, Transition::Terminate);
    assert_eq!(term.instance_id, "i-10006");

    // The hook's test notification names no action.
    let mut test_notification = fixture("launch_lifecycle_action");
    test_notification["detail"]["LifecycleTransition"] = json!("autoscaling:TEST_NOTIFICATION");
    assert!(matches!(
        parse_trigger(Some(&test_notification)).unwrap(),
        ScaleTrigger::Other { .. }
    ));
    let mut broken = fixture("launch_lifecycle_action");
    broken["detail"]
        .as_object_mut()
        .unwrap()
        .remove("EC2InstanceId");
    assert!(matches!(
        parse_trigger(Some(&broken)),
        Err(EventError::MissingField {
            field: "EC2InstanceId"
        })
    ));
}

/// Security review H5: an event time the state store could not read back (chrono's relaxed parser
/// takes `+10000-…` or `-0001-…`) is refused as unreadable, so it is never recorded.
#[test]
fn an_event_time_the_store_could_not_read_back_is_refused() {
    for time in ["+10000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z"] {
        let mut far = fixture("terminate_lifecycle_action");
        far["time"] = json!(time);
        let err = parse_trigger(Some(&far)).unwrap_err();
        assert!(err.to_string().contains("time"), "{time}: {err}");
    }
    let mut fine = fixture("terminate_lifecycle_action");
    fine["time"] = json!("9999-12-31T23:59:59Z");
    assert!(parse_trigger(Some(&fine)).is_ok());
}
