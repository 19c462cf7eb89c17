//! Browser sign-in for agents, supervisors and administrators: through the organisation's
//! OpenID Connect provider ([`oidc`]) or a local account ([`local`]). Either ends in a web
//! session: a random cookie (`relais_session`, HttpOnly, SameSite=Lax, Secure over HTTPS) of
//! which the server keeps only the SHA-256, in memory and in the store, so sessions survive a
//! restart. The cookie authenticates `/ws` (a `hello` without a token) and the REST API; ending
//! the session (log-out, expiry, a disabled account) closes its websockets at once.

pub mod local;
pub mod oidc;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dashmap::DashMap;
use relais_proto::Role;
use relais_store::{Store, WebSession};

use crate::auth::Claims;
use crate::hub::{Hub, Outgoing};

/// The session cookie's name.
pub const COOKIE: &str = "relais_session";

/// The sessions of this server, and what an OpenID Connect sign-in in progress needs.
pub struct SignIn {
    sessions: DashMap<String, Live>,
    pub(crate) oidc: Option<oidc::Oidc>,
    pub(crate) local: local::Throttle,
    secure: bool,
    lifetime_ms: i64,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

struct Live {
    record: WebSession,
    /// The provider's ID token, a hint for its log-out (kept in memory only).
    id_token: Option<String>,
}

/// Who signed in, as the provider or the local account says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub subject: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub services: Option<Vec<String>>,
}

/// Roles in the order a console picks one when it names none.
const ROLE_ORDER: [Role; 3] = [Role::Agent, Role::Supervisor, Role::Admin];

pub fn role_of(name: &str) -> Option<Role> {
    ROLE_ORDER.into_iter().find(|role| role.as_str() == name)
}

