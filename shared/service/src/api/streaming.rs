//! Teams' streaming messages: a reply that appears while it is being written (1:1 chats only).
//!
//! Teams shows informative updates (a progress line) and then the answer growing, sent as `typing` activities
//! carrying a `streaminfo` entity: the first POST answers the stream's id, each later one names it, and each has a
//! `streamSequence` one more than the last (from 1). Every streaming update carries the whole text so far. A
//! `message` with `streamType: final` (and no sequence) ends it. Sources: msteams-docs `bots/streaming-ux.md`;
//! the Agents SDK's `StreamingResponse` and the Teams SDK's `HttpStream` (docs/decisions/2026-11-30-streaming.md).
//!
//! [`ReplyStream`] buffers what the bot writes and sends at most one update per [`STREAM_INTERVAL`] (Teams
//! throttles faster streams), through the runtime's Connector client (allowlist, token, pacing, retries). Outside
//! a 1:1 chat, or when Teams refuses to stream, it sends one ordinary message at the end instead. When the user
//! presses Stop, Teams refuses the stream's next update (403 `ContentStreamNotAllowed`, "Content stream was
//! cancelled by user."): the stream ends quietly and says so ([`StreamOutcome::StoppedByUser`]).

use crate::api::{BotError, Context};
use connector::ConnectorError;
use models::{Activity, ActivityId, ActivityKind, ConversationType, Entity, Extra};
use serde_json::{Map, Value, json};
use std::time::Duration;
use tokio::time::Instant;

/// The least time between two updates of a stream: Teams documents one streaming request per second, and
/// recommends buffering 1.5 to 2 s of text per update (msteams-docs `bots/streaming-ux.md`).
pub const STREAM_INTERVAL: Duration = Duration::from_millis(1500);

/// The shortest interval [`ReplyStream::with_interval`] accepts: Teams' documented rate, one update per second.
pub const MIN_STREAM_INTERVAL: Duration = Duration::from_secs(1);

/// The longest informative update Teams shows (1000 characters, msteams-docs `bots/streaming-ux.md`): a longer
/// one is cut there.
pub const MAX_INFORMATIVE_CHARS: usize = 1000;

/// How a [`ReplyStream`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamOutcome {
    /// Streamed in the 1:1 chat and ended with the final message; its id is the stream's.
    Streamed {
        /// The message's id (to update or delete it later).
        message_id: ActivityId,
    },
    /// Sent as one ordinary message: outside a 1:1 chat, or Teams refused to stream.
    Sent {
        /// The message's id.
        message_id: ActivityId,
    },
    /// The user pressed Stop (or Teams ended the stream): nothing more was sent, and what Teams already shows
    /// stays as it is.
    StoppedByUser,
}

/// A reply written piece by piece ([`Context::stream`]): informative updates while the bot works, then the
/// answer's text as it is produced, then the final message.
///
/// `inform` and `push` return at once unless an update is due (at most one per interval), then they send it;
/// [`ReplyStream::finish`] waits for the interval to pass and sends the final message with the whole text.
///
/// ```
/// use teams_bot::{Bot, BotError, Context, IncomingMessage, StreamOutcome};
///
/// struct Writer;
///
/// #[teams_bot::async_trait]
/// impl Bot for Writer {
///     async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
///         let mut stream = ctx.stream();
///         stream.inform("Thinking...").await?;
///         for word in message.text.split_whitespace() {
///             if stream.is_stopped() {
///                 break; // the user pressed Stop: no need to write more
///             }
///             stream.push(format!("{word} ")).await?;
///         }
///         match stream.finish().await? {
///             StreamOutcome::Streamed { .. } | StreamOutcome::Sent { .. } => {}
///             StreamOutcome::StoppedByUser => tracing::info!("the user stopped the answer"),
///         }
///         Ok(())
///     }
/// }
/// # fn main() {}
/// ```
#[derive(Debug)]
pub struct ReplyStream<'c> {
    ctx: &'c Context<'c>,
    core: StreamCore,
}

impl<'c> ReplyStream<'c> {
    pub(crate) fn new(ctx: &'c Context<'c>) -> Self {
        let personal = ctx.conversation().conversation.conversation_type == Some(ConversationType::Personal);
        let mut core = StreamCore::new(STREAM_INTERVAL);
        if !personal {
            core.mode = Mode::OneMessage;
        }
        Self { ctx, core }
    }

