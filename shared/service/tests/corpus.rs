#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Real inbound payloads through the real webhook (issue 15, "Must show").
//!
//! `corpus_payloads_reach_their_handler_once`: every file of `tests/fixtures/corpus/` (Microsoft's documented
//! and SDK-test payloads, normalised to the test bot and tenant; sources in `SOURCES.md` there) is posted to
//! [`service::handle`] with a valid Bot Framework token, as Teams would. For each file the table below says which
//! handler of the bot must run (a recording [`Bot`]), what Teams must get back (200, and for invokes the bot's
//! JSON answer) and what the runtime must leave in the store (a team install claim, a first-contact claim, an
//! inactive conversation, or none of them). An exact redelivery must be answered 200 and reach no handler.
//!
//! `shared_teams_payloads_reach_their_handler_once`: the same for the payloads Microsoft's SDK test suites
//! recorded (`/work/shared/teams-payloads`, or `TEAMS_PAYLOADS_DIR`), read in place and never copied here.

use auth::{AuthConfig, Authenticator};
use connector::{RecordingConnector, ServiceUrlAllowlist};
use fake_teams::openid::{BotClaims, OpenIdServer};
use models::{ChannelAccount, ConversationId, TenantId};
use serde_json::{Value, json};
use service::api::{
    Bot, BotError, BotIdentity, CardAction, Context, ConversationEvent, DialogRequest, DialogResponse, IncomingMessage,
    InstallAction, Installation, InvokeRequest, InvokeResponse, MembersChanged, MessageDeleted, MessageEdit,
    ReactionsChanged, Scope, SearchQuery, SearchResponse, SearchSelection,
};
use service::{App, Inbound};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use store::{ClaimOutcome, Conversations, FirstContact, MemoryStore, Timestamp, WelcomeClaims};

/// The test bot's app id: the corpus's `recipient.id` is `28:<APP_ID>`, as in `tests/fixtures/*.json`.
const APP_ID: &str = "c9e8c047-2a74-40a2-b28a-b162d5f5327c";
/// The test bot's account id.
const BOT_ID: &str = "28:c9e8c047-2a74-40a2-b28a-b162d5f5327c";
/// The tenant every corpus file is normalised to.
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// A serviceUrl the default allowlist accepts (a Teams host).
const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";

/// A handler call, as the recording bot saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Call {
    Message(String),
    Edit {
        message_id: String,
        text: String,
    },
    Delete(String),
    Reactions {
        added: Vec<String>,
        removed: Vec<String>,
    },
    Installation(InstallAction, Scope),
    MembersAdded(Vec<String>),
    MembersRemoved(Vec<String>),
    ConversationEvent(String),
    CardAction {
        verb: Option<String>,
        is_invoke: bool,
    },
    DialogOpen,
    DialogSubmit,
    Search(String),
    SearchSelect,
    Invoke(String),
    /// `on_file_consent`, with how the offer ended.
    FileConsent(String),
    /// `on_meeting_started`: the meeting id (`channelData.meeting.id`) and the value's title.
    MeetingStarted {
        meeting: String,
        title: String,
    },
    /// `on_meeting_ended`: the meeting id and the value's end time.
    MeetingEnded {
        meeting: String,
        end_time: String,
    },
    /// `on_meeting_participants_joined`: each member's id and role.
    ParticipantsJoined(Vec<(String, String)>),
    /// `on_meeting_participants_left`: each member's id.
    ParticipantsLeft(Vec<String>),
    /// `on_event`: the name.
    Event(String),
}

/// A bot that records every handler call and answers invokes with a body naming what it handled.
struct Recorder(Arc<Mutex<Vec<Call>>>);

impl Recorder {
    fn record(&self, call: Call) {
        self.0.lock().unwrap().push(call);
    }
}

fn ids(members: &[&ChannelAccount]) -> Vec<String> {
    members.iter().map(|m| m.id.clone()).collect()
}

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[async_trait::async_trait]
impl Bot for Recorder {
    async fn on_message(&self, _: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
        self.record(Call::Message(message.text.clone()));
        Ok(())
    }

    async fn on_message_edit(&self, _: &Context<'_>, edit: &MessageEdit<'_>) -> Result<(), BotError> {
        self.record(Call::Edit {
            message_id: edit.message_id.to_string(),
            text: edit.text.clone(),
        });
        Ok(())
    }

    async fn on_message_delete(&self, _: &Context<'_>, deleted: &MessageDeleted<'_>) -> Result<(), BotError> {
        self.record(Call::Delete(deleted.message_id.to_string()));
        Ok(())
    }

