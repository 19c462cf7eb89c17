//! Services changed by administrators while the server runs. The configuration file gives the
//! services at start; an administrator's version of a service (saved in the store) overrides
//! the file's of the same id or adds one, and a deletion removes it. The effective list is
//! checked as the file's is, then applied live: the dispatcher reloads its queues (calls of a
//! removed service end `closed`, agents join the queues their skills match) and kiosks see the
//! new list at their next `list_services`.

use relais_store::AdminService;

use crate::config::{ServiceConfig, validate_services};

/// The effective services: the file's, with the administrators' versions applied in the order
/// they were first saved. A stored definition that no longer parses is skipped with a warning.
pub fn merge(file: &[ServiceConfig], stored: &[AdminService]) -> (Vec<ServiceConfig>, Vec<String>) {
    let mut services = file.to_vec();
    let mut warnings = Vec::new();
    for row in stored {
        let Some(definition) = &row.definition else {
            services.retain(|s| s.id != row.service_id);
            continue;
        };
        match serde_json::from_str::<ServiceConfig>(definition) {
            Ok(service) if service.id == row.service_id => {
                match services.iter_mut().find(|s| s.id == service.id) {
                    Some(slot) => *slot = service,
                    None => services.push(service),
                }
            }
            Ok(_) => warnings.push(format!(
                "stored service {}: its id differs; skipped",
                row.service_id
            )),
            Err(err) => warnings.push(format!("stored service {}: {err}; skipped", row.service_id)),
        }
    }
    (services, warnings)
}

/// A service from an administrator: TOML (the file's `[[services]]` entry, without the
/// header) or JSON. Checked with the whole list when applied.
pub fn parse(text: &str, json: bool) -> Result<ServiceConfig, String> {
    if json {
        serde_json::from_str(text).map_err(|err| format!("bad JSON: {err}"))
    } else {
        toml::from_str(text).map_err(|err| format!("bad TOML: {err}"))
    }
}

/// Checks a whole list of services as the configuration file's are checked.
pub fn check(services: &[ServiceConfig]) -> Result<(), String> {
    validate_services(services)
}

/// `check-config`: the administrators' changes kept in the configuration's store, applied to
/// the file's services and checked. `Ok(None)`: no store or no change; `Ok(Some(summary))`.
pub fn check_stored(config: &crate::config::Config) -> Result<Option<String>, String> {
    let path = config.data_dir.join("relais.sqlite3");
    if !path.exists() {
        return Ok(None);
    }
    if let Some(why) = crate::accounts::wrong_user(&config.data_dir) {
        return Ok(Some(format!(
            "the administrators' changes to services were not checked: {why}"
        )));
    }
    let store = relais_store::Store::open(&path)
        .map_err(|err| format!("cannot open the store {}: {err}", path.display()))?;
    let rows = store
        .admin_services()
        .map_err(|err| format!("cannot read the administrators' services: {err}"))?;
    if rows.is_empty() {
        return Ok(None);
    }
    let (services, warnings) = merge(&config.services, &rows);
    if let Some(warning) = warnings.first() {
        return Err(warning.clone());
    }
    check(&services)
        .map_err(|err| format!("the services with the administrators' changes: {err}"))?;
    Ok(Some(format!(
        "{} administrators' changes to services in {}: valid; {} services served",
        rows.len(),
        path.display(),
        services.len()
    )))
}

/// The service as TOML, as an administrator edits it.
pub fn to_toml(service: &ServiceConfig) -> String {
    toml::to_string(service).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: &str, definition: Option<&ServiceConfig>) -> AdminService {
        AdminService {
            service_id: id.into(),
            definition: definition.map(|s| serde_json::to_string(s).unwrap()),
            updated_at_ms: 1,
            updated_by: "ines".into(),
        }
    }

    #[test]
    fn administrators_versions_override_add_and_remove_the_files_services() {
        let file = crate::config::Config::default().services;
        assert!(file.len() >= 2, "the demo services");
        let mut changed = file[0].clone();
        changed.name = "Renamed".into();
        let added = parse(
            "id = \"mairie\"\nname = \"Mairie\"\n[hours]\nmon = [\"08:30-12:00\"]\n",
            false,
        )
        .unwrap();
        let rows = [
            stored(&changed.id, Some(&changed)),
            stored(&file[1].id, None),
            stored("mairie", Some(&added)),
            stored("broken", None),
        ];
        let (services, warnings) = merge(&file, &rows);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(services[0].name, "Renamed");
        assert!(!services.iter().any(|s| s.id == file[1].id));
        assert_eq!(services.last().unwrap().id, "mairie");
        assert!(services.last().unwrap().hours.is_some());
        let mut bad = stored("x", None);
        bad.definition = Some("{".into());
        assert_eq!(merge(&file, &[bad]).1.len(), 1);
        // TOML out, TOML in.
        assert_eq!(parse(&to_toml(&added), false).unwrap(), added);
        let bad_id = parse("id = \"Bad Id\"\nname = \"x\"\n", false).unwrap();
        assert!(check(&[bad_id]).is_err());
        assert!(parse("name = \"x\"\n", false).unwrap_err().contains("id"));
    }
}
