//! The Connector's batch endpoints, as Teams documents and Microsoft's SDKs use them (botbuilder-js
//! `teams/operations/teams.ts`, Microsoft-Teams-Samples `bot-batch-operations`):
//!
//! - `POST v3/batch/conversation/{users|tenant|team|channels}/` with `{activity, tenantId, members?, teamId?}`
//!   answers 201 `{"operationId": "..."}`; each recipient gets the message in its own conversation (a user's 1:1
//!   chat, created if new; a new post in a channel). A recipient the bot cannot reach (unknown user, the bot
//!   uninstalled from the user's chat or the team) becomes a failed entry, not an error of the whole batch.
//! - `GET v3/batch/conversation/{operationId}` answers `{state, statusMap, totalEntriesCount, retryAfter?}`:
//!   `Ongoing` (with `retryAfter`) until the operation's processing time has passed, then `Completed`.
//! - `GET v3/batch/conversation/failedentries/{operationId}?continuationToken=` pages the failures
//!   (`{failedEntryResponses: [{id, error}], continuationToken?}`).
//! - `DELETE v3/batch/conversation/{operationId}` cancels an operation that is not over.
//!
//! The fake delivers every message when it accepts the batch (the state still reports `Ongoing` for a while, so
//! callers exercise their polling); an unknown operation id answers 404 `OperationNotFound`.

use super::{Answer, Kind, RecordedCall, State};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// The batch routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BatchRoute {
    Users,
    Tenant,
    Team,
    Channels,
    State,
    FailedEntries,
    Cancel,
}

/// One accepted batch.
#[derive(Clone, Debug)]
pub(crate) struct Operation {
    created: Instant,
    statuses: BTreeMap<String, u64>,
    failed: Vec<(String, String)>,
    cancelled: bool,
}

/// Every batch the fake accepted, and how it answers about them.
#[derive(Debug)]
pub(crate) struct Batches {
    operations: BTreeMap<String, Operation>,
    next: u64,
    /// How long an operation reports `Ongoing` before `Completed`.
    pub(crate) completes_after: Duration,
    /// Failed entries per page.
    pub(crate) page_size: usize,
}

impl Default for Batches {
    fn default() -> Self {
        Self {
            operations: BTreeMap::new(),
            next: 0,
            completes_after: Duration::from_millis(150),
            page_size: 50,
        }
    }
}

fn created(body: Value) -> Answer {
    Answer {
        status: 201,
        body: Some(body),
        retry_after: None,
    }
}

