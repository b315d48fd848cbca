//! Text and JSON renderings of connections and connection tests. Nothing here can print a
//! secret: the API never returns one.

use std::io::Write;

use airlock_proto::{Connection, TestConnectionResponse};
use serde_json::{Value, json};

fn auth_name(c: &Connection) -> &'static str {
    c.auth_method()
        .as_str_name()
        .trim_start_matches("AUTH_METHOD_")
}

/// Prints connections as a table.
pub fn print_list(out: &mut dyn Write, list: &[Connection]) -> std::io::Result<()> {
    let h = ["ID", "NAME", "AUTH", "ORGANIZATION", "CREATED"];
    writeln!(
        out,
        "{:<36}  {:<24}  {:<13}  {:<30}  {}",
        h[0], h[1], h[2], h[3], h[4]
    )?;
    for c in list {
        writeln!(
            out,
            "{:<36}  {:<24}  {:<13}  {:<30}  {}",
            c.connection_id,
            c.instance_name,
            auth_name(c),
            c.organization,
            ts(&c.create_time)
        )?;
    }
    Ok(())
}

/// A connection as JSON, with any warnings.
pub fn connection_json(c: &Connection, warnings: &[String]) -> Value {
    let env = c.environment.clone().unwrap_or_default();
    let certificate = c.certificate.as_ref().map(|cert| {
        json!({
            "subject": cert.subject,
            "issuer": cert.issuer,
            "sha1_thumbprint": cert.sha1_thumbprint,
            "sha256_thumbprint": cert.sha256_thumbprint,
            "serial_number": cert.serial_number,
            "not_before": ts(&cert.not_before),
            "not_after": ts(&cert.not_after),
            "key_bits": cert.key_bits,
            "assertion_algorithm": cert.assertion_algorithm().as_str_name().trim_start_matches("ASSERTION_ALGORITHM_"),
        })
    });
    json!({
        "connection_id": c.connection_id,
        "instance_name": c.instance_name,
        "tenant_id": c.tenant_id,
        "app_id": c.app_id,
        "organization": c.organization,
        "auth_method": auth_name(c),
        "authority_host": env.authority_host,
        "exchange_host": env.exchange_host,
        "certificate": certificate,
        "create_time": ts(&c.create_time),
        "update_time": ts(&c.update_time),
        "credential_rotate_time": ts(&c.credential_rotate_time),
        "version": c.version,
        "warnings": warnings,
    })
}

/// Connections as a JSON array.
pub fn list_json(list: &[Connection]) -> Value {
    Value::Array(list.iter().map(|c| connection_json(c, &[])).collect())
}

/// A connection test as JSON.
pub fn test_json(t: &TestConnectionResponse) -> Value {
    let steps: Vec<Value> = t
        .steps
        .iter()
        .map(|s| json!({"name": s.name, "ok": s.ok, "elapsed_ms": millis(&s.elapsed)}))
        .collect();
    let error = t.error.as_ref().map(|e| {
        json!({
            "code": airlock_proto::ErrorCode::try_from(e.code).map(|c| c.reason()).unwrap_or("UNKNOWN"),
            "message": e.message,
            "remediation": e.remediation,
            "retryable": e.retryable,
            "metadata": e.metadata,
        })
    });
    json!({"ok": t.ok, "steps": steps, "error": error, "exchange_organization": t.exchange_organization})
}

fn millis(d: &Option<prost_types::Duration>) -> i64 {
    d.as_ref()
        .map_or(0, |d| d.seconds * 1000 + i64::from(d.nanos) / 1_000_000)
}

/// Prints a connection as aligned `key: value` lines.
pub fn print_connection(out: &mut dyn Write, c: &Connection) -> std::io::Result<()> {
    let env = c.environment.clone().unwrap_or_default();
    writeln!(out, "id:            {}", c.connection_id)?;
    writeln!(out, "name:          {}", c.instance_name)?;
    writeln!(out, "tenant:        {}", c.tenant_id)?;
    writeln!(out, "app:           {}", c.app_id)?;
    writeln!(out, "organization:  {}", c.organization)?;
    writeln!(
        out,
        "auth method:   {}",
        c.auth_method()
            .as_str_name()
            .trim_start_matches("AUTH_METHOD_")
    )?;
    writeln!(out, "authority:     {}", env.authority_host)?;
    writeln!(out, "exchange:      {}", env.exchange_host)?;
    if let Some(cert) = &c.certificate {
        writeln!(
            out,
            "certificate:   {} ({} bits, {})",
            cert.subject,
            cert.key_bits,
            cert.assertion_algorithm()
                .as_str_name()
                .trim_start_matches("ASSERTION_ALGORITHM_")
        )?;
        writeln!(out, "  sha1:        {}", cert.sha1_thumbprint)?;
        writeln!(out, "  sha256:      {}", cert.sha256_thumbprint)?;
        writeln!(
            out,
            "  valid:       {} .. {}",
            ts(&cert.not_before),
            ts(&cert.not_after)
        )?;
    }
    writeln!(out, "created:       {}", ts(&c.create_time))?;
    writeln!(out, "rotated:       {}", ts(&c.credential_rotate_time))?;
    writeln!(out, "version:       {}", c.version)
}

/// Formats a protobuf timestamp as RFC 3339 (UTC).
pub fn ts(t: &Option<prost_types::Timestamp>) -> String {
    let Some(t) = t else { return "-".into() };
    time::OffsetDateTime::from_unix_timestamp(t.seconds)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".into())
}

/// Prints a TestConnection diagnosis; returns whether the connection works.
pub fn print_test(
    out: &mut dyn Write,
    resp: &airlock_proto::TestConnectionResponse,
) -> std::io::Result<bool> {
    for step in &resp.steps {
        let ms = step
            .elapsed
            .as_ref()
            .map_or(0, |d| d.seconds * 1000 + i64::from(d.nanos) / 1_000_000);
        writeln!(
            out,
            "  {:<9} {} ({ms} ms)",
            step.name,
            if step.ok { "ok" } else { "FAILED" }
        )?;
    }
    if resp.ok {
        writeln!(
            out,
            "  OK: Exchange organization {:?}",
            resp.exchange_organization
        )?;
    } else if let Some(err) = &resp.error {
        let code = airlock_proto::ErrorCode::try_from(err.code)
            .map(|c| c.reason())
            .unwrap_or("UNKNOWN");
        writeln!(out, "  {code}: {}", err.message)?;
        writeln!(out, "  remedy: {}", err.remediation)?;
        if err.retryable {
            writeln!(out, "  (retryable)")?;
        }
    }
    Ok(resp.ok)
}
