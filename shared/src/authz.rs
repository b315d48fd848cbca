//! The authorization layer: a tower layer in front of every gRPC service that looks up the
//! caller's SPIFFE ID (from the mTLS handshake) in the role policy by full method name.
//! Default deny. A refusal is `PERMISSION_DENIED` with `ErrorInfo { reason: DENIED_BY_POLICY }`
//! carrying the caller's ID and the method; an allowed request gets a [`CallerIdentity`] in its
//! extensions.

use std::{
    net::SocketAddr,
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::{BoxFuture, FutureExt as _};
use tower::{Layer, Service};

use crate::{
    catalogue::{AirlockError, ErrorCode},
    identity::{CallerIdentity, PeerInfo, SpiffeId},
    policy::{Decision, RolePolicy},
};

/// Receives security-relevant refusals, so the proxy can audit them.
pub trait AccessObserver: Send + Sync + 'static {
    /// A call was refused by the role policy. The refusal is sent only after the returned
    /// future completes, so an implementation that records the denial (the proxy's audit log)
    /// records it before the caller hears of it. Keep it bounded in time: the caller waits.
    fn denied(
        &self,
        caller: &SpiffeId,
        roles: &[String],
        method: &str,
        peer: Option<SocketAddr>,
    ) -> BoxFuture<'static, ()>;
    /// A TLS handshake failed (no certificate, unknown CA, expired, bad SPIFFE ID, ...). There
    /// is no caller to answer; record without blocking (spawn if needed).
    fn handshake_failed(&self, peer: SocketAddr, reason: &str);
}

/// An observer that only logs.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogObserver;

impl AccessObserver for LogObserver {
    fn denied(
        &self,
        caller: &SpiffeId,
        roles: &[String],
        method: &str,
        peer: Option<SocketAddr>,
    ) -> BoxFuture<'static, ()> {
        tracing::warn!(peer.spiffe_id = %caller, ?roles, method, ?peer, "call denied by role policy");
        futures::future::ready(()).boxed()
    }

    fn handshake_failed(&self, peer: SocketAddr, reason: &str) {
        tracing::info!(%peer, reason, "mTLS handshake refused");
    }
}

/// The layer. Add it with `tonic::transport::Server::builder().layer(...)`.
#[derive(Clone)]
pub struct AuthorizeLayer {
    policy: Arc<RolePolicy>,
    observer: Arc<dyn AccessObserver>,
}

impl AuthorizeLayer {
    /// Authorizes with `policy`, reporting refusals to `observer`.
    pub fn new(policy: Arc<RolePolicy>, observer: Arc<dyn AccessObserver>) -> Self {
        Self { policy, observer }
    }
}

impl<S> Layer<S> for AuthorizeLayer {
    type Service = Authorize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorize {
            inner,
            policy: self.policy.clone(),
            observer: self.observer.clone(),
        }
    }
}

/// The service made by [`AuthorizeLayer`].
#[derive(Clone)]
pub struct Authorize<S> {
    inner: S,
    policy: Arc<RolePolicy>,
    observer: Arc<dyn AccessObserver>,
}

impl<S, B, R> Service<http::Request<B>> for Authorize<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Send,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let method = req.uri().path().trim_start_matches('/').to_owned();
        let Some(peer) = req.extensions().get::<PeerInfo>().cloned() else {
            // Only reachable if a service is served without the mTLS acceptor: refuse.
            let status = AirlockError::new(
                ErrorCode::DeniedByPolicy,
                "no verified client identity on this connection",
            )
            .to_status();
            return futures::future::ready(Ok(status.into_http())).boxed();
        };
        match self.policy.authorize(&peer.spiffe_id, &method) {
            Decision::Allow { role } => {
                req.extensions_mut().insert(CallerIdentity {
                    spiffe_id: peer.spiffe_id,
                    role,
                    peer_addr: peer.peer_addr,
                });
                self.inner.call(req).boxed()
            }
            Decision::Deny { roles } => {
                let recorded =
                    self.observer
                        .denied(&peer.spiffe_id, &roles, &method, peer.peer_addr);
                let status = denied(&peer.spiffe_id, &method);
                async move {
                    recorded.await;
                    Ok(status.into_http())
                }
                .boxed()
            }
        }
    }
}

/// The refusal sent for a call the policy does not allow.
pub fn denied(caller: &SpiffeId, method: &str) -> tonic::Status {
    AirlockError::new(
        ErrorCode::DeniedByPolicy,
        format!("{caller} may not call /{method}"),
    )
    .with_metadata("caller", caller.as_str())
    .with_metadata("method", method)
    .to_status()
}
