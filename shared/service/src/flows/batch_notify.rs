//! The batch forms of the notify operations (docs/contract.md "Batch sends"), beside the single-recipient forms
//! of [`crate::proactive`] and read by the same entry point:
//!
//! - `{"to": {"users": [{"id": "29:..."} | {"aadObjectId": "..."}, ...], "tenantId": "..."}, "message": M}`
//! - `{"to": {"tenant": {"id": "..."}}, "message": M}`
//! - `{"to": {"team": {"id": "..."}}, "message": M}`
//! - `{"to": {"channels": ["19:..." | {"id": "19:..."}, ...], "teamId": "..."}, "message": M}`
//!
//! each with optional `"idempotencyKey"` and `"individual": true`, answering `{"operationId": "..."}` (plus the
//! final report when the runtime sent individually); and `{"batch": {"operationId", "tenantId"}}` answering the
//! operation's state and failed entries, `{"cancelBatch": {"operationId", "tenantId"}}` answering `{}`.

use crate::app::App;
use crate::flows::batch::{self, Audience, BatchError, BatchMode, BatchSent};
use crate::proactive::NotifyError;
use models::batch::OperationId;
use models::{Activity, ChannelAccount, ConversationId, Message, TenantId};
use serde::Deserialize;
use serde_json::{Value, json};
use store::{IdempotencyClaim, SentActivity, Timestamp};

/// A batch notify operation.
#[derive(Debug)]
pub enum BatchOperation {
    Send {
        tenant: TenantId,
        audience: Audience,
        message: Box<Message>,
        idempotency_key: Option<String>,
        mode: BatchMode,
    },
    State {
        operation_id: OperationId,
        tenant: TenantId,
    },
    Cancel {
        operation_id: OperationId,
        tenant: TenantId,
    },
}

