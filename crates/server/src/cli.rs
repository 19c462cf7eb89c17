//! The command line of the `relais` binary.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Relais: media server, signalling and call distributor for video public-service contact
/// centres.
#[derive(Debug, Parser)]
#[command(name = "relais", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (TOML); built-in defaults when absent.
    #[arg(long, global = true, env = "RELAIS_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do; `serve` when none is given.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Delete the records older than the retention period (`[records] retention_days`, or
    /// `--days`) from the store, and print what was deleted. Safe while the server runs.
    Purge {
        /// Keep this many days instead of the configured retention.
        #[arg(long)]
        days: Option<u32>,
    },
    /// Check what this site needs from here: the configuration, the ports, the data directory,
    /// the certificate, the media address, the kernel's buffers and each STUN/TURN server.
    /// Exits 1 when a check fails.
    Doctor,
    /// Local accounts of agents, supervisors and administrators (for sites without an
    /// identity provider).
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Validate a configuration file and print the effective configuration.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// Print a signed role token (with the configured secret, or the development secret).
    Token {
        /// kiosk, agent, supervisor or admin.
        #[arg(long)]
        role: String,
        /// The subject: agent login, kiosk id, supervisor name.
        #[arg(long)]
        sub: String,
        /// Agent skills, e.g. `caf:3,cpam:2`.
        #[arg(long, default_value = "")]
        skills: String,
        /// Kiosk site, e.g. `mairie-de-chambon`.
        #[arg(long)]
        site: Option<String>,
        /// Lifetime in seconds (default: auth.token_ttl_secs).
        #[arg(long)]
        ttl: Option<i64>,
        /// Supervisor: the services it may supervise, e.g. `caf,cpam` (default: all).
        #[arg(long)]
        services: Option<String>,
        /// The name shown to other participants (default: the subject).
        #[arg(long)]
        name: Option<String>,
    },
}

/// `relais user …`.
#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Create an account, or replace one (a new password, new roles); the password is read
    /// from standard input: `relais user add marie --role agent --skills caf:3 < password`.
    Add {
        username: String,
        /// agent, supervisor or admin; repeat or separate with commas.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The name shown to others (default: the user name).
        #[arg(long)]
        name: Option<String>,
        /// Supervisor: the services it supervises, e.g. `caf,cpam` (default: all).
        #[arg(long)]
        services: Option<String>,
        /// Agent: skills with proficiency, e.g. `caf:3,cpam:2`.
        #[arg(long, default_value = "")]
        skills: String,
        /// Agent: teams, e.g. `nord,accueil`.
        #[arg(long, default_value = "")]
        teams: String,
    },
    /// List the accounts: name, roles, skills, services, state.
    List,
    /// Disable an account; its browser sessions end within a minute.
    Disable { username: String },
}
