#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Invokes with answers (issue 18): Microsoft's documented invoke payloads (`tests/fixtures/corpus/invoke.*.json`,
//! sources in its `SOURCES.md`) through the real webhook ([`service::handle`]) to the exact JSON Teams gets back.
//!
//! - `documented_invokes_get_their_typed_answers`: a bot whose typed handlers answer from what they were given
//!   (so the answer shows the request was read): Universal Action -> a refreshed card, `task/fetch` -> a card
//!   dialog, `task/submit` -> a message, `composeExtension/query` -> a result list with previews,
//!   `composeExtension/selectItem` -> the picked card. Each answer is compared with its golden file
//!   `tests/fixtures/invokes/<fixture>.answer.json`.
//! - `a_bot_without_invoke_handlers_answers_the_defaults`: the same payloads to [`NoBot`]
//!   (`<fixture>.default.json`): an empty result list for a search, a message saying there is no dialog, `{}`.
//! - `malformed_invoke_values_are_answered_bad_request_and_reach_no_handler`: a `value` that is not what the
//!   invoke's name promises is answered 200 with a `BadRequest` error body, never a panic, and runs no handler.
//!
//! `UPDATE_GOLDEN=1 cargo test -p service --test invokes` rewrites the golden files from the answers.

use serde_json::{Value, json};
use service::api::invokes::{ActionInvoke, DialogInvoke, SearchInvoke};
use service::api::testkit::TestKit;
use service::api::{
    Bot, BotError, CardAction, Context, Dialog, DialogRequest, DialogResponse, DialogSize, InvokeRequest,
    InvokeResponse, NoBot, SearchQuery, SearchResponse, SearchResult, SearchSelection,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use teams_bot::models::{Attachment, CardAction as Button, HeroCard};

/// The documented invokes with a typed handler: the corpus file, and the golden files' stem.
const DOCUMENTED: [&str; 5] = [
    "invoke.adaptiveCard-action",
    "invoke.task-fetch",
    "invoke.task-submit",
    "invoke.composeExtension-query",
    "invoke.composeExtension-selectItem",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

fn corpus(stem: &str) -> Value {
    read_json(&fixtures().join("corpus").join(format!("{stem}.json")))
}

/// Compares `answer` with the golden file `invokes/<name>.json` (or writes it, with `UPDATE_GOLDEN=1`).
fn assert_golden(name: &str, answer: &Value) {
    let path = fixtures().join("invokes").join(format!("{name}.json"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("{}\n", serde_json::to_string_pretty(answer).unwrap())).unwrap();
        return;
    }
    let golden = read_json(&path);
    assert_eq!(
        *answer,
        golden,
        "{name}: the answer differs from {}:\n{}",
        path.display(),
        serde_json::to_string_pretty(answer).unwrap()
    );
}

/// Delivers `activity` to the kit's webhook as Teams would; answers the status and the JSON body, after checking
/// it is served as JSON.
async fn post(kit: &TestKit, activity: &Value) -> (u16, Value) {
    let body = serde_json::to_vec(activity).unwrap();
    let (status, content_type, body) = service::handle(kit.app(), None, &body).await.into_parts();
    assert_eq!(content_type, "application/json", "{}", String::from_utf8_lossy(&body));
    (status, serde_json::from_slice(&body).unwrap())
}

/// `key=value` for each field of a JSON object, keys sorted (`-` for anything else).
fn fields(value: &Value) -> String {
    let Some(object) = value.as_object() else {
        return "-".to_owned();
    };
    let mut pairs: Vec<String> = object
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    pairs.sort();
    pairs.join(", ")
}

/// Which handler ran, with what.
type Calls = Arc<Mutex<Vec<String>>>;

/// A bot whose typed handlers answer from what they were given, and record that they ran.
struct Answers(Calls);

impl Answers {
    fn record(&self, call: String) {
        self.0.lock().unwrap().push(call);
    }
}

fn text_card(text: &str) -> Value {
    json!({"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": text, "wrap": true}]})
}

