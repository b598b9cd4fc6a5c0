//! Teams' streaming bot messages, as msteams-docs `bots/streaming-ux.md` documents them: `typing` activities with
//! a `streaminfo` entity (`streamType` `informative` | `streaming`, `streamSequence` from 1), the first answered
//! 201 with the stream's id (the streamed message's id), later ones 202 `{}` and naming it (`streamId`), and a
//! `message` with `streamType: final` ending it. Refused as Teams refuses them: outside a 1:1 chat (403
//! `ContentStreamNotAllowed`), a stream the user stopped (403 "Content stream was cancelled by user."), a finished
//! one, one past Teams' 2 minutes, an update that drops text already streamed, a first update without text or not
//! numbered 1 (400), an update faster than one per second (429), and an update whose sequence is not above the
//! last (202 with `ContentStreamSequenceOrderPreConditionFailed`, dropped).
//!
//! The streamed message is one stored activity (its id is the stream's): each update replaces its body and the
//! final message is what it ends as. Every update, accepted or not, is kept on the stream's record.

use super::{Answer, Kind, State, StoredActivity, base_conversation};
use crate::{FakeTeams, RecordedCall, lock};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Teams ends a stream that is not finished within two minutes.
pub const MAX_STREAM_DURATION: Duration = Duration::from_secs(120);
/// Teams' documented streaming rate: one request per second per stream.
pub const MIN_UPDATE_GAP: Duration = Duration::from_secs(1);

/// One streaming request the fake received for a stream, with its answer.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamUpdate {
    /// `typing` or `message`.
    pub activity_type: String,
    /// `informative`, `streaming` or `final` (`streaming` when absent, as Teams defaults).
    pub stream_type: String,
    /// `streamSequence`, when sent.
    pub sequence: Option<u64>,
    /// The activity's text.
    pub text: String,
    /// The status answered.
    pub status: u16,
    /// The error code answered, if any (`ContentStreamNotAllowed`, `ContentStreamSequenceOrderPreConditionFailed`,
    /// ...).
    pub error: Option<String>,
}

impl StreamUpdate {
    /// Whether Teams took it (shown to the user).
    #[must_use]
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.status) && self.error.is_none()
    }
}

/// One stream: its id (the streamed message's activity id), where, and every update in arrival order.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamRecord {
    pub id: String,
    pub conversation: String,
    pub updates: Vec<StreamUpdate>,
    /// The final message was accepted.
    pub finished: bool,
    /// The user pressed Stop.
    pub stopped: bool,
}

#[derive(Debug)]
struct Stream {
    record: StreamRecord,
    started: Instant,
    last_answered: Instant,
    last_sequence: u64,
    /// The text of the last accepted `streaming` update.
    streamed_text: String,
}

/// The fake's streams and the user's Stop presses.
#[derive(Debug, Default)]
pub(crate) struct Streams {
    streams: Vec<Stream>,
    /// Per conversation: the user presses Stop once a stream there has this many accepted updates.
    stop_after: HashMap<String, usize>,
    /// Streaming is not enabled for the bot (Teams answers every streaming request 403).
    disabled: bool,
}

/// Refusals Teams documents (msteams-docs `bots/streaming-ux.md`, "Response codes").
fn not_allowed(message: &str) -> Answer {
    Answer::error(403, "ContentStreamNotAllowed", message)
}

fn bad_request(message: &str) -> Answer {
    Answer::error(400, "BadRequest", message)
}

/// The `streaminfo` entity of an activity, if it has one (Teams' docs spell the type `streaminfo` and
/// `streamInfo`).
fn stream_info(body: &Value) -> Option<&Value> {
    body.get("entities")?.as_array()?.iter().find(|e| {
        e.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("streaminfo"))
    })
}

