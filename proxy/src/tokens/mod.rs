//! Token acquisition: the Entra ID client (client secret and client assertion), the error
//! mapping, and the per-connection cache.
//!
//! - [`assertion`] — the client assertion JWT (PS256/`x5t#S256` or RS256/`x5t`), ring-signed.
//! - [`entra`] — the v2 token endpoint client and [`AccessToken`].
//! - [`errors`] — Entra failures and their one mapping to the catalogue.
//! - [`cache`] — single flight, refresh-ahead, backoff.

pub mod assertion;
pub mod cache;
pub mod entra;
pub mod errors;

use airlock_shared::AirlockError;

pub use cache::{CachePolicy, TokenCache};
pub use entra::{AccessToken, EntraClient};

use crate::store::Vault;

/// Where the cache gets tokens from (Entra ID in production, a counter in tests).
pub trait TokenSource: Send + Sync + 'static {
    /// One token request for the connection; no retries.
    fn fetch(
        &self,
        connection_id: uuid::Uuid,
    ) -> futures::future::BoxFuture<'_, Result<AccessToken, AirlockError>>;
}

/// Fetches tokens from Entra ID with the connection's sealed credential.
#[derive(Debug, Clone)]
pub struct EntraSource {
    vault: Vault,
    client: EntraClient,
}

impl EntraSource {
    /// A source reading credentials from `vault`.
    pub fn new(vault: Vault, client: EntraClient) -> Self {
        Self { vault, client }
    }
}

impl TokenSource for EntraSource {
    fn fetch(
        &self,
        connection_id: uuid::Uuid,
    ) -> futures::future::BoxFuture<'_, Result<AccessToken, AirlockError>> {
        let span = tracing::info_span!("token.fetch", connection.id = %connection_id);
        Box::pin(tracing::Instrument::instrument(
            async move {
                let (record, credential) = self
                    .vault
                    .open(connection_id)
                    .await
                    .map_err(|e| e.to_airlock())?;
                let res = self.client.acquire(&record, credential).await;
                res.map_err(|e| {
                let err = e.to_airlock();
                tracing::info!(connection.id = %connection_id, code = err.code().reason(), "token request failed");
                err
            })
            },
            span,
        ))
    }
}
