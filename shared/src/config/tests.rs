use std::collections::BTreeMap;

use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize, PartialEq)]
struct Demo {
    listen: String,
    #[serde(default)]
    reflection: bool,
    tls: Tls,
    #[serde(default)]
    limits: Limits,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Tls {
    ca: String,
    cert: String,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
struct Limits {
    #[serde(default)]
    max_jobs: u32,
}

impl Validate for Demo {
    fn validate(&self, problems: &mut Vec<String>) {
        if !self.listen.contains(':') {
            problems.push("listen: expected host:port".into());
        }
        if self.limits.max_jobs > 1000 {
            problems.push("limits.max_jobs: at most 1000".into());
        }
    }
}

const GOOD: &str = "listen = \"127.0.0.1:0\"\n[tls]\nca = \"ca.pem\"\ncert = \"c.pem\"\n";

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn loads_a_good_file() {
    let d: Demo = load_str(GOOD, "demo.toml", "AIRLOCK_DEMO", &env(&[])).unwrap();
    assert_eq!(d.listen, "127.0.0.1:0");
    assert!(!d.reflection);
}

#[test]
fn environment_overrides_nested_keys_with_typed_values() {
    let e = env(&[
        ("AIRLOCK_DEMO__TLS__CA", "/etc/airlock/ca.pem"),
        ("AIRLOCK_DEMO__REFLECTION", "true"),
        ("AIRLOCK_DEMO__LIMITS__MAX_JOBS", "12"),
        ("OTHER__LISTEN", "ignored"),
    ]);
    let d: Demo = load_str(GOOD, "demo.toml", "AIRLOCK_DEMO", &e).unwrap();
    assert_eq!(d.tls.ca, "/etc/airlock/ca.pem");
    assert!(d.reflection);
    assert_eq!(d.limits.max_jobs, 12);
}

#[test]
fn unknown_keys_and_validation_problems_are_reported_together() {
    let text = "listen = \"nocolon\"\ncolour = 3\n[tls]\nca = \"a\"\ncert = \"b\"\nkey_file = \"k\"\n[limits]\nmax_jobs = 5000\n";
    let err = load_str::<Demo>(
        text,
        "demo.toml",
        "AIRLOCK_DEMO",
        &env(&[("AIRLOCK_DEMO__TYPO", "1")]),
    )
    .unwrap_err();
    let msg = err.to_string();
    for expected in [
        "colour: unknown key",
        "tls.key_file: unknown key",
        "typo: unknown key",
        "listen: expected host:port",
        "limits.max_jobs: at most 1000",
    ] {
        assert!(msg.contains(expected), "missing {expected:?} in:\n{msg}");
    }
    assert_eq!(err.problems.len(), 5, "{msg}");
}

#[test]
fn type_errors_name_the_key_and_syntax_errors_the_line() {
    let err = load_str::<Demo>(
        "listen = 5\n[tls]\nca = \"a\"\ncert = \"b\"\n",
        "d",
        "P",
        &env(&[]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("listen: invalid type"), "{err}");
    let err = load_str::<Demo>("listen = \"a:1\"\n[tls\n", "d", "P", &env(&[])).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    let err = load_str::<Demo>(GOOD, "d", "P", &env(&[("P__LISTEN__X", "1")])).unwrap_err();
    assert!(err.to_string().contains("P__LISTEN__X"), "{err}");
}
