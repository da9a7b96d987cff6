//! ACM on moto: the `certificate` handler's create, update, expiry and destroy through the
//! SDK adapter, as Terraform and EventBridge call it.

use super::common::{sdk, unique};
use serde_json::json;
use weka_shared::adapters::acm::AwsCertificates;
use weka_shared::domain::certificate::{CertificateNames, issue};
use weka_shared::handlers::certificate::{self, CERTIFICATE_TAG};
use weka_shared::ports::{CertificateError, Certificates, Clock, SystemClock};

#[tokio::test]
async fn the_adapter_imports_finds_by_tag_reimports_in_place_and_deletes() {
    require_emulator!();
    let acm = AwsCertificates::from_sdk_config(&sdk().await);
    let cluster = unique("cert");
    let names = CertificateNames::parse(&["lb.example", "weka.example"]).unwrap();
    let first = issue(&names, SystemClock.now()).unwrap();
    let tags = vec![(CERTIFICATE_TAG.to_owned(), cluster.clone())];
    let arn = acm.import(&first, &tags).await.unwrap();
    let other = acm
        .import(&first, &[(CERTIFICATE_TAG.to_owned(), unique("other"))])
        .await
        .unwrap();
    assert_eq!(
        acm.tagged(CERTIFICATE_TAG, &cluster).await.unwrap(),
        std::slice::from_ref(&arn)
    );
    let facts = acm.describe(&arn).await.unwrap();
    assert_eq!(facts.names, ["lb.example", "weka.example"]);
    assert_eq!(facts.not_after, Some(first.not_after));

    let later = SystemClock.now() - chrono::Duration::days(10);
    let renamed = CertificateNames::parse(&["alias.example"]).unwrap();
    let renewed = issue(&renamed, later).unwrap();
    acm.reimport(&arn, &renewed).await.unwrap();
    let facts = acm.describe(&arn).await.unwrap();
    assert_eq!(facts.names, ["alias.example"]);
    assert_eq!(facts.not_after, Some(renewed.not_after));
    assert_eq!(
        acm.tagged(CERTIFICATE_TAG, &cluster).await.unwrap(),
        std::slice::from_ref(&arn),
        "a re-import keeps the ARN and the tags"
    );

    acm.delete(&arn).await.unwrap();
    assert!(matches!(
        acm.delete(&arn).await,
        Err(CertificateError::NotFound { .. })
    ));
    assert!(matches!(
        acm.describe(&arn).await,
        Err(CertificateError::NotFound { .. })
    ));
    assert!(
        acm.tagged(CERTIFICATE_TAG, &cluster)
            .await
            .unwrap()
            .is_empty()
    );
    acm.delete(&other).await.unwrap();
}

#[tokio::test]
async fn the_handler_makes_renews_and_removes_one_certificate_per_deployment() {
    require_emulator!();
    let cluster = unique("tfcert");
    let deps = certificate::Deps {
        certificates: AwsCertificates::from_sdk_config(&sdk().await),
        clock: SystemClock,
        config: certificate::Config {
            cluster_name: cluster.clone(),
        },
    };
    let tf = |action: &str| json!({"names": ["lb.example"], "tf": {"action": action}});
    let created = certificate::handle(&deps, tf("create"), None)
        .await
        .unwrap();
    let arn = created["certificate_arn"].as_str().unwrap().to_owned();
    assert_eq!(created["outcome"], "imported");
    let updated = certificate::handle(&deps, tf("update"), None)
        .await
        .unwrap();
    assert_eq!(updated["certificate_arn"], arn.as_str());
    let event = json!({"source": "aws.acm", "detail-type": "ACM Certificate Approaching Expiration",
                       "resources": [arn]});
    let current = certificate::handle(&deps, event, None).await.unwrap();
    assert_eq!(
        current["outcome"], "current",
        "a fresh certificate is not renewed"
    );
    assert_eq!(
        deps.certificates
            .tagged(CERTIFICATE_TAG, &cluster)
            .await
            .unwrap(),
        std::slice::from_ref(&arn)
    );
    let deleted = certificate::handle(&deps, tf("delete"), None)
        .await
        .unwrap();
    assert_eq!(deleted["deleted"], json!([arn]));
    assert!(
        deps.certificates
            .tagged(CERTIFICATE_TAG, &cluster)
            .await
            .unwrap()
            .is_empty()
    );
}
