//! Mentions: strip an account's mentions from a message's text, and build a mention to send.
//!
//! A mention is `<at>Name</at>` in the text plus an entity `{type: "mention", mentioned: {id, name}, text}` whose
//! `text` is that exact fragment. Stripping matches entities by `mentioned.id` and removes every occurrence of
//! their `text` (botbuilder-js removes only the first), leaving other users' mentions as they are.

use crate::account::ChannelAccount;
use crate::activity::Activity;
use crate::entity::{Entity, Mention};
use serde_json::Map;

/// `text` with every mention of `account_id` removed, then trimmed.
///
/// The mentions are the `mention` entities among `entities` whose `mentioned.id` equals `account_id`; every
/// occurrence of each one's `text` is removed (matching is exact). Other accounts' mention fragments are kept
/// intact even when one of ours is a substring of theirs: the text is scanned once, and at each position the
/// longest matching fragment wins. When another account's entity has exactly the same text as ours (a user with
/// the bot's display name), only as many occurrences as we have entities with that text are removed (the first
/// ones), so theirs survives. Removing a fragment never leaves one of ours formed by the text around it: the
/// result holds none of our fragments (unless a namesake's entity keeps it), and stripping it again changes
/// nothing.
#[must_use]
pub fn strip_mentions_of(text: &str, entities: &[Entity], account_id: &str) -> String {
    /// A mention fragment: how many of its entities are ours, whether another account's entity has it too, and
    /// how many occurrences have been removed so far.
    struct Fragment<'a> {
        text: &'a str,
        ours: usize,
        shared: bool,
        removed: usize,
    }
    impl Fragment<'_> {
        /// Ours, and not one a namesake's entity keeps (see above).
        fn strippable(&self) -> bool {
            self.ours > 0 && (!self.shared || self.removed < self.ours)
        }
    }
    let mut fragments: Vec<Fragment<'_>> = Vec::new();
    for mention in entities.iter().filter_map(Entity::as_mention) {
        let Some(fragment) = mention.text.as_deref().filter(|t| !t.is_empty()) else {
            continue;
        };
        let ours = mention.mentioned.id == account_id;
        let index = match fragments.iter().position(|f| f.text == fragment) {
            Some(index) => index,
            None => {
                fragments.push(Fragment {
                    text: fragment,
                    ours: 0,
                    shared: false,
                    removed: 0,
                });
                fragments.len() - 1
            }
        };
        if let Some(entry) = fragments.get_mut(index) {
            if ours {
                entry.ours += 1;
            } else {
                entry.shared = true;
            }
        }
    }
    if fragments.iter().all(|f| f.ours == 0) {
        return text.trim().to_owned();
    }
    fragments.sort_by_key(|f| std::cmp::Reverse(f.text.len()));

    // `out[..kept]` ends with another account's fragment kept whole: nothing is stripped into it.
    let mut out = String::with_capacity(text.len());
    let mut kept = 0;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match fragments.iter_mut().find(|f| rest.starts_with(f.text)) {
            Some(fragment) => {
                if fragment.strippable() {
                    fragment.removed += 1;
                } else {
                    out.push_str(fragment.text);
                    kept = out.len();
                }
                rest = &rest[fragment.text.len()..];
            }
            None => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
                // Removing a fragment joins the text around it: when that forms one of ours again (the text
                // `<at><at>Bot</at>Bot</at>`), it goes too, as often as it re-forms.
                while let Some(fragment) = fragments
                    .iter_mut()
                    .find(|f| f.strippable() && out.len() >= kept + f.text.len() && out.ends_with(f.text))
                {
                    fragment.removed += 1;
                    out.truncate(out.len() - fragment.text.len());
                }
            }
        }
    }
    out.trim().to_owned()
}

/// Escapes `&`, `<` and `>` so a display name can sit inside `<at>...</at>`.
#[must_use]
pub fn escape_mention_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

impl Mention {
    /// A mention of `account`: the `<at>Name</at>` fragment to put in the text, and the entity to add.
    ///
    /// The name (the account's id when it has none) is HTML-escaped (`&`, `<`, `>`) the same way in the fragment
    /// and in the entity's `text`, so they match exactly; `mentioned` keeps the account's id and unescaped name.
    #[must_use]
    pub fn of(account: &ChannelAccount) -> (String, Entity) {
        let name = account.name.as_deref().unwrap_or(&account.id);
        let fragment = format!("<at>{}</at>", escape_mention_name(name));
        let entity = Entity::Mention(Self {
            mentioned: ChannelAccount::new(account.id.clone(), account.name.clone()),
            text: Some(fragment.clone()),
            extra: Map::new(),
        });
        (fragment, entity)
    }

    /// Whether this mention names `account_id`.
    #[must_use]
    pub fn is_of(&self, account_id: &str) -> bool {
        self.mentioned.id == account_id
    }
}

impl Activity {
    /// The message's text with every mention of `account_id` stripped and the rest trimmed (see
    /// [`strip_mentions_of`]); `None` when the activity has no text.
    #[must_use]
    pub fn text_without_mentions_of(&self, account_id: &str) -> Option<String> {
        let text = self.text()?;
        Some(strip_mentions_of(
            text,
            self.entities.as_deref().unwrap_or_default(),
            account_id,
        ))
    }