    async fn on_reactions(&self, _: &Context<'_>, reactions: &ReactionsChanged<'_>) -> Result<(), BotError> {
        self.record(Call::Reactions {
            added: owned(&reactions.added),
            removed: owned(&reactions.removed),
        });
        Ok(())
    }

    async fn on_installation(&self, _: &Context<'_>, installation: &Installation<'_>) -> Result<(), BotError> {
        self.record(Call::Installation(installation.action, installation.scope));
        Ok(())
    }

    async fn on_members_added(&self, _: &Context<'_>, members: &MembersChanged<'_>) -> Result<(), BotError> {
        self.record(Call::MembersAdded(ids(&members.members)));
        Ok(())
    }

    async fn on_members_removed(&self, _: &Context<'_>, members: &MembersChanged<'_>) -> Result<(), BotError> {
        self.record(Call::MembersRemoved(ids(&members.members)));
        Ok(())
    }

    async fn on_meeting_started(
        &self,
        _: &Context<'_>,
        meeting: &service::api::MeetingEvent<'_>,
    ) -> Result<(), BotError> {
        self.record(Call::MeetingStarted {
            meeting: meeting.meeting_id.unwrap_or_default().to_owned(),
            title: meeting.title().unwrap_or_default().to_owned(),
        });
        Ok(())
    }

    async fn on_meeting_ended(
        &self,
        _: &Context<'_>,
        meeting: &service::api::MeetingEvent<'_>,
    ) -> Result<(), BotError> {
        self.record(Call::MeetingEnded {
            meeting: meeting.meeting_id.unwrap_or_default().to_owned(),
            end_time: meeting.details.end_time.clone().unwrap_or_default(),
        });
        Ok(())
    }

    async fn on_meeting_participants_joined(
        &self,
        _: &Context<'_>,
        joined: &service::api::MeetingParticipantsChanged<'_>,
    ) -> Result<(), BotError> {
        let members = joined.members.iter();
        let roles = members.map(|m| {
            (
                m.user.id.clone(),
                m.meeting.role.as_ref().map_or("", |r| r.as_str()).to_owned(),
            )
        });
        self.record(Call::ParticipantsJoined(roles.collect()));
        Ok(())
    }

    async fn on_meeting_participants_left(
        &self,
        _: &Context<'_>,
        left: &service::api::MeetingParticipantsChanged<'_>,
    ) -> Result<(), BotError> {
        self.record(Call::ParticipantsLeft(
            left.members.iter().map(|m| m.user.id.clone()).collect(),
        ));
        Ok(())
    }

    async fn on_event(&self, _: &Context<'_>, event: &service::api::OtherEvent<'_>) -> Result<(), BotError> {
        self.record(Call::Event(event.name.to_owned()));
        Ok(())
    }

    async fn on_conversation_event(&self, _: &Context<'_>, event: &ConversationEvent<'_>) -> Result<(), BotError> {
        self.record(Call::ConversationEvent(event.event.as_str().to_owned()));
        Ok(())
    }

    async fn on_card_action(&self, _: &Context<'_>, action: &CardAction<'_>) -> Result<InvokeResponse, BotError> {
        self.record(Call::CardAction {
            verb: action.verb.map(str::to_owned),
            is_invoke: action.is_invoke,
        });
        Ok(InvokeResponse::message(format!(
            "card action {}",
            action.verb.unwrap_or("(no verb)")
        )))
    }

    async fn on_dialog_open(&self, _: &Context<'_>, _: &DialogRequest<'_>) -> Result<DialogResponse, BotError> {
        self.record(Call::DialogOpen);
        Ok(DialogResponse::Message("dialog open".to_owned()))
    }

    async fn on_dialog_submit(&self, _: &Context<'_>, _: &DialogRequest<'_>) -> Result<DialogResponse, BotError> {
        self.record(Call::DialogSubmit);
        Ok(DialogResponse::Message("dialog submit".to_owned()))
    }

    async fn on_search(&self, _: &Context<'_>, query: &SearchQuery<'_>) -> Result<SearchResponse, BotError> {
        self.record(Call::Search(query.command_id.to_owned()));
        Ok(SearchResponse::Message(format!("search {}", query.command_id)))
    }

    async fn on_search_select(&self, _: &Context<'_>, _: &SearchSelection<'_>) -> Result<SearchResponse, BotError> {
        self.record(Call::SearchSelect);
        Ok(SearchResponse::Message("search select".to_owned()))
    }

    async fn on_file_consent(&self, _: &Context<'_>, consent: &service::api::FileConsent<'_>) -> Result<(), BotError> {
        self.record(Call::FileConsent(match consent {
            service::api::FileConsent::Uploaded { .. } => "uploaded".to_owned(),
            service::api::FileConsent::Failed { .. } => "failed".to_owned(),
            service::api::FileConsent::Declined { .. } => "declined".to_owned(),
            service::api::FileConsent::Unavailable { accepted, .. } => format!("unavailable (accepted: {accepted})"),
        }));
        Ok(())
    }

