//! DynamoDB adapter specifics: faults map to typed, retryable errors; the table shape; stream-ready items; the
//! request count of the webhook's hot path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::types::{AttributeValue, StreamViewType, TimeToLiveStatus};
use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use store::{
    Conversations, DynamoStore, InboundOutcome, RequestCounter, StoreError, StreamItem, TeamInstall, Timestamp,
    WelcomeClaims,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const URL_A: &str = "https://smba.trafficmanager.net/amer/";
const URL_B: &str = "https://smba.trafficmanager.net/emea/";

/// A client for `endpoint` with dummy credentials and at most `attempts` attempts per request.
fn client_for(endpoint: &str, attempts: u32) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::for_tests())
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::standard().with_max_attempts(attempts))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A local HTTP server answering every request with `status` and a DynamoDB JSON error of type `error_type`.
async fn failing_server(status: u16, error_type: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = socket.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some(end) = text.find("\r\n\r\n") else { continue };
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() < end + 4 + length {
                        continue;
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                    let body =
                        format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{error_type}","message":"injected"}}"#);
                    let response = format!(
                        "HTTP/1.1 {status} Err\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-errortype: {error_type}\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    buf.clear();
                }
            });
        }
    });
    (format!("http://{addr}"), hits)
}

#[tokio::test]
async fn unreachable_endpoint_is_unavailable_and_retryable() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let store = DynamoStore::new(client_for(&format!("http://127.0.0.1:{closed}"), 2), "t");
    let reference = personal_reference("a:1", "29:u", "aad", URL_A);
    let err = store.record_inbound(&reference, Timestamp::now()).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.is_retryable(), "the webhook answers 503");
    assert!(std::error::Error::source(&err).is_some(), "the SDK error is kept");
    let err = store.team_install("19:t", Timestamp::now()).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn throttling_is_a_typed_retryable_error() {
    for error_type in ["ThrottlingException", "ProvisionedThroughputExceededException"] {
        let (endpoint, hits) = failing_server(400, error_type).await;
        let store = DynamoStore::new(client_for(&endpoint, 1), "t");
        let reference = personal_reference("a:1", "29:u", "aad", URL_A);
        let err = store.record_inbound(&reference, Timestamp::now()).await.unwrap_err();
        assert!(matches!(err, StoreError::Throttled(_)), "{error_type}: {err:?}");
        assert!(err.is_retryable());
        assert_eq!(hits.load(Ordering::SeqCst), 1, "one attempt configured, one request");
    }
}

#[tokio::test]
async fn server_errors_are_unavailable_and_client_errors_are_not_retryable() {
    let (endpoint, _) = failing_server(500, "InternalServerError").await;
    let store = DynamoStore::new(client_for(&endpoint, 1), "t");
    let err = store.team_install("19:t", Timestamp::now()).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

    let (endpoint, _) = failing_server(400, "ResourceNotFoundException").await;
    let store = DynamoStore::new(client_for(&endpoint, 1), "t");
    let err = store.team_install("19:t", Timestamp::now()).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn create_table_has_the_template_shape() {
    if dynamo_endpoint("create_table_has_the_template_shape").is_none() {
        return;
    }
    let store = fresh_dynamo(aws_sdk_dynamodb::Client::new(&sdk_config().await)).await;
    let client = store.client();
    let described = client
        .describe_table()
        .table_name(store.table_name())
        .send()
        .await
        .unwrap();
    let table = described.table().unwrap();
    let keys: Vec<_> = table
        .key_schema()
        .iter()
        .map(|k| k.attribute_name().to_owned())
        .collect();
    assert_eq!(keys, ["pk", "sk"]);
    let gsi = &table.global_secondary_indexes()[0];
    assert_eq!(gsi.index_name(), Some("gsi1"));
    let gsi_keys: Vec<_> = gsi.key_schema().iter().map(|k| k.attribute_name().to_owned()).collect();
    assert_eq!(gsi_keys, ["gsi1pk", "gsi1sk"]);
    let stream = table.stream_specification().unwrap();
    assert!(stream.stream_enabled());
    assert_eq!(stream.stream_view_type(), Some(&StreamViewType::NewAndOldImages));
    let ttl = client
        .describe_time_to_live()
        .table_name(store.table_name())
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("expiresAt"));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    store.delete_table().await.unwrap();
}

