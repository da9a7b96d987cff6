//! Implementations of the ports over the AWS SDK and HTTP. The only place that knows
//! `AttributeValue`, SDK error types or JSON-RPC framing.

pub mod acm;
pub mod autoscaling;
mod clients;
pub mod dynamo;
pub mod ec2;
pub mod secrets;
mod tls;
pub mod weka_rpc;

pub use clients::{AwsClients, LazyClient};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

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
    from_lambda_environment(aws_config_loader(), &crate::config::process_env)
        .load()
        .await
}

/// Where Lambda's environment gives the region (`AWS_REGION`) and the role's credentials
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), the loader takes them
/// from there directly: the default chains would find the same values first, but building the
/// chains (profile files, web identity, container and IMDS providers) was a third of a
/// function's cold start. Without them, the chains stay.
fn from_lambda_environment(
    mut loader: aws_config::ConfigLoader,
    env: &impl crate::config::Lookup,
) -> aws_config::ConfigLoader {
    let set = |name: &str| env.get(name).filter(|v| !v.is_empty());
    if let Some(region) = set("AWS_REGION") {
        loader = loader.region(aws_config::Region::new(region));
    }
    if let (Some(key), Some(secret)) = (set("AWS_ACCESS_KEY_ID"), set("AWS_SECRET_ACCESS_KEY")) {
        loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            key,
            secret,
            set("AWS_SESSION_TOKEN"),
            None,
            "Environment",
        ));
    }
    loader
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
/// from the environment, the client's connector settings and sleep), trusting Mozilla's roots
/// compiled in ([`tls`]) instead of the system's.
fn aws_https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{TlsContext, TrustStore};
    let tls = TlsContext::builder()
        .with_trust_store(
            TrustStore::empty().with_pem_certificate(tls::MOZILLA_ROOTS_PEM.as_bytes()),
        )
        .build()
        .expect("a TLS context without extra server names always builds");
    https_client_trusting(tls)
}

/// [`aws_https_client`] with the roots of `tls`.
fn https_client_trusting(tls: aws_smithy_http_client::tls::TlsContext) -> SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider};
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig};
    let client = Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(Provider::Rustls(rustls_provider::CryptoMode::AwsLc))
            .tls_context(tls.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    });
    SharedHttpClient::new(NoThrowawayConnector(client))
}

/// The SDK's HTTPS client minus the connector it builds, and drops, whenever an SDK client is
/// created (`validate_base_client_config`, there so that the system's roots are loaded at init
/// rather than on the first request): with roots handed over as PEM, each such build decodes
/// and parses every root again, once per SDK client at init, for nothing. The connector the
/// requests use is built on the first one, as it always was.
#[derive(Debug)]
struct NoThrowawayConnector(SharedHttpClient);

impl HttpClient for NoThrowawayConnector {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        cfg: &aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.0.validate_final_config(components, cfg)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.0.connector_metadata()
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::tls::test_server::{self, caused_by};
    use super::*;
    use aws_sdk_dynamodb::error::SdkError;
    use rustls::CertificateError;

    /// One DynamoDB call to the loopback TLS server on `host`, through the SDK configuration
    /// the functions load, with `client` as its HTTP client when given.
    async fn call(
        client: Option<SharedHttpClient>,
        host: &str,
        port: u16,
    ) -> Result<(), SdkError<aws_sdk_dynamodb::operation::list_tables::ListTablesError>> {
        let mut loader = aws_config_loader()
            .endpoint_url(format!("https://{host}:{port}"))
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .retry_config(aws_config::retry::RetryConfig::disabled());
        if let Some(client) = client {
            loader = loader.http_client(client);
        }
        let config = loader.load().await;
        aws_sdk_dynamodb::Client::new(&config)
            .list_tables()
            .send()
            .await
            .map(drop)
    }

