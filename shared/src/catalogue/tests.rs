use super::*;

#[test]
fn every_code_converts_to_a_status_with_error_info_and_retry_info() {
    let mut seen = 0;
    for code in all_codes() {
        seen += 1;
        let entry = describe(code);
        assert_eq!(entry.code, code);
        assert!(
            !entry.message.is_empty() && !entry.remediation.is_empty(),
            "{code:?} lacks text"
        );

        let status = AirlockError::new(code, format!("detail for {}", code.reason()))
            .with_metadata("trace_id", "abc")
            .to_status();
        assert_eq!(status.code(), entry.grpc_code, "{code:?}");
        assert_eq!(status.message(), format!("detail for {}", code.reason()));

        let details = status.get_error_details();
        let info = details.error_info().expect("ErrorInfo present");
        assert_eq!(info.reason, code.reason());
        assert_eq!(info.domain, "airlock");
        assert_eq!(
            info.metadata.get("remediation").map(String::as_str),
            Some(entry.remediation)
        );
        assert_eq!(
            info.metadata.get("trace_id").map(String::as_str),
            Some("abc")
        );
        match (entry.retryable, details.retry_info()) {
            (true, Some(r)) => assert_eq!(r.retry_delay, entry.retry_delay, "{code:?}"),
            (false, None) => {}
            (retryable, info) => panic!("{code:?}: retryable={retryable} but RetryInfo={info:?}"),
        }

        let back = AirlockError::from_status(&status).expect("parses back");
        assert_eq!(back.code(), code);
        assert_eq!(back.remediation(), entry.remediation);
        assert_eq!(
            back.metadata().get("trace_id").map(String::as_str),
            Some("abc")
        );
    }
    assert_eq!(
        seen, 25,
        "a code was added to the proto: extend the catalogue and this count"
    );
}

#[test]
fn retry_after_overrides_the_default_delay_only_when_retryable() {
    let throttled =
        AirlockError::bare(ErrorCode::Throttled).with_retry_after(Duration::from_secs(7));
    assert_eq!(throttled.retry_delay(), Some(Duration::from_secs(7)));
    let status = throttled.to_status();
    assert_eq!(
        status
            .get_error_details()
            .retry_info()
            .and_then(|r| r.retry_delay),
        Some(Duration::from_secs(7))
    );
    let invalid =
        AirlockError::bare(ErrorCode::CredentialInvalid).with_retry_after(Duration::from_secs(7));
    assert_eq!(invalid.retry_delay(), None);
    assert!(
        invalid
            .to_status()
            .get_error_details()
            .retry_info()
            .is_none()
    );
}

#[test]
fn remediations_quote_the_troubleshooting_guide() {
    let quote = |code, text: &str| {
        let remedy = describe(code).remediation;
        assert!(
            remedy.contains(text),
            "{code:?} remedy does not quote {text:?}: {remedy}"
        );
    };
    quote(
        ErrorCode::CredentialInvalid,
        "Verify the secret hasn't expired in Azure AD → App registrations → Certificates & secrets",
    );
    quote(
        ErrorCode::CredentialInvalid,
        "Generate a new secret and update the integration",
    );
    quote(
        ErrorCode::AppNotFound,
        "Double-check the Application (client) ID from the app registration's Overview page",
    );
    quote(
        ErrorCode::AppNotFound,
        "Verify the Directory (tenant) ID matches your Azure AD tenant",
    );
    quote(
        ErrorCode::SpNotRegistered,
        "Complete Step 5 in the setup guide",
    );
    quote(ErrorCode::SpNotRegistered, "wait up to 30 minutes");
    quote(
        ErrorCode::RoleMissing,
        "Ensure admin consent was granted for the Exchange.ManageAsApp permission",
    );
    quote(
        ErrorCode::RoleMissing,
        "Get-ManagementRoleAssignment -RoleAssignee <object-id>",
    );
    quote(
        ErrorCode::PemInvalid,
        "both a BEGIN CERTIFICATE and a BEGIN PRIVATE KEY block",
    );
    quote(ErrorCode::PemInvalid, "cat cert.pem key.pem > combined.pem");
    quote(
        ErrorCode::CmdletUnavailable,
        "Exchange Online PowerShell module may not be available on the worker",
    );
}

#[test]
fn specific_remediation_and_detail_survive_the_round_trip() {
    let err = AirlockError::new(ErrorCode::PemInvalid, "PEM must contain a private key")
        .with_remediation("combine them");
    let back = AirlockError::from_status(&err.to_status()).unwrap();
    assert_eq!(back.detail(), "PEM must contain a private key");
    assert_eq!(back.remediation(), "combine them");
    let detail = err.to_detail();
    assert_eq!(detail.code, ErrorCode::PemInvalid as i32);
    assert!(!detail.retryable && detail.retry_delay.is_none());
}

#[test]
fn statuses_without_airlock_info_are_not_misread() {
    assert!(AirlockError::from_status(&Status::unavailable("connection refused")).is_none());
    let mut foreign = ErrorDetails::new();
    foreign.set_error_info("CREDENTIAL_INVALID", "example.com", HashMap::new());
    let status = Status::with_error_details(Code::Internal, "x", foreign);
    assert!(AirlockError::from_status(&status).is_none());
}

#[test]
fn metadata_values_are_bounded() {
    let err = AirlockError::bare(ErrorCode::Internal).with_metadata("k", "é".repeat(2000));
    assert!(err.metadata()["k"].len() <= 1024);
}
