//! A fresh DynamoDB table on the local server, and raw reads to check what was (not) stored.

use crate::E2eError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use store::DynamoStore;

/// A client from the SDK's standard environment (`AWS_ENDPOINT_URL_DYNAMODB`, region, credentials).
pub async fn client_from_env() -> Client {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Client::new(&config)
}

/// Creates a table named `name` with the template's shape and answers the store over it.
///
/// # Errors
/// [`E2eError::Store`] when the table cannot be created.
pub async fn fresh_table(client: Client, name: &str) -> Result<DynamoStore, E2eError> {
    let store = DynamoStore::new(client, name);
    store.create_table().await?;
    Ok(store)
}

/// The ARN of `table`'s stream (the template's tables have one: `NEW_IMAGE`).
///
/// # Errors
/// [`E2eError::Dynamo`] when the table cannot be described or has no stream.
pub async fn stream_arn(client: &Client, table: &str) -> Result<String, E2eError> {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| E2eError::Dynamo(format!("describe {table}: {e:?}")))?;
    described
        .table()
        .and_then(|t| t.latest_stream_arn())
        .map(str::to_owned)
        .ok_or_else(|| E2eError::Dynamo(format!("{table} has no stream")))
}

/// Every item's `(pk, sk)`, by a paginated Scan (tests only; the bot never scans).
///
/// # Errors
/// [`E2eError::Dynamo`] when the Scan fails.
pub async fn all_keys(client: &Client, table: &str) -> Result<Vec<(String, String)>, E2eError> {
    let mut keys = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| E2eError::Dynamo(format!("scan {table}: {e:?}")))?;
        for item in page.items() {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            keys.push((text("pk"), text("sk")));
        }
        match page.last_evaluated_key() {
            Some(last) if !last.is_empty() => start = Some(last.clone()),
            _ => break,
        }
    }
    keys.sort();
    Ok(keys)
}

/// One item by key, raw (consistent read).
///
/// # Errors
/// [`E2eError::Dynamo`] when the GetItem fails.
pub async fn get_item(
    client: &Client,
    table: &str,
    pk: &str,
    sk: &str,
) -> Result<Option<HashMap<String, AttributeValue>>, E2eError> {
    let out = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.to_owned()))
        .key("sk", AttributeValue::S(sk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| E2eError::Dynamo(format!("get {pk}/{sk}: {e:?}")))?;
    Ok(out.item().cloned())
}