fn invalid(message: impl Into<String>) -> NotifyError {
    NotifyError {
        status: 400,
        code: "InvalidRequest",
        message: message.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserRef {
    #[serde(default)]
    id: Option<String>,
    #[serde(default, rename = "aadObjectId")]
    aad_object_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ChannelRef {
    Id(String),
    Object { id: String },
}

#[derive(Deserialize)]
struct IdRef {
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct To {
    #[serde(default)]
    users: Option<Vec<UserRef>>,
    #[serde(default)]
    tenant: Option<IdRef>,
    #[serde(default)]
    team: Option<IdRef>,
    #[serde(default)]
    channels: Option<Vec<ChannelRef>>,
    #[serde(default, rename = "tenantId")]
    tenant_id: Option<TenantId>,
    #[serde(default, rename = "teamId")]
    team_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    to: To,
    message: Message,
    #[serde(default, rename = "idempotencyKey")]
    idempotency_key: Option<String>,
    #[serde(default)]
    individual: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperationRef {
    #[serde(rename = "operationId")]
    operation_id: String,
    #[serde(rename = "tenantId")]
    tenant_id: TenantId,
}

const BATCH_TARGETS: [&str; 4] = ["users", "tenant", "team", "channels"];

/// `Some` when `body` is a batch operation (a `to` naming users, a tenant, a team or channels; `batch`;
/// `cancelBatch`), parsed; `None` for every other operation.
///
/// # Errors
/// 400 for a batch operation that is malformed.
pub fn parse(body: &[u8]) -> Result<Option<BatchOperation>, NotifyError> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Ok(None);
    };
    let state_ref = |key: &str| -> Result<Option<OperationRef>, NotifyError> {
        map.get(key)
            .map(|v| serde_json::from_value::<OperationRef>(v.clone()).map_err(|e| invalid(format!("{key}: {e}"))))
            .transpose()
    };
    if let Some(r) = state_ref("batch")? {
        return Ok(Some(BatchOperation::State {
            operation_id: OperationId(r.operation_id),
            tenant: r.tenant_id,
        }));
    }
    if let Some(r) = state_ref("cancelBatch")? {
        return Ok(Some(BatchOperation::Cancel {
            operation_id: OperationId(r.operation_id),
            tenant: r.tenant_id,
        }));
    }
    let is_batch = map
        .get("to")
        .and_then(Value::as_object)
        .is_some_and(|to| BATCH_TARGETS.iter().any(|k| to.contains_key(*k)));
    if !is_batch {
        return Ok(None);
    }
    let send: SendBody = serde_json::from_value(Value::Object(map)).map_err(|e| invalid(e.to_string()))?;
    let To {
        users,
        tenant,
        team,
        channels,
        tenant_id,
        team_id,
    } = send.to;
    let named = [users.is_some(), tenant.is_some(), team.is_some(), channels.is_some()];
    if named.iter().filter(|n| **n).count() != 1 {
        return Err(invalid("`to` names exactly one of users, tenant, team, channels"));
    }
    let (tenant, audience) = if let Some(users) = users {
        let tenant = tenant_id.ok_or_else(|| invalid("`to.users` needs `to.tenantId`"))?;
        let users = users
            .into_iter()
            .map(|u| ChannelAccount {
                id: u.id.unwrap_or_default(),
                aad_object_id: u.aad_object_id,
                ..ChannelAccount::default()
            })
            .collect();
        (tenant, Audience::Users(users))
    } else if let Some(tenant) = tenant {
        (TenantId::from(tenant.id), Audience::Tenant)
    } else if let Some(team) = team {
        (TenantId::default(), Audience::Team(team.id))
    } else {
        let team_id = team_id.ok_or_else(|| invalid("`to.channels` needs `to.teamId`"))?;
        let channels = channels
            .unwrap_or_default()
            .into_iter()
            .map(|c| match c {
                ChannelRef::Id(id) | ChannelRef::Object { id } => id,
            })
            .collect();
        (TenantId::default(), Audience::Channels { team_id, channels })
    };
    Ok(Some(BatchOperation::Send {
        tenant,
        audience,
        message: Box::new(send.message),
        idempotency_key: send.idempotency_key.filter(|k| !k.is_empty()),
        mode: if send.individual {
            BatchMode::Individual
        } else {
            BatchMode::Auto
        },
    }))
}

impl From<BatchError> for NotifyError {
    fn from(e: BatchError) -> Self {
        let (status, code) = match &e {
            BatchError::Store(_) => (503, "StoreUnavailable"),
            BatchError::Connector(c) => return Self::from_connector(c, e.to_string()),
            BatchError::UnknownTeam(_) => (404, "UnknownTeam"),
            BatchError::NotAvailable(_) => (422, "BatchUnavailable"),
            BatchError::Invalid(_) => (400, "InvalidRequest"),
        };
        Self {
            status,
            code,
            message: e.to_string(),
        }
    }
}

impl NotifyError {
    fn from_connector(e: &connector::ConnectorError, message: String) -> Self {
        Self {
            status: e.http_status(),
            code: if e.is_bot_removed() {
                "BotRemoved"
            } else {
                "ConnectorError"
            },
            message,
        }
    }
}

/// The answer to an accepted batch (counted as one proactive send).
fn answer(sent: &BatchSent) -> Value {
    crate::metrics::count(crate::metrics::Metric::ProactiveSent);
    match sent {
        BatchSent::Accepted { operation_id } => json!({"operationId": operation_id.as_str()}),
        BatchSent::Individual(report) => json!(report),
    }
}

/// The conversation id an idempotency record of a batch carries (its activity id is the operation id).
const BATCH_RECORD: &str = "batch";

/// Runs a batch operation.
///
/// # Errors
/// [`NotifyError`]: invalid (400), unknown team (404), a tenant-wide send without batch (422), refused by Teams
/// (its status), store (503).
pub async fn run(app: &App, operation: BatchOperation) -> Result<Value, NotifyError> {
    match operation {
        BatchOperation::State { operation_id, tenant } => {
            let report = batch::state(app, &tenant, &operation_id).await?;
            Ok(json!(report))
        }
        BatchOperation::Cancel { operation_id, tenant } => {
            batch::cancel(app, &tenant, &operation_id).await?;
            Ok(json!({}))
        }
        BatchOperation::Send {
            tenant,
            audience,
            message,
            idempotency_key,
            mode,
        } => {
            let activity = Activity {
                kind: models::ActivityKind::Message(*message),
                ..Activity::default()
            };
            let Some(key) = idempotency_key else {
                let sent = batch::send(app, &tenant, &audience, &activity, mode).await?;
                return Ok(answer(&sent));
            };
            let key = format!("notify-batch:{key}");
            match app.store.claim_idempotency(&key, Timestamp::now()).await? {
                IdempotencyClaim::Done(sent) => Ok(json!({"operationId": sent.activity_id})),
                IdempotencyClaim::Pending => Err(NotifyError {
                    status: 409,
                    code: "InProgress",
                    message: "a batch with this idempotencyKey is in progress".to_owned(),
                }),
                IdempotencyClaim::Won => match batch::send(app, &tenant, &audience, &activity, mode).await {
                    Ok(sent) => {
                        let record = SentActivity {
                            conversation_id: ConversationId::from(BATCH_RECORD),
                            activity_id: sent.operation_id().into(),
                            sent_at: Timestamp::now(),
                        };
                        app.store.complete_idempotency(&key, &record, Timestamp::now()).await?;
                        Ok(answer(&sent))
                    }
                    Err(e) => {
                        let error = NotifyError::from(e);
                        // Unless the outcome is unknown (504), Teams took nothing: let a retry send.
                        if error.status != 504 {
                            let _ = app.store.release_idempotency(&key, Timestamp::now()).await;
                        }
                        Err(error)
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(v: Value) -> Result<Option<BatchOperation>, NotifyError> {
        parse(&serde_json::to_vec(&v).unwrap())
    }

    #[test]
    fn single_sends_are_not_batches() {
        assert!(
            parsed(json!({"to": {"user": {"id": "29:a", "tenantId": "t"}}, "message": {"text": "x"}}))
                .unwrap()
                .is_none()
        );
        assert!(parsed(json!({"tick": {}})).unwrap().is_none());
        assert!(parse(b"not json").unwrap().is_none());
    }

    #[test]
    fn the_four_batch_forms_parse() {
        let users = parsed(
            json!({"to": {"users": [{"id": "29:a"}, {"aadObjectId": "b"}], "tenantId": "t"},
            "message": {"text": "x"}, "idempotencyKey": "k"}),
        )
        .unwrap()
        .unwrap();
        match users {
            BatchOperation::Send {
                tenant,
                audience: Audience::Users(u),
                idempotency_key,
                mode,
                ..
            } => {
                assert_eq!(tenant, "t");
                assert_eq!((u[0].id.as_str(), u[1].aad_object_id.as_deref()), ("29:a", Some("b")));
                assert_eq!((idempotency_key.as_deref(), mode), (Some("k"), BatchMode::Auto));
            }
            other => panic!("{other:?}"),
        }
        let tenant = parsed(json!({"to": {"tenant": {"id": "t"}}, "message": {"text": "x"}}))
            .unwrap()
            .unwrap();
        assert!(matches!(
            tenant,
            BatchOperation::Send {
                audience: Audience::Tenant,
                ..
            }
        ));
        let team = parsed(json!({"to": {"team": {"id": "19:t"}}, "message": {"text": "x"}, "individual": true}))
            .unwrap()
            .unwrap();
        assert!(
            matches!(team, BatchOperation::Send { audience: Audience::Team(ref t), mode: BatchMode::Individual, .. } if t == "19:t")
        );
        let channels = parsed(json!({"to": {"channels": ["19:a", {"id": "19:b"}], "teamId": "19:t"},
            "message": {"text": "x"}}))
        .unwrap()
        .unwrap();
        match channels {
            BatchOperation::Send {
                audience: Audience::Channels { team_id, channels },
                ..
            } => assert_eq!(
                (team_id.as_str(), channels),
                ("19:t", vec!["19:a".to_owned(), "19:b".to_owned()])
            ),
            other => panic!("{other:?}"),
        }
        let state = parsed(json!({"batch": {"operationId": "op", "tenantId": "t"}}))
            .unwrap()
            .unwrap();
        assert!(matches!(state, BatchOperation::State { ref operation_id, .. } if operation_id.as_str() == "op"));
    }

    #[test]
    fn malformed_batches_are_400() {
        for bad in [
            json!({"to": {"users": [{"id": "29:a"}]}, "message": {"text": "x"}}),
            json!({"to": {"channels": ["19:a"]}, "message": {"text": "x"}}),
            json!({"to": {"users": [], "tenant": {"id": "t"}, "tenantId": "t"}, "message": {"text": "x"}}),
            json!({"to": {"tenant": {"id": "t"}}}),
            json!({"batch": {"operationId": "op"}}),
        ] {
            let e = parsed(bad.clone()).unwrap_err();
            assert_eq!(e.status, 400, "{bad}");
        }
    }
}
