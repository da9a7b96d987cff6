//! Fault injection on the JSON-RPC endpoint, and a log of the JSON-RPC requests served, so
//! tests can make a backend fail, hang or drop connections and count what the client sent.
//!
//! A [`FaultRule`] matches requests by backend IP and method (either may be left open) and
//! applies to the next `count` of them, or to all until cleared. The first rule that matches
//! is used up by one request. An injected status or dropped connection answers instead of the
//! world (which never sees the request); a delay holds the world's answer back.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Duration;

/// Most requests kept in the log; older ones are dropped.
pub const REQUEST_LOG_CAPACITY: usize = 10_000;

/// One injected fault, as posted to `POST /_sim/faults`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultRule {
    /// Only requests to this backend; any backend when absent.
    pub ip: Option<String>,
    /// Only requests for this JSON-RPC method; any method when absent.
    pub method: Option<String>,
    /// How many matching requests it applies to; every one until cleared when absent.
    pub count: Option<u32>,
    /// Answer with this HTTP status (and a JSON error body) instead of the world's answer.
    pub status: Option<u16>,
    /// Drop the connection without an answer.
    pub close: bool,
    /// Hold the answer back this long.
    pub delay_ms: u64,
}

impl FaultRule {
    fn matches(&self, ip: &str, method: Option<&str>) -> bool {
        self.count != Some(0)
            && self.ip.as_deref().is_none_or(|want| want == ip)
            && self
                .method
                .as_deref()
                .is_none_or(|want| method == Some(want))
    }

    /// Whether the rule is usable at all (it must do something, and a status must be an error).
    pub fn validate(&self) -> Result<(), String> {
        if self.count == Some(0) {
            return Err("a fault with count 0 would never apply".to_owned());
        }
        if self.status.is_none() && !self.close && self.delay_ms == 0 {
            return Err("a fault needs status, close or delay_ms".to_owned());
        }
        if let Some(status) = self.status
            && !(400..=599).contains(&status)
        {
            return Err(format!("fault status {status} is not an http error"));
        }
        if self.status.is_some() && self.close {
            return Err("a fault either answers a status or closes, not both".to_owned());
        }
        Ok(())
    }
}

/// What to do with one JSON-RPC request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaultAction {
    /// Answer this status instead of asking the world.
    pub status: Option<u16>,
    /// Drop the connection instead of asking the world.
    pub close: bool,
    /// Hold the answer back.
    pub delay: Duration,
}

/// One JSON-RPC request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Backend addressed.
    pub ip: String,
    /// JSON-RPC method, when the body named one.
    pub method: Option<String>,
    /// HTTP status answered; `None` when the connection was dropped.
    pub status: Option<u16>,
    /// Whether an injected fault shaped the answer.
    pub injected: bool,
    /// How long the answer was held back.
    pub delay_ms: u64,
}

/// Active fault rules and the request log.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    rules: Vec<FaultRule>,
    log: VecDeque<RequestRecord>,
}

impl Faults {
    /// Adds a rule after the existing ones.
    pub fn add(&mut self, rule: FaultRule) -> Result<(), String> {
        rule.validate()?;
        self.rules.push(rule);
        Ok(())
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// The active rules.
    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// Uses up the first rule matching a request to `ip` for `method`.
    pub fn take(&mut self, ip: &str, method: Option<&str>) -> Option<FaultAction> {
        let rule = self.rules.iter_mut().find(|r| r.matches(ip, method))?;
        if let Some(count) = rule.count.as_mut() {
            *count -= 1;
        }
        let action = FaultAction {
            status: rule.status,
            close: rule.close,
            delay: Duration::from_millis(rule.delay_ms),
        };
        self.rules.retain(|r| r.count != Some(0));
        Some(action)
    }

    /// Appends to the request log.
    pub fn record(&mut self, record: RequestRecord) {
        if self.log.len() >= REQUEST_LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(record);
    }

    /// The requests logged, oldest first.
    pub fn requests(&self) -> impl Iterator<Item = &RequestRecord> {
        self.log.iter()
    }

    /// Empties the request log.
    pub fn clear_requests(&mut self) {
        self.log.clear();
    }
}

/// The `method` of a JSON-RPC request body, if it has one.
pub fn rpc_method(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct MethodOnly {
        method: Option<String>,
    }
    serde_json::from_slice::<MethodOnly>(body)
        .ok()
        .and_then(|m| m.method)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rule(ip: Option<&str>, method: Option<&str>, count: Option<u32>) -> FaultRule {
        FaultRule {
            ip: ip.map(str::to_owned),
            method: method.map(str::to_owned),
            count,
            status: Some(503),
            ..FaultRule::default()
        }
    }

    #[test]
    fn counted_rules_are_used_up_in_order() {
        let mut faults = Faults::default();
        faults.add(rule(Some("10.0.0.1"), None, Some(2))).unwrap();
        faults
            .add(FaultRule {
                status: Some(429),
                ..rule(None, Some("status"), Some(1))
            })
            .unwrap();
        assert_eq!(faults.take("10.0.0.2", Some("hosts_list")), None);
        assert_eq!(
            faults.take("10.0.0.1", Some("status")).unwrap().status,
            Some(503)
        );
        assert_eq!(
            faults.take("10.0.0.1", Some("status")).unwrap().status,
            Some(503)
        );
        assert_eq!(
            faults.take("10.0.0.1", Some("status")).unwrap().status,
            Some(429)
        );
        assert_eq!(faults.take("10.0.0.1", Some("status")), None);
        assert!(faults.rules().is_empty());
    }

    #[test]
    fn uncounted_rules_last_until_cleared() {
        let mut faults = Faults::default();
        faults
            .add(FaultRule {
                delay_ms: 50,
                ..FaultRule::default()
            })
            .unwrap();
        for _ in 0..5 {
            let action = faults.take("10.0.0.1", None).unwrap();
            assert_eq!(action.delay, Duration::from_millis(50));
            assert_eq!(action.status, None);
        }
        faults.clear();
        assert_eq!(faults.take("10.0.0.1", None), None);
    }

    #[test]
    fn useless_or_contradictory_rules_are_refused() {
        let mut faults = Faults::default();
        assert!(faults.add(FaultRule::default()).is_err());
        assert!(
            faults
                .add(FaultRule {
                    status: Some(200),
                    ..FaultRule::default()
                })
                .is_err()
        );
        assert!(
            faults
                .add(FaultRule {
                    status: Some(503),
                    close: true,
                    ..FaultRule::default()
                })
                .is_err()
        );
    }

    #[test]
    fn the_log_keeps_the_latest_requests() {
        let mut faults = Faults::default();
        for i in 0..=REQUEST_LOG_CAPACITY {
            faults.record(RequestRecord {
                ip: format!("10.0.{}.{}", i / 256, i % 256),
                method: rpc_method(br#"{"method":"status"}"#),
                status: Some(200),
                injected: false,
                delay_ms: 0,
            });
        }
        assert_eq!(faults.requests().count(), REQUEST_LOG_CAPACITY);
        assert_eq!(faults.requests().next().unwrap().ip, "10.0.0.1");
        assert_eq!(rpc_method(b"not json"), None);
    }
}