    /// The message's text with the recipient's (the bot's) own mentions stripped and trimmed; `None` when the
    /// activity has no text. Without a recipient, the text is only trimmed.
    #[must_use]
    pub fn text_without_recipient_mentions(&self) -> Option<String> {
        let recipient = self.recipient.as_ref().map_or("", |r| r.id.as_str());
        if recipient.is_empty() {
            return self.text().map(|t| t.trim().to_owned());
        }
        self.text_without_mentions_of(recipient)
    }

    /// Whether a `mention` entity names `account_id`.
    #[must_use]
    pub fn mentions_account(&self, account_id: &str) -> bool {
        self.mentions().any(|m| m.is_of(account_id))
    }

    /// Adds a mention of `account` to the entities and returns the `<at>Name</at>` fragment to put in the text
    /// (see [`Mention::of`]).
    pub fn add_mention(&mut self, account: &ChannelAccount) -> String {
        let (fragment, entity) = Mention::of(account);
        self.entities.get_or_insert_with(Vec::new).push(entity);
        fragment
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mention(id: &str, text: &str) -> Entity {
        Entity::Mention(Mention {
            mentioned: ChannelAccount::new(id, Some("n".to_owned())),
            text: Some(text.to_owned()),
            extra: Map::new(),
        })
    }

    #[test]
    fn strips_all_occurrences_and_keeps_others() {
        let entities = [mention("28:bot", "<at>Bot</at>"), mention("29:ann", "<at>Ann</at>")];
        let text = "<at>Bot</at> hi <at>Ann</at> and <at>Bot</at> again ";
        assert_eq!(
            strip_mentions_of(text, &entities, "28:bot"),
            "hi <at>Ann</at> and  again"
        );
    }

    #[test]
    fn keeps_other_mention_containing_ours() {
        let entities = [mention("28:bot", "Bot"), mention("29:x", "<at>Bot Smith</at>")];
        assert_eq!(
            strip_mentions_of("Bot ask <at>Bot Smith</at>", &entities, "28:bot"),
            "ask <at>Bot Smith</at>"
        );
    }

    #[test]
    fn same_text_as_another_account_removes_only_ours() {
        let entities = [
            mention("28:bot", "<at>Bot</at>"),
            mention("29:namesake", "<at>Bot</at>"),
            mention("28:bot", "<at>Bot</at>"),
        ];
        let text = "<at>Bot</at> <at>Bot</at> ask <at>Bot</at>";
        assert_eq!(strip_mentions_of(text, &entities, "28:bot"), "ask <at>Bot</at>");
        assert_eq!(
            strip_mentions_of(text, &entities, "29:namesake"),
            "<at>Bot</at> ask <at>Bot</at>"
        );
        // Not shared: every occurrence goes, even with fewer entities than occurrences.
        assert_eq!(strip_mentions_of(text, &entities[..1], "28:bot"), "ask");
    }

    #[test]
    fn no_mention_of_account_only_trims() {
        let entities = [mention("29:ann", "<at>Ann</at>")];
        assert_eq!(
            strip_mentions_of("  <at>Ann</at> x ", &entities, "28:bot"),
            "<at>Ann</at> x"
        );
        assert_eq!(strip_mentions_of("  ", &[], "28:bot"), "");
    }

    #[test]
    fn empty_mention_text_is_ignored() {
        let entities = [mention("28:bot", "")];
        assert_eq!(strip_mentions_of(" héllo ", &entities, "28:bot"), "héllo");
    }

    #[test]
    fn multibyte_text_around_mentions() {
        let entities = [mention("28:bot", "<at>Bøt</at>")];
        assert_eq!(strip_mentions_of("😀<at>Bøt</at>ü", &entities, "28:bot"), "😀ü");
    }

    #[test]
    fn mention_of_escapes_name_identically() {
        let account = ChannelAccount::new("29:a", Some("A&B <C>".to_owned()));
        let (fragment, entity) = Mention::of(&account);
        assert_eq!(fragment, "<at>A&amp;B &lt;C&gt;</at>");
        let m = entity.as_mention().unwrap();
        assert_eq!(m.text.as_deref(), Some(fragment.as_str()));
        assert_eq!(m.mentioned.name.as_deref(), Some("A&B <C>"));
        assert_eq!(m.mentioned.id, "29:a");
        let json = serde_json::to_value(&entity).unwrap();
        assert_eq!(json["type"], "mention");
    }

    #[test]
    fn mention_round_trips_through_strip() {
        let mut activity = Activity::message("");
        let bot = ChannelAccount::new("28:bot", Some("Echo <Bot>".to_owned()));
        let fragment = activity.add_mention(&bot);
        activity.message_mut().unwrap().text = Some(format!("{fragment} help"));
        assert!(activity.mentions_account("28:bot"));
        assert_eq!(activity.text_without_mentions_of("28:bot").as_deref(), Some("help"));
    }

    #[test]
    fn recipient_mentions_without_recipient_just_trims() {
        let activity = Activity::message(" hi ");
        assert_eq!(activity.text_without_recipient_mentions().as_deref(), Some("hi"));
        assert_eq!(Activity::default().kind.type_name(), "message");
    }
}
