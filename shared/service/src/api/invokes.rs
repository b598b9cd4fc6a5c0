//! The invokes Teams waits an answer for, as typed requests (what arrives in the invoke's `value`) and typed
//! responses (what the runtime serialises into the invoke's JSON answer):
//!
//! - Adaptive Card Universal Actions (`adaptiveCard/action`, an `Action.Execute`): [`ActionInvoke`] in,
//!   [`CardActionResponse`] out: a card shown in place of the card the action came from, a message, or an error.
//! - Dialogs (`task/fetch`, `task/submit`): [`DialogInvoke`] in, [`DialogResponse`] out: a [`Dialog`] to show, a
//!   message, or nothing (the dialog closes).
//! - Message extension search (`composeExtension/query`, `composeExtension/selectItem`): [`SearchInvoke`] in,
//!   [`SearchResponse`] out: a list (or grid) of [`SearchResult`]s, or a message.
//!
//! Every request keeps the fields it does not name in `extra`, so nothing Teams sends is lost. Shapes, with their
//! sources, in docs/decisions/2026-11-30-invokes.md.

use models::Attachment;
use serde::ser::SerializeStruct as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, json};

/// The name of the invoke an Adaptive Card `Action.Execute` sends (and a card's `refresh`).
pub const ADAPTIVE_CARD_ACTION: &str = "adaptiveCard/action";
/// The name of the invoke that asks the bot for a dialog.
pub const DIALOG_OPEN: &str = "task/fetch";
/// The name of the invoke that submits a dialog.
pub const DIALOG_SUBMIT: &str = "task/submit";
/// The name of the invoke a message extension's search command sends, as the user types.
pub const SEARCH_QUERY: &str = "composeExtension/query";
/// The name of the invoke sent when the user picks one of the search results.
pub const SEARCH_SELECT: &str = "composeExtension/selectItem";

/// `type` of an answer carrying an Adaptive Card.
pub const CARD_RESPONSE_TYPE: &str = "application/vnd.microsoft.card.adaptive";
/// `type` of an answer carrying a message.
pub const MESSAGE_RESPONSE_TYPE: &str = "application/vnd.microsoft.activity.message";
/// `type` of an answer carrying an error.
pub const ERROR_RESPONSE_TYPE: &str = "application/vnd.microsoft.error";

// ---- Universal Actions ------------------------------------------------------------------------------------------

/// The `value` of an `adaptiveCard/action` invoke: `{"action": {"type": "Action.Execute", "id", "verb", "data"},
/// "trigger": "manual" | "automatic"}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionInvoke {
    /// A copy of the action as the card defines it, its `data` holding the card's inputs.
    pub action: ExecuteAction,
    /// `manual` when a user pressed the button, `automatic` when Teams refreshes the card as it is shown (the
    /// card's `refresh` action, for the users it lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// Everything else (`authentication`, `state`, ...), as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ActionInvoke {
    /// Whether Teams sent this on its own to refresh the card as it was shown (`trigger: automatic`), rather than
    /// for a user's click.
    #[must_use]
    pub fn is_automatic(&self) -> bool {
        self.trigger.as_deref() == Some("automatic")
    }
}

/// The action of an [`ActionInvoke`]: an `Action.Execute` as the card defines it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteAction {
    /// `Action.Execute`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub action_type: Option<String>,
    /// The action's `id` in the card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The `verb` the card gave the action: what the bot should do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
    /// The action's `data`, with the values of the card's inputs; `null` when there is none.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub data: Value,
    /// Everything else (`title`, ...), as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The answer to an `adaptiveCard/action` invoke (the Universal Action Model's response format):
/// `{"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": <card>}`, or a message, or an
/// error. Teams reads `statusCode`; the HTTP status stays 200 (the model requires it whenever the bot handled the
/// invoke).
///
/// ```
/// use serde_json::json;
/// use teams_bot::{CardActionResponse, InvokeError, InvokeResponse};
///
/// let card = json!({"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Done"}]});
/// let answer = InvokeResponse::from(CardActionResponse::Card(card.clone()));
/// assert_eq!(answer.status, 200);
/// assert_eq!(answer.body, json!({"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": card}));
///
/// let refused = InvokeResponse::from(CardActionResponse::Error(InvokeError::bad_request("No such order")));
/// assert_eq!(refused.body["statusCode"], 400);
/// assert_eq!(refused.body["value"], json!({"code": "BadRequest", "message": "No such order"}));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum CardActionResponse {
    /// Show this Adaptive Card (its JSON, `{"type": "AdaptiveCard", ...}`) in place of the card the action came
    /// from.
    Card(Value),
    /// Show this short message.
    Message(String),
    /// The action could not be done: the error's status (4xx/5xx), code and message.
    Error(InvokeError),
}

