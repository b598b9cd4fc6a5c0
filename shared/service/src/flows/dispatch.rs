//! Routes a checked, first-seen inbound activity to the bot's handler for it. Every kind of activity is matched
//! here by name, so a new kind is a compile error until it is routed; so is every invoke with a typed handler
//! (`TypedInvoke`).

use crate::api::invokes::{
    ActionInvoke, DIALOG_OPEN, DIALOG_SUBMIT, DialogInvoke, SEARCH_QUERY, SEARCH_SELECT, SearchInvoke,
};
use crate::api::{
    Bot, BotError, CardAction, Context, ConversationEvent, DialogRequest, IncomingMessage, InstallAction, Installation,
    InvokeError, InvokeRequest, InvokeResponse, MembersChanged, MessageDeleted, MessageEdit, ReactionsChanged, Scope,
    SearchQuery, SearchSelection,
};
use crate::app::App;
use crate::flows::mentions::{is_bot_mentioned, strip_bot_mentions};
use crate::flows::triggers::{is_group, team_id};
use models::{Activity, ActivityKind, ChannelAccount, ConversationReference, InstallationAction, Invoke};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The name of the invoke an Adaptive Card `Action.Execute` sends.
pub use crate::api::invokes::ADAPTIVE_CARD_ACTION;

/// `null`, for an invoke without a `value`.
static NULL: Value = Value::Null;

/// What became of an activity: the invoke answer, if it is an invoke.
#[derive(Debug)]
pub(crate) struct Handled {
    /// The handler that ran (for logs), or why none did.
    pub route: &'static str,
    pub invoke: Option<InvokeResponse>,
}

impl Handled {
    fn ignored(route: &'static str) -> Result<Self, BotError> {
        Ok(Self { route, invoke: None })
    }

    fn ran(route: &'static str, result: Result<(), BotError>) -> Result<Self, BotError> {
        result.map(|()| Self { route, invoke: None })
    }

    fn answered<R: Into<InvokeResponse>>(route: &'static str, result: Result<R, BotError>) -> Result<Self, BotError> {
        result.map(|invoke| Self {
            route,
            invoke: Some(invoke.into()),
        })
    }

    /// An invoke the runtime answers itself, with no handler run: its `value` (or sender) is not what its name
    /// promises.
    fn refused(name: &str, error: InvokeError) -> Result<Self, BotError> {
        tracing::info!(invoke = name, reason = %error.message, "invoke refused: malformed");
        Ok(Self {
            route: "refused: malformed invoke",
            invoke: Some(error.into()),
        })
    }
}

/// Whether an invoke without a `value` is malformed (else it reads as an empty value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ValueIs {
    Required,
    Optional,
}

/// The `value` of invoke `name` as `T`, or the error Teams gets: a missing required value, a value that is not a
/// JSON object, or one whose fields do not fit (botbuilder answers the same cases with `BadRequest`).
fn read_value<T: DeserializeOwned + Default>(name: &str, value: Option<&Value>, is: ValueIs) -> Result<T, InvokeError> {
    match value {
        None | Some(Value::Null) if is == ValueIs::Optional => Ok(T::default()),
        None | Some(Value::Null) => Err(InvokeError::bad_request(format!("{name} without a value"))),
        Some(object @ Value::Object(_)) => {
            T::deserialize(object).map_err(|e| InvokeError::bad_request(format!("{name}: malformed value: {e}")))
        }
        Some(_) => Err(InvokeError::bad_request(format!(
            "{name}: the value is not a JSON object"
        ))),
    }
}

fn reaction_types(list: &Option<Vec<models::Reaction>>) -> Vec<&str> {
    list.iter().flatten().map(|r| r.reaction_type.as_str()).collect()
}

