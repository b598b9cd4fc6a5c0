//! The `task` command's dialog: a card whose button opens a dialog (`task/fetch`), an Adaptive Card form with one
//! text input, and its submit (`task/submit`) answered `You entered <text>` (or closed when the text is empty).

use serde_json::{Value, json};
use teams_bot::models::Attachment;
use teams_bot::{Dialog, DialogRequest, DialogResponse, DialogSize, NO_DIALOG};

/// The `dialog` value the `task` card's button and the form's submit carry: this bot's one dialog.
pub const DIALOG_NAME: &str = "echo";
/// The id of the form's text input (its value arrives in the submit's data under this name).
pub const TEXT_INPUT: &str = "text";
/// The dialog's title.
pub const DIALOG_TITLE: &str = "Tell me something";

/// The card the `task` command sends: a button that asks Teams for the dialog (an `Action.Submit` whose
/// `msteams.type` is `task/fetch`).
#[must_use]
pub fn task_card() -> Attachment {
    Attachment::adaptive(json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": [
            {"type": "TextBlock", "text": "A dialog", "weight": "Bolder", "wrap": true},
            {"type": "TextBlock", "text": "Open it, type something and submit: I tell you what you entered.", "wrap": true}
        ],
        "actions": [
            {"type": "Action.Submit", "title": "Open the dialog", "data": {"msteams": {"type": "task/fetch"}, "dialog": DIALOG_NAME}}
        ]
    }))
}

/// The dialog: a form with one text input and Submit.
#[must_use]
pub fn dialog() -> Dialog {
    Dialog::adaptive_card(json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": [
            {"type": "Input.Text", "id": TEXT_INPUT, "label": "Type something", "placeholder": "Anything at all", "maxLength": 500}
        ],
        "actions": [
            {"type": "Action.Submit", "title": "Submit", "data": {"dialog": DIALOG_NAME}}
        ]
    }))
    .title(DIALOG_TITLE)
    .size(DialogSize::Small, DialogSize::Medium)
}

/// `task/fetch`: the dialog, when the button was the `task` card's; anything else has no dialog here.
#[must_use]
pub fn on_dialog_open(request: &DialogRequest<'_>) -> DialogResponse {
    if is_ours(request.data) {
        DialogResponse::Show(dialog())
    } else {
        DialogResponse::Message(NO_DIALOG.to_owned())
    }
}

/// `task/submit`: `You entered <text>` for a text (trimmed), else the dialog closes.
#[must_use]
pub fn on_dialog_submit(submit: &DialogRequest<'_>) -> DialogResponse {
    let text = submit.data.get(TEXT_INPUT).and_then(Value::as_str).map(str::trim);
    match text {
        Some(text) if is_ours(submit.data) && !text.is_empty() => {
            DialogResponse::Message(format!("You entered {text}"))
        }
        Some(_) | None => DialogResponse::Close,
    }
}

fn is_ours(data: &Value) -> bool {
    data.get("dialog").and_then(Value::as_str) == Some(DIALOG_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_card_button_asks_for_the_dialog() {
        let card = task_card().content.unwrap();
        assert_eq!(
            card["actions"][0]["data"],
            json!({"msteams": {"type": "task/fetch"}, "dialog": "echo"})
        );
    }

    #[test]
    fn the_dialog_is_a_small_form_with_one_text_input_and_submit() {
        let wire = serde_json::to_value(dialog()).unwrap();
        assert_eq!(wire["title"], DIALOG_TITLE);
        assert_eq!(
            (wire["height"].as_str(), wire["width"].as_str()),
            (Some("small"), Some("medium"))
        );
        let card = &wire["card"]["content"];
        assert_eq!(card["body"][0]["type"], "Input.Text");
        assert_eq!(card["body"][0]["id"], TEXT_INPUT);
        assert_eq!(card["actions"][0]["type"], "Action.Submit");
    }
}
