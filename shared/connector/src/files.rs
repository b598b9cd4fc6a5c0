//! Files: downloading what a user attached, and uploading a file the user accepted, with the rules for where the
//! bot's token may go.
//!
//! - A Connector attachment URL (an inline picture, `{serviceUrl}v3/attachments/...`) is fetched WITH the bot's
//!   token only when its scheme, host and port are those of the conversation's serviceUrl and that serviceUrl
//!   passes the [`ServiceUrlAllowlist`]. Any other URL is fetched without a token.
//! - A pre-authenticated download URL (`file.download.info`'s `downloadUrl`) and an upload URL (`uploadInfo`'s
//!   `uploadUrl`) never get a token.
//! - Every URL is `https://`; plain `http://` only to a loopback host, and only when the conversation's serviceUrl
//!   is itself an allowlisted loopback URL (a local test setup). No userinfo, no non-canonical host.
//! - Redirects are never followed with a token; a tokenless fetch follows at most [`MAX_REDIRECTS`], each hop
//!   checked by the same rules.
//! - A body is read chunk by chunk and the read stops as soon as it passes the caller's cap: never more than the
//!   cap plus one chunk is held.

use crate::allowlist::{ServiceUrlAllowlist, is_loopback};
use crate::client::HttpConnector;
use crate::token::TokenError;
use bytes::{Bytes, BytesMut};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use url::Url;

/// The most redirects a tokenless download follows.
pub const MAX_REDIRECTS: usize = 3;

/// What kind of URL a download is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileSource {
    /// A pre-authenticated URL (`downloadUrl`): never with a token.
    PreAuthenticated,
    /// A Connector attachment URL (an inline picture's `contentUrl`): with the bot's token when, and only when, it
    /// is on the conversation's own allowlisted serviceUrl host.
    Connector,
}

/// Why a download or an upload failed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The URL is not one we fetch (not https, userinfo, a non-loopback http host, ...): nothing was sent.
    #[error("file URL refused: {reason}")]
    Refused {
        /// Why.
        reason: &'static str,
    },
    /// The file is larger than the cap: the read stopped there.
    #[error("file larger than {limit} bytes")]
    TooLarge {
        /// The cap, in bytes.
        limit: u64,
    },
    /// The host answered with an error status (or a redirect that may not be followed).
    #[error("file host answered {status}")]
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// No outbound token could be had for a Connector URL.
    #[error("outbound token: {0}")]
    Token(#[from] TokenError),
    /// The request failed before an answer, or the body broke off (the URL is not kept: it may carry a credential).
    #[error("file transfer failed")]
    Transport(#[source] reqwest::Error),
    /// This Connector cannot transfer files (an in-memory test double).
    #[error("file transfer is not supported by this Connector")]
    Unsupported,
}

/// Whether `url` may be fetched or uploaded to at all (tokenless), given the conversation's serviceUrl.
///
/// # Errors
/// [`FileError::Refused`] with the reason.
pub fn check_file_url(url: &str, service_url: &str, allowlist: &ServiceUrlAllowlist) -> Result<Url, FileError> {
    let refused = |reason| FileError::Refused { reason };
    if url.chars().any(|c| c == '\\' || c.is_whitespace() || c.is_control()) {
        return Err(refused("backslash, whitespace or control character"));
    }
    let parsed = Url::parse(url).map_err(|_| refused("not an absolute URL"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refused("userinfo"));
    }
    let Some(host) = parsed.host() else {
        return Err(refused("no host"));
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&host) && loopback_service(service_url, allowlist) => Ok(parsed),
        "http" => Err(refused("plain http (allowed only to loopback in a loopback setup)")),
        _ => Err(refused("scheme is not https")),
    }
}

/// Whether the bot's token may be attached to `url`: same scheme, host and port as `service_url`, which passes the
/// allowlist.
#[must_use]
pub fn token_may_go_to(url: &Url, service_url: &str, allowlist: &ServiceUrlAllowlist) -> bool {
    let Ok(service) = allowlist.check(service_url) else {
        return false;
    };
    url.scheme() == service.scheme()
        && url.host() == service.host()
        && url.port_or_known_default() == service.port_or_known_default()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path().starts_with(service.path())
}

fn loopback_service(service_url: &str, allowlist: &ServiceUrlAllowlist) -> bool {
    allowlist
        .check(service_url)
        .is_ok_and(|u| u.host().as_ref().is_some_and(is_loopback))
}