fn hash(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A random URL-safe string of `bytes` random bytes.
pub(crate) fn random(bytes: usize) -> String {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    // The system generator does not fail on Linux; a failure leaves zeros, refused below.
    if ring::rand::SystemRandom::new().fill(&mut buf).is_err() || buf.iter().all(|b| *b == 0) {
        tracing::error!("the system's random generator failed");
        return String::new();
    }
    URL_SAFE_NO_PAD.encode(buf)
}

impl SignIn {
    /// Loads the sessions still valid from the store.
    pub fn load(config: &crate::config::Config, store: &Store) -> anyhow::Result<Self> {
        let sessions = DashMap::new();
        for record in store
            .live_web_sessions(now_ms())
            .map_err(|err| anyhow::anyhow!("cannot read the web sessions: {err}"))?
        {
            sessions.insert(
                record.session_hash.clone(),
                Live {
                    record,
                    id_token: None,
                },
            );
        }
        let secure = config.tls.cert.is_some()
            || config
                .http
                .public_url
                .as_deref()
                .is_some_and(|url| url.starts_with("https://"));
        Ok(Self {
            sessions,
            oidc: config.oidc.as_ref().map(|c| oidc::Oidc::new(config, c)),
            local: local::Throttle::default(),
            secure,
            lifetime_ms: i64::try_from(config.auth.session_hours)
                .unwrap_or(10)
                .saturating_mul(3_600_000),
        })
    }

    /// Opens a session for `person`: kept in the store first, then here. Returns the cookie's
    /// value.
    pub async fn open(
        &self,
        store: &Arc<Store>,
        person: Person,
        method: &str,
        id_token: Option<String>,
    ) -> anyhow::Result<String> {
        let until = now_ms() + self.lifetime_ms;
        self.open_until(store, person, method, id_token, until)
            .await
    }

    /// As [`SignIn::open`], for a session that ends at `expires_ms`.
    pub async fn open_until(
        &self,
        store: &Arc<Store>,
        person: Person,
        method: &str,
        id_token: Option<String>,
        expires_ms: i64,
    ) -> anyhow::Result<String> {
        let token = random(32);
        if token.is_empty() {
            anyhow::bail!("no randomness for a session");
        }
        let now = now_ms();
        let record = WebSession {
            session_hash: hash(&token),
            subject: person.subject,
            name: person.name,
            roles: person.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            services: person.services,
            method: method.to_owned(),
            created_at_ms: now,
            expires_ms,
        };
        let kept = record.clone();
        let store = Arc::clone(store);
        tokio::task::spawn_blocking(move || store.insert_web_session(&kept))
            .await
            .map_err(|err| anyhow::anyhow!("{err}"))?
            .map_err(|err| anyhow::anyhow!("cannot keep the session: {err}"))?;
        tracing::info!(subject = %record.subject, method, "signed in in a browser");
        self.sessions
            .insert(record.session_hash.clone(), Live { record, id_token });
        Ok(token)
    }

    /// The live session a request's cookie names.
    pub fn of_headers(&self, headers: &HeaderMap) -> Option<WebSession> {
        self.get(&hash(cookie(headers)?))
    }

    /// A session by its hash, if it has not expired.
    pub fn get(&self, session_hash: &str) -> Option<WebSession> {
        let live = self.sessions.get(session_hash)?;
        (live.record.expires_ms > now_ms()).then(|| live.record.clone())
    }

    /// The hash of the session a request's cookie names, if it is live.
    pub fn hash_of(&self, headers: &HeaderMap) -> Option<String> {
        self.of_headers(headers).map(|s| s.session_hash)
    }

    /// Ends a session: gone from the store and from here, its websockets closed. Returns the
    /// provider's ID token it was opened with, if any.
    pub async fn end(&self, store: &Arc<Store>, hub: &Hub, session_hash: &str) -> Option<String> {
        let (_, live) = self.sessions.remove(session_hash)?;
        let store = Arc::clone(store);
        let key = session_hash.to_owned();
        match tokio::task::spawn_blocking(move || store.delete_web_session(&key)).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::error!(error = %err, "cannot delete an ended session"),
            Err(err) => tracing::error!(error = %err, "cannot delete an ended session"),
        }
        close_sockets(hub, session_hash, "signed out");
        tracing::info!(subject = %live.record.subject, "browser session ended");
        live.id_token
    }

    /// The live sessions, oldest first.
    pub fn list(&self) -> Vec<WebSession> {
        let now = now_ms();
        let mut sessions: Vec<WebSession> = self
            .sessions
            .iter()
            .filter(|e| e.record.expires_ms > now)
            .map(|e| e.record.clone())
            .collect();
        sessions.sort_by_key(|s| s.created_at_ms);
        sessions
    }

    /// Ends every session of `subject` (an administrator signing someone out everywhere).
    /// Returns how many there were.
    pub async fn end_person(&self, store: &Arc<Store>, hub: &Hub, subject: &str) -> usize {
        let keys: Vec<String> = self
            .sessions
            .iter()
            .filter(|e| e.record.subject == subject)
            .map(|e| e.key().clone())
            .collect();
        for key in &keys {
            self.end(store, hub, key).await;
        }
        keys.len()
    }

    /// Ends every session of a subject signed in with `method` (a disabled local account).
    pub fn end_subject(&self, hub: &Hub, subject: &str, method: &str) {
        let ended: Vec<String> = self
            .sessions
            .iter()
            .filter(|e| e.record.subject == subject && e.record.method == method)
            .map(|e| e.key().clone())
            .collect();
        for key in ended {
            self.sessions.remove(&key);
            close_sockets(hub, &key, "account disabled");
        }
    }

    /// Drops expired sessions, and those no longer in the store (`relais user disable` run
    /// beside the server), and closes their websockets.
    pub fn sweep(&self, hub: &Hub, in_store: Option<&std::collections::HashSet<String>>) {
        let now = now_ms();
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|e| {
                e.record.expires_ms <= now || in_store.is_some_and(|kept| !kept.contains(e.key()))
            })
            .map(|e| e.key().clone())
            .collect();
        for key in expired {
            self.sessions.remove(&key);
            close_sockets(hub, &key, "session expired");
        }
    }

    /// The `Set-Cookie` value that gives a browser its session.
    pub fn set_cookie(&self, token: &str) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let max_age = self.lifetime_ms / 1000;
        HeaderValue::from_str(&format!(
            "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("relais_session=; Path=/"))
    }

    /// The `Set-Cookie` value that removes it.
    pub fn clear_cookie(&self) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("relais_session=; Path=/; Max-Age=0"))
    }
}

