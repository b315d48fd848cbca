//! One shutdown tree: a cloneable [`Shutdown`] that any task can wait on, triggered by
//! SIGTERM/SIGINT ([`Shutdown::trigger_on_signals`]) or by hand (tests, embedded servers).

use std::sync::Arc;

use tokio::sync::watch;

/// A shutdown switch. Clones share the same switch.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A switch that is not yet triggered.
    pub fn new() -> Self {
        Self {
            tx: Arc::new(watch::channel(false).0),
        }
    }

    /// Asks everything waiting to shut down. Idempotent.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Whether shutdown was requested.
    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Completes once shutdown is requested (at once if it already was).
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        // An error means the sender is gone, which cannot happen while `self` holds it.
        let _ = rx.wait_for(|triggered| *triggered).await;
    }

    /// Spawns a task that triggers this switch on the first SIGTERM or SIGINT, and logs which.
    pub fn trigger_on_signals(&self) -> std::io::Result<tokio::task::JoinHandle<()>> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let this = self.clone();
        Ok(tokio::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
                () = this.wait() => return,
            };
            tracing::info!(signal = name, "shutdown requested; draining");
            this.trigger();
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_on_trigger_and_late_waiters_return_at_once() {
        let s = Shutdown::new();
        let waiter = tokio::spawn({
            let s = s.clone();
            async move { s.wait().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        s.trigger();
        waiter.await.unwrap();
        assert!(s.is_triggered());
        tokio::time::timeout(std::time::Duration::from_secs(1), s.wait())
            .await
            .unwrap();
    }
}
