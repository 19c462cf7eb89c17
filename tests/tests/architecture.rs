//! Architecture invariants read from `cargo metadata`: the sans-IO cores never depend on the
//! async runtime, the web framework, the session registry, metrics or the store.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

const CORES: &[&str] = &[
    "relais-proto",
    "relais-dispatch",
    "relais-call",
    "relais-media",
];
const FORBIDDEN: &[&str] = &[
    "tokio",
    "axum",
    "dashmap",
    "prometheus",
    "relais-store",
    "relais",
];

/// Normal (non-dev, non-build) dependency edges of the resolved graph, by package name.
fn normal_dependency_graph() -> (BTreeMap<String, String>, BTreeMap<String, BTreeSet<String>>) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    let names: BTreeMap<String, String> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for node in metadata["resolve"]["nodes"]
        .as_array()
        .expect("resolve nodes")
    {
        let id = node["id"].as_str().unwrap().to_owned();
        let deps = edges.entry(id).or_default();
        for dep in node["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|kind| kind["kind"].is_null());
            if normal {
                deps.insert(dep["pkg"].as_str().unwrap().to_owned());
            }
        }
    }
    (names, edges)
}

fn closure(start: &str, edges: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![start.to_owned()];
    while let Some(id) = stack.pop() {
        for dep in edges.get(&id).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                stack.push(dep.clone());
            }
        }
    }
    seen
}

#[test]
fn cores_do_not_depend_on_io_crates() {
    let (names, edges) = normal_dependency_graph();
    let mut checked = 0;
    for (id, name) in &names {
        if !CORES.contains(&name.as_str()) {
            continue;
        }
        checked += 1;
        let reached: BTreeSet<&str> = closure(id, &edges)
            .iter()
            .filter_map(|dep| names.get(dep).map(String::as_str))
            .collect();
        let bad: Vec<&&str> = FORBIDDEN.iter().filter(|f| reached.contains(**f)).collect();
        assert!(bad.is_empty(), "core crate {name} depends on {bad:?}");
    }
    assert_eq!(
        checked,
        CORES.len(),
        "every core crate was found in the workspace"
    );
}

#[test]
fn the_graph_walk_sees_the_servers_real_dependencies() {
    // Guards the check above against passing vacuously (e.g. a metadata format change).
    let (names, edges) = normal_dependency_graph();
    let server = names
        .iter()
        .find(|(_, n)| *n == "relais")
        .map(|(id, _)| id.clone())
        .unwrap();
    let reached: BTreeSet<String> = closure(&server, &edges)
        .iter()
        .filter_map(|dep| names.get(dep).cloned())
        .collect();
    for expected in ["tokio", "axum", "prometheus"] {
        assert!(reached.contains(expected), "relais should reach {expected}");
    }
}
