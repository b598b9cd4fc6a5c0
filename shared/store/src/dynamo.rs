//! The DynamoDB adapter: the production store.
//!
//! Consistent `GetItem` and `Query` for reads (expired items filtered out, since TTL deletes lazily), a
//! conditional `PutItem`/`DeleteItem` for single-item writes, `TransactWriteItems` for batches (all or none),
//! never a `Scan`. Item data are top-level attributes (strings as `S`, numbers as `N`, objects as `M`), so the
//! welcome and proactive functions can decode a stream NewImage alone (e.g. with `serde_dynamo`) into
//! [`crate::TeamInstall`], [`crate::FirstContact`] or [`crate::OutboxItem`].

use crate::error::{BoxError, StoreError};
use crate::model::Timestamp;
use crate::table::{Cond, Item, Table, Write, WriteOutcome, validate_batch};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, Put, ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus,
    TimeToLiveSpecification, TransactWriteItem,
};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// The name of the due-time index.
pub const GSI1: &str = "gsi1";
/// The TTL attribute.
pub const TTL_ATTRIBUTE: &str = "expiresAt";

/// The DynamoDB store over one table (shape: see the crate docs and `infra/template.yaml`).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store over `table_name`, using `client` as configured.
    #[must_use]
    pub fn new(client: Client, table_name: impl Into<String>) -> Self {
        Self {
            client,
            table: table_name.into(),
        }
    }

    /// A store over the table named by `TABLE_NAME`, with the SDK's standard configuration (region, credentials,
    /// and `AWS_ENDPOINT_URL_DYNAMODB` for a local server).
    ///
    /// # Errors
    /// [`StoreError::Invalid`] when `TABLE_NAME` is unset or empty.
    pub async fn from_env() -> Result<Self, StoreError> {
        let table = std::env::var("TABLE_NAME")
            .ok()
            .filter(|t| !t.is_empty())
            .ok_or(StoreError::Invalid("TABLE_NAME is not set"))?;
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Ok(Self::new(Client::new(&config), table))
    }

    /// The table's name.
    #[must_use]
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// The SDK client.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the table as the SAM template declares it (for tests and local servers): `pk`/`sk`, index `gsi1`
    /// (`gsi1pk`/`gsi1sk`, projection ALL), streams NEW_AND_OLD_IMAGES, on-demand billing; waits until it is
    /// active, then enables TTL on `expiresAt` (skipped with a warning when the server does not support it).
    ///
    /// # Errors
    /// [`StoreError`] from CreateTable / DescribeTable.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error)
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(build_error)
        };
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(GSI1)
            .key_schema(key("gsi1pk", KeyType::Hash)?)
            .key_schema(key("gsi1sk", KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(build_error)?;
        let stream = StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::NewAndOldImages)
            .build()
            .map_err(build_error)?;
        self.client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .attribute_definitions(attr("gsi1pk")?)
            .attribute_definitions(attr("gsi1sk")?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .global_secondary_indexes(gsi)
            .billing_mode(BillingMode::PayPerRequest)
            .stream_specification(stream)
            .send()
            .await
            .map_err(sdk_error)?;
        for _ in 0..100 {
            let described = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(sdk_error)?;
            if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(TTL_ATTRIBUTE)
            .build()
            .map_err(build_error)?;
        if let Err(err) = self
            .client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
        {
            tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&err), "TTL not enabled");
        }
        Ok(())
    }

    /// Deletes the table (test cleanup).
    ///
    /// # Errors
    /// [`StoreError`] from DeleteTable.
    pub async fn delete_table(&self) -> Result<(), StoreError> {
        self.client
            .delete_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn query_all(
        &self,
        index: Option<&str>,
        key_condition: &str,
        values: HashMap<String, AttributeValue>,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_owned))
                .key_condition_expression(key_condition)
                .set_expression_attribute_values(Some(values.clone()))
                .consistent_read(index.is_none())
                .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            for attrs in page.items() {
                let item = from_attributes(attrs)?;
                if item.alive(now) {
                    found.push(item);
                    if found.len() >= limit {
                        return Ok(found);
                    }
                }
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(found),
            }
        }
    }

    async fn write_one(&self, write: Write, now: Timestamp) -> Result<WriteOutcome, StoreError> {
        let expr = condition(write.cond(), now);
        let (text, names, values) = expr.map_or((None, None, None), |e| (Some(e.text), Some(e.names), e.values));
        let failed = match write {
            Write::Put { item, .. } => {
                let result = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(to_attributes(&item)))
                    .set_condition_expression(text)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .send()
                    .await;
                match result {
                    Ok(_) => false,
                    Err(err)
                        if err
                            .as_service_error()
                            .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                    {
                        true
                    }
                    Err(err) => return Err(sdk_error(err)),
                }
            }
            Write::Delete { pk, sk, .. } => {
                let result = self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key_attributes(pk, sk)))
                    .set_condition_expression(text)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .send()
                    .await;
                match result {
                    Ok(_) => false,
                    Err(err)
                        if err
                            .as_service_error()
                            .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                    {
                        true
                    }
                    Err(err) => return Err(sdk_error(err)),
                }
            }
            Write::Check { pk, sk, cond } => {
                let stored = self.get_any(&pk, &sk).await?;
                !cond.holds(stored.as_ref(), now)
            }
        };
        Ok(if failed {
            WriteOutcome::ConditionFailed(vec![0])
        } else {
            WriteOutcome::Applied
        })
    }

    async fn get_any(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(pk.to_owned(), sk.to_owned())))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item().map(from_attributes).transpose()
    }

    async fn transact(&self, writes: Vec<Write>, now: Timestamp) -> Result<WriteOutcome, StoreError> {
        let mut items = Vec::with_capacity(writes.len());
        for write in writes {
            let expr = condition(write.cond(), now);
            let (text, names, values) = expr.map_or((None, None, None), |e| (Some(e.text), Some(e.names), e.values));
            let entry = match write {
                Write::Put { item, .. } => TransactWriteItem::builder().put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(to_attributes(&item)))
                        .set_condition_expression(text)
                        .set_expression_attribute_names(names)
                        .set_expression_attribute_values(values)
                        .build()
                        .map_err(build_error)?,
                ),
                Write::Delete { pk, sk, .. } => TransactWriteItem::builder().delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_attributes(pk, sk)))
                        .set_condition_expression(text)
                        .set_expression_attribute_names(names)
                        .set_expression_attribute_values(values)
                        .build()
                        .map_err(build_error)?,
                ),
                Write::Check { pk, sk, .. } => TransactWriteItem::builder().condition_check(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_attributes(pk, sk)))
                        .set_condition_expression(
                            text.or_else(|| Some("attribute_exists(#pk) OR attribute_not_exists(#pk)".into())),
                        )
                        .set_expression_attribute_names(
                            names.or_else(|| Some(HashMap::from([("#pk".into(), "pk".into())]))),
                        )
                        .set_expression_attribute_values(values)
                        .build()
                        .map_err(build_error)?,
                ),
            };
            items.push(entry.build());
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(WriteOutcome::Applied),
            Err(err) => err,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() {
            let codes: Vec<&str> = cancelled
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None"))
                .collect();
            let failed: Vec<usize> = codes
                .iter()
                .enumerate()
                .filter(|(_, code)| **code == "ConditionalCheckFailed")
                .map(|(i, _)| i)
                .collect();
            if codes
                .iter()
                .any(|c| matches!(*c, "ThrottlingError" | "ProvisionedThroughputExceeded"))
            {
                return Err(StoreError::Throttled(Box::new(err)));
            }
            if codes.contains(&"TransactionConflict") {
                return Err(StoreError::Conflict {
                    key: "transaction".into(),
                });
            }
            if !failed.is_empty() {
                return Ok(WriteOutcome::ConditionFailed(failed));
            }
        }
        Err(sdk_error(err))
    }
}

