//! Team and channel events applied to the store, so state follows Teams: a renamed team keeps its new name, the
//! conversations of a deleted or archived team (or of a deleted channel) stop receiving the bot's messages and
//! its jobs there pause, and a restored or unarchived team (or restored channel) is active again.
//!
//! | `channelData.eventType` | effect |
//! | --- | --- |
//! | `teamRenamed` | the install claim records `channelData.team.name` |
//! | `teamDeleted`, `teamHardDeleted` | every conversation of the team inactive ([`InactiveReason::TeamDeleted`]) |
//! | `teamArchived` | every conversation of the team inactive ([`InactiveReason::TeamArchived`]) |
//! | `teamRestored` / `teamUnarchived` | those active again (only those made inactive by the matching event) |
//! | `channelDeleted` | the channel and its reply chains inactive ([`InactiveReason::ChannelDeleted`]) |
//! | `channelRestored` | those active again |
//!
//! The team's conversations are the General channel (the team's own id) and those in the store's team index
//! (written with each channel or reply-chain reference). Every effect is idempotent, so Teams' redelivery of an
//! event repeats it harmlessly; the webhook applies it after the activity is recorded, and again on a duplicate
//! delivery, so a failure between the two is repaired by the redelivery.

use crate::app::App;
use crate::flows::triggers::{base_conversation_id, team_id};
use models::{Activity, ActivityKind, ConversationId, TeamsEventType};
use store::{InactiveReason, StoreError, Timestamp};

/// A change to the team's or a channel's state that an activity reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TeamChange {
    Renamed {
        team_id: String,
        name: String,
    },
    /// The team was deleted or archived: its conversations become inactive for `reason`.
    Gone {
        team_id: String,
        reason: InactiveReason,
    },
    /// The team was restored or unarchived: conversations inactive for `reason` are active again.
    Back {
        team_id: String,
        reason: InactiveReason,
    },
    ChannelGone {
        team_id: String,
        channel_id: String,
    },
    ChannelBack {
        team_id: String,
        channel_id: String,
    },
}

/// The state change a `conversationUpdate` reports, if any.
#[must_use]
pub fn team_change(activity: &Activity) -> Option<TeamChange> {
    let ActivityKind::ConversationUpdate(_) = &activity.kind else {
        return None;
    };
    let data = activity.channel_data.as_ref()?;
    let team_id = team_id(activity)?;
    let channel_id = || {
        data.channel
            .as_ref()
            .map(|c| c.id.clone())
            .or_else(|| data.teams_channel_id.clone())
            .filter(|c| !c.is_empty())
    };
    match data.event_type.as_ref()? {
        TeamsEventType::TeamRenamed => {
            let name = data.team.as_ref()?.name.clone().filter(|n| !n.is_empty())?;
            Some(TeamChange::Renamed { team_id, name })
        }
        TeamsEventType::TeamDeleted | TeamsEventType::TeamHardDeleted => Some(TeamChange::Gone {
            team_id,
            reason: InactiveReason::TeamDeleted,
        }),
        TeamsEventType::TeamArchived => Some(TeamChange::Gone {
            team_id,
            reason: InactiveReason::TeamArchived,
        }),
        TeamsEventType::TeamRestored => Some(TeamChange::Back {
            team_id,
            reason: InactiveReason::TeamDeleted,
        }),
        TeamsEventType::TeamUnarchived => Some(TeamChange::Back {
            team_id,
            reason: InactiveReason::TeamArchived,
        }),
        TeamsEventType::ChannelDeleted => Some(TeamChange::ChannelGone {
            team_id,
            channel_id: channel_id()?,
        }),
        TeamsEventType::ChannelRestored => Some(TeamChange::ChannelBack {
            team_id,
            channel_id: channel_id()?,
        }),
        TeamsEventType::TeamMemberAdded
        | TeamsEventType::TeamMemberRemoved
        | TeamsEventType::ChannelCreated
        | TeamsEventType::ChannelRenamed
        | TeamsEventType::Other(_) => None,
    }
}

