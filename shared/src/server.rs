//! Running a tonic gRPC server over mTLS: the accept loop that performs handshakes and
//! attaches the caller's SPIFFE ID to the connection ([`MtlsIncoming`]), and [`serve`], which
//! puts the authorization layer in front of the services, adds `grpc.health.v1` (and reflection
//! when asked), and drains gracefully on shutdown within a grace period.

use std::{
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::mpsc,
    task::JoinHandle,
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tonic::transport::server::Connected;

use crate::{
    authz::{AccessObserver, AuthorizeLayer},
    coalesce::CoalescingStream,
    identity::{PeerInfo, SpiffeId},
    policy::RolePolicy,
};

/// How long a client may take to complete the TLS handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// An accepted, verified mTLS connection.
pub struct MtlsStream {
    inner: TlsStream<CoalescingStream>,
    peer: PeerInfo,
}

impl MtlsStream {
    /// The verified peer.
    pub fn peer(&self) -> &PeerInfo {
        &self.peer
    }
}

impl Connected for MtlsStream {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.peer.clone()
    }
}

impl AsyncRead for MtlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for MtlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The stream of verified connections fed to tonic. Dropping it stops the accept loop.
pub struct MtlsIncoming {
    rx: mpsc::Receiver<MtlsStream>,
    task: JoinHandle<()>,
}

impl Drop for MtlsIncoming {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl futures::Stream for MtlsIncoming {
    type Item = Result<MtlsStream, io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|s| s.map(Ok))
    }
}

/// Accepts TCP connections on `listener` and completes each TLS handshake in its own task
/// (bounded by `handshake_timeout`), so a slow client never blocks others. Failed handshakes
/// are reported to `observer` and dropped.
pub fn mtls_incoming(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    observer: Arc<dyn AccessObserver>,
    handshake_timeout: Duration,
) -> MtlsIncoming {
    let (tx, rx) = mpsc::channel(64);
    let acceptor = TlsAcceptor::from(tls);
    let task = tokio::spawn(async move {
        loop {
            let (tcp, addr) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if tx.is_closed() {
                return;
            }
            let (acceptor, tx, observer) = (acceptor.clone(), tx.clone(), observer.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(handshake_timeout, handshake(&acceptor, tcp, addr)).await
                {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(stream).await;
                    }
                    Ok(Err(reason)) => observer.handshake_failed(addr, &reason),
                    Err(_) => observer.handshake_failed(addr, "handshake timed out"),
                }
            });
        }
    });
    MtlsIncoming { rx, task }
}

async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    addr: SocketAddr,
) -> Result<MtlsStream, String> {
    let _ = tcp.set_nodelay(true);
    // Coalescing below TLS: each response's frames leave in one system call.
    let tls = acceptor
        .accept(CoalescingStream::new(tcp))
        .await
        .map_err(|e| describe_tls_error(&e))?;
    let (_, conn) = tls.get_ref();
    let leaf = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or_else(|| "no client certificate".to_owned())?;
    // The verifier already checked this; extracting again gives us the value.
    let spiffe_id = SpiffeId::from_certificate(leaf).map_err(|e| e.to_string())?;
    Ok(MtlsStream {
        inner: tls,
        peer: PeerInfo {
            spiffe_id,
            peer_addr: Some(addr),
        },
    })
}

/// A readable reason for a failed handshake: the identity problem itself when the SPIFFE
/// check refused the certificate, rustls' own message otherwise.
fn describe_tls_error(e: &io::Error) -> String {
    let rustls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))) => {
            format!("invalid peer certificate: {}", other.0)
        }
        Some(other) => other.to_string(),
        None => e.to_string(),
    }
}

/// Everything [`serve`] needs besides the services.
#[derive(Clone)]
pub struct ServeOptions {
    /// Server TLS configuration (from [`crate::tls::server_config`]).
    pub tls: Arc<rustls::ServerConfig>,
    /// The role policy every call is checked against.
    pub policy: Arc<RolePolicy>,
    /// Who hears about refusals.
    pub observer: Arc<dyn AccessObserver>,
    /// Serve gRPC reflection (`grpc.reflection.v1` and `v1alpha`).
    pub reflection: bool,
    /// Handshake deadline per connection.
    pub handshake_timeout: Duration,
    /// After shutdown is requested, how long in-flight calls may take before the server stops
    /// anyway.
    pub grace: Duration,
}

impl ServeOptions {
    /// Options with the defaults: no reflection, 10 s handshakes, 30 s grace, log-only observer.
    pub fn new(tls: Arc<rustls::ServerConfig>, policy: Arc<RolePolicy>) -> Self {
        Self {
            tls,
            policy,
            observer: Arc::new(crate::authz::LogObserver),
            reflection: false,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            grace: Duration::from_secs(30),
        }
    }
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The reflection service could not be built from the descriptors.
    #[error("cannot build the reflection service: {0}")]
    Reflection(String),
    /// The transport failed.
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Serves `routes` (plus health and optional reflection) on `listener` over mTLS with the
/// authorization layer, until `shutdown` completes; then drains for at most `opts.grace`.
pub async fn serve(
    listener: TcpListener,
    routes: tonic::service::RoutesBuilder,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let mut routes = routes;
    let (health, health_service) = tonic_health::server::health_reporter();
    routes.add_service(health_service);
    if opts.reflection {
        add_reflection(&mut routes)?;
    }
    let incoming = mtls_incoming(
        listener,
        opts.tls.clone(),
        opts.observer.clone(),
        opts.handshake_timeout,
    );
    let (draining_tx, draining_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tonic::transport::Server::builder()
        .layer(AuthorizeLayer::new(
            opts.policy.clone(),
            opts.observer.clone(),
        ))
        .add_routes(routes.routes())
        .serve_with_incoming_shutdown(incoming, async move {
            shutdown.await;
            health
                .set_service_status("", tonic_health::ServingStatus::NotServing)
                .await;
            let _ = draining_tx.send(());
        });
    tokio::pin!(server);
    let grace = opts.grace;
    tokio::select! {
        result = &mut server => Ok(result?),
        () = async move {
            if draining_rx.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                futures::future::pending::<()>().await;
            }
        } => {
            tracing::warn!(grace_secs = grace.as_secs(), "in-flight calls outlived the grace period; stopping anyway");
            Ok(())
        }
    }
}

fn add_reflection(routes: &mut tonic::service::RoutesBuilder) -> Result<(), ServeError> {
    let build = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(airlock_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let v1 = build()
        .build_v1()
        .map_err(|e| ServeError::Reflection(e.to_string()))?;
    let v1alpha = build()
        .build_v1alpha()
        .map_err(|e| ServeError::Reflection(e.to_string()))?;
    routes.add_service(v1).add_service(v1alpha);
    Ok(())
}