#[async_trait]
impl Table for DynamoStore {
    async fn get(&self, pk: &str, sk: &str, now: Timestamp) -> Result<Option<Item>, StoreError> {
        Ok(self.get_any(pk, sk).await?.filter(|item| item.alive(now)))
    }

    async fn query_prefix(
        &self,
        pk: &str,
        sk_prefix: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut values = HashMap::from([(":pk".to_owned(), AttributeValue::S(pk.to_owned()))]);
        // DynamoDB rejects an empty key value, so an empty prefix is no sk condition at all.
        let condition = if sk_prefix.is_empty() {
            "pk = :pk"
        } else {
            values.insert(":prefix".to_owned(), AttributeValue::S(sk_prefix.to_owned()));
            "pk = :pk AND begins_with(sk, :prefix)"
        };
        self.query_all(None, condition, values, now, limit).await
    }

    async fn query_gsi1(
        &self,
        gsi1pk: &str,
        upper: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let values = HashMap::from([
            (":g".to_owned(), AttributeValue::S(gsi1pk.to_owned())),
            (":upper".to_owned(), AttributeValue::S(upper.to_owned())),
        ]);
        self.query_all(Some(GSI1), "gsi1pk = :g AND gsi1sk <= :upper", values, now, limit)
            .await
    }

