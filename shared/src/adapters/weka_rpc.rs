//! The WEKA management API over JSON-RPC 2.0 / HTTP: login with bearer token, per-call
//! timeout, and a pool that fails over to the next backend — and fails when every backend did
//! (the reference returned success with empty data).

use crate::config::{ConfigError, Lookup};
use crate::ports::{Credentials, RawResult, WekaApi, WekaConnector, WekaError};
use crate::weka::decode::rpc_envelope;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;

/// URL template of the JSON-RPC endpoint; `{ip}` is replaced by a backend's private IP.
pub const WEKA_API_URL_TEMPLATE_ENV: &str = "WEKA_API_URL_TEMPLATE";
/// Per-request timeout (e.g. `5s`).
pub const WEKA_API_TIMEOUT_ENV: &str = "WEKA_API_TIMEOUT";
/// Production default of [`WEKA_API_URL_TEMPLATE_ENV`].
pub const DEFAULT_URL_TEMPLATE: &str = "http://{ip}:14000/api/v1";
/// Default of [`WEKA_API_TIMEOUT_ENV`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach WEKA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WekaRpcConfig {
    /// URL template containing `{ip}`.
    pub url_template: String,
    /// Per-request timeout.
    pub timeout: Duration,
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
    http: reqwest::Client,
    config: WekaRpcConfig,
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("weka http client could not be built")]
pub struct ClientBuildError(#[from] reqwest::Error);

impl JsonRpcConnector {
    /// Builds the HTTP client (once, at init).
    pub fn new(config: WekaRpcConfig) -> Result<Self, ClientBuildError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()?;
        Ok(Self { http, config })
    }
}

impl WekaConnector for JsonRpcConnector {
    type Api = JsonRpcSession;

    fn connect(&self, backend_ips: Vec<String>, credentials: Credentials) -> JsonRpcSession {
        JsonRpcSession {
            http: self.http.clone(),
            config: self.config.clone(),
            ips: backend_ips,
            credentials,
            current: AtomicUsize::new(0),
            token: Mutex::new(None),
            next_id: AtomicU64::new(1),
        }
    }
}

/// An authenticated session on a pool of backends; safe to share between concurrent calls.
#[derive(Debug)]
pub struct JsonRpcSession {
    http: reqwest::Client,
    config: WekaRpcConfig,
    ips: Vec<String>,
    credentials: Credentials,
    current: AtomicUsize,
    /// `(backend index, access token)` of the current login.
    token: Mutex<Option<(usize, String)>>,
    next_id: AtomicU64,
}

enum Attempt {
    /// Try the next backend.
    FailOver(WekaError),
    /// Give up: the backend answered, and the answer is an error.
    Fatal(WekaError),
}

impl JsonRpcSession {
    async fn post(
        &self,
        index: usize,
        method: &str,
        params: Value,
        token: Option<&str>,
    ) -> Result<RawResult, Attempt> {
        let ip = &self.ips[index];
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .http
            .post(self.config.url(ip))
            .json(&json!({"jsonrpc": "2.0", "method": method, "params": params, "id": id}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| {
            Attempt::FailOver(WekaError::Unreachable {
                ip: ip.clone(),
                source: Box::new(e),
            })
        })?;
        let status = response.status();
        if !status.is_success() {
            let error = WekaError::Http {
                ip: ip.clone(),
                method: method.to_owned(),
                status: status.as_u16(),
            };
            return Err(if status.is_server_error() || status.as_u16() == 401 {
                Attempt::FailOver(error)
            } else {
                Attempt::Fatal(error)
            });
        }
        let body: Vec<u8> = response
            .bytes()
            .await
            .map_err(|e| {
                Attempt::FailOver(WekaError::Unreachable {
                    ip: ip.clone(),
                    source: Box::new(e),
                })
            })?
            .into();
        // Only the envelope is scanned here; the result is decoded by the caller, large lists
        // straight into the typed models.
        let envelope = rpc_envelope(&body).map_err(|e| {
            Attempt::FailOver(WekaError::Unreachable {
                ip: ip.clone(),
                source: Box::new(e),
            })
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
                Attempt::FailOver(rpc)
            } else {
                Attempt::Fatal(rpc)
            });
        }
        let span = envelope.result.ok_or_else(|| {
            Attempt::Fatal(WekaError::Decode {
                method: method.to_owned(),
                reason: "answer has neither result nor error".to_owned(),
            })
        })?;
        Ok(RawResult::new(body, span))
    }

