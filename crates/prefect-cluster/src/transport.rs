//! What one request may take, and how its failure reads: [`Deadline`] bounds each attempt (the
//! connection, the answer and its body) by the request timeout, and says a transport failure
//! as kubectl does, with the server's URL and the cause (refused, DNS, TLS, no answer in time),
//! instead of hyper's `client error (Connect)`.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use tower::{BoxError, Layer, Service};

/// A request that got no answer: the server could not be reached, or did not answer in time.
#[derive(Debug, Clone)]
pub(crate) struct NoAnswer {
    /// What happened, naming the server.
    pub(crate) reason: String,
}

impl fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for NoAnswer {}

/// What a request gets once a request has run out its timeout, until the server answers one:
/// what a command does after such a failure (record it, give the lock back) then ends within
/// seconds instead of waiting out the timeout again for each request.
const AFTER_SILENCE: Duration = Duration::from_secs(5);

/// A layer that bounds every request by `timeout` (none: no bound) and turns its transport
/// failures into [`NoAnswer`]s.
#[derive(Clone)]
pub(crate) struct Deadline {
    server: Arc<str>,
    timeout: Option<Duration>,
    /// Whether a request ran out its time and no answer came since.
    silent: Arc<AtomicBool>,
}

impl Deadline {
    pub(crate) fn new(server: &str, timeout: Option<Duration>) -> Deadline {
        Deadline { server: server.trim_end_matches('/').into(), timeout, silent: Arc::default() }
    }

    /// The time the next request gets.
    fn allowed(&self) -> Option<Duration> {
        let timeout = self.timeout?;
        Some(if self.silent.load(Ordering::Relaxed) { timeout.min(AFTER_SILENCE) } else { timeout })
    }

    fn timed_out(&self, allowed: Duration) -> BoxError {
        self.silent.store(true, Ordering::Relaxed);
        let timeout = self.timeout.unwrap_or(allowed);
        let within = if allowed < timeout {
            format!(
                "{}, nor an earlier request within {} (--request-timeout)",
                go_duration(allowed),
                go_duration(timeout)
            )
        } else {
            format!("{} (--request-timeout)", go_duration(allowed))
        };
        Box::new(NoAnswer {
            reason: format!(
                "the API server at {} did not answer within {within}: it may be stopped or \
                 overloaded; try again, or give it longer with --request-timeout (0: no limit)",
                self.server
            ),
        })
    }
}

impl<S> Layer<S> for Deadline {
    type Service = DeadlineService<S>;

    fn layer(&self, inner: S) -> DeadlineService<S> {
        DeadlineService { inner, deadline: self.clone() }
    }
}

#[derive(Clone)]
pub(crate) struct DeadlineService<S> {
    inner: S,
    deadline: Deadline,
}

type Answer<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

impl<S, R, B> Service<R> for DeadlineService<S>
where
    S: Service<R, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = http::Response<TimedBody<B>>;
    type Error = BoxError;
    type Future = Answer<Self::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        let server = self.deadline.server.clone();
        self.inner.poll_ready(cx).map_err(|err| said(&server, err.into()))
    }

    fn call(&mut self, request: R) -> Self::Future {
        let answer = self.inner.call(request);
        let deadline = self.deadline.clone();
        let allowed = deadline.allowed();
        let at = allowed.map(|allowed| (Instant::now() + allowed, allowed));
        Box::pin(async move {
            let answered = match at {
                Some((at, allowed)) => tokio::time::timeout_at(at, answer)
                    .await
                    .map_err(|_elapsed| deadline.timed_out(allowed))?,
                None => answer.await,
            };
            let response = answered.map_err(|err| said(&deadline.server, err.into()))?;
            deadline.silent.store(false, Ordering::Relaxed);
            Ok(response.map(|body| TimedBody {
                body: Box::pin(body),
                sleep: at.map(|(at, allowed)| (Box::pin(tokio::time::sleep_until(at)), allowed)),
                deadline,
            }))
        })
    }
}

/// A response body that must be read whole by the request's deadline.
pub(crate) struct TimedBody<B> {
    body: Pin<Box<B>>,
    sleep: Option<(Pin<Box<Sleep>>, Duration)>,
    deadline: Deadline,
}