fn iso(at: std::time::SystemTime) -> String {
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil(i64::try_from(days).unwrap_or_default());
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's algorithm).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl State {
    /// Answers a batch route (auth, faults and pacing already passed).
    pub(crate) fn batch_answer(
        &mut self,
        route: BatchRoute,
        call: &RecordedCall,
        query: &std::collections::HashMap<String, String>,
    ) -> Answer {
        let id = call.ids.first().map(String::as_str).unwrap_or_default().to_owned();
        match route {
            BatchRoute::Users | BatchRoute::Tenant | BatchRoute::Team | BatchRoute::Channels => {
                self.batch_send(route, call)
            }
            BatchRoute::State => self.batch_state(&id),
            BatchRoute::FailedEntries => self.batch_failed(&id, query.get("continuationToken").map(String::as_str)),
            BatchRoute::Cancel => match self.batches.operations.get_mut(&id) {
                Some(op) => {
                    op.cancelled = true;
                    Answer {
                        status: 200,
                        body: None,
                        retry_after: None,
                    }
                }
                None => Answer::error(404, "OperationNotFound", "Operation not found."),
            },
        }
    }

    fn batch_send(&mut self, route: BatchRoute, call: &RecordedCall) -> Answer {
        let Some(body) = call.body.as_ref().filter(|b| b.is_object()) else {
            return Answer::error(400, "BadArgument", "Missing batch request.");
        };
        let activity = body.get("activity").cloned();
        let raw = activity
            .as_ref()
            .map(|a| a.to_string().encode_utf16().count())
            .unwrap_or_default();
        if let Err(e) = Self::check_activity(activity.as_ref(), raw) {
            return e;
        }
        let activity = activity.unwrap_or_default();
        let Some(tenant) = body
            .get("tenantId")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
        else {
            return Answer::error(400, "BadArgument", "tenantId is required.");
        };
        if self.disabled_tenants.contains(&tenant) {
            return Answer::error(403, "BotDisabledByAdmin", "The bot is disabled by the tenant admin.");
        }
        let members: Vec<String> = body
            .get("members")
            .and_then(Value::as_array)
            .map(|m| {
                m.iter()
                    .filter_map(|x| x.get("id").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let recipients: Vec<String> = match route {
            BatchRoute::Users | BatchRoute::Channels => {
                if members.is_empty() {
                    return Answer::error(400, "BadArgument", "members is required.");
                }
                members
            }
            BatchRoute::Tenant => self
                .users
                .get(&tenant)
                .map(|u| u.iter().map(|u| u.id.clone()).collect())
                .unwrap_or_default(),
            BatchRoute::Team => {
                let Some(team_id) = body.get("teamId").and_then(Value::as_str) else {
                    return Answer::error(400, "BadArgument", "teamId is required.");
                };
                let Some(team) = self.teams.get(team_id) else {
                    return Answer::error(404, "TeamNotFound", "Team not found.");
                };
                if team.bot_removed {
                    return Answer::error(403, "BotNotInConversationRoster", "The bot is not part of the team.");
                }
                team.members.iter().map(|m| m.id.clone()).collect()
            }
            BatchRoute::State | BatchRoute::FailedEntries | BatchRoute::Cancel => {
                return Answer::error(405, "MethodNotAllowed", "Not a batch send.");
            }
        };
        let channels = route == BatchRoute::Channels;
        let mut op = Operation {
            created: Instant::now(),
            statuses: BTreeMap::new(),
            failed: Vec::new(),
            cancelled: false,
        };
        for recipient in recipients {
            let outcome = if channels {
                self.batch_to_channel(&recipient, &activity)
            } else {
                self.batch_to_user(&tenant, &recipient, &activity)
            };
            let status = match outcome {
                Ok(()) => 201,
                Err(a) => {
                    let code = a
                        .body
                        .as_ref()
                        .and_then(|b| b.pointer("/error/code"))
                        .and_then(Value::as_str)
                        .unwrap_or("Failed")
                        .to_owned();
                    op.failed.push((recipient, code));
                    a.status
                }
            };
            *op.statuses.entry(status.to_string()).or_default() += 1;
        }
        self.batches.next += 1;
        let id = format!("fake-op-{}-{:08x}", self.batches.next, fastrand::u32(..));
        self.batches.operations.insert(id.clone(), op);
        created(json!({"operationId": id}))
    }

    fn batch_to_user(&mut self, tenant: &str, user: &str, activity: &Value) -> Result<(), Answer> {
        let conversation = self.personal_conversation(tenant, user)?;
        let conv = self.conversation(&conversation)?;
        debug_assert!(matches!(conv.kind, Kind::Personal { .. }));
        self.store(&conversation, None, activity.clone());
        Ok(())
    }

    fn batch_to_channel(&mut self, channel: &str, activity: &Value) -> Result<(), Answer> {
        let conv = self.conversation(channel)?;
        if !matches!(conv.kind, Kind::Channel { .. }) {
            return Err(Answer::error(400, "BadArgument", "Not a channel."));
        }
        let id = self.new_activity_id();
        self.activities.push(super::StoredActivity {
            id: id.clone(),
            conversation: format!("{channel};messageid={id}"),
            reply_to: None,
            activity: activity.clone(),
            updates: 0,
            deleted: false,
        });
        Ok(())
    }

    fn batch_state(&self, id: &str) -> Answer {
        let Some(op) = self.batches.operations.get(id) else {
            return Answer::error(404, "OperationNotFound", "Operation not found.");
        };
        let total: u64 = op.statuses.values().sum();
        let done_at = op.created + self.batches.completes_after;
        let now = Instant::now();
        let state = if op.cancelled && now < done_at {
            "Cancelled"
        } else if now < done_at {
            "Ongoing"
        } else {
            "Completed"
        };
        let mut body = json!({"state": state, "statusMap": op.statuses, "totalEntriesCount": total});
        if state == "Ongoing" {
            let wait = done_at.saturating_duration_since(now);
            body["retryAfter"] = json!(iso(std::time::SystemTime::now() + wait.max(Duration::from_secs(1))));
        }
        Answer::ok(body)
    }

    fn batch_failed(&self, id: &str, token: Option<&str>) -> Answer {
        let Some(op) = self.batches.operations.get(id) else {
            return Answer::error(404, "OperationNotFound", "Operation not found.");
        };
        let start = match token {
            None => 0,
            Some(t) => match URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.strip_prefix("failed:").and_then(|n| n.parse::<usize>().ok()))
            {
                Some(n) if n <= op.failed.len() => n,
                _ => return Answer::error(400, "BadArgument", "Invalid continuation token."),
            },
        };
        let end = (start + self.batches.page_size.max(1)).min(op.failed.len());
        let page: Vec<Value> = op.failed[start..end]
            .iter()
            .map(|(id, error)| json!({"id": id, "error": error}))
            .collect();
        let mut body = json!({"failedEntryResponses": page});
        if end < op.failed.len() {
            body["continuationToken"] = json!(URL_SAFE_NO_PAD.encode(format!("failed:{end}")));
        }
        Answer::ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso_8601_utc() {
        let at = std::time::UNIX_EPOCH + Duration::from_secs(1_796_036_703);
        assert_eq!(iso(at), "2026-11-30T11:05:03.000Z");
        assert_eq!(iso(std::time::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }
}
