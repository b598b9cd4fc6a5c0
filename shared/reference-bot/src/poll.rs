//! The check-in poll: what a conversation subscribes to, the card posted at each due time, and the votes that
//! update that same card in place.
//!
//! A subscription is a scheduled job ([`POLL_JOB`]) of the conversation; each run posts [`poll_message`] and
//! saves the posted poll's [`PollState`] and message id in the job's data. A vote arrives as a card action (an
//! `Action.Submit` or an `adaptiveCard/action` invoke) carrying the [`PollVote`] data the card's buttons hold. It
//! is checked against the poll posted in *this* conversation with [`apply_vote`] (this slot, an existing choice;
//! a vote naming another conversation's poll is refused), stored as its own answer (simultaneous votes never
//! contend), and [`poll_message`] with the stored tally is PUT over the posted message.
//!
//! The card also carries a Universal Actions `refresh` ([`REFRESH_ACTION`]): Teams asks for it as it shows the card
//! to the users listed (those who voted, so they see the tally as it stands), and for anyone who picks "Refresh
//! card"; the answer is the card with the stored tally, in place of the one shown.

use crate::cards::with_attachment;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use teams_bot::models::{Activity, ActivityId, Attachment, ChannelAccount};
use teams_bot::{BotError, CardAction, Context, IncomingMessage, InvokeError, InvokeResponse, JobRun};

/// The `action` value in a poll button's `data` (and the `verb` of an `Action.Execute`).
pub const VOTE_ACTION: &str = "pollVote";
/// The verb of the poll card's `refresh` action (and the `action` in its `data`).
pub const REFRESH_ACTION: &str = "pollRefresh";
/// The most users a card's `refresh.userIds` may list (Teams refreshes the card automatically for them).
pub const MAX_REFRESH_USERS: usize = 60;
/// The name of the poll's scheduled job (one per conversation).
pub const POLL_JOB: &str = "poll";
/// How many times one vote shows the poll card: once, and again while other votes keep landing meanwhile.
const CARD_ROUNDS: usize = 3;
/// Default minutes between two polls.
pub const DEFAULT_INTERVAL_MINUTES: u32 = 24 * 60;
/// Longest interval `subscribe <minutes>` accepts (a week).
pub const MAX_INTERVAL_MINUTES: u32 = 7 * 24 * 60;

/// What a subscription asks each time: a question and its choices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollDefinition {
    pub question: String,
    pub choices: Vec<String>,
}

impl Default for PollDefinition {
    /// The check-in: "How is it going?" with three answers.
    fn default() -> Self {
        Self {
            question: "Check-in: how is it going?".to_owned(),
            choices: vec!["Great".to_owned(), "OK".to_owned(), "Not so good".to_owned()],
        }
    }
}

/// One posted poll: the subscription (`poll_id`), the time slot it was posted for, and the votes so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollState {
    /// The subscription's id (chosen by the store, e.g. from the conversation id).
    pub poll_id: String,
    /// The time slot this message was posted for (opaque; e.g. the due time in Unix seconds).
    pub slot: String,
    pub question: String,
    pub choices: Vec<String>,
    /// Each voter's current choice (index into `choices`), by voter id: one vote per person, the last counts.
    #[serde(default)]
    pub votes: BTreeMap<String, usize>,
}

impl PollState {
    /// A fresh poll with no votes.
    #[must_use]
    pub fn new(poll_id: impl Into<String>, slot: impl Into<String>, definition: &PollDefinition) -> Self {
        Self {
            poll_id: poll_id.into(),
            slot: slot.into(),
            question: definition.question.clone(),
            choices: definition.choices.clone(),
            votes: BTreeMap::new(),
        }
    }

    /// Votes per choice, in the order of `choices`.
    #[must_use]
    pub fn tally(&self) -> Vec<usize> {
        let mut counts = vec![0; self.choices.len()];
        for &choice in self.votes.values() {
            if let Some(c) = counts.get_mut(choice) {
                *c += 1;
            }
        }
        counts
    }
}

/// One answer to a poll, read from a card submit or an `adaptiveCard/action` invoke.
#[derive(Clone, Debug, PartialEq)]
pub struct PollVote {
    pub poll_id: String,
    pub slot: String,
    /// Index into the poll's choices.
    pub choice: usize,
    /// Who answered (the activity's `from`).
    pub voter: ChannelAccount,
}

