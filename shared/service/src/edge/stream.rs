//! The `welcome` and `proactive` Lambdas' events: DynamoDB stream batches (with partial batch failures), the
//! EventBridge schedule, and direct notify invokes. Each record's NewImage is decoded into the store's own
//! [`StreamItem`], so the functions act from the image alone.

use crate::app::App;
use serde_json::{Map, Value, json};
use store::StreamItem;

/// Converts DynamoDB's attribute-value JSON (`{"S": "x"}`, `{"N": "1"}`, `{"M": {...}}`, ...) to plain JSON.
#[must_use]
pub fn plain_json(attribute: &Value) -> Value {
    let Some(map) = attribute.as_object() else {
        return Value::Null;
    };
    let Some((tag, inner)) = map.iter().next() else {
        return Value::Null;
    };
    match tag.as_str() {
        "S" => inner.clone(),
        "N" => inner
            .as_str()
            .and_then(|n| serde_json::from_str::<serde_json::Number>(n).ok())
            .map_or(Value::Null, Value::Number),
        "BOOL" => inner.clone(),
        "NULL" => Value::Null,
        "M" => Value::Object(image_to_json(inner)),
        "L" => Value::Array(
            inner
                .as_array()
                .map(|l| l.iter().map(plain_json).collect())
                .unwrap_or_default(),
        ),
        "SS" | "BS" => inner.clone(),
        "NS" => Value::Array(
            inner
                .as_array()
                .map(|l| {
                    l.iter()
                        .filter_map(|n| {
                            n.as_str()
                                .and_then(|n| serde_json::from_str::<serde_json::Number>(n).ok())
                        })
                        .map(Value::Number)
                        .collect()
                })
                .unwrap_or_default(),
        ),
        _ => Value::Null,
    }
}

/// A whole NewImage (`{"attr": {"S": ...}, ...}`) as a plain JSON object.
#[must_use]
pub fn image_to_json(image: &Value) -> Map<String, Value> {
    image
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), plain_json(v))).collect())
        .unwrap_or_default()
}

/// The store item a stream record inserted, if it is one a function handles.
///
/// # Errors
/// A message when the record's image does not decode (the record is reported as failed).
pub fn record_item(record: &Value) -> Result<Option<StreamItem>, String> {
    if record.get("eventName").and_then(Value::as_str) != Some("INSERT") {
        return Ok(None);
    }
    let image = record
        .pointer("/dynamodb/NewImage")
        .map(image_to_json)
        .unwrap_or_default();
    let kind = image.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
    StreamItem::from_image(&kind, &Value::Object(image)).map_err(|e| format!("undecodable {kind} image: {e}"))
}

/// Handles a stream batch with `handle`; answers the partial batch failure report
/// (`{"batchItemFailures": [{"itemIdentifier": <sequence number>}]}`). Records after a failed one in the same
/// shard are reported too, so ordering per key is kept on retry.
pub async fn batch<F, Fut>(app: &App, event: &Value, handle: F) -> Value
where
    F: Fn(App, StreamItem) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut failures = Vec::new();
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for record in &records {
        let id = record
            .pointer("/dynamodb/SequenceNumber")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !failures.is_empty() {
            failures.push(json!({"itemIdentifier": id}));
            continue;
        }
        let result = match record_item(record) {
            Ok(Some(item)) => handle(app.clone(), item).await,
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(sequence = %id, error = %e, "stream record failed");
            failures.push(json!({"itemIdentifier": id}));
        }
    }
    json!({"batchItemFailures": failures})
}

/// The welcome function's handling of one item.
///
/// # Errors
/// A message when the welcome could not be sent (retried, then dead-lettered).
pub async fn welcome_item(app: App, item: StreamItem) -> Result<(), String> {
    match &item {
        StreamItem::TeamInstall(install) => crate::welcome::team(&app, install).await.map(|_| ()),
        StreamItem::FirstContact(contact) => crate::welcome::first_contact(&app, contact).await.map(|_| ()),
        // The template's filter sends outbox items to the proactive function only.
        StreamItem::Outbox(_) => Ok(()),
    }
    .map_err(|e| e.to_string())
}

