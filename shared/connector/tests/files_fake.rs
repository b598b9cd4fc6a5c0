#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The file transfers of the real [`HttpConnector`] against a raw loopback HTTP server that records each request
//! as it arrives (so a test sees exactly which headers went where), with the token from the fake Teams service:
//!
//! - a body without `Content-Length`, streamed in chunks past the cap, is refused as `TooLarge`;
//! - a redirect answered to a request that carried the bot's token is not followed (the token never reaches the
//!   redirect's target); a tokenless download follows it;
//! - a token goes with a Connector attachment URL on the serviceUrl's host, not with a pre-authenticated one.
//!
//! `cargo test -p connector --test files_fake`

use connector::{ConnectorConfig, FileError, FileSource, HttpConnector};
use fake_teams::FakeTeams;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request the raw server received: its request line and whether it carried an `Authorization` header.
#[derive(Clone, Debug)]
struct Seen {
    line: String,
    authorized: bool,
}

/// Serves each request with `answer(path)` (a whole raw HTTP response); answers its base URL and the record.
async fn raw_server(answer: fn(&str) -> Vec<Vec<u8>>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let line = text.lines().next().unwrap_or_default().to_owned();
                let authorized = text
                    .lines()
                    .any(|l| l.to_ascii_lowercase().starts_with("authorization:"));
                let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
                record.lock().unwrap().push(Seen { line, authorized });
                for part in answer(&path) {
                    if socket.write_all(&part).await.is_err() {
                        return; // the client stopped reading
                    }
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

/// 64 chunks of 64 KiB (4 MiB) without a `Content-Length` for `/big`; a redirect to `/small` for `/redirect`;
/// 5 bytes for anything else.
fn answers(path: &str) -> Vec<Vec<u8>> {
    match path {
        "/amer/big" => {
            let mut parts =
                vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec()];
            for _ in 0..64 {
                let mut chunk = format!("{:x}\r\n", 64 * 1024).into_bytes();
                chunk.extend(std::iter::repeat_n(b'z', 64 * 1024));
                chunk.extend_from_slice(b"\r\n");
                parts.push(chunk);
            }
            parts.push(b"0\r\n\r\n".to_vec());
            parts
        }
        "/amer/redirect" => vec![
            b"HTTP/1.1 302 Found\r\nLocation: /amer/small\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
        ],
        _ => vec![b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello".to_vec()],
    }
}

/// A client whose token comes from the fake Teams service and whose allowlist holds `service_url`.
async fn client(service_url: &str) -> (FakeTeams, HttpConnector) {
    let fake = FakeTeams::start().await.unwrap();
    let mut vars = fake.env();
    for (k, v) in &mut vars {
        if k == "BOT_ALLOWED_SERVICE_URLS" {
            *v = service_url.to_owned();
        }
    }
    let config = ConnectorConfig::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        .expect("configuration");
    (fake, HttpConnector::new(&config).unwrap())
}

#[tokio::test]
async fn a_chunked_body_past_the_cap_is_refused_as_too_large() {
    let (base, seen) = raw_server(answers).await;
    let service = format!("{base}/amer/");
    let (_fake, connector) = client(&service).await;
    let got = connector
        .download_file(
            &service,
            &format!("{base}/amer/big"),
            FileSource::PreAuthenticated,
            100 * 1024,
        )
        .await;
    assert!(matches!(got, Err(FileError::TooLarge { limit: 102_400 })), "{got:?}");
    let small = connector
        .download_file(&service, &format!("{base}/amer/small"), FileSource::PreAuthenticated, 5)
        .await
        .unwrap();
    assert_eq!(&small[..], b"hello");
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_redirect_is_never_followed_with_the_token() {
    let (base, seen) = raw_server(answers).await;
    let service = format!("{base}/amer/");
    let (_fake, connector) = client(&service).await;
    let redirect = format!("{base}/amer/redirect");
    let got = connector
        .download_file(&service, &redirect, FileSource::Connector, 1024)
        .await;
    assert!(matches!(got, Err(FileError::Status { status: 302 })), "{got:?}");
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "the redirect was followed: {seen:?}");
        assert!(
            seen[0].authorized,
            "a Connector URL on the serviceUrl's host carries the token"
        );
    }
    // Without a token the redirect is followed, and neither hop carries one.
    let body = connector
        .download_file(&service, &redirect, FileSource::PreAuthenticated, 1024)
        .await
        .unwrap();
    assert_eq!(&body[..], b"hello");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen[1..].iter().all(|s| !s.authorized), "{seen:?}");
    assert!(seen[2].line.starts_with("GET /amer/small "), "{seen:?}");
}

#[tokio::test]
async fn nothing_is_sent_to_a_refused_url() {
    let (base, seen) = raw_server(answers).await;
    let service = format!("{base}/amer/");
    let (_fake, connector) = client(&service).await;
    for url in ["ftp://127.0.0.1/x", "http://user:pw@127.0.0.1/x", "not a url"] {
        let got = connector
            .download_file(&service, url, FileSource::Connector, 1024)
            .await;
        assert!(matches!(got, Err(FileError::Refused { .. })), "{url}: {got:?}");
    }
    // A serviceUrl that is not allowlisted opens neither its token nor plain http.
    let forged = "http://127.0.0.1:9/amer/";
    let got = connector
        .download_file(forged, &format!("{base}/amer/small"), FileSource::Connector, 1024)
        .await;
    assert!(matches!(got, Err(FileError::Refused { .. })), "{got:?}");
    let put = connector
        .upload_file(forged, &format!("{base}/amer/up"), bytes::Bytes::from_static(b"x"))
        .await;
    assert!(matches!(put, Err(FileError::Refused { .. })), "{put:?}");
    assert!(seen.lock().unwrap().is_empty());
}
