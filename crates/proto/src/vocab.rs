//! The wire vocabulary: every word the server says about a call or an agent (outcomes, agent
//! states, why a call ended or an offer went away, a leg's role) as a type. Nothing outside
//! this crate spells these words.

use serde::{Deserialize, Serialize};

/// Declares a `snake_case` wire enum with `as_str`, `ALL` and `FromStr`.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value's name on the wire and in the store.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownWord;

            fn from_str(text: &str) -> Result<Self, UnknownWord> {
                match text {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(UnknownWord(text.chars().take(64).collect())),
                }
            }
        }
    };
}

/// A word that is not part of the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownWord(pub String);

impl std::fmt::Display for UnknownWord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown word `{}`", self.0)
    }
}

impl std::error::Error for UnknownWord {}

wire_enum! {
    /// How a call ended, as recorded and pushed in `call_ended`.
    Outcome {
        /// Answered by an agent and then ended.
        Answered => "answered",
        /// The kiosk left while waiting or on offer.
        Abandoned => "abandoned",
        /// The kiosk left after waiting less than the short-abandon threshold.
        AbandonedShort => "abandoned_short",
        /// Max wait reached and the overflow target could not take the call.
        Overflowed => "overflowed",
        /// Max wait reached with no overflow target.
        TimedOut => "timed_out",
        /// The service was closed at the `call` (or removed).
        Closed => "closed",
        /// The service's queue was full at the `call`.
        QueueFull => "queue_full",
        /// A connected call lost its agent and could not be re-queued.
        Interrupted => "interrupted",
        /// The caller asked to be called back while waiting (not an abandon).
        CallbackRequested => "callback_requested",
    }
}

impl Outcome {
    /// Reads a stored outcome, including the name records written before `queue_full` had
    /// its own word (`rejected`).
    pub fn from_stored(text: &str) -> Result<Self, UnknownWord> {
        match text {
            "rejected" => Ok(Outcome::QueueFull),
            other => other.parse(),
        }
    }
}

wire_enum! {
    /// What came of an agent's callback.
    CallbackResult {
        /// The caller answered and was helped.
        Reached => "reached",
        /// Nobody answered.
        NoAnswer => "no_answer",
        /// The number was wrong or not in service.
        WrongNumber => "wrong_number",
    }
}

wire_enum! {
    /// An agent's state, as pushed in `agent_state` and shown on the wallboard.
    AgentStateName {
        LoggedOut => "logged_out",
        Available => "available",
        /// A call is offered to it until accepted, refused or the deadline.
        Reserved => "reserved",
        OnCall => "on_call",
        WrapUp => "wrap_up",
        NotReady => "not_ready",
    }
}

wire_enum! {
    /// Who ended a call.
    EndedBy {
        Kiosk => "kiosk",
        Agent => "agent",
        /// The server: a lost leg that did not come back, media that could not open, a
        /// shutdown.
        Server => "server",
    }
}

wire_enum! {
    /// Why a connected call ended, beside who ended it.
    EndReason {
        /// Someone hung up.
        Hangup => "hangup",
        /// The kiosk's or the agent's connection to the server closed.
        Disconnected => "disconnected",
        /// A leg's media was lost and did not come back within the grace period.
        MediaLost => "media_lost",
        /// The call's media room could not be opened.
        MediaFailed => "media_failed",
        /// The server stopped or restarted while the call was in progress.
        Restart => "restart",
    }
}

wire_enum! {
    /// Why an offer was withdrawn from an agent.
    WithdrawReason {
        /// Not accepted before its deadline.
        Expired => "expired",
        /// The caller left, or the call ended otherwise.
        CallEnded => "call_ended",
        /// The agent logged out, paused or disconnected.
        AgentUnavailable => "agent_unavailable",
    }
}

wire_enum! {
    /// The part a participant (a leg) plays in a call.
    LegRole {
        /// The citizen at the kiosk.
        Kiosk => "kiosk",
        /// The agent who answered.
        Agent => "agent",
        /// A supervisor listening, coaching or joining.
        Supervisor => "supervisor",
        /// An interpreter joining as a third participant.
        Interpreter => "interpreter",
    }
}

wire_enum! {
    /// How a supervisor takes part in a call.
    SupervisionMode {
        /// Sees and hears the kiosk and the agent; nobody receives it.
        Monitor => "monitor",
        /// Monitors, and its audio reaches the agent only (coaching).
        Whisper => "whisper",
        /// Joins the conversation: everyone sees and hears it.
        Barge => "barge",
    }
}

wire_enum! {
    /// Where a consultation (the first step of a warm transfer) stands.
    ConsultState {
        /// Offered to the colleague.
        Ringing => "ringing",
        /// The colleague answered: the two agents talk, the kiosk is on hold.
        Joined => "joined",
        /// The colleague declined, missed it or was not available.
        Declined => "declined",
        /// The consultation ended; the call goes on with its agent.
        Ended => "ended",
        /// The call was handed to the colleague.
        Completed => "completed",
    }
}

wire_enum! {
    /// Where an agent's request for an interpreter stands.
    InterpreterState {
        /// Waiting in the interpreter queue.
        Waiting => "waiting",
        /// An interpreter joined the call.
        Joined => "joined",
        /// The interpreter left; the call goes on.
        Left => "left",
        /// Nobody answered (the queue closed, the wait ran out, the call ended first).
        Unavailable => "unavailable",
    }
}

wire_enum! {
    /// Why a leg's media went away.
    MediaLossReason {
        /// Nothing authenticated arrived from the peer for the consent timeout.
        ConsentExpired => "consent_expired",
        /// ICE and DTLS did not complete in time.
        SetupTimeout => "setup_timeout",
        /// The connection failed or was closed by the peer.
        Failed => "failed",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_word_round_trips_through_json_and_from_str() {
        for outcome in Outcome::ALL {
            let json = serde_json::to_string(outcome).unwrap();
            assert_eq!(json, format!("\"{}\"", outcome.as_str()));
            assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), *outcome);
            assert_eq!(outcome.as_str().parse::<Outcome>(), Ok(*outcome));
        }
        for state in AgentStateName::ALL {
            assert_eq!(state.as_str().parse::<AgentStateName>(), Ok(*state));
        }
        for role in LegRole::ALL {
            assert_eq!(role.as_str().parse::<LegRole>(), Ok(*role));
        }
    }

    #[test]
    fn old_stored_rejected_reads_as_queue_full_and_unknown_words_are_errors() {
        assert_eq!(Outcome::from_stored("rejected"), Ok(Outcome::QueueFull));
        assert!(Outcome::from_stored("exploded").is_err());
        assert!("rejected".parse::<Outcome>().is_err());
    }
}
