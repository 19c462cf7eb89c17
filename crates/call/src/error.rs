//! The call core's one error type: requests it refuses (and that change nothing).

use relais_proto::{CallId, codes};

/// A request the call core refuses; nothing changed. The server answers `error {code,
/// message}` with [`CallError::code`] and the `Display` text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The session already takes part in a call.
    #[error("this kiosk already has a call ({0})")]
    AlreadyInCall(CallId),
    /// The session already takes part in another call.
    #[error("this session already takes part in call {0}")]
    InAnotherCall(CallId),
    /// The request needs a call the session is not part of.
    #[error("{0}")]
    NoCall(&'static str),
    /// The call is not in a state that allows the request.
    #[error("{0}")]
    WrongState(&'static str),
    /// Too many refused calls of this kiosk to this service lately.
    #[error(
        "{count} calls of this kiosk to `{service}` were refused in the last minute; try again in {retry_secs} s"
    )]
    TooManyRefusals {
        /// The service.
        service: String,
        /// Refusals counted in the window.
        count: u32,
        /// Seconds until the window ends.
        retry_secs: u64,
    },
    /// A wrap-up code that the call's service does not list.
    #[error("`{code}` is not a wrap-up code of this service; its codes: {allowed}")]
    UnknownDisposition {
        /// The code given.
        code: String,
        /// The service's codes.
        allowed: String,
    },
    /// A request whose content is refused (a phone number that is not one).
    #[error("{0}")]
    BadRequest(&'static str),
    /// A call id that is already live.
    #[error("call {0} already exists")]
    DuplicateCall(CallId),
}

impl CallError {
    /// The wire error code.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::TooManyRefusals { .. } => codes::RATE_LIMITED,
            CallError::DuplicateCall(_) => codes::INTERNAL,
            CallError::UnknownDisposition { .. } | CallError::BadRequest(_) => codes::BAD_REQUEST,
            _ => codes::WRONG_STATE,
        }
    }
}
