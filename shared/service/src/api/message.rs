//! Building what a bot sends: text, @mentions, attachments and the text format, in the order they read.

use models::{Activity, ActivityKind, Attachment, ChannelAccount, TextFormat};

/// A message to send, built piece by piece; anything that takes `impl Into<Activity>` takes it.
///
/// ```
/// use teams_bot::{ChannelAccount, Message};
/// use teams_bot::models::TextFormat;
///
/// let user = ChannelAccount::new("29:alice", Some("Alice".to_owned()));
/// let activity = Message::new().text("Thanks ").mention(&user).text("!").into_activity();
/// assert_eq!(activity.text(), Some("Thanks <at>Alice</at>!"));
/// assert_eq!(activity.mentions().count(), 1);
///
/// // A user's words quoted back exactly as typed: never rendered as markdown.
/// let quoted = Message::new().text("You said: *bold*").format(TextFormat::Plain).into_activity();
/// assert_eq!(quoted.as_message().and_then(|m| m.text_format.clone()), Some(TextFormat::Plain));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Message {
    activity: Activity,
    text: String,
}

impl Message {
    /// An empty message.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `text`.
    #[must_use]
    pub fn text(mut self, text: impl AsRef<str>) -> Self {
        self.text.push_str(text.as_ref());
        self
    }

    /// Appends an @mention of `account` (`<at>Name</at>` in the text, its name escaped, and the `mention` entity
    /// Teams needs to notify them).
    #[must_use]
    pub fn mention(mut self, account: &ChannelAccount) -> Self {
        let fragment = self.activity.add_mention(account);
        self.text.push_str(&fragment);
        self
    }

    /// Adds an attachment (a card, an image).
    #[must_use]
    pub fn attachment(mut self, attachment: Attachment) -> Self {
        if let Some(message) = self.activity.message_mut() {
            message.attachments.get_or_insert_with(Vec::new).push(attachment);
        }
        self
    }

    /// How Teams renders the text: `markdown` (Teams' default), `plain` (exactly as written) or `xml`.
    #[must_use]
    pub fn format(mut self, format: TextFormat) -> Self {
        if let Some(message) = self.activity.message_mut() {
            message.text_format = Some(format);
        }
        self
    }

    /// The activity to send.
    #[must_use]
    pub fn into_activity(self) -> Activity {
        let Self { mut activity, text } = self;
        if let ActivityKind::Message(message) = &mut activity.kind
            && !text.is_empty()
        {
            message.text = Some(text);
        }
        activity
    }
}

impl From<Message> for Activity {
    fn from(message: Message) -> Self {
        message.into_activity()
    }
}
