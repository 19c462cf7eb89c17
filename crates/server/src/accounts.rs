//! `relais user …`: local accounts for sites without an identity provider, kept in the store
//! (argon2id hashes), and the agent profile (skills, teams) that goes with an agent account.
//! Safe while the server runs: a disabled account's sessions end within a minute.

use std::io::BufRead;

use relais_store::{AgentProfile, Store, User};

use crate::config::Config;
use crate::signin::local::{MIN_PASSWORD, hash_password};

/// What `relais user add` is given.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub name: Option<String>,
    pub roles: Vec<String>,
    pub services: Option<String>,
    pub skills: String,
    pub teams: String,
}

/// Why this process must not open the store of `data_dir`: another user owns the directory
/// (root running a command for the `relais` service would leave journal files the service
/// cannot write). `None`: it may.
pub fn wrong_user(data_dir: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(data_dir).ok()?.uid();
    let me = std::fs::metadata("/proc/self").ok()?.uid();
    (owner != me).then(|| {
        format!(
            "{} belongs to user id {owner}, not to this user ({me}): run the command as its \
             owner, e.g. `sudo -u relais relais …`",
            data_dir.display()
        )
    })
}

/// The store of the configuration, opened as its owner only.
pub fn open_as_owner(config: &Config) -> anyhow::Result<Store> {
    if let Some(why) = wrong_user(&config.data_dir) {
        anyhow::bail!(why);
    }
    open(config)
}

fn open(config: &Config) -> anyhow::Result<Store> {
    let path = config.data_dir.join("relais.sqlite3");
    Store::open(&path)
        .map_err(|err| anyhow::anyhow!("cannot open the store {}: {err}", path.display()))
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Creates or replaces an account with the password read from `password` (its first line).
pub fn add(config: &Config, new: NewUser, password: impl BufRead) -> anyhow::Result<String> {
    let username = new.username.trim().to_owned();
    if username.is_empty() || username.len() > 128 || username.chars().any(char::is_whitespace) {
        anyhow::bail!("the user name must be 1 to 128 characters without spaces");
    }
    let mut roles = Vec::new();
    for role in new.roles.iter().flat_map(|r| list(r)) {
        if crate::signin::role_of(&role).is_none() {
            anyhow::bail!("--role {role}: agent, supervisor or admin");
        }
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    if roles.is_empty() {
        anyhow::bail!("give at least one --role (agent, supervisor, admin)");
    }
    let skills =
        crate::auth::parse_skills(&new.skills).map_err(|err| anyhow::anyhow!("--skills: {err}"))?;
    let mut line = String::new();
    password
        .take(4096)
        .read_line(&mut line)
        .map_err(|err| anyhow::anyhow!("cannot read the password: {err}"))?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.chars().count() < MIN_PASSWORD {
        anyhow::bail!(
            "the password must have at least {MIN_PASSWORD} characters (read from standard input)"
        );
    }
    let store = open_as_owner(config)?;
    let now = jiff::Timestamp::now().as_millisecond();
    let created = store.user(&username)?.map_or(now, |u| u.created_at_ms);
    store.put_user(&User {
        username: username.clone(),
        name: new.name.unwrap_or_else(|| username.clone()),
        password_hash: hash_password(password)?,
        roles: roles.clone(),
        services: new.services.as_deref().map(list),
        created_at_ms: created,
        disabled_at_ms: None,
    })?;
    if roles.iter().any(|r| r == "agent") && (!skills.is_empty() || !new.teams.is_empty()) {
        store.put_agent_profile(&AgentProfile {
            agent_id: username.clone(),
            skills,
            teams: list(&new.teams),
            updated_at_ms: now,
            updated_by: "relais user add".into(),
        })?;
    }
    Ok(format!(
        "account {username} saved with roles {}",
        roles.join(", ")
    ))
}

/// The accounts, one per line.
pub fn show(config: &Config) -> anyhow::Result<String> {
    let store = open_as_owner(config)?;
    let profiles = store.agent_profiles()?;
    let mut out = String::new();
    for user in store.users()? {
        let skills = profiles
            .iter()
            .find(|p| p.agent_id == user.username)
            .map(|p| {
                p.skills
                    .iter()
                    .map(|(s, l)| format!("{s}:{l}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            user.username,
            user.roles.join(","),
            if skills.is_empty() { "-" } else { &skills },
            user.services.map_or("*".to_owned(), |s| s.join(",")),
            if user.disabled_at_ms.is_some() {
                "disabled"
            } else {
                "enabled"
            },
        ));
    }
    Ok(out)
}

/// Disables an account and ends its browser sessions.
pub fn disable(config: &Config, username: &str) -> anyhow::Result<String> {
    let store = open_as_owner(config)?;
    if !store.disable_user(username, jiff::Timestamp::now().as_millisecond())? {
        anyhow::bail!("no account {username}");
    }
    Ok(format!(
        "account {username} disabled; its sessions end within a minute"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_directory_of_another_user_is_not_opened() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("relais-owner-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(wrong_user(&dir), None, "our own directory");
        let me = std::fs::metadata("/proc/self").unwrap().uid();
        if me == 0 {
            // As root (a site's administrator at the server): a directory of the service's user.
            std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
            let why = wrong_user(&dir).expect("refused");
            assert!(why.contains("sudo -u relais"), "{why}");
            let mut config = Config::default();
            config.data_dir.clone_from(&dir);
            let err = show(&config).unwrap_err();
            assert!(err.to_string().contains("user id 65534"), "{err}");
            assert!(!dir.join("relais.sqlite3").exists(), "nothing was created");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
