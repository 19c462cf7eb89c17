//! ICE servers for the consoles' `RTCPeerConnection`: the configured STUN URLs, and TURN URLs
//! with time-limited credentials in the TURN REST scheme that coturn checks with
//! `use-auth-secret`: the username is `expiry:subject` (expiry in Unix seconds) and the
//! password the base64 of HMAC-SHA1(secret, username). Nothing is stored: coturn recomputes the
//! password from its copy of the secret and refuses it once the expiry has passed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use relais_proto::messages::{IceServer, IceServers};
use ring::hmac;

use crate::config::TurnConfig;

/// The ICE servers one identity gets now, or `None` when none are configured.
pub fn ice_servers(config: &TurnConfig, subject: &str, now_unix: u64) -> Option<IceServers> {
    if config.urls.is_empty() {
        return None;
    }
    let (stun, turn): (Vec<&String>, Vec<&String>) = config
        .urls
        .iter()
        .partition(|url| url.starts_with("stun:") || url.starts_with("stuns:"));
    let mut servers = Vec::new();
    if !stun.is_empty() {
        servers.push(IceServer {
            urls: stun.into_iter().cloned().collect(),
            username: None,
            credential: None,
        });
    }
    if !turn.is_empty()
        && let Some(secret) = &config.secret
    {
        let username = format!(
            "{}:{}",
            now_unix.saturating_add(config.ttl_secs),
            username_part(subject)
        );
        servers.push(IceServer {
            urls: turn.into_iter().cloned().collect(),
            credential: Some(credential(secret, &username)),
            username: Some(username),
        });
    }
    Some(IceServers {
        servers,
        ttl_secs: config.ttl_secs,
    })
}

/// The password of a TURN REST username: base64(HMAC-SHA1(secret, username)).
pub fn credential(secret: &str, username: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    STANDARD.encode(hmac::sign(&key, username.as_bytes()).as_ref())
}

/// The subject as it appears in the TURN server's logs: letters, digits, `.`, `-` and `_`
/// (a `:` would split the username elsewhere), at most 64 of them.
fn username_part(subject: &str) -> String {
    let kept: String = subject
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if kept.is_empty() {
        "relais".to_owned()
    } else {
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(urls: &[&str]) -> TurnConfig {
        TurnConfig {
            urls: urls.iter().map(|u| (*u).to_owned()).collect(),
            secret: Some("north-wind-secret-42".to_owned()),
            ttl_secs: 3600,
        }
    }

    #[test]
    fn the_credential_is_the_hmac_sha1_of_the_username_in_base64() {
        // RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?").
        assert_eq!(
            credential("Jefe", "what do ya want for nothing?"),
            STANDARD.encode([
                0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74, 0x16, 0xd5, 0xf1, 0x84,
                0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79
            ])
        );
    }

    #[test]
    fn turn_urls_get_a_username_that_expires_after_the_ttl() {
        let got = ice_servers(
            &config(&[
                "stun:turn.example.fr:3478",
                "turn:turn.example.fr:3478?transport=udp",
                "turns:turn.example.fr:443?transport=tcp",
            ]),
            "agent:paul dupont",
            1_000_000,
        )
        .unwrap();
        assert_eq!(got.ttl_secs, 3600);
        assert_eq!(got.servers.len(), 2);
        assert_eq!(got.servers[0].urls, ["stun:turn.example.fr:3478"]);
        assert_eq!(got.servers[0].username, None);
        let turn = &got.servers[1];
        assert_eq!(
            turn.urls,
            [
                "turn:turn.example.fr:3478?transport=udp",
                "turns:turn.example.fr:443?transport=tcp"
            ]
        );
        assert_eq!(turn.username.as_deref(), Some("1003600:agent_paul_dupont"));
        assert_eq!(
            turn.credential.as_deref(),
            Some(credential("north-wind-secret-42", "1003600:agent_paul_dupont").as_str())
        );
        assert_ne!(
            turn.credential,
            ice_servers(&config(&["turn:h:3478"]), "agent:paul dupont", 1_000_001)
                .unwrap()
                .servers[0]
                .credential,
            "a later expiry gives another password"
        );
    }

    #[test]
    fn nothing_configured_gives_no_servers() {
        assert_eq!(ice_servers(&config(&[]), "borne-1", 0), None);
    }
}