/// Every minute: [`SignIn::sweep`] against the store's live sessions.
pub async fn sweep_every_minute(state: crate::state::AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let store = Arc::clone(state.store());
        let kept = tokio::task::spawn_blocking(move || store.live_web_sessions(now_ms()))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|sessions| sessions.into_iter().map(|s| s.session_hash).collect());
        state.signin().sweep(state.hub(), kept.as_ref());
    }
}

fn close_sockets(hub: &Hub, session_hash: &str, why: &'static str) {
    for entry in hub.sessions.iter() {
        if entry.web.as_deref() == Some(session_hash) {
            let _ = entry.tx.try_send(Outgoing::Close(why));
        }
    }
}

/// The session cookie of a request.
pub fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty() && value.len() <= 128)
}

/// Whether a request carrying a cookie comes from this server's own pages: its `Origin` (which
/// browsers send on websockets and on every POST) is the public URL's, or else names the host
/// the request was sent to. Cookies are refused from other origins (cross-site requests and
/// websocket hijacking).
pub fn same_origin(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Not a browser's cross-origin request (browsers always send Origin on these).
        return true;
    };
    if let Some(public) = public_url {
        let public = public.trim_end_matches('/');
        let public_origin = public
            .find("://")
            .and_then(|at| public[at + 3..].find('/').map(|p| &public[..at + 3 + p]))
            .unwrap_or(public);
        return origin.eq_ignore_ascii_case(public_origin);
    }
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host))
}

/// Claims for a session speaking as `role`: its skills from the agent's profile (none without
/// one), its services, its expiry.
pub fn claims(session: &WebSession, role: Role, skills: Vec<(String, u8)>) -> Claims {
    Claims {
        role,
        sub: session.subject.clone(),
        exp: session.expires_ms / 1000,
        site: None,
        skills: if role == Role::Agent {
            skills
        } else {
            Vec::new()
        },
        services: session.services.clone(),
        name: Some(session.name.clone()),
        dev: None,
    }
}

/// The role a console asks for, if the session has it; with none asked, the first it has.
pub fn pick_role(session: &WebSession, asked: Option<Role>) -> Option<Role> {
    let has = |role: Role| session.roles.iter().any(|r| r == role.as_str());
    match asked {
        Some(role) => has(role).then_some(role),
        None => ROLE_ORDER.into_iter().find(|role| has(*role)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; relais_session=abc ; b=2")]);
        assert_eq!(cookie(&h), Some("abc"));
        assert_eq!(cookie(&headers(&[("cookie", "relais_sessionx=abc")])), None);
        assert_eq!(cookie(&headers(&[("cookie", "relais_session=")])), None);
    }

    #[test]
    fn only_our_own_pages_may_use_the_cookie() {
        let public = Some("https://relais.example.fr/");
        assert!(same_origin(
            &headers(&[("origin", "https://relais.example.fr")]),
            public
        ));
        assert!(!same_origin(
            &headers(&[("origin", "https://evil.example")]),
            public
        ));
        assert!(!same_origin(
            &headers(&[("origin", "http://relais.example.fr")]),
            public
        ));
        let host = [
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ];
        assert!(same_origin(&headers(&host), None));
        let other = [
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:9090"),
        ];
        assert!(!same_origin(&headers(&other), None));
        assert!(
            same_origin(&headers(&[("host", "x")]), None),
            "no Origin: not a browser's cross-site request"
        );
    }

    #[test]
    fn a_console_gets_a_role_the_session_has() {
        let session = WebSession {
            session_hash: "h".into(),
            subject: "marie".into(),
            name: "Marie".into(),
            roles: vec!["supervisor".into(), "admin".into()],
            services: None,
            method: "oidc".into(),
            created_at_ms: 0,
            expires_ms: 1,
        };
        assert_eq!(pick_role(&session, None), Some(Role::Supervisor));
        assert_eq!(pick_role(&session, Some(Role::Admin)), Some(Role::Admin));
        assert_eq!(pick_role(&session, Some(Role::Agent)), None);
        assert_eq!(pick_role(&session, Some(Role::Kiosk)), None);
        let claims = claims(&session, Role::Supervisor, vec![("caf".into(), 3)]);
        assert!(claims.skills.is_empty(), "skills are an agent's");
        assert_eq!(claims.name.as_deref(), Some("Marie"));
    }
}