    #[tokio::test]
    async fn lambda_s_region_and_credentials_are_taken_from_its_environment() {
        use aws_sdk_dynamodb::config::ProvideCredentials as _;
        let env: std::collections::HashMap<String, String> = [
            ("AWS_REGION", "eu-west-3"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config = from_lambda_environment(aws_config_loader(), &env)
            .load()
            .await;
        assert_eq!(config.region().unwrap().as_ref(), "eu-west-3");
        let credentials = config
            .credentials_provider()
            .unwrap()
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("token"));
    }

    #[tokio::test]
    async fn adapters_hold_unbuilt_clients_one_per_service() {
        let sdk = aws_config_loader()
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .load()
            .await;
        let clients = AwsClients::new(sdk);
        // What `status` and `clusterize` hold: groups and inventory on EC2 and Auto Scaling, the
        // state store, the secrets. Holding them builds nothing (init stays short).
        let _groups = autoscaling::AwsScalingGroups::from_clients(&clients);
        let _inventory = ec2::AwsInventory::from_clients(&clients);
        let state = crate::config::StateConfig {
            table: "t".to_owned(),
            state_key: "k".to_owned(),
            nfs_state_key: "k-nfs".to_owned(),
        };
        let _store = dynamo::DynamoStateStore::from_clients(&clients, state);
        let _secrets = secrets::SecretsManager::from_clients(&clients);
        assert_eq!(
            clients.built(),
            0,
            "adapters built a client before any call"
        );
        // The first call through one adapter builds that service's client, for every holder.
        let through_groups = clients.ec2();
        let _ = through_groups.config();
        assert_eq!(clients.built(), 1);
        assert!(
            clients.ec2().is_built(),
            "the inventory's EC2 client is the one built"
        );
        let _ = clients.ec2().config();
        assert_eq!(clients.built(), 1, "one client per service");
    }

    #[test]
    fn a_client_handed_over_built_is_used_as_is() {
        let built = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("eu-west-3"))
                .build(),
        );
        let lazy = LazyClient::from(built);
        assert!(lazy.is_built());
        assert_eq!(
            lazy.config().region().map(|r| r.as_ref()),
            Some("eu-west-3")
        );
    }

    #[tokio::test]
    async fn without_them_the_default_chains_stay() {
        let empty = std::collections::HashMap::<String, String>::new();
        let region = aws_config::Region::new("ap-south-2");
        let config = from_lambda_environment(aws_config_loader().region(region.clone()), &empty)
            .load()
            .await;
        // Nothing set from the (empty) environment: the loader's own choices stand.
        assert_eq!(config.region(), Some(&region));
        assert!(config.credentials_provider().is_some());
    }

    fn trusting_the_test_ca() -> SharedHttpClient {
        use aws_smithy_http_client::tls::{TlsContext, TrustStore};
        let tls = TlsContext::builder()
            .with_trust_store(TrustStore::empty().with_pem_certificate(test_server::CA_PEM))
            .build()
            .unwrap();
        https_client_trusting(tls)
    }

    /// Counts the connectors smithy asks for at client creation (never those of requests).
    #[derive(Debug)]
    struct CountingValidations(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl HttpClient for CountingValidations {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            panic!("no request is made")
        }

        fn validate_base_client_config(
            &self,
            _: &aws_sdk_dynamodb::config::RuntimeComponentsBuilder,
            _: &aws_sdk_dynamodb::config::ConfigBag,
        ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
    }

    #[test]
    fn creating_an_sdk_client_builds_no_connector() {
        let validations = |wrapped: bool| {
            let count = std::sync::Arc::default();
            let counting =
                SharedHttpClient::new(CountingValidations(std::sync::Arc::clone(&count)));
            let client = if wrapped {
                SharedHttpClient::new(NoThrowawayConnector(counting))
            } else {
                counting
            };
            let config = aws_sdk_dynamodb::Config::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .http_client(client)
                .build();
            let _client = aws_sdk_dynamodb::Client::from_conf(config);
            count.load(std::sync::atomic::Ordering::Relaxed)
        };
        assert_eq!(
            validations(false),
            1,
            "smithy validates (builds a connector) per client"
        );
        assert_eq!(validations(true), 0);
    }

    #[tokio::test]
    async fn the_sdk_refuses_a_server_no_mozilla_root_vouches_for() {
        let (port, handshakes) = test_server::start(1);
        let error = call(None, "localhost", port).await.unwrap_err();
        assert!(matches!(error, SdkError::DispatchFailure(_)), "{error:?}");
        assert!(
            caused_by(&error, |e| *e
                == rustls::Error::InvalidCertificate(
                    CertificateError::UnknownIssuer
                )),
            "{error:?}"
        );
        assert!(!handshakes.recv().unwrap());
    }

    #[tokio::test]
    async fn the_sdk_checks_the_name_and_accepts_a_good_chain() {
        let (port, handshakes) = test_server::start(2);
        // The positive case first: the refusal below is the name's, not the chain's. The
        // server's 400 is a service error: the request went through TLS.
        let error = call(Some(trusting_the_test_ca()), "localhost", port)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                SdkError::ServiceError(_) | SdkError::ResponseError(_)
            ),
            "{error:?}"
        );
        assert!(handshakes.recv().unwrap());
        let error = call(Some(trusting_the_test_ca()), "127.0.0.1", port)
            .await
            .unwrap_err();
        assert!(
            caused_by(&error, |e| matches!(
                e,
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                )
            )),
            "{error:?}"
        );
        assert!(!handshakes.recv().unwrap());
    }
}