/// Runs the bot's handler for `activity`. A handler's error is returned for the caller to log and count.
pub(crate) async fn dispatch(
    app: &App,
    activity: &Activity,
    reference: ConversationReference,
) -> Result<Handled, BotError> {
    let bot = app.bot.as_ref();
    let ctx = Context::inbound(app, activity, reference);
    let from = activity.from.as_ref();
    if from.is_some_and(|f| app.identity.is_me(&f.id, activity.recipient.as_ref())) {
        return Handled::ignored("sent by the bot itself");
    }
    match &activity.kind {
        ActivityKind::Message(message) => {
            let Some(from) = from else {
                return Handled::ignored("message without a sender");
            };
            if let Some(data) = &message.value
                && message.text.as_deref().is_none_or(|t| t.trim().is_empty())
            {
                let action = CardAction {
                    verb: None,
                    data,
                    from,
                    is_invoke: false,
                    invoke: None,
                    message_id: activity.reply_to_id.as_ref(),
                    activity,
                };
                return bot.on_card_action(&ctx, &action).await.map(|_| Handled {
                    route: "on_card_action (submit)",
                    invoke: None,
                });
            }
            if is_group(activity) && !is_bot_mentioned(activity, &app.identity) {
                return Handled::ignored("channel or group chat message that does not mention the bot");
            }
            let incoming = IncomingMessage {
                text: strip_bot_mentions(activity, &app.identity),
                from,
                scope: Scope::of(activity),
                tenant: activity.tenant_id(),
                message,
                activity,
            };
            Handled::ran("on_message", bot.on_message(&ctx, &incoming).await)
        }
        ActivityKind::MessageUpdate(_) => {
            let Some(message_id) = activity.id.as_ref() else {
                return Handled::ignored("edit without an id");
            };
            let edit = MessageEdit {
                message_id,
                text: strip_bot_mentions(activity, &app.identity),
                from,
                activity,
            };
            Handled::ran("on_message_edit", bot.on_message_edit(&ctx, &edit).await)
        }
        ActivityKind::MessageDelete(_) => {
            let Some(message_id) = activity.id.as_ref() else {
                return Handled::ignored("delete without an id");
            };
            let deleted = MessageDeleted {
                message_id,
                from,
                activity,
            };
            Handled::ran("on_message_delete", bot.on_message_delete(&ctx, &deleted).await)
        }
        ActivityKind::MessageReaction(reactions) => {
            let changed = ReactionsChanged {
                message_id: activity.reply_to_id.as_ref(),
                added: reaction_types(&reactions.reactions_added),
                removed: reaction_types(&reactions.reactions_removed),
                from,
                activity,
            };
            Handled::ran("on_reactions", bot.on_reactions(&ctx, &changed).await)
        }
        ActivityKind::ConversationUpdate(update) => {
            let is_me = |a: &&ChannelAccount| app.identity.is_me(&a.id, activity.recipient.as_ref());
            let scope = Scope::of(activity);
            let added: Vec<&ChannelAccount> = update.members_added.iter().flatten().collect();
            let removed: Vec<&ChannelAccount> = update.members_removed.iter().flatten().collect();
            if removed.iter().any(is_me) {
                let removal = Installation {
                    action: InstallAction::Removed,
                    scope,
                    activity,
                };
                return Handled::ran("on_installation", bot.on_installation(&ctx, &removal).await);
            }
            if added.iter().any(is_me) {
                let install = Installation {
                    action: InstallAction::Added,
                    scope,
                    activity,
                };
                return Handled::ran("on_installation", bot.on_installation(&ctx, &install).await);
            }
            let users_added: Vec<&ChannelAccount> = added.into_iter().filter(|a| !is_me(a)).collect();
            if !users_added.is_empty() {
                let members = MembersChanged {
                    members: users_added,
                    activity,
                };
                return Handled::ran("on_members_added", bot.on_members_added(&ctx, &members).await);
            }
            let users_removed: Vec<&ChannelAccount> = removed.into_iter().filter(|a| !is_me(a)).collect();
            if !users_removed.is_empty() {
                let members = MembersChanged {
                    members: users_removed,
                    activity,
                };
                return Handled::ran("on_members_removed", bot.on_members_removed(&ctx, &members).await);
            }
            let data = activity.channel_data.as_ref();
            let Some(event) = data.and_then(|d| d.event_type.as_ref()) else {
                return Handled::ignored("conversationUpdate without an event");
            };
            let channel = data.and_then(|d| d.channel.as_ref());
            let event = ConversationEvent {
                event,
                team_id: team_id(activity),
                team_name: data.and_then(|d| d.team.as_ref()).and_then(|t| t.name.as_deref()),
                channel_id: channel.map(|c| c.id.as_str()),
                channel_name: channel.and_then(|c| c.name.as_deref()),
                activity,
            };
            Handled::ran("on_conversation_event", bot.on_conversation_event(&ctx, &event).await)
        }
        ActivityKind::InstallationUpdate(update) => {
            let action = match &update.action {
                Some(InstallationAction::Add) => InstallAction::Added,
                // `remove-upgrade`: an upgrade to a version without the bot removes it.
                Some(InstallationAction::Remove | InstallationAction::RemoveUpgrade) => InstallAction::Removed,
                Some(InstallationAction::AddUpgrade) => InstallAction::Upgraded,
                Some(InstallationAction::Other(_)) | None => {
                    return Handled::ignored("installationUpdate without a known action");
                }
            };
            let installation = Installation {
                action,
                scope: Scope::of(activity),
                activity,
            };
            Handled::ran("on_installation", bot.on_installation(&ctx, &installation).await)
        }
        ActivityKind::Invoke(invoke) => route_invoke(bot, &ctx, activity, invoke, from).await,
        ActivityKind::Event(event) => crate::flows::events::route_event(bot, &ctx, activity, event).await,
        ActivityKind::Typing(_) => Handled::ignored("typing"),
        ActivityKind::Unknown { .. } => Handled::ignored("unknown activity type"),
    }
}

