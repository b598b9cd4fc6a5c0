//! Runs the bot's decisions against the ports: the Connector for what Teams sees, the store for what must be
//! remembered. Failures are logged and, where the plan has one, answered with its `on_failure` reply; a 403 that
//! says the bot was removed marks the conversation inactive.

use crate::app::App;
use bot::poll::{PollDefinition, PollState, apply_vote, poll_message, vote_invoke_response};
use bot::{
    Decision, DeleteDemoPlan, DmMePlan, MembersPlan, NewThreadPlan, PollAnswer, SubscribePlan, UnsubscribePlan,
    UpdateDemoPlan,
};
use connector::ConnectorError;
use models::connector::PagedMembersResult;
use models::{Activity, ActivityId, ConversationId, ConversationReference};
use serde::Deserialize;
use serde_json::{Value, json};
use store::{InactiveReason, PersonalConversation, Subscription, Timestamp};

/// The subscription name of the reference bot's poll (one per conversation).
pub const POLL_SUBSCRIPTION: &str = "poll";
/// The most roster pages read for one `members` command.
const MAX_ROSTER_PAGES: usize = 50;
/// How many times one vote shows the poll card: once, and again while other votes keep landing meanwhile.
const CARD_ROUNDS: usize = 3;

/// Carries out `decision` for the inbound `activity`. Answers the invoke response body, if the activity needs one.
pub async fn execute(
    app: &App,
    activity: &Activity,
    reference: &ConversationReference,
    decision: Decision,
) -> Option<Value> {
    let ctx = Ctx {
        app,
        activity,
        reference,
    };
    match decision {
        Decision::Reply(replies) => {
            for reply in &replies {
                if ctx.reply(reply).await.is_err() {
                    break;
                }
            }
            None
        }
        Decision::DmMe(plan) => {
            ctx.dm_me(plan).await;
            None
        }
        Decision::NewThread(plan) => {
            ctx.new_thread(plan).await;
            None
        }
        Decision::Members(plan) => {
            ctx.members(plan).await;
            None
        }
        Decision::UpdateDemo(plan) => {
            ctx.update_demo(plan).await;
            None
        }
        Decision::DeleteDemo(plan) => {
            ctx.delete_demo(plan).await;
            None
        }
        Decision::Subscribe(plan) => {
            ctx.subscribe(plan).await;
            None
        }
        Decision::Unsubscribe(plan) => {
            ctx.unsubscribe(plan).await;
            None
        }
        Decision::PollAnswer(answer) => ctx.poll_answer(answer).await,
        Decision::Ignore(why) => {
            tracing::debug!(reason = why.reason(), "nothing to do");
            None
        }
        _ => None,
    }
}

struct Ctx<'a> {
    app: &'a App,
    activity: &'a Activity,
    reference: &'a ConversationReference,
}

