//! Callbacks. A caller who would rather not wait leaves a phone number (and, if they like, a
//! time later today): its waiting call leaves the queue `callback_requested` (not an abandon)
//! and a callback task takes its place, with the call's original enqueue time. The task is a
//! call with no kiosk leg: it is offered to agents with the number to phone, an agent takes
//! it, phones, and says what came of it (`callback_done`); its record says `callback`.
//!
//! The number is personal data: it lives in the task and its stored row only, its `Debug`
//! never shows it, and nothing logs it.

use std::time::{Duration, Instant};

use relais_dispatch::Event;
use relais_proto::messages::CallbackOffer;
use relais_proto::{CallId, CallbackResult, EndedBy, LegRole, Outcome};

use crate::call::{Call, CallState};
use crate::core::CallCore;
use crate::error::CallError;
use crate::io::{Output, SessionId, Verdict};

/// How far ahead a caller may ask to be called back ("later today").
pub const LATEST_CALLBACK: Duration = Duration::from_secs(16 * 3600);

/// A phone number a caller left: digits, with a leading `+` for an international one.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Phone(…)")
    }
}

impl Phone {
    /// Reads a number as a person types it: spaces, dots, dashes and brackets are dropped; a
    /// French number has 10 digits and starts with 0; an international one starts with `+`
    /// or `00` and has 8 to 15 digits. Anything else (a short or premium code, letters) is
    /// refused.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() > 40 {
            return None;
        }
        let mut digits = String::new();
        let mut plus = false;
        for (i, c) in text.trim().chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => plus = true,
                ' ' | '.' | '-' | '(' | ')' => {}
                _ => return None,
            }
        }
        if !plus && let Some(rest) = digits.strip_prefix("00") {
            digits = rest.to_owned();
            plus = true;
        }
        if plus {
            let ok = (8..=15).contains(&digits.len()) && !digits.starts_with('0');
            return ok.then(|| Self(format!("+{digits}")));
        }
        let ok = digits.len() == 10 && digits.starts_with('0') && !digits.starts_with("08");
        ok.then_some(Self(digits))
    }

    /// The number as stored: digits, `+` first for an international one.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as an agent reads it: a French one in pairs (`06 12 34 56 78`).
    pub fn display(&self) -> String {
        if self.0.starts_with('+') {
            return self.0.clone();
        }
        let bytes: Vec<char> = self.0.chars().collect();
        bytes
            .chunks(2)
            .map(|pair| pair.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A callback task: whom to phone back, for which call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// The waiting call it took the place of.
    pub of: CallId,
    pub phone: Phone,
    /// When the caller asked (Unix ms).
    pub requested_at_ms: i64,
    /// Not to be phoned before (Unix ms).
    pub not_before_ms: Option<i64>,
    /// What came of it, once the agent said.
    pub result: Option<CallbackResult>,
}

/// A callback asked for by a waiting call, until the dispatcher ends that call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Requested {
    pub(crate) task: CallId,
    pub(crate) callback: Callback,
}

/// A callback task kept by the store, given back after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCallback {
    pub task: CallId,
    pub service: String,
    pub kiosk: String,
    pub site: String,
    /// The original call's enqueue, on this run's clock.
    pub since: Instant,
    pub not_before: Option<Instant>,
    pub callback: Callback,
}

/// What the store must keep of callbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackChange {
    /// A task took the place of a waiting call; `placed_at` is the call's original enqueue.
    Requested {
        task: CallId,
        service: String,
        kiosk: String,
        site: String,
        placed_at: Instant,
        callback: Callback,
    },
    /// The task ended: taken by `agent` with `result`, or not (`outcome` says how).
    Done {
        task: CallId,
        agent: Option<String>,
        result: Option<CallbackResult>,
        outcome: Outcome,
    },
}

