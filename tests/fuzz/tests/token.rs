#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Fuzz target 2, token: generated `Authorization` headers sent with a valid activity in verified mode. The
//! tokens start from ones the fake OpenID server signed (valid for the activity, valid for another serviceUrl,
//! signed with wrong claims, with an unpublished key, a key endorsing another channel, no `kid`) or forged
//! (`alg: none`, HS256 keyed with the public key, tampered payloads, hostile headers: `alg` none/HS256/RS512/…,
//! `crit`, no or odd `kid`, `jku`), then are mutated: bits flipped, segments truncated, swapped, dropped,
//! duplicated or replaced by base64 garbage, padding, characters inserted (unicode, whitespace, dots), grown huge;
//! under scheme spellings from `Bearer ` to `Basic `.
//!
//! Asserted for every case: no panic; 200 only when the token in the header is byte-identical to one the fake
//! signed for this activity (the scheme word is case-insensitive and whitespace around it is not part of the
//! token); otherwise 401 or 403, with a reason, and no Connector call. And the control: an untouched valid token
//! under a canonical spelling is a 200.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use fake_teams::openid::{BotClaims, OpenIdServer, tamper_payload, unix_now, unsigned_token};
use fuzz::body::fixtures;
use fuzz::harness::{Harness, runtime};
use fuzz::run::{Target, clip};
use fuzz::words::{APP_ID, OTHER_SERVICE_URL, SERVICE_URL};
use jsonwebtoken::{Algorithm, Header};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};

/// Cases in the default `cargo test` run.
const DEFAULT_CASES: u32 = 4_000;

/// The activities' serviceUrls: a token names one of them.
const SERVICE_URLS: [&str; 2] = [SERVICE_URL, OTHER_SERVICE_URL];

/// Scheme spellings put before the token. The first three are canonical (RFC 7235: the scheme is
/// case-insensitive, then one or more spaces): an untouched valid token under them must be accepted.
const SCHEMES: &[&str] = &[
    "Bearer ",
    "bearer ",
    "BEARER  ",
    "Bearer\t",
    " Bearer ",
    "\u{3000}Bearer ",
    "Bearer\u{A0}",
    "Bearer\u{2003}",
    "Bearer",
    "Bearer,",
    "Bearer:",
    "Basic ",
    "Token ",
    "JWT ",
    "Bearerx ",
    "Bearer\n",
    "Bearer \0",
    "",
    "Bearer Bearer ",
];
const CANONICAL_SCHEMES: usize = 3;

/// What may follow the token. The first two are canonical.
const SUFFIXES: &[&str] = &[
    "", " ", "\t", "\u{3000}", " x", ",", ".", "\0", " Bearer", "\u{200B}", "=", "\r\n",
];
const CANONICAL_SUFFIXES: usize = 2;

/// Characters inserted into a token.
const INSERTS: &[&str] = &[
    " ", "\t", ".", "..", "\0", "=", "+", "/", "%", "-", "_", "\u{200B}", "\u{202E}", "é", "\u{FEFF}", "😀", "\\",
];

/// Sizes a segment is grown to.
const HUGE: &[usize] = &[4_096, 65_536, 1_048_576];