#[async_trait::async_trait]
impl Bot for Answers {
    async fn on_card_action(&self, _: &Context<'_>, action: &CardAction<'_>) -> Result<InvokeResponse, BotError> {
        let invoke = action.invoke.expect("an Action.Execute has its typed value");
        self.record(format!("on_card_action {}", action.verb.unwrap_or("-")));
        let text = format!(
            "{} by {} ({}; action {}, trigger {}): {}",
            action.verb.unwrap_or("-"),
            action.from.name.as_deref().unwrap_or("-"),
            invoke.action.action_type.as_deref().unwrap_or("-"),
            invoke.action.id.as_deref().unwrap_or("-"),
            invoke.trigger.as_deref().unwrap_or("-"),
            fields(action.data),
        );
        Ok(InvokeResponse::card(text_card(&text)))
    }

    async fn on_dialog_open(&self, _: &Context<'_>, request: &DialogRequest<'_>) -> Result<DialogResponse, BotError> {
        self.record("on_dialog_open".to_owned());
        let theme = request.invoke.context.as_ref().and_then(|c| c.theme.as_deref());
        let text = format!("{} (theme {})", fields(request.data), theme.unwrap_or("-"));
        let dialog = Dialog::adaptive_card(text_card(&text))
            .title(format!("A dialog for {}", request.from.name.as_deref().unwrap_or("-")))
            .size(DialogSize::Medium, DialogSize::Pixels(600));
        Ok(DialogResponse::Show(dialog))
    }

    async fn on_dialog_submit(&self, _: &Context<'_>, submit: &DialogRequest<'_>) -> Result<DialogResponse, BotError> {
        self.record("on_dialog_submit".to_owned());
        Ok(DialogResponse::Message(format!("Submitted {}", fields(submit.data))))
    }

    async fn on_search(&self, _: &Context<'_>, query: &SearchQuery<'_>) -> Result<SearchResponse, BotError> {
        self.record(format!("on_search {}", query.command_id));
        let results = query
            .invoke
            .parameters
            .iter()
            .map(|parameter| {
                let card = HeroCard {
                    title: Some(format!("{}: {}", parameter.name, query.text)),
                    text: Some(format!(
                        "{} (skip {}, count {:?}, initial run {})",
                        query.command_id, query.skip, query.count, query.initial_run
                    )),
                    ..HeroCard::default()
                };
                let preview = HeroCard {
                    tap: Some(Button {
                        action_type: "invoke".to_owned(),
                        value: Some(json!({"picked": parameter.value})),
                        ..Button::default()
                    }),
                    ..card.clone()
                };
                SearchResult::new(Attachment::hero(&card)).preview(Attachment::hero(&preview))
            })
            .collect();
        Ok(SearchResponse::list(results))
    }

    async fn on_search_select(
        &self,
        _: &Context<'_>,
        selection: &SearchSelection<'_>,
    ) -> Result<SearchResponse, BotError> {
        self.record("on_search_select".to_owned());
        let card = HeroCard {
            title: Some(format!("Picked by {}", selection.from.name.as_deref().unwrap_or("-"))),
            text: Some(fields(selection.item)),
            ..HeroCard::default()
        };
        Ok(SearchResponse::list(vec![SearchResult::new(Attachment::thumbnail(
            &card,
        ))]))
    }

    async fn on_invoke(&self, _: &Context<'_>, invoke: &InvokeRequest<'_>) -> Result<InvokeResponse, BotError> {
        self.record(format!("on_invoke {}", invoke.name));
        Ok(InvokeResponse::ok())
    }
}

fn answers_kit() -> (TestKit, Calls) {
    let calls = Calls::default();
    (TestKit::new(Answers(calls.clone())), calls)
}

#[tokio::test]
async fn documented_invokes_get_their_typed_answers() {
    let expected_calls = [
        "on_card_action personalDetailsFormSubmit",
        "on_dialog_open",
        "on_dialog_submit",
        "on_search searchCmd",
        "on_search_select",
    ];
    for (stem, call) in DOCUMENTED.iter().zip(expected_calls) {
        let (kit, calls) = answers_kit();
        let (status, answer) = post(&kit, &corpus(stem)).await;
        assert_eq!(status, 200, "{stem}: {answer}");
        assert_golden(&format!("{stem}.answer"), &answer);
        assert_eq!(*calls.lock().unwrap(), [call], "{stem}");
        // Teams' redelivery of the same invoke reaches no handler and is still answered with JSON.
        let (status, again) = post(&kit, &corpus(stem)).await;
        assert_eq!((status, again), (200, json!({})), "{stem}: redelivery");
        assert_eq!(calls.lock().unwrap().len(), 1, "{stem}: redelivery ran a handler");
    }
}

