//! Role tokens for the synthetic kiosks and agents, signed with the server's secret (HS256,
//! the format of the server's `relais token`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A token for `role`/`sub`, valid for `ttl_secs`.
pub fn sign(
    secret: &[u8],
    role: &str,
    sub: &str,
    site: Option<&str>,
    skills: &[(&str, u8)],
    ttl_secs: i64,
) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
        + ttl_secs;
    let mut claims = serde_json::json!({ "role": role, "sub": sub, "exp": exp });
    if let Some(site) = site {
        claims["site"] = serde_json::json!(site);
    }
    if !skills.is_empty() {
        claims["skills"] = serde_json::json!(skills);
    }
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{payload}");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}
