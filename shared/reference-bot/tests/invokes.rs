//! The reference bot's invokes with answers (issue 18), end to end through the runtime with the test kit: the
//! `task` command's dialog (`task/fetch`, `task/submit`), the `search` message extension
//! (`composeExtension/query`, `composeExtension/selectItem`), and the poll card's Universal Actions refresh
//! (`adaptiveCard/action` with the `pollRefresh` verb).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use reference_bot::dialog::{DIALOG_TITLE, TEXT_INPUT};
use reference_bot::poll::REFRESH_ACTION;
use reference_bot::{HELP_ENTRIES, ReferenceBot};
use serde_json::{Value, json};
use teams_bot::testkit::{PERSONAL_CONVERSATION, TestKit, USER_ID};

fn kit() -> TestKit {
    TestKit::new(ReferenceBot)
}

/// The Adaptive Cards of every message the bot sent, in order.
fn sent_cards(kit: &TestKit) -> Vec<Value> {
    kit.sent()
        .iter()
        .filter_map(|a| a.as_message()?.attachments.as_ref()?.first()?.content.clone())
        .collect()
}

/// Sends `text` as the kit's user's 1:1 message, then waits for the one personal welcome its first contact
/// brings (sent by the welcome flow in the background), so that later checks of what was sent are not racing it.
async fn personal_message(kit: &TestKit, text: &str) {
    assert_eq!(kit.personal_message(text).await, 200);
    let welcomed = |sent: &[String]| sent.iter().any(|t| t.starts_with("Welcome"));
    assert!(kit.wait_for(welcomed).await, "the personal welcome");
}

// ---- the `task` command's dialog ------------------------------------------------------------------------------

/// Sends `task` in the 1:1 chat; answers the `data` of the card's button (what Teams sends in `task/fetch`).
async fn task_button(kit: &TestKit) -> Value {
    personal_message(kit, "task").await;
    let cards = sent_cards(kit);
    assert_eq!(cards.len(), 1, "{cards:?}");
    let button = &cards[0]["actions"][0];
    assert_eq!(button["type"], "Action.Submit");
    assert_eq!(button["data"]["msteams"], json!({"type": "task/fetch"}));
    button["data"].clone()
}

#[tokio::test]
async fn task_sends_a_card_whose_button_opens_the_dialog_form() {
    let kit = kit();
    let data = task_button(&kit).await;
    // Teams sends the button's data as the `task/fetch` value's `data`.
    let (status, answer) = kit
        .invoke("task/fetch", json!({"data": data, "context": {"theme": "dark"}}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["task"]["type"], "continue", "{answer}");
    let dialog = &answer["task"]["value"];
    assert_eq!(dialog["title"], DIALOG_TITLE);
    assert_eq!(
        (dialog["height"].as_str(), dialog["width"].as_str()),
        (Some("small"), Some("medium"))
    );
    assert_eq!(dialog["card"]["contentType"], "application/vnd.microsoft.card.adaptive");
    let form = &dialog["card"]["content"];
    assert_eq!(form["body"][0]["type"], "Input.Text");
    assert_eq!(form["body"][0]["id"], TEXT_INPUT);
    assert_eq!(form["actions"][0]["type"], "Action.Submit");
    assert_eq!(form["actions"][0]["title"], "Submit");
    // Opening the dialog sends nothing to the conversation: the task card (and the welcome) only.
    assert_eq!(kit.sent().len(), 2, "{:?}", kit.sent_texts());
}

#[tokio::test]
async fn submitting_the_dialog_answers_what_was_entered_or_closes_it() {
    let kit = kit();
    let submit_data = |text: Value| {
        let mut data = json!({"dialog": "echo"});
        data[TEXT_INPUT] = text;
        json!({"data": data, "context": {"theme": "default"}})
    };
    let (status, answer) = kit.invoke("task/submit", submit_data(json!("  a *bold* idea "))).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({"task": {"type": "message", "value": "You entered a *bold* idea"}})
    );
    for empty in [json!(""), json!("   "), Value::Null] {
        let (status, answer) = kit.invoke("task/submit", submit_data(empty.clone())).await;
        assert_eq!((status, answer), (200, json!({})), "{empty}: the dialog closes");
    }
    // A submit that is not our dialog's closes it too.
    let (status, answer) = kit.invoke("task/submit", json!({"data": {TEXT_INPUT: "hi"}})).await;
    assert_eq!((status, answer), (200, json!({})));
    assert!(kit.sent().is_empty(), "a dialog answers Teams, it sends no message");
}

