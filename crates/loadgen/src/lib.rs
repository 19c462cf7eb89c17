//! Relais load generator: drives synthetic calls (a kiosk and an agent each) through the real
//! signalling and media of a server and reports set-up time, one-way delay, loss, and the
//! server's CPU per forwarded packet read from `/proc`.

pub mod direct;
pub mod http;
pub mod janus;
pub mod measure;
pub mod peer;
pub mod proc_stats;
pub mod report;
pub mod run;
pub mod server_metrics;
pub mod signal;
pub mod stamp;
pub mod token;