/// Hostile JOSE headers (raw JSON, so a key may appear twice). `{kid}` is the signing key's id.
const HEADERS: &[&str] = &[
    r#"{"alg":"none","typ":"JWT"}"#,
    r#"{"alg":"none","kid":"{kid}"}"#,
    r#"{"alg":"None","kid":"{kid}"}"#,
    r#"{"alg":"HS256","kid":"{kid}"}"#,
    r#"{"alg":"RS512","kid":"{kid}"}"#,
    r#"{"alg":"RS384","kid":"{kid}"}"#,
    r#"{"alg":"PS256","kid":"{kid}"}"#,
    r#"{"alg":"ES256","kid":"{kid}"}"#,
    r#"{"alg":"EdDSA","kid":"{kid}"}"#,
    r#"{"alg":"rs256","kid":"{kid}"}"#,
    r#"{"alg":"RS256 ","kid":"{kid}"}"#,
    r#"{"alg":null,"kid":"{kid}"}"#,
    r#"{"alg":["RS256"],"kid":"{kid}"}"#,
    r#"{"alg":"RS256"}"#,
    r#"{"alg":"RS256","kid":""}"#,
    r#"{"alg":"RS256","kid":null}"#,
    r#"{"alg":"RS256","kid":7}"#,
    r#"{"alg":"RS256","kid":"{kid}\u0000"}"#,
    r#"{"alg":"RS256","kid":"{kid}\ud800"}"#,
    r#"{"alg":"RS256","kid":"\u202e{kid}"}"#,
    r#"{"alg":"RS256","kid":"../../../../etc/passwd"}"#,
    r#"{"alg":"RS256","kid":"{kid}","crit":["exp"]}"#,
    r#"{"alg":"RS256","kid":"{kid}","crit":["x-unknown"],"x-unknown":1}"#,
    r#"{"alg":"RS256","kid":"{kid}","b64":false,"crit":["b64"]}"#,
    r#"{"alg":"RS256","kid":"{kid}","jku":"https://evil.example/keys"}"#,
    r#"{"alg":"RS256","kid":"{kid}","x5u":"https://evil.example/cert"}"#,
    r#"{"alg":"RS256","kid":"{kid}","jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}}"#,
    r#"{"alg":"RS256","kid":"{kid}","zip":"DEF"}"#,
    r#"{"alg":"none","alg":"RS256","kid":"{kid}"}"#,
    r#"{"alg":"RS256","alg":"HS256","kid":"{kid}"}"#,
    r#"{"alg":"RS256","kid":"{kid}","kid":"other"}"#,
    r#"{"typ":"JWT","alg":"RS256","kid":"{kid}"}"#,
    r#"[]"#,
    r#""RS256""#,
    r#"{}"#,
    r#"{"alg":"RS256","kid":"{kid}""#,
];

/// Where a base token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// Signed by the fake for activities from `SERVICE_URLS[i]`.
    Good(usize),
    /// Signed by the fake for activities from `SERVICE_URLS[i]`, with header parameters a verifier may refuse
    /// (`crit`, `jku`): a 200 is allowed, and so is a 401.
    Unusual(usize),
    /// Signed by the fake, but wrong for every activity here (claims, key, endorsement, header).
    Signed,
    /// Not signed by a published key at all.
    Forged,
}

/// The tokens the cases start from, and the ones valid for each serviceUrl.
struct Material {
    pool: Vec<(String, Origin)>,
    good: [HashSet<String>; 2],
    kid: String,
}