#[tokio::test]
async fn a_bot_without_invoke_handlers_answers_the_defaults() {
    for stem in DOCUMENTED {
        let kit = TestKit::new(NoBot);
        let (status, answer) = post(&kit, &corpus(stem)).await;
        assert_eq!(status, 200, "{stem}: {answer}");
        assert_golden(&format!("{stem}.default"), &answer);
    }
}

/// Teams' default query (the manifest's `initialRun`): no text, `initial_run` set.
#[tokio::test]
async fn the_default_query_has_no_text() {
    let (kit, _) = answers_kit();
    let mut activity = corpus("invoke.composeExtension-query");
    activity["value"]["parameters"] = json!([{"name": "initialRun", "value": "true"}]);
    let (status, answer) = post(&kit, &activity).await;
    assert_eq!(status, 200);
    let card = &answer["composeExtension"]["attachments"][0]["content"];
    assert_eq!(card["title"], "initialRun: ");
    assert_eq!(card["text"], "searchCmd (skip 0, count Some(25), initial run true)");
}

/// The error body Teams gets for a malformed invoke.
fn bad_request(message: &str) -> Value {
    json!({
        "statusCode": 400,
        "type": "application/vnd.microsoft.error",
        "value": {"code": "BadRequest", "message": message},
    })
}

#[tokio::test]
async fn malformed_invoke_values_are_answered_bad_request_and_reach_no_handler() {
    let cases: Vec<(&str, Option<Value>, String)> = vec![
        (
            "invoke.adaptiveCard-action",
            None,
            "adaptiveCard/action without a value".to_owned(),
        ),
        (
            "invoke.adaptiveCard-action",
            Some(json!("Action.Execute")),
            "adaptiveCard/action: the value is not a JSON object".to_owned(),
        ),
        (
            "invoke.adaptiveCard-action",
            Some(json!({"trigger": "manual"})),
            "adaptiveCard/action: malformed value: missing field `action`".to_owned(),
        ),
        (
            "invoke.adaptiveCard-action",
            Some(json!({"action": {"type": "Action.Execute", "verb": 7}})),
            "adaptiveCard/action: malformed value: invalid type: integer `7`, expected a string".to_owned(),
        ),
        (
            "invoke.task-fetch",
            Some(json!([1, 2])),
            "task/fetch: the value is not a JSON object".to_owned(),
        ),
        (
            "invoke.task-submit",
            Some(json!({"data": {}, "context": "dark"})),
            "task/submit: malformed value: invalid type: string \"dark\", expected struct DialogContext".to_owned(),
        ),
        (
            "invoke.composeExtension-query",
            None,
            "composeExtension/query without a value".to_owned(),
        ),
        (
            "invoke.composeExtension-query",
            Some(json!({"parameters": []})),
            "composeExtension/query: malformed value: missing field `commandId`".to_owned(),
        ),
        (
            "invoke.composeExtension-query",
            Some(json!({"commandId": "searchCmd", "parameters": {"name": "q"}})),
            "composeExtension/query: malformed value: invalid type: map, expected a sequence".to_owned(),
        ),
        (
            "invoke.composeExtension-query",
            Some(json!({"commandId": "searchCmd", "queryOptions": {"skip": -1}})),
            "composeExtension/query: malformed value: invalid value: integer `-1`, expected u32".to_owned(),
        ),
    ];
    for (stem, value, message) in cases {
        let (kit, calls) = answers_kit();
        let mut activity = corpus(stem);
        match &value {
            Some(value) => activity["value"] = value.clone(),
            None => {
                activity.as_object_mut().unwrap().remove("value");
            }
        }
        let (status, answer) = post(&kit, &activity).await;
        assert_eq!(status, 200, "{stem} {value:?}");
        assert_eq!(answer, bad_request(&message), "{stem} {value:?}");
        assert_eq!(
            *calls.lock().unwrap(),
            Vec::<String>::new(),
            "{stem} {value:?} ran a handler"
        );
        assert!(kit.calls().is_empty(), "{stem} {value:?} called the Connector");
    }
}

