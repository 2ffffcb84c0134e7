//! The daemons' operator endpoint: a deliberately tiny HTTP/1.0 responder
//! for Prometheus scrapes (`/metrics`), JSON state and the odd operator
//! command. One connection at a time, each with a short deadline and a
//! bounded request, so a slow or hostile client cannot starve the daemon or
//! grow its memory. It reads the request line only: no bodies, no
//! keep-alive. A web framework would be a large dependency for three paths
//! on a loopback port.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::timeout;

/// Requests longer than this (request line and headers) are cut off.
pub const MAX_REQUEST: usize = 4096;
/// How long a client has to send its request and read the answer.
pub const DEADLINE: Duration = Duration::from_secs(2);

/// What a handler sees of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path with its query, as sent.
    pub path: String,
    /// Whether the client is on this host (loopback, v4-mapped included):
    /// operator commands may require it.
    pub local: bool,
}

/// A handler's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status line text, e.g. `200 OK`.
    pub status: &'static str,
    /// Content type.
    pub content_type: &'static str,
    /// Body.
    pub body: String,
}

impl Response {
    /// 200 with Prometheus' text exposition format.
    pub fn metrics(body: String) -> Self {
        Self {
            status: "200 OK",
            content_type: "text/plain; version=0.0.4",
            body,
        }
    }

    /// 200 with a JSON body.
    pub fn json(body: String) -> Self {
        Self {
            status: "200 OK",
            content_type: "application/json",
            body,
        }
    }

    /// Any status with a plain-text message.
    pub fn text(status: &'static str, body: impl Into<String>) -> Self {
        Self {
            status,
            content_type: "text/plain",
            body: body.into(),
        }
    }

    /// 404.
    pub fn not_found() -> Self {
        Self::text("404 Not Found", "not found\n")
    }
}

/// Parses the request line of `buf` (`METHOD PATH ...`).
pub fn parse_request_line(buf: &[u8]) -> (String, String) {
    let line = String::from_utf8_lossy(buf);
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let path = words.next().unwrap_or("").to_string();
    (method, path)
}

fn is_local(peer: SocketAddr) -> bool {
    match peer.ip() {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
        IpAddr::V4(v4) => v4.is_loopback(),
    }
}

/// Serves `handler` on `listener` until `stop` changes (or forever, when
/// there is no `stop`). Connection errors are logged and forgotten.
pub async fn serve<F>(listener: TcpListener, mut stop: Option<watch::Receiver<bool>>, handler: F)
where
    F: Fn(&Request) -> Response,
{
    loop {
        let conn = match stop.as_mut() {
            Some(stop) => tokio::select! {
                c = listener.accept() => c,
                _ = stop.changed() => break,
            },
            None => listener.accept().await,
        };
        let Ok((mut s, peer)) = conn else {
            // Out of descriptors, say: do not spin on it.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let r = timeout(DEADLINE, async {
            let mut buf = Vec::with_capacity(512);
            let mut chunk = [0u8; 512];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
                let n = s.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let (method, path) = parse_request_line(&buf);
            let req = Request { method, path, local: is_local(peer) };
            let resp = handler(&req);
            let head = format!(
                "HTTP/1.0 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                resp.status,
                resp.content_type,
                resp.body.len()
            );
            s.write_all(head.as_bytes()).await?;
            s.write_all(resp.body.as_bytes()).await?;
            s.shutdown().await
        })
        .await;
        match r {
            Ok(Err(e)) => tracing::warn!("http connection from {peer}: {e}"),
            Err(_) => tracing::warn!("http connection from {peer}: timed out"),
            Ok(Ok(())) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line_is_split_into_method_and_path() {
        assert_eq!(
            parse_request_line(b"POST /drain?ma=::1 HTTP/1.0\r\n\r\n"),
            ("POST".to_string(), "/drain?ma=::1".to_string())
        );
        assert_eq!(parse_request_line(b""), (String::new(), String::new()));
        assert_eq!(
            parse_request_line(b"\xff\xfe GET"),
            ("\u{fffd}\u{fffd}".to_string(), "GET".to_string())
        );
    }

    #[test]
    fn loopback_and_v4_mapped_loopback_are_local_others_not() {
        assert!(is_local("[::1]:9".parse().unwrap()));
        assert!(is_local("[::ffff:127.0.0.1]:9".parse().unwrap()));
        assert!(is_local("127.0.0.1:9".parse().unwrap()));
        assert!(!is_local("[2001:db8::1]:9".parse().unwrap()));
        assert!(!is_local("[::ffff:192.0.2.1]:9".parse().unwrap()));
    }

    #[tokio::test]
    async fn serves_the_handlers_answer_and_survives_a_silent_client() {
        let l = TcpListener::bind("[::1]:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = watch::channel(false);
        let server = tokio::spawn(serve(l, Some(rx), |r: &Request| {
            if r.path == "/metrics" && r.local {
                Response::metrics("up 1\n".into())
            } else {
                Response::not_found()
            }
        }));
        // A client that never sends: the next one is still served after
        // the deadline.
        let _silent = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").await.unwrap();
        let mut answer = String::new();
        c.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.0 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nup 1\n"), "{answer}");
        tx.send(true).unwrap();
        server.await.unwrap();
    }
}