impl State {
    /// Answers a streaming request (`call`'s body has a `streaminfo` entity) POSTed to `conversation`; `None`
    /// when the activity is not one, for the ordinary send.
    pub(super) fn stream_activity(&mut self, conversation: &str, call: &RecordedCall) -> Option<Answer> {
        let body = call.body.as_ref()?;
        let info = stream_info(body)?.clone();
        let activity_type = body.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
        let text = body.get("text").and_then(Value::as_str).unwrap_or_default().to_owned();
        let stream_type = info
            .get("streamType")
            .and_then(Value::as_str)
            .unwrap_or("streaming")
            .to_owned();
        let sequence = info.get("streamSequence").and_then(Value::as_u64);
        let stream_id = info.get("streamId").and_then(Value::as_str).map(str::to_owned);
        let mut update = StreamUpdate {
            activity_type,
            stream_type,
            sequence,
            text,
            status: 0,
            error: None,
        };
        let answer = self.answer_stream(conversation, stream_id.as_deref(), &update, body);
        update.status = answer.status;
        update.error = answer
            .body
            .as_ref()
            .and_then(|b| b.pointer("/error/code"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let index = match stream_id {
            Some(id) => self.streams.streams.iter().position(|s| s.record.id == id),
            None => answer
                .body
                .as_ref()
                .and_then(|b| b.get("id"))
                .and_then(Value::as_str)
                .and_then(|id| self.streams.streams.iter().position(|s| s.record.id == id)),
        };
        if let Some(stream) = index.and_then(|i| self.streams.streams.get_mut(i)) {
            stream.record.updates.push(update);
        }
        Some(answer)
    }

    fn answer_stream(
        &mut self,
        conversation: &str,
        stream_id: Option<&str>,
        update: &StreamUpdate,
        body: &Value,
    ) -> Answer {
        let personal = self
            .conversations
            .get(base_conversation(conversation))
            .is_some_and(|c| matches!(c.kind, Kind::Personal { .. }));
        if !personal || self.streams.disabled {
            return not_allowed("Content stream is not allowed");
        }
        let is_final = update.stream_type == "final";
        match (update.activity_type.as_str(), is_final) {
            ("typing", false) if matches!(update.stream_type.as_str(), "informative" | "streaming") => {}
            ("message", true) => {}
            _ => return bad_request("Invalid streamType for this activity type."),
        }
        if !is_final && update.text.trim().is_empty() {
            return bad_request("Start streaming activities should include text");
        }
        let Some(stream_id) = stream_id else {
            if is_final {
                return bad_request("The final streaming message needs the streamId.");
            }
            if update.sequence != Some(1) {
                return bad_request("The first streaming activity must have streamSequence 1.");
            }
            return self.start_stream(conversation, update, body);
        };
        let now = Instant::now();
        let Some(index) = self
            .streams
            .streams
            .iter()
            .position(|s| s.record.id == stream_id && s.record.conversation == conversation)
        else {
            return bad_request("Unknown streamId.");
        };
        let stop_after = self.streams.stop_after.get(conversation).copied();
        let stream = &mut self.streams.streams[index];
        let accepted = stream.record.updates.iter().filter(|u| u.accepted()).count() + 1;
        if stop_after.is_some_and(|n| accepted > n) {
            stream.record.stopped = true;
        }
        if stream.record.stopped {
            return not_allowed("Content stream was cancelled by user.");
        }
        if stream.record.finished {
            return not_allowed("Content stream is not allowed on an already completed streamed message");
        }
        if now.duration_since(stream.started) > MAX_STREAM_DURATION {
            return not_allowed("Content stream finished due to exceeded streaming time.");
        }
        if now.duration_since(stream.last_answered) < MIN_UPDATE_GAP {
            let mut answer = Answer::error(429, "TooManyRequests", "API calls quota exceeded");
            answer.retry_after = Some("1".to_owned());
            return answer;
        }
        if !is_final {
            let Some(sequence) = update.sequence.filter(|n| *n > 0) else {
                return bad_request("streamSequence is required.");
            };
            if sequence <= stream.last_sequence {
                return Answer {
                    status: 202,
                    body: Some(json!({"error": {
                        "code": "ContentStreamSequenceOrderPreConditionFailed",
                        "message": "PreCondition failed exception when processing streaming activity.",
                    }})),
                    retry_after: None,
                };
            }
            if update.stream_type == "streaming" && !update.text.starts_with(&stream.streamed_text) {
                return not_allowed("Request streamed content should contain the previously streamed content");
            }
            stream.last_sequence = sequence;
            if update.stream_type == "streaming" {
                stream.streamed_text.clone_from(&update.text);
            }
        } else {
            stream.record.finished = true;
        }
        stream.last_answered = now;
        let id = stream.record.id.clone();
        if let Some(message) = self.activities.iter_mut().find(|a| a.id == id) {
            message.activity = body.clone();
            message.updates += 1;
        }
        Answer {
            status: 202,
            body: Some(json!({})),
            retry_after: None,
        }
    }

    fn start_stream(&mut self, conversation: &str, update: &StreamUpdate, body: &Value) -> Answer {
        let id = self.new_activity_id();
        self.activities.push(StoredActivity {
            id: id.clone(),
            conversation: conversation.to_owned(),
            reply_to: None,
            activity: body.clone(),
            updates: 0,
            deleted: false,
        });
        let now = Instant::now();
        self.streams.streams.push(Stream {
            record: StreamRecord {
                id: id.clone(),
                conversation: conversation.to_owned(),
                updates: Vec::new(),
                finished: false,
                stopped: false,
            },
            started: now,
            last_answered: now,
            last_sequence: 1,
            streamed_text: if update.stream_type == "streaming" {
                update.text.clone()
            } else {
                String::new()
            },
        });
        Answer {
            status: 201,
            body: Some(json!({"id": id})),
            retry_after: None,
        }
    }
}

impl FakeTeams {
    /// The streams in `conversation` (a 1:1 chat), oldest first, with every update they received.
    #[must_use]
    pub fn streams(&self, conversation: &str) -> Vec<StreamRecord> {
        lock(&self.shared)
            .streams
            .streams
            .iter()
            .filter(|s| s.record.conversation == conversation)
            .map(|s| s.record.clone())
            .collect()
    }

    /// The user presses Stop on a stream in `conversation` once it has `updates` accepted updates: Teams answers
    /// its next update 403 `ContentStreamNotAllowed` ("Content stream was cancelled by user.").
    pub fn stop_stream_after(&self, conversation: &str, updates: usize) {
        lock(&self.shared)
            .streams
            .stop_after
            .insert(conversation.to_owned(), updates);
    }

    /// Streaming is not enabled for the bot: every streaming request is answered 403 `ContentStreamNotAllowed`
    /// ("Content stream is not allowed").
    pub fn disable_streaming(&self) {
        lock(&self.shared).streams.disabled = true;
    }
}
