//! Copies of the stream records a function reports as failed, for `infra/redrive`
//! (docs/decisions/2026-11-30-redrive.md): the [`FailedRecords`] port, its S3 adapter [`S3FailedRecords`] and an
//! in-memory one, [`MemoryFailedRecords`], for tests.
//!
//! A record is kept as `<FAILED_RECORDS_PREFIX><SequenceNumber>.json` in `FAILED_RECORDS_BUCKET`, its JSON as the
//! batch delivered it; each retry of the record writes the same key again. Without `FAILED_RECORDS_BUCKET` (the
//! devserver, a local run) nothing is kept ([`from_env`] answers `None`).
//!
//! The S3 adapter is one `PutObject` over `reqwest`, signed with `aws-sigv4` (both already in the functions through
//! the AWS SDK and the Connector client), with the credentials and region of the AWS SDK's default configuration:
//! the functions call S3 for nothing else, and `aws-sdk-s3` would add about 2 MB to each zip and minutes of
//! compilation for this one request.

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials as _, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode,
};
use aws_smithy_runtime_api::client::identity::Identity;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// The bucket failed records go to; unset or empty = none are kept.
pub const BUCKET_ENV: &str = "FAILED_RECORDS_BUCKET";
/// The function's prefix in it (`welcome/`, `outbox/` in the template).
pub const PREFIX_ENV: &str = "FAILED_RECORDS_PREFIX";

/// Where a stream function keeps a copy of each record it reports as failed, so the record can be replayed after the
/// stream has forgotten it (24 h).
#[async_trait]
pub trait FailedRecords: Send + Sync + std::fmt::Debug {
    /// Keeps `record` (one element of the batch's `Records`, as delivered) under its sequence number, replacing
    /// the copy an earlier attempt kept.
    ///
    /// # Errors
    /// [`KeepError`] when the copy could not be written.
    async fn keep(&self, sequence: &str, record: &Value) -> Result<(), KeepError>;

    /// Where the copy of the record `sequence` goes (for logs), e.g. `s3://<bucket>/welcome/<sequence>.json`.
    fn location(&self, sequence: &str) -> String;
}

/// Why a failed record could not be kept.
#[derive(Debug, thiserror::Error)]
pub enum KeepError {
    /// No AWS region or credentials could be had.
    #[error("AWS configuration: {0}")]
    Setup(String),
    /// S3 refused the write (after the retries, for a status worth retrying).
    #[error("S3 answered {status}{}", if .code.is_empty() { String::new() } else { format!(" {}", .code) })]
    Refused { status: u16, code: String },
    /// S3 could not be reached, or did not answer in time (after the retries).
    #[error("S3 could not be reached: {0}")]
    Transport(String),
}

/// The adapter the environment names: [`S3FailedRecords`] when `FAILED_RECORDS_BUCKET` is set, else `None`.
#[must_use]
pub fn from_env() -> Option<Arc<dyn FailedRecords>> {
    S3FailedRecords::from_env().map(|s3| Arc::new(s3) as Arc<dyn FailedRecords>)
}

/// Attempts of one `PutObject` (the AWS SDKs' standard retry mode also makes 3).
const ATTEMPTS: u32 = 3;
/// The wait before the second attempt; the third waits four times as long.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// One attempt's limit, so a slow S3 cannot hold the invocation (120 s) for long.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Cached credentials are refreshed this long before they expire.
const CREDENTIALS_MARGIN: Duration = Duration::from_secs(300);

/// Failed records in S3: one `PutObject` per record (path-style to `AWS_ENDPOINT_URL_S3` when set, else to
/// `https://<bucket>.s3.<region>.amazonaws.com/`), signed with SigV4. The AWS configuration (region, credentials)
/// is loaded at the first write, not at cold start.
pub struct S3FailedRecords {
    bucket: String,
    prefix: String,
    endpoint: Option<String>,
    aws: tokio::sync::OnceCell<Aws>,
    credentials: Mutex<Option<Credentials>>,
}

struct Aws {
    provider: SharedCredentialsProvider,
    region: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for S3FailedRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3FailedRecords")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl S3FailedRecords {
    /// Records go to `bucket` under `prefix`, through `endpoint` (path-style) when given.
    #[must_use]
    pub fn new(bucket: impl Into<String>, prefix: impl Into<String>, endpoint: Option<String>) -> Self {
        Self {
            bucket: bucket.into(),
            prefix: prefix.into(),
            endpoint: endpoint
                .map(|e| e.trim_end_matches('/').to_owned())
                .filter(|e| !e.is_empty()),
            aws: tokio::sync::OnceCell::new(),
            credentials: Mutex::new(None),
        }
    }

