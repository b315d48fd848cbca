//! Process hardening (its own test binary: it changes process-wide state).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[test]
fn core_dumps_and_ptrace_are_disabled() {
    airlock_proxy::hardening::harden_process().unwrap();
    assert!(airlock_proxy::hardening::is_hardened());
    let status = std::fs::read_to_string("/proc/self/limits").unwrap();
    let core = status
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert!(
        core.split_whitespace().filter(|w| *w == "0").count() >= 2,
        "{core}"
    );
}
