//! Process hardening at start: no core dumps (`RLIMIT_CORE` 0) and no ptrace attachment or
//! /proc memory reads by other processes of the same user (`PR_SET_DUMPABLE` 0).

use nix::sys::resource::{Resource, setrlimit};

/// Why hardening failed.
#[derive(Debug, thiserror::Error)]
pub enum HardeningError {
    /// setrlimit failed.
    #[error("cannot disable core dumps (RLIMIT_CORE): {0}")]
    CoreLimit(nix::Error),
    /// prctl failed.
    #[error("cannot disable ptrace attachment (PR_SET_DUMPABLE): {0}")]
    Dumpable(nix::Error),
}

/// Applies both settings to the current process.
pub fn harden_process() -> Result<(), HardeningError> {
    setrlimit(Resource::RLIMIT_CORE, 0, 0).map_err(HardeningError::CoreLimit)?;
    nix::sys::prctl::set_dumpable(false).map_err(HardeningError::Dumpable)?;
    Ok(())
}

/// Whether the process is currently non-dumpable with a zero core limit.
pub fn is_hardened() -> bool {
    let dumpable = nix::sys::prctl::get_dumpable().unwrap_or(true);
    let core = nix::sys::resource::getrlimit(Resource::RLIMIT_CORE).map(|(s, h)| s == 0 && h == 0);
    !dumpable && core.unwrap_or(false)
}
