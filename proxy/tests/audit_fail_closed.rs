//! Invariant 4 fails closed: an unwritable audit directory or a full disk stops the proxy from
//! starting; a disk that fills or a sink that blocks while serving makes every audited request
//! fail with AUDIT_UNAVAILABLE within the write deadline — nothing is issued, minted, revoked,
//! created or deleted unaudited — and the proxy recovers once the log can be written again.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::io;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use airlock_proto as pb;
use airlock_proxy::audit::FsyncPolicy;
use airlock_proxy::audit::sink::{FileSink, Sink};
use airlock_shared::ErrorCode;
use common::server::*;

const DEADLINE_MS: u64 = 300;
/// The deadline plus generous scheduling slack on a loaded 2-core machine.
const WITHIN: Duration = Duration::from_millis(DEADLINE_MS + 1500);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ok,
    Full,
    Block,
}

/// The real file sink behind a switch: pass, fail like a full disk, or block.
#[derive(Clone)]
struct Switch(Arc<(Mutex<Mode>, Condvar)>);

impl Switch {
    fn set(&self, m: Mode) {
        *self.0.0.lock().unwrap() = m;
        self.0.1.notify_all();
    }
}

struct SwitchSink {
    inner: FileSink,
    switch: Switch,
}

impl Sink for SwitchSink {
    fn write_batch(&mut self, first_seq: u64, lines: &[String]) -> io::Result<()> {
        let (lock, cv) = &*self.switch.0;
        let mut mode = lock.lock().unwrap();
        while *mode == Mode::Block {
            mode = cv.wait(mode).unwrap();
        }
        if *mode == Mode::Full {
            return Err(io::Error::from_raw_os_error(28)); // ENOSPC
        }
        drop(mode);
        self.inner.write_batch(first_seq, lines)
    }
}

#[tokio::test]
async fn unwritable_directory_or_full_disk_refuses_to_start() {
    let env = Env::new(|c| {
        let blocker = c.store.path.with_file_name("not-a-dir");
        std::fs::write(&blocker, "x").unwrap();
        c.audit.dir = blocker.join("audit");
    })
    .await;
    let err = env.try_serve(None).await.err().expect("refuses to start");
    assert!(
        err.to_string().contains("cannot open the audit log"),
        "{err}"
    );

    let env = Env::new(|_| {}).await;
    std::fs::create_dir_all(env.audit_dir()).unwrap();
    std::os::unix::fs::symlink("/dev/full", env.audit_dir().join("audit.log")).unwrap();
    let run = env.try_serve(None).await.unwrap();
    let err = run
        .task
        .await
        .unwrap()
        .expect_err("proxy.started cannot be written");
    assert!(err.to_string().contains("audit write failed"), "{err}");
}

async fn timed<T>(f: impl std::future::Future<Output = Result<T, tonic::Status>>) -> ErrorCode {
    let start = Instant::now();
    let res = f.await;
    assert!(start.elapsed() < WITHIN, "took {:?}", start.elapsed());
    match res {
        Ok(_) => panic!("succeeded unaudited"),
        Err(s) => code(&s),
    }
}