impl CardActionResponse {
    /// The `statusCode` Teams reads.
    #[must_use]
    pub fn status_code(&self) -> u16 {
        match self {
            Self::Card(_) | Self::Message(_) => 200,
            Self::Error(e) => e.status,
        }
    }
}

impl Serialize for CardActionResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("CardActionResponse", 3)?;
        s.serialize_field("statusCode", &self.status_code())?;
        match self {
            Self::Card(card) => {
                s.serialize_field("type", CARD_RESPONSE_TYPE)?;
                s.serialize_field("value", card)?;
            }
            Self::Message(text) => {
                s.serialize_field("type", MESSAGE_RESPONSE_TYPE)?;
                s.serialize_field("value", text)?;
            }
            Self::Error(error) => {
                s.serialize_field("type", ERROR_RESPONSE_TYPE)?;
                s.serialize_field("value", &ErrorValue::of(error))?;
            }
        }
        s.end()
    }
}

/// An invoke that could not be done, answered in the Universal Action Model's error shape:
/// `{"statusCode": 400, "type": "application/vnd.microsoft.error", "value": {"code": "BadRequest", "message": "..."}}`.
///
/// The runtime answers one itself, with HTTP status 200 and no handler run, when an invoke's `value` is not what
/// its name promises (code `BadRequest`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvokeError {
    /// The `statusCode`: 400 for an invalid request, 500 for an unexpected failure, ...
    pub status: u16,
    /// A short machine-readable code (`BadRequest`, `NotFound`, `InternalServerError`, ...).
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
}

impl InvokeError {
    /// An error with this status, code and message.
    #[must_use]
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// 400 `BadRequest`: the invoke's request was invalid.
    #[must_use]
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }
}

/// The `value` of an error answer.
#[derive(Serialize)]
struct ErrorValue<'a> {
    code: &'a str,
    message: &'a str,
}

impl<'a> ErrorValue<'a> {
    fn of(error: &'a InvokeError) -> Self {
        Self {
            code: &error.code,
            message: &error.message,
        }
    }
}

// ---- Dialogs ----------------------------------------------------------------------------------------------------

/// The `value` of a `task/fetch` or `task/submit` invoke: `{"data": {...}, "context": {"theme": "default"}}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DialogInvoke {
    /// `task/fetch`: the data of the button that asked for the dialog (an `Action.Submit`'s `data`, with its
    /// `msteams` part); `task/submit`: the dialog card's input values with its submit button's data. `null` when
    /// Teams sent none.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub data: Value,
    /// The user's client context (`theme`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<DialogContext>,
    /// Everything else (`tabContext`, ...), as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The client context of a dialog invoke.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DialogContext {
    /// The Teams theme the user is in: `default`, `dark` or `contrast`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
    /// Everything else, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A dialog for Teams to show: a title, a size, and an Adaptive Card or a web page (Teams' `TaskInfo`).
///
/// ```
/// use serde_json::json;
/// use teams_bot::{Dialog, DialogSize};
///
/// let form = json!({"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "Input.Text", "id": "text"}],
///     "actions": [{"type": "Action.Submit", "title": "Submit"}]});
/// let dialog = Dialog::adaptive_card(form).title("Tell me something").size(DialogSize::Small, DialogSize::Medium);
/// assert_eq!(serde_json::to_value(&dialog).unwrap()["card"]["contentType"], "application/vnd.microsoft.card.adaptive");
///
/// let page = Dialog::web_page("https://contoso.com/form").title("A form").size(DialogSize::Pixels(400), DialogSize::Large);
/// assert_eq!(serde_json::to_value(&page).unwrap()["height"], 400);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dialog {
    /// Shown below the app's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The dialog's height.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<DialogSize>,
    /// The dialog's width.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<DialogSize>,
    /// The Adaptive Card shown in the dialog, as an attachment (a bot's dialogs carry the card this way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<Attachment>,
    /// The https page shown in the dialog instead (its domain listed in the app manifest's `validDomains`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Where a client without dialogs opens the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_url: Option<String>,
    /// The bot that gets the `task/submit` (when not this one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_bot_id: Option<String>,
}

