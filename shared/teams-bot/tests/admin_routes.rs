#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The devserver's admin routes (`/api/notify`, `/api/tick`) from a real HTTP client, with the headers a browser, a
//! DNS-rebinding page and a dev tunnel send (issue 16, F1): each must be refused even with the right token; a
//! local client with the token is served; the token is `BOT_ADMIN_TOKEN` or a random one in a private file.

use reqwest::StatusCode;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use teams_bot::devserver::{ADMIN_TOKEN_FILE, Config, Devserver, Runtime};

struct Running {
    addr: SocketAddr,
    token: String,
    token_file: Option<PathBuf>,
    http: reqwest::Client,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start(admin_token: Option<&str>) -> Running {
    let dir = std::env::temp_dir().join(format!("admin-routes-{}-{}", std::process::id(), fastrand::u64(..)));
    let mut vars: HashMap<&str, String> = HashMap::new();
    vars.insert("BIND_ADDR", "127.0.0.1:0".to_owned());
    vars.insert("STATE_PATH", dir.join("store.redb").display().to_string());
    if let Some(token) = admin_token {
        vars.insert("BOT_ADMIN_TOKEN", token.to_owned());
    }
    let config = Config::from_lookup(Runtime::Devserver, |k| vars.get(k).cloned()).unwrap();
    let server = Devserver::start(config, teams_bot::NoBot).await.unwrap();
    let addr = server.local_addr();
    let token_file = server.admin_token_file().map(PathBuf::from);
    let token = match (&token_file, admin_token) {
        (Some(file), _) => std::fs::read_to_string(file).unwrap(),
        (None, Some(token)) => token.to_owned(),
        (None, None) => panic!("no admin token"),
    };
    tokio::spawn(server.run_until(std::future::pending()));
    Running {
        addr,
        token,
        token_file,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        _dir: TempDir(dir),
    }
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POST `/api/tick` with the right token and `headers`.
    async fn tick(&self, headers: &[(&str, &str)]) -> StatusCode {
        let mut request = self.http.post(self.url("/api/tick")).bearer_auth(&self.token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap().status()
    }

    /// POST `/api/notify` with the right token, `content_type` and an operation for an unknown conversation.
    async fn notify(&self, content_type: &str) -> (StatusCode, String) {
        let answer = self
            .http
            .post(self.url("/api/notify"))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(r#"{"to": {"conversation": {"id": "a:nobody"}}, "message": {"text": "hi"}}"#)
            .send()
            .await
            .unwrap();
        (answer.status(), answer.text().await.unwrap())
    }
}

#[tokio::test]
async fn the_token_is_required_and_a_random_one_is_written_for_the_owner_only() {
    let server = start(None).await;
    let file = server
        .token_file
        .clone()
        .expect("a token file when BOT_ADMIN_TOKEN is unset");
    assert_eq!(file.file_name().unwrap(), ADMIN_TOKEN_FILE);
    assert_eq!(file.parent(), Some(server._dir.0.as_path()), "beside the store file");
    assert_eq!(server.token.len(), 64);
    assert!(server.token.chars().all(|c| c.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "readable by its owner only");
    }
    let tick = server.url("/api/tick");
    let no_token = server.http.post(&tick).send().await.unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    let wrong = server
        .http
        .post(&tick)
        .bearer_auth("0".repeat(64))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let basic = server
        .http
        .post(&tick)
        .basic_auth("admin", Some(&server.token))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.tick(&[]).await, StatusCode::OK);
    // A second start makes a new token: the old one no longer works there.
    let again = start(None).await;
    assert_ne!(again.token, server.token);
}

#[tokio::test]
async fn the_configured_token_is_used_and_no_file_is_written() {
    let server = start(Some("configured-admin-token")).await;
    assert!(server.token_file.is_none());
    assert!(!server._dir.0.join(ADMIN_TOKEN_FILE).exists());
    assert_eq!(server.tick(&[]).await, StatusCode::OK);
}

#[tokio::test]
async fn what_a_browser_page_sends_is_refused_even_with_the_token() {
    let server = start(None).await;
    // A cross-site fetch (no-cors, text/plain: no preflight) from any web page.
    let cross_site = [
        ("origin", "https://attacker.example"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-mode", "no-cors"),
    ];
    assert_eq!(server.tick(&cross_site).await, StatusCode::FORBIDDEN);
    assert_eq!(server.tick(&[("origin", "null")]).await, StatusCode::FORBIDDEN);
    assert_eq!(
        server.tick(&[("sec-fetch-site", "cross-site")]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        server.tick(&[("sec-fetch-site", "same-site")]).await,
        StatusCode::FORBIDDEN
    );
    // What a local tool (curl) or a same-origin request sends is fine.
    assert_eq!(server.tick(&[("sec-fetch-site", "same-origin")]).await, StatusCode::OK);
    assert_eq!(server.tick(&[("sec-fetch-site", "none")]).await, StatusCode::OK);
    // notify: a body a page can send without a preflight (text/plain, form) is refused; JSON is served.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let (status, reason) = server.notify(content_type).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{content_type}: {reason}");
    }
    let (status, body) = server.notify("application/json; charset=utf-8").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "served (an unknown conversation): {body}"
    );
}

#[tokio::test]
async fn a_rebinding_host_and_a_tunnel_are_refused() {
    let server = start(None).await;
    let port = server.addr.port().to_string();
    // DNS rebinding: the page's own name in Host.
    let rebound = format!("attacker.example:{port}");
    assert_eq!(server.tick(&[("host", &rebound)]).await, StatusCode::FORBIDDEN);
    assert_eq!(
        server.tick(&[("host", "127.0.0.1.nip.io")]).await,
        StatusCode::FORBIDDEN
    );
    // Tunnels (ngrok, devtunnel) and proxies add forwarding headers.
    for header in [
        ("x-forwarded-for", "203.0.113.7"),
        ("x-forwarded-host", "abc.ngrok-free.app"),
        ("forwarded", "for=203.0.113.7;host=abc.devtunnels.ms"),
    ] {
        assert_eq!(server.tick(&[header]).await, StatusCode::FORBIDDEN, "{header:?}");
    }
    // Every loopback name, any port.
    for host in ["localhost", "localhost:9", "127.0.0.1:3978", "[::1]:3978"] {
        assert_eq!(server.tick(&[("host", host)]).await, StatusCode::OK, "{host}");
    }
}

#[tokio::test]
async fn the_messaging_endpoint_and_health_need_no_admin_token() {
    let server = start(None).await;
    let health = server.http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // The webhook has its own rules (here anonymous mode): a malformed activity is a 400, not a 401/403.
    let messages = server
        .http
        .post(server.url("/api/messages"))
        .header("origin", "https://attacker.example")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(messages.status(), StatusCode::BAD_REQUEST);
}
