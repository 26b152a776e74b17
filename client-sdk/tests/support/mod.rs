//! A tiny in-process HTTP/1.1 responder for tests: records each request and answers it
//! with whatever the test's handler returns (one request per connection).

#![allow(dead_code)] // Each test binary uses a different part of it.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path, still percent-encoded.
    pub path: String,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn query_values(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// The answer to a request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: body.to_string(),
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            content_type: "text/plain",
            body: body.to_owned(),
        }
    }

    pub fn no_content() -> Self {
        Self::text(204, "")
    }
}

pub struct FakeServer {
    /// `http://127.0.0.1:{port}`
    pub base: String,
    pub requests: mpsc::UnboundedReceiver<Recorded>,
}

impl FakeServer {
    /// A server answering every request with `handler(&request)`.
    pub async fn start<H>(handler: H) -> Self
    where
        H: Fn(&Recorded) -> Reply + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, requests) = mpsc::unbounded_channel();
        let handler = Arc::new(handler);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let handler = Arc::clone(&handler);
                let tx = tx.clone();
                tokio::spawn(async move { serve(stream, &*handler, &tx).await });
            }
        });
        Self { base, requests }
    }

    /// A server answering every request with `reply`.
    pub async fn always(reply: Reply) -> Self {
        Self::start(move |_| reply.clone()).await
    }

    /// The next request received (waits for it).
    pub async fn next_request(&mut self) -> Recorded {
        self.requests.recv().await.expect("server running")
    }

    /// Requests already received, without waiting.
    pub fn received(&mut self) -> Vec<Recorded> {
        std::iter::from_fn(|| self.requests.try_recv().ok()).collect()
    }
}

/// Reads one request, records it (before answering, so a client that got its answer
/// knows the request is recorded) and writes the handler's reply.
async fn serve(
    mut stream: TcpStream,
    handler: &(dyn Fn(&Recorded) -> Reply + Sync),
    tx: &mpsc::UnboundedSender<Recorded>,
) -> Option<()> {
    let mut buf = Vec::new();
    let header_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let url = url::Url::parse(&format!("http://fake{target}")).ok()?;
    let recorded = Recorded {
        method,
        path: url.path().to_owned(),
        query: url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        headers,
        body,
    };
    let reply = handler(&recorded);
    let _ = tx.send(recorded);
    let response = if reply.status == 204 {
        "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n".to_owned()
    } else {
        format!(
            "HTTP/1.1 {} Fake\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
            reply.status,
            reply.content_type,
            reply.body.len(),
            reply.body
        )
    };
    stream.write_all(response.as_bytes()).await.ok()?;
    stream.shutdown().await.ok()
}
