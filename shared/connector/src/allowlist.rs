//! The serviceUrl allowlist: where our bearer token may be sent.
//!
//! Only `https://` to the Teams Connector hosts (exact host, default port), plus configured prefixes compared on
//! the parsed URL (scheme, host, port, path prefix on a segment boundary). Plain `http://` is accepted only for
//! loopback hosts. Anything ambiguous (userinfo, percent-encoded or otherwise non-canonical hosts, backslashes,
//! whitespace, a query or fragment) is refused.

use std::collections::HashMap;
use std::net::IpAddr;
use url::{Host, Url};

/// The Teams Connector hosts our token may always be sent to (over https, default port).
pub const TEAMS_HOSTS: [&str; 4] = [
    "smba.trafficmanager.net",
    "smba.infra.gcc.teams.microsoft.com",
    "smba.infra.gov.teams.microsoft.us",
    "smba.infra.dod.teams.microsoft.us",
];

/// A serviceUrl (or a configured prefix) that was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("serviceUrl refused ({reason}): {url}")]
pub struct RefusedUrl {
    /// The URL as given (it carries no secret: userinfo is refused, never used).
    pub url: String,
    /// Why it was refused.
    pub reason: &'static str,
}

/// One configured prefix, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Prefix {
    scheme: String,
    host: Host<String>,
    port: Option<u16>,
    path: String,
}

/// The allowlist: Teams hosts plus configured prefixes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceUrlAllowlist {
    /// Any loopback URL (http or https) is allowed too: only for anonymous mode, where no token is ever sent.
    any_loopback: bool,
    prefixes: Vec<Prefix>,
    allowed: Memo,
}

/// The most allowed serviceUrls remembered (a deployment sees a handful: one per Teams region it serves).
const MEMO_ENTRIES: usize = 64;

/// serviceUrls already found allowed, with their parsed form: every inbound activity and every Connector call
/// checks one, and the answer depends on the string alone. Refusals are not remembered (so junk cannot crowd
/// it); when full it starts over.
#[derive(Default)]
struct Memo(std::sync::Mutex<HashMap<String, Url>>);

impl Memo {
    fn get(&self, service_url: &str) -> Option<Url> {
        self.0.lock().ok()?.get(service_url).cloned()
    }

    fn put(&self, service_url: &str, url: &Url) {
        if let Ok(mut memo) = self.0.lock() {
            if memo.len() >= MEMO_ENTRIES {
                memo.clear();
            }
            memo.insert(service_url.to_owned(), url.clone());
        }
    }
}

impl Clone for Memo {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for Memo {
    /// A cache: two allowlists are equal when their prefixes are.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Memo {}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memo")
    }
}

impl ServiceUrlAllowlist {
    /// The Teams hosts plus `prefixes` (e.g. `http://127.0.0.1:3979/amer/`).
    ///
    /// # Errors
    /// [`RefusedUrl`] when a prefix is not a clean absolute URL, or is plain http to a non-loopback host.
    pub fn new<S: AsRef<str>>(prefixes: &[S]) -> Result<Self, RefusedUrl> {
        let prefixes = prefixes
            .iter()
            .map(|p| {
                let url = parse_clean(p.as_ref())?;
                Ok(Prefix {
                    scheme: url.scheme().to_owned(),
                    host: url
                        .host()
                        .map(|h| h.to_owned())
                        .ok_or_else(|| refused(p.as_ref(), "no host"))?,
                    port: url.port_or_known_default(),
                    path: url.path().to_owned(),
                })
            })
            .collect::<Result<Vec<_>, RefusedUrl>>()?;
        Ok(Self {
            any_loopback: false,
            prefixes,
            allowed: Memo::default(),
        })
    }

    /// The same list that also allows every loopback serviceUrl (`http://localhost:56150/_connector`, ...). For
    /// anonymous local runs only, where no token is ever attached (a local emulator such as Microsoft's Agents
    /// Playground mocks the Connector on a loopback port); whenever a token exists the list stays strict.
    #[must_use]
    pub fn allowing_loopback(mut self) -> Self {
        self.any_loopback = true;
        self.allowed = Memo::default();
        self
    }

    /// Parses a comma-separated list (as in `BOT_ALLOWED_SERVICE_URLS`); empty items are ignored.
    ///
    /// # Errors
    /// As [`ServiceUrlAllowlist::new`].
    pub fn from_csv(list: &str) -> Result<Self, RefusedUrl> {
        let items: Vec<&str> = list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        Self::new(&items)
    }

