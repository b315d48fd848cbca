//! Every audit event name the proxy writes. `docs/audit-events.md` documents each one; a test
//! checks the document against [`ALL`].

/// The proxy opened its audit log and is about to serve.
pub const PROXY_STARTED: &str = "proxy.started";
/// The proxy stopped serving (last event before the writer closes).
pub const PROXY_STOPPED: &str = "proxy.stopped";
/// ConnectionAdmin.CreateConnection.
pub const CONNECTION_CREATE: &str = "connection.create";
/// ConnectionAdmin.UpdateConnection.
pub const CONNECTION_UPDATE: &str = "connection.update";
/// ConnectionAdmin.RotateCredential.
pub const CONNECTION_ROTATE: &str = "connection.rotate";
/// ConnectionAdmin.DeleteConnection.
pub const CONNECTION_DELETE: &str = "connection.delete";
/// ConnectionAdmin.TestConnection.
pub const CONNECTION_TEST: &str = "connection.test";
/// SessionBroker.MintSession.
pub const SESSION_MINTED: &str = "session.minted";
/// SessionBroker.RevokeSession.
pub const SESSION_REVOKED: &str = "session.revoked";
/// TokenBroker.AcquireToken handed out a token.
pub const TOKEN_ISSUED: &str = "token.issued";
/// TokenBroker.AcquireToken refused a handle.
pub const TOKEN_DENIED: &str = "token.denied";
/// TokenBroker.AcquireToken could not get a token from Entra ID.
pub const TOKEN_ERROR: &str = "token.error";
/// The role policy refused a call.
pub const ACCESS_DENIED: &str = "access.denied";
/// A client's mTLS handshake failed.
pub const TLS_HANDSHAKE_FAILED: &str = "tls.handshake_failed";
/// AuditService.AuditHash.
pub const AUDIT_HASH: &str = "audit.hash";
/// Events written only after their callers were refused (a sink blocked past the deadline).
pub const AUDIT_LATE: &str = "audit.late";

/// All of them, in the order of the catalogue.
pub const ALL: &[&str] = &[
    PROXY_STARTED,
    PROXY_STOPPED,
    CONNECTION_CREATE,
    CONNECTION_UPDATE,
    CONNECTION_ROTATE,
    CONNECTION_DELETE,
    CONNECTION_TEST,
    SESSION_MINTED,
    SESSION_REVOKED,
    TOKEN_ISSUED,
    TOKEN_DENIED,
    TOKEN_ERROR,
    ACCESS_DENIED,
    TLS_HANDSHAKE_FAILED,
    AUDIT_HASH,
    AUDIT_LATE,
];

#[cfg(test)]
mod tests {
    /// docs/audit-events.md documents exactly these events, one `### \`name\`` heading each.
    #[test]
    fn the_catalogue_document_matches() {
        let doc = include_str!("../../../docs/audit-events.md");
        let documented: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("### `")?.strip_suffix('`'))
            .collect();
        assert_eq!(documented, super::ALL);
    }
}