// ---- the `search` message extension ---------------------------------------------------------------------------

fn query(command_id: &str, parameters: Value, skip: u32, count: u32) -> Value {
    json!({"commandId": command_id, "parameters": parameters, "queryOptions": {"skip": skip, "count": count}})
}

/// The titles of the results of a search answer, and checks the answer's shape on the way.
fn result_titles(answer: &Value) -> Vec<String> {
    let result = &answer["composeExtension"];
    assert_eq!(result["type"], "result", "{answer}");
    assert_eq!(result["attachmentLayout"], "list", "{answer}");
    result["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            assert_eq!(a["contentType"], "application/vnd.microsoft.card.hero", "{a}");
            assert_eq!(
                a["preview"]["contentType"], "application/vnd.microsoft.card.hero",
                "{a}"
            );
            let title = a["content"]["title"].as_str().unwrap().to_owned();
            assert_eq!(a["preview"]["content"]["title"], title.as_str());
            assert_eq!(
                a["preview"]["content"]["tap"],
                json!({"type": "invoke", "value": {"command": title}}),
                "the preview's tap picks the command"
            );
            title
        })
        .collect()
}

#[tokio::test]
async fn search_finds_the_commands_by_text_and_pages_them() {
    let kit = kit();
    let search = |value: Value| kit.invoke("composeExtension/query", value);
    let (status, answer) = search(query("search", json!([{"name": "query", "value": "poll"}]), 0, 25)).await;
    assert_eq!(status, 200);
    assert_eq!(result_titles(&answer), ["subscribe [minutes]", "unsubscribe"]);
    assert_eq!(
        answer["composeExtension"]["attachments"][1]["content"]["text"],
        "stop the check-in poll"
    );

    // Teams' default query, as the extension opens: everything, the page asked for.
    let initial = json!([{"name": "initialRun", "value": "true"}]);
    let (_, answer) = search(query("search", initial.clone(), 0, 25)).await;
    let all: Vec<&str> = HELP_ENTRIES.iter().map(|e| e.command).collect();
    assert_eq!(result_titles(&answer), all);
    let (_, answer) = search(query("search", initial, 10, 2)).await;
    assert_eq!(result_titles(&answer), all[10..12]);

    // Nothing matches; another command id (not in the manifest): an empty list, never an error.
    let (_, answer) = search(query("search", json!([{"name": "query", "value": "teleport"}]), 0, 25)).await;
    assert_eq!(result_titles(&answer), Vec::<String>::new());
    let (status, answer) = search(query("other", json!([{"name": "query", "value": "poll"}]), 0, 25)).await;
    assert_eq!(status, 200);
    assert_eq!(result_titles(&answer), Vec::<String>::new());
    assert!(kit.sent().is_empty(), "a search answers Teams, it sends no message");
}