    async fn login(&self, index: usize) -> Result<String, Attempt> {
        let params = json!([self.credentials.username, self.credentials.password]);
        let raw = self
            .post(index, "user_login", params, None)
            .await
            .map_err(|a| match a {
                Attempt::Fatal(WekaError::Rpc { message, .. }) => {
                    Attempt::FailOver(WekaError::Login {
                        ip: self.ips[index].clone(),
                        username: self.credentials.username.clone(),
                        message,
                    })
                }
                other => other,
            })?;
        serde_json::from_slice::<Value>(raw.json())
            .ok()
            .as_ref()
            .and_then(|result| result.get("access_token"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                Attempt::FailOver(WekaError::Login {
                    ip: self.ips[index].clone(),
                    username: self.credentials.username.clone(),
                    message: "login answer has no access_token".to_owned(),
                })
            })
    }

    async fn token_for(&self, index: usize) -> Result<String, Attempt> {
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
    ) -> Result<RawResult, Attempt> {
        let token = self.token_for(index).await?;
        match self.post(index, method, params.clone(), Some(&token)).await {
            // An expired token: log in again once on the same backend.
            Err(Attempt::FailOver(WekaError::Http { status: 401, .. })) => {
                self.forget_token(index).await;
                let token = self.token_for(index).await?;
                self.post(index, method, params.clone(), Some(&token)).await
            }
            other => other,
        }
    }
}

impl WekaApi for JsonRpcSession {
    async fn call(&self, method: &str, params: Value) -> Result<Value, WekaError> {
        let raw = self.call_raw(method, params).await?;
        serde_json::from_slice(raw.json()).map_err(|e| WekaError::Decode {
            method: method.to_owned(),
            reason: e.to_string(),
        })
    }

    async fn call_raw(&self, method: &str, params: Value) -> Result<RawResult, WekaError> {
        if self.ips.is_empty() {
            return Err(WekaError::NoBackends {
                method: method.to_owned(),
            });
        }
        let start = self.current.load(Ordering::Relaxed);
        let mut last = None;
        for offset in 0..self.ips.len() {
            let index = (start + offset) % self.ips.len();
            match self.attempt(index, method, &params).await {
                Ok(result) => {
                    self.current.store(index, Ordering::Relaxed);
                    return Ok(result);
                }
                Err(Attempt::Fatal(error)) => return Err(error),
                Err(Attempt::FailOver(error)) => {
                    tracing::warn!(ip = %self.ips[index], method, error = %error, "weka backend failed, trying next");
                    last = Some(error);
                }
            }
        }
        Err(WekaError::AllBackendsFailed {
            method: method.to_owned(),
            tried: self.ips.len(),
            last: Box::new(last.unwrap_or(WekaError::NoBackends {
                method: method.to_owned(),
            })),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn template_must_name_the_ip() {
        let env: HashMap<String, String> = HashMap::from([(
            WEKA_API_URL_TEMPLATE_ENV.to_owned(),
            "http://127.0.0.1:9/api".to_owned(),
        )]);
        assert!(WekaRpcConfig::from_lookup(&env).is_err());
        let default = WekaRpcConfig::from_lookup(&HashMap::new()).unwrap();
        assert_eq!(default.url("10.0.0.1"), "http://10.0.0.1:14000/api/v1");
    }
}
