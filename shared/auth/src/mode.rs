//! Anonymous mode: allowed only with an empty app id on a loopback address, as the SDKs allow for emulators.

use std::net::SocketAddr;

/// How inbound requests are authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// No inbound token is checked (and no outbound token is sent): local development only.
    Anonymous,
    /// Every request needs a valid Bot Framework token.
    Verified,
}

/// Why the process must not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Empty `MICROSOFT_APP_ID` while bound to a non-loopback address.
    #[error(
        "MICROSOFT_APP_ID is empty, which means anonymous mode (inbound tokens are not checked); that is allowed \
         only on a loopback address such as 127.0.0.1:3978, but the server binds {0}. Set MICROSOFT_APP_ID, or \
         bind to a loopback address"
    )]
    AnonymousNotLoopback(SocketAddr),
    /// Empty `MICROSOFT_APP_ID` where there is no bind address (a Lambda).
    #[error(
        "MICROSOFT_APP_ID is empty: anonymous mode is only for the local devserver on a loopback address; a \
         deployed function needs MICROSOFT_APP_ID"
    )]
    AnonymousWithoutBindAddress,
}

impl AuthMode {
    /// [`AuthMode::Verified`] when `app_id` is set; [`AuthMode::Anonymous`] when it is empty (or blank) and
    /// `bind_addr` is a loopback address. Lambdas pass `None`: they are never anonymous.
    ///
    /// # Errors
    /// An empty app id with a non-loopback bind address, or with none.
    pub fn resolve(app_id: &str, bind_addr: Option<SocketAddr>) -> Result<Self, StartupError> {
        if !app_id.trim().is_empty() {
            return Ok(Self::Verified);
        }
        match bind_addr {
            Some(addr) if addr.ip().to_canonical().is_loopback() => Ok(Self::Anonymous),
            Some(addr) => Err(StartupError::AnonymousNotLoopback(addr)),
            None => Err(StartupError::AnonymousWithoutBindAddress),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Option<SocketAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn an_app_id_always_means_verified() {
        assert_eq!(
            AuthMode::resolve("app", addr("0.0.0.0:3978")).unwrap(),
            AuthMode::Verified
        );
        assert_eq!(AuthMode::resolve("app", None).unwrap(), AuthMode::Verified);
    }

    #[test]
    fn anonymous_only_on_loopback() {
        assert_eq!(
            AuthMode::resolve("", addr("127.0.0.1:3978")).unwrap(),
            AuthMode::Anonymous
        );
        assert_eq!(
            AuthMode::resolve(" ", addr("127.8.9.1:1")).unwrap(),
            AuthMode::Anonymous
        );
        assert_eq!(AuthMode::resolve("", addr("[::1]:3978")).unwrap(), AuthMode::Anonymous);
        assert_eq!(
            AuthMode::resolve("", addr("[::ffff:127.0.0.1]:3978")).unwrap(),
            AuthMode::Anonymous
        );
        let err = AuthMode::resolve("", addr("0.0.0.0:3978")).unwrap_err();
        assert!(matches!(err, StartupError::AnonymousNotLoopback(_)));
        assert!(err.to_string().contains("0.0.0.0:3978"), "{err}");
        assert!(matches!(
            AuthMode::resolve("", addr("192.168.1.5:80")),
            Err(StartupError::AnonymousNotLoopback(_))
        ));
        assert!(matches!(
            AuthMode::resolve("", None),
            Err(StartupError::AnonymousWithoutBindAddress)
        ));
    }
}