    /// Sends updates at most once per `interval` (at least [`MIN_STREAM_INTERVAL`]; default
    /// [`STREAM_INTERVAL`]).
    #[must_use]
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.core.interval = interval.max(MIN_STREAM_INTERVAL);
        self
    }

    /// Shows `text` (cut at [`MAX_INFORMATIVE_CHARS`]) as an informative update ("Searching the documents..."):
    /// sent now if an update is due, else the latest one waits for the next due update. Ignored once the answer's
    /// text has started (Teams shows informative updates before the answer), outside a 1:1 chat and after the
    /// user stopped the stream.
    ///
    /// # Errors
    /// [`BotError::Connector`] when Teams failed the update for another reason than refusing to stream.
    pub async fn inform(&mut self, text: impl Into<String>) -> Result<(), BotError> {
        let update = self.core.inform(text.into(), Instant::now());
        self.send_update(update).await
    }

    /// Appends `chunk` to the answer; sends the whole text so far if an update is due.
    ///
    /// # Errors
    /// [`BotError::Connector`] when Teams failed the update for another reason than refusing to stream.
    pub async fn push(&mut self, chunk: impl AsRef<str>) -> Result<(), BotError> {
        let update = self.core.push(chunk.as_ref(), Instant::now());
        self.send_update(update).await
    }

    /// The answer's text so far.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.core.text
    }

    /// Whether the user stopped the stream (a generator can stop writing).
    #[must_use]
    pub fn is_stopped(&self) -> bool {
        self.core.mode == Mode::Stopped
    }

    /// The stream's id, once Teams answered the first update.
    #[must_use]
    pub fn stream_id(&self) -> Option<&str> {
        self.core.stream_id.as_deref()
    }

    /// Ends the stream with a message of the whole text (Teams' default markdown).
    ///
    /// # Errors
    /// [`BotError::Connector`] when Teams failed the final message.
    pub async fn finish(self) -> Result<StreamOutcome, BotError> {
        self.finish_with(Activity::message(String::new())).await
    }

    /// Ends the stream with `message` (attachments, text format, entities: Teams takes them only in the final
    /// message); when `message` has no text, the streamed text is its text.
    ///
    /// # Errors
    /// [`BotError::Connector`] when Teams failed the final message.
    pub async fn finish_with(self, message: impl Into<Activity>) -> Result<StreamOutcome, BotError> {
        let mut message = message.into();
        if let Some(m) = message.message_mut()
            && m.text.as_deref().is_none_or(str::is_empty)
            && !self.core.text.is_empty()
        {
            m.text = Some(self.core.text.clone());
        }
        match self.core.mode {
            Mode::Stopped => return Ok(StreamOutcome::StoppedByUser),
            Mode::OneMessage => return self.one_message(message).await,
            Mode::Streaming => {}
        }
        let Some(stream_id) = self.core.stream_id.clone() else {
            // Nothing was streamed yet: an ordinary message says it all.
            return self.one_message(message).await;
        };
        tokio::time::sleep(self.core.wait_before_final(Instant::now())).await;
        message
            .entities
            .get_or_insert_with(Vec::new)
            .push(stream_info("final", Some(&stream_id), None));
        match self.post(&message).await {
            Ok(_) => {
                self.ctx.count_sent();
                Ok(StreamOutcome::Streamed {
                    message_id: ActivityId::from(stream_id),
                })
            }
            Err(e) => match Refusal::of(&e) {
                Some(Refusal::StoppedByUser) => {
                    tracing::info!(conversation = %self.ctx.conversation_id(), "the user stopped the stream");
                    Ok(StreamOutcome::StoppedByUser)
                }
                Some(Refusal::NotAllowed | Refusal::TimedOut) => {
                    if let Some(entities) = message.entities.as_mut() {
                        entities.retain(|e| e.kind() != "streaminfo");
                    }
                    self.one_message(message).await
                }
                None => Err(self.failed(e).await),
            },
        }
    }

    /// Sends `update` (if any), and follows Teams' answer: the stream's id, or the end of streaming.
    async fn send_update(&mut self, update: Option<Update>) -> Result<(), BotError> {
        let Some(update) = update else {
            return Ok(());
        };
        let activity = self.core.activity(&update);
        match self.post(&activity).await {
            Ok(id) => {
                self.core.sent(&update, id, Instant::now());
                Ok(())
            }
            Err(e) => match Refusal::of(&e) {
                Some(refusal) => {
                    tracing::info!(
                        conversation = %self.ctx.conversation_id(),
                        ?refusal,
                        "Teams ended the stream"
                    );
                    self.core.refused(refusal);
                    Ok(())
                }
                None => Err(self.failed(e).await),
            },
        }
    }

    /// POSTs `activity` to this 1:1 chat (`conversations/{id}/activities`, as Teams documents streaming);
    /// answers the id Teams gave (empty when it answered `{}`).
    async fn post(&self, activity: &Activity) -> Result<String, ConnectorError> {
        let conversation = self.ctx.conversation_id();
        let activity = crate::addressed(activity, conversation, self.ctx.tenant());
        let sent = self
            .ctx
            .app()
            .connector
            .send_to_conversation(&self.ctx.conversation().service_url, conversation, &activity)
            .await?;
        Ok(sent.id.as_str().to_owned())
    }

    /// The fallback: `message` as one ordinary reply.
    async fn one_message(&self, message: Activity) -> Result<StreamOutcome, BotError> {
        let message_id = self.ctx.reply(message).await?;
        Ok(StreamOutcome::Sent { message_id })
    }

    /// Logs and counts a failed update like any failed send (and stops sending where the bot was removed).
    async fn failed(&self, error: ConnectorError) -> BotError {
        self.ctx.failed("stream", error, self.ctx.conversation_id()).await
    }
}

