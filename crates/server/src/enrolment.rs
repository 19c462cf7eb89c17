//! Kiosk enrolment: an administrator creates a kiosk and gets a one-time pairing code; the
//! kiosk exchanges it once for a device credential (a kiosk token carrying its pairing
//! generation), which it keeps and renews before it expires. Revoking a kiosk, or pairing it
//! again, refuses its earlier credentials at once: every check of a device credential asks the
//! table kept here, loaded from the store at start.

use dashmap::DashMap;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

use crate::auth::{Claims, TokenError};

/// How long a device credential is valid; the kiosk renews it after half of it.
pub const CREDENTIAL_SECS: i64 = 30 * 86_400;
/// How long a pairing code works.
pub const PAIRING_SECS: i64 = 24 * 3_600;
/// The letters of a pairing code: no 0/O, 1/I/L, so that it reads back without doubt.
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Letters in a code (31 possible each: 49 bits, printed as two groups of five).
const CODE_LEN: usize = 10;

/// Each enrolled kiosk's current pairing generation; `None` once revoked.
#[derive(Debug, Default)]
pub struct Enrolment {
    kiosks: DashMap<String, Option<u32>>,
}

impl Enrolment {
    /// The table of the kiosks in the store.
    pub fn load(kiosks: &[relais_store::Kiosk]) -> Self {
        let table = Self::default();
        for kiosk in kiosks {
            table.set(
                &kiosk.kiosk_id,
                kiosk.revoked_at_ms.is_none().then_some(kiosk.generation),
            );
        }
        table
    }

    /// Records a kiosk's generation (`None`: revoked).
    pub fn set(&self, kiosk: &str, generation: Option<u32>) {
        self.kiosks.insert(kiosk.to_owned(), generation);
    }

    /// Refuses a device credential of a revoked kiosk or of an earlier pairing. Tokens without
    /// a generation (made with `relais token`, for machines and tests) pass.
    pub fn check(&self, claims: &Claims) -> Result<(), TokenError> {
        let Some(generation) = claims.dev else {
            return Ok(());
        };
        match self.kiosks.get(&claims.sub).map(|entry| *entry) {
            Some(Some(current)) if current == generation => Ok(()),
            _ => Err(TokenError::Revoked),
        }
    }
}

/// A new pairing code, printed `ABCDE-FGHJK`.
pub fn new_code() -> String {
    let mut bytes = [0u8; CODE_LEN];
    // The system generator does not fail on Linux; a zeroed code would still be hashed, and
    // stays unique per kiosk through the store's index.
    let _ = SystemRandom::new().fill(&mut bytes);
    let letters: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("{}-{}", &letters[..5], &letters[5..])
}

/// The stored form of a code as typed: upper case, without spaces or dashes, hashed.
/// `None` when it cannot be a code.
pub fn code_hash(typed: &str) -> Option<String> {
    let normal: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if normal.len() != CODE_LEN || !normal.bytes().all(|b| ALPHABET.contains(&b)) {
        return None;
    }
    let hash = digest::digest(&digest::SHA256, normal.as_bytes());
    Some(hash.as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `id` may name a kiosk: 1–64 of `[A-Za-z0-9._-]`.
pub fn valid_kiosk_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The device credential of a paired kiosk, valid from `now_secs`.
pub fn credential_claims(kiosk: &relais_store::Kiosk, now_secs: i64) -> Claims {
    Claims {
        role: relais_proto::Role::Kiosk,
        sub: kiosk.kiosk_id.clone(),
        exp: now_secs + CREDENTIAL_SECS,
        site: Some(kiosk.site.clone()),
        skills: Vec::new(),
        services: (!kiosk.services.is_empty()).then(|| kiosk.services.clone()),
        name: None,
        dev: Some(kiosk.generation),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_whatever_the_case_and_spacing_and_garbage_is_refused() {
        let code = new_code();
        assert_eq!(code.len(), 11, "{code}");
        assert_eq!(&code[5..6], "-");
        let hash = code_hash(&code).unwrap();
        assert_eq!(code_hash(&code.to_lowercase()), Some(hash.clone()));
        assert_eq!(
            code_hash(&format!(" {} ", code.replace('-', " "))),
            Some(hash)
        );
        assert_ne!(new_code(), code, "codes are random");
        for bad in [
            "",
            "ABCDE",
            "ABCDE-FGHJ0",
            "ABCDE-FGHJK-L",
            "ÉBCDE-FGHJK",
            "abcde-fghi1",
        ] {
            assert_eq!(code_hash(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_credential_of_a_revoked_kiosk_or_an_earlier_pairing_is_refused() {
        let table = Enrolment::default();
        let mut claims = Claims {
            role: relais_proto::Role::Kiosk,
            sub: "borne-1".into(),
            exp: 0,
            site: None,
            skills: Vec::new(),
            services: None,
            name: None,
            dev: Some(2),
        };
        assert_eq!(
            table.check(&claims),
            Err(TokenError::Revoked),
            "unknown kiosk"
        );
        table.set("borne-1", Some(2));
        assert_eq!(table.check(&claims), Ok(()));
        claims.dev = Some(1);
        assert_eq!(
            table.check(&claims),
            Err(TokenError::Revoked),
            "earlier pairing"
        );
        claims.dev = Some(2);
        table.set("borne-1", None);
        assert_eq!(table.check(&claims), Err(TokenError::Revoked), "revoked");
        claims.dev = None;
        assert_eq!(
            table.check(&claims),
            Ok(()),
            "a machine token has no generation"
        );
    }
}
