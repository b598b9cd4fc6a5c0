//! Routes an `event` activity to the bot: the meeting events Teams documents to their typed handlers, any other
//! name to [`crate::api::Bot::on_event`]. A meeting event whose `value` does not fit its documented shape reaches
//! no handler (logged): it does not slide into the catch-all.

use crate::api::{Bot, BotError, Context, MeetingEvent, MeetingParticipantsChanged, OtherEvent};
use crate::flows::dispatch::Handled;
use models::meeting::{
    MEETING_END_EVENT, MEETING_PARTICIPANT_JOIN_EVENT, MEETING_PARTICIPANT_LEAVE_EVENT, MEETING_START_EVENT,
    MeetingEventDetails, MeetingParticipantsEventDetails,
};
use models::{Activity, NamedEvent};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The events with a typed handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MeetingEventName {
    /// `application/vnd.microsoft.meetingStart`: `on_meeting_started`.
    Start,
    /// `application/vnd.microsoft.meetingEnd`: `on_meeting_ended`.
    End,
    /// `application/vnd.microsoft.meetingParticipantJoin`: `on_meeting_participants_joined`.
    ParticipantJoin,
    /// `application/vnd.microsoft.meetingParticipantLeave`: `on_meeting_participants_left`.
    ParticipantLeave,
}

impl MeetingEventName {
    /// The typed event `name` is, compared without ASCII case (as the Agents SDK does).
    fn named(name: &str) -> Option<Self> {
        [
            (MEETING_START_EVENT, Self::Start),
            (MEETING_END_EVENT, Self::End),
            (MEETING_PARTICIPANT_JOIN_EVENT, Self::ParticipantJoin),
            (MEETING_PARTICIPANT_LEAVE_EVENT, Self::ParticipantLeave),
        ]
        .into_iter()
        .find(|(wire, _)| wire.eq_ignore_ascii_case(name))
        .map(|(_, typed)| typed)
    }
}

/// Whether the activity comes from Teams (`channelId: msteams`, or none named): only Teams' meeting events are
/// typed; the same names from another channel reach `on_event` (botbuilder-js routes them only for `msteams`).
fn from_teams(activity: &Activity) -> bool {
    activity.channel_id.as_deref().is_none_or(|c| c == "msteams")
}

/// The event's `value` as `T`: absent or `null` reads as `T::default()`; anything else must fit.
fn read_value<T: DeserializeOwned + Default>(value: Option<&Value>) -> Result<T, String> {
    match value {
        None | Some(Value::Null) => Ok(T::default()),
        Some(object @ Value::Object(_)) => T::deserialize(object).map_err(|e| e.to_string()),
        Some(_) => Err("the value is not a JSON object".to_owned()),
    }
}

fn ran(route: &'static str, result: Result<(), BotError>) -> Result<Handled, BotError> {
    result.map(|()| Handled { route, invoke: None })
}

fn malformed(name: &str, reason: &str) -> Result<Handled, BotError> {
    tracing::warn!(event = name, reason, "meeting event ignored: malformed value");
    Ok(Handled {
        route: "ignored: malformed meeting event",
        invoke: None,
    })
}

/// Runs the bot's handler for the `event` activity `activity` (whose fields are `event`).
pub(crate) async fn route_event(
    bot: &dyn Bot,
    ctx: &Context<'_>,
    activity: &Activity,
    event: &NamedEvent,
) -> Result<Handled, BotError> {
    let name = event.name.as_deref().unwrap_or_default();
    let value = event.value.as_ref();
    let meeting_id = activity.channel_data.as_ref().and_then(models::meeting::meeting_id);
    let Some(typed) = MeetingEventName::named(name).filter(|_| from_teams(activity)) else {
        let other = OtherEvent {
            name,
            value,
            from: activity.from.as_ref(),
            activity,
        };
        return ran("on_event", bot.on_event(ctx, &other).await);
    };
    match typed {
        MeetingEventName::Start | MeetingEventName::End => {
            let details: MeetingEventDetails = match read_value(value) {
                Ok(details) => details,
                Err(reason) => return malformed(name, &reason),
            };
            let meeting = MeetingEvent {
                meeting_id,
                details: &details,
                activity,
            };
            if typed == MeetingEventName::Start {
                ran("on_meeting_started", bot.on_meeting_started(ctx, &meeting).await)
            } else {
                ran("on_meeting_ended", bot.on_meeting_ended(ctx, &meeting).await)
            }
        }
        MeetingEventName::ParticipantJoin | MeetingEventName::ParticipantLeave => {
            let details: MeetingParticipantsEventDetails = match read_value(value) {
                Ok(details) => details,
                Err(reason) => return malformed(name, &reason),
            };
            let changed = MeetingParticipantsChanged {
                meeting_id,
                members: &details.members,
                activity,
            };
            if typed == MeetingEventName::ParticipantJoin {
                ran(
                    "on_meeting_participants_joined",
                    bot.on_meeting_participants_joined(ctx, &changed).await,
                )
            } else {
                ran(
                    "on_meeting_participants_left",
                    bot.on_meeting_participants_left(ctx, &changed).await,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn meeting_event_names_are_matched_without_ascii_case_and_others_are_not_typed() {
        assert_eq!(
            MeetingEventName::named("application/vnd.microsoft.meetingStart"),
            Some(MeetingEventName::Start)
        );
        assert_eq!(
            MeetingEventName::named("APPLICATION/VND.MICROSOFT.MEETINGPARTICIPANTJOIN"),
            Some(MeetingEventName::ParticipantJoin)
        );
        assert_eq!(
            MeetingEventName::named("application/vnd.microsoft.meetingEnd"),
            Some(MeetingEventName::End)
        );
        assert_eq!(
            MeetingEventName::named("application/vnd.microsoft.meetingParticipantLeave"),
            Some(MeetingEventName::ParticipantLeave)
        );
        assert_eq!(MeetingEventName::named("application/vnd.microsoft.readReceipt"), None);
        assert_eq!(MeetingEventName::named(""), None);
    }

    #[test]
    fn only_teams_meeting_events_are_typed() {
        let on = |channel: Option<&str>| Activity {
            channel_id: channel.map(str::to_owned),
            ..Activity::default()
        };
        assert!(from_teams(&on(Some("msteams"))));
        assert!(from_teams(&on(None)));
        assert!(!from_teams(&on(Some("emulator"))));
    }

    #[test]
    fn a_value_that_does_not_fit_is_malformed_and_a_missing_one_is_empty() {
        let empty: MeetingEventDetails = read_value(None).unwrap();
        assert_eq!(empty, MeetingEventDetails::default());
        assert!(read_value::<MeetingEventDetails>(Some(&json!("x"))).is_err());
        assert!(read_value::<MeetingEventDetails>(Some(&json!({"Title": 3}))).is_err());
        assert!(read_value::<MeetingParticipantsEventDetails>(Some(&json!({"members": {}}))).is_err());
    }
}
