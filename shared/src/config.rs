//! Configuration loading: TOML files with environment overrides, pure parsing into typed
//! structs, unknown keys rejected, and every problem reported at once.
//!
//! Overrides: an environment variable `{PREFIX}__{KEY}__{SUBKEY}` (double underscores separate
//! table levels; keys are matched case-insensitively and `_` inside a key is kept) replaces
//! `key.subkey`. Values are read as TOML when they parse (`8`, `true`, `["a","b"]`) and as a
//! string otherwise. Secrets never come from here: configs name files that hold them.

use std::{collections::BTreeMap, fmt, path::Path};

use serde::de::DeserializeOwned;

/// Semantic checks a config type runs after parsing. Push one message per problem, naming
/// the key (`tls.ca: file does not exist`).
pub trait Validate {
    /// Appends every problem found.
    fn validate(&self, problems: &mut Vec<String>);
}

/// Where environment variables come from: the process, or a map in tests.
pub trait EnvSource {
    /// All `(name, value)` pairs.
    fn vars(&self) -> Vec<(String, String)>;
}

/// The real process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn vars(&self) -> Vec<(String, String)> {
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect()
    }
}

impl EnvSource for BTreeMap<String, String> {
    fn vars(&self) -> Vec<(String, String)> {
        self.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// A configuration that could not be loaded: every problem, each naming its key or line.
#[derive(Debug)]
pub struct ConfigError {
    /// The file (or label).
    pub origin: String,
    /// The problems.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration {} is invalid:", self.origin)?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Loads `path`, applies `{env_prefix}__…` overrides from the process environment, parses into
/// `T` and validates it.
pub fn load<T: DeserializeOwned + Validate>(
    path: &Path,
    env_prefix: &str,
) -> Result<T, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        origin: origin.clone(),
        problems: vec![format!("cannot read the file: {e}")],
    })?;
    load_str(&text, &origin, env_prefix, &ProcessEnv)
}

/// [`load`] from text, with an explicit environment (for tests).
pub fn load_str<T: DeserializeOwned + Validate>(
    text: &str,
    origin: &str,
    env_prefix: &str,
    env: &dyn EnvSource,
) -> Result<T, ConfigError> {
    let fail = |problems| ConfigError {
        origin: origin.to_owned(),
        problems,
    };
    let mut table: toml::Table =
        toml::from_str(text).map_err(|e| fail(vec![syntax_error(text, &e)]))?;
    let mut problems = Vec::new();
    apply_env(&mut table, env_prefix, env, &mut problems);

    let mut unknown = Vec::new();
    let mut on_unknown = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    let value = toml::Value::Table(table);
    let parsed: Result<T, _> =
        serde_path_to_error::deserialize(serde_ignored::Deserializer::new(value, &mut on_unknown));
    for key in unknown {
        problems.push(format!(
            "{key}: unknown key (check the spelling; see the example config)"
        ));
    }
    match parsed {
        Ok(config) => {
            config.validate(&mut problems);
            if problems.is_empty() {
                Ok(config)
            } else {
                Err(fail(problems))
            }
        }
        Err(e) => {
            let path = e.path().to_string();
            let at = if path == "." {
                String::new()
            } else {
                format!("{path}: ")
            };
            problems.push(format!("{at}{}", e.inner()));
            Err(fail(problems))
        }
    }
}

fn syntax_error(text: &str, e: &toml::de::Error) -> String {
    let first = e
        .message()
        .lines()
        .next()
        .unwrap_or("invalid TOML")
        .to_owned();
    match e.span() {
        Some(span) => {
            let line = text.as_bytes()[..span.start.min(text.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            format!("line {line}: {first}")
        }
        None => first,
    }
}

fn apply_env(
    table: &mut toml::Table,
    prefix: &str,
    env: &dyn EnvSource,
    problems: &mut Vec<String>,
) {
    let head = format!("{prefix}__");
    let mut vars = env.vars();
    vars.sort();
    for (name, raw) in vars {
        let Some(path) = name.strip_prefix(&head) else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(str::to_lowercase).collect();
        if keys.iter().any(String::is_empty) {
            problems.push(format!("environment variable {name}: empty key segment"));
            continue;
        }
        let value = parse_env_value(&raw);
        if let Err(why) = set_path(table, &keys, value) {
            problems.push(format!("environment variable {name}: {why}"));
        }
    }
}

fn parse_env_value(raw: &str) -> toml::Value {
    let probe = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&probe) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    let Some((last, parents)) = keys.split_last() else {
        return Err("no key".into());
    };
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| format!("{key} is not a table"))?;
    }
    current.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests;