/// The data a poll button carries: `{"action": "pollVote", "pollId", "slot", "choice"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VoteData {
    action: String,
    poll_id: String,
    slot: String,
    choice: usize,
}

/// The data of the poll card's refresh action: `{"action": "pollRefresh", "pollId", "slot"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshData {
    action: String,
    poll_id: String,
    slot: String,
}

impl PollVote {
    /// The vote in a card submit's `value` (`Action.Submit` data), if it is one.
    #[must_use]
    pub fn from_submit(value: &Value, voter: &ChannelAccount) -> Option<Self> {
        let data: VoteData = serde_json::from_value(value.clone()).ok()?;
        (data.action == VOTE_ACTION).then(|| Self {
            poll_id: data.poll_id,
            slot: data.slot,
            choice: data.choice,
            voter: voter.clone(),
        })
    }

    /// The vote in an `adaptiveCard/action` invoke's `value` (`{"action": {"type": "Action.Execute", "verb",
    /// "data"}}`), if it is one.
    #[must_use]
    pub fn from_invoke(value: &Value, voter: &ChannelAccount) -> Option<Self> {
        let action = value.get("action")?;
        if action
            .get("verb")
            .and_then(Value::as_str)
            .is_some_and(|v| v != VOTE_ACTION)
        {
            return None;
        }
        Self::from_submit(action.get("data")?, voter)
    }
}

/// Why a vote does not apply to a poll.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VoteError {
    #[error("the vote is for poll {poll_id} slot {slot}, not this one")]
    OtherPoll { poll_id: String, slot: String },
    #[error("choice {0} does not exist")]
    UnknownChoice(usize),
}

/// The poll after `vote`: the voter's choice recorded (replacing an earlier one).
///
/// # Errors
/// [`VoteError::OtherPoll`] when the vote names another poll or slot, [`VoteError::UnknownChoice`] when its
/// choice is out of range (a forged or stale submit).
pub fn apply_vote(state: &PollState, vote: &PollVote) -> Result<PollState, VoteError> {
    if vote.poll_id != state.poll_id || vote.slot != state.slot {
        return Err(VoteError::OtherPoll {
            poll_id: vote.poll_id.clone(),
            slot: vote.slot.clone(),
        });
    }
    if vote.choice >= state.choices.len() {
        return Err(VoteError::UnknownChoice(vote.choice));
    }
    let mut next = state.clone();
    next.votes.insert(vote.voter.id.clone(), vote.choice);
    Ok(next)
}

/// The poll's Adaptive Card: the question, the tally, and one `Action.Submit` per choice whose `data` carries
/// the poll id, the slot and the choice; its `refresh` (an `Action.Execute` [`REFRESH_ACTION`] with the poll id
/// and slot) lists the voters so far (at most [`MAX_REFRESH_USERS`]) for Teams to refresh the card for.
#[must_use]
pub fn poll_card(state: &PollState) -> Attachment {
    Attachment::adaptive(poll_card_json(state))
}

/// The card of [`poll_card`], as JSON.
#[must_use]
pub fn poll_card_json(state: &PollState) -> Value {
    let tally = state.tally();
    let total: usize = tally.iter().sum();
    let facts: Vec<Value> = state
        .choices
        .iter()
        .zip(&tally)
        .map(|(choice, n)| json!({"title": choice, "value": votes_word(*n)}))
        .collect();
    let actions: Vec<Value> = state
        .choices
        .iter()
        .enumerate()
        .map(|(i, choice)| {
            json!({
                "type": "Action.Submit",
                "title": choice,
                "data": VoteData {
                    action: VOTE_ACTION.to_owned(),
                    poll_id: state.poll_id.clone(),
                    slot: state.slot.clone(),
                    choice: i,
                },
            })
        })
        .collect();
    let refresh = RefreshData {
        action: REFRESH_ACTION.to_owned(),
        poll_id: state.poll_id.clone(),
        slot: state.slot.clone(),
    };
    let voters: Vec<&String> = state.votes.keys().take(MAX_REFRESH_USERS).collect();
    json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "refresh": {
            "action": {"type": "Action.Execute", "title": "Refresh", "verb": REFRESH_ACTION, "data": refresh},
            "userIds": voters
        },
        "body": [
            {"type": "TextBlock", "text": state.question, "weight": "Bolder", "wrap": true},
            {"type": "FactSet", "facts": facts},
            {"type": "TextBlock", "text": format!("{} so far", answers_word(total)), "isSubtle": true, "wrap": true}
        ],
        "actions": actions
    })
}