impl Dialog {
    /// A dialog showing this Adaptive Card (its JSON, `{"type": "AdaptiveCard", ...}`); its `Action.Submit`
    /// buttons submit the dialog (`task/submit`) with the card's inputs.
    #[must_use]
    pub fn adaptive_card(card: Value) -> Self {
        Self {
            card: Some(Attachment::adaptive(card)),
            ..Self::default()
        }
    }

    /// A dialog showing this https page.
    #[must_use]
    pub fn web_page(url: impl Into<String>) -> Self {
        Self {
            url: Some(url.into()),
            ..Self::default()
        }
    }

    /// The same dialog with this title.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// The same dialog with this height and width.
    #[must_use]
    pub fn size(mut self, height: DialogSize, width: DialogSize) -> Self {
        self.height = Some(height);
        self.width = Some(width);
        self
    }
}

/// A dialog's height or width: `small`, `medium`, `large` (a share of the Teams window), or pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogSize {
    /// `small`.
    Small,
    /// `medium`.
    Medium,
    /// `large`.
    Large,
    /// A number of pixels (Teams may scale it down to fit).
    Pixels(u32),
}

impl Serialize for DialogSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Small => serializer.serialize_str("small"),
            Self::Medium => serializer.serialize_str("medium"),
            Self::Large => serializer.serialize_str("large"),
            Self::Pixels(n) => serializer.serialize_u32(*n),
        }
    }
}

impl<'de> Deserialize<'de> for DialogSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Pixels(u32),
            Named(String),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Pixels(n) => Ok(Self::Pixels(n)),
            Wire::Named(name) => match name.as_str() {
                "small" => Ok(Self::Small),
                "medium" => Ok(Self::Medium),
                "large" => Ok(Self::Large),
                other => Err(serde::de::Error::invalid_value(
                    serde::de::Unexpected::Str(other),
                    &"small, medium, large or a number of pixels",
                )),
            },
        }
    }
}

/// The answer to `task/fetch` (open a dialog) or `task/submit` (a dialog was submitted).
///
/// ```
/// use serde_json::json;
/// use teams_bot::{Dialog, DialogResponse, InvokeResponse};
///
/// let next = DialogResponse::Show(Dialog::web_page("https://contoso.com/step-2").title("Step 2"));
/// assert_eq!(InvokeResponse::from(next).body,
///     json!({"task": {"type": "continue", "value": {"title": "Step 2", "url": "https://contoso.com/step-2"}}}));
/// assert_eq!(InvokeResponse::from(DialogResponse::Message("Saved.".into())).body,
///     json!({"task": {"type": "message", "value": "Saved."}}));
/// assert_eq!(InvokeResponse::from(DialogResponse::Close).body, json!({}));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one answer per invoke, moved once into JSON: a box would only cost the user a Box::new"
)]
pub enum DialogResponse {
    /// Show this dialog: the one asked for (`task/fetch`), or the next step after a submit:
    /// `{"task": {"type": "continue", "value": <dialog>}}`.
    Show(Dialog),
    /// Show this short message in a pop-up: `{"task": {"type": "message", "value": "<text>"}}`.
    Message(String),
    /// Close the dialog, nothing more to show (after a submit): `{}`.
    Close,
}

impl Serialize for DialogResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(tag = "type", content = "value", rename_all = "lowercase")]
        enum Task<'a> {
            Continue(&'a Dialog),
            Message(&'a str),
        }
        #[derive(Serialize)]
        struct Envelope<'a> {
            task: Task<'a>,
        }
        match self {
            Self::Show(dialog) => Envelope {
                task: Task::Continue(dialog),
            }
            .serialize(serializer),
            Self::Message(text) => Envelope {
                task: Task::Message(text),
            }
            .serialize(serializer),
            Self::Close => Map::new().serialize(serializer),
        }
    }
}

// ---- Message extension search -----------------------------------------------------------------------------------

/// The `value` of a `composeExtension/query` invoke: `{"commandId", "parameters": [{"name", "value"}],
/// "queryOptions": {"skip", "count"}}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchInvoke {
    /// The search command's `id` in the app manifest.
    pub command_id: String,
    /// The command's parameters as the user filled them in (`initialRun` = `"true"` on the default query Teams
    /// sends when the extension opens, with the manifest's `initialRun`).
    #[serde(default)]
    pub parameters: Vec<SearchParameter>,
    /// Which page of results Teams asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_options: Option<QueryOptions>,
    /// The state an authentication or configuration flow passed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Everything else, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The parameter name of Teams' default query (sent with the value `"true"`).