fn material(openid: &OpenIdServer) -> Material {
    let kid = openid.signing_kid();
    let mut pool: Vec<(String, Origin)> = Vec::new();
    let mut good: [HashSet<String>; 2] = [HashSet::new(), HashSet::new()];
    for (i, url) in SERVICE_URLS.iter().enumerate() {
        let claims = BotClaims::new(APP_ID, url).to_json();
        let mut signed = vec![
            openid.sign(&claims).unwrap(),
            openid.sign_alg(Algorithm::RS384, &claims).unwrap(),
            openid.sign_alg(Algorithm::RS512, &claims).unwrap(),
        ];
        let mut no_typ = Header::new(Algorithm::RS256);
        no_typ.typ = None;
        no_typ.kid = Some(kid.clone());
        signed.push(openid.sign_with_header(&no_typ, &claims).unwrap());
        let extra = BotClaims::new(APP_ID, url)
            .claim("appid", json!("some-app"))
            .claim("ver", json!("1.0"))
            .to_json();
        signed.push(openid.sign(&extra).unwrap());
        // Tokens signed for this activity with header parameters a verifier need not accept (RFC 7515: an
        // unknown `crit` extension makes the JWS invalid; `jku` names a key URL that must not be followed).
        let mut crit = no_typ.clone();
        crit.crit = Some(vec!["x-unknown".to_owned()]);
        crit.extras.insert("x-unknown", 1);
        let mut jku = no_typ.clone();
        jku.jku = Some("https://evil.example/keys".to_owned());
        let unusual = [
            openid.sign_with_header(&crit, &claims).unwrap(),
            openid.sign_with_header(&jku, &claims).unwrap(),
        ];
        for token in signed {
            good[i].insert(token.clone());
            pool.push((token, Origin::Good(i)));
        }
        for token in unusual {
            good[i].insert(token.clone());
            pool.push((token, Origin::Unusual(i)));
        }
    }
    let now = unix_now();
    let wrong_claims = [
        BotClaims::new("another-app", SERVICE_URL),
        BotClaims::new(APP_ID, SERVICE_URL).audience(None),
        BotClaims::new(APP_ID, SERVICE_URL).audience_json(json!([])),
        BotClaims::new(APP_ID, SERVICE_URL).audience_json(json!(7)),
        BotClaims::new(APP_ID, SERVICE_URL).audience(Some(&APP_ID.to_uppercase())),
        BotClaims::new(APP_ID, SERVICE_URL).issuer(Some("https://sts.windows.net/evil/")),
        BotClaims::new(APP_ID, SERVICE_URL).issuer(None),
        BotClaims::new(APP_ID, SERVICE_URL)
            .expires(Some(now - 3_600))
            .not_before(Some(now - 7_200)),
        BotClaims::new(APP_ID, SERVICE_URL).not_before(Some(now + 3_600)),
        BotClaims::new(APP_ID, SERVICE_URL).expires(None),
        // `expires(None)` first: the typed `exp` would otherwise replace the extra claim, and the token would be a
        // valid one (accepted, and flagged as wrong whenever it was signed in another second than the good ones).
        BotClaims::new(APP_ID, SERVICE_URL)
            .expires(None)
            .claim("exp", json!("tomorrow")),
        BotClaims::new(APP_ID, SERVICE_URL)
            .expires(None)
            .claim("exp", json!(1e300)),
        BotClaims::new(APP_ID, SERVICE_URL).service_url(None),
        BotClaims::new(APP_ID, SERVICE_URL).service_url(Some("https://smba.trafficmanager.net/amer")),
        BotClaims::new(APP_ID, SERVICE_URL).service_url(Some("https://SMBA.trafficmanager.net/amer/")),
        BotClaims::new(APP_ID, "https://smba.trafficmanager.net/teams/"),
    ];
    for claims in wrong_claims {
        pool.push((openid.sign(&claims.to_json()).unwrap(), Origin::Signed));
    }
    // An `exp` of 1e300 is a valid NumericDate (RFC 7519 allows non-integers) far in the future: a verifier may
    // accept it (ours does) or refuse it as an absurd lifetime; counted with the unusual tokens.
    let far_future = BotClaims::new(APP_ID, SERVICE_URL)
        .expires(None)
        .claim("exp", json!(1e300))
        .to_json();
    let far_future = openid.sign(&far_future).unwrap();
    good[0].insert(far_future.clone());
    pool.push((far_future, Origin::Unusual(0)));
    let claims = BotClaims::new(APP_ID, SERVICE_URL).to_json();
    // A key the JWKS does not publish; a published key that endorses only another channel (published before the
    // authenticator's first fetch); the signing key without a kid, or under another key's kid.
    let unpublished = openid.new_key(&["msteams"]);
    pool.push((unpublished.sign(Algorithm::RS256, &claims).unwrap(), Origin::Signed));
    let webchat = openid.publish_new_key(&["webchat"]);
    pool.push((webchat.sign(Algorithm::RS256, &claims).unwrap(), Origin::Signed));
    let mut no_kid = Header::new(Algorithm::RS256);
    no_kid.kid = None;
    pool.push((openid.sign_with_header(&no_kid, &claims).unwrap(), Origin::Signed));
    let mut other_kid = Header::new(Algorithm::RS256);
    other_kid.kid = Some(webchat.kid().to_owned());
    pool.push((openid.sign_with_header(&other_kid, &claims).unwrap(), Origin::Signed));
    let mut their_kid = Header::new(Algorithm::RS256);
    their_kid.kid = Some(kid.clone());
    pool.push((
        unpublished.sign_with_header(&their_kid, &claims).unwrap(),
        Origin::Forged,
    ));
    // Forgeries.
    pool.push((
        unsigned_token(&json!({"alg": "none", "typ": "JWT"}), &claims),
        Origin::Forged,
    ));
    pool.push((
        unsigned_token(&json!({"alg": "none", "kid": kid}), &claims),
        Origin::Forged,
    ));
    pool.push((openid.sign_hs256_with_public_key(&claims).unwrap(), Origin::Forged));
    let good_token = openid.sign(&claims).unwrap();
    // Valid for activities from `SERVICE_URL`: a forged header below that is byte-identical to the fake's own
    // header re-forms this very token. It equals `good[0]`'s first token only when both sets of claims were made
    // in the same second (`nbf`, `exp`), so it is listed on its own: a CI run crossed the second and flagged it.
    good[0].insert(good_token.clone());
    let other_app = BotClaims::new("another-app", SERVICE_URL).to_json();
    pool.push((tamper_payload(&good_token, &other_app), Origin::Forged));
    let far = BotClaims::new(APP_ID, SERVICE_URL)
        .expires(Some(now + 10 * 365 * 86_400))
        .to_json();
    pool.push((tamper_payload(&good_token, &far), Origin::Forged));
    let signature = good_token.rsplit('.').next().unwrap_or_default().to_owned();
    let payload = good_token.split('.').nth(1).unwrap_or_default().to_owned();
    for header in HEADERS {
        let header = header.replace("{kid}", &kid);
        let forged = format!("{}.{payload}.{signature}", URL_SAFE_NO_PAD.encode(header));
        pool.push((forged, Origin::Forged));
    }
    Material { pool, good, kid }
}

