//! The WEKA management API over JSON-RPC 2.0 / HTTP: login with bearer token (logged in again
//! once on a 401), per-request timeout, and a pool that fails over to the next backend and
//! retries the pool with backoff on failures that may pass (HTTP 5xx and 429, connection
//! errors, timeouts) while the invocation's deadline allows — and fails, naming each
//! backend's last failure, when every backend did (the reference returned success with empty
//! data). A mutation whose request may have reached WEKA (timeout, 500, a broken answer) is
//! never sent again: its error is returned, and the next run plans from what WEKA then says.

use crate::config::names::{WEKA_API_TIMEOUT_ENV, WEKA_API_URL_TEMPLATE_ENV};
use crate::config::{ConfigError, Lookup};
use crate::ports::{Credentials, RawResult, WekaApi, WekaConnector, WekaError};
use crate::weka::decode::rpc_envelope;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Production default of [`WEKA_API_URL_TEMPLATE_ENV`].
pub const DEFAULT_URL_TEMPLATE: &str = "http://{ip}:14000/api/v1";
/// Default of [`WEKA_API_TIMEOUT_ENV`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// No request is started with less than this left before the session's deadline: it could
/// not be answered in time.
pub const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(250);

/// Methods that only read: sending one again, to the same or another backend, cannot change
/// anything. Every other method changes the cluster and is sent again only when its first
/// request surely was not processed (connection refused, HTTP 429 or 503, token refused).
const READ_ONLY_METHODS: &[&str] = &[
    "user_login",
    "status",
    "hosts_list",
    "disks_list",
    "nodes_list",
    "interface_group_list",
    "manual_override_list",
];

/// Whether `method` only reads (see [`READ_ONLY_METHODS`]).
fn read_only(method: &str) -> bool {
    READ_ONLY_METHODS.contains(&method)
}

/// How a call retries backends whose failure may pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Passes over the pool per call at most: how often one backend is tried.
    pub rounds: u32,
    /// Pause after the first failed pass; doubled after each further one, with jitter.
    pub first_backoff: Duration,
    /// Longest pause between passes.
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// Three passes, paused 100-200 ms then 200-400 ms apart: enough to ride out a backend
    /// restarting its API without holding a Lambda for long.
    pub const DEFAULT: Self = Self {
        rounds: 3,
        first_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(2),
    };

    /// The pause before pass `round` (1 is the second pass): exponential, capped, and drawn
    /// from its upper half so concurrent calls do not retry in lockstep.
    fn backoff(&self, round: u32) -> Duration {
        super::jittered_backoff(self.first_backoff, self.max_backoff, round)
    }
}

/// How to reach WEKA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WekaRpcConfig {
    /// URL template containing `{ip}`.
    pub url_template: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries of failures that may pass.
    pub retry: RetryPolicy,
}

impl WekaRpcConfig {
    /// Reads the template and timeout; the template must contain `{ip}`.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        let url_template = env
            .optional(WEKA_API_URL_TEMPLATE_ENV)
            .unwrap_or_else(|| DEFAULT_URL_TEMPLATE.to_owned());
        if !url_template.contains("{ip}")
            || !(url_template.starts_with("http://") || url_template.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                name: WEKA_API_URL_TEMPLATE_ENV,
                value: url_template,
                reason: "expected an http(s) URL containing {ip}".to_owned(),
            });
        }
        Ok(Self {
            url_template,
            timeout: env.duration_or(WEKA_API_TIMEOUT_ENV, DEFAULT_TIMEOUT)?,
            retry: RetryPolicy::DEFAULT,
        })
    }

    /// The endpoint of backend `ip`.
    pub fn url(&self, ip: &str) -> String {
        self.url_template.replace("{ip}", ip)
    }
}

/// Opens JSON-RPC sessions sharing one HTTP client.
#[derive(Debug, Clone)]
pub struct JsonRpcConnector {
    http: SharedHttp,
    config: WekaRpcConfig,
}

/// The HTTP client of every session of a process, built on the first request: reqwest's client
/// and its rustls configuration took a tenth of a millisecond of the cold start of each
/// function that calls WEKA, which a run that never reaches WEKA need not pay. Its
/// configuration is fixed (compiled-in roots, HTTP/1.1, the timeouts), so a failure to build it
/// is a defect, answered to every call alike.
#[derive(Debug, Clone)]
struct SharedHttp {
    timeout: Duration,
    client: Arc<OnceLock<Result<reqwest::Client, Arc<ClientBuildError>>>>,
}