pub const INITIAL_RUN: &str = "initialRun";

impl SearchInvoke {
    /// Whether this is Teams' default query, sent when the user opens the extension (no text typed yet).
    #[must_use]
    pub fn is_initial_run(&self) -> bool {
        self.parameters.iter().any(|p| p.name == INITIAL_RUN)
    }

    /// The value of parameter `name`, when it is text.
    #[must_use]
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|p| p.name == name)
            .and_then(SearchParameter::text)
    }

    /// What the user typed: the first parameter's text (a search command usually has one), trimmed; empty on the
    /// default query.
    #[must_use]
    pub fn text(&self) -> &str {
        if self.is_initial_run() {
            return "";
        }
        self.parameters
            .first()
            .and_then(SearchParameter::text)
            .map_or("", str::trim)
    }
}

/// One parameter of a search: its `name` (as in the manifest) and `value`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchParameter {
    /// The parameter's name in the manifest.
    pub name: String,
    /// Its value, usually a string.
    #[serde(default)]
    pub value: Value,
    /// Everything else, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SearchParameter {
    /// The value as text, when it is a string.
    #[must_use]
    pub fn text(&self) -> Option<&str> {
        self.value.as_str()
    }
}

/// Which page of results a search asks for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryOptions {
    /// How many results to skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<u32>,
    /// How many results to answer (Teams asks for 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Everything else, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One search result: the card inserted into the user's message when they pick it, and the preview shown in
/// the result list (a hero or thumbnail card; Teams makes one from a hero or thumbnail card itself, and needs
/// one for an Adaptive Card). A preview whose `tap` is an `invoke` action sends `composeExtension/selectItem`
/// with the tap's `value` when the user picks it.
///
/// ```
/// use serde_json::json;
/// use teams_bot::SearchResult;
/// use teams_bot::models::{Attachment, CardAction, HeroCard};
///
/// let card = HeroCard { title: Some("Contoso".into()), ..HeroCard::default() };
/// let preview = HeroCard {
///     tap: Some(CardAction { action_type: "invoke".into(), value: Some(json!({"id": 7})), ..CardAction::default() }),
///     ..card.clone()
/// };
/// let result = SearchResult::new(Attachment::hero(&card)).preview(Attachment::hero(&preview));
/// let wire = serde_json::to_value(&result).unwrap();
/// assert_eq!(wire["contentType"], "application/vnd.microsoft.card.hero");
/// assert_eq!(wire["preview"]["content"]["tap"]["value"], json!({"id": 7}));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResult {
    /// The card (`contentType`, `content`, ...).
    #[serde(flatten)]
    pub card: Attachment,
    /// The preview in the result list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<Attachment>,
}

impl SearchResult {
    /// A result whose card is `card`, previewed as Teams makes it (set a preview for an Adaptive Card).
    #[must_use]
    pub fn new(card: Attachment) -> Self {
        Self { card, preview: None }
    }

    /// The same result with this preview (a hero or thumbnail card).
    #[must_use]
    pub fn preview(mut self, preview: Attachment) -> Self {
        self.preview = Some(preview);
        self
    }
}

/// How Teams lays search results out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResultLayout {
    /// One result per line: thumbnail, title and text.
    #[default]
    List,
    /// A grid of thumbnail images.
    Grid,
}

/// The answer to a search (`composeExtension/query`) or to a picked result (`composeExtension/selectItem`):
/// `{"composeExtension": {"type": "result", "attachmentLayout": "list", "attachments": [...]}}`, or a message.
///
/// ```
/// use serde_json::json;
/// use teams_bot::{InvokeResponse, SearchResponse};
///
/// assert_eq!(InvokeResponse::from(SearchResponse::empty()).body,
///     json!({"composeExtension": {"type": "result", "attachmentLayout": "list", "attachments": []}}));
/// assert_eq!(InvokeResponse::from(SearchResponse::Message("Sign in first.".into())).body,
///     json!({"composeExtension": {"type": "message", "text": "Sign in first."}}));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum SearchResponse {
    /// Results to show (`type: result`), in this layout.
    Results {
        /// List or grid.
        layout: ResultLayout,
        /// The results, in order.
        results: Vec<SearchResult>,
    },
    /// A plain text message instead of results (`type: message`; Teams shows it unformatted).
    Message(String),
}