    /// The parsed URL when `service_url` may receive our token.
    ///
    /// # Errors
    /// [`RefusedUrl`] when it may not; nothing must then be sent.
    pub fn check(&self, service_url: &str) -> Result<Url, RefusedUrl> {
        if let Some(url) = self.allowed.get(service_url) {
            return Ok(url);
        }
        let url = self.decide(service_url)?;
        self.allowed.put(service_url, &url);
        Ok(url)
    }

    fn decide(&self, service_url: &str) -> Result<Url, RefusedUrl> {
        let url = parse_clean(service_url)?;
        let Some(host) = url.host() else {
            return Err(refused(service_url, "no host"));
        };
        if url.scheme() == "https"
            && url.port().is_none()
            && matches!(&host, Host::Domain(d) if TEAMS_HOSTS.contains(d))
        {
            return Ok(url);
        }
        if self.any_loopback && is_loopback(&host) {
            return Ok(url);
        }
        let port = url.port_or_known_default();
        let allowed = self.prefixes.iter().any(|p| {
            p.scheme == url.scheme()
                && p.host == host.to_owned()
                && p.port == port
                && path_has_prefix(url.path(), &p.path)
        });
        if allowed {
            Ok(url)
        } else {
            Err(refused(service_url, "not an allowed Teams host or configured prefix"))
        }
    }
}

fn refused(url: &str, reason: &'static str) -> RefusedUrl {
    RefusedUrl {
        url: url.chars().take(200).collect(),
        reason,
    }
}

