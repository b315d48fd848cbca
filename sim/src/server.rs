//! [`SimServer`]: binds the listener, terminates TLS (rustls, ring) and serves the Entra,
//! Exchange and control routes over HTTP/1.1 and h2 (ALPN) with hyper.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::response::IntoResponse;
use http::StatusCode;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::control::SimControl;
use crate::fixture::Fixture;
use crate::state::SimState;
use crate::{SimError, control, entra, exchange, tls};

/// A running simulator (in-process).
#[derive(Debug)]
pub struct SimServer {
    addr: SocketAddr,
    ca_pem: String,
    state: Arc<SimState>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

fn router(state: Arc<SimState>) -> Router {
    let control = if state.settings.control_api {
        control::routes()
    } else {
        Router::new()
    };
    Router::new()
        .merge(entra::routes())
        .merge(exchange::routes())
        .merge(control)
        .fallback(|| async {
            (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({"error": {"code": "NotFound", "message": "No such endpoint in airlock-sim."}})))
                .into_response()
        })
        .with_state(state)
}

impl SimServer {
    /// Start on `127.0.0.1:0` (an ephemeral port).
    pub async fn start(fixture: Fixture) -> Result<SimServer, SimError> {
        SimServer::start_on(fixture, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Start on a given address.
    pub async fn start_on(fixture: Fixture, listen: SocketAddr) -> Result<SimServer, SimError> {
        let state = Arc::new(SimState::new(fixture)?);
        let tls = tls::generate()?;
        let listener = TcpListener::bind(listen).await.map_err(SimError::Io)?;
        let addr = listener.local_addr().map_err(SimError::Io)?;
        *state.base_url.write() = format!("https://{addr}");
        let (stop, rx) = watch::channel(false);
        let acceptor = TlsAcceptor::from(tls.server_config);
        let app = router(state.clone());
        let task = tokio::spawn(accept_loop(listener, acceptor, app, rx));
        tracing::info!(%addr, "airlock-sim listening");
        Ok(SimServer {
            addr,
            ca_pem: tls.ca_pem,
            state,
            stop,
            task: Some(task),
        })
    }

    /// The Entra authority host, `https://127.0.0.1:PORT`.
    pub fn authority(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The Exchange host, `https://127.0.0.1:PORT` (same listener).
    pub fn exchange(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// PEM of the CA that signed the server certificate.
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Test controls.
    pub fn control(&self) -> SimControl {
        SimControl::new(self.state.clone())
    }

    /// Stop accepting, close connections gracefully and wait for the accept loop.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimServer {
    /// Dropping the server without `shutdown` still stops it (without waiting).
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    mut rx: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = rx.changed() => break,
            accepted = listener.accept() => {
                let Ok((tcp, _peer)) = accepted else {
                    // e.g. out of file descriptors: back off instead of spinning
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                tokio::spawn(serve_connection(tcp, acceptor.clone(), app.clone(), rx.clone()));
            }
        }
    }
}

async fn serve_connection(
    tcp: tokio::net::TcpStream,
    acceptor: TlsAcceptor,
    app: Router,
    mut rx: watch::Receiver<bool>,
) {
    let Ok(stream) = acceptor.accept(tcp).await else {
        return;
    };
    let service =
        hyper::service::service_fn(move |req: http::Request<Incoming>| app.clone().oneshot(req));
    let builder = Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = rx.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
