//! What the console reaches, as narrow traits: the deployment's `status` function, the pause
//! item in its state table and the caller's identity. `aws` implements them over the SDK;
//! tests use the status handler itself and the in-memory store.

use std::future::Future;

use serde_json::Value;
use weka_shared::domain::control::Pause;
use weka_shared::ports::{StateStore, StoreError};

/// A call the console made that did not answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The function ran and answered an error (its stable `errorType`).
    #[error("{function} answered {error_type}: {message}")]
    Function {
        /// The function invoked.
        function: String,
        /// Its `errorType` (`Weka.InvalidInput`, `Weka.Transient`, ...).
        error_type: String,
        /// Its `errorMessage`.
        message: String,
    },
    /// AWS refused or could not carry the call (credentials, permissions, network).
    #[error("{call} failed: {reason}")]
    Aws {
        /// The call (`lambda:Invoke`, `sts:GetCallerIdentity`).
        call: &'static str,
        /// AWS's error, its chain joined.
        reason: String,
    },
    /// The answer is not the JSON the call returns.
    #[error("the answer of {call} could not be read: {reason}")]
    Answer {
        /// The call.
        call: &'static str,
        /// Why.
        reason: String,
    },
}

/// The deployment's `status` function: one JSON request, one JSON answer.
pub trait StatusFunction: Sync {
    /// Invokes it with `request`.
    fn call(&self, request: Value) -> impl Future<Output = Result<Value, CallError>> + Send;
}

/// The operator's pause of scale-down and terminations, in the deployment's state table.
pub trait PauseSwitch: Sync {
    /// The pause standing, if any.
    fn paused(&self) -> impl Future<Output = Result<Option<Pause>, StoreError>> + Send;
    /// Writes `pause`.
    fn pause(&self, pause: &Pause) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Lifts the pause; the one lifted, if any.
    fn resume(&self) -> impl Future<Output = Result<Option<Pause>, StoreError>> + Send;
}

impl<S: StateStore + Sync> PauseSwitch for S {
    fn paused(&self) -> impl Future<Output = Result<Option<Pause>, StoreError>> + Send {
        StateStore::paused(self)
    }

    fn pause(&self, pause: &Pause) -> impl Future<Output = Result<(), StoreError>> + Send {
        StateStore::pause(self, pause)
    }

    fn resume(&self) -> impl Future<Output = Result<Option<Pause>, StoreError>> + Send {
        StateStore::resume(self)
    }
}

/// Who is calling (recorded as `paused_by`).
pub trait CallerIdentity: Sync {
    /// The caller's identity, e.g. an IAM ARN.
    fn caller(&self) -> impl Future<Output = Result<String, CallError>> + Send;
}