/// How Teams ended or refused a stream (msteams-docs `bots/streaming-ux.md`, "Response codes").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 403 `ContentStreamNotAllowed` "Content stream was cancelled by user.": the user pressed Stop.
    StoppedByUser,
    /// 403 `ContentStreamNotAllowed` "Content stream finished due to exceeded streaming time." (2 minutes).
    TimedOut,
    /// Streaming is not available here: 403 `ContentStreamNotAllowed` "Content stream is not allowed", 400
    /// `BadArgument` "API isn't enabled for the bot" / "streaming api is not enabled", or 405 (what Teams
    /// answered a stream in a group chat, teams-sdk#2316).
    NotAllowed,
}

impl Refusal {
    /// The refusal `error` is, if it is one; any other failure (a size limit, a 5xx, ...) is `None`.
    pub(crate) fn of(error: &ConnectorError) -> Option<Self> {
        match error {
            ConnectorError::Forbidden { code, message } if code == "ContentStreamNotAllowed" => {
                let message = message.to_lowercase();
                if message.contains("cancel") {
                    Some(Self::StoppedByUser)
                } else if message.contains("streaming time") {
                    Some(Self::TimedOut)
                } else if message.trim_end_matches('.') == "content stream is not allowed" {
                    Some(Self::NotAllowed)
                } else {
                    None
                }
            }
            ConnectorError::Unexpected { status: 405, .. } => Some(Self::NotAllowed),
            ConnectorError::Unexpected { status: 400, body } => {
                let body = body.to_lowercase();
                (body.contains("streaming api is not enabled") || body.contains("api isn't enabled for the bot"))
                    .then_some(Self::NotAllowed)
            }
            ConnectorError::Refused(_)
            | ConnectorError::Token(_)
            | ConnectorError::NotInRoster { .. }
            | ConnectorError::BotDisabled { .. }
            | ConnectorError::Forbidden { .. }
            | ConnectorError::NotFound { .. }
            | ConnectorError::TooLarge { .. }
            | ConnectorError::Throttled { .. }
            | ConnectorError::Transient { .. }
            | ConnectorError::OutcomeUnknown { .. }
            | ConnectorError::Unexpected { .. }
            | ConnectorError::Decode { .. } => None,
        }
    }
}

/// What a stream does with the bot's writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Streaming updates in a 1:1 chat.
    Streaming,
    /// Collecting the text for one ordinary message at the end (outside 1:1, or Teams refused to stream).
    OneMessage,
    /// The user stopped it: nothing more is sent.
    Stopped,
}

/// One update to send.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Update {
    kind: UpdateKind,
    text: String,
    sequence: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UpdateKind {
    Informative,
    Streaming,
}

/// The buffering and pacing of a stream, without I/O: what to send when, given the time.
#[derive(Debug)]
struct StreamCore {
    interval: Duration,
    mode: Mode,
    /// The answer so far.
    text: String,
    /// How much of `text` Teams already shows (bytes).
    shown: usize,
    /// The latest informative update not sent yet.
    pending_inform: Option<String>,
    next_sequence: u32,
    stream_id: Option<String>,
    /// When Teams answered the last update.
    last_sent: Option<Instant>,
}

