//! `transient`: the collected errors fail the execution.

use super::*;

#[tokio::test]
async fn transient_fails_with_the_collected_errors_or_succeeds_with_null() {
    let ok = transient::handle(
        json!({"set_to_terminate_instances": [], "TransientErrors": null, "version": 1}),
    )
    .await
    .unwrap();
    assert_eq!(ok, Value::Null);
    let err = transient::handle(json!({"TransientErrors": ["a failed", "b failed"], "version": 1}))
        .await
        .unwrap_err();
    assert_eq!(err.class().error_type(), "Weka.Transient");
    assert_eq!(
        err.to_string(),
        "the following errors were found:\na failed\nb failed"
    );
    let bad = transient::handle(json!("nope")).await.unwrap_err();
    assert_eq!(bad.class(), ErrorClass::InvalidInput);
}