/// One mutation of a token.
#[derive(Clone, Debug)]
enum Mutation {
    /// Flips bit `bit` (0..7, so the token stays ASCII) of byte `at`.
    FlipBit {
        at: usize,
        bit: u8,
    },
    /// Keeps `keep`/256 of segment `seg`.
    Truncate {
        seg: usize,
        keep: u8,
    },
    Swap {
        a: usize,
        b: usize,
    },
    Drop {
        seg: usize,
    },
    Duplicate {
        seg: usize,
    },
    /// Replaces segment `seg` with `with`.
    Replace {
        seg: usize,
        with: Garbage,
    },
    /// Appends `=` padding to a segment.
    Pad {
        seg: usize,
        count: usize,
    },
    /// Re-encodes a segment with the standard alphabet (`+`, `/`, padding).
    Standard {
        seg: usize,
    },
    /// Inserts `INSERTS[what]` at byte `at` (on a character boundary).
    Insert {
        at: usize,
        what: usize,
    },
    /// Grows segment `seg` to `HUGE[size]` bytes.
    Huge {
        seg: usize,
        size: usize,
    },
    /// Swaps the case of every letter in segment `seg`.
    Case {
        seg: usize,
    },
}

#[derive(Clone, Debug)]
enum Garbage {
    Base64Url(String),
    Base64(String),
    /// `HEADERS[i]`, base64url-encoded.
    Header(usize),
    /// A JSON claims object, base64url-encoded.
    Claims(Value),
    Empty,
    Unicode(String),
}

#[derive(Clone, Debug)]
enum Case {
    /// No header.
    Absent,
    /// Any text as the whole header.
    Text(String),
    /// `SCHEMES[scheme]` + a token (pool entry `base`, mutated) + `SUFFIXES[suffix]`.
    Token {
        base: usize,
        mutations: Vec<Mutation>,
        scheme: usize,
        suffix: usize,
    },
}

#[derive(Clone, Debug)]
struct Input {
    /// Which serviceUrl the activity has.
    activity: usize,
    case: Case,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let seg = 0usize..4;
    let garbage = prop_oneof![
        "[A-Za-z0-9_-]{0,80}".prop_map(Garbage::Base64Url),
        "[A-Za-z0-9+/=]{0,80}".prop_map(Garbage::Base64),
        any::<usize>().prop_map(Garbage::Header),
        prop_oneof![
            Just(json!({})),
            Just(json!([])),
            Just(json!(null)),
            Just(
                json!({"aud": APP_ID, "iss": "https://api.botframework.com", "exp": 1e300, "serviceurl": SERVICE_URL})
            ),
            Just(json!({"aud": [APP_ID], "iss": "https://api.botframework.com", "exp": 4_102_444_800_i64})),
        ]
        .prop_map(Garbage::Claims),
        Just(Garbage::Empty),
        "\\PC{0,16}".prop_map(Garbage::Unicode),
    ];
    prop_oneof![
        20 => (any::<usize>(), 0u8..7).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        10 => (seg.clone(), any::<u8>()).prop_map(|(seg, keep)| Mutation::Truncate { seg, keep }),
        6 => (seg.clone(), seg.clone()).prop_map(|(a, b)| Mutation::Swap { a, b }),
        5 => seg.clone().prop_map(|seg| Mutation::Drop { seg }),
        5 => seg.clone().prop_map(|seg| Mutation::Duplicate { seg }),
        16 => (seg.clone(), garbage).prop_map(|(seg, with)| Mutation::Replace { seg, with }),
        4 => (seg.clone(), 1usize..3).prop_map(|(seg, count)| Mutation::Pad { seg, count }),
        4 => seg.clone().prop_map(|seg| Mutation::Standard { seg }),
        10 => (any::<usize>(), any::<usize>()).prop_map(|(at, what)| Mutation::Insert { at, what }),
        1 => (seg.clone(), any::<usize>()).prop_map(|(seg, size)| Mutation::Huge { seg, size }),
        3 => seg.prop_map(|seg| Mutation::Case { seg }),
    ]
}

