//! The WEKA management API (JSON-RPC 2.0), as a port: a connector that opens a session on a
//! pool of backend IPs with credentials, and the session's `call`.

use crate::ports::Credentials;
use std::future::Future;

/// Failures of WEKA API calls.
#[derive(Debug, thiserror::Error)]
pub enum WekaError {
    /// No backend address was given.
    #[error("no weka backend address to call {method}")]
    NoBackends {
        /// The method that could not be called.
        method: String,
    },
    /// Every backend in the pool failed; the last failure is the source.
    #[error("every weka backend failed for {method} (tried {tried})")]
    AllBackendsFailed {
        /// Method called.
        method: String,
        /// How many backends were tried.
        tried: usize,
        /// The last error.
        #[source]
        last: Box<WekaError>,
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

/// An authenticated session on a pool of WEKA backends.
pub trait WekaApi: Send + Sync {
    /// Calls `method` with `params` and returns its `result`.
    fn call(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> impl Future<Output = Result<serde_json::Value, WekaError>> + Send;
}

/// Opens sessions.
pub trait WekaConnector: Send + Sync {
    /// The session type.
    type Api: WekaApi;

    /// A session that tries `backend_ips` in order and logs in with `credentials`.
    fn connect(&self, backend_ips: Vec<String>, credentials: Credentials) -> Self::Api;
}