impl SharedHttp {
    fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            client: Arc::new(OnceLock::new()),
        }
    }

    fn get(&self) -> Result<&reqwest::Client, WekaError> {
        self.client
            .get_or_init(|| {
                http_client(self.timeout, super::tls::mozilla_roots()).map_err(Arc::new)
            })
            .as_ref()
            .map_err(|error| WekaError::Client {
                source: Box::new(Arc::clone(error)),
            })
    }
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    /// reqwest refused the configuration.
    #[error("weka http client could not be built")]
    Http(#[from] reqwest::Error),
    /// rustls refused the TLS configuration.
    #[error("weka http client's TLS configuration could not be built")]
    Tls(#[source] rustls::Error),
}

impl JsonRpcConnector {
    /// Sessions on `config`; the HTTP client, trusting the root certificates compiled in, is
    /// built on the first request.
    pub fn new(config: WekaRpcConfig) -> Self {
        Self {
            http: SharedHttp::new(config.timeout),
            config,
        }
    }
}

/// The JSON-RPC HTTP client, trusting `roots` only. Its TLS configuration is handed over
/// built (see `super::tls`) rather than as reqwest certificates (`tls_certs_only`), which
/// copied every root whole before parsing it.
fn http_client(
    timeout: Duration,
    roots: rustls::RootCertStore,
) -> Result<reqwest::Client, ClientBuildError> {
    let tls = super::tls::http1_client_config(roots).map_err(ClientBuildError::Tls)?;
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .tls_backend_preconfigured(tls)
        .build()?)
}

impl WekaConnector for JsonRpcConnector {
    type Api = JsonRpcSession;

    fn connect(&self, backend_ips: Vec<String>, credentials: Credentials) -> JsonRpcSession {
        self.connect_until(backend_ips, credentials, None)
    }

    fn connect_until(
        &self,
        backend_ips: Vec<String>,
        credentials: Credentials,
        deadline: Option<Instant>,
    ) -> JsonRpcSession {
        JsonRpcSession {
            http: self.http.clone(),
            config: self.config.clone(),
            retired: std::sync::Mutex::new(vec![false; backend_ips.len()]),
            ips: backend_ips,
            credentials,
            deadline,
            current: AtomicUsize::new(0),
            token: Mutex::new(None),
            next_id: AtomicU64::new(1),
        }
    }
}

/// An authenticated session on a pool of backends; safe to share between concurrent calls.
#[derive(Debug)]
pub struct JsonRpcSession {
    http: SharedHttp,
    config: WekaRpcConfig,
    ips: Vec<String>,
    credentials: Credentials,
    /// Every request ends by then; no retry starts that could not.
    deadline: Option<Instant>,
    current: AtomicUsize,
    /// Backends the run stopped using (deactivated or removed machines).
    retired: std::sync::Mutex<Vec<bool>>,
    /// `(backend index, access token)` of the current login.
    token: Mutex<Option<(usize, String)>>,
    next_id: AtomicU64,
}

/// Why one attempt on one backend failed, and what that means for the call.
enum Failure {
    /// May pass if this backend is tried again (HTTP 5xx or 429, connection error, timeout).
    Retryable(WekaError),
    /// This backend will not serve the call (unknown method, refused login); others may.
    NextBackend(WekaError),
    /// The answer stands: neither another backend nor another try would change it.
    Final(WekaError),
}

impl JsonRpcSession {
    /// The per-request timeout, cut short by the deadline.
    fn request_timeout(&self) -> Duration {
        match self.deadline {
            None => self.config.timeout,
            Some(deadline) => deadline
                .saturating_duration_since(Instant::now())
                .min(self.config.timeout)
                .max(Duration::from_millis(1)),
        }
    }

    /// Whether a request started after `pause` could still get [`MIN_ATTEMPT_TIME`].
    fn time_for_attempt_after(&self, pause: Duration) -> bool {
        self.deadline.is_none_or(|deadline| {
            deadline.saturating_duration_since(Instant::now()) >= pause + MIN_ATTEMPT_TIME
        })
    }

