//! Documents passed across a call: the agent sends a file or a link to the kiosk; the kiosk
//! sends a still of its camera (asked by the agent) or a file, for the agent only. The core
//! decides who may send and who receives; the server holds the bytes and lets only the
//! receivers (and the sender) read them.

use relais_proto::messages::Document;
use relais_proto::{CallId, LegRole, ServerMessage};

use crate::call::{CallState, LegId};
use crate::core::CallCore;
use crate::error::CallError;
use crate::io::{SessionId, Verdict};

impl CallCore {
    /// The agent of a connected call shows a link to its kiosk.
    pub(crate) fn share_link(
        &mut self,
        session: SessionId,
        mut document: Document,
    ) -> Result<Verdict, CallError> {
        let url = document.url.as_deref().unwrap_or("");
        let scheme_ok = ["https://", "http://"].iter().any(|scheme| {
            url.len() > scheme.len()
                && url
                    .get(..scheme.len())
                    .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        });
        if !scheme_ok || url.chars().any(char::is_whitespace) {
            return Err(CallError::WrongState(
                "a link is an http:// or https:// address without spaces",
            ));
        }
        let (call, leg, role) = self
            .session_call(session)
            .map(|(call, leg, role)| (call.id, leg, role))
            .ok_or(CallError::NoCall("no call is connected"))?;
        if role != LegRole::Agent {
            return Err(CallError::WrongState(
                "only the agent sends links to the kiosk",
            ));
        }
        if document.name.trim().is_empty() {
            document.name = url.to_owned();
        }
        self.deliver(call, leg, document)
    }

    /// A file (or a still) that `subject` sends across `call`, held by the server.
    pub(crate) fn share_file(
        &mut self,
        call: CallId,
        subject: &str,
        document: Document,
    ) -> Result<Verdict, CallError> {
        let leg = self
            .calls
            .get(&call)
            .and_then(|c| {
                c.legs
                    .iter()
                    .find(|leg| leg.subject == subject && leg.session.is_some())
            })
            .map(|leg| leg.id)
            .ok_or(CallError::NoCall("this call is not yours"))?;
        self.deliver(call, leg, document)
    }

    /// The agent of a connected call asks its kiosk for a still of the camera.
    pub(crate) fn request_snapshot(&mut self, session: SessionId) -> Result<Verdict, CallError> {
        let (call, role) = self
            .session_call(session)
            .map(|(call, _, role)| (call, role))
            .ok_or(CallError::NoCall("no call is connected"))?;
        if role != LegRole::Agent {
            return Err(CallError::WrongState("only the agent asks for a picture"));
        }
        check_open(call)?;
        let id = call.id;
        let kiosks: Vec<SessionId> = call
            .legs
            .iter()
            .filter(|leg| leg.role == LegRole::Kiosk)
            .filter_map(|leg| leg.session)
            .collect();
        if kiosks.is_empty() {
            return Err(CallError::WrongState("the kiosk is not connected"));
        }
        for session in kiosks {
            self.push(session, ServerMessage::SnapshotRequested { call: id });
        }
        Ok(Verdict::Done)
    }

    /// Pushes `document` from `from` to the other side (kiosk → agent, agent → kiosk); the
    /// verdict names who may read it.
    fn deliver(
        &mut self,
        call: CallId,
        from: LegId,
        mut document: Document,
    ) -> Result<Verdict, CallError> {
        let c = self
            .calls
            .get(&call)
            .ok_or(CallError::NoCall("no call is connected"))?;
        check_open(c)?;
        let sender = c
            .leg(from)
            .ok_or(CallError::NoCall("no call is connected"))?;
        let to = match sender.role {
            LegRole::Agent => LegRole::Kiosk,
            LegRole::Kiosk => LegRole::Agent,
            _ => {
                return Err(CallError::WrongState(
                    "documents pass between the kiosk and the agent only",
                ));
            }
        };
        document.from = sender.role;
        let mut readers = vec![sender.subject.clone()];
        let mut sessions = Vec::new();
        for leg in c.legs.iter().filter(|leg| leg.role == to) {
            if let Some(session) = leg.session {
                readers.push(leg.subject.clone());
                sessions.push(session);
            }
        }
        if sessions.is_empty() {
            return Err(CallError::WrongState(match to {
                LegRole::Kiosk => "the kiosk is not connected",
                _ => "the agent is not connected",
            }));
        }
        let message = ServerMessage::Document { call, document };
        for session in sessions {
            self.push(session, message.clone());
        }
        Ok(Verdict::Shared { readers })
    }
}

fn check_open(call: &crate::call::Call) -> Result<(), CallError> {
    if !matches!(call.state, CallState::Connected { .. }) {
        return Err(CallError::NoCall("no call is connected"));
    }
    if call.on_hold {
        return Err(CallError::WrongState(
            "the call is on hold: documents pass again when it comes off hold",
        ));
    }
    Ok(())
}
