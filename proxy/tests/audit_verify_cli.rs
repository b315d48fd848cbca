//! Invariant 5 on a real proxy's log: `airlockctl audit verify` accepts the rotated files the
//! proxy wrote with its signed checkpoint, and names the line when the log is edited or its
//! tail deleted (caught by the checkpoint).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use airlock_proto as pb;
use airlockctl::audit::{VerifyArgs, verify};
use common::server::*;

fn run_verify(env: &Env, checkpoint: bool) -> Result<String, String> {
    let dir = env.audit_dir();
    let args = VerifyArgs {
        files: vec![dir.clone()],
        expect_last_seq: None,
        expect_last_hash: None,
        checkpoint: checkpoint.then(|| dir.join("audit.checkpoints")),
        checkpoint_key: checkpoint.then(|| dir.join("audit-checkpoint.pub")),
    };
    let mut out = Vec::new();
    verify(&args, &mut out)
        .map(|()| String::from_utf8(out).unwrap())
        .map_err(|e| format!("{e:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxys_log_verifies_and_tampering_is_named() {
    let env = Env::new(|c| c.audit.max_file_bytes = 4096).await;
    let run = env.serve().await;
    let mut admin = env.admin(&run).await;
    let mut orch = env.orchestrator(&run).await;
    let mut w1 = env.worker(&run, W1).await;
    let a = env.connection(&mut admin).await;
    let s = orch
        .mint_session(mint(&a, "job-v", ""))
        .await
        .unwrap()
        .into_inner();
    for _ in 0..30 {
        let req = pb::AcquireTokenRequest {
            handle: s.handle.clone(),
        };
        w1.acquire_token(req).await.unwrap();
    }
    drop((admin, orch, w1));
    run.stop().await.unwrap();
    let files = airlock_shared::audit::files::log_files(&env.audit_dir()).unwrap();
    assert!(files.len() > 2, "the log rotated");
    let ok = run_verify(&env, true).unwrap();
    assert!(ok.starts_with("OK: "), "{ok}");

    // Delete the newest line: the chain is still valid, the shutdown checkpoint is not.
    let current = env.audit_dir().join("audit.log");
    let text = std::fs::read_to_string(&current).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    std::fs::write(&current, lines.join("\n") + "\n").unwrap();
    assert!(
        run_verify(&env, false).is_ok(),
        "without an anchor a cut tail is invisible"
    );
    let cut = run_verify(&env, true).unwrap_err();
    assert!(cut.contains("TAMPERED"), "{cut}");

    // Edit a field in the middle of the current file: the line is named.
    let edited = lines[1].replace("\"allowed\"", "\"denied\"");
    assert_ne!(edited, lines[1]);
    lines[1] = &edited;
    std::fs::write(&current, lines.join("\n") + "\n").unwrap();
    let err = run_verify(&env, false).unwrap_err();
    assert!(err.contains("audit.log:2"), "{err}");
    assert!(err.contains("edited"), "{err}");
}