    async fn on_invoke(&self, _: &Context<'_>, invoke: &InvokeRequest<'_>) -> Result<InvokeResponse, BotError> {
        self.record(Call::Invoke(invoke.name.to_owned()));
        Ok(InvokeResponse::json(json!({"handled": invoke.name})))
    }
}

/// What Teams must get back.
#[derive(Clone, Debug, PartialEq)]
enum Answer {
    /// 200 with an empty body.
    Empty,
    /// 200 with this JSON body (`application/json`): the bot's invoke answer.
    Json(Value),
}

/// What the runtime must leave in the store besides the conversation reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    /// No team install claim (for the activity's team), no first-contact claim (for its sender), and the
    /// conversation recorded as active.
    None,
    /// The team install is claimed for this team id (and no first contact).
    TeamInstall(&'static str),
    /// The sender's first personal contact is claimed (and no team install).
    FirstContact,
    /// The conversation is marked inactive (the bot was removed, or the team deleted or archived).
    Inactive,
}

struct Case {
    file: &'static str,
    calls: Vec<Call>,
    answer: Answer,
    effect: Effect,
}

fn case(file: &'static str, calls: Vec<Call>, effect: Effect) -> Case {
    Case {
        file,
        calls,
        answer: Answer::Empty,
        effect,
    }
}

/// An invoke answered by the recording bot's `on_invoke`.
fn invoke(file: &'static str, name: &str) -> Case {
    typed(file, Call::Invoke(name.to_owned()), json!({"handled": name}))
}

/// An invoke answered by one of the recording bot's handlers (`call`) with `answer`.
fn typed(file: &'static str, call: Call, answer: Value) -> Case {
    Case {
        file,
        calls: vec![call],
        answer: Answer::Json(answer),
        effect: Effect::None,
    }
}

/// The recording bot's answer to a dialog invoke.
fn dialog_message(text: &str) -> Value {
    json!({"task": {"type": "message", "value": text}})
}

/// The recording bot's answer to a search invoke.
fn search_message(text: &str) -> Value {
    json!({"composeExtension": {"type": "message", "text": text}})
}

fn event(name: &str) -> Vec<Call> {
    vec![Call::ConversationEvent(name.to_owned())]
}

fn installed(action: InstallAction, scope: Scope) -> Vec<Call> {
    vec![Call::Installation(action, scope)]
}

fn message(text: &str) -> Vec<Call> {
    vec![Call::Message(text.to_owned())]
}

