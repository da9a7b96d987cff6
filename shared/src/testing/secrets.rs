//! [`FakeSecrets`]: secrets in memory.

use crate::ports::{SecretError, Secrets};
use std::collections::HashMap;
use std::sync::Mutex;

/// Secrets in memory.
#[derive(Debug, Default)]
pub struct FakeSecrets(Mutex<HashMap<String, String>>);

impl FakeSecrets {
    /// A store holding `pairs`.
    pub fn with(pairs: &[(&str, &str)]) -> Self {
        Self(Mutex::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ))
    }

    /// The current value of `id`.
    pub fn value(&self, id: &str) -> Option<String> {
        self.0.lock().unwrap().get(id).cloned()
    }
}

impl Secrets for FakeSecrets {
    async fn get(&self, id: &str) -> Result<String, SecretError> {
        self.value(id)
            .ok_or_else(|| SecretError::Empty { id: id.to_owned() })
    }

    async fn put(&self, id: &str, value: &str) -> Result<(), SecretError> {
        self.0
            .lock()
            .unwrap()
            .insert(id.to_owned(), value.to_owned());
        Ok(())
    }
}