/// The proactive function's handling of one outbox item: its payload is a notify operation.
///
/// # Errors
/// A message when the operation failed in a way worth retrying.
pub async fn outbox_item(app: App, item: StreamItem) -> Result<(), String> {
    let StreamItem::Outbox(outbox) = item else {
        return Ok(());
    };
    // The record is the item as inserted; a replay of the stream (a new event source mapping starts at the
    // trim horizon, 24 h back) would send it again. The item as stored now says whether it was already done.
    match app.store.outbox_item(&outbox.id, store::Timestamp::now()).await {
        Ok(Some(current)) if !current.done => {}
        Ok(_) => {
            tracing::info!(outbox = %outbox.id, "outbox item already done (or gone); not sent again");
            return Ok(());
        }
        Err(e) => return Err(format!("outbox {}: reading its state failed: {e}", outbox.id)),
    }
    let body = serde_json::to_vec(&outbox.payload).unwrap_or_default();
    let (status, answer) = crate::proactive::notify_json(&app, &body).await;
    if status >= 500 || status == 429 {
        return Err(format!("outbox {} failed with {status}: {answer}", outbox.id));
    }
    if status >= 400 {
        tracing::warn!(outbox = %outbox.id, status, answer = %answer, "outbox item refused; not retried");
    }
    let _ = app.store.mark_outbox_done(&outbox.id, store::Timestamp::now()).await;
    Ok(())
}

/// The schedule's payload, as `infra/template.yaml` sets it (`Poll` event `Input`). EventBridge Scheduler sends no
/// envelope of its own (without an `Input` a Lambda target gets an empty payload), so the template names the work.
pub const TICK_INPUT: &str = r#"{"tick": {}}"#;

/// Whether `event` asks for the due polling work: [`TICK_INPUT`] (the template's schedule, or a direct invoke), or
/// the envelope of an EventBridge *rule* on a schedule (`source` `aws.events`, `Scheduled Event`).
fn is_tick(event: &Value) -> bool {
    event.get("tick").is_some_and(Value::is_object)
        || event.get("source").and_then(Value::as_str) == Some("aws.events")
        || event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
}

/// The proactive function's event: a stream batch, the schedule, or a direct notify invoke.
pub async fn proactive_event(app: &App, event: &Value) -> Value {
    if event.get("Records").is_some() {
        return batch(app, event, outbox_item).await;
    }
    if is_tick(event) {
        return crate::proactive::tick(app).await;
    }
    let body = serde_json::to_vec(event).unwrap_or_default();
    let (status, mut answer) = crate::proactive::notify_json(app, &body).await;
    if status != 200
        && let Some(map) = answer.as_object_mut()
    {
        map.insert("status".into(), json!(status));
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_recognised_and_nothing_else() {
        assert!(is_tick(&serde_json::from_str(TICK_INPUT).unwrap()));
        let rule = json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        assert!(is_tick(&rule));
        // What Scheduler sends without an Input, and notify operations, are not the schedule.
        assert!(!is_tick(&json!({})));
        assert!(!is_tick(&json!({"tick": "now"})));
        assert!(!is_tick(
            &json!({"to": {"conversation": {"id": "a:1"}}, "message": {"text": "hi"}})
        ));
    }

    #[test]
    fn dynamodb_json_becomes_plain_json() {
        let image = json!({
            "pk": {"S": "TEAM#1"}, "n": {"N": "42"}, "ok": {"BOOL": true}, "none": {"NULL": true},
            "m": {"M": {"a": {"L": [{"S": "x"}, {"N": "1.5"}]}}}
        });
        let plain = Value::Object(image_to_json(&image));
        assert_eq!(
            plain,
            json!({"pk": "TEAM#1", "n": 42, "ok": true, "none": null, "m": {"a": ["x", 1.5]}})
        );
    }

    #[test]
    fn only_inserts_of_known_kinds_are_items() {
        let modify = json!({"eventName": "MODIFY", "dynamodb": {"NewImage": {"kind": {"S": "team-install"}}}});
        assert_eq!(record_item(&modify), Ok(None));
        let other = json!({"eventName": "INSERT", "dynamodb": {"NewImage": {"kind": {"S": "seen"}}}});
        assert_eq!(record_item(&other), Ok(None));
        let broken = json!({"eventName": "INSERT", "dynamodb": {"NewImage": {"kind": {"S": "team-install"}}}});
        assert!(record_item(&broken).is_err());
    }
}