impl StreamCore {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            mode: Mode::Streaming,
            text: String::new(),
            shown: 0,
            pending_inform: None,
            next_sequence: 1,
            stream_id: None,
            last_sent: None,
        }
    }

    fn inform(&mut self, mut text: String, now: Instant) -> Option<Update> {
        if self.mode != Mode::Streaming || !self.text.is_empty() || text.trim().is_empty() {
            return None;
        }
        if let Some((cut, _)) = text.char_indices().nth(MAX_INFORMATIVE_CHARS) {
            text.truncate(cut);
        }
        self.pending_inform = Some(text);
        self.due(now)
    }

    fn push(&mut self, chunk: &str, now: Instant) -> Option<Update> {
        if self.mode == Mode::Stopped {
            return None;
        }
        self.text.push_str(chunk);
        if self.mode == Mode::OneMessage {
            return None;
        }
        self.due(now)
    }

    /// The update to send now, if one is due and there is something new to show.
    fn due(&mut self, now: Instant) -> Option<Update> {
        if self.mode != Mode::Streaming || self.wait(now) > Duration::ZERO {
            return None;
        }
        let (kind, text) = if self.text.len() > self.shown && !self.text.trim().is_empty() {
            self.pending_inform = None;
            (UpdateKind::Streaming, self.text.clone())
        } else if self.text.is_empty() {
            (UpdateKind::Informative, self.pending_inform.take()?)
        } else {
            return None;
        };
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        Some(Update { kind, text, sequence })
    }

    /// How long until the next update may go.
    fn wait(&self, now: Instant) -> Duration {
        self.last_sent
            .map_or(Duration::ZERO, |t| (t + self.interval).saturating_duration_since(now))
    }

    fn wait_before_final(&self, now: Instant) -> Duration {
        self.wait(now)
    }

    /// Teams accepted `update`, answering `id` (the stream's id on the first update).
    fn sent(&mut self, update: &Update, id: String, now: Instant) {
        self.last_sent = Some(now);
        if update.kind == UpdateKind::Streaming {
            self.shown = update.text.len();
        }
        if self.stream_id.is_none() {
            if id.is_empty() {
                // Without the stream's id no later update can name it: finish with one message.
                self.mode = Mode::OneMessage;
            } else {
                self.stream_id = Some(id);
            }
        }
    }

    fn refused(&mut self, refusal: Refusal) {
        self.mode = match refusal {
            Refusal::StoppedByUser => Mode::Stopped,
            Refusal::TimedOut | Refusal::NotAllowed => Mode::OneMessage,
        };
    }

    /// The `typing` activity of `update`.
    fn activity(&self, update: &Update) -> Activity {
        let stream_type = match update.kind {
            UpdateKind::Informative => "informative",
            UpdateKind::Streaming => "streaming",
        };
        let mut extra = Map::new();
        extra.insert("text".to_owned(), Value::String(update.text.clone()));
        Activity {
            entities: Some(vec![stream_info(
                stream_type,
                self.stream_id.as_deref(),
                Some(update.sequence),
            )]),
            kind: ActivityKind::Typing(Extra { extra }),
            ..Activity::default()
        }
    }
}