/// `path` starts with `prefix` on a segment boundary.
fn path_has_prefix(path: &str, prefix: &str) -> bool {
    if prefix.ends_with('/') {
        return path.starts_with(prefix);
    }
    path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

/// Whether plain http may be used to `host`.
pub(crate) fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

/// Parses `raw` and refuses anything non-canonical in the authority.
fn parse_clean(raw: &str) -> Result<Url, RefusedUrl> {
    if raw.chars().any(|c| c == '\\' || c.is_whitespace() || c.is_control()) {
        return Err(refused(raw, "backslash, whitespace or control character"));
    }
    let url = Url::parse(raw).map_err(|_| refused(raw, "not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            if !url.host().as_ref().is_some_and(is_loopback) {
                return Err(refused(raw, "plain http is allowed only to a loopback host"));
            }
        }
        _ => return Err(refused(raw, "scheme is not https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused(raw, "userinfo"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(refused(raw, "query or fragment"));
    }
    // The authority as written must be exactly the parsed host and port (no percent-encoding, no `@`, no
    // numeric forms rewritten by the parser, no explicit default port).
    let after_scheme = raw.get(url.scheme().len() + 3..).unwrap_or_default();
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or_default();
    let mut canonical = url.host_str().unwrap_or_default().to_owned();
    if let Some(port) = url.port() {
        canonical.push_str(&format!(":{port}"));
    }
    if !raw[..url.scheme().len()].eq_ignore_ascii_case(url.scheme())
        || raw.get(url.scheme().len()..url.scheme().len() + 3) != Some("://")
        || !authority.eq_ignore_ascii_case(&canonical)
        || canonical.ends_with('.')
    {
        return Err(refused(raw, "non-canonical host"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> ServiceUrlAllowlist {
        ServiceUrlAllowlist::from_csv("http://127.0.0.1:3979/amer/, https://proxy.example.com/teams").unwrap()
    }

    #[test]
    fn loopback_is_allowed_only_when_asked_for_anonymous_mode() {
        let playground = "http://localhost:56150/_connector";
        let strict = ServiceUrlAllowlist::default();
        assert!(
            strict.check(playground).is_err(),
            "a token may exist: loopback needs a configured prefix"
        );
        let anonymous = ServiceUrlAllowlist::default().allowing_loopback();
        for u in [
            playground,
            "http://127.0.0.1:3979/x/",
            "https://[::1]:8443/",
            "http://LOCALHOST:1/",
        ] {
            assert!(anonymous.check(u).is_ok(), "{u}");
        }
        // Still nothing but loopback and the Teams hosts.
        for u in [
            "http://example.com/",
            "https://evil.example/",
            "http://10.0.0.1/",
            "http://127.0.0.1.nip.io/",
        ] {
            assert!(anonymous.check(u).is_err(), "{u}");
        }
        assert!(anonymous.check("https://smba.trafficmanager.net/amer/").is_ok());
    }

    #[test]
    fn teams_hosts_are_allowed_over_https() {
        let l = ServiceUrlAllowlist::default();
        for u in [
            "https://smba.trafficmanager.net/amer/",
            "https://smba.trafficmanager.net/teams/",
            "https://SMBA.trafficmanager.net/emea/",
            "https://smba.infra.gcc.teams.microsoft.com/",
            "https://smba.infra.gov.teams.microsoft.us/x/",
            "https://smba.infra.dod.teams.microsoft.us/",
        ] {
            assert!(l.check(u).is_ok(), "{u}");
        }
    }

    #[test]
    fn remembered_answers_match_fresh_ones() {
        let l = list();
        let urls: Vec<String> = (0..MEMO_ENTRIES * 2 + 3)
            .map(|i| format!("https://smba.trafficmanager.net/r{i}/"))
            .chain([
                "https://smba.trafficmanager.net.evil.com/".to_owned(),
                "http://127.0.0.1:3979/amer/x".to_owned(),
            ])
            .collect();
        for round in 0..3 {
            for u in &urls {
                let fresh = l.decide(u);
                assert_eq!(l.check(u), fresh, "{u} in round {round}");
            }
            assert!(l.allowed.0.lock().unwrap().len() <= MEMO_ENTRIES);
        }
        assert!(l.check("https://smba.trafficmanager.net.evil.com/").is_err());
        assert_eq!(l.clone(), l);
    }

    #[test]
    fn tricks_are_refused() {
        let l = list();
        for u in [
            "https://smba.trafficmanager.net.evil.com/",
            "http://smba.trafficmanager.net/",
            "https://user@smba.trafficmanager.net/",
            "https://user:pw@smba.trafficmanager.net/",
            "https://evil.com@smba.trafficmanager.net/",
            "https://smba.trafficmanager.net@evil.com/",
            "https://smba%2Etrafficmanager.net/",
            "https://smba.trafficmanager%2enet/",
            "https://%73mba.trafficmanager.net/",
            "https://smba.trafficmanager.net./",
            "https://smba.trafficmanager.net:443/",
            "https://smba.trafficmanager.net:8443/",
            "https:\\\\smba.trafficmanager.net\\amer\\",
            "https://evil.com\\@smba.trafficmanager.net/",
            "https://evil.com/\\smba.trafficmanager.net/",
            "https:/smba.trafficmanager.net/",
            "https:smba.trafficmanager.net/",
            " https://smba.trafficmanager.net/",
            "https://smba.trafficmanager.net/amer/?x=1",
            "https://smba.trafficmanager.net/#frag",
            "ftp://smba.trafficmanager.net/",
            "//smba.trafficmanager.net/",
            "smba.trafficmanager.net",
            "https://xn--smba-trafficmanager-net/",
            "https://smba.trafficmanager.net\u{3002}evil.com/",
            "http://127.0.0.1:3979/other/",
            "http://127.0.0.1:3980/amer/",
            "https://127.0.0.1:3979/amer/",
            "http://127.0.0.1:3979/amer",
            "http://127.0.0.1:3979/americas/",
            "http://2130706433:3979/amer/",
            "http://0x7f.0.0.1:3979/amer/",
            "https://proxy.example.com/teamsx/",
            "https://proxy.example.com/",
            "http://proxy.example.com/teams/",
            "http://10.0.0.1/",
            "",
        ] {
            assert!(l.check(u).is_err(), "{u} should be refused");
        }
    }

    #[test]
    fn configured_prefixes_match_on_parsed_parts() {
        let l = list();
        assert!(l.check("http://127.0.0.1:3979/amer/").is_ok());
        assert!(l.check("http://127.0.0.1:3979/amer/v3/").is_ok());
        assert!(l.check("https://proxy.example.com/teams").is_ok());
        assert!(l.check("https://proxy.example.com/teams/").is_ok());
        assert!(l.check("https://PROXY.example.com/teams/x/").is_ok());
        // Dot segments are resolved by the parser before comparing.
        assert!(l.check("http://127.0.0.1:3979/amer/../other/").is_err());
    }

    #[test]
    fn http_prefixes_must_be_loopback() {
        assert!(ServiceUrlAllowlist::from_csv("http://example.com/").is_err());
        assert!(ServiceUrlAllowlist::from_csv("http://localhost:1/,http://[::1]:2/,http://127.8.0.1/").is_ok());
        assert!(ServiceUrlAllowlist::from_csv("https://u@example.com/").is_err());
        let l = ServiceUrlAllowlist::from_csv("http://[::1]:2/").unwrap();
        assert!(l.check("http://[::1]:2/x/").is_ok());
    }
}
