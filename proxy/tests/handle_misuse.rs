//! Invariant 3 over the wire: the handle misuse matrix. Each misuse is refused with its own
//! code AND leaves exactly one `token.denied` event; a handle for A only ever yields A's token;
//! revocations survive a restart; the log never holds a handle or token value.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use airlock_proto as pb;
use airlock_proxy::sessions::handle::{self, Claims, HEADER_B64};
use airlock_shared::ErrorCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::server::*;

fn acquire(handle: &str) -> pb::AcquireTokenRequest {
    pb::AcquireTokenRequest {
        handle: handle.into(),
    }
}

/// `handle` with its payload replaced by `claims` (signature kept).
fn swap_payload(handle: &str, claims: &Claims) -> String {
    let sig = handle.rsplit_once('.').unwrap().1;
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{HEADER_B64}.{payload}.{sig}")
}

fn claims_of(handle: &str) -> Claims {
    let payload = handle.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misuse_matrix_is_denied_and_audited() {
    let env = Env::new(|c| c.sessions.clock_skew_secs = 0).await;
    let run = env.serve().await;
    let mut admin = env.admin(&run).await;
    let mut orch = env.orchestrator(&run).await;
    let mut w1 = env.worker(&run, W1).await;
    let mut w2 = env.worker(&run, W2).await;
    let a = env.connection(&mut admin).await;
    let b = env.connection(&mut admin).await;
    let c = env.connection(&mut admin).await;

    let good = orch
        .mint_session(mint(&a, "job-a", W1))
        .await
        .unwrap()
        .into_inner();
    let ok = w1
        .acquire_token(acquire(&good.handle))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.connection_id, a, "a handle for A yields A");
    assert_eq!(
        (ok.job_id.as_str(), ok.session_id.as_str()),
        ("job-a", good.session_id.as_str())
    );
    assert_eq!(ok.allowed_cmdlets, ["Get-Mailbox"]);
    assert_eq!(ok.tenant_id, common::TENANT);
    assert_eq!(ok.organization, "contoso.onmicrosoft.com");
    assert_eq!(ok.exchange_endpoint, env.sim.exchange());
    assert!(!ok.access_token.is_empty());

    // A for B: the signed payload cannot be re-pointed.
    let mut to_b = claims_of(&good.handle);
    to_b.conn = b.clone();
    let tampered_payload = swap_payload(&good.handle, &to_b);
    // Signature changed.
    let mut tampered_sig = good.handle.clone();
    let last = tampered_sig.pop().unwrap();
    tampered_sig.push(if last == 'A' { 'Q' } else { 'A' });
    // Another proxy's key.
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let foreign_key = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let foreign = handle::sign(&claims_of(&good.handle), &foreign_key);
    // Expired.
    let mut short = mint(&a, "job-exp", "");
    short.ttl = Some(prost_types::Duration {
        seconds: 1,
        nanos: 0,
    });
    let expired = orch.mint_session(short).await.unwrap().into_inner().handle;
    // Revoked.
    let revoked = orch
        .mint_session(mint(&a, "job-rev", ""))
        .await
        .unwrap()
        .into_inner();
    let r = orch
        .revoke_session(pb::RevokeSessionRequest {
            session_id: revoked.session_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(r.revoked);
    // Connection deleted.
    let on_c = orch
        .mint_session(mint(&c, "job-c", ""))
        .await
        .unwrap()
        .into_inner()
        .handle;
    let del = admin
        .delete_connection(pb::DeleteConnectionRequest {
            connection_id: c.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(del.revoked_sessions, 1);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;

    let cases = [
        (
            "tampered payload (A → B)",
            tampered_payload,
            W1,
            ErrorCode::HandleInvalid,
        ),
        (
            "tampered signature",
            tampered_sig,
            W1,
            ErrorCode::HandleInvalid,
        ),
        ("another proxy's key", foreign, W1, ErrorCode::HandleInvalid),
        (
            "garbage",
            "not.a.handle".to_owned(),
            W1,
            ErrorCode::HandleInvalid,
        ),
        ("expired", expired, W1, ErrorCode::HandleExpired),
        (
            "revoked",
            revoked.handle.clone(),
            W1,
            ErrorCode::HandleRevoked,
        ),
        ("connection deleted", on_c, W1, ErrorCode::HandleRevoked),
        (
            "wrong worker",
            good.handle.clone(),
            W2,
            ErrorCode::DeniedByPolicy,
        ),
    ];
    for (what, h, who, want) in &cases {
        let client = if *who == W1 { &mut w1 } else { &mut w2 };
        let err = client.acquire_token(acquire(h)).await.expect_err(what);
        assert_eq!(code(&err), *want, "{what}");
        let detail = airlock_shared::AirlockError::from_status(&err).unwrap();
        assert!(
            !err.message().contains(&b)
                && !detail.detail().contains(&b)
                && detail
                    .metadata()
                    .iter()
                    .all(|(k, v)| !k.contains(&b) && !v.contains(&b)),
            "{what}: the refusal names another connection"
        );
    }
    // The orchestrator may not redeem handles at all.
    let mut as_orch = airlock_proto::token_broker_service_client::TokenBrokerServiceClient::new(
        env.channel(&run, ORCH).await,
    );
    let err = as_orch
        .acquire_token(acquire(&good.handle))
        .await
        .unwrap_err();
    assert_eq!(code(&err), ErrorCode::DeniedByPolicy);

    // After a restart the revocation still holds; the good handle still works.
    drop((admin, orch, w1, w2, as_orch));
    run.stop().await.unwrap();
    let run = env.serve().await;
    let mut w1 = env.worker(&run, W1).await;
    let err = w1
        .acquire_token(acquire(&revoked.handle))
        .await
        .unwrap_err();
    assert_eq!(
        code(&err),
        ErrorCode::HandleRevoked,
        "revocation survives a restart"
    );
    w1.acquire_token(acquire(&good.handle)).await.unwrap();
    drop(w1);
    run.stop().await.unwrap();

    let records = env.records();
    let denied: Vec<_> = records
        .iter()
        .filter(|r| r.event == "token.denied")
        .collect();
    assert_eq!(denied.len(), cases.len() + 1, "one event per refusal");
    for (rec, (what, _, _, want)) in denied.iter().zip(&cases) {
        assert_eq!(rec.reason.as_deref(), Some(want.reason()), "{what}");
        assert!(
            rec.fingerprints["handle"].starts_with("hmac-sha256:"),
            "{what}"
        );
    }
    assert_eq!(
        denied[cases.len()].reason.as_deref(),
        Some("HANDLE_REVOKED")
    );
    // The refused bound handle names its session; forged ones name nothing they claim.
    assert_eq!(
        denied[7].session_id.as_deref(),
        Some(good.session_id.as_str())
    );
    assert!(denied[0].connection_id.is_none() && denied[2].session_id.is_none());
    assert_eq!(
        records.iter().filter(|r| r.event == "token.issued").count(),
        2
    );
    let access: Vec<_> = records
        .iter()
        .filter(|r| r.event == "access.denied")
        .collect();
    assert_eq!(access.len(), 1);
    assert_eq!(access[0].actor.spiffe_id.as_deref(), Some(ORCH));
    assert_eq!(
        records
            .iter()
            .filter(|r| r.event == "proxy.started")
            .count(),
        2
    );
    assert_eq!(
        records
            .iter()
            .filter(|r| r.event == "proxy.stopped")
            .count(),
        2
    );
    env.verify();
    let text = env.log_text();
    assert!(
        !text.contains(&good.handle),
        "a handle value reached the log"
    );
    assert!(
        !text.contains(&ok.access_token),
        "a token value reached the log"
    );
    let traces = String::from_utf8_lossy(&common::captured_logs().lock()).into_owned();
    assert!(
        !traces.contains(&good.handle),
        "a handle reached the trace log"
    );
    assert!(
        !traces.contains(&ok.access_token),
        "a token reached the trace log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mint_validation_and_audit_hash() {
    let env = Env::new(|c| c.sessions.max_ttl_secs = 600).await;
    let run = env.serve().await;
    let mut admin = env.admin(&run).await;
    let mut orch = env.orchestrator(&run).await;
    let a = env.connection(&mut admin).await;
    let ttl = |s| {
        Some(prost_types::Duration {
            seconds: s,
            nanos: 0,
        })
    };
    let with_ttl = |seconds, nanos| pb::MintSessionRequest {
        ttl: Some(prost_types::Duration { seconds, nanos }),
        ..mint(&a, "j", "")
    };
    let bad: Vec<(&str, pb::MintSessionRequest)> = vec![
        (
            "unknown connection",
            mint(&uuid::Uuid::new_v4().to_string(), "j", ""),
        ),
        ("not a UUID", mint("nope", "j", "")),
        (
            "empty cmdlets",
            pb::MintSessionRequest {
                allowed_cmdlets: vec![],
                ..mint(&a, "j", "")
            },
        ),
        (
            "65 cmdlets",
            pb::MintSessionRequest {
                allowed_cmdlets: vec!["Get-Mailbox".into(); 65],
                ..mint(&a, "j", "")
            },
        ),
        (
            "script in a cmdlet",
            pb::MintSessionRequest {
                allowed_cmdlets: vec!["Get-Mailbox; rm".into()],
                ..mint(&a, "j", "")
            },
        ),
        ("bad job ID", mint(&a, "job with spaces", "")),
        ("long job ID", mint(&a, &"j".repeat(129), "")),
        (
            "TTL above max",
            pb::MintSessionRequest {
                ttl: ttl(601),
                ..mint(&a, "j", "")
            },
        ),
        (
            "TTL zero",
            pb::MintSessionRequest {
                ttl: ttl(0),
                ..mint(&a, "j", "")
            },
        ),
        ("TTL a nanosecond above max", with_ttl(600, 1)),
        ("TTL with negative nanos", with_ttl(10, -1)),
        (
            "TTL with a whole second in nanos",
            with_ttl(10, 1_000_000_000),
        ),
        ("bad worker ID", mint(&a, "j", "https://w1")),
    ];
    for (what, req) in &bad {
        let err = orch.mint_session(req.clone()).await.expect_err(what);
        assert_eq!(code(&err), ErrorCode::InvalidArgument, "{what}");
    }
    let ok = orch
        .mint_session(pb::MintSessionRequest {
            ttl: ttl(600),
            ..mint(&a, "j", "")
        })
        .await
        .unwrap()
        .into_inner();
    let exp = ok.expire_time.unwrap().seconds - time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((595..=600).contains(&exp));
    let fp = env
        .auditor(&run)
        .await
        .audit_hash(pb::AuditHashRequest {
            value: ok.handle.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .fingerprint;
    drop((admin, orch));
    run.stop().await.unwrap();
    let records = env.records();
    let minted: Vec<_> = records
        .iter()
        .filter(|r| r.event == "session.minted")
        .collect();
    assert_eq!(minted.len(), bad.len() + 1);
    assert!(
        minted[..bad.len()]
            .iter()
            .all(|r| r.reason.as_deref() == Some("INVALID_ARGUMENT"))
    );
    let last = minted[bad.len()];
    assert_eq!(
        last.fingerprints["handle"], fp,
        "AuditHash finds the handle's event"
    );
    assert_eq!(last.session_id.as_deref(), Some(ok.session_id.as_str()));
    let hash = records.iter().find(|r| r.event == "audit.hash").unwrap();
    assert_eq!(hash.fingerprints["value"], fp);
    env.verify();
}

/// Every field within its own limit (64 cmdlets of 64 characters, a 128-character job ID, a
/// 2048-byte worker SPIFFE ID) can still add up to a handle over `MAX_HANDLE_BYTES`, which every
/// AcquireToken would refuse: the mint is refused instead, audited as a denied
/// `session.minted`, and the same request with a short worker ID mints a usable handle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mint_refuses_a_handle_over_the_size_limit() {
    let env = Env::new(|_| {}).await;
    let run = env.serve().await;
    let mut admin = env.admin(&run).await;
    let mut orch = env.orchestrator(&run).await;
    let mut w1 = env.worker(&run, W1).await;
    let a = env.connection(&mut admin).await;
    let cmdlets: Vec<String> = (0..64)
        .map(|i| format!("Get-{i:02}{}", "N".repeat(64 - 6)))
        .collect();
    assert!(cmdlets.iter().all(|c| c.len() == 64));
    let job = "j".repeat(128);
    let prefix = "spiffe://airlock.local/worker/";
    let worker = format!("{prefix}{}", "w".repeat(2048 - prefix.len()));
    assert_eq!(worker.len(), airlock_shared::identity::MAX_SPIFFE_ID_LEN);
    let big = pb::MintSessionRequest {
        allowed_cmdlets: cmdlets.clone(),
        ..mint(&a, &job, &worker)
    };
    // Not `expect_err`: it would print the minted handle.
    let Err(err) = orch.mint_session(big).await else {
        panic!("a handle over MAX_HANDLE_BYTES was minted");
    };
    assert_eq!(code(&err), ErrorCode::InvalidArgument);
    assert!(
        err.message().contains("over the 8192-byte limit")
            && err.message().contains("allowed_cmdlets")
            && err.message().contains("job_id")
            && err.message().contains("worker_spiffe_id"),
        "{}",
        err.message()
    );
    // The same cmdlets and job ID with a short worker ID fit, and the handle redeems.
    let ok = orch
        .mint_session(pb::MintSessionRequest {
            allowed_cmdlets: cmdlets.clone(),
            ..mint(&a, &job, W1)
        })
        .await
        .unwrap()
        .into_inner();
    assert!(ok.handle.len() <= handle::MAX_HANDLE_BYTES);
    let token = w1.acquire_token(acquire(&ok.handle)).await.unwrap();
    assert_eq!(token.into_inner().allowed_cmdlets, cmdlets);
    drop((admin, orch, w1));
    run.stop().await.unwrap();
    let records = env.records();
    let minted: Vec<_> = records
        .iter()
        .filter(|r| r.event == "session.minted")
        .collect();
    assert_eq!(minted.len(), 2);
    let refused = minted[0];
    assert_eq!(
        (refused.outcome.as_str(), refused.reason.as_deref()),
        ("denied", Some("INVALID_ARGUMENT"))
    );
    assert_eq!(refused.job_id.as_deref(), Some(job.as_str()));
    assert!(refused.session_id.is_none() && refused.fingerprints.is_empty());
    assert_eq!(
        minted[1].session_id.as_deref(),
        Some(ok.session_id.as_str())
    );
    env.verify();
}

/// A handle is accepted up to `clock_skew_secs` past its expiry, so its revocation must last
/// that long too: revoking it in that window works, and neither kind of revocation is
/// forgotten by the restart's reload (which used to purge every session past its expiry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_last_through_the_clock_skew_allowance() {
    let skew = 4;
    let env = Env::new(|c| c.sessions.clock_skew_secs = skew).await;
    let run = env.serve().await;
    let mut admin = env.admin(&run).await;
    let mut orch = env.orchestrator(&run).await;
    let mut w1 = env.worker(&run, W1).await;
    let a = env.connection(&mut admin).await;
    let one_second = |job: &str| pb::MintSessionRequest {
        ttl: Some(prost_types::Duration {
            seconds: 1,
            nanos: 0,
        }),
        ..mint(&a, job, "")
    };
    let mut minted = Vec::new();
    for job in ["job-ok", "job-rev-early", "job-rev-late"] {
        minted.push(
            orch.mint_session(one_second(job))
                .await
                .unwrap()
                .into_inner(),
        );
    }
    let [ok, early, late] = <[_; 3]>::try_from(minted).unwrap();
    let revoke = |id: &str| pb::RevokeSessionRequest {
        session_id: id.to_owned(),
    };
    assert!(
        orch.revoke_session(revoke(&early.session_id))
            .await
            .unwrap()
            .into_inner()
            .revoked
    );
    // Past expiry, within the allowance.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert!(
        orch.revoke_session(revoke(&late.session_id))
            .await
            .unwrap()
            .into_inner()
            .revoked,
        "a handle that is still accepted can still be revoked"
    );
    w1.acquire_token(acquire(&ok.handle))
        .await
        .expect("accepted within the clock-skew allowance");
    for (what, h) in [("early", &early.handle), ("late", &late.handle)] {
        let err = w1.acquire_token(acquire(h)).await.expect_err(what);
        assert_eq!(code(&err), ErrorCode::HandleRevoked, "{what}");
    }

    drop((admin, orch, w1));
    run.stop().await.unwrap();
    let run = env.serve().await;
    let mut w1 = env.worker(&run, W1).await;
    for (what, h) in [("early", &early.handle), ("late", &late.handle)] {
        let err = w1.acquire_token(acquire(h)).await.expect_err(what);
        assert_eq!(
            code(&err),
            ErrorCode::HandleRevoked,
            "{what}: revoked after a restart, still within the allowance"
        );
    }
    // Beyond the allowance every one of them is simply expired.
    let expires = ok.expire_time.unwrap().seconds + i64::try_from(skew).unwrap();
    while time::OffsetDateTime::now_utc().unix_timestamp() <= expires {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    for (what, h) in [("ok", &ok.handle), ("late", &late.handle)] {
        let err = w1.acquire_token(acquire(h)).await.expect_err(what);
        assert_eq!(code(&err), ErrorCode::HandleExpired, "{what}");
    }
    drop(w1);
    run.stop().await.unwrap();
    env.verify();
    let revoked: Vec<_> = env
        .records()
        .into_iter()
        .filter(|r| r.event == "session.revoked")
        .collect();
    assert_eq!(revoked.len(), 2, "one session.revoked event per revocation");
    for (rec, s) in revoked.iter().zip([&early, &late]) {
        assert_eq!(rec.session_id.as_deref(), Some(s.session_id.as_str()));
        assert_eq!(rec.details["revoked"], "true");
        assert_eq!(rec.outcome, airlock_shared::audit::Outcome::Allowed);
    }
}

/// The documented defaults: a 15-minute handle when MintSession sets no TTL, at most an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_ttl_is_fifteen_minutes_and_the_maximum_an_hour() {
    let env = Env::new(|_| {}).await;
    let run = env.serve().await;
    let mut admin = env.admin(&run).await;
    let mut orch = env.orchestrator(&run).await;
    let a = env.connection(&mut admin).await;
    let expiry_in = |m: pb::MintSessionResponse| {
        m.expire_time.unwrap().seconds - time::OffsetDateTime::now_utc().unix_timestamp()
    };
    let default = orch
        .mint_session(mint(&a, "j", ""))
        .await
        .unwrap()
        .into_inner();
    assert!((895..=900).contains(&expiry_in(default)));
    let with_ttl = |seconds| pb::MintSessionRequest {
        ttl: Some(prost_types::Duration { seconds, nanos: 0 }),
        ..mint(&a, "j", "")
    };
    let longest = orch
        .mint_session(with_ttl(3600))
        .await
        .unwrap()
        .into_inner();
    assert!((3595..=3600).contains(&expiry_in(longest)));
    let err = orch.mint_session(with_ttl(3601)).await.unwrap_err();
    assert_eq!(code(&err), ErrorCode::InvalidArgument);
    drop((admin, orch));
    run.stop().await.unwrap();
}

/// The claim in a JWT's payload (test tokens from the simulator; never printed).
fn jwt_claim(token: &str, claim: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    v[claim].as_str().unwrap_or_default().to_owned()
}

/// Two connections of two different apps: each handle yields its own connection's token,
/// issued to that connection's app, never the other's (the responses' IDs alone are copied
/// from the handle, so this looks inside the tokens).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_handle_yields_its_own_connections_token() {
    let env = Env::new(|_| {}).await;
    let run = env.serve().await;
    let mut admin = env.admin(&run).await;
    let mut orch = env.orchestrator(&run).await;
    let mut w1 = env.worker(&run, W1).await;
    let a = env.connection(&mut admin).await;
    let b = env
        .connection_with(&mut admin, common::NOROLE_APP, common::NOROLE_SECRET)
        .await;
    let mut tokens = Vec::new();
    for (conn, app) in [
        (&a, common::SECRET_APP),
        (&b, common::NOROLE_APP),
        (&a, common::SECRET_APP),
    ] {
        let h = orch
            .mint_session(mint(conn, "job", ""))
            .await
            .unwrap()
            .into_inner()
            .handle;
        let t = w1.acquire_token(acquire(&h)).await.unwrap().into_inner();
        assert_eq!(&t.connection_id, conn);
        assert_eq!(
            jwt_claim(&t.access_token, "appid"),
            app,
            "the token was issued to the connection's app"
        );
        tokens.push(t.access_token);
    }
    assert!(tokens[0] != tokens[1], "A's and B's tokens differ");
    assert!(tokens[0] == tokens[2], "A's token is cached and shared");
    drop((admin, orch, w1));
    run.stop().await.unwrap();
}