/// The corpus, file by file: the handler call each must reach, the answer and the effect.
fn corpus_cases() -> Vec<Case> {
    use Effect::{FirstContact, Inactive, None, TeamInstall};
    use InstallAction::{Added, Removed, Upgraded};
    const TEAM: &str = "19:efa9296d959346209fea44151c742e73@thread.skype";
    const SELECTED_TEAM: &str = "19:zFLSDFWsesfzcmKArqKJ-65aOXJz@sgf462H2wz41@thread.tacv2";
    const MEMBER: &str = "29:1_LCi5Up14pAy65yZuaJzG1uIT7ujYhjjSTsUNqjORsZHjLHKiQIBJa4cX2XsAsRoaY7va2w6ZymA9-1VtSY_g";
    const EDITED: &str = "1666977568748";
    vec![
        // conversationUpdate: the bot and users joining and leaving.
        case(
            "conversationUpdate.teamMemberAdded-bot.json",
            installed(Added, Scope::Team),
            TeamInstall(TEAM),
        ),
        case(
            "conversationUpdate.teamMemberAdded-bot-selectedChannel.json",
            installed(Added, Scope::Team),
            TeamInstall(SELECTED_TEAM),
        ),
        case(
            "conversationUpdate.teamMemberAdded-user.json",
            vec![Call::MembersAdded(vec![MEMBER.to_owned()])],
            None,
        ),
        case(
            "conversationUpdate.teamMemberRemoved-bot.json",
            installed(Removed, Scope::Team),
            Inactive,
        ),
        case(
            "conversationUpdate.teamMemberRemoved-user.json",
            vec![Call::MembersRemoved(vec![MEMBER.to_owned()])],
            None,
        ),
        case(
            "conversationUpdate.membersAdded-bot-personal.json",
            installed(Added, Scope::Personal),
            FirstContact,
        ),
        // conversationUpdate: every Teams eventType about channels and teams.
        case("conversationUpdate.channelCreated.json", event("channelCreated"), None),
        case("conversationUpdate.channelRenamed.json", event("channelRenamed"), None),
        // A deleted channel is not the General channel the event arrives in; the team's own events stop it (the
        // order of events and their effect on every conversation: team_events_in_the_corpus_change_state).
        case("conversationUpdate.channelDeleted.json", event("channelDeleted"), None),
        case(
            "conversationUpdate.channelRestored.json",
            event("channelRestored"),
            None,
        ),
        case("conversationUpdate.teamRenamed.json", event("teamRenamed"), None),
        case("conversationUpdate.teamDeleted.json", event("teamDeleted"), Inactive),
        case(
            "conversationUpdate.teamHardDeleted.json",
            event("teamHardDeleted"),
            Inactive,
        ),
        case("conversationUpdate.teamArchived.json", event("teamArchived"), Inactive),
        case("conversationUpdate.teamUnarchived.json", event("teamUnarchived"), None),
        case("conversationUpdate.teamRestored.json", event("teamRestored"), None),
        // installationUpdate in every scope, and app upgrades.
        case(
            "installationUpdate.add-team-selectedChannel.json",
            installed(Added, Scope::Team),
            TeamInstall(SELECTED_TEAM),
        ),
        case(
            "installationUpdate.add-personal.json",
            installed(Added, Scope::Personal),
            FirstContact,
        ),
        case(
            "installationUpdate.add-groupChat.json",
            installed(Added, Scope::GroupChat),
            None,
        ),
        case(
            "installationUpdate.remove-team.json",
            installed(Removed, Scope::Team),
            Inactive,
        ),
        case(
            "installationUpdate.remove-personal.json",
            installed(Removed, Scope::Personal),
            Inactive,
        ),
        case(
            "installationUpdate.add-upgrade-team.json",
            installed(Upgraded, Scope::Team),
            None,
        ),
        // `remove-upgrade`: an upgrade to a version without the bot, which removes it.
        case(
            "installationUpdate.remove-upgrade-personal.json",
            installed(Removed, Scope::Personal),
            Inactive,
        ),
        // Reactions, edits, undeletes and deletes.
        case(
            "messageReaction.reactionsAdded.json",
            vec![Call::Reactions {
                added: owned(&["like"]),
                removed: vec![],
            }],
            None,
        ),
        case(
            "messageReaction.reactionsRemoved.json",
            vec![Call::Reactions {
                added: vec![],
                removed: owned(&["like"]),
            }],
            None,
        ),
        // Microsoft's documented edit and undelete carry no `text`: the bot sees an empty new text.
        case(
            "messageUpdate.editMessage.json",
            vec![Call::Edit {
                message_id: EDITED.to_owned(),
                text: String::new(),
            }],
            None,
        ),
        case(
            "messageUpdate.undeleteMessage.json",
            vec![Call::Edit {
                message_id: EDITED.to_owned(),
                text: String::new(),
            }],
            None,
        ),
        case(
            "messageDelete.softDeleteMessage.json",
            vec![Call::Delete(EDITED.to_owned())],
            None,
        ),
        // Invokes: Teams gets the bot's answer.
        Case {
            file: "invoke.adaptiveCard-action.json",
            calls: vec![Call::CardAction {
                verb: Some("personalDetailsFormSubmit".to_owned()),
                is_invoke: true,
            }],
            answer: Answer::Json(json!({
                "statusCode": 200,
                "type": "application/vnd.microsoft.activity.message",
                "value": "card action personalDetailsFormSubmit",
            })),
            effect: None,
        },
        // Dialogs and message extension search: their typed handlers (issue 18).
        typed(
            "invoke.task-fetch.json",
            Call::DialogOpen,
            dialog_message("dialog open"),
        ),
        typed(
            "invoke.task-submit.json",
            Call::DialogSubmit,
            dialog_message("dialog submit"),
        ),
        typed(
            "invoke.composeExtension-query.json",
            Call::Search("searchCmd".to_owned()),
            search_message("search searchCmd"),
        ),
        typed(
            "invoke.composeExtension-selectItem.json",
            Call::SearchSelect,
            search_message("search select"),
        ),
        invoke(
            "invoke.composeExtension-fetchTask-groupChat.json",
            "composeExtension/fetchTask",
        ),
        // A file consent answer: the runtime's (its empty context names no offer of this bot's: nothing uploaded).
        typed(
            "invoke.fileConsent-accept.json",
            Call::FileConsent("unavailable (accepted: true)".to_owned()),
            json!({}),
        ),
        invoke("invoke.signin-verifyState.json", "signin/verifyState"),
        // Meeting events (issue 18): their typed handlers, the meeting id from `channelData.meeting.id`.
        case(
            "event.meetingStart.json",
            vec![Call::MeetingStarted {
                meeting: "meeting id".to_owned(),
                title: "Meeting Start/End Event".to_owned(),
            }],
            None,
        ),
        case(
            "event.meetingEnd.json",
            vec![Call::MeetingEnded {
                meeting: "meeting Id".to_owned(),
                end_time: "2021-04-29T16:17:17.4388966Z".to_owned(),
            }],
            None,
        ),
        case(
            "event.meetingParticipantJoin.json",
            vec![Call::ParticipantsJoined(vec![
                ("userId".to_owned(), "user".to_owned()),
                ("botId".to_owned(), "bot".to_owned()),
            ])],
            None,
        ),
        // Messages in the three scopes: the bot's mention stripped; a group message without it is not for the bot.
        case(
            "message.personal.json",
            message("Hello Teams TestBot.Sending bold-italic rich text"),
            FirstContact,
        ),
        case("message.channel-mention.json", message("Hello Teams TestBot"), None),
        case("message.groupChat-mention.json", message("Hello Teams TestBot"), None),
        case("message.groupChat-no-mention.json", vec![], None),
    ]
}