impl Ctx<'_> {
    fn service_url(&self) -> &str {
        &self.reference.service_url
    }

    fn conversation(&self) -> &ConversationId {
        &self.reference.conversation.id
    }

    /// Posts a reply in the inbound conversation (threaded under the inbound activity when it has an id).
    async fn reply(&self, reply: &Activity) -> Result<ActivityId, ConnectorError> {
        let connector = &self.app.connector;
        let result = match &self.activity.id {
            Some(id) => {
                connector
                    .reply_to_activity(self.service_url(), self.conversation(), id, reply)
                    .await
            }
            None => {
                connector
                    .send_to_conversation(self.service_url(), self.conversation(), reply)
                    .await
            }
        };
        match result {
            Ok(sent) => Ok(sent.id),
            Err(e) => {
                self.failed("reply", &e, self.conversation()).await;
                Err(e)
            }
        }
    }

    /// Logs a failed Connector call; marks the conversation inactive when Teams says the bot was removed.
    async fn failed(&self, what: &str, error: &ConnectorError, conversation: &ConversationId) {
        tracing::warn!(operation = what, error = %error, "connector call failed");
        if error.is_bot_removed()
            && let Err(e) = self
                .app
                .store
                .mark_inactive(conversation, InactiveReason::Forbidden, Timestamp::now())
                .await
        {
            tracing::error!(error = %e, "could not mark the conversation inactive");
        }
    }

    async fn dm_me(&self, plan: DmMePlan) {
        let now = Timestamp::now();
        let known = self
            .app
            .store
            .personal_by_user(&plan.tenant, &plan.user.id, now)
            .await
            .ok()
            .flatten();
        let conversation = match known {
            Some(personal) => personal.conversation_id,
            None => match self
                .app
                .connector
                .create_conversation(self.service_url(), &plan.create)
                .await
            {
                Ok(created) => {
                    let personal = PersonalConversation {
                        tenant_id: plan.tenant.clone(),
                        user_id: plan.user.id.clone(),
                        aad_object_id: plan.user.aad_object_id.clone(),
                        conversation_id: created.id.clone(),
                        service_url: self.service_url().to_owned(),
                        updated_at: now,
                    };
                    if let Err(e) = self.app.store.record_personal(&personal, now).await {
                        tracing::warn!(error = %e, "could not record the personal conversation");
                    }
                    self.remember_new_personal(&plan, &created.id, now).await;
                    created.id
                }
                Err(e) => {
                    self.failed("create 1:1", &e, self.conversation()).await;
                    let _ = self.reply(&plan.on_failure).await;
                    return;
                }
            },
        };
        match self
            .app
            .connector
            .send_to_conversation(self.service_url(), &conversation, &plan.message)
            .await
        {
            Ok(_) => {
                let _ = self.reply(&plan.report_back).await;
            }
            Err(e) => {
                self.failed("send 1:1", &e, &conversation).await;
                let _ = self.reply(&plan.on_failure).await;
            }
        }
    }

    /// A 1:1 chat the bot just created: its reference (so proactive sends by conversation id work) and the
    /// user's first-contact claim (this is the user's first personal chat, so it gets the one personal welcome).
    async fn remember_new_personal(&self, plan: &DmMePlan, conversation: &ConversationId, now: Timestamp) {
        let reference = ConversationReference {
            activity_id: None,
            user: Some(plan.user.clone()),
            bot: self.reference.bot.clone(),
            conversation: models::ConversationAccount {
                id: conversation.clone(),
                conversation_type: Some(models::ConversationType::Personal),
                tenant_id: Some(plan.tenant.clone()),
                ..models::ConversationAccount::default()
            },
            channel_id: self.reference.channel_id.clone(),
            service_url: self.service_url().to_owned(),
            locale: self.reference.locale.clone(),
            tenant_id: Some(plan.tenant.clone()),
            team_id: None,
            channel: None,
        };
        if let Err(e) = self.app.store.upsert_conversation(&reference, now).await {
            tracing::warn!(error = %e, "could not record the new 1:1 conversation");
        }
        let claim = store::FirstContact {
            tenant_id: plan.tenant.clone(),
            user: plan.user.clone(),
            conversation_id: conversation.clone(),
            service_url: self.service_url().to_owned(),
            bot: self.reference.bot.clone(),
            claimed_at: now,
        };
        if let Err(e) = self.app.store.claim_first_contact(&claim, now).await {
            tracing::warn!(error = %e, "could not claim the first personal contact");
        }
    }

    async fn new_thread(&self, plan: NewThreadPlan) {
        match self
            .app
            .connector
            .create_conversation(self.service_url(), &plan.create)
            .await
        {
            Ok(_) => {
                let _ = self.reply(&plan.report_back).await;
            }
            Err(e) => {
                self.failed("new thread", &e, self.conversation()).await;
                let _ = self.reply(&plan.on_failure).await;
            }
        }
    }

    async fn members(&self, plan: MembersPlan) {
        let mut pages: Vec<PagedMembersResult> = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_ROSTER_PAGES {
            let page = self
                .app
                .connector
                .get_paged_members(
                    self.service_url(),
                    &plan.roster_of,
                    Some(plan.page_size),
                    token.as_deref(),
                )
                .await;
            match page {
                Ok(page) => {
                    token = page.continuation_token.clone().filter(|t| !t.is_empty());
                    pages.push(page);
                    if token.is_none() {
                        break;
                    }
                }
                Err(e) => {
                    self.failed("roster", &e, self.conversation()).await;
                    let _ = self.reply(&plan.on_failure).await;
                    return;
                }
            }
        }
        let _ = self.reply(&plan.finish(&pages)).await;
    }

    async fn update_demo(&self, plan: UpdateDemoPlan) {
        let Ok(id) = self.reply(&plan.first).await else { return };
        let mut replacement = plan.replacement;
        replacement.id = Some(id.clone());
        if let Err(e) = self
            .app
            .connector
            .update_activity(self.service_url(), self.conversation(), &id, &replacement)
            .await
        {
            self.failed("update", &e, self.conversation()).await;
            let _ = self.reply(&plan.on_failure).await;
        }
    }

    async fn delete_demo(&self, plan: DeleteDemoPlan) {
        let Ok(id) = self.reply(&plan.first).await else { return };
        match self
            .app
            .connector
            .delete_activity(self.service_url(), self.conversation(), &id)
            .await
        {
            Ok(()) => {
                let _ = self.reply(&plan.after).await;
            }
            Err(e) => {
                self.failed("delete", &e, self.conversation()).await;
                let _ = self.reply(&plan.on_failure).await;
            }
        }
    }

    async fn subscribe(&self, plan: SubscribePlan) {
        let now = Timestamp::now();
        let subscription = Subscription {
            conversation_id: plan.conversation.clone(),
            name: POLL_SUBSCRIPTION.to_owned(),
            every_secs: u64::from(plan.interval_minutes) * 60,
            next_due: now,
            payload: poll_payload(&plan.poll, self.reference, None),
            poll_activity_id: None,
            created_at: now,
        };
        match self.app.store.subscribe(&subscription, now).await {
            Ok(()) => {
                let _ = self.reply(&plan.confirmation).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "subscribe failed");
                let _ = self.reply(&plan.on_failure).await;
            }
        }
    }

    async fn unsubscribe(&self, plan: UnsubscribePlan) {
        match self
            .app
            .store
            .unsubscribe(&plan.conversation, POLL_SUBSCRIPTION, Timestamp::now())
            .await
        {
            Ok(true) => {
                let _ = self.reply(&plan.done).await;
            }
            Ok(false) => {
                let _ = self.reply(&plan.not_subscribed).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "unsubscribe failed");
                let _ = self.reply(&plan.on_failure).await;
            }
        }
    }

    /// A vote: check it against the poll as posted, store it (its own item: simultaneous votes never contend),
    /// and update the poll message in place (PUT) to show the tally as stored.
    async fn poll_answer(&self, answer: PollAnswer) -> Option<Value> {
        let invoke_body = answer.via_invoke.then(vote_invoke_response);
        let now = Timestamp::now();
        let vote = &answer.vote;
        let conversation = ConversationId::from(vote.poll_id.as_str());
        let store = &self.app.store;
        let subscription = match store.subscription(&conversation, POLL_SUBSCRIPTION, now).await {
            Ok(Some(subscription)) => subscription,
            Ok(None) => {
                tracing::info!(poll = %vote.poll_id, "vote for a poll that is no longer subscribed");
                return invoke_body;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the poll; vote not stored");
                return invoke_body;
            }
        };
        let Some(mut state) = subscription
            .payload
            .get("state")
            .and_then(|s| PollState::deserialize(s).ok())
        else {
            tracing::info!(poll = %vote.poll_id, "vote for a poll that has not been posted");
            return invoke_body;
        };
        // This slot and an existing choice (a stale or forged submit is refused before anything is stored).
        if let Err(e) = apply_vote(&state, vote) {
            tracing::info!(error = %e, "vote refused");
            return invoke_body;
        }
        if let Err(e) = store
            .record_vote(
                &conversation,
                POLL_SUBSCRIPTION,
                &vote.slot,
                &vote.voter.id,
                vote.choice,
                now,
            )
            .await
        {
            tracing::warn!(error = %e, "could not store the vote");
            return invoke_body;
        }
        let Some(message_id) = answer.message_id.or(subscription.poll_activity_id) else {
            return invoke_body;
        };
        // The card shows the tally as stored. Votes landing while ours is shown make the tally read again and the
        // card shown again (at most CARD_ROUNDS times), so the last voter's PUT carries every vote before it.
        let earlier = std::mem::take(&mut state.votes); // votes stored in the state by an older version
        let mut shown = None;
        for _ in 0..CARD_ROUNDS {
            let stored = match store.votes(&conversation, POLL_SUBSCRIPTION, &vote.slot, now).await {
                Ok(stored) => stored,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the tally; poll message not updated");
                    break;
                }
            };
            if shown.as_ref() == Some(&stored) {
                break;
            }
            state.votes = earlier.clone();
            state
                .votes
                .extend(stored.iter().map(|(voter, choice)| (voter.clone(), *choice)));
            if !self.show_poll(&conversation, &message_id, &state, now).await {
                break;
            }
            shown = Some(stored);
        }
        invoke_body
    }

    /// Updates the poll message to `state`; `false` when it cannot be (re-posted as a new message when it is
    /// gone, the subscription ended when the bot was removed).
    async fn show_poll(
        &self,
        conversation: &ConversationId,
        message_id: &ActivityId,
        state: &PollState,
        now: Timestamp,
    ) -> bool {
        let mut message = poll_message(state);
        message.id = Some(message_id.clone());
        let Err(e) = self
            .app
            .connector
            .update_activity(self.service_url(), self.conversation(), message_id, &message)
            .await
        else {
            return true;
        };
        self.failed("update poll", &e, self.conversation()).await;
        if matches!(e, ConnectorError::NotFound { .. }) {
            // The poll message is gone (deleted in Teams): post the updated poll again and remember it.
            message.id = None;
            match self
                .app
                .connector
                .send_to_conversation(self.service_url(), conversation, &message)
                .await
            {
                Ok(sent) => {
                    let _ = self
                        .app
                        .store
                        .set_poll_activity(conversation, POLL_SUBSCRIPTION, &sent.id, now)
                        .await;
                }
                Err(e) => self.failed("re-post poll", &e, conversation).await,
            }
        } else if e.is_bot_removed() {
            let _ = self.app.store.unsubscribe(conversation, POLL_SUBSCRIPTION, now).await;
            tracing::info!(conversation = %conversation, "poll subscription ended: the bot was removed");
        }
        false
    }
}

/// What a poll subscription remembers: the poll, where to post it, and the current slot's state.
pub fn poll_payload(poll: &PollDefinition, reference: &ConversationReference, state: Option<&PollState>) -> Value {
    json!({
        "poll": poll,
        "serviceUrl": reference.service_url,
        "tenantId": reference.tenant_id,
        "bot": reference.bot,
        "state": state,
    })
}