    /// `FAILED_RECORDS_BUCKET`, `FAILED_RECORDS_PREFIX` and the S3 endpoint the AWS SDKs would use
    /// (`AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, neither when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`);
    /// `None` without a bucket.
    #[must_use]
    pub fn from_env() -> Option<Self> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let bucket = var(BUCKET_ENV)?;
        let ignore_endpoints =
            var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let endpoint = if ignore_endpoints {
            None
        } else {
            var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL"))
        };
        Some(Self::new(bucket, var(PREFIX_ENV).unwrap_or_default(), endpoint))
    }

    /// The same, with `sdk`'s region and credentials instead of the default configuration loaded at the first write.
    ///
    /// # Errors
    /// [`KeepError::Setup`] when `sdk` has no region or no credentials provider.
    pub fn with_sdk(self, sdk: &aws_config::SdkConfig) -> Result<Self, KeepError> {
        let aws = Aws::from_sdk(sdk)?;
        let _ = self.aws.set(aws);
        Ok(self)
    }

    /// The object key of the record `sequence`.
    #[must_use]
    pub fn key(&self, sequence: &str) -> String {
        format!("{}{sequence}.json", self.prefix)
    }

    /// The URL a `PutObject` of `key` goes to in `region`.
    #[must_use]
    pub fn url(&self, region: &str, key: &str) -> String {
        let key = encode_key(key);
        match &self.endpoint {
            Some(endpoint) => format!("{endpoint}/{}/{key}", self.bucket),
            None => {
                let suffix = if region.starts_with("cn-") {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                if self.bucket.contains('.') {
                    // A dotted name does not match the wildcard certificate of the virtual host.
                    format!("https://s3.{region}.{suffix}/{}/{key}", self.bucket)
                } else {
                    format!("https://{}.s3.{region}.{suffix}/{key}", self.bucket)
                }
            }
        }
    }

    async fn aws(&self) -> Result<&Aws, KeepError> {
        self.aws
            .get_or_try_init(|| async {
                let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                Aws::from_sdk(&sdk)
            })
            .await
    }

    /// The provider's credentials, cached until shortly before they expire (the SDK config's provider does not
    /// cache; in Lambda it reads the environment, elsewhere it may call a metadata endpoint).
    async fn credentials(&self, aws: &Aws) -> Result<Credentials, KeepError> {
        let now = SystemTime::now();
        if let Ok(cached) = self.credentials.lock()
            && let Some(credentials) = cached.as_ref()
            && credentials
                .expiry()
                .is_none_or(|expiry| expiry > now + CREDENTIALS_MARGIN)
        {
            return Ok(credentials.clone());
        }
        let credentials = aws
            .provider
            .provide_credentials()
            .await
            .map_err(|e| KeepError::Setup(format!("no credentials: {e}")))?;
        if let Ok(mut cached) = self.credentials.lock() {
            *cached = Some(credentials.clone());
        }
        Ok(credentials)
    }

    fn forget_credentials(&self) {
        if let Ok(mut cached) = self.credentials.lock() {
            *cached = None;
        }
    }
}