/// The runtime around a recording bot: Bot Framework tokens checked against a local OpenID server, an
/// in-memory store and a recording Connector, the default serviceUrl allowlist.
struct Harness {
    app: App,
    store: Arc<MemoryStore>,
    calls: Arc<Mutex<Vec<Call>>>,
}

/// The token side, shared by every harness of a test: one OpenID server and one key cache.
struct Tokens {
    openid: OpenIdServer,
    authenticator: Arc<Authenticator>,
}

impl Tokens {
    async fn start() -> Self {
        let openid = OpenIdServer::new();
        let addr = openid.serve().await.unwrap();
        let mut config = AuthConfig::new(APP_ID);
        config.openid_metadata_url = url::Url::parse(&OpenIdServer::metadata_url(addr)).unwrap();
        Self {
            openid,
            authenticator: Arc::new(Authenticator::new(&config).unwrap()),
        }
    }

    /// `Authorization` for an activity from `service_url`, as the Bot Framework signs it.
    fn authorization(&self, service_url: &str) -> String {
        let token = self
            .openid
            .sign(&BotClaims::new(APP_ID, service_url).to_json())
            .unwrap();
        format!("Bearer {token}")
    }

    fn harness(&self) -> Harness {
        let store = Arc::new(MemoryStore::new());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let app = App {
            identity: BotIdentity::from_app_id(APP_ID, "Echo Bot"),
            bot: Arc::new(Recorder(calls.clone())),
            connector: Arc::new(RecordingConnector::new()),
            store: store.clone(),
            inbound: Inbound::Verified(self.authenticator.clone()),
            service_urls: ServiceUrlAllowlist::default(),
            welcome_roster: false,
            known: std::sync::Arc::default(),
        };
        Harness { app, store, calls }
    }
}

/// A webhook answer: status, content type and body.
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Reply {
    /// The body as the answer it must be, or a message saying why not.
    fn check(&self, expected: &Answer) -> Result<(), String> {
        if self.status != 200 {
            return Err(format!(
                "status {} ({}), expected 200",
                self.status,
                String::from_utf8_lossy(&self.body)
            ));
        }
        match expected {
            Answer::Empty if self.body.is_empty() => Ok(()),
            Answer::Empty => Err(format!(
                "expected an empty body, got {}",
                String::from_utf8_lossy(&self.body)
            )),
            Answer::Json(json) => {
                let got: Value = serde_json::from_slice(&self.body).map_err(|e| {
                    format!(
                        "invoke answer is not JSON ({e}): {}",
                        String::from_utf8_lossy(&self.body)
                    )
                })?;
                if self.content_type != "application/json" {
                    return Err(format!("invoke answer served as {}", self.content_type));
                }
                if got == *json {
                    Ok(())
                } else {
                    Err(format!("invoke answer {got}, expected {json}"))
                }
            }
        }
    }
}

