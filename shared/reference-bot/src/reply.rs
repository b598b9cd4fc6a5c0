//! @mentioning someone in a message.

use teams_bot::Message;
use teams_bot::models::{Activity, ChannelAccount, TextFormat};

/// A message that @mentions `user`: `<before><at>Name</at><after>` in the text (the name HTML-escaped) and the
/// matching `mention` entity. A user without a name is mentioned by their id.
#[must_use]
pub fn mention_back(user: &ChannelAccount, before: &str, after: &str) -> Activity {
    // `xml`: the user's name is HTML-escaped in the mention, and Teams reads no markdown in it.
    Message::new()
        .text(before)
        .mention(user)
        .text(after)
        .format(TextFormat::Xml)
        .into_activity()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mention_back_escapes_the_name_in_text_and_entity_text() {
        let user = ChannelAccount::new("29:x", Some("Tom & <Jerry>".to_owned()));
        let a = mention_back(&user, "Hello ", "!");
        assert_eq!(a.text(), Some("Hello <at>Tom &amp; &lt;Jerry&gt;</at>!"));
        let m: Vec<_> = a.mentions().collect();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].mentioned.id, "29:x");
        assert_eq!(m[0].mentioned.name.as_deref(), Some("Tom & <Jerry>"));
        assert_eq!(m[0].text.as_deref(), Some("<at>Tom &amp; &lt;Jerry&gt;</at>"));
    }

    #[test]
    fn mention_back_without_a_name_uses_the_id() {
        let a = mention_back(&ChannelAccount::new("29:x", None), "", "");
        assert_eq!(a.text(), Some("<at>29:x</at>"));
    }
}
