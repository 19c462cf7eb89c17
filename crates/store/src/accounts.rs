//! People who sign in: local accounts with their argon2 password hash, agent profiles (skills
//! and teams, whatever the sign-in), and web sessions, of which only the cookie's SHA-256 is
//! kept. Lists are stored as JSON text.

use rusqlite::{OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use crate::Store;
use crate::error::Result;

/// A local account. Times are Unix milliseconds UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub username: String,
    pub name: String,
    /// The PHC string of its argon2 hash; never sent anywhere.
    #[serde(skip_serializing, default)]
    pub password_hash: String,
    /// `agent`, `supervisor`, `admin`.
    pub roles: Vec<String>,
    /// A supervisor's services; `None`: every service.
    pub services: Option<Vec<String>>,
    pub created_at_ms: i64,
    pub disabled_at_ms: Option<i64>,
}

/// What an agent can take, however it signs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentProfile {
    pub agent_id: String,
    /// `(skill, proficiency 1–5)`.
    pub skills: Vec<(String, u8)>,
    pub teams: Vec<String>,
    pub updated_at_ms: i64,
    pub updated_by: String,
}

/// A browser's sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebSession {
    /// SHA-256 of the cookie, hex.
    pub session_hash: String,
    pub subject: String,
    pub name: String,
    pub roles: Vec<String>,
    pub services: Option<Vec<String>>,
    /// `oidc` or `local`.
    pub method: String,
    pub created_at_ms: i64,
    pub expires_ms: i64,
}

/// A service as an administrator left it: its definition (JSON), or `None` when deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminService {
    pub service_id: String,
    pub definition: Option<String>,
    pub updated_at_ms: i64,
    pub updated_by: String,
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

fn parsed<T: for<'de> Deserialize<'de> + Default>(text: Option<String>) -> T {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

const USER_COLUMNS: &str =
    "username, name, password_hash, roles, services, created_at_ms, disabled_at_ms";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        username: row.get(0)?,
        name: row.get(1)?,
        password_hash: row.get(2)?,
        roles: parsed(row.get(3)?),
        services: parsed(row.get(4)?),
        created_at_ms: row.get(5)?,
        disabled_at_ms: row.get(6)?,
    })
}

const SESSION_COLUMNS: &str =
    "session_hash, subject, name, roles, services, method, created_at_ms, expires_ms";

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<WebSession> {
    Ok(WebSession {
        session_hash: row.get(0)?,
        subject: row.get(1)?,
        name: row.get(2)?,
        roles: parsed(row.get(3)?),
        services: parsed(row.get(4)?),
        method: row.get(5)?,
        created_at_ms: row.get(6)?,
        expires_ms: row.get(7)?,
    })
}

impl Store {
    /// Creates or replaces a local account (a new password, new roles); a replaced account
    /// is enabled again.
    pub fn put_user(&self, user: &User) -> Result<()> {
        self.connection().execute(
            "INSERT INTO users (username, name, password_hash, roles, services, created_at_ms, \
             disabled_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL) \
             ON CONFLICT (username) DO UPDATE SET name = ?2, password_hash = ?3, roles = ?4, \
             services = ?5, disabled_at_ms = NULL",
            (
                &user.username,
                &user.name,
                &user.password_hash,
                json(&user.roles),
                user.services.as_ref().map(json),
                user.created_at_ms,
            ),
        )?;
        Ok(())
    }