/// The poll as a message with the card as its only attachment (Teams updates only single-attachment messages).
#[must_use]
pub fn poll_message(state: &PollState) -> Activity {
    with_attachment(None, poll_card(state))
}

/// The answer to an `adaptiveCard/action` invoke that recorded a vote: a short message Teams shows the voter.
#[must_use]
pub fn vote_invoke_response() -> InvokeResponse {
    InvokeResponse::message("Thanks, your answer is in.")
}

/// What the poll job keeps between runs: the poll asked, and the last posted poll with its message id.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PollData {
    #[serde(default)]
    poll: PollDefinition,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<PollState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_id: Option<ActivityId>,
}

/// A due poll: post a fresh card for this slot and remember it (its state and message id) for the votes.
pub(crate) async fn on_job(ctx: &Context<'_>, job: &JobRun<'_>) -> Result<(), BotError> {
    if job.name != POLL_JOB {
        return Ok(());
    }
    let mut data: PollData = serde_json::from_value(job.data.clone()).unwrap_or_default();
    let state = PollState::new(ctx.conversation_id().as_str(), job.slot.0.to_string(), &data.poll);
    let sent = ctx.send(poll_message(&state)).await?;
    data.state = Some(state);
    data.message_id = Some(sent);
    ctx.jobs().save_data(POLL_JOB, to_value(&data)).await?;
    Ok(())
}

fn to_value(data: &PollData) -> Value {
    serde_json::to_value(data).unwrap_or(Value::Null)
}

/// The answer to an invoke for a poll that is not open in this conversation.
const NOT_OPEN_HERE: &str = "Sorry, this poll is no longer open here.";

/// A card action: a poll vote is recorded and the card updated, a refresh answers the card as it stands;
/// anything else is not ours.
pub(crate) async fn on_card_action(ctx: &Context<'_>, action: &CardAction<'_>) -> Result<InvokeResponse, BotError> {
    if action.is_invoke && action.verb == Some(REFRESH_ACTION) {
        return refresh(ctx, action.data).await;
    }
    let vote = if action.is_invoke {
        match action.verb {
            Some(verb) if verb != VOTE_ACTION => None,
            Some(_) | None => PollVote::from_submit(action.data, action.from),
        }
    } else {
        PollVote::from_submit(action.data, action.from)
    };
    let Some(vote) = vote else {
        return Ok(InvokeResponse::ok());
    };
    let counted = record_vote(ctx, &vote, action.message_id).await?;
    Ok(match (action.is_invoke, counted) {
        (true, true) => vote_invoke_response(),
        (true, false) => InvokeResponse::message(NOT_OPEN_HERE),
        (false, _) => InvokeResponse::ok(),
    })
}

/// The card's refresh: this conversation's poll for the slot the card shows, with the tally as stored, in place
/// of the card shown (the posted poll's question and choices; an earlier slot's card gets the subscription's).
/// A card of another conversation's poll, or of a poll no longer subscribed, is told so.
async fn refresh(ctx: &Context<'_>, data: &Value) -> Result<InvokeResponse, BotError> {
    let Ok(wanted) = serde_json::from_value::<RefreshData>(data.clone()) else {
        return Ok(InvokeError::bad_request("This refresh names no poll.").into());
    };
    let jobs = ctx.jobs();
    let Some(job) = jobs.get(POLL_JOB).await? else {
        return Ok(InvokeResponse::message(NOT_OPEN_HERE));
    };
    let data: PollData = serde_json::from_value(job.data).unwrap_or_default();
    let Some(posted) = data.state else {
        return Ok(InvokeResponse::message(NOT_OPEN_HERE));
    };
    if posted.poll_id != wanted.poll_id {
        tracing::info!(poll = %wanted.poll_id, "refresh of another conversation's poll refused");
        return Ok(InvokeResponse::message(NOT_OPEN_HERE));
    }
    let mut state = if posted.slot == wanted.slot {
        posted
    } else {
        PollState::new(posted.poll_id, wanted.slot, &data.poll)
    };
    state.votes.extend(jobs.answers(POLL_JOB, &state.slot).await?);
    Ok(InvokeResponse::card(poll_card_json(&state)))
}