/// A proxy with the short deadline whose audit file sits behind a [`Switch`].
async fn serve_with_switch() -> (Env, Switch, Running) {
    let env = Env::new(|c| c.audit.write_deadline_ms = DEADLINE_MS).await;
    let switch = Switch(Arc::new((Mutex::new(Mode::Ok), Condvar::new())));
    let file = FileSink::open(&env.audit_dir(), 1 << 20, FsyncPolicy::Always).unwrap();
    let sink = SwitchSink {
        inner: file,
        switch: switch.clone(),
    };
    let run = env.try_serve(Some(vec![Box::new(sink)])).await.unwrap();
    (env, switch, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_or_blocked_log_fails_each_request_within_the_deadline() {
    let (env, switch, run) = serve_with_switch().await;
    let mut admin = env.admin(&run).await;
    let mut orch = env.orchestrator(&run).await;
    let mut w1 = env.worker(&run, W1).await;
    let a = env.connection(&mut admin).await;
    let s = orch
        .mint_session(mint(&a, "job-1", ""))
        .await
        .unwrap()
        .into_inner();
    let acquire = pb::AcquireTokenRequest {
        handle: s.handle.clone(),
    };
    w1.acquire_token(acquire.clone()).await.unwrap();
    let issued_ok = 1;

    for mode in [Mode::Full, Mode::Block] {
        switch.set(mode);
        let create = pb::CreateConnectionRequest {
            instance_name: "second".into(),
            ..env_request(&env)
        };
        let cases = [
            timed(w1.acquire_token(acquire.clone())).await,
            timed(orch.mint_session(mint(&a, "job-2", ""))).await,
            // Refusals too are answered only after their event is written.
            timed(w1.acquire_token(pb::AcquireTokenRequest {
                handle: "not.a.handle".into(),
            }))
            .await,
            timed(orch.mint_session(mint(&a, "job with spaces", ""))).await,
            timed(orch.revoke_session(pb::RevokeSessionRequest {
                session_id: s.session_id.clone(),
            }))
            .await,
            timed(admin.create_connection(create)).await,
            timed(admin.delete_connection(pb::DeleteConnectionRequest {
                connection_id: a.clone(),
            }))
            .await,
            timed(
                env.auditor(&run)
                    .await
                    .audit_hash(pb::AuditHashRequest { value: "x".into() }),
            )
            .await,
        ];
        assert!(cases.iter().all(|c| *c == ErrorCode::AuditUnavailable));
        // Many at once: each still answers within the deadline.
        let many: Vec<_> = (0..20)
            .map(|_| {
                let (mut w, req) = (w1.clone(), acquire.clone());
                tokio::spawn(async move { timed(w.acquire_token(req)).await })
            })
            .collect();
        for m in many {
            assert_eq!(m.await.unwrap(), ErrorCode::AuditUnavailable);
        }
    }
    switch.set(Mode::Ok);
    // Nothing happened: one connection, not deleted; the session is not revoked.
    let list = admin
        .list_connections(pb::ListConnectionsRequest::default())
        .await
        .unwrap();
    assert_eq!(list.into_inner().connections.len(), 1);
    w1.acquire_token(acquire.clone()).await.unwrap();
    let issued_ok = issued_ok + 1;
    drop((admin, orch, w1));
    run.stop().await.unwrap();

    // Every token.issued in the log was either answered, or is named by an audit.late record
    // (written after its caller had already been refused).
    let records = env.records();
    let late: Vec<u64> = records
        .iter()
        .filter(|r| r.event == "audit.late")
        .flat_map(|r| {
            r.details["refused_seqs"]
                .split(',')
                .map(|s| s.parse().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    let issued = records
        .iter()
        .filter(|r| r.event == "token.issued" && !late.contains(&r.seq))
        .count();
    assert_eq!(issued, issued_ok);
    assert_eq!(
        records
            .iter()
            .filter(|r| r.event == "connection.create" && !late.contains(&r.seq))
            .count(),
        1
    );
    assert!(
        records
            .iter()
            .all(|r| r.event != "connection.delete" || late.contains(&r.seq))
    );
    env.verify();
}

/// Store changes hold the store while their audit event is written, so with the log blocked
/// they used to queue behind one another, each waiting out the deadline of every one before
/// it. Many at once must each still fail within the deadline (plus one more for the
/// refusal's own event), with nothing changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_store_changes_each_fail_within_the_deadline_while_the_log_blocks() {
    let (env, switch, run) = serve_with_switch().await;
    let mut admin = env.admin(&run).await;
    let mut orch = env.orchestrator(&run).await;
    let a = env.connection(&mut admin).await;
    let s = orch
        .mint_session(mint(&a, "job-1", ""))
        .await
        .unwrap()
        .into_inner();
    switch.set(Mode::Block);
    let mut calls = Vec::new();
    for i in 0..6 {
        let (mut o, id) = (orch.clone(), s.session_id.clone());
        calls.push(tokio::spawn(async move {
            timed(o.revoke_session(pb::RevokeSessionRequest { session_id: id })).await
        }));
        let (mut o, conn) = (orch.clone(), a.clone());
        calls.push(tokio::spawn(async move {
            timed(o.mint_session(mint(&conn, &format!("job-m{i}"), ""))).await
        }));
        let (mut ad, req) = (admin.clone(), env_request(&env));
        calls.push(tokio::spawn(async move {
            timed(ad.create_connection(req)).await
        }));
    }
    for c in calls {
        assert_eq!(c.await.unwrap(), ErrorCode::AuditUnavailable);
    }
    switch.set(Mode::Ok);
    let list = admin
        .list_connections(pb::ListConnectionsRequest::default())
        .await
        .unwrap();
    assert_eq!(list.into_inner().connections.len(), 1, "nothing created");
    let mut w1 = env.worker(&run, W1).await;
    w1.acquire_token(pb::AcquireTokenRequest {
        handle: s.handle.clone(),
    })
    .await
    .expect("the session was not revoked");
    drop((admin, orch, w1));
    run.stop().await.unwrap();
    env.verify();
}

fn env_request(env: &Env) -> pb::CreateConnectionRequest {
    pb::CreateConnectionRequest {
        instance_name: "x".into(),
        tenant_id: common::TENANT.into(),
        app_id: common::SECRET_APP.into(),
        organization: "contoso.onmicrosoft.com".into(),
        credential: Some(pb::Credential {
            kind: Some(pb::credential::Kind::ClientSecret(common::SECRET.into())),
        }),
        environment: Some(pb::Environment {
            authority_host: env.sim.authority(),
            exchange_host: env.sim.exchange(),
        }),
    }
}