    async fn post(
        &self,
        index: usize,
        method: &str,
        params: Value,
        token: Option<&str>,
    ) -> Result<RawResult, Failure> {
        let ip = &self.ips[index];
        let unreachable = |e: Box<dyn std::error::Error + Send + Sync>| WekaError::Unreachable {
            ip: ip.clone(),
            source: e,
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .http
            .get()
            .map_err(Failure::Final)?
            .post(self.config.url(ip))
            .timeout(self.request_timeout())
            .json(&json!({"jsonrpc": "2.0", "method": method, "params": params, "id": id}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        // A failure after the request may have reached WEKA: a mutation is not sent again.
        let outcome_unknown = |error: WekaError| {
            if read_only(method) {
                Failure::Retryable(error)
            } else {
                Failure::Final(error)
            }
        };
        let response = request.send().await.map_err(|e| {
            if e.is_builder() {
                Failure::NextBackend(unreachable(Box::new(e)))
            } else if e.is_connect() {
                Failure::Retryable(unreachable(Box::new(e)))
            } else {
                outcome_unknown(unreachable(Box::new(e)))
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            let error = WekaError::Http {
                ip: ip.clone(),
                method: method.to_owned(),
                status: status.as_u16(),
            };
            return Err(match status.as_u16() {
                // Declined before processing.
                429 | 503 => Failure::Retryable(error),
                500..=599 => outcome_unknown(error),
                401 => Failure::NextBackend(error),
                _ => Failure::Final(error),
            });
        }
        let body: Vec<u8> = response
            .bytes()
            .await
            .map_err(|e| outcome_unknown(unreachable(Box::new(e))))?
            .into();
        // Only the envelope is scanned here; the result is decoded by the caller, large lists
        // straight into the typed models.
        let envelope = rpc_envelope(&body).map_err(|e| {
            let error = unreachable(Box::new(e));
            if read_only(method) {
                Failure::NextBackend(error)
            } else {
                Failure::Final(error)
            }
        })?;
        if let Some(span) = envelope.error {
            let raw = body.get(span).unwrap_or_default();
            let error: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
            let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message")
                .to_owned();
            let rpc = WekaError::Rpc {
                method: method.to_owned(),
                code,
                message,
            };
            // -32601: this backend does not know the method (e.g. mid-upgrade); another may.
            return Err(if code == -32601 {
                Failure::NextBackend(rpc)
            } else {
                Failure::Final(rpc)
            });
        }
        let span = envelope.result.ok_or_else(|| {
            Failure::Final(WekaError::Decode {
                method: method.to_owned(),
                reason: "answer has neither result nor error".to_owned(),
            })
        })?;
        Ok(RawResult::new(body, span))
    }

    async fn login(&self, index: usize) -> Result<String, Failure> {
        let refused = |message: String| {
            Failure::NextBackend(WekaError::Login {
                ip: self.ips[index].clone(),
                username: self.credentials.username.clone(),
                message,
            })
        };
        let params = json!([self.credentials.username, self.credentials.password]);
        let raw = self
            .post(index, "user_login", params, None)
            .await
            .map_err(|failure| match failure {
                Failure::Final(WekaError::Rpc { message, .. }) => refused(message),
                other => other,
            })?;
        tracing::debug!(ip = %self.ips[index], "logged in to weka");
        serde_json::from_slice::<Value>(raw.json())
            .ok()
            .as_ref()
            .and_then(|result| result.get("access_token"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| refused("login answer has no access_token".to_owned()))
    }

    async fn token_for(&self, index: usize) -> Result<String, Failure> {
        let mut token = self.token.lock().await;
        if let Some((at, value)) = token.as_ref()
            && *at == index
        {
            return Ok(value.clone());
        }
        let fresh = self.login(index).await?;
        *token = Some((index, fresh.clone()));
        Ok(fresh)
    }

    async fn forget_token(&self, index: usize) {
        let mut token = self.token.lock().await;
        if token.as_ref().is_some_and(|(at, _)| *at == index) {
            *token = None;
        }
    }

    async fn attempt(
        &self,
        index: usize,
        method: &str,
        params: &Value,
    ) -> Result<RawResult, Failure> {
        let token = self.token_for(index).await?;
        match self.post(index, method, params.clone(), Some(&token)).await {
            // An expired or revoked token: log in again once on the same backend.
            Err(Failure::NextBackend(WekaError::Http { status: 401, .. })) => {
                tracing::info!(ip = %self.ips[index], method, "weka token refused; logging in again");
                self.forget_token(index).await;
                let token = self.token_for(index).await?;
                self.post(index, method, params.clone(), Some(&token)).await
            }
            other => other,
        }
    }
}

impl WekaApi for JsonRpcSession {
    fn stop_using(&self, ip: &str) {
        let mut retired = self
            .retired
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (index, backend) in self.ips.iter().enumerate() {
            if backend == ip {
                retired[index] = true;
            }
        }
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, WekaError> {
        let raw = self.call_raw(method, params).await?;
        serde_json::from_slice(raw.json()).map_err(|e| WekaError::Decode {
            method: method.to_owned(),
            reason: e.to_string(),
        })
    }

    async fn call_raw(&self, method: &str, params: Value) -> Result<RawResult, WekaError> {
        let pool = self.ips.len();
        if pool == 0 {
            return Err(WekaError::NoBackends {
                method: method.to_owned(),
            });
        }
        let start = self.current.load(Ordering::Relaxed) % pool;
        let mut last_failure: Vec<Option<WekaError>> = (0..pool).map(|_| None).collect();
        // Retired backends are not tried, unless that would leave none.
        let mut worth_retrying: Vec<bool> = {
            let retired = self
                .retired
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            retired.iter().map(|r| !r).collect()
        };
        if !worth_retrying.contains(&true) {
            worth_retrying = vec![true; pool];
        }
        let mut attempts = 0;
        let mut out_of_time = false;
        'passes: for round in 0..self.config.retry.rounds.max(1) {
            if round > 0 {
                if !worth_retrying.contains(&true) {
                    break;
                }
                let pause = self.config.retry.backoff(round);
                if !self.time_for_attempt_after(pause) {
                    out_of_time = true;
                    break;
                }
                tracing::info!(
                    method,
                    round,
                    pause_ms = pause.as_millis(),
                    "retrying weka backends"
                );
                tokio::time::sleep(pause).await;
            }
            for offset in 0..pool {
                let index = (start + offset) % pool;
                if !worth_retrying[index] {
                    continue;
                }
                if !self.time_for_attempt_after(Duration::ZERO) {
                    out_of_time = true;
                    break 'passes;
                }
                attempts += 1;
                let (error, retryable) = match self.attempt(index, method, &params).await {
                    Ok(result) => {
                        self.current.store(index, Ordering::Relaxed);
                        return Ok(result);
                    }
                    Err(Failure::Final(error)) => return Err(error),
                    Err(Failure::Retryable(error)) => (error, true),
                    Err(Failure::NextBackend(error)) => (error, false),
                };
                tracing::warn!(
                    ip = %self.ips[index],
                    method,
                    attempt = attempts,
                    retryable,
                    error = %error,
                    "weka backend failed; trying the next"
                );
                worth_retrying[index] = retryable;
                last_failure[index] = Some(error);
            }
        }
        if attempts == 0 {
            return Err(WekaError::DeadlineReached {
                method: method.to_owned(),
            });
        }
        Err(WekaError::AllBackendsFailed {
            method: method.to_owned(),
            attempts,
            out_of_time,
            failures: last_failure.into_iter().flatten().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    #[tokio::test]
    async fn the_http_client_is_built_on_the_first_request_and_shared_by_sessions() {
        let connector = JsonRpcConnector::new(WekaRpcConfig {
            // Port 9 (discard) on loopback: nothing listens, the attempt fails at once.
            url_template: "http://{ip}:9/api/v1".to_owned(),
            timeout: Duration::from_secs(2),
            retry: RetryPolicy {
                rounds: 1,
                first_backoff: Duration::ZERO,
                max_backoff: Duration::ZERO,
            },
        });
        let credentials = Credentials {
            username: "u".to_owned(),
            password: "p".to_owned(),
        };
        let first = connector.connect(vec!["127.0.0.1".to_owned()], credentials.clone());
        let second = connector.connect(vec!["127.0.0.1".to_owned()], credentials);
        assert!(
            connector.http.client.get().is_none(),
            "built before any request"
        );
        let _ = first.call("status", serde_json::json!({})).await;
        assert!(second.http.client.get().is_some_and(Result::is_ok));
        assert!(Arc::ptr_eq(&connector.http.client, &second.http.client));
    }

    mod tls {
        use super::*;
        use crate::adapters::tls::test_server::{self, caused_by};
        use rustls::CertificateError;

        async fn get(client: &reqwest::Client, url: &str) -> Result<u16, reqwest::Error> {
            Ok(client.get(url).send().await?.status().as_u16())
        }

        #[tokio::test]
        async fn refuses_a_server_no_mozilla_root_vouches_for() {
            let (port, handshakes) = test_server::start(1);
            let connector = JsonRpcConnector::new(WekaRpcConfig {
                url_template: "https://{ip}/api/v2".to_owned(),
                timeout: Duration::from_secs(5),
                retry: RetryPolicy::DEFAULT,
            });
            let error = get(
                connector.http.get().unwrap(),
                &format!("https://localhost:{port}/"),
            )
            .await
            .unwrap_err();
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
        async fn checks_the_name_and_accepts_a_good_chain() {
            let (port, handshakes) = test_server::start(2);
            let client = http_client(Duration::from_secs(5), test_server::ca_roots()).unwrap();
            // The positive case first: the refusal below is the name's, not the chain's.
            let status = get(&client, &format!("https://localhost:{port}/"))
                .await
                .unwrap();
            assert_eq!(status, 400);
            assert!(handshakes.recv().unwrap());
            let error = get(&client, &format!("https://127.0.0.1:{port}/"))
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

    #[test]
    fn no_mutation_is_read_only() {
        use crate::weka::model::{HostId, WekaCall};
        let mutations = [
            WekaCall::RemoveDrives {
                drive_uuids: Vec::new(),
            },
            WekaCall::RemoveHost { host_id: HostId(1) },
            WekaCall::DeactivateDrives {
                drive_uuids: Vec::new(),
            },
            WekaCall::DeactivateHosts {
                host_ids: Vec::new(),
            },
            WekaCall::InterfaceGroupDeletePort {
                name: String::new(),
                host_id: HostId(1),
                port: String::new(),
            },
            WekaCall::EventsTriggerCustom {
                message: String::new(),
            },
        ];
        for call in &mutations {
            // An exhaustive match: a new mutation must be listed above.
            match call {
                WekaCall::RemoveDrives { .. }
                | WekaCall::RemoveHost { .. }
                | WekaCall::DeactivateDrives { .. }
                | WekaCall::DeactivateHosts { .. }
                | WekaCall::InterfaceGroupDeletePort { .. }
                | WekaCall::EventsTriggerCustom { .. } => {}
            }
            assert!(
                !read_only(call.method()),
                "{} would be re-sent",
                call.method()
            );
        }
        for read in [
            "status",
            "hosts_list",
            "disks_list",
            "nodes_list",
            "user_login",
        ] {
            assert!(read_only(read), "{read}");
        }
    }

    #[test]
    fn template_must_name_the_ip() {
        let env: HashMap<String, String> = HashMap::from([(
            WEKA_API_URL_TEMPLATE_ENV.to_owned(),
            "http://127.0.0.1:9/api".to_owned(),
        )]);
        assert!(WekaRpcConfig::from_lookup(&env).is_err());
        let default = WekaRpcConfig::from_lookup(&HashMap::new()).unwrap();
        assert_eq!(default.url("10.0.0.1"), "http://10.0.0.1:14000/api/v1");
        assert_eq!(default.retry, RetryPolicy::DEFAULT);
    }

    #[test]
    fn backoff_doubles_within_its_jitter_and_stops_at_the_cap() {
        let policy = RetryPolicy::DEFAULT;
        for _ in 0..100 {
            let first = policy.backoff(1);
            assert!((100..=200).contains(&first.as_millis()), "{first:?}");
            let second = policy.backoff(2);
            assert!((200..=400).contains(&second.as_millis()), "{second:?}");
            let late = policy.backoff(40);
            assert!((1000..=2000).contains(&late.as_millis()), "{late:?}");
        }
    }
}
