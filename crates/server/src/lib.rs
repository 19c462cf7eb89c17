//! The Relais server as a library: configuration, HTTP routes, TLS, metrics and the serving loop,
//! so that the binary stays a thin command-line shell and tests can run the real server in-process.

pub mod accounts;
pub mod admin;
pub mod audio;
pub mod audit;
pub mod auth;
pub mod calls;
pub mod cli;
pub mod config;
pub mod conn_limits;
pub mod doctor;
pub mod documents;
pub mod enrolment;
pub mod http;
pub mod hub;
pub mod kpi;
pub mod media;
pub mod metrics;
pub mod retention;
pub mod serve;
pub mod signin;
pub mod state;
pub mod telemetry;
pub mod tls;
pub mod turn;
pub mod ws;

pub use config::Config;
pub use serve::Server;
pub use state::AppState;

/// The version of this build, as shown by `relais --version` and `/metrics`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