    async fn write(&self, mut writes: Vec<Write>, now: Timestamp) -> Result<WriteOutcome, StoreError> {
        validate_batch(&writes)?;
        if writes.len() == 1
            && let Some(write) = writes.pop()
        {
            return self.write_one(write, now).await;
        }
        self.transact(writes, now).await
    }
}

/// A condition expression with its names and values.
struct Expr {
    text: String,
    names: HashMap<String, String>,
    values: Option<HashMap<String, AttributeValue>>,
}

fn condition(cond: &Cond, now: Timestamp) -> Option<Expr> {
    let mut names = HashMap::from([("#pk".to_owned(), "pk".to_owned())]);
    let mut values = HashMap::new();
    let live = "attribute_exists(#pk) AND (attribute_not_exists(#exp) OR #exp > :now)";
    let text = match cond {
        Cond::Always => return None,
        Cond::Absent => "attribute_not_exists(#pk) OR #exp <= :now".to_owned(),
        Cond::Present => live.to_owned(),
        Cond::Equals(pairs) => {
            let mut text = live.to_owned();
            for (i, (name, value)) in pairs.iter().enumerate() {
                names.insert(format!("#f{i}"), name.clone());
                values.insert(format!(":v{i}"), to_av(value));
                text.push_str(&format!(" AND #f{i} = :v{i}"));
            }
            text
        }
        Cond::Revision(rev) => {
            names.insert("#rev".to_owned(), "rev".to_owned());
            values.insert(":rev".to_owned(), AttributeValue::N(rev.to_string()));
            if *rev == 0 {
                format!("{live} AND (attribute_not_exists(#rev) OR #rev = :rev)")
            } else {
                format!("{live} AND #rev = :rev")
            }
        }
    };
    names.insert("#exp".to_owned(), TTL_ATTRIBUTE.to_owned());
    values.insert(":now".to_owned(), AttributeValue::N(now.0.to_string()));
    Some(Expr {
        text,
        names,
        values: Some(values),
    })
}

fn key_attributes(pk: String, sk: String) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), AttributeValue::S(sk)),
    ])
}

/// An item as DynamoDB attributes.
#[must_use]
pub fn to_attributes(item: &Item) -> HashMap<String, AttributeValue> {
    let mut attrs: HashMap<String, AttributeValue> = item.data.iter().map(|(k, v)| (k.clone(), to_av(v))).collect();
    attrs.extend(key_attributes(item.pk.clone(), item.sk.clone()));
    attrs.insert("kind".into(), AttributeValue::S(item.kind.clone()));
    if let Some((gp, gs)) = &item.gsi1 {
        attrs.insert("gsi1pk".into(), AttributeValue::S(gp.clone()));
        attrs.insert("gsi1sk".into(), AttributeValue::S(gs.clone()));
    }
    if let Some(at) = item.expires_at {
        attrs.insert(TTL_ATTRIBUTE.into(), AttributeValue::N(at.to_string()));
    }
    attrs
}