/// The `streaminfo` entity: `streamId` (absent on the first update), `streamType`, `streamSequence` (absent on
/// the final message).
fn stream_info(stream_type: &str, stream_id: Option<&str>, sequence: Option<u32>) -> Entity {
    let mut entity = Map::new();
    entity.insert("type".to_owned(), json!("streaminfo"));
    if let Some(id) = stream_id {
        entity.insert("streamId".to_owned(), json!(id));
    }
    entity.insert("streamType".to_owned(), json!(stream_type));
    if let Some(n) = sequence {
        entity.insert("streamSequence".to_owned(), json!(n));
    }
    Entity::Other(entity)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn core() -> StreamCore {
        StreamCore::new(STREAM_INTERVAL)
    }

    /// Sends `update` as Teams would accept it (the stream's id on the first), at `now`.
    fn accept(core: &mut StreamCore, update: &Update, now: Instant) {
        core.sent(update, "stream-1".to_owned(), now);
    }

    #[test]
    fn the_first_update_goes_at_once_and_later_ones_wait_for_the_interval() {
        let mut core = core();
        let t0 = Instant::now();
        let first = core.inform("Thinking...".to_owned(), t0).unwrap();
        assert_eq!(first.kind, UpdateKind::Informative);
        assert_eq!(first.sequence, 1);
        accept(&mut core, &first, t0);
        assert_eq!(core.stream_id.as_deref(), Some("stream-1"));

        assert_eq!(core.push("A brown", t0 + SECOND), None, "inside the interval: buffered");
        assert_eq!(core.push(" fox", t0 + SECOND), None);
        let chunk = core.push(" jumped", t0 + STREAM_INTERVAL).unwrap();
        assert_eq!(chunk.kind, UpdateKind::Streaming);
        assert_eq!(
            chunk.text, "A brown fox jumped",
            "each update carries the whole text so far"
        );
        assert_eq!(chunk.sequence, 2);
    }

    #[test]
    fn sequences_increase_by_one_across_informative_and_streaming_updates() {
        let mut core = core();
        let mut now = Instant::now();
        let mut sequences = Vec::new();
        for update in ["Searching...", "Reading..."] {
            let u = core.inform(update.to_owned(), now).unwrap();
            sequences.push(u.sequence);
            accept(&mut core, &u, now);
            now += STREAM_INTERVAL;
        }
        for word in ["one ", "two ", "three"] {
            let u = core.push(word, now).unwrap();
            sequences.push(u.sequence);
            accept(&mut core, &u, now);
            now += STREAM_INTERVAL;
        }
        assert_eq!(sequences, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn only_the_latest_informative_update_waits_and_the_answer_supersedes_it() {
        let mut core = core();
        let t0 = Instant::now();
        let first = core.inform("one".to_owned(), t0).unwrap();
        accept(&mut core, &first, t0);
        assert_eq!(core.inform("two".to_owned(), t0), None);
        assert_eq!(core.inform("three".to_owned(), t0), None);
        let next = core.due(t0 + STREAM_INTERVAL).unwrap();
        assert_eq!((next.kind, next.text.as_str()), (UpdateKind::Informative, "three"));
        accept(&mut core, &next, t0 + STREAM_INTERVAL);

        let later = t0 + 2 * STREAM_INTERVAL;
        assert_eq!(core.inform("four".to_owned(), t0 + STREAM_INTERVAL), None);
        let chunk = core.push("Answer", later).unwrap();
        assert_eq!(
            chunk.kind,
            UpdateKind::Streaming,
            "the answer goes instead of the waiting update"
        );
        accept(&mut core, &chunk, later);
        assert_eq!(
            core.inform("five".to_owned(), later + STREAM_INTERVAL),
            None,
            "ignored once text started"
        );
    }

    #[test]
    fn a_long_informative_update_is_cut_at_teams_limit() {
        let mut core = core();
        let long = "é".repeat(MAX_INFORMATIVE_CHARS + 5);
        let update = core.inform(long, Instant::now()).unwrap();
        assert_eq!(update.text.chars().count(), MAX_INFORMATIVE_CHARS);
    }

    #[test]
    fn nothing_new_means_nothing_sent() {
        let mut core = core();
        let t0 = Instant::now();
        let u = core.push("text", t0).unwrap();
        accept(&mut core, &u, t0);
        assert_eq!(core.push("", t0 + 10 * SECOND), None);
        assert_eq!(core.due(t0 + 10 * SECOND), None);
        assert_eq!(core.push("   ", t0 + SECOND), None, "inside the interval");
        assert!(core.push("!", t0 + 10 * SECOND).is_some());
    }

    #[test]
    fn the_final_message_waits_only_for_what_is_left_of_the_interval() {
        let mut core = core();
        let t0 = Instant::now();
        assert_eq!(core.wait_before_final(t0), Duration::ZERO, "nothing sent yet");
        let u = core.push("x", t0).unwrap();
        accept(&mut core, &u, t0);
        assert_eq!(core.wait_before_final(t0 + SECOND), STREAM_INTERVAL - SECOND);
        assert_eq!(core.wait_before_final(t0 + 5 * SECOND), Duration::ZERO);
    }

    #[test]
    fn outside_streaming_the_text_is_kept_for_one_message() {
        let mut core = core();
        core.mode = Mode::OneMessage;
        let t0 = Instant::now();
        assert_eq!(core.inform("Thinking".to_owned(), t0), None);
        assert_eq!(core.push("all ", t0), None);
        assert_eq!(core.push("of it", t0 + 10 * SECOND), None);
        assert_eq!(core.text, "all of it");
    }

    #[test]
    fn a_stopped_stream_sends_nothing_more() {
        let mut core = core();
        let t0 = Instant::now();
        let u = core.push("partial", t0).unwrap();
        accept(&mut core, &u, t0);
        core.refused(Refusal::StoppedByUser);
        assert_eq!(core.push(" more", t0 + 10 * SECOND), None);
        assert_eq!(core.inform("x".to_owned(), t0 + 10 * SECOND), None);
        assert_eq!(core.text, "partial");
    }

    #[test]
    fn refusals_to_stream_fall_back_to_one_message() {
        let mut core = core();
        let t0 = Instant::now();
        assert!(core.push("a", t0).is_some());
        core.refused(Refusal::NotAllowed);
        assert_eq!(core.mode, Mode::OneMessage);
        assert_eq!(core.push("b", t0 + 10 * SECOND), None);
        assert_eq!(core.text, "ab");

        let mut timed_out = self::core();
        timed_out.refused(Refusal::TimedOut);
        assert_eq!(timed_out.mode, Mode::OneMessage);
    }

    #[test]
    fn a_first_answer_without_an_id_ends_streaming() {
        let mut core = core();
        let t0 = Instant::now();
        let u = core.push("a", t0).unwrap();
        core.sent(&u, String::new(), t0);
        assert_eq!(core.mode, Mode::OneMessage);
        assert_eq!(core.stream_id, None);
    }

    #[test]
    fn updates_are_typing_activities_with_a_streaminfo_entity() {
        let mut core = core();
        let t0 = Instant::now();
        let first = core.inform("Thinking...".to_owned(), t0).unwrap();
        let wire = serde_json::to_value(core.activity(&first)).unwrap();
        assert_eq!(
            wire,
            json!({"type": "typing", "text": "Thinking...",
                   "entities": [{"type": "streaminfo", "streamType": "informative", "streamSequence": 1}]})
        );
        accept(&mut core, &first, t0);
        let chunk = core.push("Hello", t0 + STREAM_INTERVAL).unwrap();
        let wire = serde_json::to_value(core.activity(&chunk)).unwrap();
        assert_eq!(
            wire["entities"],
            json!([{"type": "streaminfo", "streamId": "stream-1", "streamType": "streaming", "streamSequence": 2}])
        );
        assert_eq!(
            serde_json::to_value(stream_info("final", Some("stream-1"), None)).unwrap(),
            json!({"type": "streaminfo", "streamId": "stream-1", "streamType": "final"})
        );
    }

    #[test]
    fn teams_answers_are_read_as_documented() {
        let forbidden = |message: &str| ConnectorError::Forbidden {
            code: "ContentStreamNotAllowed".to_owned(),
            message: message.to_owned(),
        };
        assert_eq!(
            Refusal::of(&forbidden("Content stream was cancelled by user.")),
            Some(Refusal::StoppedByUser)
        );
        assert_eq!(
            Refusal::of(&forbidden("Content stream was canceled by user")),
            Some(Refusal::StoppedByUser)
        );
        assert_eq!(
            Refusal::of(&forbidden("Content stream finished due to exceeded streaming time.")),
            Some(Refusal::TimedOut)
        );
        assert_eq!(
            Refusal::of(&forbidden("Content stream is not allowed")),
            Some(Refusal::NotAllowed)
        );
        assert_eq!(Refusal::of(&forbidden("Message size too large")), None);
        let other_403 = ConnectorError::Forbidden {
            code: "Forbidden".to_owned(),
            message: "Content stream was cancelled by user.".to_owned(),
        };
        assert_eq!(Refusal::of(&other_403), None);
        let method = ConnectorError::Unexpected {
            status: 405,
            body: String::new(),
        };
        assert_eq!(Refusal::of(&method), Some(Refusal::NotAllowed));
        let disabled = ConnectorError::Unexpected {
            status: 400,
            body: r#"{"error":{"code":"BadArgument","message":"API isn't enabled for the bot"}}"#.to_owned(),
        };
        assert_eq!(Refusal::of(&disabled), Some(Refusal::NotAllowed));
        let bad = ConnectorError::Unexpected {
            status: 400,
            body: r#"{"error":{"code":"BadArgument","message":"Start streaming activities should include text"}}"#
                .to_owned(),
        };
        assert_eq!(Refusal::of(&bad), None);
        assert_eq!(
            Refusal::of(&ConnectorError::NotInRoster { message: String::new() }),
            None
        );
    }
}
