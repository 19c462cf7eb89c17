//! Agent requests: login, logout, ready, not ready, disconnect, wrap-up done — validated
//! first (a refused request changes nothing), then applied.

use std::time::Instant;

use relais_proto::{AgentId, QueueId};

use crate::agent::{AState, Agent};
use crate::dispatcher::Dispatcher;
use crate::error::DispatchError;

impl Dispatcher {
    fn agent_slot(&self, agent: &AgentId) -> Result<u32, DispatchError> {
        self.agent_index
            .get(agent)
            .copied()
            .ok_or_else(|| DispatchError::UnknownAgent(agent.clone()))
    }

    fn invalid(&self, a: u32, action: &'static str) -> DispatchError {
        let agent = &self.agents[a as usize];
        match agent.state {
            AState::LoggedOut => DispatchError::NotLoggedIn(agent.id.clone()),
            ref state => DispatchError::InvalidTransition {
                agent: agent.id.clone(),
                action,
                state: state.describe(),
            },
        }
    }

    pub(crate) fn login(
        &mut self,
        now: Instant,
        agent: AgentId,
        skills: Vec<(String, u8)>,
        queues: Option<Vec<QueueId>>,
    ) -> Result<(), DispatchError> {
        if let Some((skill, proficiency)) = skills.iter().find(|(_, p)| !(1..=5).contains(p)) {
            return Err(DispatchError::InvalidProficiency {
                skill: skill.clone(),
                proficiency: *proficiency,
            });
        }
        let existing = self.agent_index.get(&agent).copied();
        if let Some(a) = existing
            && !matches!(
                self.agents[a as usize].state,
                AState::LoggedOut | AState::NotReady { .. }
            )
        {
            return Err(DispatchError::AlreadyLoggedIn(agent));
        }
        let a = match existing {
            Some(a) => a,
            None => {
                let a = u32::try_from(self.agents.len()).unwrap_or(u32::MAX);
                self.agents.push(Agent::new(agent.clone(), now));
                self.agent_index.insert(agent, a);
                a
            }
        };
        if self.agents[a as usize].state != AState::LoggedOut {
            self.leave_queues(now, a);
        }
        let mut interned: Vec<(u16, u8)> = Vec::with_capacity(skills.len());
        for (name, proficiency) in &skills {
            let skill = match self.skills.get(name.as_str()) {
                Some(&s) => s,
                None => {
                    let s = u16::try_from(self.skills.len()).unwrap_or(u16::MAX);
                    self.skills.insert(name.clone(), s);
                    s
                }
            };
            interned.push((skill, *proficiency));
        }
        interned.sort_unstable();
        // Duplicate skills: keep the highest proficiency.
        interned.reverse();
        interned.dedup_by_key(|(s, _)| *s);
        interned.reverse();
        let record = &mut self.agents[a as usize];
        record.skills = interned;
        record.queue_filter = queues;
        record.missed = 0;
        record.calls_answered = 0;
        record.talk_total = std::time::Duration::ZERO;
        self.join_queues(now, a);
        self.set_state(
            now,
            a,
            AState::NotReady {
                reason: "login".into(),
            },
        );
        Ok(())
    }

    pub(crate) fn logout(&mut self, now: Instant, agent: &AgentId) -> Result<(), DispatchError> {
        let a = self.agent_slot(agent)?;
        match self.agents[a as usize].state {
            AState::LoggedOut | AState::OnCall { .. } => return Err(self.invalid(a, "log out")),
            AState::Reserved { .. } => self.withdraw_offer_of(now, a),
            AState::WrapUp { .. } => self.finish_wrap_up(now, a),
            AState::Available | AState::NotReady { .. } => {}
        }
        self.set_state(now, a, AState::LoggedOut);
        self.leave_queues(now, a);
        Ok(())
    }

    pub(crate) fn ready(&mut self, now: Instant, agent: &AgentId) -> Result<(), DispatchError> {
        let a = self.agent_slot(agent)?;
        match self.agents[a as usize].state {
            AState::Available => return Ok(()),
            AState::LoggedOut | AState::Reserved { .. } | AState::OnCall { .. } => {
                return Err(self.invalid(a, "become ready"));
            }
            AState::WrapUp { .. } => self.finish_wrap_up(now, a),
            AState::NotReady { .. } => {}
        }
        self.set_state(now, a, AState::Available);
        Ok(())
    }

    pub(crate) fn not_ready(
        &mut self,
        now: Instant,
        agent: &AgentId,
        reason: String,
    ) -> Result<(), DispatchError> {
        let a = self.agent_slot(agent)?;
        match self.agents[a as usize].state {
            AState::LoggedOut | AState::OnCall { .. } => {
                return Err(self.invalid(a, "go not ready"));
            }
            AState::Reserved { .. } => self.withdraw_offer_of(now, a),
            AState::WrapUp { .. } => self.finish_wrap_up(now, a),
            AState::Available | AState::NotReady { .. } => {}
        }
        self.set_state(now, a, AState::NotReady { reason });
        Ok(())
    }

    pub(crate) fn disconnect(
        &mut self,
        now: Instant,
        agent: &AgentId,
    ) -> Result<(), DispatchError> {
        let a = self.agent_slot(agent)?;
        match self.agents[a as usize].state {
            AState::LoggedOut => return Err(self.invalid(a, "disconnect")),
            AState::Reserved { .. } => self.withdraw_offer_of(now, a),
            AState::WrapUp { .. } => self.finish_wrap_up(now, a),
            AState::OnCall { call, .. } => self.interrupt(now, call, a),
            AState::Available | AState::NotReady { .. } => {}
        }
        self.set_state(
            now,
            a,
            AState::NotReady {
                reason: "disconnected".into(),
            },
        );
        Ok(())
    }

    pub(crate) fn wrap_up_done(
        &mut self,
        now: Instant,
        agent: &AgentId,
    ) -> Result<(), DispatchError> {
        let a = self.agent_slot(agent)?;
        if !matches!(self.agents[a as usize].state, AState::WrapUp { .. }) {
            return Err(self.invalid(a, "finish wrap-up"));
        }
        self.finish_wrap_up(now, a);
        self.set_state(now, a, AState::Available);
        Ok(())
    }
}
