//! Behaviour tests for relais-store against real SQLite files in per-test temporary directories.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod audit_and_agents;
mod calls;
mod concurrency;
mod csv;
mod documents;
mod history;
mod journal;
mod opening;
mod purge;
mod support;