/// The invokes with a typed handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TypedInvoke {
    /// `adaptiveCard/action`: `on_card_action`.
    CardAction,
    /// `task/fetch`: `on_dialog_open`.
    DialogOpen,
    /// `task/submit`: `on_dialog_submit`.
    DialogSubmit,
    /// `composeExtension/query`: `on_search`.
    Search,
    /// `composeExtension/selectItem`: `on_search_select`.
    SearchSelect,
    /// `fileConsent/invoke`: the runtime uploads or forgets the offer, then `on_file_consent`.
    FileConsent,
}

impl TypedInvoke {
    fn named(name: &str) -> Option<Self> {
        match name {
            ADAPTIVE_CARD_ACTION => Some(Self::CardAction),
            DIALOG_OPEN => Some(Self::DialogOpen),
            DIALOG_SUBMIT => Some(Self::DialogSubmit),
            SEARCH_QUERY => Some(Self::Search),
            SEARCH_SELECT => Some(Self::SearchSelect),
            models::files::FILE_CONSENT_INVOKE => Some(Self::FileConsent),
            _ => None,
        }
    }
}

/// Runs the bot's handler for an invoke: the typed one for the names that have one, else `on_invoke`. A typed
/// invoke whose sender or `value` is malformed is answered with a `BadRequest` error and reaches no handler.
async fn route_invoke(
    bot: &dyn Bot,
    ctx: &Context<'_>,
    activity: &Activity,
    invoke: &Invoke,
    from: Option<&ChannelAccount>,
) -> Result<Handled, BotError> {
    let name = invoke.name.as_deref().unwrap_or_default();
    let value = invoke.value.as_ref();
    let Some(typed) = TypedInvoke::named(name) else {
        let request = InvokeRequest {
            name,
            value,
            from,
            activity,
        };
        return Handled::answered("on_invoke", bot.on_invoke(ctx, &request).await);
    };
    let Some(from) = from else {
        let error = InvokeError::bad_request(format!("{name} without a sender (from)"));
        return Handled::refused(name, error);
    };
    match typed {
        TypedInvoke::CardAction => {
            let execute: ActionInvoke = match read_value(name, value, ValueIs::Required) {
                Ok(execute) => execute,
                Err(e) => return Handled::refused(name, e),
            };
            let action = CardAction {
                verb: execute.action.verb.as_deref(),
                data: &execute.action.data,
                from,
                is_invoke: true,
                invoke: Some(&execute),
                message_id: activity.reply_to_id.as_ref(),
                activity,
            };
            Handled::answered("on_card_action", bot.on_card_action(ctx, &action).await)
        }
        TypedInvoke::DialogOpen | TypedInvoke::DialogSubmit => {
            let dialog: DialogInvoke = match read_value(name, value, ValueIs::Optional) {
                Ok(dialog) => dialog,
                Err(e) => return Handled::refused(name, e),
            };
            let request = DialogRequest {
                data: &dialog.data,
                from,
                invoke: &dialog,
                activity,
            };
            if typed == TypedInvoke::DialogOpen {
                Handled::answered("on_dialog_open", bot.on_dialog_open(ctx, &request).await)
            } else {
                Handled::answered("on_dialog_submit", bot.on_dialog_submit(ctx, &request).await)
            }
        }
        TypedInvoke::Search => {
            let search: SearchInvoke = match read_value(name, value, ValueIs::Required) {
                Ok(search) => search,
                Err(e) => return Handled::refused(name, e),
            };
            let options = search.query_options.as_ref();
            let query = SearchQuery {
                command_id: &search.command_id,
                text: search.text(),
                initial_run: search.is_initial_run(),
                skip: options
                    .and_then(|o| o.skip)
                    .and_then(|n| usize::try_from(n).ok())
                    .unwrap_or(0),
                count: options.and_then(|o| o.count).and_then(|n| usize::try_from(n).ok()),
                from,
                invoke: &search,
                activity,
            };
            Handled::answered("on_search", bot.on_search(ctx, &query).await)
        }
        // Any JSON: the value is what the bot put in the preview's tap.
        TypedInvoke::SearchSelect => {
            let selection = SearchSelection {
                item: value.unwrap_or(&NULL),
                from,
                activity,
            };
            Handled::answered("on_search_select", bot.on_search_select(ctx, &selection).await)
        }
        TypedInvoke::FileConsent => {
            let consent: models::files::FileConsentResponse = match read_value(name, value, ValueIs::Required) {
                Ok(consent) => consent,
                Err(e) => return Handled::refused(name, e),
            };
            let answer = crate::api::files::answer_file_consent(bot, ctx, &consent, from).await;
            Handled::answered("on_file_consent", answer)
        }
    }
}
