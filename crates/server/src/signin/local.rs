//! Local accounts, for sites without an identity provider: argon2id password hashes (PHC
//! strings) created with `relais user add`, and a throttle on failed sign-ins.

use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use dashmap::DashMap;

/// Shortest password `relais user add` takes.
pub const MIN_PASSWORD: usize = 10;
/// Failed sign-ins of one account in [`WINDOW`] after which it is refused for the rest of it.
pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// The PHC string of `password`'s argon2id hash with a fresh salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
        .map_err(|_| anyhow::anyhow!("no randomness for a salt"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|err| anyhow::anyhow!("{err}"))?;
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|err| anyhow::anyhow!("cannot hash the password: {err}"))?
        .to_string())
}

/// Whether `password` matches a stored PHC hash (a malformed hash matches nothing).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash to verify against when the account does not exist, so that a wrong name costs as
/// long as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("not an account of this server").unwrap_or_default())
}

/// Failed sign-ins per account name.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: DashMap<String, (u32, Instant)>,
}

impl Throttle {
    /// Seconds until `username` may try again, if it is refused now.
    pub fn refused_for(&self, username: &str, now: Instant) -> Option<u64> {
        let entry = self.failures.get(username)?;
        let (count, since) = *entry;
        let left = WINDOW
            .checked_sub(now.duration_since(since))
            .filter(|left| !left.is_zero())?;
        (count >= MAX_FAILURES).then(|| left.as_secs().max(1))
    }

    /// Notes a failure.
    pub fn failed(&self, username: &str, now: Instant) {
        // Bounded: names of accounts that do not exist must not grow the map without end.
        if self.failures.len() > 10_000 {
            self.failures
                .retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
        }
        let mut entry = self.failures.entry(username.to_owned()).or_insert((0, now));
        if now.duration_since(entry.1) >= WINDOW {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    /// A success forgets the failures.
    pub fn succeeded(&self, username: &str) {
        self.failures.remove(username);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_matches_its_hash_only() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse batterz", &phc));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert_ne!(
            phc,
            hash_password("correct horse battery").unwrap(),
            "salted"
        );
    }

    #[test]
    fn five_failures_lock_the_account_for_the_window() {
        let throttle = Throttle::default();
        let start = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            throttle.failed("marie", start);
        }
        assert_eq!(throttle.refused_for("marie", start), None);
        throttle.failed("marie", start);
        assert!(throttle.refused_for("marie", start).is_some());
        assert_eq!(throttle.refused_for("paul", start), None);
        assert_eq!(
            throttle.refused_for("marie", start + WINDOW),
            None,
            "the window passed"
        );
        throttle.succeeded("marie");
        assert_eq!(throttle.refused_for("marie", start), None);
    }
}