impl SearchResponse {
    /// These results, as a list.
    #[must_use]
    pub fn list(results: Vec<SearchResult>) -> Self {
        Self::Results {
            layout: ResultLayout::List,
            results,
        }
    }

    /// These results, as a grid of thumbnails.
    #[must_use]
    pub fn grid(results: Vec<SearchResult>) -> Self {
        Self::Results {
            layout: ResultLayout::Grid,
            results,
        }
    }

    /// No results (an empty list).
    #[must_use]
    pub fn empty() -> Self {
        Self::list(Vec::new())
    }
}

impl Serialize for SearchResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "camelCase")]
        enum Kind<'a> {
            #[serde(rename_all = "camelCase")]
            Result {
                attachment_layout: ResultLayout,
                attachments: &'a [SearchResult],
            },
            Message {
                text: &'a str,
            },
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Envelope<'a> {
            compose_extension: Kind<'a>,
        }
        let compose_extension = match self {
            Self::Results { layout, results } => Kind::Result {
                attachment_layout: *layout,
                attachments: results,
            },
            Self::Message(text) => Kind::Message { text },
        };
        Envelope { compose_extension }.serialize(serializer)
    }
}

/// `value` as JSON; the answers above serialise to JSON objects with string keys, which cannot fail.
pub(crate) fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or_else(|_| json!({}))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use models::HeroCard;

    #[test]
    fn dialog_sizes_are_words_or_pixels_both_ways() {
        for (size, wire) in [
            (DialogSize::Small, json!("small")),
            (DialogSize::Medium, json!("medium")),
            (DialogSize::Large, json!("large")),
            (DialogSize::Pixels(480), json!(480)),
        ] {
            assert_eq!(serde_json::to_value(size).unwrap(), wire);
            assert_eq!(serde_json::from_value::<DialogSize>(wire).unwrap(), size);
        }
        assert!(serde_json::from_value::<DialogSize>(json!("huge")).is_err());
        assert!(serde_json::from_value::<DialogSize>(json!(-1)).is_err());
    }

    #[test]
    fn a_dialog_round_trips_and_leaves_out_what_it_does_not_set() {
        let dialog = Dialog::web_page("https://contoso.com/f")
            .title("F")
            .size(DialogSize::Large, DialogSize::Pixels(300));
        let wire = serde_json::to_value(&dialog).unwrap();
        assert_eq!(
            wire,
            json!({"title": "F", "height": "large", "width": 300, "url": "https://contoso.com/f"})
        );
        assert_eq!(serde_json::from_value::<Dialog>(wire).unwrap(), dialog);
    }

    #[test]
    fn a_grid_of_results_round_trips_each_result() {
        let hero = HeroCard {
            title: Some("x".to_owned()),
            ..HeroCard::default()
        };
        let result = SearchResult::new(Attachment::thumbnail(&hero)).preview(Attachment::hero(&hero));
        let wire = to_json(&SearchResponse::grid(vec![result.clone()]));
        assert_eq!(wire["composeExtension"]["attachmentLayout"], "grid");
        let back: SearchResult = serde_json::from_value(wire["composeExtension"]["attachments"][0].clone()).unwrap();
        assert_eq!(back, result);
        assert!(
            back.card.extra.is_empty(),
            "the preview is not taken for an unknown field of the card"
        );
    }

    #[test]
    fn errors_carry_their_status_in_the_body() {
        let error = CardActionResponse::Error(InvokeError::new(500, "InternalServerError", "down"));
        assert_eq!(error.status_code(), 500);
        assert_eq!(
            to_json(&error),
            json!({"statusCode": 500, "type": "application/vnd.microsoft.error",
                "value": {"code": "InternalServerError", "message": "down"}})
        );
    }

    #[test]
    fn an_automatic_trigger_is_a_refresh() {
        let value = json!({"action": {"type": "Action.Execute", "verb": "refresh"}, "trigger": "automatic"});
        let invoke: ActionInvoke = serde_json::from_value(value).unwrap();
        assert!(invoke.is_automatic());
        assert_eq!(invoke.action.data, Value::Null);
        assert!(!ActionInvoke::default().is_automatic());
    }
}
