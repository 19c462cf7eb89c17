//! Role tokens: HS256-signed JWTs carrying the role, the subject, the expiry and, for kiosks and
//! agents, their site and skills. Minted by `relais token` and the development banner, checked
//! on every websocket `hello` and every API request.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use relais_proto::Role;
use serde::{Deserialize, Serialize};

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub role: Role,
    pub sub: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Kiosk: the site it stands in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Agent: skills with proficiency 1–5.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<(String, u8)>,
    /// Supervisor: the services whose calls it may supervise; absent means every service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<String>>,
    /// The name other participants see (a supervisor who barges in); absent: the subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An enrolled kiosk's device credential: the pairing generation it was issued for (a
    /// credential of an earlier pairing, or of a revoked kiosk, is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<u32>,
}

impl Claims {
    /// Whether a supervisor with these claims may supervise calls of `service`.
    pub fn may_supervise(&self, service: &str) -> bool {
        self.services
            .as_ref()
            .is_none_or(|services| services.iter().any(|s| s == service || s == "*"))
    }

    /// The name shown to other participants.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.sub)
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("this kiosk's credential was revoked or replaced; enrol the kiosk again")]
    Revoked,
}

impl TokenError {
    /// The protocol error code.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Expired => relais_proto::codes::TOKEN_EXPIRED,
            _ => relais_proto::codes::BAD_TOKEN,
        }
    }
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Signs and checks tokens with one secret.
#[derive(Clone)]
pub struct TokenKey {
    key: ring::hmac::Key,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// A key from the shared secret.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
        }
    }

    /// A signed token for `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let tag = ring::hmac::sign(&self.key, signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The claims of a token signed with this key and not expired at `now_secs`.
    pub fn verify(&self, token: &str, now_secs: i64) -> Result<Claims, TokenError> {
        let mut parts = token.trim().split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header_json = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| TokenError::Malformed)?;
        let header_value: serde_json::Value =
            serde_json::from_slice(&header_json).map_err(|_| TokenError::Malformed)?;
        if header_value.get("alg").and_then(|alg| alg.as_str()) != Some("HS256") {
            return Err(TokenError::Malformed);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let signing_input = &token.trim()[..header.len() + 1 + payload.len()];
        ring::hmac::verify(&self.key, signing_input.as_bytes(), &signature)
            .map_err(|_| TokenError::BadSignature)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        if claims.exp <= now_secs {
            return Err(TokenError::Expired);
        }
        if claims.sub.trim().is_empty() || claims.sub.len() > 128 {
            return Err(TokenError::Malformed);
        }
        Ok(claims)
    }
}

/// Unix seconds now.
pub fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The token secret: `auth.secret`, or in development a random secret kept in
/// `<data_dir>/dev-secret` so tokens printed by `relais token` work with the running server.
pub fn load_secret(config: &crate::Config) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &config.auth.secret {
        return Ok(secret.as_bytes().to_vec());
    }
    let path = config.data_dir.join("dev-secret");
    if let Ok(existing) = std::fs::read_to_string(&path)
        && existing.trim().len() >= 32
    {
        return Ok(existing.trim().as_bytes().to_vec());
    }
    std::fs::create_dir_all(&config.data_dir).map_err(|err| {
        anyhow::anyhow!(
            "cannot create data_dir {}: {err}",
            config.data_dir.display()
        )
    })?;
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| anyhow::anyhow!("no randomness for the development secret"))?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, &secret)?;
    Ok(secret.into_bytes())
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// Demo tokens printed in development: a kiosk, two agents with every service's skills, a
/// supervisor. `(label, console path, token)`.
pub fn demo_tokens(config: &crate::Config, key: &TokenKey) -> Vec<(String, &'static str, String)> {
    let exp = now_secs() + config.auth.token_ttl_secs as i64;
    let mut skills: Vec<(String, u8)> = config
        .services
        .iter()
        .flat_map(|service| service.skills.iter().map(|req| (req.skill.clone(), 5)))
        .collect();
    skills.sort();
    skills.dedup();
    let make = |role: Role, sub: &str, site: Option<&str>, skills: Vec<(String, u8)>| {
        key.sign(&Claims {
            dev: None,
            role,
            sub: sub.to_owned(),
            exp,
            site: site.map(str::to_owned),
            skills,
            services: None,
            name: None,
        })
    };
    vec![
        (
            "kiosk".to_owned(),
            "/kiosk",
            make(Role::Kiosk, "borne-demo", Some("mairie-demo"), vec![]),
        ),
        (
            "agent alice".to_owned(),
            "/agent",
            make(Role::Agent, "alice", None, skills.clone()),
        ),
        (
            "agent bob".to_owned(),
            "/agent",
            make(Role::Agent, "bob", None, skills),
        ),
        (
            "supervisor".to_owned(),
            "/supervisor",
            make(Role::Supervisor, "sophie", None, vec![]),
        ),
    ]
}

/// Parses `caf:3,cpam:2` into skills.
pub fn parse_skills(text: &str) -> Result<Vec<(String, u8)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (skill, level) = part.split_once(':').unwrap_or((part, "3"));
            let level: u8 = level
                .parse()
                .map_err(|_| format!("bad proficiency in `{part}`"))?;
            if !(1..=5).contains(&level) {
                return Err(format!("proficiency of `{skill}` must be 1–5"));
            }
            Ok((skill.to_owned(), level))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            dev: None,
            role: Role::Agent,
            sub: "alice".into(),
            exp,
            site: None,
            skills: vec![("caf".into(), 3)],
            services: None,
            name: None,
        }
    }

    #[test]
    fn a_signed_token_verifies_to_its_claims() {
        let key = TokenKey::new(b"a-test-secret-of-some-length");
        let token = key.sign(&claims(2_000));
        assert_eq!(key.verify(&token, 1_000).unwrap(), claims(2_000));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let key = TokenKey::new(b"a-test-secret-of-some-length");
        let token = key.sign(&claims(1_000));
        assert_eq!(key.verify(&token, 1_000), Err(TokenError::Expired));
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let token = TokenKey::new(b"another-secret-entirely").sign(&claims(2_000));
        let key = TokenKey::new(b"a-test-secret-of-some-length");
        assert_eq!(key.verify(&token, 1_000), Err(TokenError::BadSignature));
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let key = TokenKey::new(b"a-test-secret-of-some-length");
        let token = key.sign(&claims(2_000));
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(r#"{"role":"admin","sub":"alice","exp":2000}"#);
        parts[1] = &forged;
        assert_eq!(
            key.verify(&parts.join("."), 1_000),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let key = TokenKey::new(b"a-test-secret-of-some-length");
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!!.???.***",
            "eyJhbGciOiJub25lIn0.e30.",
        ] {
            assert!(key.verify(bad, 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn skills_parse_with_a_default_proficiency() {
        assert_eq!(
            parse_skills("caf:3, cpam").unwrap(),
            vec![("caf".into(), 3), ("cpam".into(), 3)]
        );
        assert!(parse_skills("caf:9").is_err());
    }
}