impl Aws {
    fn from_sdk(sdk: &aws_config::SdkConfig) -> Result<Self, KeepError> {
        let region = sdk
            .region()
            .map(|r| r.as_ref().to_owned())
            .ok_or_else(|| KeepError::Setup("no AWS region (AWS_REGION)".into()))?;
        let provider = sdk
            .credentials_provider()
            .ok_or_else(|| KeepError::Setup("no credentials provider".into()))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(ATTEMPT_TIMEOUT)
            .user_agent(concat!("teams-bot-rs-failed-records/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| KeepError::Setup(format!("HTTP client: {e}")))?;
        Ok(Self { provider, region, http })
    }
}

#[async_trait]
impl FailedRecords for S3FailedRecords {
    async fn keep(&self, sequence: &str, record: &Value) -> Result<(), KeepError> {
        let body = record.to_string().into_bytes();
        let aws = self.aws().await?;
        let url = self.url(&aws.region, &self.key(sequence));
        let mut last = KeepError::Transport("no attempt made".into());
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(FIRST_BACKOFF * 4u32.pow(attempt - 1)).await;
            }
            let credentials = self.credentials(aws).await?;
            let signed = sign_put(&url, &body, credentials, &aws.region, SystemTime::now())?;
            let mut request = aws
                .http
                .put(&url)
                .header(http::header::CONTENT_TYPE, CONTENT_TYPE)
                .body(body.clone());
            for (name, value) in signed {
                request = request.header(name, value);
            }
            let error = match request.send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status().as_u16();
                    let code = error_code(&response.text().await.unwrap_or_default());
                    let retry = match (status, code.as_str()) {
                        (429 | 500 | 502 | 503 | 504, _) => true,
                        // Credentials that expired under us, a clock or a request S3 found too slow: sign again.
                        (_, "ExpiredToken" | "TokenRefreshRequired" | "RequestTimeTooSkewed" | "RequestTimeout") => {
                            self.forget_credentials();
                            true
                        }
                        _ => false,
                    };
                    let error = KeepError::Refused { status, code };
                    if !retry {
                        return Err(error);
                    }
                    error
                }
                Err(e) => KeepError::Transport(crate::edge::stream::error_chain(&e)),
            };
            tracing::debug!(attempt, error = %error, "failed-record copy attempt failed");
            last = error;
        }
        Err(last)
    }

    fn location(&self, sequence: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.key(sequence))
    }
}

const CONTENT_TYPE: &str = "application/json";

/// The SigV4 headers of a `PutObject` of `body` to `url` (already percent-encoded) with the `Content-Type`
/// [`CONTENT_TYPE`]: `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` (with a session token) and
/// `authorization`. S3's rules: the path signed as sent (not encoded twice, not normalized) and the payload's
/// SHA-256 in `x-amz-content-sha256`.
fn sign_put(
    url: &str,
    body: &[u8],
    credentials: Credentials,
    region: &str,
    time: SystemTime,
) -> Result<Vec<(&'static str, String)>, KeepError> {
    let identity = Identity::from(credentials);
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| KeepError::Setup(format!("signing: {e}")))?
        .into();
    let headers = [("content-type", CONTENT_TYPE)];
    let signable = SignableRequest::new("PUT", url, headers.into_iter(), SignableBody::Bytes(body))
        .map_err(|e| KeepError::Setup(format!("signing {url}: {e}")))?;
    let (instructions, _signature) = aws_sigv4::http_request::sign(signable, &params)
        .map_err(|e| KeepError::Setup(format!("signing: {e}")))?
        .into_parts();
    let (headers, _params) = instructions.into_parts();
    Ok(headers
        .into_iter()
        .map(|header| (header.name(), header.value().to_owned()))
        .collect())
}

/// An S3 object key as a URL path: every byte but the unreserved characters and `/` percent-encoded (what S3's
/// SigV4 canonical URI expects, and what the request must then carry).
fn encode_key(key: &str) -> String {
    let mut encoded = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The `<Code>` of an S3 error document (`AccessDenied`, `NoSuchBucket`, `SlowDown`, ...), or empty.
fn error_code(body: &str) -> String {
    body.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.trim().chars().take(64).collect())
        .unwrap_or_default()
}

/// Failed records in memory, for tests: what was kept, by key (`<prefix><sequence>.json`); it can be told to
/// fail every write.
#[derive(Debug, Default)]
pub struct MemoryFailedRecords {
    prefix: String,
    records: Mutex<BTreeMap<String, Value>>,
    failing: AtomicBool,
}

