//! Users, access and refresh tokens, login.

use super::{Cluster, SimError, SimUser, World};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

/// An issued access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    user: String,
    expires: DateTime<Utc>,
}

impl Cluster {
    /// Checks a username/password pair.
    pub fn check_password(&self, user: &str, password: &str) -> bool {
        self.users.get(user).is_some_and(|u| u.password == password)
    }

    /// The user an access token belongs to, if valid at `now`.
    pub fn token_user(&self, token: &str, now: DateTime<Utc>) -> Option<&str> {
        self.tokens
            .get(token)
            .filter(|t| t.expires > now)
            .map(|t| t.user.as_str())
    }
}

impl World {
    /// Adds or replaces a user of a cluster (or of every future cluster when `guid` is None).
    pub fn set_user(
        &mut self,
        guid: Option<&str>,
        username: &str,
        password: &str,
        role: &str,
    ) -> Result<(), SimError> {
        if username.is_empty() {
            return Err(SimError::Invalid("username is required".to_owned()));
        }
        let user = SimUser {
            password: password.to_owned(),
            role: role.to_owned(),
        };
        match guid {
            Some(g) => {
                let cluster = self.cluster_mut(g)?;
                cluster.users.insert(username.to_owned(), user);
                // Changing a password logs that user out, as a rotated secret would.
                cluster.tokens.retain(|_, t| t.user != username);
            }
            None => {
                self.default_users.insert(username.to_owned(), user);
            }
        }
        Ok(())
    }

    /// Issues an access token after checking the password.
    pub fn login(&mut self, guid: &str, user: &str, password: &str) -> Result<Value, SimError> {
        let now = self.now();
        let ttl = self.config.token_ttl_secs;
        let serial = self.next_serial();
        let cluster = self.cluster_mut(guid)?;
        if !cluster.check_password(user, password) {
            return Err(SimError::Conflict(format!(
                "login failed: invalid username or password for {user:?}"
            )));
        }
        Ok(issue_token(cluster, user, now, ttl, serial))
    }

    /// Invalidates every access token of the cluster, as a WEKA restart or a logout of every
    /// session would; refresh tokens stay valid. Returns how many were revoked.
    pub fn revoke_tokens(&mut self, guid: &str) -> Result<usize, SimError> {
        let cluster = self.cluster_mut(guid)?;
        let revoked = cluster.tokens.len();
        cluster.tokens.clear();
        Ok(revoked)
    }

    /// Renews an access token from a refresh token.
    pub fn refresh(&mut self, guid: &str, refresh_token: &str) -> Result<Value, SimError> {
        let now = self.now();
        let ttl = self.config.token_ttl_secs;
        let serial = self.next_serial();
        let cluster = self.cluster_mut(guid)?;
        let user = cluster
            .refresh_tokens
            .get(refresh_token)
            .cloned()
            .ok_or_else(|| SimError::Conflict("invalid refresh token".to_owned()))?;
        Ok(issue_token(cluster, &user, now, ttl, serial))
    }
}

fn issue_token(
    cluster: &mut Cluster,
    user: &str,
    now: DateTime<Utc>,
    ttl: i64,
    serial: u64,
) -> Value {
    let access = format!("sim-access-{serial:08x}");
    let refresh = format!("sim-refresh-{serial:08x}");
    cluster.tokens.insert(
        access.clone(),
        Token {
            user: user.to_owned(),
            expires: now + TimeDelta::seconds(ttl),
        },
    );
    cluster
        .refresh_tokens
        .insert(refresh.clone(), user.to_owned());
    json!({"access_token": access, "refresh_token": refresh, "expires_in": ttl,
           "token_type": "Bearer", "password_change_required": false})
}
