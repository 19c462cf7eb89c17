//! `RELAIS_…` environment overrides: `RELAIS_HTTP__LISTEN=0.0.0.0:8443` sets `http.listen`
//! (`__` separates nested keys; single `_` stays part of a key, as in `RELAIS_DATA_DIR`).
//! Only variables whose first segment is a top-level key or section are read.

use super::{Config, ConfigError};

/// Variables with the prefix that are not configuration keys.
const NOT_KEYS: &[&str] = &["RELAIS_CONFIG"];
const PREFIX: &str = "RELAIS_";

/// One override: the variable's name, the key path it sets and its raw value.
#[derive(Debug, Clone)]
pub(super) struct Override {
    pub var: String,
    pub path: Vec<String>,
    pub raw: String,
}

/// Picks the configuration overrides out of an environment, in name order. A variable is an
/// override when its first segment names a top-level key or section of the configuration
/// (`RELAIS_HTTP__…`, `RELAIS_DATA_DIR`); other `RELAIS_…` variables (`RELAIS_BIN`, say) belong
/// to someone else and are left alone. Within a known section an unknown key is an error.
pub(super) fn collect(vars: impl IntoIterator<Item = (String, String)>) -> Vec<Override> {
    let top_level = top_level_keys();
    let mut out: Vec<Override> = vars
        .into_iter()
        .filter(|(name, _)| name.starts_with(PREFIX) && !NOT_KEYS.contains(&name.as_str()))
        .filter(|(name, _)| {
            let first = name[PREFIX.len()..]
                .split("__")
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            top_level.contains(&first)
        })
        .map(|(var, raw)| {
            let path = var[PREFIX.len()..]
                .split("__")
                .map(|part| part.to_ascii_lowercase())
                .collect();
            Override { var, path, raw }
        })
        .collect();
    out.sort_by(|a, b| a.var.cmp(&b.var));
    out
}

/// Applies overrides on top of the file's text, one by one, so an error names its variable.
pub(super) fn apply(
    text: &str,
    origin: &str,
    overrides: &[Override],
) -> Result<Config, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        origin: origin.to_owned(),
        message,
    };
    let mut table: toml::Table = toml::from_str(text).map_err(|err| invalid(err.to_string()))?;
    let defaults = toml::Value::try_from(schema_sample())
        .map_err(|err| invalid(format!("cannot represent defaults: {err}")))?;
    let mut config = None;
    for one in overrides {
        let in_env = |message: String| ConfigError::Invalid {
            origin: format!("environment variable {}", one.var),
            message,
        };
        if one.path.iter().any(String::is_empty) {
            return Err(in_env("empty key segment in the variable name".to_owned()));
        }
        let value = typed_value(&defaults, &one.path, &one.raw);
        insert(&mut table, &one.path, value).map_err(in_env)?;
        let parsed: Config =
            toml::Value::Table(table.clone())
                .try_into()
                .map_err(|err: toml::de::Error| {
                    in_env(format!("{} ({})", err.message(), one.path.join(".")))
                })?;
        config = Some(parsed);
    }
    match config {
        Some(config) => Ok(config),
        None => toml::from_str(text).map_err(|err| invalid(err.to_string())),
    }
}

/// The names of the configuration's top-level keys and sections.
fn top_level_keys() -> Vec<String> {
    match toml::Value::try_from(schema_sample()) {
        Ok(toml::Value::Table(table)) => table.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The defaults with every optional key present, so each key's type can be looked up.
fn schema_sample() -> Config {
    let mut sample = Config::default();
    sample.http.public_url = Some(String::new());
    sample.http.metrics_token = Some(String::new());
    sample.tls.cert = Some(std::path::PathBuf::new());
    sample.tls.key = Some(std::path::PathBuf::new());
    sample.auth.secret = Some(String::new());
    sample.auth.development = Some(false);
    sample.turn.secret = Some(String::new());
    sample.waiting.hold_audio = Some(std::path::PathBuf::new());
    sample.waiting.prompts_dir = Some(std::path::PathBuf::new());
    sample.oidc = Some(super::OidcConfig {
        issuer: String::new(),
        client_id: String::new(),
        client_secret: Some(String::new()),
        client_secret_file: Some(std::path::PathBuf::new()),
        scopes: Vec::new(),
        subject_claim: String::new(),
        name_claim: String::new(),
        roles_claim: String::new(),
        roles: super::OidcRoles::default(),
        services_claim: Some(String::new()),
        ca_file: Some(std::path::PathBuf::new()),
        button: String::new(),
    });
    sample
}

/// A string key keeps the raw text; any other key reads it as a TOML value (`8`, `true`,
/// `["1.2.3.4"]`), falling back to a string when it is not one.
fn typed_value(defaults: &toml::Value, path: &[String], raw: &str) -> toml::Value {
    let mut at = Some(defaults);
    for key in path {
        at = at.and_then(|value| value.get(key));
    }
    if let Some(toml::Value::String(_)) = at {
        return toml::Value::String(raw.to_owned());
    }
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut table| table.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn insert(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("no key in the variable name".to_owned());
    };
    let mut at = table;
    for (depth, key) in parents.iter().enumerate() {
        let entry = at
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        at = match entry {
            toml::Value::Table(inner) => inner,
            _ => {
                return Err(format!(
                    "`{}` is not a section and cannot be overridden key by key",
                    path[..=depth].join(".")
                ));
            }
        };
    }
    at.insert(last.clone(), value);
    Ok(())
}
