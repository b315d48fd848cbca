use super::*;

fn id(s: &str) -> SpiffeId {
    SpiffeId::parse(s).unwrap()
}

fn default() -> RolePolicy {
    RolePolicy::parse(&default_policy_toml("airlock.local"), "default").unwrap()
}

#[test]
fn default_policy_gives_each_role_its_services() {
    let p = default();
    let allow = |who: &str, m: &str| matches!(p.authorize(&id(who), m), Decision::Allow { .. });
    assert!(allow(
        "spiffe://airlock.local/admin/alice",
        "airlock.v1.ConnectionAdminService/CreateConnection"
    ));
    assert!(allow(
        "spiffe://airlock.local/admin/alice",
        "airlock.v1.AuditService/AuditHash"
    ));
    assert!(!allow(
        "spiffe://airlock.local/admin/alice",
        "airlock.v1.TokenBrokerService/AcquireToken"
    ));
    assert!(allow(
        "spiffe://airlock.local/orchestrator/main",
        "airlock.v1.SessionBrokerService/MintSession"
    ));
    assert!(allow(
        "spiffe://airlock.local/orchestrator/main",
        "airlock.v1.WorkerService/RunJob"
    ));
    assert!(!allow(
        "spiffe://airlock.local/orchestrator/main",
        "airlock.v1.ConnectionAdminService/GetConnection"
    ));
    assert!(allow(
        "spiffe://airlock.local/worker/worker-1",
        "airlock.v1.TokenBrokerService/AcquireToken"
    ));
    assert!(!allow(
        "spiffe://airlock.local/worker/worker-1",
        "airlock.v1.ConnectionAdminService/CreateConnection"
    ));
    assert!(!allow(
        "spiffe://airlock.local/worker/worker-1",
        "airlock.v1.SessionBrokerService/MintSession"
    ));
    assert!(allow(
        "spiffe://airlock.local/worker/worker-1",
        "grpc.health.v1.Health/Check"
    ));
}

#[test]
fn default_deny_for_unknown_callers_and_methods() {
    let p = default();
    // Another trust domain, a deeper path, an unknown role prefix.
    for who in [
        "spiffe://evil.local/admin/alice",
        "spiffe://airlock.local/admin/alice/extra",
        "spiffe://airlock.local/intruder/x",
    ] {
        assert_eq!(
            p.authorize(&id(who), "grpc.health.v1.Health/Check"),
            Decision::Deny { roles: vec![] },
            "{who}"
        );
    }
    assert_eq!(
        p.authorize(
            &id("spiffe://airlock.local/worker/w"),
            "airlock.v1.TokenBrokerService/Other"
        ),
        Decision::Deny {
            roles: vec!["worker".into()]
        }
    );
    assert!(matches!(
        p.authorize(&id("spiffe://airlock.local/admin/a"), "no-slash"),
        Decision::Deny { .. }
    ));
}

#[test]
fn double_star_matches_the_rest() {
    let p = RolePolicy::parse(
        "[roles.ops]\nidentities = [\"spiffe://td/ops/**\"]\nmethods = [\"a.B/*\"]\n",
        "t",
    )
    .unwrap();
    assert!(matches!(
        p.authorize(&id("spiffe://td/ops/eu/alice"), "a.B/C"),
        Decision::Allow { .. }
    ));
    assert!(matches!(
        p.authorize(&id("spiffe://td/ops/alice"), "a.B/C"),
        Decision::Allow { .. }
    ));
    assert!(matches!(
        p.authorize(&id("spiffe://td/other/alice"), "a.B/C"),
        Decision::Deny { .. }
    ));
}

#[test]
fn syntax_error_names_the_line() {
    let text = "[roles.admin]\nidentities = [\"spiffe://td/admin/*\"]\nmethods = [\"a.B/*\"\n";
    let err = RolePolicy::parse(text, "p.toml").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("p.toml"), "{msg}");
    assert!(msg.contains("line 3") || msg.contains("line 4"), "{msg}");
}

#[test]
fn unknown_key_names_the_line() {
    let text = "[roles.admin]\nidentities = [\"spiffe://td/admin/*\"]\nmethods = [\"a.B/*\"]\nmethod = [\"x.Y/*\"]\n";
    let msg = RolePolicy::parse(text, "p.toml").unwrap_err().to_string();
    assert!(msg.contains("line 4"), "{msg}");
    assert!(msg.contains("method"), "{msg}");

    let text = "colour = 1\n[roles.admin]\nidentities = [\"spiffe://td/admin/*\"]\nmethods = [\"a.B/*\"]\n";
    let msg = RolePolicy::parse(text, "p.toml").unwrap_err().to_string();
    assert!(msg.contains("line 1") && msg.contains("colour"), "{msg}");
}

#[test]
fn bad_patterns_are_all_reported_with_lines() {
    let text = "[roles.admin]\nidentities = [\n  \"https://td/admin/*\",\n  \"spiffe://*/admin\",\n]\nmethods = [\n  \"/a.B/C\",\n  \"*\",\n  \"a.B/C.D\",\n]\n";
    let err = RolePolicy::parse(text, "p.toml").unwrap_err();
    assert_eq!(err.problems.len(), 5, "{err}");
    for (problem, line) in err.problems.iter().zip([3, 4, 7, 8, 9]) {
        assert!(problem.starts_with(&format!("line {line}:")), "{problem}");
    }
}

#[test]
fn empty_policy_is_refused() {
    assert!(RolePolicy::parse("[roles]\n", "p").is_err());
    assert!(RolePolicy::parse("[roles.x]\nidentities = []\nmethods = []\n", "p").is_err());
}