/// Applies `change` to the store.
///
/// # Errors
/// [`StoreError`] (the webhook answers 503 and Teams redelivers).
pub async fn apply(app: &App, change: &TeamChange, now: Timestamp) -> Result<(), StoreError> {
    let store = &app.store;
    match change {
        TeamChange::Renamed { team_id, name } => {
            let known = store.rename_team(team_id, name, now).await?;
            tracing::info!(team = %team_id, known, "team renamed");
        }
        TeamChange::Gone { team_id, reason } => {
            let mut stopped = 0usize;
            for conversation in store.team_conversations(team_id, now).await? {
                app.known.forget(&conversation);
                stopped += usize::from(store.mark_inactive(&conversation, *reason, now).await?);
            }
            tracing::info!(team = %team_id, ?reason, stopped, "team gone: its conversations are inactive");
        }
        TeamChange::Back { team_id, reason } => {
            let mut resumed = 0usize;
            for conversation in store.team_conversations(team_id, now).await? {
                resumed += usize::from(store.reactivate(&conversation, &[*reason], now).await?);
            }
            tracing::info!(team = %team_id, ?reason, resumed, "team back: its conversations are active again");
        }
        TeamChange::ChannelGone { team_id, channel_id } => {
            let mut stopped = 0usize;
            for conversation in channel_conversations(app, team_id, channel_id, now).await? {
                app.known.forget(&conversation);
                stopped += usize::from(
                    store
                        .mark_inactive(&conversation, InactiveReason::ChannelDeleted, now)
                        .await?,
                );
            }
            tracing::info!(team = %team_id, channel = %channel_id, stopped, "channel deleted: its conversations are inactive");
        }
        TeamChange::ChannelBack { team_id, channel_id } => {
            let mut resumed = 0usize;
            for conversation in channel_conversations(app, team_id, channel_id, now).await? {
                resumed += usize::from(
                    store
                        .reactivate(&conversation, &[InactiveReason::ChannelDeleted], now)
                        .await?,
                );
            }
            tracing::info!(team = %team_id, channel = %channel_id, resumed, "channel restored: its conversations are active again");
        }
    }
    Ok(())
}

/// The channel itself and its reply chains (`<channel>;messageid=...`), from the team's conversations.
async fn channel_conversations(
    app: &App,
    team_id: &str,
    channel_id: &str,
    now: Timestamp,
) -> Result<Vec<ConversationId>, StoreError> {
    let mut out: Vec<ConversationId> = app
        .store
        .team_conversations(team_id, now)
        .await?
        .into_iter()
        .filter(|c| base_conversation_id(c.as_str()) == channel_id)
        .collect();
    if !out.iter().any(|c| c.as_str() == channel_id) {
        out.push(ConversationId::from(channel_id));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const TEAM: &str = "19:efa9296d959346209fea44151c742e73@thread.skype";

    fn update(event: &str, channel: Option<&str>, team_name: Option<&str>) -> Activity {
        let mut data = json!({"eventType": event, "team": {"id": TEAM}, "tenant": {"id": "t"}});
        if let Some(name) = team_name {
            data["team"]["name"] = json!(name);
        }
        if let Some(channel) = channel {
            data["channel"] = json!({"id": channel, "name": "Ops"});
        }
        let v: Value = json!({
            "type": "conversationUpdate",
            "id": "f:1",
            "serviceUrl": "https://smba.trafficmanager.net/amer/",
            "channelId": "msteams",
            "conversation": {"id": TEAM, "isGroup": true, "conversationType": "channel"},
            "recipient": {"id": "28:bot"},
            "channelData": data,
        });
        Activity::from_value(v).unwrap()
    }

    #[test]
    fn each_team_event_maps_to_its_change() {
        let team_id = TEAM.to_owned();
        let cases = [
            (
                "teamDeleted",
                TeamChange::Gone {
                    team_id: team_id.clone(),
                    reason: InactiveReason::TeamDeleted,
                },
            ),
            (
                "teamHardDeleted",
                TeamChange::Gone {
                    team_id: team_id.clone(),
                    reason: InactiveReason::TeamDeleted,
                },
            ),
            (
                "teamArchived",
                TeamChange::Gone {
                    team_id: team_id.clone(),
                    reason: InactiveReason::TeamArchived,
                },
            ),
            (
                "teamRestored",
                TeamChange::Back {
                    team_id: team_id.clone(),
                    reason: InactiveReason::TeamDeleted,
                },
            ),
            (
                "teamUnarchived",
                TeamChange::Back {
                    team_id: team_id.clone(),
                    reason: InactiveReason::TeamArchived,
                },
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(team_change(&update(event, None, None)), Some(expected), "{event}");
        }
        assert_eq!(
            team_change(&update("teamRenamed", None, Some("Contoso Ops"))),
            Some(TeamChange::Renamed {
                team_id: team_id.clone(),
                name: "Contoso Ops".to_owned()
            })
        );
        assert_eq!(
            team_change(&update("channelDeleted", Some("19:ops@thread.skype"), None)),
            Some(TeamChange::ChannelGone {
                team_id: team_id.clone(),
                channel_id: "19:ops@thread.skype".to_owned()
            })
        );
        assert_eq!(
            team_change(&update("channelRestored", Some("19:ops@thread.skype"), None)),
            Some(TeamChange::ChannelBack {
                team_id,
                channel_id: "19:ops@thread.skype".to_owned()
            })
        );
    }

    #[test]
    fn other_events_and_incomplete_ones_change_nothing() {
        for event in [
            "teamMemberAdded",
            "teamMemberRemoved",
            "channelCreated",
            "channelRenamed",
            "somethingNew",
        ] {
            assert_eq!(
                team_change(&update(event, Some("19:ops@thread.skype"), Some("N"))),
                None,
                "{event}"
            );
        }
        assert_eq!(team_change(&update("teamRenamed", None, None)), None, "no new name");
        assert_eq!(team_change(&update("channelDeleted", None, None)), None, "no channel");
    }
}
