//! Paging (`Prefer: odata.maxpagesize`, absolute `@odata.nextLink` with `$skiptoken`) and
//! `$select`.

use std::collections::HashMap;

use http::HeaderMap;
use serde_json::Value;

/// `Prefer: odata.maxpagesize=N` (1–1000, default 1000).
fn page_size(headers: &HeaderMap) -> usize {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|p| p.trim().strip_prefix("odata.maxpagesize="))
        .filter_map(|n| n.trim().parse::<usize>().ok())
        .next()
        .unwrap_or(1000)
        .clamp(1, 1000)
}

/// Cut one page out of `items`; `link_base` is the absolute URL the nextLink builds on.
pub(crate) fn paginate(
    items: Vec<Value>,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    link_base: &str,
) -> (Vec<Value>, Option<String>) {
    let size = page_size(headers);
    let skip = query
        .get("$skiptoken")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(skip).take(size).collect();
    let next = (skip + size < total).then(|| {
        let mut link = format!("{link_base}?$skiptoken={}", skip + size);
        if let Some(sel) = query.get("$select") {
            link.push_str("&$select=");
            link.push_str(&form_urlencoded::byte_serialize(sel.as_bytes()).collect::<String>());
        }
        link
    });
    (page, next)
}

/// Apply `$select=A,B` (case-insensitive; annotations of selected properties are kept).
pub(crate) fn select(items: Vec<Value>, sel: Option<&String>) -> Vec<Value> {
    let Some(sel) = sel else { return items };
    let wanted: Vec<String> = sel
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    items
        .into_iter()
        .map(|v| match v {
            Value::Object(o) => Value::Object(
                o.into_iter()
                    .filter(|(k, _)| {
                        let base = k.split('@').next().unwrap_or(k).to_ascii_lowercase();
                        wanted.contains(&base)
                    })
                    .collect(),
            ),
            other => other,
        })
        .collect()
}
