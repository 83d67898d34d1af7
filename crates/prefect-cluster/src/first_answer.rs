//! One TLS connection per command: requests sent while the first is unanswered wait for its
//! answer.
//!
//! hyper's pool learns that a connection speaks HTTP/2 only when its TLS handshake has chosen
//! the protocol (ALPN); until then, each request opens a connection of its own. A command
//! starts with several requests at once (the server's API versions, the release lock), and
//! each handshake (a key exchange, the server's certificate checked, often a client
//! certificate's signature) costs both sides more than the request it carries. Waiting for the
//! first answer costs one round trip; afterwards every request shares that connection when it
//! speaks HTTP/2, and a server that answers in HTTP/1.1 gets a connection per request in
//! flight, as before.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use tokio::sync::watch;
use tower::{Layer, Service, ServiceExt};

/// The layer; its clones share one "first answer" for every request of a client.
#[derive(Clone)]
pub(crate) struct FirstAnswer {
    shared: Arc<Shared>,
}

struct Shared {
    first_sent: AtomicBool,
    /// `true` once the first request has its answer, or failed, or was given up.
    answered: watch::Sender<bool>,
}

impl FirstAnswer {
    pub(crate) fn new() -> FirstAnswer {
        FirstAnswer {
            shared: Arc::new(Shared {
                first_sent: AtomicBool::new(false),
                answered: watch::Sender::new(false),
            }),
        }
    }
}

impl<S> Layer<S> for FirstAnswer {
    type Service = FirstAnswerService<S>;

    fn layer(&self, inner: S) -> FirstAnswerService<S> {
        FirstAnswerService { inner, shared: self.shared.clone() }
    }
}

#[derive(Clone)]
pub(crate) struct FirstAnswerService<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// Marks the first request answered when its future ends, however it ends (an answer, an
/// error, or dropped by a timeout).
struct Answered(Arc<Shared>);

impl Drop for Answered {
    fn drop(&mut self) {
        self.0.answered.send_replace(true);
    }
}

type Answer<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, R> Service<R> for FirstAnswerService<S>
where
    S: Service<R> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Answer<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        if !self.shared.first_sent.swap(true, Ordering::AcqRel) {
            let answered = Answered(self.shared.clone());
            let answer = self.inner.call(request);
            return Box::pin(async move {
                let result = answer.await;
                drop(answered);
                result
            });
        }
        if *self.shared.answered.borrow() {
            return Box::pin(self.inner.call(request));
        }
        // The service made ready is the one that must take the request: it goes with it, and a
        // clone stays for the next one (tower's way of calling later).
        let fresh = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, fresh);
        let mut answered = self.shared.answered.subscribe();
        Box::pin(async move {
            // The sender lives in `shared`, which this service holds: it cannot close first.
            let _ = answered.wait_for(|answered| *answered).await;
            ready.ready().await?.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::{
        convert::Infallible,
        sync::{Arc, Mutex},
        time::Duration,
    };

    use tower::{Layer, Service, ServiceExt, service_fn};

    use super::FirstAnswer;

    /// A service that logs when each request starts and ends, answering after `delay`.
    fn logging(
        log: Arc<Mutex<Vec<String>>>,
    ) -> impl Service<(u32, Duration), Response = u32, Error = Infallible, Future: Send>
    + Clone
    + Send
    + 'static {
        service_fn(move |(n, delay): (u32, Duration)| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(format!("start {n}"));
                tokio::time::sleep(delay).await;
                log.lock().unwrap().push(format!("end {n}"));
                Ok(n)
            }
        })
    }

    #[tokio::test]
    async fn requests_sent_before_the_first_answer_wait_for_it_then_run_together() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let service = FirstAnswer::new().layer(logging(log.clone()));
        let calls = [(1, 30), (2, 10), (3, 10)].map(|(n, ms)| {
            let mut service = service.clone();
            async move { service.ready().await.unwrap().call((n, Duration::from_millis(ms))).await }
        });
        let answers = futures::future::join_all(calls).await;
        assert_eq!(answers, [Ok(1), Ok(2), Ok(3)]);
        let log = log.lock().unwrap().clone();
        assert_eq!(log[..2], ["start 1", "end 1"], "the first ran alone: {log:?}");
        assert_eq!(log[2..4], ["start 2", "start 3"], "the later ones together: {log:?}");
    }

    #[tokio::test]
    async fn a_first_request_given_up_lets_the_others_go() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut service = FirstAnswer::new().layer(logging(log.clone()));
        let first = service.ready().await.unwrap().call((1, Duration::from_secs(3600)));
        let second = service.ready().await.unwrap().call((2, Duration::ZERO));
        let gave_up = tokio::time::timeout(Duration::from_millis(10), first).await;
        assert!(gave_up.is_err(), "the first request answered: {gave_up:?}");
        let second = tokio::time::timeout(Duration::from_secs(5), second).await;
        assert_eq!(second.ok(), Some(Ok(2)), "the second waits on a dropped first");
    }

    #[tokio::test]
    async fn after_the_first_answer_requests_go_at_once() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut service = FirstAnswer::new().layer(logging(log.clone()));
        let first = service.ready().await.unwrap().call((1, Duration::ZERO)).await;
        assert_eq!(first, Ok(1));
        let (a, b) = tokio::join!(
            service.clone().oneshot((2, Duration::from_millis(20))),
            service.clone().oneshot((3, Duration::ZERO)),
        );
        assert_eq!((a, b), (Ok(2), Ok(3)));
        let log = log.lock().unwrap().clone();
        assert_eq!(log, ["start 1", "end 1", "start 2", "start 3", "end 3", "end 2"]);
    }
}