#[tokio::test]
async fn claim_items_are_self_contained_for_the_stream() {
    if dynamo_endpoint("claim_items_are_self_contained_for_the_stream").is_none() {
        return;
    }
    let store = fresh_dynamo(aws_sdk_dynamodb::Client::new(&sdk_config().await)).await;
    let claim = TeamInstall {
        team_id: "19:team@thread.skype".into(),
        team_name: Some("Team".into()),
        tenant_id: tenant(),
        service_url: URL_A.into(),
        conversation_id: "19:team@thread.skype".into(),
        bot: bot(),
        installed_by: Some(models::ChannelAccount::new("29:installer", None)),
        claimed_at: Timestamp(1_800_000_000),
    };
    assert!(store.claim_team_install(&claim, Timestamp::now()).await.unwrap().won());
    let raw = store
        .client()
        .get_item()
        .table_name(store.table_name())
        .key("pk", AttributeValue::S("TEAM#19:team@thread.skype".into()))
        .key("sk", AttributeValue::S("INSTALL".into()))
        .send()
        .await
        .unwrap();
    let image = raw.item().unwrap();
    assert_eq!(image.get("kind"), Some(&AttributeValue::S("team-install".into())));
    assert_eq!(image.get("serviceUrl"), Some(&AttributeValue::S(URL_A.into())));
    assert_eq!(image.get("tenantId"), Some(&AttributeValue::S("tenant-1".into())));
    assert!(matches!(image.get("bot"), Some(AttributeValue::M(_))));
    let json = store::attributes_to_json(image).unwrap();
    let decoded = StreamItem::from_image("team-install", &json).unwrap();
    assert_eq!(decoded, Some(StreamItem::TeamInstall(claim)));
    store.delete_table().await.unwrap();
}

#[tokio::test]
async fn hot_path_is_one_request_per_inbound_activity() {
    let Some(endpoint) = dynamo_endpoint("hot_path_is_one_request_per_inbound_activity") else {
        return;
    };
    let counter = RequestCounter::new();
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk_config().await)
        .endpoint_url(endpoint)
        .interceptor(counter.clone())
        .build();
    let store = fresh_dynamo(aws_sdk_dynamodb::Client::from_conf(config)).await;
    let now = Timestamp::now();
    let mut reference = personal_reference("a:hot", "29:u", "aad", URL_A);

    counter.reset();
    assert!(matches!(store.record_inbound(&reference, now).await.unwrap(), InboundOutcome::New(r) if r.created));
    let first = counter.by_operation();
    assert_eq!(
        counter.total(),
        3,
        "new conversation: failed check, read, write: {first:?}"
    );

    for i in 0..5 {
        reference.activity_id = Some(format!("act-steady-{i}").into());
        counter.reset();
        assert!(matches!(store.record_inbound(&reference, now).await.unwrap(), InboundOutcome::New(r) if !r.wrote()));
        assert_eq!(
            counter.total(),
            1,
            "steady state is one request: {:?}",
            counter.by_operation()
        );
        assert_eq!(counter.by_operation().get("TransactWriteItems"), Some(&1));
    }

    counter.reset();
    assert_eq!(
        store.record_inbound(&reference, now).await.unwrap(),
        InboundOutcome::Duplicate
    );
    assert_eq!(counter.total(), 1, "a duplicate is one request");

    reference.activity_id = Some("act-moved".into());
    reference.service_url = URL_B.into();
    counter.reset();
    assert!(
        matches!(store.record_inbound(&reference, now).await.unwrap(), InboundOutcome::New(r) if r.service_url_changed)
    );
    assert_eq!(counter.total(), 3, "moved serviceUrl: failed check, read, write");
    store.delete_table().await.unwrap();
}
