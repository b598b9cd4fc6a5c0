//! The `search` message extension: finds what the bot can do (its `help` entries) by the words a user types,
//! lists them with a hero card preview, and inserts the picked command's card into the user's message.

use crate::commands::HELP_ENTRIES;
use serde_json::{Value, json};
use teams_bot::models::{Attachment, CardAction, HeroCard};
use teams_bot::{SearchQuery, SearchResponse, SearchResult, SearchSelection};

/// The search command's `id` in the app manifest (`composeExtensions[0].commands[0].id`).
pub const SEARCH_COMMAND: &str = "search";
/// How many results a search answers when Teams does not say.
const DEFAULT_COUNT: usize = 25;

/// One thing the bot can do, as `help` lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelpEntry {
    /// What to send the bot.
    pub command: &'static str,
    /// What it does.
    pub description: &'static str,
}

/// The help entries matching `text` (every word of it, in the command or its description, ignoring case; all of
/// them for an empty text), in `help`'s order.
#[must_use]
pub fn matching(text: &str) -> Vec<&'static HelpEntry> {
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    HELP_ENTRIES
        .iter()
        .filter(|entry| {
            let haystack = format!("{} {}", entry.command, entry.description).to_lowercase();
            words.iter().all(|word| haystack.contains(word.as_str()))
        })
        .collect()
}

/// The answer to a search: the matching entries, the page Teams asked for, as a list. Another command's query
/// (not in our manifest) gets no results.
#[must_use]
pub fn on_search(query: &SearchQuery<'_>) -> SearchResponse {
    if query.command_id != SEARCH_COMMAND {
        return SearchResponse::empty();
    }
    let results = matching(query.text)
        .into_iter()
        .skip(query.skip)
        .take(query.count.unwrap_or(DEFAULT_COUNT))
        .map(search_result)
        .collect();
    SearchResponse::list(results)
}

/// The answer to a picked result: the command's full card, or no result for an item that is not one of ours.
#[must_use]
pub fn on_search_select(selection: &SearchSelection<'_>) -> SearchResponse {
    let picked = selection.item.get("command").and_then(Value::as_str);
    let Some(entry) = HELP_ENTRIES.iter().find(|e| Some(e.command) == picked) else {
        return SearchResponse::empty();
    };
    SearchResponse::list(vec![
        SearchResult::new(command_card(entry)).preview(Attachment::hero(&entry_card(entry))),
    ])
}

/// One result: the entry as a hero card, previewed with a tap that picks it (`composeExtension/selectItem` with
/// `{"command": ...}`).
fn search_result(entry: &HelpEntry) -> SearchResult {
    let preview = HeroCard {
        tap: Some(CardAction {
            action_type: "invoke".to_owned(),
            value: Some(json!({"command": entry.command})),
            ..CardAction::default()
        }),
        ..entry_card(entry)
    };
    SearchResult::new(Attachment::hero(&entry_card(entry))).preview(Attachment::hero(&preview))
}

fn entry_card(entry: &HelpEntry) -> HeroCard {
    HeroCard {
        title: Some(entry.command.to_owned()),
        text: Some(entry.description.to_owned()),
        ..HeroCard::default()
    }
}

/// The card a picked command inserts into the user's message: what it does and how to ask for it.
#[must_use]
pub fn command_card(entry: &HelpEntry) -> Attachment {
    Attachment::adaptive(json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": [
            {"type": "TextBlock", "text": entry.command, "weight": "Bolder", "size": "Medium", "wrap": true},
            {"type": "TextBlock", "text": entry.description, "wrap": true},
            {"type": "TextBlock", "text": format!("Send me \"{}\" to try it.", entry.command), "isSubtle": true, "wrap": true}
        ]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HELP_TEXT;

    #[test]
    fn every_help_entry_is_a_line_of_help_and_back() {
        for entry in HELP_ENTRIES {
            let line = format!("- {}: {}\n", entry.command, entry.description);
            assert!(HELP_TEXT.contains(&line), "{line:?} is not in HELP_TEXT");
        }
        let listed = HELP_TEXT.lines().filter(|l| l.starts_with("- ")).count();
        assert_eq!(listed, HELP_ENTRIES.len(), "HELP_TEXT lists another set of commands");
    }

    #[test]
    fn matching_needs_every_word_in_the_command_or_its_description_ignoring_case() {
        let commands = |text: &str| matching(text).iter().map(|e| e.command).collect::<Vec<_>>();
        assert_eq!(commands("").len(), HELP_ENTRIES.len());
        assert_eq!(commands("  "), commands(""));
        assert_eq!(commands("POLL"), ["subscribe [minutes]", "unsubscribe"]);
        assert_eq!(commands("check-in stop"), ["unsubscribe"]);
        assert_eq!(commands("dialog"), ["task"]);
        assert!(commands("nothing like this").is_empty());
    }

    #[test]
    fn a_result_previews_a_tap_that_picks_its_command() {
        let result = serde_json::to_value(search_result(&HELP_ENTRIES[0])).unwrap();
        assert_eq!(result["contentType"], "application/vnd.microsoft.card.hero");
        assert_eq!(result["content"]["title"], "help");
        assert_eq!(result["preview"]["contentType"], "application/vnd.microsoft.card.hero");
        assert_eq!(
            result["preview"]["content"]["tap"],
            json!({"type": "invoke", "value": {"command": "help"}})
        );
    }
}