/// DynamoDB attributes (an item, or a stream image) as an [`Item`].
///
/// # Errors
/// [`StoreError::Corrupt`] for a missing key or kind, or an attribute with no JSON equivalent (binary).
pub fn from_attributes(attrs: &HashMap<String, AttributeValue>) -> Result<Item, StoreError> {
    Item::from_json(attributes_to_json(attrs)?)
}

/// DynamoDB attributes as one JSON object (numbers as JSON numbers): [`item_to_json`] for the SDK's attribute map.
///
/// # Errors
/// [`StoreError::Corrupt`] for an attribute with no JSON equivalent (binary, or a type this SDK does not know).
pub fn attributes_to_json(attrs: &HashMap<String, AttributeValue>) -> Result<Value, StoreError> {
    // serde_dynamo's conversion of the SDK's `Unknown` variant (a type newer than this SDK) panics: refuse it first.
    if let Some((name, _)) = attrs.iter().find(|(_, value)| !known_type(value)) {
        return Err(StoreError::corrupt(
            format!("attribute {name}"),
            "an attribute type this SDK does not know",
        ));
    }
    item_to_json(attrs.clone())
}

/// A DynamoDB item as one plain JSON object (numbers as JSON numbers, `NULL` as `null`, string and number sets as
/// arrays), with `serde_dynamo`: the project's one converter from DynamoDB's attribute values, for whatever
/// `serde_dynamo` takes as an item — the SDK's attribute map ([`attributes_to_json`]), a stream record's image in
/// a Lambda event (`aws_lambda_events`' `serde_dynamo::Item`), or the DynamoDB Streams SDK's map (with
/// `serde_dynamo`'s `aws-sdk-dynamodbstreams+1` feature). The result is what [`crate::StreamItem::from_image`] and
/// the store's own reads decode.
///
/// # Errors
/// [`StoreError::Corrupt`] for an attribute with no JSON form (binary, a binary set), or a number that does not
/// parse.
pub fn item_to_json(item: impl Into<serde_dynamo::Item>) -> Result<Value, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::corrupt("item".to_owned(), e))
}

/// Whether every (nested) attribute has a type the SDK knows.
fn known_type(value: &AttributeValue) -> bool {
    match value {
        AttributeValue::M(map) => map.values().all(known_type),
        AttributeValue::L(list) => list.iter().all(known_type),
        other => !other.is_unknown(),
    }
}

fn to_av(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(list) => AttributeValue::L(list.iter().map(to_av).collect()),
        Value::Object(map) => AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), to_av(v))).collect()),
    }
}

fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Backend(Box::new(err))
}

/// Classifies an SDK error: transport failures and 5xx are [`StoreError::Unavailable`], throttling is
/// [`StoreError::Throttled`] (both retryable, so the webhook answers 503), anything else
/// [`StoreError::Backend`]. The SDK error is kept as the source.
pub fn sdk_error<E>(err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    let status = err.raw_response().map(|r| r.status().as_u16());
    let transport = matches!(
        err,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
    );
    let source: BoxError = Box::new(err);
    match code.as_deref() {
        Some(
            "ThrottlingException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "LimitExceededException",
        ) => StoreError::Throttled(source),
        Some("InternalServerError" | "ServiceUnavailable") => StoreError::Unavailable(source),
        _ if transport || status.is_some_and(|s| s >= 500) => StoreError::Unavailable(source),
        _ => StoreError::Backend(source),
    }
}