impl MemoryFailedRecords {
    /// Records kept under `prefix`.
    #[must_use]
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            ..Self::default()
        }
    }

    /// Makes every later write fail (`true`) or succeed.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// What is kept, by key.
    #[must_use]
    pub fn records(&self) -> BTreeMap<String, Value> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl FailedRecords for MemoryFailedRecords {
    async fn keep(&self, sequence: &str, record: &Value) -> Result<(), KeepError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(KeepError::Refused {
                status: 403,
                code: "AccessDenied".into(),
            });
        }
        if let Ok(mut records) = self.records.lock() {
            records.insert(format!("{}{sequence}.json", self.prefix), record.clone());
        }
        Ok(())
    }

    fn location(&self, sequence: &str) -> String {
        format!("memory://{}{sequence}.json", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(token: Option<&str>) -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            token.map(str::to_owned),
            None,
            "test",
        )
    }

    /// 2026-11-30T12:00:00Z.
    fn noon() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_040_000)
    }

    fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> &'a str {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }

    /// The expected values were computed with botocore 1.44's `S3SigV4Auth` (the signer boto3 and the AWS CLI use)
    /// for the same request, credentials and time: an independent implementation agrees on every byte.
    #[test]
    fn a_put_is_signed_as_botocore_signs_it() {
        let body = br#"{"eventID":"e1"}"#;
        let path_style = S3FailedRecords::new("failed-records-test", "welcome/", Some("http://127.0.0.1:4566/".into()));
        let url = path_style.url("us-east-1", &path_style.key("4960000000000000000000001"));
        assert_eq!(
            url,
            "http://127.0.0.1:4566/failed-records-test/welcome/4960000000000000000000001.json"
        );
        let headers = sign_put(&url, body, credentials(Some("SESSIONTOKEN")), "us-east-1", noon()).unwrap();
        assert_eq!(header(&headers, "x-amz-date"), "20261130T120000Z");
        assert_eq!(header(&headers, "x-amz-security-token"), "SESSIONTOKEN");
        assert_eq!(
            header(&headers, "x-amz-content-sha256"),
            "138216dd3257011f4d765d3d6180c5e9fc685dbb1cf7a619c49068f8774a7d98"
        );
        assert_eq!(
            header(&headers, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261130/us-east-1/s3/aws4_request, \
             SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, \
             Signature=c9af1988854467bcd4edcc394407d58749ff17e7d79f0777a713f02f3b45ef8d"
        );

        let virtual_host = S3FailedRecords::new("failed-records-test", "welcome/", None);
        let url = virtual_host.url("eu-west-1", &virtual_host.key("4960000000000000000000001"));
        assert_eq!(
            url,
            "https://failed-records-test.s3.eu-west-1.amazonaws.com/welcome/4960000000000000000000001.json"
        );
        let headers = sign_put(&url, body, credentials(None), "eu-west-1", noon()).unwrap();
        assert_eq!(header(&headers, "x-amz-security-token"), "");
        assert!(
            header(&headers, "authorization").ends_with(
                "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, \
                 Signature=fbcff59515399112c56a946d56c9d38067eb8983fc7e1d217b4984ce6dfed8d9"
            ),
            "{headers:?}"
        );

        // A prefix with characters a URL path must encode: encoded once, and signed as sent.
        let odd = S3FailedRecords::new("failed-records-test", "odd prefix$/", None);
        let url = odd.url("eu-west-1", &odd.key("1"));
        assert_eq!(
            url,
            "https://failed-records-test.s3.eu-west-1.amazonaws.com/odd%20prefix%24/1.json"
        );
        let headers = sign_put(&url, b"{}", credentials(None), "eu-west-1", noon()).unwrap();
        assert!(
            header(&headers, "authorization")
                .ends_with("Signature=3f6688d2b42ff5b1938eaf633b7433368e36bfdee66e40ffd1c6a0d6c63afecc"),
            "{headers:?}"
        );
    }

    #[test]
    fn urls_follow_the_partition_and_dotted_names() {
        let dotted = S3FailedRecords::new("records.example.com", "outbox/", None);
        assert_eq!(
            dotted.url("us-east-1", "outbox/7.json"),
            "https://s3.us-east-1.amazonaws.com/records.example.com/outbox/7.json"
        );
        let china = S3FailedRecords::new("records", "", None);
        assert_eq!(
            china.url("cn-north-1", "7.json"),
            "https://records.s3.cn-north-1.amazonaws.com.cn/7.json"
        );
        assert_eq!(china.location("7"), "s3://records/7.json");
    }

    #[test]
    fn s3_error_codes_are_read_from_the_error_document() {
        let body = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
        assert_eq!(error_code(body), "AccessDenied");
        assert_eq!(error_code("gateway timeout"), "");
        let refused = KeepError::Refused {
            status: 403,
            code: "AccessDenied".into(),
        };
        assert_eq!(refused.to_string(), "S3 answered 403 AccessDenied");
    }

    #[tokio::test]
    async fn memory_keeps_by_key_and_can_fail() {
        let memory = MemoryFailedRecords::new("welcome/");
        let record = serde_json::json!({"eventID": "e1", "dynamodb": {"SequenceNumber": "100"}});
        memory.keep("100", &record).await.unwrap();
        memory.keep("100", &record).await.unwrap();
        assert_eq!(memory.records().len(), 1, "a retry overwrites");
        assert_eq!(memory.records()["welcome/100.json"], record);
        memory.set_failing(true);
        assert!(memory.keep("200", &record).await.is_err());
        assert_eq!(memory.records().len(), 1);
    }
}
