//! Logging setup: structured JSON (for log shipping) or human-readable lines, to stderr,
//! filtered by `AIRLOCK_LOG` (same syntax as `RUST_LOG`). Spans carry identities
//! (`job.id`, `connection.id`, `peer.spiffe_id`); nothing logs payloads or secrets.

use serde::Deserialize;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    #[default]
    Human,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(Self::Json),
            "human" => Ok(Self::Human),
            other => Err(format!("unknown log format {other:?}: use json or human")),
        }
    }
}

/// Installs the global subscriber. `default_filter` applies when `AIRLOCK_LOG` is unset, for
/// example `"info"`. Calling it twice is harmless (the second call does nothing).
pub fn init(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_env("AIRLOCK_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Human => registry
            .with(fmt::layer().with_target(false).with_writer(std::io::stderr))
            .try_init(),
    };
    // Already initialised (tests, embedded use): keep the first subscriber.
    drop(result);
}
