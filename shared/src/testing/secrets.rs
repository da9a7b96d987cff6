//! [`FakeSecrets`]: secrets in memory, counting the reads.

use crate::ports::{SecretError, Secrets};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Secrets in memory, counting every read through the port.
#[derive(Debug, Default)]
pub struct FakeSecrets {
    values: Mutex<HashMap<String, String>>,
    reads: AtomicU64,
}

impl FakeSecrets {
    /// A store holding `pairs`.
    pub fn with(pairs: &[(&str, &str)]) -> Self {
        Self {
            values: Mutex::new(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            reads: AtomicU64::new(0),
        }
    }

    /// The current value of `id` (test inspection: not counted as a read).
    pub fn value(&self, id: &str) -> Option<String> {
        self.values.lock().unwrap().get(id).cloned()
    }

    /// Number of [`Secrets::get`] calls so far, found or not.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }
}

impl Secrets for FakeSecrets {
    async fn get(&self, id: &str) -> Result<String, SecretError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.value(id)
            .ok_or_else(|| SecretError::Empty { id: id.to_owned() })
    }

    async fn put(&self, id: &str, value: &str) -> Result<(), SecretError> {
        self.values
            .lock()
            .unwrap()
            .insert(id.to_owned(), value.to_owned());
        Ok(())
    }
}