impl HttpConnector {
    /// Downloads `url` (of kind `source`) for a conversation at `service_url`, at most `limit` bytes.
    ///
    /// # Errors
    /// [`FileError`]: a refused URL (nothing sent), a body over `limit` ([`FileError::TooLarge`]), an error
    /// status, a token or transport failure.
    pub async fn download_file(
        &self,
        service_url: &str,
        url: &str,
        source: FileSource,
        limit: u64,
    ) -> Result<Bytes, FileError> {
        let mut next = check_file_url(url, service_url, self.allowlist())?;
        let with_token = source == FileSource::Connector && token_may_go_to(&next, service_url, self.allowlist());
        let token = if with_token { self.tokens().token().await? } else { None };
        for _ in 0..=MAX_REDIRECTS {
            let mut rb = self.http().get(next.clone());
            if let Some(t) = &token {
                rb = rb.bearer_auth(t.expose_secret());
            }
            let resp = rb.send().await.map_err(transport)?;
            let status = resp.status();
            if status.is_redirection() {
                // A token is never carried (nor re-sent) across a redirect.
                if token.is_some() {
                    return Err(FileError::Status {
                        status: status.as_u16(),
                    });
                }
                let location = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| next.join(l).ok())
                    .ok_or(FileError::Status {
                        status: status.as_u16(),
                    })?;
                next = check_file_url(location.as_str(), service_url, self.allowlist())?;
                continue;
            }
            if !status.is_success() {
                return Err(FileError::Status {
                    status: status.as_u16(),
                });
            }
            return read_capped(resp, limit).await;
        }
        Err(FileError::Status {
            status: StatusCode::LOOP_DETECTED.as_u16(),
        })
    }

    /// PUTs all of `bytes` to an upload session URL (a file consent's `uploadUrl`) in one request, with
    /// `Content-Range: bytes 0-(n-1)/n` and no token.
    ///
    /// # Errors
    /// [`FileError`]: a refused URL (nothing sent), an error status, a transport failure.
    pub async fn upload_file(&self, service_url: &str, upload_url: &str, bytes: Bytes) -> Result<(), FileError> {
        let url = check_file_url(upload_url, service_url, self.allowlist())?;
        let len = bytes.len() as u64;
        let resp = self
            .http()
            .request(Method::PUT, url)
            .header(CONTENT_RANGE, models::files::whole_content_range(len))
            .header(CONTENT_LENGTH, len)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(FileError::Status {
                status: status.as_u16(),
            })
        }
    }
}

/// A transport failure, without its URL: a pre-authenticated URL carries its own credential (`tempauth=...`), which
/// must not reach logs through the error's `Debug` or source chain.
fn transport(error: reqwest::Error) -> FileError {
    FileError::Transport(error.without_url())
}

/// Reads `resp`'s body, stopping as soon as it passes `limit`.
async fn read_capped(mut resp: reqwest::Response, limit: u64) -> Result<Bytes, FileError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(FileError::TooLarge { limit });
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(FileError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> ServiceUrlAllowlist {
        ServiceUrlAllowlist::default()
    }

    #[test]
    fn the_token_goes_only_to_the_conversations_own_allowlisted_host() {
        let teams = "https://smba.trafficmanager.net/amer/";
        let image = Url::parse("https://smba.trafficmanager.net/amer/v3/attachments/0-a/views/original").unwrap();
        assert!(token_may_go_to(&image, teams, &strict()));
        for other in [
            "https://evil.example/amer/v3/attachments/0-a/views/original",
            "https://smba.trafficmanager.net.evil.com/amer/v3/attachments/x",
            "https://smba.trafficmanager.net:8443/amer/v3/attachments/x",
            "https://smba.trafficmanager.net/emea/v3/attachments/x",
        ] {
            assert!(
                !token_may_go_to(&Url::parse(other).unwrap(), teams, &strict()),
                "{other}"
            );
        }
        // A serviceUrl that is not allowlisted gives no token to anything, not even its own host.
        let forged = "https://evil.example/amer/";
        let same = Url::parse("https://evil.example/amer/v3/attachments/x").unwrap();
        assert!(!token_may_go_to(&same, forged, &strict()));
    }

    #[test]
    fn file_urls_are_https_or_loopback_http_in_a_loopback_setup() {
        let teams = "https://smba.trafficmanager.net/amer/";
        assert!(check_file_url("https://contoso.sharepoint.com/d.aspx?tempauth=x", teams, &strict()).is_ok());
        for bad in [
            "http://contoso.sharepoint.com/x",
            "http://127.0.0.1:1/x",
            "ftp://contoso/x",
            "file:///etc/passwd",
            "https://u:p@contoso.sharepoint.com/x",
            "https://contoso.sharepoint.com\\@evil/x",
            "/relative",
        ] {
            assert!(
                matches!(check_file_url(bad, teams, &strict()), Err(FileError::Refused { .. })),
                "{bad}"
            );
        }
        let local = ServiceUrlAllowlist::from_csv("http://127.0.0.1:3979/amer/").unwrap();
        let service = "http://127.0.0.1:3979/amer/";
        assert!(check_file_url("http://127.0.0.1:4000/files/x", service, &local).is_ok());
        assert!(check_file_url("http://10.0.0.1/x", service, &local).is_err());
        // A loopback serviceUrl that is not allowlisted does not open plain http.
        assert!(check_file_url("http://127.0.0.1:4000/files/x", service, &strict()).is_err());
    }
}
