//! 10,000 concurrent AcquireToken calls over mTLS: 10,000 answers, 10,000 `token.issued`
//! events, one Entra request, and a valid chain.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use airlock_proto as pb;
use common::server::*;

const CALLS: usize = 10_000;
const CHANNELS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_acquires_are_each_audited() {
    // This test is about completeness (one event per call, one chain), not latency: 10,000
    // queued events on a loaded CI machine may take longer than the default 2 s deadline.
    let env = Env::new(|c| c.audit.write_deadline_ms = 30_000).await;
    let run = env.serve().await;
    let mut admin = env.admin(&run).await;
    let a = env.connection(&mut admin).await;
    let mut orch = env.orchestrator(&run).await;
    let handle = orch
        .mint_session(mint(&a, "flood", ""))
        .await
        .unwrap()
        .into_inner()
        .handle;
    let mut workers = Vec::new();
    for _ in 0..CHANNELS {
        workers.push(env.worker(&run, W1).await);
    }
    let calls: Vec<_> = (0..CALLS)
        .map(|i| {
            let mut w = workers[i % CHANNELS].clone();
            let req = pb::AcquireTokenRequest {
                handle: handle.clone(),
            };
            tokio::spawn(async move {
                w.acquire_token(req)
                    .await
                    .map(|r| r.into_inner().connection_id)
            })
        })
        .collect();
    let mut ok = 0;
    for c in calls {
        assert_eq!(c.await.unwrap().unwrap(), a);
        ok += 1;
    }
    assert_eq!(ok, CALLS);
    assert_eq!(
        env.sim
            .control()
            .counters()
            .tokens_total(common::SECRET_APP),
        1
    );
    drop((admin, orch, workers));
    run.stop().await.unwrap();
    let records = env.records();
    let issued = records.iter().filter(|r| r.event == "token.issued").count();
    assert_eq!(issued, CALLS);
    let summary = env.verify();
    assert_eq!(summary.records as usize, records.len());
}
