//! Implementations of the ports over the AWS SDK and HTTP. The only place that knows
//! `AttributeValue`, SDK error types or JSON-RPC framing.

pub mod autoscaling;
pub mod dynamo;
pub mod ec2;
pub mod secrets;
pub mod weka_rpc;

/// Longest one SDK attempt may take (a slow or silent endpoint fails and is retried).
pub const SDK_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(8);
/// Longest one SDK operation may take, its retries included: below the 30 s of the shortest
/// function timeout, so a hung call fails as `Weka.Transient` instead of the runtime killing
/// the invocation mid-write.
pub const SDK_OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Loads the shared AWS SDK configuration from the environment (region, credentials, and
/// `AWS_ENDPOINT_URL` when pointing at an emulator), with every call bounded in time. Call once
/// at init.
pub async fn load_aws_config() -> aws_config::SdkConfig {
    aws_config_loader().load().await
}

/// The SDK configuration every function loads, before the environment is read: the tests load
/// it with their own endpoint and credentials.
pub fn aws_config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(SDK_ATTEMPT_TIMEOUT)
                .operation_timeout(SDK_OPERATION_TIMEOUT)
                .build(),
        )
        .http_client(aws_https_client())
}

/// The HTTPS client `default-https-client` gives every SDK client (rustls on aws-lc, the proxy
/// from the environment, the client's connector settings and sleep), trusting the roots
/// compiled in ([`trusted_roots_pem`]) instead of the system's.
fn aws_https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider};
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig};
    // The SDK builds its connector when a client is created (so at init), and the default one
    // reads and parses every file of /etc/ssl/certs then: most of a function's cold start
    // (tests/bench/coldstart.py).
    let tls = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(trusted_roots_pem()))
        .build()
        .expect("a TLS context without extra server names always builds");
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(Provider::Rustls(rustls_provider::CryptoMode::AwsLc))
            .tls_context(tls.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The root certificates the HTTPS clients trust, as PEM: Mozilla's, compiled in
/// (webpki-root-certs), so that no certificate file is read at init. Verification is the one
/// the system's roots got (WebPKI: chain to a root, validity, name); only the root set is fixed
/// at build time (Mozilla's, as the Lambda image's bundle is) instead of read from the image.
fn trusted_roots_pem() -> String {
    use base64::Engine as _;
    let mut pem = String::with_capacity(300 * 1024);
    for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        base64::engine::general_purpose::STANDARD.encode_string(der, &mut pem);
        pem.push_str("\n-----END CERTIFICATE-----\n");
    }
    pem
}

/// The pause before retry `round` (1 is the first retry): `first` doubled each round, capped at
/// `max`, and drawn from its upper half so that concurrent callers do not retry in lockstep.
pub(crate) fn jittered_backoff(
    first: std::time::Duration,
    max: std::time::Duration,
    round: u32,
) -> std::time::Duration {
    use rand::RngExt as _;
    let exponent = round.saturating_sub(1).min(16);
    let full = first.saturating_mul(1 << exponent).min(max);
    let half = full / 2;
    let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
    half + std::time::Duration::from_millis(rand::rng().random_range(0..=jitter_ms))
}

/// Whether an SDK failure is worth retrying later: throttling, timeouts, connection trouble,
/// 5xx from the service.
pub(crate) fn is_transient_sdk_error<E, R>(error: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    use aws_sdk_dynamodb::error::SdkError;
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => matches!(
            service.err().code(),
            Some(
                "ThrottlingException"
                    | "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
                    | "TransactionConflictException"
                    | "Throttling"
                    | "RequestThrottled"
                    | "InternalFailure"
                    | "InternalServiceError"
            )
        ),
        _ => false,
    }
}
