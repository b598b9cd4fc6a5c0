//! What the operations tests share: an app with the reference bot over the in-memory store and a recording
//! Connector, a user's 1:1 message, and a transient Connector failure.
#![allow(dead_code)]

use connector::{ConnectorError, RecordingConnector};
use serde_json::{Value, json};
use service::api::BotIdentity;
use service::{App, Inbound};
use std::sync::Arc;
use store::MemoryStore;

pub const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const BOT: &str = "28:bot-app-id";
pub const MEGAN: &str = "a:megan";

pub fn harness() -> (App, Arc<RecordingConnector>) {
    let connector = Arc::new(RecordingConnector::new());
    let app = App {
        identity: BotIdentity::new(BOT, "Test Bot"),
        bot: Arc::new(reference_bot::ReferenceBot),
        connector: connector.clone(),
        store: Arc::new(MemoryStore::new()),
        service_urls: connector::ServiceUrlAllowlist::default(),
        inbound: Inbound::Anonymous,
        welcome_roster: false,
        known: Arc::default(),
    };
    (app, connector)
}

pub fn message(id: &str, text: &str) -> Value {
    json!({
        "type": "message", "id": id, "channelId": "msteams", "serviceUrl": SERVICE_URL, "text": text,
        "from": {"id": "29:megan", "name": "Megan"}, "recipient": {"id": BOT, "name": "Test Bot"},
        "conversation": {"id": MEGAN, "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}}
    })
}

pub async fn deliver(app: &App, activity: &Value) -> u16 {
    service::handle(app, None, &serde_json::to_vec(activity).unwrap())
        .await
        .status
}

pub fn transient() -> ConnectorError {
    ConnectorError::Transient {
        status: Some(502),
        source: None,
    }
}
