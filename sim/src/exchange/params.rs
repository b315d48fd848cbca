//! Cmdlet parameters as the gateway receives them (reference §1.3): case-insensitive names,
//! JSON booleans for switches, arrays, `#Exchange.GenericHashTable` add/remove objects and
//! `null` to clear.

use serde_json::{Map, Value};

use super::envelope::CmdletError;

/// PowerShell common parameters every cmdlet accepts.
const COMMON: &[&str] = &[
    "ErrorAction",
    "WarningAction",
    "InformationAction",
    "Verbose",
    "Debug",
    "ErrorVariable",
    "WarningVariable",
    "InformationVariable",
    "OutVariable",
    "OutBuffer",
    "PipelineVariable",
    "Confirm",
    "WhatIf",
];

/// A multi-valued property update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MultiUpdate {
    /// `null`: clear the property.
    Clear,
    /// An array (or single value): overwrite.
    Replace(Vec<String>),
    /// A GenericHashTable with `Add` and/or `Remove`.
    AddRemove {
        add: Vec<String>,
        remove: Vec<String>,
    },
}

/// The `Parameters` object of one call.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    map: Map<String, Value>,
}

fn as_strings(name: &str, v: &Value) -> Result<Vec<String>, CmdletError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Number(n) => Ok(vec![n.to_string()]),
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(CmdletError::invalid_value(
                    name,
                    "Array elements must be strings.",
                )),
            })
            .collect(),
        _ => Err(CmdletError::invalid_value(
            name,
            "Expected a string or an array of strings.",
        )),
    }
}

impl Params {
    /// Wrap the JSON `Parameters` object (`null`/absent is empty).
    pub(crate) fn new(v: Option<&Value>) -> Result<Params, CmdletError> {
        match v {
            None | Some(Value::Null) => Ok(Params::default()),
            Some(Value::Object(m)) => Ok(Params { map: m.clone() }),
            Some(_) => Err(CmdletError::invalid_value(
                "Parameters",
                "Parameters must be an object.",
            )),
        }
    }

    /// Reject any parameter that is neither in `allowed` nor common (annotations are ignored).
    pub(crate) fn check_names(
        &self,
        allowed: &[&str],
        mandatory: &[&str],
    ) -> Result<(), CmdletError> {
        for k in self.map.keys() {
            if k.contains('@') {
                continue;
            }
            let known = allowed
                .iter()
                .chain(COMMON)
                .any(|a| a.eq_ignore_ascii_case(k));
            if !known {
                return Err(CmdletError::unknown_parameter(k));
            }
        }
        let missing: Vec<&str> = mandatory
            .iter()
            .copied()
            .filter(|m| self.raw(m).is_none_or(Value::is_null))
            .collect();
        if !missing.is_empty() {
            return Err(CmdletError::missing_parameters(&missing.join(", ")));
        }
        Ok(())
    }

    fn raw(&self, name: &str) -> Option<&Value> {
        self.map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Whether the parameter was sent at all (even as `null`).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    /// A string parameter; `Ok(None)` when absent or `null`.
    pub(crate) fn string(&self, name: &str) -> Result<Option<String>, CmdletError> {
        match self.raw(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(if *b { "True" } else { "False" }.to_owned())),
            Some(_) => Err(CmdletError::invalid_value(name, "Expected a single value.")),
        }
    }

    /// A mandatory string parameter (presence already checked).
    pub(crate) fn required(&self, name: &str) -> Result<String, CmdletError> {
        self.string(name)?
            .ok_or_else(|| CmdletError::missing_parameters(name))
    }

    /// A boolean or switch parameter (JSON bool, or `"True"`/`"$true"` strings).
    pub(crate) fn boolean(&self, name: &str) -> Result<Option<bool>, CmdletError> {
        match self.raw(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.trim_start_matches('$').to_ascii_lowercase().as_str()
            {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(CmdletError::invalid_value(
                    name,
                    &format!("Cannot convert value \"{s}\" to type \"System.Boolean\"."),
                )),
            },
            Some(_) => Err(CmdletError::invalid_value(name, "Expected a boolean.")),
        }
    }

    /// A multi-valued parameter as a plain list (array or single value).
    pub(crate) fn list(&self, name: &str) -> Result<Option<Vec<String>>, CmdletError> {
        match self.raw(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => as_strings(name, v).map(Some),
        }
    }

