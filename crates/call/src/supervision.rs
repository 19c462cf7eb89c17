//! Supervision and the other legs that join a connected call: a supervisor monitors, coaches
//! (whispers to the agent) or barges in, switches between them and leaves; participants are
//! told who else takes part as far as they see them; the chat of a call.

use std::time::Instant;

use relais_proto::{CallId, LegRole, Role, ServerMessage, SupervisionMode};

use crate::call::{CallState, ChatLine, LegId, LegLeft};
use crate::core::CallCore;
use crate::error::CallError;
use crate::io::{MediaCommand, Output, SessionId, SupervisionEnd, Verdict};
use crate::policy::{Participation, Receive};

/// Chat lines a call keeps (the oldest go first); consoles show the recent ones.
pub const CHAT_LINES_KEPT: usize = 200;

impl CallCore {
    pub(crate) fn supervise(
        &mut self,
        now: Instant,
        id: CallId,
        session: SessionId,
        name: String,
        mode: SupervisionMode,
    ) -> Result<Verdict, CallError> {
        let info = self
            .sessions
            .get(&session)
            .ok_or(CallError::NoCall("the session is not signed in"))?;
        if info.role != Role::Supervisor {
            return Err(CallError::WrongState("only a supervisor supervises a call"));
        }
        let subject = info.subject.clone();
        if let Some(&held) = self.by_session.get(&session) {
            if held != id {
                return Err(CallError::InAnotherCall(held));
            }
            return self.switch_mode(id, session, mode);
        }
        let call = self
            .calls
            .get(&id)
            .ok_or(CallError::NoCall("no such call in progress"))?;
        let participation = participation_of(call, mode)?;
        let leg = self.attach_leg(
            now,
            id,
            session,
            LegRole::Supervisor,
            &subject,
            participation,
        )?;
        if let Some(state) = self.calls.get_mut(&id).and_then(|c| c.leg_mut(leg)) {
            state.name = name;
            state.mode = Some(mode);
        }
        self.push(
            session,
            ServerMessage::MediaReady {
                call: id,
                peer_role: Role::Agent,
                waiting: false,
            },
        );
        self.announce_participants(id);
        Ok(Verdict::Done)
    }

    fn switch_mode(
        &mut self,
        id: CallId,
        session: SessionId,
        mode: SupervisionMode,
    ) -> Result<Verdict, CallError> {
        let call = self
            .calls
            .get(&id)
            .ok_or(CallError::NoCall("no such call in progress"))?;
        let leg = call
            .leg_of_session(session)
            .filter(|leg| leg.role == LegRole::Supervisor)
            .ok_or(CallError::WrongState("only a supervisor changes its mode"))?
            .id;
        let participation = participation_of(call, mode)?;
        self.repolicy(id, |call| {
            if let Some(state) = call.leg_mut(leg) {
                state.mode = Some(mode);
            }
            call.participate(leg, participation);
        });
        self.announce_participants(id);
        Ok(Verdict::Done)
    }

