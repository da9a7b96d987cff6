//! The WEKA management API (JSON-RPC 2.0), as a port: a connector that opens a session on a
//! pool of backend IPs with credentials, and the session's `call`.

use crate::ports::Credentials;
use std::future::Future;
use std::ops::Range;
use std::time::Instant;

/// Failures of WEKA API calls.
#[derive(Debug, thiserror::Error)]
pub enum WekaError {
    /// No backend address was given.
    #[error("no weka backend address to call {method}")]
    NoBackends {
        /// The method that could not be called.
        method: String,
    },
    /// Every backend in the pool failed, after the retries the call's deadline allowed.
    #[error(
        "every weka backend failed for {method} after {attempts} attempt(s){}: {}",
        deadline_note(.out_of_time),
        describe(.failures)
    )]
    AllBackendsFailed {
        /// Method called.
        method: String,
        /// How many attempts were made, over all backends.
        attempts: usize,
        /// Whether retrying stopped because the deadline was near.
        out_of_time: bool,
        /// The last failure of each backend tried, in pool order.
        failures: Vec<WekaError>,
    },
    /// The call's deadline left no time for even one attempt.
    #[error("no time left before the deadline to call weka {method}")]
    DeadlineReached {
        /// The method that was not called.
        method: String,
    },
    /// The HTTP client could not be built (its configuration is the process's: every call
    /// fails alike).
    #[error("weka http client could not be built")]
    Client {
        /// Cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The backend could not be reached or timed out.
    #[error("weka backend {ip} unreachable")]
    Unreachable {
        /// Backend address.
        ip: String,
        /// Cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Login was refused.
    #[error("weka login as {username:?} refused by {ip}: {message}")]
    Login {
        /// Backend address.
        ip: String,
        /// User name.
        username: String,
        /// WEKA's message.
        message: String,
    },
    /// WEKA answered with a JSON-RPC error.
    #[error("weka {method} failed with code {code}: {message}")]
    Rpc {
        /// Method called.
        method: String,
        /// JSON-RPC error code.
        code: i64,
        /// WEKA's message.
        message: String,
    },
    /// HTTP status other than success.
    #[error("weka backend {ip} answered http {status} to {method}")]
    Http {
        /// Backend address.
        ip: String,
        /// Method called.
        method: String,
        /// HTTP status.
        status: u16,
    },
    /// The answer did not have the expected shape.
    #[error("weka {method} answer could not be decoded: {reason}")]
    Decode {
        /// Method called.
        method: String,
        /// What was wrong.
        reason: String,
    },
}

impl WekaError {
    /// The login refusal behind this failure: the error itself, or the one a backend gave when
    /// every backend failed. A refused login needs an operator (a missing deployment user, a
    /// changed password), not a retry.
    pub fn refused_login(&self) -> Option<&Self> {
        match self {
            Self::Login { .. } => Some(self),
            Self::AllBackendsFailed { failures, .. } => {
                failures.iter().find(|f| matches!(f, Self::Login { .. }))
            }
            _ => None,
        }
    }
}

fn deadline_note(out_of_time: &bool) -> &'static str {
    if *out_of_time {
        ", stopped short of the deadline"
    } else {
        ""
    }
}

/// Each failure with its causes, so the one error names what went wrong on every backend.
fn describe(failures: &[WekaError]) -> String {
    failures
        .iter()
        .map(|failure| crate::error::error_chain(failure))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The `result` of a JSON-RPC call as JSON text, not decoded yet: large results (`hosts_list`,
/// `disks_list`, `nodes_list`) are decoded straight into the typed models by
/// [`crate::weka::decode`] rather than through a `serde_json::Value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResult {
    body: Vec<u8>,
    span: Range<usize>,
}

impl RawResult {
    /// The result that spans `span` of a response `body` (the whole body if `span` is out of it).
    pub fn new(body: Vec<u8>, span: Range<usize>) -> Self {
        let span = if body.get(span.clone()).is_some() {
            span
        } else {
            0..body.len()
        };
        Self { body, span }
    }

    /// The JSON text of a value.
    pub fn from_value(value: &serde_json::Value) -> Self {
        let body = value.to_string().into_bytes();
        let span = 0..body.len();
        Self { body, span }
    }

    /// The JSON text of the result.
    pub fn json(&self) -> &[u8] {
        self.body.get(self.span.clone()).unwrap_or_default()
    }
}

/// An authenticated session on a pool of WEKA backends.
pub trait WekaApi: Send + Sync {
    /// Calls `method` with `params` and returns its `result`.
    fn call(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> impl Future<Output = Result<serde_json::Value, WekaError>> + Send;

    /// Stops sending calls through backend `ip` (it was deactivated or removed): the others
    /// serve the rest of the session. A session told to stop using all of them keeps them all,
    /// rather than having none to try. The default (sessions without a pool) does nothing.
    fn stop_using(&self, ip: &str) {
        let _ = ip;
    }

    /// Like [`Self::call`], but returns the `result` undecoded. The default serialises what
    /// `call` returns; the JSON-RPC session returns the received text itself.
    fn call_raw(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> impl Future<Output = Result<RawResult, WekaError>> + Send {
        async move {
            self.call(method, params)
                .await
                .map(|value| RawResult::from_value(&value))
        }
    }
}

/// Opens sessions.
pub trait WekaConnector: Send + Sync {
    /// The session type.
    type Api: WekaApi;

    /// A session that tries `backend_ips` in order and logs in with `credentials`.
    fn connect(&self, backend_ips: Vec<String>, credentials: Credentials) -> Self::Api;

    /// Like [`Self::connect`], for an invocation that must be done by `deadline`: the
    /// session's calls stop retrying in time to return by then. Without one, retries are
    /// bounded by count only. Sessions that never retry may ignore it (the default).
    fn connect_until(
        &self,
        backend_ips: Vec<String>,
        credentials: Credentials,
        deadline: Option<Instant>,
    ) -> Self::Api {
        let _ = deadline;
        self.connect(backend_ips, credentials)
    }
}