    /// A multi-valued property update: `null`, array/value, or GenericHashTable add/remove.
    pub(crate) fn multi(&self, name: &str) -> Result<Option<MultiUpdate>, CmdletError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(MultiUpdate::Clear)),
            Some(Value::Object(m)) => {
                let mut add = Vec::new();
                let mut remove = Vec::new();
                for (k, v) in m {
                    if k.eq_ignore_ascii_case("add") {
                        add = as_strings(name, v)?;
                    } else if k.eq_ignore_ascii_case("remove") {
                        remove = as_strings(name, v)?;
                    } else if !k.starts_with('@') {
                        return Err(CmdletError::invalid_value(
                            name,
                            &format!(
                                "The hashtable key '{k}' is not valid. Use 'Add' or 'Remove'."
                            ),
                        ));
                    }
                }
                Ok(Some(MultiUpdate::AddRemove { add, remove }))
            }
            Some(v) => as_strings(name, v).map(|l| Some(MultiUpdate::Replace(l))),
        }
    }

    /// `ResultSize`: an int or `"Unlimited"`; default 1000. `(limit, was_given)`.
    pub(crate) fn result_size(&self) -> Result<(Option<usize>, bool), CmdletError> {
        match self.raw("ResultSize") {
            None | Some(Value::Null) => Ok((Some(1000), false)),
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|x| usize::try_from(x).ok())
                .map(|x| (Some(x), true))
                .ok_or_else(|| {
                    CmdletError::invalid_value("ResultSize", "Expected a positive number.")
                }),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("unlimited") => Ok((None, true)),
            Some(Value::String(s)) => s.parse::<usize>().map(|x| (Some(x), true)).map_err(|_| {
                CmdletError::invalid_value("ResultSize", "Expected a number or 'Unlimited'.")
            }),
            Some(_) => Err(CmdletError::invalid_value(
                "ResultSize",
                "Expected a number or 'Unlimited'.",
            )),
        }
    }
}

/// Apply a multi-valued update to a list of resolved values (dedup, case-insensitive).
pub(crate) fn apply_multi<T: PartialEq + Clone>(current: &[T], update: &Update<T>) -> Vec<T> {
    match update {
        Update::Clear => Vec::new(),
        Update::Replace(v) => dedup(v),
        Update::AddRemove { add, remove } => {
            let mut out: Vec<T> = current
                .iter()
                .filter(|x| !remove.contains(x))
                .cloned()
                .collect();
            for a in add {
                if !out.contains(a) {
                    out.push(a.clone());
                }
            }
            out
        }
    }
}

fn dedup<T: PartialEq + Clone>(v: &[T]) -> Vec<T> {
    let mut out = Vec::new();
    for x in v {
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    out
}

/// A [`MultiUpdate`] whose values were resolved to directory objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Update<T> {
    Clear,
    Replace(Vec<T>),
    AddRemove { add: Vec<T>, remove: Vec<T> },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(v: serde_json::Value) -> Params {
        Params::new(Some(&v)).unwrap()
    }

    #[test]
    fn names_are_case_insensitive_and_checked() {
        let params = p(
            json!({"identity": "x", "ErrorAction": "Stop", "Members@odata.type": "#Collection(String)"}),
        );
        assert_eq!(params.required("Identity").unwrap(), "x");
        params.check_names(&["Identity"], &["Identity"]).unwrap();
        let e = p(json!({"Nope": 1}))
            .check_names(&["Identity"], &[])
            .unwrap_err();
        assert_eq!(
            e.text,
            "A parameter cannot be found that matches parameter name 'Nope'."
        );
        let e = p(json!({"Identity": null}))
            .check_names(&["Identity"], &["Identity"])
            .unwrap_err();
        assert!(e.text.contains("missing mandatory parameters: Identity"));
    }

    #[test]
    fn multi_valued_encodings() {
        let params = p(json!({
            "A": ["x", "y"], "B": "z", "C": null,
            "D": {"@odata.type": "#Exchange.GenericHashTable", "Add": "a", "remove": ["b"]},
            "E": {"Replace": ["q"]}
        }));
        assert_eq!(
            params.multi("A").unwrap(),
            Some(MultiUpdate::Replace(vec!["x".into(), "y".into()]))
        );
        assert_eq!(
            params.multi("B").unwrap(),
            Some(MultiUpdate::Replace(vec!["z".into()]))
        );
        assert_eq!(params.multi("C").unwrap(), Some(MultiUpdate::Clear));
        assert_eq!(
            params.multi("D").unwrap(),
            Some(MultiUpdate::AddRemove {
                add: vec!["a".into()],
                remove: vec!["b".into()]
            })
        );
        assert!(params.multi("E").is_err());
        assert_eq!(params.multi("Missing").unwrap(), None);
    }

    #[test]
    fn switches_and_result_size() {
        let params = p(json!({"A": true, "B": "$false", "C": "maybe", "ResultSize": "unlimited"}));
        assert_eq!(params.boolean("A").unwrap(), Some(true));
        assert_eq!(params.boolean("B").unwrap(), Some(false));
        assert!(params.boolean("C").is_err());
        assert_eq!(params.result_size().unwrap(), (None, true));
        assert_eq!(p(json!({})).result_size().unwrap(), (Some(1000), false));
        assert_eq!(
            p(json!({"ResultSize": 5})).result_size().unwrap(),
            (Some(5), true)
        );
    }

    #[test]
    fn apply_updates() {
        let cur = vec![1, 2, 3];
        assert_eq!(
            apply_multi(
                &cur,
                &Update::AddRemove {
                    add: vec![4, 1],
                    remove: vec![2]
                }
            ),
            vec![1, 3, 4]
        );
        assert_eq!(apply_multi(&cur, &Update::Replace(vec![5, 5])), vec![5]);
        assert!(apply_multi(&cur, &Update::Clear).is_empty());
    }
}
