//! OpenID metadata, JWKS (keys with endorsements) and a signer for inbound Bot Framework tokens.
