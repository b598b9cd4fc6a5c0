//! The trait a user implements: one async method per thing Teams delivers, each a no-op by default.

use crate::api::events::{
    CardAction, ConversationEvent, DialogRequest, Installation, InvokeRequest, InvokeResponse, JobRun, MembersChanged,
    MessageDeleted, MessageEdit, PersonalWelcome, ReactionsChanged, SearchQuery, SearchSelection, TeamWelcome,
};
use crate::api::invokes::{DialogResponse, SearchResponse};
use crate::api::{BotError, Context, DeferredWork, IncomingMessage};
use async_trait::async_trait;
use models::Activity;

/// A Teams bot: override the handlers you need; every other event is accepted and ignored.
///
/// The runtime calls a handler only for an activity whose token, serviceUrl and tenant checked out and that was
/// not seen before (a redelivery by Teams never reaches a handler twice). Everything a handler sends through its
/// [`Context`] goes through the runtime's Connector client: our token only to allowlisted serviceUrls, paced
/// inside Teams' rate limits, retried on 429/412/502/504, never blindly re-sent when the outcome is unknown.
///
/// A handler's `Err` is logged with the activity's ids and counted; the webhook still answers Teams with 200
/// (Teams would only redeliver the same activity, which the runtime would then drop as a duplicate).
///
/// Invokes Teams waits an answer for have typed handlers: Adaptive Card actions ([`Bot::on_card_action`]),
/// dialogs ([`Bot::on_dialog_open`], [`Bot::on_dialog_submit`]) and message extension search ([`Bot::on_search`],
/// [`Bot::on_search_select`]); [`Bot::on_invoke`] gets every other one. An invoke whose `value` is not what its
/// name promises reaches no handler: the runtime answers it with a `BadRequest` error.
///
/// # Example
/// ```
/// use teams_bot::{Activity, Bot, BotError, Context, IncomingMessage, PersonalWelcome, TeamWelcome};
///
/// struct Echo;
///
/// #[teams_bot::async_trait]
/// impl Bot for Echo {
///     async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
///         ctx.reply(format!("You said: {}", message.text)).await?;
///         Ok(())
///     }
///
///     async fn team_welcome(&self, team: &TeamWelcome<'_>) -> Option<Activity> {
///         Some(Activity::message(format!("Hello, {}!", team.team_name.unwrap_or("team"))))
///     }
///
///     async fn personal_welcome(&self, _user: &PersonalWelcome<'_>) -> Option<Activity> {
///         Some(Activity::message("Hello! Send me anything."))
///     }
/// }
/// ```
#[async_trait]
pub trait Bot: Send + Sync + 'static {
    /// A user wrote to the bot: any message in a 1:1 chat; in channels and group chats, a message that
    /// @mentions the bot (its mentions removed from [`IncomingMessage::text`]).
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted.
    async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
        let _ = (ctx, message);
        Ok(())
    }

    /// A user edited a message the bot could see.
    ///
    /// ```
    /// use teams_bot::{Bot, BotError, Context, MessageDeleted, MessageEdit};
    ///
    /// struct Auditor;
    ///
    /// #[teams_bot::async_trait]
    /// impl Bot for Auditor {
    ///     async fn on_message_edit(&self, ctx: &Context<'_>, edit: &MessageEdit<'_>) -> Result<(), BotError> {
    ///         ctx.reply(format!("Message {} now reads: {}", edit.message_id, edit.text)).await?;
    ///         Ok(())
    ///     }
    ///
    ///     async fn on_message_delete(&self, ctx: &Context<'_>, deleted: &MessageDeleted<'_>) -> Result<(), BotError> {
    ///         ctx.conversation_state().delete(&format!("note:{}", deleted.message_id)).await?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted.
    async fn on_message_edit(&self, ctx: &Context<'_>, edit: &MessageEdit<'_>) -> Result<(), BotError> {
        let _ = (ctx, edit);
        Ok(())
    }

    /// A user deleted a message the bot could see.
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted.
    async fn on_message_delete(&self, ctx: &Context<'_>, deleted: &MessageDeleted<'_>) -> Result<(), BotError> {
        let _ = (ctx, deleted);
        Ok(())
    }

    /// Reactions were added to or removed from a message.
    ///
    /// ```
    /// use teams_bot::{Bot, BotError, Context, ReactionsChanged};
    ///
    /// struct Likes;
    ///
    /// #[teams_bot::async_trait]
    /// impl Bot for Likes {
    ///     async fn on_reactions(&self, ctx: &Context<'_>, reactions: &ReactionsChanged<'_>) -> Result<(), BotError> {
    ///         let state = ctx.conversation_state();
    ///         let likes: u64 = state.load("likes").await?.unwrap_or(0);
    ///         let added = reactions.added.iter().filter(|r| **r == "like").count() as u64;
    ///         state.save("likes", &(likes + added), None).await
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted.
    async fn on_reactions(&self, ctx: &Context<'_>, reactions: &ReactionsChanged<'_>) -> Result<(), BotError> {
        let _ = (ctx, reactions);
        Ok(())
    }

    /// A Teams meeting the bot is in started (`application/vnd.microsoft.meetingStart`), with its actual start
    /// time; `ctx` is addressed to the meeting's chat. Teams sends it to a bot installed in the meeting whose app
    /// has the `OnlineMeeting.ReadBasic.Chat` permission (channel meetings: `ChannelMeeting.ReadBasic.Group`).
    ///
    /// ```
    /// use teams_bot::models::TextFormat;
    /// use teams_bot::{Bot, BotError, Context, MeetingEvent, MeetingParticipantsChanged, Message};
    ///
    /// struct Host;
    ///
    /// #[teams_bot::async_trait]
    /// impl Bot for Host {
    ///     async fn on_meeting_started(&self, ctx: &Context<'_>, meeting: &MeetingEvent<'_>) -> Result<(), BotError> {
    ///         // The title is the organizer's text: plain, never rendered as markdown.
    ///         let title = meeting.title().unwrap_or("(untitled)");
    ///         ctx.send(Message::new().text(format!("Welcome to {title}")).format(TextFormat::Plain)).await?;
    ///         Ok(())
    ///     }
    ///
    ///     async fn on_meeting_participants_joined(
    ///         &self,
    ///         ctx: &Context<'_>,
    ///         joined: &MeetingParticipantsChanged<'_>,
    ///     ) -> Result<(), BotError> {
    ///         let state = ctx.conversation_state();
    ///         let seen: u64 = state.load("joined").await?.unwrap_or(0);
    ///         state.save("joined", &(seen + joined.members.len() as u64), None).await
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted.
    async fn on_meeting_started(
        &self,
        ctx: &Context<'_>,
        meeting: &crate::api::MeetingEvent<'_>,
    ) -> Result<(), BotError> {
        let _ = (ctx, meeting);
        Ok(())
    }

    /// A Teams meeting the bot is in ended (`application/vnd.microsoft.meetingEnd`), with its actual end time.
    /// See [`Bot::on_meeting_started`].
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted.
    async fn on_meeting_ended(
        &self,
        ctx: &Context<'_>,
        meeting: &crate::api::MeetingEvent<'_>,
    ) -> Result<(), BotError> {
        let _ = (ctx, meeting);
        Ok(())
    }

    /// Participants joined a meeting the bot is in (`application/vnd.microsoft.meetingParticipantJoin`), each
    /// with their role. See [`Bot::on_meeting_started`].
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted.
    async fn on_meeting_participants_joined(
        &self,
        ctx: &Context<'_>,
        joined: &crate::api::MeetingParticipantsChanged<'_>,
    ) -> Result<(), BotError> {
        let _ = (ctx, joined);
        Ok(())
    }

    /// Participants left a meeting the bot is in (`application/vnd.microsoft.meetingParticipantLeave`).
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted.
    async fn on_meeting_participants_left(
        &self,
        ctx: &Context<'_>,
        left: &crate::api::MeetingParticipantsChanged<'_>,
    ) -> Result<(), BotError> {
        let _ = (ctx, left);
        Ok(())
    }

    /// Any other `event` activity (a read receipt, an event a newer Teams sends): its name and value as sent.
    ///
    /// ```
    /// use teams_bot::{Bot, BotError, Context, OtherEvent};
    ///
    /// struct Receipts;
    ///
    /// #[teams_bot::async_trait]
    /// impl Bot for Receipts {
    ///     async fn on_event(&self, ctx: &Context<'_>, event: &OtherEvent<'_>) -> Result<(), BotError> {
    ///         if event.name == "application/vnd.microsoft.readReceipt" {
    ///             ctx.conversation_state().save("last-read", &event.value, None).await?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted.
    async fn on_event(&self, ctx: &Context<'_>, event: &crate::api::OtherEvent<'_>) -> Result<(), BotError> {
        let _ = (ctx, event);
        Ok(())
    }

    /// The bot was added to or removed from a conversation, or upgraded there, in any scope. For one welcome per
    /// team or user, implement [`Bot::team_welcome`] / [`Bot::personal_welcome`] instead.
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted.
    async fn on_installation(&self, ctx: &Context<'_>, installation: &Installation<'_>) -> Result<(), BotError> {
        let _ = (ctx, installation);
        Ok(())
    }

    /// Users (not the bot) joined the conversation or team.
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted.
    async fn on_members_added(&self, ctx: &Context<'_>, members: &MembersChanged<'_>) -> Result<(), BotError> {
        let _ = (ctx, members);
        Ok(())
    }

    /// Users (not the bot) left the conversation or team.
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted.
    async fn on_members_removed(&self, ctx: &Context<'_>, members: &MembersChanged<'_>) -> Result<(), BotError> {
        let _ = (ctx, members);
        Ok(())
    }

    /// A team or channel event: renamed, created, deleted, archived, restored, ...
    ///
    /// ```
    /// use teams_bot::models::TeamsEventType;
    /// use teams_bot::{Bot, BotError, Context, ConversationEvent, InstallAction, Installation, MembersChanged};
    ///
    /// struct Greeter;
    ///
    /// #[teams_bot::async_trait]
    /// impl Bot for Greeter {
    ///     async fn on_installation(&self, ctx: &Context<'_>, install: &Installation<'_>) -> Result<(), BotError> {
    ///         if install.action == InstallAction::Removed {
    ///             ctx.conversation_state().delete("settings").await?;
    ///         }
    ///         Ok(())
    ///     }
    ///
    ///     async fn on_members_added(&self, ctx: &Context<'_>, members: &MembersChanged<'_>) -> Result<(), BotError> {
    ///         for member in &members.members {
    ///             ctx.reply(format!("Hello {}!", member.name.as_deref().unwrap_or("there"))).await?;
    ///         }
    ///         Ok(())
    ///     }
    ///
    ///     async fn on_conversation_event(&self, ctx: &Context<'_>, event: &ConversationEvent<'_>) -> Result<(), BotError> {
    ///         if *event.event == TeamsEventType::ChannelCreated {
    ///             ctx.reply(format!("New channel: {}", event.channel_name.unwrap_or("(unnamed)"))).await?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted.
    async fn on_conversation_event(&self, ctx: &Context<'_>, event: &ConversationEvent<'_>) -> Result<(), BotError> {
        let _ = (ctx, event);
        Ok(())
    }

    /// An Adaptive Card button was pressed (`Action.Submit` or `Action.Execute`), or Teams refreshes a card as it
    /// is shown (the card's `refresh` action, an `Action.Execute` with `trigger: automatic`). For an
    /// `Action.Execute` Teams shows the answer: a card in place of the one the action came from
    /// ([`InvokeResponse::card`]), a message ([`InvokeResponse::message`]) or an error
    /// ([`crate::api::CardActionResponse::Error`]); for a submit the answer is not sent anywhere.
    ///
    /// ```
    /// use teams_bot::{Bot, BotError, CardAction, Context, InvokeRequest, InvokeResponse};
    /// use serde_json::json;
    ///
    /// struct Buttons;
    ///
    /// #[teams_bot::async_trait]
    /// impl Bot for Buttons {
    ///     async fn on_card_action(&self, ctx: &Context<'_>, action: &CardAction<'_>) -> Result<InvokeResponse, BotError> {
    ///         match action.verb {
    ///             Some("approve") => {
    ///                 ctx.reply("Approved.").await?;
    ///                 Ok(InvokeResponse::message("Thanks, approved."))
    ///             }
    ///             // A counter card: each press answers the same card, one higher, in place.
    ///             Some("count") => {
    ///                 let n = action.data["count"].as_u64().unwrap_or(0) + 1;
    ///                 Ok(InvokeResponse::card(json!({
    ///                     "type": "AdaptiveCard", "version": "1.5",
    ///                     "body": [{"type": "TextBlock", "text": format!("Pressed {n} times")}],
    ///                     "actions": [{"type": "Action.Execute", "title": "Press", "verb": "count", "data": {"count": n}}],
    ///                 })))
    ///             }
    ///             _ => Ok(InvokeResponse::ok()),
    ///         }
    ///     }
    ///
    ///     async fn on_invoke(&self, _ctx: &Context<'_>, invoke: &InvokeRequest<'_>) -> Result<InvokeResponse, BotError> {
    ///         Ok(match invoke.name {
    ///             "status/get" => InvokeResponse::json(json!({"status": "ok"})),
    ///             _ => InvokeResponse::ok().with_status(501),
    ///         })
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted, and Teams gets a 200 with an empty body.
    async fn on_card_action(&self, ctx: &Context<'_>, action: &CardAction<'_>) -> Result<InvokeResponse, BotError> {
        let _ = (ctx, action);
        Ok(InvokeResponse::ok())
    }

    /// A user asks for a dialog (`task/fetch`): a card button whose action is `task/fetch` (an Adaptive Card
    /// `Action.Submit` with `"data": {"msteams": {"type": "task/fetch"}}`, or a Bot Framework card's `invoke`
    /// action). Answer [`DialogResponse::Show`] with the [`crate::api::Dialog`] to open (an Adaptive Card or an
    /// https page), or [`DialogResponse::Message`]. Without this handler the user is told there is no dialog
    /// ([`NO_DIALOG`]).
    ///
    /// ```
    /// use serde_json::json;
    /// use teams_bot::{Bot, BotError, Context, Dialog, DialogRequest, DialogResponse, DialogSize};
    ///
    /// struct Feedback;
    ///
    /// #[teams_bot::async_trait]
    /// impl Bot for Feedback {
    ///     async fn on_dialog_open(&self, _ctx: &Context<'_>, _request: &DialogRequest<'_>) -> Result<DialogResponse, BotError> {
    ///         let form = json!({
    ///             "type": "AdaptiveCard", "version": "1.5",
    ///             "body": [{"type": "Input.Text", "id": "feedback", "label": "Your feedback"}],
    ///             "actions": [{"type": "Action.Submit", "title": "Send"}],
    ///         });
    ///         Ok(DialogResponse::Show(Dialog::adaptive_card(form).title("Feedback").size(DialogSize::Small, DialogSize::Medium)))
    ///     }
    ///
    ///     async fn on_dialog_submit(&self, ctx: &Context<'_>, submit: &DialogRequest<'_>) -> Result<DialogResponse, BotError> {
    ///         match submit.data["feedback"].as_str().map(str::trim) {
    ///             Some(text) if !text.is_empty() => {
    ///                 ctx.conversation_state().save("last-feedback", &text, None).await?;
    ///                 Ok(DialogResponse::Message("Thanks for your feedback.".into()))
    ///             }
    ///             _ => Ok(DialogResponse::Close),
    ///         }
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted, and Teams gets a 200 with an empty body.
    async fn on_dialog_open(&self, ctx: &Context<'_>, request: &DialogRequest<'_>) -> Result<DialogResponse, BotError> {
        let _ = (ctx, request);
        Ok(DialogResponse::Message(NO_DIALOG.to_owned()))
    }

    /// A user submitted a dialog (`task/submit`): [`DialogRequest::data`] holds the card's input values with its
    /// submit button's data. Answer [`DialogResponse::Close`] (the default), a [`DialogResponse::Message`], or the
    /// next step with [`DialogResponse::Show`] (a wizard). See [`Bot::on_dialog_open`] for the dialog's opening.
    ///
    /// ```
    /// use serde_json::json;
    /// use teams_bot::{Bot, BotError, Context, Dialog, DialogRequest, DialogResponse};
    ///
    /// struct Signup;
    ///
    /// #[teams_bot::async_trait]
    /// impl Bot for Signup {
    ///     async fn on_dialog_submit(&self, _ctx: &Context<'_>, submit: &DialogRequest<'_>) -> Result<DialogResponse, BotError> {
    ///         match (submit.data["step"].as_str(), submit.data["name"].as_str()) {
    ///             // Step 1 done: show step 2, carrying the name on in the next submit's data.
    ///             (Some("name"), Some(name)) => Ok(DialogResponse::Show(Dialog::adaptive_card(json!({
    ///                 "type": "AdaptiveCard", "version": "1.5",
    ///                 "body": [{"type": "Input.Text", "id": "email", "label": "Email"}],
    ///                 "actions": [{"type": "Action.Submit", "title": "Done", "data": {"step": "email", "name": name}}],
    ///             })).title(format!("Hello {name}")))),
    ///             (Some("email"), Some(name)) => Ok(DialogResponse::Message(format!("Signed up, {name}."))),
    ///             _ => Ok(DialogResponse::Close),
    ///         }
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted, and Teams gets a 200 with an empty body.
    async fn on_dialog_submit(
        &self,
        ctx: &Context<'_>,
        submit: &DialogRequest<'_>,
    ) -> Result<DialogResponse, BotError> {
        let _ = (ctx, submit);
        Ok(DialogResponse::Close)
    }

    /// A user searches with the bot's message extension (`composeExtension/query`, a search command of the app
    /// manifest's `composeExtensions`), as they type; Teams shows the results and inserts the one picked into the
    /// user's message. Answer within Teams' 5 s. Without this handler the answer is an empty list.
    ///
    /// ```
    /// use serde_json::json;
    /// use teams_bot::models::{Attachment, CardAction, HeroCard};
    /// use teams_bot::{Bot, BotError, Context, SearchQuery, SearchResponse, SearchResult, SearchSelection};
    ///
    /// const FRUIT: [&str; 4] = ["apple", "banana", "cherry", "date"];
    ///
    /// fn card(name: &str) -> HeroCard {
    ///     HeroCard { title: Some(name.to_owned()), ..HeroCard::default() }
    /// }
    ///
    /// struct Fruit;
    ///
    /// #[teams_bot::async_trait]
    /// impl Bot for Fruit {
    ///     async fn on_search(&self, _ctx: &Context<'_>, query: &SearchQuery<'_>) -> Result<SearchResponse, BotError> {
    ///         let results = FRUIT
    ///             .iter()
    ///             .filter(|name| name.contains(query.text))
    ///             .skip(query.skip)
    ///             .take(query.count.unwrap_or(25))
    ///             .map(|name| {
    ///                 let tap = CardAction { action_type: "invoke".into(), value: Some(json!({"fruit": name})), ..CardAction::default() };
    ///                 let preview = HeroCard { tap: Some(tap), ..card(name) };
    ///                 SearchResult::new(Attachment::hero(&card(name))).preview(Attachment::hero(&preview))
    ///             })
    ///             .collect();
    ///         Ok(SearchResponse::list(results))
    ///     }
    ///
    ///     async fn on_search_select(&self, _ctx: &Context<'_>, picked: &SearchSelection<'_>) -> Result<SearchResponse, BotError> {
    ///         let Some(name) = picked.item["fruit"].as_str() else {
    ///             return Ok(SearchResponse::empty());
    ///         };
    ///         let full = HeroCard { text: Some(format!("{name}: fresh today")), ..card(name) };
    ///         Ok(SearchResponse::list(vec![SearchResult::new(Attachment::hero(&full))]))
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted, and Teams gets a 200 with an empty body.
    async fn on_search(&self, ctx: &Context<'_>, query: &SearchQuery<'_>) -> Result<SearchResponse, BotError> {
        let _ = (ctx, query);
        Ok(SearchResponse::empty())
    }

    /// A user picked one of the search results whose preview has an `invoke` tap
    /// (`composeExtension/selectItem`): answer the card to insert into their message, as a one-result list. Without
    /// this handler the answer is an empty list. See [`Bot::on_search`] for the results and their taps.
    ///
    /// ```
    /// use serde_json::json;
    /// use teams_bot::models::Attachment;
    /// use teams_bot::{Bot, BotError, Context, SearchResponse, SearchResult, SearchSelection};
    ///
    /// struct Orders;
    ///
    /// #[teams_bot::async_trait]
    /// impl Bot for Orders {
    ///     async fn on_search_select(&self, _ctx: &Context<'_>, picked: &SearchSelection<'_>) -> Result<SearchResponse, BotError> {
    ///         // The preview's tap was `{"type": "invoke", "value": {"order": 42}}`.
    ///         let Some(order) = picked.item["order"].as_u64() else {
    ///             return Ok(SearchResponse::Message("That order is gone.".into()));
    ///         };
    ///         let card = json!({"type": "AdaptiveCard", "version": "1.5",
    ///             "body": [{"type": "TextBlock", "text": format!("Order {order}: shipped")}]});
    ///         Ok(SearchResponse::list(vec![SearchResult::new(Attachment::adaptive(card))]))
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted, and Teams gets a 200 with an empty body.
    async fn on_search_select(
        &self,
        ctx: &Context<'_>,
        selection: &SearchSelection<'_>,
    ) -> Result<SearchResponse, BotError> {
        let _ = (ctx, selection);
        Ok(SearchResponse::empty())
    }

    /// How a file offered with [`Context::offer_file`] ended: uploaded (after the runtime PUT it to the user's
    /// OneDrive and sent the file card), declined, or no longer known. The runtime answers Teams' invoke itself.
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted.
    async fn on_file_consent(&self, ctx: &Context<'_>, consent: &crate::api::FileConsent<'_>) -> Result<(), BotError> {
        let _ = (ctx, consent);
        Ok(())
    }

    /// Any other invoke (`composeExtension/fetchTask`, `signin/verifyState`, ...): answered with the returned
    /// status and body within Teams' 5 s.
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted, and Teams gets a 200 with an empty body.
    async fn on_invoke(&self, ctx: &Context<'_>, invoke: &InvokeRequest<'_>) -> Result<InvokeResponse, BotError> {
        let _ = (ctx, invoke);
        Ok(InvokeResponse::ok())
    }

    /// The message posted once when the bot is installed in a team (in the channel the installer chose, General
    /// by default); `None` posts nothing. Asked exactly once per team install, however many of Teams' duplicate
    /// install deliveries arrive, from the `welcome` function (or the devserver's change feed).
    async fn team_welcome(&self, team: &TeamWelcome<'_>) -> Option<Activity> {
        let _ = team;
        None
    }

    /// The message sent once in a user's first personal chat with the bot (whichever comes first of the personal
    /// install and the user's first 1:1 message, and, with `WELCOME_ROSTER=true`, for each member of a team the
    /// bot joins); `None` sends nothing. Asked exactly once per tenant and user.
    async fn personal_welcome(&self, user: &PersonalWelcome<'_>) -> Option<Activity> {
        let _ = user;
        None
    }

    /// A scheduled job is due (see [`crate::api::Jobs::schedule`]); `ctx` is addressed to the conversation the
    /// job was scheduled in. Each time slot runs at most once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use serde_json::json;
    /// use teams_bot::{Bot, BotError, Context, IncomingMessage, JobRun};
    ///
    /// struct Standup;
    ///
    /// #[teams_bot::async_trait]
    /// impl Bot for Standup {
    ///     async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
    ///         if message.text == "standup daily" {
    ///             let day = Duration::from_secs(24 * 60 * 60);
    ///             ctx.jobs().schedule("standup", day, json!({"question": "What are you working on?"})).await?;
    ///             ctx.reply("Every day from now on.").await?;
    ///         }
    ///         Ok(())
    ///     }
    ///
    ///     async fn on_job(&self, ctx: &Context<'_>, job: &JobRun<'_>) -> Result<(), BotError> {
    ///         let question = job.data["question"].as_str().unwrap_or("Standup!");
    ///         ctx.send(question).await?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// Whatever the handler fails with; logged, counted and reported in the tick's answer.
    async fn on_job(&self, ctx: &Context<'_>, job: &JobRun<'_>) -> Result<(), BotError> {
        let _ = (ctx, job);
        Ok(())
    }

    /// Work a handler deferred with [`Context::defer`] runs now, after the webhook answered Teams; `ctx` is
    /// addressed to the conversation it was deferred from (its replies are new messages there, in a channel
    /// thread in the thread). Runs at least once: a retried run (after a failure that may pass, or a run past
    /// [`crate::flows::deferred::DEADLINE`]) runs it again, but a send an earlier run made is not made again.
    /// See [`Context::defer`] for an example.
    ///
    /// # Errors
    /// Whatever the handler fails with; logged and counted. A failure that may pass (Teams throttling or 5xx,
    /// the store) is retried as the stream record is; any other is not.
    async fn on_deferred(&self, ctx: &Context<'_>, work: &DeferredWork<'_>) -> Result<(), BotError> {
        let _ = (ctx, work);
        Ok(())
    }
}

/// What a dialog request (`task/fetch`) answers when the bot has no [`Bot::on_dialog_open`].
pub const NO_DIALOG: &str = "This app has no dialog to open here.";

/// The bot that does nothing: every event is accepted and ignored.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoBot;

impl Bot for NoBot {}