    /// Changes the call's policy with `change`, then tells the shard: subscriptions that went
    /// away are removed first (their slots are free again), then every leg whose receives
    /// changed is subscribed anew (and offered more slots where it needs them).
    pub(crate) fn repolicy(&mut self, id: CallId, change: impl FnOnce(&mut crate::call::Call)) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let before: Vec<(LegId, Vec<Receive>)> = call
            .legs
            .iter()
            .map(|leg| (leg.id, leg.receives.clone()))
            .collect();
        change(call);
        let mut removed = Vec::new();
        let mut changed = Vec::new();
        for (leg, old) in before {
            let Some(state) = call.leg(leg) else {
                continue;
            };
            if state.receives == old {
                continue;
            }
            changed.push(leg);
            for gone in old
                .iter()
                .filter(|r| !state.receives.iter().any(|now| now.from == r.from))
            {
                let publisher = call.leg(gone.from).and_then(|p| p.media);
                if let (Some(subscriber), Some(publisher)) = (state.media, publisher) {
                    removed.push(MediaCommand::Unsubscribe {
                        subscriber,
                        publisher,
                    });
                }
            }
        }
        for command in removed {
            self.outputs.push_back(Output::Media(command));
        }
        for leg in changed {
            self.resubscribe(id, leg);
        }
    }

    /// A supervisor or an interpreter leaves its call on its own request.
    pub(crate) fn leave(&mut self, now: Instant, session: SessionId) -> Result<Verdict, CallError> {
        let (call, leg, role) = self
            .session_call(session)
            .ok_or(CallError::NoCall("this session takes part in no call"))?;
        if matches!(role, LegRole::Kiosk | LegRole::Agent) {
            return Err(CallError::WrongState(
                "the kiosk and the agent end a call with hangup",
            ));
        }
        let id = call.id;
        self.by_session.remove(&session);
        self.remove_leg(now, id, leg, LegLeft::Left);
        Ok(Verdict::Done)
    }

    /// Removes a joined leg (supervisor, interpreter) from a call that goes on: its peer goes,
    /// and the participants who saw it are told.
    pub(crate) fn remove_leg(&mut self, now: Instant, id: CallId, leg: LegId, why: LegLeft) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if let Some(link) = call.remove_leg(now, leg, why).and_then(|l| l.media) {
            self.by_peer.remove(&link);
            self.outputs
                .push_back(Output::Media(MediaCommand::RemovePeer { link }));
        }
        self.announce_participants(id);
    }

    /// Pushes `participants` to every leg whose view of the others changed since it was last
    /// told.
    pub(crate) fn announce_participants(&mut self, id: CallId) {
        for (session, participants) in self.note_participants(id) {
            self.push(
                session,
                ServerMessage::Participants {
                    call: id,
                    participants,
                },
            );
        }
    }

    /// What the participants of a call already know when it connects (each other), noted
    /// without a push, so that a supervisor who only listens changes nothing they are told.
    pub(crate) fn baseline_participants(&mut self, id: CallId) {
        let _ = self.note_participants(id);
    }

    /// Notes each leg's view of the others; returns the changed views of legs with a session.
    fn note_participants(
        &mut self,
        id: CallId,
    ) -> Vec<(SessionId, Vec<relais_proto::messages::Participant>)> {
        let Some(call) = self.calls.get_mut(&id) else {
            return Vec::new();
        };
        let views: Vec<_> = call
            .legs
            .iter()
            .map(|leg| (leg.id, call.seen_by(leg.id)))
            .collect();
        let mut changed = Vec::new();
        for (leg, view) in views {
            let Some(state) = call.leg_mut(leg) else {
                continue;
            };
            if state.shown == view {
                continue;
            }
            state.shown = view.clone();
            if let Some(session) = state.session {
                changed.push((session, view));
            }
        }
        changed
    }

    /// The supervisors of a call that ends or goes back to its queue, for the audit log.
    pub(crate) fn supervisions_end(&mut self, call: &crate::call::Call, why: SupervisionEnd) {
        for leg in call.legs.iter().filter(|l| l.role == LegRole::Supervisor) {
            self.outputs.push_back(Output::SupervisionEnded {
                call: call.id,
                supervisor: leg.subject.clone(),
                mode: leg.mode,
                why,
            });
        }
    }

    pub(crate) fn chat(
        &mut self,
        session: SessionId,
        text: String,
        at_ms: i64,
    ) -> Result<Verdict, CallError> {
        let (call, leg, role) = self
            .session_call(session)
            .ok_or(CallError::NoCall("no call is connected"))?;
        if !matches!(call.state, CallState::Connected { .. }) {
            return Err(CallError::NoCall("no call is connected"));
        }
        let state = call
            .leg(leg)
            .ok_or(CallError::NoCall("no call is connected"))?;
        if role == LegRole::Supervisor && !state.full {
            return Err(CallError::WrongState(
                "a supervisor writes in the chat once it has joined the conversation",
            ));
        }
        if call.on_hold {
            return Err(CallError::WrongState(
                "the call is on hold: the chat is back when it comes off hold",
            ));
        }
        if text.trim().is_empty() {
            return Err(CallError::WrongState("the message is empty"));
        }
        let id = call.id;
        let name = state.name.clone();
        let message = ServerMessage::Chat {
            call: id,
            from: role,
            name: name.clone(),
            text: text.clone(),
            at_ms,
        };
        if let Some(call) = self.calls.get_mut(&id) {
            if call.chat.len() >= CHAT_LINES_KEPT {
                call.chat.remove(0);
            }
            call.chat.push(ChatLine {
                from: leg,
                role,
                name,
                at_ms,
                text,
            });
        }
        self.push_others(id, leg, &message);
        Ok(Verdict::Done)
    }
}

/// The part a supervisor takes in `mode`.
fn participation_of(
    call: &crate::call::Call,
    mode: SupervisionMode,
) -> Result<Participation, CallError> {
    Ok(match mode {
        SupervisionMode::Monitor => Participation::Monitor,
        SupervisionMode::Barge => Participation::Full,
        SupervisionMode::Whisper => Participation::Whisper {
            to: call
                .leg_of_role(LegRole::Agent)
                .ok_or(CallError::WrongState("the call has no agent to coach"))?
                .id,
        },
    })
}
