//! [`FakeWeka`]: a WEKA API that records every call and answers through a responder.

use crate::ports::{Credentials, WekaApi, WekaConnector, WekaError};
use std::sync::{Arc, Mutex};

/// How a fake WEKA cluster answers: `(backend_ips, method, params) -> result`.
pub type WekaResponder = dyn Fn(&[String], &str, &serde_json::Value) -> Result<serde_json::Value, WekaError>
    + Send
    + Sync;

/// A fake WEKA API that records every call and answers with a responder.
#[derive(Clone)]
pub struct FakeWeka {
    responder: Arc<WekaResponder>,
    calls: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    logins: Arc<Mutex<Vec<Credentials>>>,
}

impl std::fmt::Debug for FakeWeka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeWeka")
            .field("calls", &self.calls)
            .finish()
    }
}

impl FakeWeka {
    /// A fake answering with `responder`.
    pub fn new(
        responder: impl Fn(&[String], &str, &serde_json::Value) -> Result<serde_json::Value, WekaError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self {
            responder: Arc::new(responder),
            calls: Arc::default(),
            logins: Arc::default(),
        }
    }

    /// Every `(method, params)` called so far.
    pub fn calls(&self) -> Vec<(String, serde_json::Value)> {
        self.calls.lock().unwrap().clone()
    }

    /// Every credential a session was opened with.
    pub fn logins(&self) -> Vec<Credentials> {
        self.logins.lock().unwrap().clone()
    }
}

/// A session of [`FakeWeka`].
#[derive(Debug)]
pub struct FakeWekaSession {
    weka: FakeWeka,
    /// The pool the responder sees: what the session was opened with, less the backends it
    /// was told to stop using (never emptied, as the real session).
    ips: Mutex<Vec<String>>,
}

impl WekaConnector for FakeWeka {
    type Api = FakeWekaSession;

    fn connect(&self, backend_ips: Vec<String>, credentials: Credentials) -> FakeWekaSession {
        self.logins.lock().unwrap().push(credentials);
        FakeWekaSession {
            weka: self.clone(),
            ips: Mutex::new(backend_ips),
        }
    }
}

impl WekaApi for FakeWekaSession {
    fn stop_using(&self, ip: &str) {
        let mut ips = self.ips.lock().unwrap();
        if ips.iter().any(|other| other != ip) {
            ips.retain(|other| other != ip);
        }
    }

    async fn call(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, WekaError> {
        self.weka
            .calls
            .lock()
            .unwrap()
            .push((method.to_owned(), params.clone()));
        let ips = self.ips.lock().unwrap().clone();
        if ips.is_empty() {
            return Err(WekaError::NoBackends {
                method: method.to_owned(),
            });
        }
        (self.weka.responder)(&ips, method, &params)
    }
}