/// Counts the requests a client sends, by operation (`X-Amz-Target`, e.g. `DynamoDB_20120810.PutItem`):
/// add it with `aws_sdk_dynamodb::config::Builder::interceptor` to measure requests per inbound activity.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl RequestCounter {
    /// A counter at zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests sent since the last reset (retries count again).
    #[must_use]
    pub fn total(&self) -> u64 {
        self.counts.lock().map_or(0, |c| c.values().sum())
    }

    /// Requests by operation name (`PutItem`, `TransactWriteItems`, ...).
    #[must_use]
    pub fn by_operation(&self) -> BTreeMap<String, u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Back to zero.
    pub fn reset(&self) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.clear();
        }
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = context.request().headers().get("x-amz-target").unwrap_or("unknown");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(operation).or_default() += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attributes_round_trip() {
        let item = Item {
            pk: "CONV#a".into(),
            sk: "REF".into(),
            kind: "conversation".into(),
            gsi1: Some(("DUE".into(), "0001".into())),
            expires_at: Some(42),
            data: json!({"serviceUrl": "https://x/", "active": true, "rev": 3, "n": -1.5, "bot": {"id": "28:b"},
                "list": [1, "a", null]})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        };
        let attrs = to_attributes(&item);
        assert_eq!(attrs.get("expiresAt"), Some(&AttributeValue::N("42".into())));
        assert_eq!(attrs.get("kind"), Some(&AttributeValue::S("conversation".into())));
        assert_eq!(from_attributes(&attrs).ok(), Some(item));
    }

    /// Regression: the runtime had three DynamoDB-JSON converters (this one, the stream event's, the devserver
    /// reader's) that disagreed on numbers beyond i64 and on binary (one turned `B` into `null`). An SDK map and
    /// the same item as a Lambda stream event carries it now go through one converter and agree.
    #[test]
    fn sdk_items_and_stream_images_convert_alike() {
        let sdk = HashMap::from([
            ("s".to_owned(), AttributeValue::S("x".into())),
            ("i".to_owned(), AttributeValue::N("-42".into())),
            ("u".to_owned(), AttributeValue::N("18446744073709551615".into())),
            ("f".to_owned(), AttributeValue::N("1.5".into())),
            ("ok".to_owned(), AttributeValue::Bool(true)),
            ("none".to_owned(), AttributeValue::Null(true)),
            ("ss".to_owned(), AttributeValue::Ss(vec!["a".into()])),
            ("ns".to_owned(), AttributeValue::Ns(vec!["7".into()])),
            (
                "m".to_owned(),
                AttributeValue::M(HashMap::from([(
                    "l".to_owned(),
                    AttributeValue::L(vec![AttributeValue::S("y".into()), AttributeValue::N("2".into())]),
                )])),
            ),
        ]);
        let image: serde_dynamo::Item = serde_json::from_value(json!({
            "s": {"S": "x"}, "i": {"N": "-42"}, "u": {"N": "18446744073709551615"}, "f": {"N": "1.5"},
            "ok": {"BOOL": true}, "none": {"NULL": true}, "ss": {"SS": ["a"]}, "ns": {"NS": ["7"]},
            "m": {"M": {"l": {"L": [{"S": "y"}, {"N": "2"}]}}}
        }))
        .unwrap();
        let expected = json!({
            "s": "x", "i": -42, "u": 18_446_744_073_709_551_615_u64, "f": 1.5, "ok": true, "none": null,
            "ss": ["a"], "ns": [7], "m": {"l": ["y", 2]}
        });
        assert_eq!(attributes_to_json(&sdk).unwrap(), expected);
        assert_eq!(item_to_json(image).unwrap(), expected);

        // Binary has no JSON form: an error, from either side, never a silent `null`.
        let binary = HashMap::from([("b".to_owned(), AttributeValue::B(vec![1, 2].into()))]);
        assert!(matches!(attributes_to_json(&binary), Err(StoreError::Corrupt { .. })));
        let image: serde_dynamo::Item = serde_json::from_value(json!({"b": {"B": "AQI="}})).unwrap();
        assert!(matches!(item_to_json(image), Err(StoreError::Corrupt { .. })));
    }

    #[test]
    fn absent_condition_accepts_expired_items() {
        let expr = condition(&Cond::Absent, Timestamp(7));
        let expr = expr.map(|e| (e.text, e.values));
        assert_eq!(
            expr.as_ref().map(|(t, _)| t.as_str()),
            Some("attribute_not_exists(#pk) OR #exp <= :now")
        );
        assert_eq!(
            expr.and_then(|(_, v)| v).and_then(|v| v.get(":now").cloned()),
            Some(AttributeValue::N("7".into()))
        );
        assert!(condition(&Cond::Always, Timestamp(7)).is_none());
    }
}