#[tokio::test]
async fn picking_a_result_answers_the_commands_full_card() {
    let kit = kit();
    let (status, answer) = kit
        .invoke("composeExtension/selectItem", json!({"command": "task"}))
        .await;
    assert_eq!(status, 200);
    let result = &answer["composeExtension"];
    assert_eq!(
        (result["type"].as_str(), result["attachmentLayout"].as_str()),
        (Some("result"), Some("list"))
    );
    let attachments = result["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "{answer}");
    let picked = &attachments[0];
    assert_eq!(picked["contentType"], "application/vnd.microsoft.card.adaptive");
    let body = &picked["content"]["body"];
    assert_eq!(body[0]["text"], "task");
    assert_eq!(
        body[1]["text"],
        "a dialog to type something in; I tell you what you entered"
    );
    assert_eq!(body[2]["text"], "Send me \"task\" to try it.");
    assert_eq!(picked["preview"]["content"]["title"], "task");

    for unknown in [json!({"command": "teleport"}), json!("task"), json!({})] {
        let (status, answer) = kit.invoke("composeExtension/selectItem", unknown.clone()).await;
        assert_eq!(
            (status, answer),
            (
                200,
                json!({"composeExtension": {"type": "result", "attachmentLayout": "list", "attachments": []}})
            ),
            "{unknown}"
        );
    }
}

// ---- the poll card's refresh ----------------------------------------------------------------------------------

/// Subscribes the kit's 1:1 chat and runs the due poll; answers the posted card.
async fn posted_poll(kit: &TestKit) -> Value {
    personal_message(kit, "subscribe").await;
    kit.tick().await;
    let polls: Vec<Value> = sent_cards(kit)
        .into_iter()
        .filter(|c| c["body"][0]["text"] == "Check-in: how is it going?")
        .collect();
    assert_eq!(polls.len(), 1, "{polls:?}");
    polls[0].clone()
}

/// The kit's user presses choice `choice` of `card` (an `Action.Submit`: a message with `value`).
async fn vote(kit: &TestKit, card: &Value, choice: usize) {
    let mut submit = kit.activity("message", PERSONAL_CONVERSATION, "personal");
    submit["value"] = card["actions"][choice]["data"].clone();
    assert_eq!(kit.deliver(&submit).await, 200);
}

/// Teams' refresh of `card` (its `refresh.action`), as an `adaptiveCard/action` invoke.
async fn refresh(kit: &TestKit, card: &Value, trigger: &str) -> (u16, Value) {
    let action = &card["refresh"]["action"];
    kit.invoke(
        "adaptiveCard/action",
        json!({"action": {"type": action["type"], "title": action["title"], "verb": action["verb"], "data": action["data"]}, "trigger": trigger}),
    )
    .await
}

#[tokio::test]
async fn the_poll_card_refreshes_to_the_stored_tally_for_its_voters() {
    let kit = kit();
    let card = posted_poll(&kit).await;
    assert_eq!(
        card["version"], "1.5",
        "Universal Actions need Adaptive Cards 1.5 in Teams"
    );
    let action = &card["refresh"]["action"];
    assert_eq!(action["type"], "Action.Execute");
    assert_eq!(action["verb"], REFRESH_ACTION);
    assert_eq!(action["data"]["pollId"], card["actions"][0]["data"]["pollId"]);
    assert_eq!(action["data"]["slot"], card["actions"][0]["data"]["slot"]);
    assert_eq!(card["refresh"]["userIds"], json!([]), "nobody has voted yet");

    // Before any vote, a (manual) refresh answers the same card.
    let (status, answer) = refresh(&kit, &card, "manual").await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": card})
    );

    vote(&kit, &card, 1).await;
    kit.clear();
    // Teams' automatic refresh, as it shows the card: the tally as stored, the voter listed for the next refresh.
    let (status, answer) = refresh(&kit, &card, "automatic").await;
    assert_eq!(status, 200);
    assert_eq!(answer["type"], "application/vnd.microsoft.card.adaptive", "{answer}");
    let refreshed = &answer["value"];
    assert_eq!(
        refreshed["body"][1]["facts"][1],
        json!({"title": "OK", "value": "1 vote"})
    );
    assert_eq!(refreshed["body"][2]["text"], "1 answer so far");
    assert_eq!(refreshed["refresh"]["userIds"], json!([USER_ID]));
    assert!(
        kit.calls().is_empty(),
        "a refresh answers Teams; it sends and updates nothing"
    );
}

#[tokio::test]
async fn a_refresh_for_no_open_poll_or_without_poll_data_is_told_so() {
    let kit = kit();
    let card = posted_poll(&kit).await;
    let not_open = json!({
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": "Sorry, this poll is no longer open here.",
    });
    // Another conversation's poll.
    let mut other = card.clone();
    other["refresh"]["action"]["data"]["pollId"] = json!("19:another-chat@thread.v2");
    assert_eq!(refresh(&kit, &other, "automatic").await, (200, not_open.clone()));
    // No poll data: an error answer (HTTP 200, statusCode 400).
    let mut bare = card.clone();
    bare["refresh"]["action"]["data"] = json!({"action": REFRESH_ACTION});
    let (status, answer) = refresh(&kit, &bare, "manual").await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({
            "statusCode": 400,
            "type": "application/vnd.microsoft.error",
            "value": {"code": "BadRequest", "message": "This refresh names no poll."},
        })
    );
    // After unsubscribing.
    assert_eq!(kit.personal_message("unsubscribe").await, 200);
    assert_eq!(refresh(&kit, &card, "automatic").await, (200, not_open));
}