impl Harness {
    async fn post(&self, tokens: &Tokens, activity: &Value) -> Reply {
        let service_url = activity["serviceUrl"].as_str().unwrap_or_default();
        let authorization = tokens.authorization(service_url);
        let body = serde_json::to_vec(activity).unwrap();
        let (status, content_type, body) = service::handle(&self.app, Some(&authorization), &body)
            .await
            .into_parts();
        Reply {
            status,
            content_type,
            body,
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Delivers `activity` twice, the second time as Teams' exact redelivery; asserts the answers and that the
    /// handlers ran once, as `expected_calls` says.
    async fn deliver_twice(
        &self,
        tokens: &Tokens,
        file: &str,
        activity: &Value,
        expected_calls: &[Call],
        answer: &Answer,
    ) {
        let first = self.post(tokens, activity).await;
        if let Err(why) = first.check(answer) {
            panic!("{file}: {why}");
        }
        assert_eq!(self.calls(), expected_calls, "{file}: handler calls");
        let again = self.post(tokens, activity).await;
        assert_eq!(
            again.status,
            200,
            "{file}: redelivery answered {} ({})",
            again.status,
            String::from_utf8_lossy(&again.body)
        );
        assert_eq!(
            self.calls(),
            expected_calls,
            "{file}: the redelivery reached a handler again"
        );
    }

    /// Asserts what the store holds after `activity`, as `effect` says.
    async fn assert_effect(&self, file: &str, activity: &Value, effect: Effect) {
        let now = Timestamp::now();
        let conversation = ConversationId::from(activity["conversation"]["id"].as_str().unwrap());
        let team = activity["channelData"]["team"]["id"].as_str();
        let active = self.store.is_active(&conversation, now).await.unwrap();
        match effect {
            Effect::Inactive => assert_eq!(active, Some(false), "{file}: the conversation must be inactive"),
            Effect::None | Effect::TeamInstall(_) | Effect::FirstContact => {
                assert_eq!(active, Some(true), "{file}: the conversation must be recorded active");
            }
        }
        match (effect, team) {
            (Effect::TeamInstall(expected), _) => {
                let claim = self.store.team_install(expected, now).await.unwrap();
                let claim = claim.unwrap_or_else(|| panic!("{file}: no team install claim for {expected}"));
                assert_eq!(claim.tenant_id.as_str(), TENANT, "{file}: the claim's tenant");
                assert_eq!(
                    claim.service_url,
                    activity["serviceUrl"].as_str().unwrap(),
                    "{file}: the claim's serviceUrl"
                );
                // The welcome goes to the channel the installer selected, else to General (the team's id).
                let welcome_in = activity["channelData"]["settings"]["selectedChannel"]["id"]
                    .as_str()
                    .unwrap_or(expected);
                assert_eq!(
                    claim.conversation_id.as_str(),
                    welcome_in,
                    "{file}: the welcome's channel"
                );
            }
            (_, Some(team)) => {
                let claim = self.store.team_install(team, now).await.unwrap();
                assert!(claim.is_none(), "{file}: unexpected team install claim {claim:?}");
            }
            (_, None) => {}
        }
        // A first-contact claim is first-writer-wins: claiming it again loses exactly when the webhook claimed it.
        let sender: ChannelAccount = serde_json::from_value(activity["from"].clone()).unwrap();
        let probe = FirstContact {
            tenant_id: TenantId::from(TENANT),
            user: sender,
            conversation_id: conversation,
            service_url: SERVICE_URL.to_owned(),
            bot: ChannelAccount::new(BOT_ID, None),
            claimed_at: now,
        };
        let probed = self.store.claim_first_contact(&probe, now).await.unwrap();
        let expected = if effect == Effect::FirstContact {
            ClaimOutcome::Lost
        } else {
            ClaimOutcome::Won
        };
        assert_eq!(
            probed, expected,
            "{file}: first-contact claim (Lost = the webhook claimed it)"
        );
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus")
}

/// Every `*.json` file name in `dir`, sorted.
fn json_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    files
}

fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// The table and the folder name the same files: a new payload needs its expectation, a renamed one is noticed.
fn assert_table_covers(dir: &Path, cases: &[&str]) {
    let mut table: Vec<String> = cases.iter().map(|c| (*c).to_owned()).collect();
    table.sort();
    assert_eq!(
        json_files(dir),
        table,
        "{}: the files and the test's table differ",
        dir.display()
    );
}

#[tokio::test]
async fn corpus_payloads_reach_their_handler_once() {
    let tokens = Tokens::start().await;
    let cases = corpus_cases();
    let dir = corpus_dir();
    assert_table_covers(&dir, &cases.iter().map(|c| c.file).collect::<Vec<_>>());
    assert!(cases.len() >= 30, "the corpus must hold at least 30 payloads");
    for case in &cases {
        let activity = read_json(&dir.join(case.file));
        assert_eq!(
            activity["recipient"]["id"], BOT_ID,
            "{}: not addressed to the test bot",
            case.file
        );
        let harness = tokens.harness();
        harness
            .deliver_twice(&tokens, case.file, &activity, &case.calls, &case.answer)
            .await;
        harness.assert_effect(case.file, &activity, case.effect).await;
    }
}

/// The recorded payloads of `/work/shared/teams-payloads` (see its `SOURCES.md`), file by file.
fn shared_payload_cases() -> Vec<(&'static str, Vec<Call>, Answer)> {
    use InstallAction::Added;
    let invoke = |name: &str| {
        (
            vec![Call::Invoke(name.to_owned())],
            Answer::Json(json!({"handled": name})),
        )
    };
    let plain = |calls: Vec<Call>| (calls, Answer::Empty);
    let entries: Vec<(&'static str, (Vec<Call>, Answer))> = vec![
        (
            "conversationUpdate.channelCreated.bbmt.json",
            plain(event("channelCreated")),
        ),
        (
            "conversationUpdate.channelDeleted.bbmt.json",
            plain(event("channelDeleted")),
        ),
        (
            "conversationUpdate.channelRenamed.bbmt.json",
            plain(event("channelRenamed")),
        ),
        (
            "conversationUpdate.membersAdded-bot-personal.bbmt.json",
            plain(installed(Added, Scope::Personal)),
        ),
        (
            "conversationUpdate.teamMemberAdded-user.bbmt.json",
            plain(vec![Call::MembersAdded(owned(&["29:UniqueID"]))]),
        ),
        (
            "conversationUpdate.teamMemberRemoved-user.bbmt.json",
            plain(vec![Call::MembersRemoved(owned(&["29:UniqueID"]))]),
        ),
        ("conversationUpdate.teamRenamed.bbmt.json", plain(event("teamRenamed"))),
        // An Action.Execute without a verb (captured from Teams).
        (
            "invoke.adaptiveCard-action-personal.teamsnet.json",
            (
                vec![Call::CardAction {
                    verb: None,
                    is_invoke: true,
                }],
                Answer::Json(json!({
                    "statusCode": 200,
                    "type": "application/vnd.microsoft.activity.message",
                    "value": "card action (no verb)",
                })),
            ),
        ),
        (
            "invoke.composeExtension-query.bbmt.json",
            (
                vec![Call::Search("testQuery".to_owned())],
                Answer::Json(search_message("search testQuery")),
            ),
        ),
        (
            "invoke.fileConsent-accept.bbmt.json",
            (
                vec![Call::FileConsent("unavailable (accepted: true)".to_owned())],
                Answer::Json(json!({})),
            ),
        ),
        ("invoke.signin-verifyState.bbmt.json", invoke("signin/verifyState")),
        ("invoke.unnamed.bbmt.json", invoke("")),
        // The bot's mention entity without its `<at>` tag in the text: still a mention of the bot.
        (
            "message.channel-mention-entity-only.bbmt.json",
            plain(message("Test Message")),
        ),
        (
            "message.channel-mention-meeting.bbjs-teamsinfo.json",
            plain(message("hi")),
        ),
        (
            "message.channel-mention-thread-reply.teamsnet.json",
            plain(message("reply to thread")),
        ),
        // Addressed to TestBot2: only its own mention is stripped; the other bot's stays, and so do the no-break
        // spaces Teams wrote between them.
        (
            "message.channel-two-bot-mentions.bbmt.json",
            plain(message("<at>Test Bot 1</at> \u{a0}  \u{a0}TestMessage")),
        ),
        ("message.groupChat-mention.bbjs-teamsinfo.json", plain(message("test"))),
        // No conversationType and no isGroup: a 1:1 message.
        ("message.no-conversation-type.bbmt.json", plain(message("Test"))),
        (
            "message.personal-file-download-info-nulls.bbmt.json",
            plain(message("hi")),
        ),
        ("message.personal.bbjs-teamsinfo.json", plain(message("Hello World!"))),
        ("message.personal.bbmt.json", plain(message("hi"))),
        ("typing.personal.teamsnet-fixture.json", plain(vec![])),
    ];
    entries
        .into_iter()
        .map(|(file, (calls, answer))| (file, calls, answer))
        .collect()
}

/// Where the shared payloads are: `TEAMS_PAYLOADS_DIR`, else `shared/teams-payloads` beside the repository.
fn shared_payloads_dir() -> PathBuf {
    std::env::var_os("TEAMS_PAYLOADS_DIR").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/teams-payloads")),
        PathBuf::from,
    )
}

/// The payload as the test App can take it. Only `serviceUrl` is rewritten, and only when it is missing or not
/// on the default allowlist (the runtime refuses, with 403, an activity it could never answer); `recipient` is
/// left as recorded, since the runtime knows the bot by `recipient.id` (so the recorded mentions of the bot
/// still name it), and the token's `serviceurl` claim is made for the payload's serviceUrl.
fn for_the_test_app(mut activity: Value) -> Value {
    let allowed = activity["serviceUrl"]
        .as_str()
        .is_some_and(|url| ServiceUrlAllowlist::default().check(url).is_ok());
    if !allowed {
        activity["serviceUrl"] = json!(SERVICE_URL);
    }
    activity
}

#[tokio::test]
async fn shared_teams_payloads_reach_their_handler_once() {
    let dir = shared_payloads_dir();
    if !dir.is_dir() {
        println!(
            "skipped: no Teams payload folder at {} (set TEAMS_PAYLOADS_DIR to run this test)",
            dir.display()
        );
        return;
    }
    let tokens = Tokens::start().await;
    let cases = shared_payload_cases();
    assert_table_covers(&dir, &cases.iter().map(|(file, ..)| *file).collect::<Vec<_>>());
    for (file, calls, answer) in &cases {
        let activity = for_the_test_app(read_json(&dir.join(file)));
        let harness = tokens.harness();
        harness.deliver_twice(&tokens, file, &activity, calls, answer).await;
    }
}

/// docs/contract.md: "the body is empty unless the activity is an invoke". Teams redelivers an invoke whose
/// answer it did not get in time, and shows the user an error when the answer is not the JSON it waits for.
#[tokio::test]
async fn a_redelivered_invoke_is_answered_with_json() {
    let tokens = Tokens::start().await;
    for file in ["invoke.task-fetch.json", "invoke.adaptiveCard-action.json"] {
        let activity = read_json(&corpus_dir().join(file));
        let harness = tokens.harness();
        let first = harness.post(&tokens, &activity).await;
        assert_eq!(first.content_type, "application/json", "{file}: first delivery");
        let again = harness.post(&tokens, &activity).await;
        assert_eq!(again.status, 200, "{file}: redelivery status");
        assert_eq!(
            again.content_type, "application/json",
            "{file}: redelivery content type"
        );
        let body: Value = serde_json::from_slice(&again.body)
            .unwrap_or_else(|e| panic!("{file}: redelivery body is not JSON ({e}): {:?}", again.body));
        assert!(body.is_object(), "{file}: redelivery body {body}");
    }
}

/// The team and channel events of the corpus, delivered in turn to one bot that was installed in the team and
/// heard from the channel: each changes what the bot may send to (and a redelivery changes nothing more).
#[tokio::test]
async fn team_events_in_the_corpus_change_state() {
    const TEAM: &str = "19:efa9296d959346209fea44151c742e73@thread.skype";
    const CHANNEL: &str = "19:6d97d816470f481dbcda38244b98689a@thread.skype";
    let tokens = Tokens::start().await;
    let harness = tokens.harness();
    let dir = corpus_dir();
    let deliver = |file: &'static str| {
        let activity = read_json(&dir.join(file));
        let harness = &harness;
        let tokens = &tokens;
        async move {
            for _ in 0..2 {
                let reply = harness.post(tokens, &activity).await;
                assert_eq!(reply.status, 200, "{file}");
            }
        }
    };
    let active = |id: &'static str| {
        let store = harness.store.clone();
        async move {
            store
                .is_active(&ConversationId::from(id), Timestamp::now())
                .await
                .unwrap()
        }
    };
    deliver("conversationUpdate.teamMemberAdded-bot.json").await;
    // A message in the channel that will be deleted (the corpus's channel message, moved there).
    let mut message = read_json(&dir.join("message.channel-mention.json"));
    message["conversation"]["id"] = json!(format!("{CHANNEL};messageid=1700000000000"));
    message["channelData"]["team"]["id"] = json!(TEAM);
    message["channelData"]["channel"] = json!({"id": CHANNEL});
    assert_eq!(harness.post(&tokens, &message).await.status, 200);
    let thread = "19:6d97d816470f481dbcda38244b98689a@thread.skype;messageid=1700000000000";

    deliver("conversationUpdate.channelDeleted.json").await;
    assert_eq!(
        active(thread).await,
        Some(false),
        "channelDeleted stops the channel's reply chains"
    );
    assert_eq!(active(TEAM).await, Some(true), "and not the rest of the team");
    deliver("conversationUpdate.channelRestored.json").await;
    assert_eq!(active(thread).await, Some(true), "channelRestored");

    deliver("conversationUpdate.teamRenamed.json").await;
    let install = harness
        .store
        .team_install(TEAM, Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(install.team_name.as_deref(), Some("New Team Name"), "teamRenamed");

    for (gone, back) in [
        (
            "conversationUpdate.teamArchived.json",
            Some("conversationUpdate.teamUnarchived.json"),
        ),
        (
            "conversationUpdate.teamDeleted.json",
            Some("conversationUpdate.teamRestored.json"),
        ),
        ("conversationUpdate.teamHardDeleted.json", None),
    ] {
        deliver(gone).await;
        assert_eq!(
            (active(TEAM).await, active(thread).await),
            (Some(false), Some(false)),
            "{gone}"
        );
        if let Some(back) = back {
            deliver(back).await;
            assert_eq!(
                (active(TEAM).await, active(thread).await),
                (Some(true), Some(true)),
                "{back}"
            );
        }
    }
}
