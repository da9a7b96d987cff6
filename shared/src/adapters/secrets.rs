//! Secrets on AWS Secrets Manager. Values never enter errors or logs.

use crate::ports::{SecretError, Secrets};
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::SdkError;

/// Secrets Manager client.
#[derive(Debug, Clone)]
pub struct SecretsManager {
    client: super::LazyClient<Client>,
}

impl SecretsManager {
    /// The client on the shared SDK configuration, built on first use.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        Self::from_clients(&super::AwsClients::new(sdk.clone()))
    }

    /// On the process's Secrets Manager client.
    pub fn from_clients(clients: &super::AwsClients) -> Self {
        Self {
            client: clients.secrets(),
        }
    }
}

impl Secrets for SecretsManager {
    async fn get(&self, id: &str) -> Result<String, SecretError> {
        match self.client.get_secret_value().secret_id(id).send().await {
            Ok(out) => out
                .secret_string()
                .map(str::to_owned)
                .ok_or_else(|| SecretError::Empty { id: id.to_owned() }),
            // A secret created without a value answers ResourceNotFound, like a missing one.
            Err(SdkError::ServiceError(service))
                if service.err().is_resource_not_found_exception() =>
            {
                Err(SecretError::Empty { id: id.to_owned() })
            }
            Err(e) => Err(SecretError::Backend {
                operation: "get_secret_value",
                id: id.to_owned(),
                source: Box::new(e),
            }),
        }
    }

    async fn put(&self, id: &str, value: &str) -> Result<(), SecretError> {
        self.client
            .put_secret_value()
            .secret_id(id)
            .secret_string(value)
            .send()
            .await
            .map_err(|e| SecretError::Backend {
                operation: "put_secret_value",
                id: id.to_owned(),
                source: Box::new(e),
            })?;
        Ok(())
    }
}