impl<B> Body for TimedBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, BoxError>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = this.body.as_mut().poll_frame(cx) {
            return Poll::Ready(
                frame.map(|f| f.map_err(|err| said(&this.deadline.server, err.into()))),
            );
        }
        if let Some((sleep, allowed)) = &mut this.sleep
            && sleep.as_mut().poll(cx).is_ready()
        {
            let allowed = *allowed;
            this.sleep = None;
            return Poll::Ready(Some(Err(this.deadline.timed_out(allowed))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// `error` said as kubectl says it: the server and what kept the request from it.
fn said(server: &str, error: BoxError) -> BoxError {
    if error.is::<NoAnswer>() {
        return error;
    }
    let causes = chain(&*error);
    // hyper's own words (`client error (Connect)`) say nothing its causes do not.
    let detail = causes
        .iter()
        .filter(|cause| !cause.is::<hyper_util::client::legacy::Error>())
        .map(ToString::to_string)
        .collect::<Vec<_>>();
    let detail = crate::error::one_line(&dedup(detail).join(": "));
    let io_kind = |kind: std::io::ErrorKind| {
        causes
            .iter()
            .any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == kind))
    };
    let host = server_host(server);
    let text = |needle: &str| detail.contains(needle);
    let connecting = error
        .downcast_ref::<hyper_util::client::legacy::Error>()
        .is_some_and(hyper_util::client::legacy::Error::is_connect);
    let cannot = format!("cannot connect to the API server at {server}");
    let reason = if io_kind(std::io::ErrorKind::ConnectionRefused) {
        format!(
            "{cannot}: the connection was refused ({detail}): nothing listens there; is the API \
             server running, and is the kubeconfig's server URL right?"
        )
    } else if text("dns error") {
        format!(
            "{cannot}: the host name {host} does not resolve (DNS: {}); is the \
             kubeconfig's server URL right?",
            detail.trim_start_matches("dns error: ")
        )
    } else if text("UnknownIssuer") || text("BadSignature") {
        format!(
            "{cannot}: TLS: its certificate is not signed by the certificate authority the \
             kubeconfig names ({detail}); check the cluster's certificate-authority-data (or \
             certificate-authority) in the kubeconfig"
        )
    } else if text("NotValidForName") || text("not valid for name") {
        format!(
            "{cannot}: TLS: its certificate is not valid for {host} ({detail}); use the name the \
             certificate gives, or set tls-server-name in the kubeconfig"
        )
    } else if text("corrupt message") || text("InvalidContentType") {
        format!(
            "{cannot}: TLS: the server does not speak TLS there ({detail}); if it serves plain \
             HTTP, its URL starts with http://"
        )
    } else if io_kind(std::io::ErrorKind::InvalidData) || text("invalid peer certificate") {
        format!("{cannot}: TLS: {detail}")
    } else if io_kind(std::io::ErrorKind::TimedOut) {
        format!(
            "{cannot}: the connection timed out ({detail}); is the kubeconfig's server URL \
             right, and is there a network path to it?"
        )
    } else if connecting {
        format!("{cannot}: {detail}")
    } else {
        format!("the connection to the API server at {server} failed: {detail}")
    };
    Box::new(NoAnswer { reason })
}

/// `error` and its causes, the errors an `io::Error` wraps among them (its `source` skips them).
fn chain<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut causes = Vec::new();
    let mut next = Some(error);
    while let Some(cause) = next {
        causes.push(cause);
        next = match cause.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    causes
}

/// The messages without those that repeat the next one (an `io::Error` shows its inner one's).
fn dedup(messages: Vec<String>) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for message in messages {
        if kept.last() != Some(&message) {
            kept.push(message);
        }
    }
    kept
}

/// The host of a server URL, `127.0.0.1` of `https://127.0.0.1:6443/`.
fn server_host(server: &str) -> String {
    server
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| uri.host().map(str::to_owned))
        .unwrap_or_else(|| server.to_owned())
}

/// `d` as Go writes it (kubectl's flags take it so): `30s`, `1m30s`, `1500ms`.
pub(crate) fn go_duration(d: Duration) -> String {
    if d.subsec_millis() != 0 {
        return format!("{}ms", d.as_millis());
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut text = String::new();
    if h > 0 {
        text.push_str(&format!("{h}h"));
    }
    if m > 0 {
        text.push_str(&format!("{m}m"));
    }
    if s > 0 || text.is_empty() {
        text.push_str(&format!("{s}s"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_the_flag_takes_them() {
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn a_refused_connection_names_the_server_and_the_cause() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let said = said("https://127.0.0.1:1/", Box::new(io)).to_string();
        assert!(
            said.starts_with("cannot connect to the API server at https://127.0.0.1:1/: the connection was refused"),
            "{said}"
        );
    }

    #[test]
    fn an_unknown_issuer_is_a_certificate_authority_problem() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        );
        let said = said("https://k8s.example:6443", Box::new(io)).to_string();
        assert!(
            said.contains("not signed by the certificate authority the kubeconfig names"),
            "{said}"
        );
        assert!(said.contains("(invalid peer certificate: UnknownIssuer)"), "{said}");
    }
}
