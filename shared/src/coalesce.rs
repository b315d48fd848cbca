//! Write coalescing below TLS: one `write` system call per burst instead of one per flush.
//!
//! HTTP/2 (h2) flushes in the middle of writing a response whenever it queues a DATA frame
//! above a small threshold, so a unary gRPC answer (HEADERS + DATA, then TRAILERS) leaves as
//! two TLS writes and two system calls, and a request as two more. Measured on the proxy's
//! AcquireToken path, that was about four `writev` per call against two for an empty call,
//! and a fifth of the throughput gap (`bench/README.md`).
//!
//! [`CoalescingStream`] sits between TLS and the TCP socket. Reads go straight to the socket.
//! Writes are appended to a per-connection buffer and a writer task, woken by the first write
//! of a burst, sends everything buffered in one call once the connection's task yields. So
//! every frame a connection produces in one poll — across any number of flushes — leaves
//! together.
//!
//! What callers must know:
//! - `poll_flush` succeeds once the bytes are handed to the writer task, not when the kernel
//!   has them. Bytes already handed over are still sent (in order) if the stream is dropped,
//!   within [`DRAIN_TIMEOUT`].
//! - Backpressure: above [`HIGH_WATER`] buffered bytes, writes wait until the writer task has
//!   taken the buffer.
//! - A write error is reported by the next write, flush or shutdown.
//! - `poll_shutdown` completes after everything buffered was sent and the write side of the
//!   socket was shut down.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Waker},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf},
    net::{TcpStream, tcp::OwnedReadHalf},
    sync::Notify,
};

/// Above this many buffered bytes, writes wait for the writer task.
pub const HIGH_WATER: usize = 256 * 1024;

/// Largest write buffer kept for reuse between bursts.
const KEEP_CAPACITY: usize = 64 * 1024;

/// After the stream is dropped, how long the writer task keeps trying to send what was
/// already handed to it.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A stream whose writes are coalesced by a writer task; see the [module docs](self).
pub struct CoalescingStream<R = OwnedReadHalf> {
    reader: R,
    shared: Arc<Shared>,
}

impl CoalescingStream {
    /// Splits `tcp` and spawns its writer task on the current Tokio runtime.
    pub fn new(tcp: TcpStream) -> Self {
        let (reader, writer) = tcp.into_split();
        Self::from_parts(reader, writer)
    }
}

impl<R> CoalescingStream<R> {
    /// A coalescing stream over any read half and write half; spawns the writer task.
    pub fn from_parts<W>(reader: R, writer: W) -> Self
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Notify::new(),
            dropped: AtomicBool::new(false),
            dropped_notify: Notify::new(),
        });
        tokio::spawn(write_loop(shared.clone(), writer));
        Self { reader, shared }
    }
}

impl<R> Drop for CoalescingStream<R> {
    fn drop(&mut self) {
        self.shared.dropped.store(true, Ordering::Release);
        self.shared.dropped_notify.notify_waiters();
        self.shared.work.notify_one();
    }
}

#[derive(Default, PartialEq, Eq, Clone, Copy)]
enum Shutdown {
    #[default]
    Open,
    Requested,
    Done,
}

#[derive(Default)]
struct State {
    /// Bytes handed over and not yet taken by the writer task.
    pending: Vec<u8>,
    /// The first write error (kind and message; `io::Error` is not `Clone`).
    error: Option<(io::ErrorKind, String)>,
    shutdown: Shutdown,
    /// A caller waiting for room in `pending` or for the shutdown to finish.
    waiter: Option<Waker>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the writer task: bytes pending, shutdown requested, or stream dropped.
    work: Notify,
    dropped: AtomicBool,
    /// Interrupts a write blocked on a slow peer when the stream is dropped, so the drain
    /// deadline applies to it too.
    dropped_notify: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain data behind; keep going.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn stored_error(e: &(io::ErrorKind, String)) -> io::Error {
    io::Error::new(e.0, e.1.clone())
}

impl<R> CoalescingStream<R> {
    fn append(&self, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let mut st = self.shared.lock();
        if let Some(e) = &st.error {
            return Poll::Ready(Err(stored_error(e)));
        }
        if st.shutdown != Shutdown::Open {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after shutdown",
            )));
        }
        if st.pending.len() >= HIGH_WATER {
            st.waiter = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let was_empty = st.pending.is_empty();
        let mut n = 0;
        for b in bufs {
            st.pending.extend_from_slice(b);
            n += b.len();
        }
        drop(st);
        // The writer task re-checks the buffer after every write, so only the first bytes of
        // a burst need to wake it.
        if was_empty && n > 0 {
            self.shared.work.notify_one();
        }
        Poll::Ready(Ok(n))
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for CoalescingStream<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.reader).poll_read(cx, buf)
    }
}

