//! The trait a user implements: one async method per thing Teams delivers, each a no-op by default.

use crate::api::events::{
    CardAction, ConversationEvent, Installation, InvokeRequest, InvokeResponse, JobRun, MembersChanged, MessageDeleted,
    MessageEdit, PersonalWelcome, ReactionsChanged, TeamWelcome,
};
use crate::api::{BotError, Context, IncomingMessage};
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

    /// An Adaptive Card button was pressed (`Action.Submit` or `Action.Execute`). For an `Action.Execute` Teams
    /// shows the answer (a message, or a refreshed card); for a submit the answer is not sent anywhere.
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
    ///         if action.verb == Some("approve") {
    ///             ctx.reply("Approved.").await?;
    ///             return Ok(InvokeResponse::message("Thanks, approved."));
    ///         }
    ///         Ok(InvokeResponse::ok())
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

    /// Any other invoke: answered with the returned status and body within Teams' 5 s.
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
}

/// The bot that does nothing: every event is accepted and ignored.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoBot;

impl Bot for NoBot {}