/// A vote in a message's `value` (an `Action.Submit` that also carries text): counted as a vote.
pub(crate) async fn vote_in_message(ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<bool, BotError> {
    let Some(vote) = message
        .message
        .value
        .as_ref()
        .and_then(|v| PollVote::from_submit(v, message.from))
    else {
        return Ok(false);
    };
    record_vote(ctx, &vote, message.activity.reply_to_id.as_ref()).await?;
    Ok(true)
}

/// Checks the vote against the poll posted in this conversation, stores it, and shows the stored tally on the
/// poll's card. A vote that does not apply is logged and dropped.
/// Answers whether the vote was counted.
async fn record_vote(ctx: &Context<'_>, vote: &PollVote, message_id: Option<&ActivityId>) -> Result<bool, BotError> {
    let jobs = ctx.jobs();
    let Some(job) = jobs.get(POLL_JOB).await? else {
        tracing::info!(poll = %vote.poll_id, "vote for a poll that is no longer subscribed");
        return Ok(false);
    };
    let mut data: PollData = serde_json::from_value(job.data).unwrap_or_default();
    let Some(mut state) = data.state.take() else {
        tracing::info!(poll = %vote.poll_id, "vote for a poll that has not been posted");
        return Ok(false);
    };
    // This conversation's poll, this slot and an existing choice: a stale, forged or other conversation's submit
    // is refused before anything is stored.
    if let Err(e) = apply_vote(&state, vote) {
        tracing::info!(error = %e, "vote refused");
        return Ok(false);
    }
    jobs.record_answer(POLL_JOB, &vote.slot, &vote.voter.id, vote.choice)
        .await?;
    let Some(message_id) = message_id.cloned().or(data.message_id) else {
        return Ok(true);
    };
    // The card shows the tally as stored. Votes landing while ours is shown make the tally read again and the
    // card shown again (at most CARD_ROUNDS times), so the last voter's PUT carries every vote before it.
    let earlier = std::mem::take(&mut state.votes);
    let mut shown = None;
    for _ in 0..CARD_ROUNDS {
        let stored = jobs.answers(POLL_JOB, &vote.slot).await?;
        if shown.as_ref() == Some(&stored) {
            break;
        }
        state.votes = earlier.clone();
        state.votes.extend(stored.iter().cloned());
        if !show_poll(ctx, &message_id, &state).await? {
            break;
        }
        shown = Some(stored);
    }
    Ok(true)
}

/// Updates the poll card to `state`; `false` when it cannot be: a card deleted in Teams is posted again (and
/// remembered), a bot removed from the conversation ends the subscription.
async fn show_poll(ctx: &Context<'_>, message_id: &ActivityId, state: &PollState) -> Result<bool, BotError> {
    let error = match ctx.update(message_id, poll_message(state)).await {
        Ok(()) => return Ok(true),
        Err(e) => e,
    };
    if error.is_not_found() {
        let sent = ctx.send(poll_message(state)).await?;
        if let Some(job) = ctx.jobs().get(POLL_JOB).await? {
            let mut data: PollData = serde_json::from_value(job.data).unwrap_or_default();
            data.message_id = Some(sent);
            ctx.jobs().save_data(POLL_JOB, to_value(&data)).await?;
        }
        return Ok(false);
    }
    if error.is_bot_removed() {
        ctx.jobs().cancel(POLL_JOB).await?;
        tracing::info!(conversation = %ctx.conversation_id(), "poll subscription ended: the bot was removed");
    }
    Err(error)
}

fn votes_word(n: usize) -> String {
    if n == 1 {
        "1 vote".to_owned()
    } else {
        format!("{n} votes")
    }
}

fn answers_word(n: usize) -> String {
    if n == 1 {
        "1 answer".to_owned()
    } else {
        format!("{n} answers")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> PollState {
        PollState::new("poll-1", "1700000000", &PollDefinition::default())
    }

    fn voter(id: &str) -> ChannelAccount {
        ChannelAccount::new(id, Some(id.to_uppercase()))
    }

    #[test]
    fn card_buttons_carry_poll_slot_and_choice_and_round_trip_as_votes() {
        let card = poll_card(&state()).content.unwrap();
        let actions = card["actions"].as_array().unwrap();
        assert_eq!(actions.len(), 3);
        assert_eq!(actions[1]["type"], "Action.Submit");
        assert_eq!(actions[1]["title"], "OK");
        assert_eq!(
            actions[1]["data"],
            json!({"action": "pollVote", "pollId": "poll-1", "slot": "1700000000", "choice": 1})
        );
        let vote = PollVote::from_submit(&actions[1]["data"], &voter("29:a")).unwrap();
        assert_eq!(
            (vote.poll_id.as_str(), vote.slot.as_str(), vote.choice),
            ("poll-1", "1700000000", 1)
        );
    }

    #[test]
    fn votes_are_counted_once_per_voter_and_the_card_shows_the_tally() {
        let s = state();
        let v = |who: &str, choice| PollVote {
            poll_id: "poll-1".into(),
            slot: "1700000000".into(),
            choice,
            voter: voter(who),
        };
        let s = apply_vote(&s, &v("29:a", 0)).unwrap();
        let s = apply_vote(&s, &v("29:b", 0)).unwrap();
        let s = apply_vote(&s, &v("29:a", 2)).unwrap();
        assert_eq!(s.tally(), vec![1, 0, 1]);
        let card = poll_card(&s).content.unwrap();
        assert_eq!(
            card["body"][1]["facts"][0],
            json!({"title": "Great", "value": "1 vote"})
        );
        assert_eq!(card["body"][1]["facts"][1], json!({"title": "OK", "value": "0 votes"}));
        assert_eq!(card["body"][2]["text"], "2 answers so far");
        let msg = poll_message(&s);
        assert_eq!(msg.as_message().unwrap().attachments.as_ref().unwrap().len(), 1);
        assert_eq!(msg.text(), None);
    }

    #[test]
    fn votes_for_another_poll_or_a_missing_choice_are_refused() {
        let s = state();
        let mut v = PollVote {
            poll_id: "poll-1".into(),
            slot: "other".into(),
            choice: 0,
            voter: voter("29:a"),
        };
        assert!(matches!(apply_vote(&s, &v), Err(VoteError::OtherPoll { .. })));
        v.slot = "1700000000".into();
        v.choice = 3;
        assert_eq!(apply_vote(&s, &v), Err(VoteError::UnknownChoice(3)));
        assert!(s.votes.is_empty());
    }

    #[test]
    fn state_round_trips_through_json() {
        let s = apply_vote(
            &state(),
            &PollVote {
                poll_id: "poll-1".into(),
                slot: "1700000000".into(),
                choice: 1,
                voter: voter("29:a"),
            },
        )
        .unwrap();
        let back: PollState = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn reads_votes_from_invokes_and_ignores_other_data() {
        let value = json!({"action": {"type": "Action.Execute", "verb": "pollVote",
            "data": {"action": "pollVote", "pollId": "p", "slot": "s", "choice": 0}}, "trigger": "manual"});
        assert_eq!(PollVote::from_invoke(&value, &voter("29:a")).unwrap().poll_id, "p");
        let other_verb = json!({"action": {"verb": "other", "data": {"action": "pollVote", "pollId": "p", "slot": "s", "choice": 0}}});
        assert!(PollVote::from_invoke(&other_verb, &voter("29:a")).is_none());
        assert!(
            PollVote::from_submit(
                &json!({"action": "somethingElse", "pollId": "p", "slot": "s", "choice": 0}),
                &voter("29:a")
            )
            .is_none()
        );
        assert!(
            PollVote::from_submit(
                &json!({"action": "pollVote", "pollId": "p", "slot": "s", "choice": -1}),
                &voter("29:a")
            )
            .is_none()
        );
        assert!(PollVote::from_submit(&json!("text"), &voter("29:a")).is_none());
        assert_eq!(vote_invoke_response().body["statusCode"], 200);
    }
}
