//! Caps on the free-text and blob fields of requests, checked before a request is acted on so
//! an oversized field is refused with `bad_request` and never reaches a record, a log line or a
//! supervisor's screen. Text caps count characters; SDP and candidate caps count bytes.

use crate::messages::Request;

/// A `not_ready` reason, shown to supervisors and stored on each state change.
pub const MAX_REASON_CHARS: usize = 120;
/// A wrap-up disposition code.
pub const MAX_DISPOSITION_CHARS: usize = 64;
/// A case reference (the administration's file number).
pub const MAX_CASE_REF_CHARS: usize = 64;
/// An agent's notes on a call.
pub const MAX_NOTES_CHARS: usize = 4000;
/// A service id in `call`.
pub const MAX_SERVICE_CHARS: usize = 64;
/// A kiosk's `kiosk_status.browser` (a user agent).
pub const MAX_BROWSER_BYTES: usize = 512;
/// A token in `hello`.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// An SDP offer (a browser's offer for one audio and one video stream is 4–8 KB).
pub const MAX_SDP_BYTES: usize = 32 * 1024;
/// Media sections in one SDP offer.
pub const MAX_SDP_MEDIA_SECTIONS: usize = 8;
/// `a=ssrc:` lines in one SDP offer (a browser writes 2–4 per stream).
pub const MAX_SDP_SSRC_LINES: usize = 32;
/// A trickled ICE candidate line.
pub const MAX_CANDIDATE_BYTES: usize = 1024;
/// A chat message (a reference number, a sentence or two for a deaf caller).
pub const MAX_CHAT_CHARS: usize = 1000;
/// A link shown to a kiosk.
pub const MAX_URL_BYTES: usize = 2048;
/// A link's title, or a file's name.
pub const MAX_TITLE_CHARS: usize = 200;

/// Why a request's field was refused: the message names the field and its cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTooLong {
    pub field: &'static str,
    pub limit: usize,
    pub unit: &'static str,
}

impl std::fmt::Display for FieldTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is too long: at most {} {}",
            self.field, self.limit, self.unit
        )
    }
}

impl std::error::Error for FieldTooLong {}

fn chars(field: &'static str, value: &str, limit: usize) -> Result<(), FieldTooLong> {
    // Bytes bound characters from above: count only when it could matter.
    if value.len() > limit && value.chars().count() > limit {
        return Err(FieldTooLong {
            field,
            limit,
            unit: "characters",
        });
    }
    Ok(())
}

fn bytes(field: &'static str, value: &str, limit: usize) -> Result<(), FieldTooLong> {
    if value.len() > limit {
        return Err(FieldTooLong {
            field,
            limit,
            unit: "bytes",
        });
    }
    Ok(())
}

fn sdp(value: &str) -> Result<(), FieldTooLong> {
    bytes("sdp", value, MAX_SDP_BYTES)?;
    let mut sections = 0;
    let mut ssrcs = 0;
    for line in value.lines() {
        if line.starts_with("m=") {
            sections += 1;
        } else if line.starts_with("a=ssrc:") {
            ssrcs += 1;
        }
    }
    if sections > MAX_SDP_MEDIA_SECTIONS {
        return Err(FieldTooLong {
            field: "sdp",
            limit: MAX_SDP_MEDIA_SECTIONS,
            unit: "media sections (m= lines)",
        });
    }
    if ssrcs > MAX_SDP_SSRC_LINES {
        return Err(FieldTooLong {
            field: "sdp",
            limit: MAX_SDP_SSRC_LINES,
            unit: "a=ssrc lines",
        });
    }
    Ok(())
}

