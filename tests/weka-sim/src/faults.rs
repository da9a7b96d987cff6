//! Fault injection on the JSON-RPC endpoint, and a log of the JSON-RPC requests served, so
//! tests can make a backend fail, hang or drop connections and count what the client sent.
//!
//! A [`FaultRule`] matches requests by backend IP and method (either may be left open) and
//! applies to the next `count` of them, or to all until cleared. The first rule that matches
//! is used up by one request. An injected status or dropped connection answers instead of the
//! world (which never sees the request), or with `after` once the world has applied it (the
//! call took effect, its answer is lost); a delay holds the world's answer back.
//!
//! A rule with `cli` matches the `weka` CLI commands the instance scripts run instead (those
//! whose words start with the given ones, e.g. `user add`): the command exits 1 with an
//! injected error, before the world sees it or, with `after`, once it has been applied.

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
    /// Let the world apply the request first, then answer `status` (or fail the CLI command)
    /// instead of its answer: the call took effect, the caller sees a failure.
    pub after: bool,
    /// Only `weka` CLI commands whose words start with these (e.g. `user add`); such a rule
    /// never matches a JSON-RPC request, and the matching command exits 1.
    pub cli: Option<String>,
}

impl FaultRule {
    fn matches(&self, ip: &str, method: Option<&str>) -> bool {
        self.count != Some(0)
            && self.cli.is_none()
            && self.ip.as_deref().is_none_or(|want| want == ip)
            && self
                .method
                .as_deref()
                .is_none_or(|want| method == Some(want))
    }

    fn matches_cli(&self, ip: &str, args: &[String]) -> bool {
        self.count != Some(0)
            && self.ip.as_deref().is_none_or(|want| want == ip)
            && self.cli.as_deref().is_some_and(|words| {
                let words: Vec<&str> = words.split_whitespace().collect();
                args.len() >= words.len() && words.iter().zip(args).all(|(w, a)| w == a)
            })
    }

    /// Whether the rule is usable at all (it must do something, and a status must be an error).
    pub fn validate(&self) -> Result<(), String> {
        if self.count == Some(0) {
            return Err("a fault with count 0 would never apply".to_owned());
        }
        if let Some(words) = &self.cli {
            if words.split_whitespace().next().is_none() {
                return Err("a cli fault names the command's words".to_owned());
            }
            if self.method.is_some() || self.status.is_some() || self.close || self.delay_ms > 0 {
                return Err(
                    "a cli fault fails the command: no method, status, close or delay_ms"
                        .to_owned(),
                );
            }
            return Ok(());
        }
        if self.after && self.status.is_none() {
            return Err(
                "after needs the status to answer once the world applied the call".to_owned(),
            );
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
    /// Let the world apply the request before answering `status` (or failing the command).
    pub after: bool,
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

    /// Uses up the first rule matching a JSON-RPC request to `ip` for `method`.
    pub fn take(&mut self, ip: &str, method: Option<&str>) -> Option<FaultAction> {
        self.take_first(|r| r.matches(ip, method))
    }

    /// Uses up the first rule matching the `weka` CLI command `args` run on `ip`.
    pub fn take_cli(&mut self, ip: &str, args: &[String]) -> Option<FaultAction> {
        self.take_first(|r| r.matches_cli(ip, args))
    }

    fn take_first(&mut self, matches: impl Fn(&FaultRule) -> bool) -> Option<FaultAction> {
        let rule = self.rules.iter_mut().find(|r| matches(r))?;
        if let Some(count) = rule.count.as_mut() {
            *count -= 1;
        }
        let action = FaultAction {
            status: rule.status,
            close: rule.close,
            delay: Duration::from_millis(rule.delay_ms),
            after: rule.after,
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
    fn cli_rules_match_commands_by_their_first_words_and_never_json_rpc() {
        let mut faults = Faults::default();
        faults
            .add(FaultRule {
                cli: Some("user add".to_owned()),
                count: Some(1),
                ..FaultRule::default()
            })
            .unwrap();
        let argv = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        assert_eq!(faults.take("10.0.0.1", Some("user_login")), None);
        assert_eq!(faults.take_cli("10.0.0.1", &argv(&["user", "-J"])), None);
        assert_eq!(faults.take_cli("10.0.0.1", &argv(&["user"])), None);
        let action = faults
            .take_cli("10.0.0.1", &argv(&["user", "add", "u", "clusteradmin"]))
            .unwrap();
        assert!(!action.after);
        assert_eq!(faults.take_cli("10.0.0.1", &argv(&["user", "add"])), None);
        for refused in [
            FaultRule {
                cli: Some(" ".to_owned()),
                ..FaultRule::default()
            },
            FaultRule {
                cli: Some("user add".to_owned()),
                status: Some(500),
                ..FaultRule::default()
            },
            FaultRule {
                after: true,
                ..FaultRule::default()
            },
        ] {
            assert!(faults.add(refused).is_err());
        }
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
