//! A faithful fake of Microsoft's side of a Teams bot, on 127.0.0.1: OpenID metadata and JWKS with a signer for
//! inbound tokens (`openid`), the client-credentials token endpoint and the v3 Connector endpoints, with Teams'
//! rate limits, scripted faults and a record of every call.

pub mod openid;