impl Request {
    /// Checks every field against its cap.
    pub fn check_lengths(&self) -> Result<(), FieldTooLong> {
        match self {
            Request::Hello { token, .. } => bytes("token", token, MAX_TOKEN_BYTES),
            Request::KioskStatus { browser, .. } => bytes("browser", browser, MAX_BROWSER_BYTES),
            Request::Call { service, .. } | Request::AddInterpreter { service, .. } => {
                chars("service", service, MAX_SERVICE_CHARS)
            }
            Request::Transfer { service, agent, .. } => {
                chars(
                    "service",
                    service.as_deref().unwrap_or(""),
                    MAX_SERVICE_CHARS,
                )?;
                chars("agent", agent.as_deref().unwrap_or(""), MAX_SERVICE_CHARS)
            }
            Request::SdpOffer { sdp: text, .. } | Request::SdpAnswer { sdp: text, .. } => sdp(text),
            Request::IceCandidate { candidate, .. } => {
                bytes("candidate", candidate, MAX_CANDIDATE_BYTES)
            }
            Request::SetState {
                reason: Some(reason),
                ..
            } => chars("reason", reason, MAX_REASON_CHARS),
            Request::WrapUpDone {
                disposition: Some(disposition),
                ..
            } => chars("disposition", disposition, MAX_DISPOSITION_CHARS),
            Request::Chat { text, .. } => chars("text", text, MAX_CHAT_CHARS),
            Request::ShareLink { url, title, .. } => {
                bytes("url", url, MAX_URL_BYTES)?;
                chars("title", title.as_deref().unwrap_or(""), MAX_TITLE_CHARS)
            }
            Request::CaseNote {
                case_ref, notes, ..
            } => {
                chars(
                    "case_ref",
                    case_ref.as_deref().unwrap_or(""),
                    MAX_CASE_REF_CHARS,
                )?;
                chars("notes", notes.as_deref().unwrap_or(""), MAX_NOTES_CHARS)
            }
            Request::MyCalls {
                service, case_ref, ..
            } => {
                chars(
                    "service",
                    service.as_deref().unwrap_or(""),
                    MAX_SERVICE_CHARS,
                )?;
                chars(
                    "case_ref",
                    case_ref.as_deref().unwrap_or(""),
                    MAX_CASE_REF_CHARS,
                )
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Readiness;

    #[test]
    fn a_reason_at_the_cap_passes_and_one_more_character_is_refused() {
        let at_cap = Request::SetState {
            id: 1,
            state: Readiness::NotReady,
            reason: Some("é".repeat(MAX_REASON_CHARS)),
        };
        assert_eq!(at_cap.check_lengths(), Ok(()));
        let over = Request::SetState {
            id: 1,
            state: Readiness::NotReady,
            reason: Some("é".repeat(MAX_REASON_CHARS + 1)),
        };
        let err = over.check_lengths().unwrap_err();
        assert_eq!(err.field, "reason");
        assert!(err.to_string().contains("at most 120 characters"), "{err}");
    }

    #[test]
    fn an_offer_with_too_many_media_sections_is_refused() {
        let mut text = String::from("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n");
        for _ in 0..MAX_SDP_MEDIA_SECTIONS {
            text.push_str("m=video 9 UDP/TLS/RTP/SAVPF 96\r\n");
        }
        let ok = Request::SdpOffer {
            id: 1,
            sdp: text.clone(),
        };
        assert_eq!(ok.check_lengths(), Ok(()));
        text.push_str("m=video 9 UDP/TLS/RTP/SAVPF 96\r\n");
        let err = Request::SdpOffer { id: 1, sdp: text }
            .check_lengths()
            .unwrap_err();
        assert!(err.unit.starts_with("media sections"), "{err}");
    }

    #[test]
    fn a_disposition_and_a_candidate_over_their_caps_are_refused() {
        let disposition = Request::WrapUpDone {
            id: 1,
            disposition: Some("x".repeat(MAX_DISPOSITION_CHARS + 1)),
        };
        assert_eq!(
            disposition.check_lengths().unwrap_err().field,
            "disposition"
        );
        let candidate = Request::IceCandidate {
            id: 1,
            candidate: "x".repeat(MAX_CANDIDATE_BYTES + 1),
        };
        assert_eq!(candidate.check_lengths().unwrap_err().field, "candidate");
    }
}