impl<R: Unpin> AsyncWrite for CoalescingStream<R> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.append(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.append(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &self.shared.lock().error {
            Some(e) => Poll::Ready(Err(stored_error(e))),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.shared.lock();
        if let Some(e) = &st.error {
            return Poll::Ready(Err(stored_error(e)));
        }
        match st.shutdown {
            Shutdown::Done => Poll::Ready(Ok(())),
            Shutdown::Open | Shutdown::Requested => {
                let first = st.shutdown == Shutdown::Open;
                st.shutdown = Shutdown::Requested;
                st.waiter = Some(cx.waker().clone());
                drop(st);
                if first {
                    self.shared.work.notify_one();
                }
                Poll::Pending
            }
        }
    }
}

enum Next {
    Write(Vec<u8>),
    Shutdown,
    Exit,
    Wait,
}

/// The writer task: sends whatever is pending in one call, repeatedly; shuts the socket's
/// write side down on request; exits after draining once the stream is dropped.
async fn write_loop<W: AsyncWrite + Unpin>(shared: Arc<Shared>, mut writer: W) {
    let mut spare = Vec::new();
    loop {
        let next = {
            let mut st = shared.lock();
            if !st.pending.is_empty() {
                let out = std::mem::replace(&mut st.pending, std::mem::take(&mut spare));
                // Room again: wake a writer held back by HIGH_WATER.
                if let Some(w) = st.waiter.take() {
                    if st.shutdown == Shutdown::Requested {
                        st.waiter = Some(w);
                    } else {
                        w.wake();
                    }
                }
                Next::Write(out)
            } else if st.shutdown == Shutdown::Requested {
                Next::Shutdown
            } else if shared.dropped.load(Ordering::Acquire) {
                Next::Exit
            } else {
                Next::Wait
            }
        };
        let result = match next {
            Next::Wait => {
                shared.work.notified().await;
                continue;
            }
            Next::Exit => return,
            Next::Write(mut out) => {
                let r = write_all(&shared, &mut writer, &out).await;
                // Reuse the buffer for the next burst, unless a big one left it large: idle
                // connections should not each keep hundreds of KiB.
                if out.capacity() <= KEEP_CAPACITY {
                    out.clear();
                    spare = out;
                }
                r
            }
            Next::Shutdown => {
                let r = writer.shutdown().await;
                let mut st = shared.lock();
                st.shutdown = Shutdown::Done;
                if let Some(w) = st.waiter.take() {
                    w.wake();
                }
                r
            }
        };
        if let Err(e) = result {
            let mut st = shared.lock();
            st.error = Some((e.kind(), e.to_string()));
            st.pending = Vec::new();
            if let Some(w) = st.waiter.take() {
                w.wake();
            }
            return;
        }
    }
}

/// Writes all of `buf`; once the stream is dropped, gives up after [`DRAIN_TIMEOUT`].
async fn write_all<W: AsyncWrite + Unpin>(
    shared: &Shared,
    writer: &mut W,
    mut buf: &[u8],
) -> io::Result<()> {
    let mut deadline = None;
    while !buf.is_empty() {
        let n = match deadline {
            Some(at) => tokio::time::timeout_at(at, writer.write(buf))
                .await
                .map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        "peer did not read in time after close",
                    )
                })??,
            None => {
                // Created before the check, so a drop in between is not missed.
                let dropped = shared.dropped_notify.notified();
                if shared.dropped.load(Ordering::Acquire) {
                    deadline = Some(tokio::time::Instant::now() + DRAIN_TIMEOUT);
                    continue;
                }
                tokio::select! {
                    r = writer.write(buf) => r?,
                    () = dropped => {
                        deadline = Some(tokio::time::Instant::now() + DRAIN_TIMEOUT);
                        continue;
                    }
                }
            }
        };
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    /// A writer that records every write call and can be made to fail or stall.
    #[derive(Clone, Default)]
    struct Recorder {
        calls: Arc<StdMutex<Vec<Vec<u8>>>>,
        fail: Arc<AtomicBool>,
        stall: Arc<AtomicBool>,
        shut: Arc<AtomicBool>,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            if self.fail.load(Ordering::SeqCst) {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "reset by peer",
                )));
            }
            if self.stall.load(Ordering::SeqCst) {
                return Poll::Pending;
            }
            self.calls.lock().unwrap().push(buf.to_vec());
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.shut.store(true, Ordering::SeqCst);
            Poll::Ready(Ok(()))
        }
    }

    impl Recorder {
        fn calls(&self) -> Vec<Vec<u8>> {
            self.calls.lock().unwrap().clone()
        }
    }

    fn stream(rec: &Recorder) -> CoalescingStream<tokio::io::Empty> {
        CoalescingStream::from_parts(tokio::io::empty(), rec.clone())
    }

    #[tokio::test]
    async fn flushed_writes_of_one_poll_leave_in_one_call_in_order() {
        let rec = Recorder::default();
        let mut s = stream(&rec);
        // No await point yields to the writer task between these.
        for chunk in [&b"HEADERS"[..], b"DATA", b"TRAILERS"] {
            let wrote = futures::poll!(std::pin::pin!(s.write(chunk)));
            assert!(matches!(wrote, Poll::Ready(Ok(n)) if n == chunk.len()));
            assert!(matches!(
                futures::poll!(std::pin::pin!(s.flush())),
                Poll::Ready(Ok(()))
            ));
        }
        assert!(rec.calls().is_empty(), "nothing is written before yielding");
        tokio::task::yield_now().await;
        assert_eq!(rec.calls(), vec![b"HEADERSDATATRAILERS".to_vec()]);
        // A later burst is a separate call.
        s.write_all(b"PING").await.unwrap();
        tokio::task::yield_now().await;
        assert_eq!(rec.calls().len(), 2);
        assert_eq!(rec.calls()[1], b"PING");
    }

    #[tokio::test]
    async fn vectored_writes_are_accepted_whole() {
        let rec = Recorder::default();
        let mut s = stream(&rec);
        let parts = [
            io::IoSlice::new(b"ab"),
            io::IoSlice::new(b""),
            io::IoSlice::new(b"cde"),
        ];
        assert_eq!(s.write_vectored(&parts).await.unwrap(), 5);
        assert!(s.is_write_vectored());
        tokio::task::yield_now().await;
        assert_eq!(rec.calls(), vec![b"abcde".to_vec()]);
    }

    #[tokio::test]
    async fn writes_wait_above_the_high_water_mark() {
        let rec = Recorder::default();
        rec.stall.store(true, Ordering::SeqCst);
        let mut s = stream(&rec);
        let chunk = vec![7u8; HIGH_WATER];
        s.write_all(&chunk).await.unwrap();
        tokio::task::yield_now().await; // the writer task takes it and stalls
        s.write_all(&chunk).await.unwrap(); // pending again at the mark
        let third = futures::poll!(std::pin::pin!(s.write(b"x")));
        assert!(third.is_pending(), "must wait while the buffer is full");
    }

    #[tokio::test]
    async fn backpressure_releases_when_the_writer_catches_up() {
        let (client, mut server) = duplex(1024);
        let (_r, w) = tokio::io::split(client);
        let mut s = CoalescingStream::from_parts(tokio::io::empty(), w);
        let total = 3 * HIGH_WATER + 17;
        let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
        let sender = {
            let data = data.clone();
            tokio::spawn(async move {
                s.write_all(&data).await.unwrap();
                s.shutdown().await.unwrap();
            })
        };
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        sender.await.unwrap();
        assert_eq!(got.len(), total);
        assert!(got == data, "bytes arrive complete and in order");
    }

    #[tokio::test]
    async fn shutdown_sends_everything_first() {
        let rec = Recorder::default();
        let mut s = stream(&rec);
        s.write_all(b"last words").await.unwrap();
        s.shutdown().await.unwrap();
        assert_eq!(rec.calls(), vec![b"last words".to_vec()]);
        assert!(rec.shut.load(Ordering::SeqCst));
        let err = s.write_all(b"more").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }

    #[tokio::test]
    async fn a_write_error_surfaces_on_the_next_call() {
        let rec = Recorder::default();
        rec.fail.store(true, Ordering::SeqCst);
        let mut s = stream(&rec);
        s.write_all(b"doomed").await.unwrap();
        tokio::task::yield_now().await;
        let err = s.write_all(b"next").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(
            s.flush().await.unwrap_err().kind(),
            io::ErrorKind::ConnectionReset
        );
        assert_eq!(
            s.shutdown().await.unwrap_err().kind(),
            io::ErrorKind::ConnectionReset
        );
    }

    #[tokio::test]
    async fn dropping_still_sends_what_was_handed_over() {
        let (client, mut server) = duplex(64);
        let (_r, w) = tokio::io::split(client);
        let mut s = CoalescingStream::from_parts(tokio::io::empty(), w);
        let data = vec![3u8; 10_000];
        s.write_all(&data).await.unwrap();
        drop(s);
        let mut got = vec![0u8; data.len()];
        server.read_exact(&mut got).await.unwrap();
        assert!(got == data);
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_never_reads_cannot_keep_the_writer_alive_after_drop() {
        let rec = Recorder::default();
        rec.stall.store(true, Ordering::SeqCst);
        let mut s = stream(&rec);
        let shared = s.shared.clone();
        s.write_all(b"stuck").await.unwrap();
        tokio::task::yield_now().await;
        drop(s);
        // The writer task holds the only other reference until it gives up.
        tokio::time::sleep(DRAIN_TIMEOUT + Duration::from_millis(10)).await;
        tokio::task::yield_now().await;
        assert_eq!(Arc::strong_count(&shared), 1, "writer task exited");
    }

    #[tokio::test]
    async fn reads_pass_through() {
        let (client, mut server) = duplex(64);
        let (r, w) = tokio::io::split(client);
        let mut s = CoalescingStream::from_parts(r, w);
        server.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
    }
}
