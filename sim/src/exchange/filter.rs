//! A small OPATH subset for `-Filter`: `Prop -eq|-ne|-like|-notlike 'value'` clauses joined by
//! `-and` / `-or` (no nesting beyond an outer pair of parentheses), evaluated against the
//! rendered output object.

use serde_json::Value;

use super::envelope::CmdletError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Like,
    NotLike,
}

#[derive(Debug, Clone)]
struct Clause {
    prop: String,
    op: Op,
    value: Option<String>,
}

/// A parsed filter: OR of ANDs.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    any: Vec<Vec<Clause>>,
}

fn invalid(filter: &str) -> CmdletError {
    CmdletError::invalid_value(
        "Filter",
        &format!(
            "Invalid filter syntax. For a description of the filter parameter syntax see the command help. \"{filter}\""
        ),
    )
}

fn split_ci<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    let lower = s.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(pos) = lower[start..].find(sep) {
        out.push(&s[start..start + pos]);
        start += pos + sep.len();
    }
    out.push(&s[start..]);
    out
}

/// Strip one pair of parentheses enclosing the whole text (not `(a) -and (b)`).
fn strip_parens(s: &str) -> &str {
    let t = s.trim();
    if !t.starts_with('(') || !t.ends_with(')') {
        return t;
    }
    let mut depth = 0i32;
    for (i, c) in t.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth == 0 && i + 1 < t.len() {
            return t;
        }
    }
    t[1..t.len() - 1].trim()
}

fn parse_clause(text: &str, whole: &str) -> Result<Clause, CmdletError> {
    let text = strip_parens(text);
    let mut parts = text
        .splitn(3, char::is_whitespace)
        .filter(|p| !p.is_empty());
    let (Some(prop), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid(whole));
    };
    let op = match op.to_ascii_lowercase().as_str() {
        "-eq" => Op::Eq,
        "-ne" => Op::Ne,
        "-like" => Op::Like,
        "-notlike" => Op::NotLike,
        _ => return Err(invalid(whole)),
    };
    let value = value.trim();
    let value = match value.to_ascii_lowercase().as_str() {
        "$null" => None,
        "$true" => Some("True".to_owned()),
        "$false" => Some("False".to_owned()),
        _ => {
            let unq = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .or_else(|| value.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
                .ok_or_else(|| invalid(whole))?;
            Some(unq.to_owned())
        }
    };
    Ok(Clause {
        prop: prop.to_owned(),
        op,
        value,
    })
}

impl Filter {
    /// Parse an OPATH filter string.
    pub(crate) fn parse(s: &str) -> Result<Filter, CmdletError> {
        let body = strip_parens(s.trim().trim_start_matches('{').trim_end_matches('}'));
        let any = split_ci(body, " -or ")
            .into_iter()
            .map(|conj| {
                split_ci(conj, " -and ")
                    .into_iter()
                    .map(|c| parse_clause(c, s))
                    .collect()
            })
            .collect::<Result<_, _>>()?;
        Ok(Filter { any })
    }

    /// Whether an output object matches.
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.any
            .iter()
            .any(|all| all.iter().all(|c| clause_matches(c, obj)))
    }
}

fn like(pattern: &str, text: &str) -> bool {
    let p = pattern.to_ascii_lowercase();
    let t = text.to_ascii_lowercase();
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == t;
    }
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            if !t.starts_with(part) {
                return false;
            }
            pos = part.len();
        } else if i == parts.len() - 1 {
            return t.len() >= pos + part.len() && t.ends_with(part);
        } else if let Some(found) = t[pos..].find(part) {
            pos += found + part.len();
        } else {
            return false;
        }
    }
    true
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn clause_matches(c: &Clause, obj: &Value) -> bool {
    let field = obj.as_object().and_then(|o| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&c.prop))
            .map(|(_, v)| v)
    });
    let values: Vec<Option<String>> = match field {
        Some(Value::Array(a)) => a.iter().map(scalar).collect(),
        Some(v) => vec![scalar(v)],
        None => vec![None],
    };
    let hit = |v: &Option<String>| match (&c.value, v) {
        (None, None) => true,
        (Some(want), Some(have)) => match c.op {
            Op::Like | Op::NotLike => like(want, have),
            _ => want.eq_ignore_ascii_case(have),
        },
        _ => false,
    };
    let any = values.iter().any(hit);
    match c.op {
        Op::Eq | Op::Like => any,
        Op::Ne | Op::NotLike => !any,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters() {
        let o = json!({"Name": "Alex Wilber", "RecipientTypeDetails": "UserMailbox", "HiddenFromAddressListsEnabled": false, "EmailAddresses": ["SMTP:a@x", "smtp:b@y"]});
        assert!(Filter::parse("Name -eq 'alex wilber'").unwrap().matches(&o));
        assert!(
            Filter::parse("(Name -like 'Alex*') -and (RecipientTypeDetails -eq 'UserMailbox')")
                .unwrap()
                .matches(&o)
        );
        assert!(
            Filter::parse("HiddenFromAddressListsEnabled -eq $false")
                .unwrap()
                .matches(&o)
        );
        assert!(
            Filter::parse("EmailAddresses -like '*@y'")
                .unwrap()
                .matches(&o)
        );
        assert!(
            !Filter::parse("Name -ne 'Alex Wilber' -or Name -eq 'x'")
                .unwrap()
                .matches(&o)
        );
        assert!(Filter::parse("Name = 'x'").is_err());
    }
}
