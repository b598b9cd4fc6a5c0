//! The demo card and picture.

use serde_json::json;
use teams_bot::models::{Activity, ActivityKind, Attachment, CardAction, HeroCard, ImageError};

/// The picture the `picture` command sends: a 32x32 PNG shipped in the binary.
pub(crate) const PICTURE: &[u8] = include_bytes!("../assets/picture.png");

/// The hero card of the `card` command: a title, a line of text, and a button that sends `help` back.
pub(crate) fn hero_card() -> Attachment {
    Attachment::hero(&HeroCard {
        title: Some("A hero card".to_owned()),
        subtitle: Some("from the reference bot".to_owned()),
        text: Some("Cards carry text, images and buttons. This button sends `help` back to me.".to_owned()),
        buttons: vec![CardAction {
            action_type: "imBack".to_owned(),
            title: Some("Help".to_owned()),
            value: Some(json!("help")),
            ..CardAction::default()
        }],
        ..HeroCard::default()
    })
}

/// The Adaptive Card of the `card` command.
pub(crate) fn adaptive_card() -> Attachment {
    Attachment::adaptive(json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": "An Adaptive Card", "weight": "Bolder", "size": "Medium", "wrap": true},
            {"type": "TextBlock", "text": "Adaptive Cards lay out text, facts and actions.", "wrap": true},
            {"type": "FactSet", "facts": [
                {"title": "Sent by", "value": "the reference bot"},
                {"title": "Format", "value": "Adaptive Card 1.4"}
            ]}
        ],
        "actions": [
            {"type": "Action.OpenUrl", "title": "About Adaptive Cards", "url": "https://adaptivecards.io"}
        ]
    }))
}

/// A message with one attachment.
pub(crate) fn with_attachment(text: Option<&str>, attachment: Attachment) -> Activity {
    let mut activity = Activity::message(text.unwrap_or_default());
    if let ActivityKind::Message(m) = &mut activity.kind {
        if text.is_none() {
            m.text = None;
        }
        m.attachments = Some(vec![attachment]);
    }
    activity
}

/// The `picture` message: [`PICTURE`] inline as a `data:` URL, after checking it against Teams' limits.
pub(crate) fn picture_message() -> Result<Activity, ImageError> {
    let (attachment, _) = Attachment::checked_inline_image(PICTURE, Some("picture.png".to_owned()))?;
    Ok(with_attachment(Some("Here is a picture."), attachment))
}

#[cfg(test)]
mod tests {
    use super::*;
    use teams_bot::models::attachment::{ADAPTIVE_CARD, HERO_CARD};

    #[test]
    fn picture_is_an_inline_png_data_url() {
        let m = picture_message().unwrap();
        let a = &m.as_message().unwrap().attachments.as_ref().unwrap()[0];
        assert_eq!(a.content_type, "image/png");
        assert!(
            a.content_url
                .as_deref()
                .unwrap()
                .starts_with("data:image/png;base64,iVBORw0KGgo")
        );
        assert_eq!(m.text(), Some("Here is a picture."));
    }

    #[test]
    fn the_shipped_picture_is_within_teams_limits() {
        let info = teams_bot::models::check_image(PICTURE).unwrap();
        assert_eq!(
            (info.format, info.width, info.height),
            (teams_bot::models::ImageFormat::Png, 32, 32)
        );
    }

    #[test]
    fn cards_have_their_content_types() {
        assert_eq!(hero_card().content_type, HERO_CARD);
        assert_eq!(
            hero_card().as_hero_card().unwrap().buttons[0].value,
            Some(json!("help"))
        );
        let adaptive = adaptive_card();
        assert_eq!(adaptive.content_type, ADAPTIVE_CARD);
        assert_eq!(adaptive.content.unwrap()["type"], "AdaptiveCard");
        let only = with_attachment(None, hero_card());
        assert_eq!(only.text(), None);
    }
}