#[tokio::test]
async fn a_typed_invoke_without_a_sender_is_refused_and_other_invokes_still_reach_on_invoke() {
    for stem in DOCUMENTED {
        let (kit, calls) = answers_kit();
        let mut activity = corpus(stem);
        activity.as_object_mut().unwrap().remove("from");
        let name = activity["name"].as_str().unwrap().to_owned();
        let (status, answer) = post(&kit, &activity).await;
        assert_eq!(
            (status, answer),
            (200, bad_request(&format!("{name} without a sender (from)"))),
            "{stem}"
        );
        assert!(calls.lock().unwrap().is_empty(), "{stem}");
    }
    // Any other invoke, with a sender or not, is the bot's `on_invoke`, as before.
    let (kit, calls) = answers_kit();
    for (stem, name) in [
        ("invoke.signin-verifyState", "signin/verifyState"),
        (
            "invoke.composeExtension-fetchTask-groupChat",
            "composeExtension/fetchTask",
        ),
    ] {
        let (status, answer) = post(&kit, &corpus(stem)).await;
        assert_eq!((status, answer), (200, json!({})), "{stem}");
        assert_eq!(calls.lock().unwrap().last().unwrap(), &format!("on_invoke {name}"));
    }
}

/// A dialog invoke without a `value`, and a pick whose tap value is not an object, still reach their handlers:
/// Teams' `task/fetch` from a Bot Framework card carries what the button put there, and a preview's tap `value`
/// may be any JSON.
#[tokio::test]
async fn optional_values_reach_the_handler() {
    let (kit, calls) = answers_kit();
    let mut fetch = corpus("invoke.task-fetch");
    fetch.as_object_mut().unwrap().remove("value");
    let (status, answer) = post(&kit, &fetch).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["task"]["value"]["card"]["content"]["body"][0]["text"],
        "- (theme -)"
    );
    let mut pick = corpus("invoke.composeExtension-selectItem");
    pick["value"] = json!("item-7");
    let (status, answer) = post(&kit, &pick).await;
    assert_eq!(status, 200);
    assert_eq!(answer["composeExtension"]["attachments"][0]["content"]["text"], "-");
    assert_eq!(*calls.lock().unwrap(), ["on_dialog_open", "on_search_select"]);
}

/// A handler's `Err` is logged and counted; Teams gets a 200 with `{}`.
#[tokio::test]
async fn a_failing_invoke_handler_answers_an_empty_object() {
    struct Failing;
    #[async_trait::async_trait]
    impl Bot for Failing {
        async fn on_search(&self, _: &Context<'_>, _: &SearchQuery<'_>) -> Result<SearchResponse, BotError> {
            Err(BotError::other("the search backend is down"))
        }
    }
    let kit = TestKit::new(Failing);
    let (status, answer) = post(&kit, &corpus("invoke.composeExtension-query")).await;
    assert_eq!((status, answer), (200, json!({})));
}

/// The typed requests keep every field Teams sent: read and written back, each documented `value` is unchanged.
#[test]
fn typed_requests_keep_every_field() {
    fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(stem: &str) {
        let value = corpus(stem)["value"].clone();
        let typed: T = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), value, "{stem}");
    }
    round_trip::<ActionInvoke>("invoke.adaptiveCard-action");
    round_trip::<DialogInvoke>("invoke.task-fetch");
    round_trip::<DialogInvoke>("invoke.task-submit");
    round_trip::<SearchInvoke>("invoke.composeExtension-query");
    let mut extra = corpus("invoke.composeExtension-query")["value"].clone();
    extra["state"] = json!("magic-code");
    extra["queryOptions"]["future"] = json!(true);
    extra["parameters"][0]["inputType"] = json!("text");
    let typed: SearchInvoke = serde_json::from_value(extra.clone()).unwrap();
    assert_eq!(typed.state.as_deref(), Some("magic-code"));
    assert_eq!(typed.text(), "Toronto");
    assert_eq!(typed.parameter("searchKeywords"), Some("Toronto"));
    assert_eq!(serde_json::to_value(&typed).unwrap(), extra);
}
