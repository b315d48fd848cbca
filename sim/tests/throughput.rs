//! Get-Mailbox throughput of the simulator itself (run with `--ignored --nocapture`, ideally
//! `--release`): the figure quoted in `sim/README.md`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::time::Instant;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run explicitly"]
async fn get_mailbox_throughput() {
    let sim = sim().await;
    let t = sim.token().await;
    let per_task = 500;
    let tasks = 16;
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let client = sim.client.clone();
        let url = sim.invoke_url(TENANT);
        let t = t.clone();
        handles.push(tokio::spawn(async move {
            for _ in 0..per_task {
                let r = client
                    .post(&url)
                    .bearer_auth(&t)
                    .json(&json!({"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"Identity": "alexw"}}}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let n = per_task * tasks;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "Get-Mailbox: {n} calls, 16 connections, {secs:.2} s, {:.0} calls/s (client in the same process)",
        n as f64 / secs
    );
}