impl CallCore {
    /// [`crate::Input::RequestCallback`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn request_callback(
        &mut self,
        now: Instant,
        session: SessionId,
        named: CallId,
        task: CallId,
        phone: &str,
        not_before: Option<(Instant, i64)>,
        at_ms: i64,
    ) -> Result<Verdict, CallError> {
        let (call, _, role) = self
            .session_call(session)
            .ok_or(CallError::NoCall("no call is waiting"))?;
        if role != LegRole::Kiosk || call.callback.is_some() || call.id != named {
            return Err(CallError::NoCall("no such call of this kiosk is waiting"));
        }
        if !matches!(call.state, CallState::Waiting { .. }) || call.was_answered() {
            return Err(CallError::WrongState(
                "only a call waiting for its first answer can be called back",
            ));
        }
        if !self.config.callbacks.contains_key(&call.service) {
            return Err(CallError::WrongState("this service does not call back"));
        }
        if self.calls.contains_key(&task) {
            return Err(CallError::DuplicateCall(task));
        }
        let phone = Phone::parse(phone).ok_or(CallError::BadRequest(
            "a phone number has 10 digits (06 12 34 56 78), or starts with + and the country code",
        ))?;
        let not_before = match not_before {
            Some((at, _)) if at <= now => None,
            Some((at, _)) if at.saturating_duration_since(now) > LATEST_CALLBACK => {
                return Err(CallError::BadRequest(
                    "a callback is for later today: at most 16 hours from now",
                ));
            }
            other => other,
        };
        let id = call.id;
        let callback = Callback {
            of: id,
            phone,
            requested_at_ms: at_ms,
            not_before_ms: not_before.map(|(_, ms)| ms),
            result: None,
        };
        if let Some(call) = self.calls.get_mut(&id) {
            call.callback_requested = Some(Box::new(Requested { task, callback }));
        }
        Ok(Verdict::Dispatch(Event::CallbackRequest {
            call: id,
            task,
            not_before: not_before.map(|(at, _)| at),
        }))
    }

    /// The dispatcher ended `call`, whose caller asked for a callback: the task takes its
    /// place (it is in the dispatcher's queue already).
    pub(crate) fn callback_task_from(&mut self, call: &Call, placed_at: Instant) {
        let Some(requested) = call.callback_requested.as_deref() else {
            return;
        };
        self.outputs
            .push_back(Output::Callback(Box::new(CallbackChange::Requested {
                task: requested.task,
                service: call.service.clone(),
                kiosk: call.kiosk.clone(),
                site: call.site.clone(),
                placed_at,
                callback: requested.callback.clone(),
            })));
        self.insert_task(
            requested.task,
            &call.service,
            &call.kiosk,
            &call.site,
            placed_at,
            requested.callback.clone(),
        );
    }

    fn insert_task(
        &mut self,
        task: CallId,
        service: &str,
        kiosk: &str,
        site: &str,
        placed_at: Instant,
        callback: Callback,
    ) {
        let mut call = Call::task(task, service, kiosk, site);
        call.admitted = true;
        call.callback = Some(Box::new(callback));
        self.calls.insert(task, call);
        self.placed_at.insert(task, placed_at);
    }

    /// [`crate::Input::RestoreCallback`]: a task the store kept across a restart; the server
    /// admits it to the dispatcher next.
    pub(crate) fn restore_callback(&mut self, stored: StoredCallback) -> Result<(), CallError> {
        if self.calls.contains_key(&stored.task) {
            return Err(CallError::DuplicateCall(stored.task));
        }
        self.insert_task(
            stored.task,
            &stored.service,
            &stored.kiosk,
            &stored.site,
            stored.since,
            stored.callback,
        );
        Ok(())
    }

    /// The `agent_state` push for `state`: with the callback task it is on, if any.
    pub fn agent_state_push(
        &self,
        state: &relais_dispatch::AgentState,
        now: Instant,
    ) -> relais_proto::ServerMessage {
        let mut message = crate::commands::agent_state_message(state, now);
        if let (
            relais_dispatch::AgentState::OnCall { call },
            relais_proto::ServerMessage::AgentState { callback, .. },
        ) = (state, &mut message)
        {
            *callback = self.callback_offer(*call);
        }
        message
    }

    /// Drops a restored task its dispatcher refused (its service is gone).
    pub fn forget_task(&mut self, task: CallId) {
        if self.calls.get(&task).is_some_and(|c| c.callback.is_some()) {
            self.forget(task);
        }
    }

    /// What an agent offered task `call` is told of it.
    pub(crate) fn callback_offer(&self, call: CallId) -> Option<Box<CallbackOffer>> {
        let callback = self.calls.get(&call)?.callback.as_deref()?;
        Some(Box::new(CallbackOffer {
            phone: callback.phone.display(),
            requested_at_ms: callback.requested_at_ms,
            not_before_ms: callback.not_before_ms,
        }))
    }

    /// [`crate::Input::CallbackDone`].
    pub(crate) fn callback_done(
        &mut self,
        session: SessionId,
        call: CallId,
        result: CallbackResult,
    ) -> Result<Verdict, CallError> {
        let (task, _, role) = self
            .session_call(session)
            .ok_or(CallError::NoCall("no callback is in progress"))?;
        if role != LegRole::Agent || task.id != call || task.callback.is_none() {
            return Err(CallError::NoCall("no callback is in progress"));
        }
        if !matches!(task.state, CallState::Connected { .. }) {
            return Err(CallError::WrongState("the callback is not taken"));
        }
        if let Some(callback) = self
            .calls
            .get_mut(&call)
            .and_then(|c| c.callback.as_deref_mut())
        {
            callback.result = Some(result);
        }
        Ok(Verdict::Dispatch(Event::CallEnded {
            call,
            by: EndedBy::Agent,
        }))
    }

    /// The task `call` ended (`agent` took it, or nobody did).
    pub(crate) fn callback_ended(&mut self, call: &Call, agent: Option<String>, outcome: Outcome) {
        let Some(callback) = call.callback.as_deref() else {
            return;
        };
        self.outputs
            .push_back(Output::Callback(Box::new(CallbackChange::Done {
                task: call.id,
                agent,
                result: callback.result,
                outcome,
            })));
    }

    /// Whether the estimated wait `eta` of a call to `service` is long enough to offer a
    /// callback; no estimate (no agent of the service is signed in) is as long as can be.
    pub(crate) fn offers_callback(&self, service: &str, eta: Option<Duration>) -> bool {
        match (self.config.callbacks.get(service), eta) {
            (Some(threshold), Some(eta)) => eta >= *threshold,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}
