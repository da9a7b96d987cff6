//! Secrets Manager, as a port, and the WEKA credential lookups built on it.

use crate::config::names::{ADMIN_PASSWORD_ID_ENV, DEPLOYMENT_PASSWORD_ID_ENV, USERNAME_ID_ENV};
use crate::config::{ConfigError, Lookup};
use std::fmt;
use std::future::Future;

use super::BoxError;

/// Failure to read or write a secret. Never carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The secret has no value (yet), or does not exist.
    #[error("secret {id:?} has no value")]
    Empty {
        /// Secret id.
        id: String,
    },
    /// Secrets Manager failed.
    #[error("secrets manager failed during {operation} on {id:?}")]
    Backend {
        /// The operation that failed.
        operation: &'static str,
        /// Secret id.
        id: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

/// Secret ids of the WEKA credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsConfig {
    /// `USERNAME_ID`.
    pub username_id: String,
    /// `DEPLOYMENT_PASSWORD_ID`.
    pub deployment_password_id: String,
    /// `ADMIN_PASSWORD_ID`.
    pub admin_password_id: String,
}

impl SecretsConfig {
    /// Reads the three secret ids.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            username_id: env.required(USERNAME_ID_ENV)?,
            deployment_password_id: env.required(DEPLOYMENT_PASSWORD_ID_ENV)?,
            admin_password_id: env.required(ADMIN_PASSWORD_ID_ENV)?,
        })
    }
}

/// A WEKA user and password. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// Read and write access to secret values.
pub trait Secrets: Send + Sync {
    /// The current value of secret `id`; [`SecretError::Empty`] when it has none.
    fn get(&self, id: &str) -> impl Future<Output = Result<String, SecretError>> + Send;

    /// Stores a new current value of secret `id`.
    fn put(&self, id: &str, value: &str) -> impl Future<Output = Result<(), SecretError>> + Send;
}

/// The deployment user when its password exists, else `admin` with the admin password
/// (behaviour.md §3: the deployment user is created during clusterization).
pub async fn deployment_or_admin(
    secrets: &impl Secrets,
    ids: &SecretsConfig,
) -> Result<Credentials, SecretError> {
    match secrets.get(&ids.deployment_password_id).await {
        Ok(password) => Ok(Credentials {
            username: secrets.get(&ids.username_id).await?,
            password,
        }),
        Err(SecretError::Empty { .. }) => Ok(Credentials {
            username: "admin".to_owned(),
            password: secrets.get(&ids.admin_password_id).await?,
        }),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_debug_hides_password() {
        let c = super::Credentials {
            username: "u".to_owned(),
            password: "hunter2".to_owned(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