fn input(pool: usize) -> impl Strategy<Value = Input> {
    let scheme = prop_oneof![
        6 => 0..CANONICAL_SCHEMES,
        2 => 0..SCHEMES.len(),
    ];
    let suffix = prop_oneof![
        6 => 0..CANONICAL_SUFFIXES,
        1 => 0..SUFFIXES.len(),
    ];
    let mutations = prop_oneof![
        1 => Just(Vec::new()),
        3 => prop::collection::vec(mutation(), 1..4),
    ];
    let token = (0..pool, mutations, scheme, suffix).prop_map(|(base, mutations, scheme, suffix)| Case::Token {
        base,
        mutations,
        scheme,
        suffix,
    });
    let case = prop_oneof![
        1 => Just(Case::Absent),
        3 => prop_oneof![
            "\\PC{0,64}",
            "(Bearer|bearer|Basic) [A-Za-z0-9._=+/-]{0,120}",
            prop::collection::vec(any::<u8>(), 0..96).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        ]
        .prop_map(Case::Text),
        30 => token,
    ];
    (0..SERVICE_URLS.len(), case).prop_map(|(activity, case)| Input { activity, case })
}

fn mutate(token: &str, mutation: &Mutation, material: &Material) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let n = parts.len();
    let pick = |seg: usize| seg % n;
    match mutation {
        Mutation::FlipBit { at, bit } => {
            let mut bytes = token.as_bytes().to_vec();
            if bytes.is_empty() {
                return String::new();
            }
            let at = at % bytes.len();
            if bytes[at].is_ascii() {
                bytes[at] ^= 1 << bit;
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        Mutation::Truncate { seg, keep } => {
            let part = &mut parts[pick(*seg)];
            let mut cut = part.len() * usize::from(*keep) / 256;
            while !part.is_char_boundary(cut) {
                cut -= 1;
            }
            part.truncate(cut);
        }
        Mutation::Swap { a, b } => parts.swap(pick(*a), pick(*b)),
        Mutation::Drop { seg } => {
            parts.remove(pick(*seg));
        }
        Mutation::Duplicate { seg } => {
            let at = pick(*seg);
            let copy = parts[at].clone();
            parts.insert(at, copy);
        }
        Mutation::Replace { seg, with } => {
            parts[pick(*seg)] = match with {
                Garbage::Base64Url(s) | Garbage::Base64(s) | Garbage::Unicode(s) => s.clone(),
                Garbage::Header(i) => {
                    URL_SAFE_NO_PAD.encode(HEADERS[i % HEADERS.len()].replace("{kid}", &material.kid))
                }
                Garbage::Claims(v) => URL_SAFE_NO_PAD.encode(v.to_string()),
                Garbage::Empty => String::new(),
            };
        }
        Mutation::Pad { seg, count } => parts[pick(*seg)].push_str(&"=".repeat(*count)),
        Mutation::Standard { seg } => {
            let part = &mut parts[pick(*seg)];
            if let Ok(bytes) = URL_SAFE_NO_PAD.decode(part.as_bytes()) {
                *part = STANDARD.encode(bytes);
            }
        }
        Mutation::Insert { at, what } => {
            let mut text = token.to_owned();
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.insert_str(at, INSERTS[what % INSERTS.len()]);
            return text;
        }
        Mutation::Huge { seg, size } => {
            let part = &mut parts[pick(*seg)];
            let size = HUGE[size % HUGE.len()];
            let unit = if part.is_empty() { "A".to_owned() } else { part.clone() };
            *part = unit.repeat(size / unit.len() + 1);
            let mut cut = size;
            while !part.is_char_boundary(cut) {
                cut -= 1;
            }
            part.truncate(cut);
        }
        Mutation::Case { seg } => {
            let part = &mut parts[pick(*seg)];
            *part = part
                .chars()
                .map(|c| {
                    if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect();
        }
    }
    parts.join(".")
}

/// The token in `header` under the documented grammar: optional whitespace, the scheme word `Bearer` in any
/// case, ASCII whitespace, one token, optional whitespace. `None` when the header is not of that shape.
fn token_in(header: &str) -> Option<&str> {
    let value = header.trim();
    let (scheme, rest) = value.split_once(|c: char| c.is_ascii_whitespace())?;
    let token = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(char::is_whitespace))
        .then_some(token)
}

/// A valid activity from `SERVICE_URLS[activity]` with a fresh id.
fn activity(template: &Value, activity: usize, id: u64) -> Vec<u8> {
    let mut value = template.clone();
    value["id"] = json!(format!("token-{id}"));
    value["serviceUrl"] = json!(SERVICE_URLS[activity]);
    value["text"] = json!("hello");
    serde_json::to_vec(&value).unwrap()
}

#[derive(Default)]
struct Seen {
    statuses: BTreeMap<u16, u64>,
    controls: u64,
    mutated_accepted: u64,
    /// How the tokens with `crit` / `jku` were answered.
    unusual: BTreeMap<u16, u64>,
}

#[test]
fn token() {
    let target = Target::new("token", DEFAULT_CASES);
    let rt = runtime();
    let harness = rt.block_on(Harness::verified());
    let openid = harness.openid.clone().unwrap();
    let material = material(&openid);
    let template = fixtures()
        .into_iter()
        .find(|(name, _)| name == "message_personal.json")
        .map(|(_, v)| v)
        .expect("message_personal.json");
    let unusual: HashSet<&str> = material
        .pool
        .iter()
        .filter(|(_, origin)| matches!(origin, Origin::Unusual(_)))
        .map(|(t, _)| t.as_str())
        .collect();
    let seen = RefCell::new(Seen::default());
    let ids = std::cell::Cell::new(0u64);
    let report = target.run(input(material.pool.len()), |input: Input| {
        ids.set(ids.get() + 1);
        let body = activity(&template, input.activity, ids.get());
        let (header, control) = match &input.case {
            Case::Absent => (None, false),
            Case::Text(text) => (Some(text.clone()), false),
            Case::Token {
                base,
                mutations,
                scheme,
                suffix,
            } => {
                let (base_token, origin) = &material.pool[*base];
                let token = mutations
                    .iter()
                    .fold(base_token.clone(), |token, m| mutate(&token, m, &material));
                let control = mutations.is_empty()
                    && *origin == Origin::Good(input.activity)
                    && *scheme < CANONICAL_SCHEMES
                    && *suffix < CANONICAL_SUFFIXES;
                (
                    Some(format!("{}{token}{}", SCHEMES[*scheme], SUFFIXES[*suffix])),
                    control,
                )
            }
        };
        let answer = rt.block_on(harness.post(header.as_deref(), &body));
        let signed_for_this = header
            .as_deref()
            .and_then(token_in)
            .filter(|t| material.good[input.activity].contains(*t));
        {
            let mut seen = seen.borrow_mut();
            *seen.statuses.entry(answer.status).or_default() += 1;
            if control {
                seen.controls += 1;
            }
            if answer.status == 200 && !matches!(&input.case, Case::Token { mutations, .. } if mutations.is_empty()) {
                seen.mutated_accepted += 1;
            }
            if signed_for_this.is_some_and(|t| unusual.contains(t)) {
                *seen.unusual.entry(answer.status).or_default() += 1;
            }
        }
        let describe = || {
            format!(
                "header {:?} with an activity from {}",
                clip(header.as_deref().unwrap_or("<none>"), 600),
                SERVICE_URLS[input.activity]
            )
        };
        answer.check().map_err(|why| format!("{why}: {}", describe()))?;
        match answer.status {
            200 if signed_for_this.is_none() => Err(format!(
                "200 for a token the fake did not sign for this activity: {}",
                describe()
            )),
            200 => Ok(()),
            401 | 403 if control => Err(format!(
                "an untouched valid token was refused ({} {}): {}",
                answer.status,
                answer.reason(),
                describe()
            )),
            401 | 403 => Ok(()),
            status => Err(format!(
                "{status} ({}), not 401 or 403: {}",
                answer.reason(),
                describe()
            )),
        }
    });
    let seen = seen.into_inner();
    let histogram = |map: &BTreeMap<u16, u64>| {
        let parts: Vec<String> = map.iter().map(|(s, n)| format!("{s}×{n}")).collect();
        parts.join(" ")
    };
    report.finish(&format!(
        "statuses: {}; untouched valid tokens (must be 200): {}; mutated headers accepted (each byte-identical to a \
         signed token): {}; valid tokens with crit/jku headers or a far-future exp answered: {}",
        histogram(&seen.statuses),
        seen.controls,
        seen.mutated_accepted,
        histogram(&seen.unusual)
    ));
}