    /// One local account.
    pub fn user(&self, username: &str) -> Result<Option<User>> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = ?1"
        ))?;
        Ok(statement.query_row([username], user_from_row).optional()?)
    }

    /// Every local account, by name.
    pub fn users(&self) -> Result<Vec<User>> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY username"
        ))?;
        let rows = statement.query_map([], user_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Disables a local account and ends its web sessions. `false`: no such account.
    pub fn disable_user(&self, username: &str, at_ms: i64) -> Result<bool> {
        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        let changed = transaction.execute(
            "UPDATE users SET disabled_at_ms = ?2 WHERE username = ?1",
            (username, at_ms),
        )?;
        transaction.execute(
            "DELETE FROM web_sessions WHERE subject = ?1 AND method = 'local'",
            [username],
        )?;
        transaction.commit()?;
        Ok(changed == 1)
    }

    /// Sets an agent's skills and teams.
    pub fn put_agent_profile(&self, profile: &AgentProfile) -> Result<()> {
        self.connection().execute(
            "INSERT INTO agent_profiles (agent_id, skills, teams, updated_at_ms, updated_by) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (agent_id) DO UPDATE SET skills = ?2, \
             teams = ?3, updated_at_ms = ?4, updated_by = ?5",
            (
                &profile.agent_id,
                json(&profile.skills),
                json(&profile.teams),
                profile.updated_at_ms,
                &profile.updated_by,
            ),
        )?;
        Ok(())
    }

    /// One agent's profile.
    pub fn agent_profile(&self, agent_id: &str) -> Result<Option<AgentProfile>> {
        Ok(self
            .agent_profiles()?
            .into_iter()
            .find(|profile| profile.agent_id == agent_id))
    }

    /// Every agent profile, by agent.
    pub fn agent_profiles(&self) -> Result<Vec<AgentProfile>> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(
            "SELECT agent_id, skills, teams, updated_at_ms, updated_by FROM agent_profiles \
             ORDER BY agent_id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(AgentProfile {
                agent_id: row.get(0)?,
                skills: parsed(row.get(1)?),
                teams: parsed(row.get(2)?),
                updated_at_ms: row.get(3)?,
                updated_by: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Deletes an agent profile. `false`: there was none.
    pub fn delete_agent_profile(&self, agent_id: &str) -> Result<bool> {
        let changed = self
            .connection()
            .execute("DELETE FROM agent_profiles WHERE agent_id = ?1", [agent_id])?;
        Ok(changed == 1)
    }

    /// Saves an administrator's version of a service (`definition: None`: deleted).
    pub fn put_admin_service(&self, service: &AdminService) -> Result<()> {
        self.connection().execute(
            "INSERT INTO admin_services (service_id, definition, updated_at_ms, updated_by) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (service_id) DO UPDATE SET definition = ?2, \
             updated_at_ms = ?3, updated_by = ?4",
            (
                &service.service_id,
                &service.definition,
                service.updated_at_ms,
                &service.updated_by,
            ),
        )?;
        Ok(())
    }

    /// Every service an administrator changed, in the order they were first changed.
    pub fn admin_services(&self) -> Result<Vec<AdminService>> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(
            "SELECT service_id, definition, updated_at_ms, updated_by FROM admin_services \
             ORDER BY rowid",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(AdminService {
                service_id: row.get(0)?,
                definition: row.get(1)?,
                updated_at_ms: row.get(2)?,
                updated_by: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Keeps a new web session.
    pub fn insert_web_session(&self, session: &WebSession) -> Result<()> {
        self.connection().execute(
            &format!(
                "INSERT INTO web_sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ),
            (
                &session.session_hash,
                &session.subject,
                &session.name,
                json(&session.roles),
                session.services.as_ref().map(json),
                &session.method,
                session.created_at_ms,
                session.expires_ms,
            ),
        )?;
        Ok(())
    }

    /// The web sessions that have not expired at `now_ms`; expired ones are deleted.
    pub fn live_web_sessions(&self, now_ms: i64) -> Result<Vec<WebSession>> {
        let connection = self.connection();
        connection.execute("DELETE FROM web_sessions WHERE expires_ms <= ?1", [now_ms])?;
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM web_sessions ORDER BY created_at_ms"
        ))?;
        let rows = statement.query_map([], session_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Ends a web session. `false`: there was none.
    pub fn delete_web_session(&self, session_hash: &str) -> Result<bool> {
        let changed = self.connection().execute(
            "DELETE FROM web_sessions WHERE session_hash = ?1",
            [session_hash],
        )?;
        Ok(changed == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_profiles_and_sessions_round_trip_and_end() {
        let dir =
            std::env::temp_dir().join(format!("relais-store-accounts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir.join("relais.sqlite3")).unwrap();

        let mut user = User {
            username: "marie".into(),
            name: "Marie Curie".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            roles: vec!["agent".into(), "supervisor".into()],
            services: Some(vec!["caf".into()]),
            created_at_ms: 1,
            disabled_at_ms: None,
        };
        store.put_user(&user).unwrap();
        assert_eq!(store.user("marie").unwrap().as_ref(), Some(&user));
        let session = WebSession {
            session_hash: "h1".into(),
            subject: "marie".into(),
            name: "Marie Curie".into(),
            roles: vec!["agent".into()],
            services: None,
            method: "local".into(),
            created_at_ms: 10,
            expires_ms: 100,
        };
        store.insert_web_session(&session).unwrap();
        assert_eq!(
            store.live_web_sessions(50).unwrap(),
            std::slice::from_ref(&session)
        );
        assert!(store.disable_user("marie", 60).unwrap());
        assert_eq!(
            store.user("marie").unwrap().unwrap().disabled_at_ms,
            Some(60)
        );
        assert!(
            store.live_web_sessions(61).unwrap().is_empty(),
            "ended with the account"
        );

        // Replacing the account enables it again.
        user.roles = vec!["admin".into()];
        store.put_user(&user).unwrap();
        assert_eq!(store.user("marie").unwrap().unwrap().disabled_at_ms, None);
        assert_eq!(store.users().unwrap()[0].roles, ["admin"]);

        store.insert_web_session(&session).unwrap();
        assert!(store.live_web_sessions(100).unwrap().is_empty(), "expired");
        assert!(
            !store.delete_web_session("h1").unwrap(),
            "expired ones are gone"
        );

        let profile = AgentProfile {
            agent_id: "marie".into(),
            skills: vec![("caf".into(), 4)],
            teams: vec!["nord".into()],
            updated_at_ms: 5,
            updated_by: "admin".into(),
        };
        store.put_agent_profile(&profile).unwrap();
        assert_eq!(store.agent_profiles().unwrap(), [profile]);
        assert!(store.delete_agent_profile("marie").unwrap());
        assert!(store.agent_profiles().unwrap().is_empty());

        let mut service = AdminService {
            service_id: "caf".into(),
            definition: Some("{\"id\":\"caf\"}".into()),
            updated_at_ms: 1,
            updated_by: "ines".into(),
        };
        store.put_admin_service(&service).unwrap();
        service.definition = None;
        store.put_admin_service(&service).unwrap();
        assert_eq!(store.admin_services().unwrap(), [service]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
