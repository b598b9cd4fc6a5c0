#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Files (issue 18), end to end through the real webhook ([`service::handle`]), the real Connector client
//! ([`HttpConnector`]: token, allowlist) and the fake Teams service with its file endpoints
//! ([`fake_teams::files::FakeFiles`]), which record every request's `Authorization` header:
//!
//! - a OneDrive/SharePoint file (`file.download.info`) is read from its pre-authenticated URL without any token,
//!   also through a redirect;
//! - an inline picture on the conversation's own Connector host is read with the bot's token (401 without);
//! - a picture URL on another host never gets the token (and the host's 401 is the bot's typed error);
//! - a file over the cap is refused with `TooLarge`;
//! - a file offered in a 1:1 chat: consent card sent; accept -> the bytes PUT to the upload URL (no token,
//!   `Content-Range: bytes 0-(n-1)/n`), a file info card sent, the invoke answered 200, the bot told; a second
//!   accept of the same card uploads nothing; a failed upload (an expired session) keeps the offer and a second
//!   accept delivers it; decline -> 200, nothing uploaded; over the size limit the offer is refused;
//! - the reference bot: what it received, as plain text; `file` offered and uploaded on accept.
//!
//! `cargo test -p service --test files`

use async_trait::async_trait;
use connector::{ConnectorConfig, FileError, HttpConnector, ServiceUrlAllowlist};
use fake_teams::files::FakeFiles;
use fake_teams::{DEFAULT_TENANT, FakeTeams};
use models::files::{FILE_CONSENT_CARD, FILE_DOWNLOAD_INFO, FILE_INFO_CARD};
use serde_json::{Value, json};
use service::api::files::MAX_OFFERED_FILE_BYTES;
use service::api::{Bot, BotError, BotIdentity, Context, FileConsent, IncomingMessage};
use service::{App, Inbound};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use store::MemoryStore;

const USER: &str = "29:1fay-files";
const BOT_NAME: &str = "Filer";
const NOTE: &[u8] = b"Hello from the bot\n";

/// What the test bot saw.
#[derive(Debug, Default)]
struct Seen {
    /// Per downloaded file: its bytes, or the error.
    downloads: Vec<Result<Vec<u8>, String>>,
    /// Too-large refusals, as the typed error.
    too_large: usize,
    offers: Vec<Result<String, String>>,
    consents: Vec<String>,
}

#[derive(Debug)]
struct FileBot {
    seen: Arc<Mutex<Seen>>,
    cap: u64,
}

#[async_trait]
impl Bot for FileBot {
    async fn on_message(&self, ctx: &Context<'_>, message: &IncomingMessage<'_>) -> Result<(), BotError> {
        if let Some(size) = message.text.strip_prefix("offer ") {
            let bytes = if size == "note" {
                NOTE.to_vec()
            } else {
                vec![b'x'; size.parse().unwrap()]
            };
            let sent = ctx.offer_file("note.txt", "A note for you", bytes).await;
            self.seen
                .lock()
                .unwrap()
                .offers
                .push(sent.map(|id| id.to_string()).map_err(|e| e.to_string()));
            return Ok(());
        }
        for file in message.files() {
            let got = ctx.download_at_most(&file, self.cap).await;
            let mut seen = self.seen.lock().unwrap();
            if matches!(got, Err(BotError::File(FileError::TooLarge { .. }))) {
                seen.too_large += 1;
            }
            seen.downloads.push(got.map(|b| b.to_vec()).map_err(|e| e.to_string()));
        }
        Ok(())
    }

    async fn on_file_consent(&self, _ctx: &Context<'_>, consent: &FileConsent<'_>) -> Result<(), BotError> {
        let what = match consent {
            FileConsent::Uploaded { upload, .. } => format!("uploaded {}", upload.name),
            FileConsent::Failed { upload, error, .. } => format!("failed {}: {error}", upload.name),
            FileConsent::Declined { .. } => "declined".to_owned(),
            FileConsent::Unavailable { accepted, .. } => format!("unavailable (accepted: {accepted})"),
        };
        self.seen.lock().unwrap().consents.push(what);
        Ok(())
    }
}

struct World {
    fake: FakeTeams,
    files: FakeFiles,
    app: App,
    personal: String,
    seen: Arc<Mutex<Seen>>,
}

async fn world(cap: u64) -> World {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let bot = FileBot {
        seen: seen.clone(),
        cap,
    };
    world_of(Arc::new(bot), seen).await
}

async fn world_of(bot: Arc<dyn Bot>, seen: Arc<Mutex<Seen>>) -> World {
    let files = FakeFiles::new();
    let fake = FakeTeams::builder()
        .user(DEFAULT_TENANT, FakeTeams::member(USER, "Fay Files", "aad-fay"))
        .with_router(files.router())
        .start()
        .await
        .unwrap();
    files.link(&fake);
    let personal = fake.personal_conversation(DEFAULT_TENANT, USER).unwrap();
    let vars = fake.env();
    let config = ConnectorConfig::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        .expect("the fake's configuration");
    let app = App {
        identity: BotIdentity::new(format!("28:{}", fake.app_id()), BOT_NAME),
        bot,
        connector: Arc::new(HttpConnector::new(&config).unwrap()),
        store: Arc::new(MemoryStore::new()),
        inbound: Inbound::Anonymous,
        service_urls: ServiceUrlAllowlist::new(&[fake.service_url()]).unwrap(),
        welcome_roster: false,
        known: Arc::default(),
    };
    World {
        fake,
        files,
        app,
        personal,
        seen,
    }
}

fn next_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("1764600000{:03}", NEXT.fetch_add(1, Ordering::Relaxed))
}

impl World {
    fn envelope(&self, conversation: &str, conversation_type: &str) -> Value {
        json!({
            "id": next_id(),
            "timestamp": "2026-11-30T11:00:00.000Z",
            "channelId": "msteams",
            "serviceUrl": self.fake.service_url(),
            "from": {"id": USER, "name": "Fay Files", "aadObjectId": "aad-fay"},
            "recipient": {"id": self.app.identity.id, "name": BOT_NAME},
            "conversation": {"id": conversation, "conversationType": conversation_type, "tenantId": DEFAULT_TENANT},
            "channelData": {"tenant": {"id": DEFAULT_TENANT}},
        })
    }

    /// A 1:1 message with `text` and `attachments`; answers the webhook's status.
    async fn send(&self, text: &str, attachments: Value) -> u16 {
        let mut activity = self.envelope(&self.personal, "personal");
        activity["type"] = json!("message");
        activity["text"] = json!(text);
        activity["attachments"] = attachments;
        service::handle(&self.app, None, &serde_json::to_vec(&activity).unwrap())
            .await
            .status
    }

    /// A `fileConsent/invoke` with `value`; answers the status and the JSON body.
    async fn consent(&self, value: Value) -> (u16, Value) {
        let mut activity = self.envelope(&self.personal, "personal");
        activity["type"] = json!("invoke");
        activity["name"] = json!("fileConsent/invoke");
        activity["value"] = value;
        let (status, _, body) = service::handle(&self.app, None, &serde_json::to_vec(&activity).unwrap())
            .await
            .into_parts();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// The attachments of the bot's messages in the 1:1 chat, of `content_type`.
    fn sent_cards(&self, content_type: &str) -> Vec<Value> {
        self.fake
            .activities(&self.personal)
            .into_iter()
            .flat_map(|a| a.activity["attachments"].as_array().cloned().unwrap_or_default())
            .filter(|a| a["contentType"] == content_type)
            .collect()
    }

    fn downloads(&self) -> Vec<Result<Vec<u8>, String>> {
        self.seen.lock().unwrap().downloads.clone()
    }
}

fn download_info(url: &str, name: &str) -> Value {
    json!([{"contentType": FILE_DOWNLOAD_INFO, "contentUrl": "https://contoso.sharepoint.com/personal/fay/Documents/report.txt",
            "name": name, "content": {"downloadUrl": url, "uniqueId": "u-1", "fileType": "txt"}}])
}

#[tokio::test]
async fn a_shared_file_is_read_from_its_download_url_without_a_token() {
    let w = world(service::api::files::MAX_DOWNLOAD_BYTES).await;
    w.files.put_download("report", b"quarterly numbers".to_vec());
    let direct = format!("{}/files/download/report", w.fake.base_url());
    let redirected = format!("{}/files/redirect/report", w.fake.base_url());
    assert_eq!(w.send("", download_info(&direct, "report.txt")).await, 200);
    assert_eq!(w.send("", download_info(&redirected, "report.txt")).await, 200);
    assert_eq!(
        w.downloads(),
        vec![Ok(b"quarterly numbers".to_vec()), Ok(b"quarterly numbers".to_vec())]
    );
    let requests = w.files.requests();
    assert_eq!(requests.len(), 3, "{requests:#?}");
    assert!(
        requests.iter().all(|r| r.authorization.is_none()),
        "a pre-authenticated URL never gets a token: {requests:#?}"
    );
}

#[tokio::test]
async fn an_inline_picture_on_the_connector_host_is_read_with_the_bots_token() {
    let w = world(service::api::files::MAX_DOWNLOAD_BYTES).await;
    w.files.put_attachment("0-img-1", b"\x89PNG fake".to_vec());
    let url = format!("{}v3/attachments/0-img-1/views/original", w.fake.service_url());
    let status = w
        .send("look", json!([{"contentType": "image/png", "contentUrl": url}, {"contentType": "text/html", "content": "<p>look</p>"}]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(w.downloads(), vec![Ok(b"\x89PNG fake".to_vec())]);
    let requests = w.files.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].status, 200, "the fake checked the token it issued");
    assert!(
        requests[0]
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Bearer "))
    );
}

#[tokio::test]
async fn a_picture_url_on_another_host_never_gets_the_token() {
    let w = world(service::api::files::MAX_DOWNLOAD_BYTES).await;
    let elsewhere = FakeFiles::new();
    elsewhere.put_attachment("0-img-2", b"stolen?".to_vec());
    let addr = elsewhere.start_alone().await.unwrap();
    // Same path shape as the Connector's, but another host (port): not the conversation's serviceUrl.
    let url = format!("http://{addr}/amer/v3/attachments/0-img-2/views/original");
    assert_eq!(
        w.send("", json!([{"contentType": "image/jpeg", "contentUrl": url}]))
            .await,
        200
    );
    let requests = elsewhere.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(
        requests[0].authorization, None,
        "the bot's token went to a foreign host"
    );
    assert_eq!(requests[0].status, 401);
    let downloads = w.downloads();
    assert_eq!(downloads.len(), 1);
    assert!(downloads[0].as_ref().unwrap_err().contains("401"), "{downloads:?}");
    assert!(w.files.requests().is_empty());
}

#[tokio::test]
async fn a_file_over_the_cap_is_refused_as_too_large() {
    let w = world(1024).await;
    w.files.put_download("big", vec![7; 4096]);
    w.files.put_download("small", vec![7; 1024]);
    let big = format!("{}/files/download/big", w.fake.base_url());
    let small = format!("{}/files/download/small", w.fake.base_url());
    assert_eq!(w.send("", download_info(&big, "big.bin")).await, 200);
    assert_eq!(w.send("", download_info(&small, "small.bin")).await, 200);
    let downloads = w.downloads();
    assert!(downloads[0].is_err(), "{downloads:?}");
    assert_eq!(downloads[1].as_ref().unwrap().len(), 1024, "exactly the cap is fine");
    assert_eq!(w.seen.lock().unwrap().too_large, 1);
}

#[tokio::test]
async fn an_accepted_file_is_uploaded_and_shown_as_a_file_card() {
    let w = world(service::api::files::MAX_DOWNLOAD_BYTES).await;
    assert_eq!(w.send("offer note", json!(null)).await, 200);
    let cards = w.sent_cards(FILE_CONSENT_CARD);
    assert_eq!(cards.len(), 1, "{cards:#?}");
    let card = &cards[0];
    assert_eq!(card["name"], "note.txt");
    assert_eq!(card["content"]["description"], "A note for you");
    assert_eq!(card["content"]["sizeInBytes"], NOTE.len());
    let context = card["content"]["acceptContext"].clone();
    assert!(context["offerId"].is_string(), "{card}");

    let upload_url = format!("{}/files/upload/session-1", w.fake.base_url());
    let accept = json!({
        "type": "fileUpload", "action": "accept", "context": context,
        "uploadInfo": {"name": "note.txt", "uploadUrl": upload_url,
                       "contentUrl": "https://contoso-my.sharepoint.com/personal/fay/Documents/Applications/note.txt",
                       "uniqueId": "1150D938-8870-4044-9F2C-5BBDEBA70C8C", "fileType": "txt"}
    });
    let (status, body) = w.consent(accept.clone()).await;
    assert_eq!(status, 200, "{body}");

    let uploads = w.files.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].bytes, NOTE);
    let put = w.files.requests().into_iter().find(|r| r.method == "PUT").unwrap();
    assert_eq!(
        put.content_range.as_deref(),
        Some(format!("bytes 0-{}/{}", NOTE.len() - 1, NOTE.len()).as_str())
    );
    assert_eq!(put.authorization, None, "an upload URL never gets the bot's token");

    let info = w.sent_cards(FILE_INFO_CARD);
    assert_eq!(info.len(), 1, "{info:#?}");
    assert_eq!(
        info[0]["contentUrl"],
        "https://contoso-my.sharepoint.com/personal/fay/Documents/Applications/note.txt"
    );
    assert_eq!(info[0]["name"], "note.txt");
    assert_eq!(info[0]["content"]["uniqueId"], "1150D938-8870-4044-9F2C-5BBDEBA70C8C");
    assert_eq!(info[0]["content"]["fileType"], "txt");

    // The same card accepted again (a second click, a stale card): nothing more is uploaded.
    let (again, _) = w.consent(accept).await;
    assert_eq!(again, 200);
    assert_eq!(w.files.uploads().len(), 1);
    assert_eq!(w.sent_cards(FILE_INFO_CARD).len(), 1);
    assert_eq!(
        w.seen.lock().unwrap().consents,
        vec![
            "uploaded note.txt".to_owned(),
            "unavailable (accepted: true)".to_owned()
        ]
    );
}

#[tokio::test]
async fn a_declined_file_is_not_uploaded() {
    let w = world(service::api::files::MAX_DOWNLOAD_BYTES).await;
    assert_eq!(w.send("offer note", json!(null)).await, 200);
    let card = w.sent_cards(FILE_CONSENT_CARD).remove(0);
    let (status, _) = w
        .consent(json!({"type": "fileUpload", "action": "decline", "context": card["content"]["declineContext"]}))
        .await;
    assert_eq!(status, 200);
    assert!(w.files.requests().is_empty(), "{:#?}", w.files.requests());
    assert!(w.sent_cards(FILE_INFO_CARD).is_empty());
    assert_eq!(w.seen.lock().unwrap().consents, vec!["declined".to_owned()]);
}

#[tokio::test]
async fn an_offer_over_the_size_limit_is_refused_before_anything_is_sent() {
    let w = world(service::api::files::MAX_DOWNLOAD_BYTES).await;
    assert_eq!(
        w.send(&format!("offer {}", MAX_OFFERED_FILE_BYTES + 1), json!(null))
            .await,
        200
    );
    assert_eq!(
        w.send(&format!("offer {MAX_OFFERED_FILE_BYTES}"), json!(null)).await,
        200
    );
    let offers = std::mem::take(&mut w.seen.lock().unwrap().offers);
    assert!(
        offers[0].as_ref().is_err_and(|e| e.contains("larger than")),
        "{offers:?}"
    );
    assert!(offers[1].is_ok(), "{offers:?}");
    assert_eq!(w.sent_cards(FILE_CONSENT_CARD).len(), 1);
}

#[tokio::test]
async fn a_malformed_consent_answer_reaches_no_upload() {
    let w = world(service::api::files::MAX_DOWNLOAD_BYTES).await;
    // A forged context naming no offer of ours, with an upload URL: nothing is PUT anywhere.
    let (status, _) = w
        .consent(json!({"action": "accept", "context": {"offerId": "../../other"},
                        "uploadInfo": {"name": "x", "uploadUrl": format!("{}/files/upload/s", w.fake.base_url()), "contentUrl": "https://c/x"}}))
        .await;
    assert_eq!(status, 200);
    let (status, body) = w.consent(json!("not an object")).await;
    assert_eq!(status, 200);
    assert_eq!(body["statusCode"], 400, "{body}");
    assert!(w.files.requests().is_empty());
}

/// The texts of the bot's messages in the 1:1 chat, with their `textFormat`.
fn texts(w: &World) -> Vec<(String, String)> {
    w.fake
        .activities(&w.personal)
        .into_iter()
        .filter_map(|a| {
            let text = a.activity["text"].as_str()?.to_owned();
            Some((text, a.activity["textFormat"].as_str().unwrap_or_default().to_owned()))
        })
        .collect()
}

#[tokio::test]
async fn the_reference_bot_says_what_it_received_and_offers_its_file() {
    let w = world_of(Arc::new(reference_bot::ReferenceBot), Arc::default()).await;
    w.files.put_download("report", b"quarterly numbers".to_vec());
    w.files.put_attachment("0-img-3", vec![1; 300]);
    let url = format!("{}/files/download/report", w.fake.base_url());
    assert_eq!(w.send("", download_info(&url, "*report*.txt")).await, 200);
    let picture = format!("{}v3/attachments/0-img-3/views/original", w.fake.service_url());
    assert_eq!(
        w.send("", json!([{"contentType": "image/png", "contentUrl": picture}]))
            .await,
        200
    );
    assert_eq!(
        texts(&w),
        vec![
            ("You sent a file *report*.txt (17 bytes)".to_owned(), "plain".to_owned()),
            ("You sent a picture (300 bytes)".to_owned(), "plain".to_owned()),
        ]
    );

    assert_eq!(w.send("file", json!(null)).await, 200);
    let card = w.sent_cards(FILE_CONSENT_CARD).remove(0);
    assert_eq!(card["name"], reference_bot::files::OFFERED_NAME);
    let upload_url = format!("{}/files/upload/session-ref", w.fake.base_url());
    let (status, _) = w
        .consent(json!({"type": "fileUpload", "action": "accept", "context": card["content"]["acceptContext"],
                        "uploadInfo": {"name": "hello.txt", "uploadUrl": upload_url,
                                       "contentUrl": "https://contoso-my.sharepoint.com/personal/fay/Documents/Applications/hello.txt",
                                       "uniqueId": "u-ref", "fileType": "txt"}}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        w.files.uploads()[0].bytes,
        reference_bot::files::OFFERED_TEXT.as_bytes()
    );
    assert_eq!(w.sent_cards(FILE_INFO_CARD).len(), 1);
}

#[tokio::test]
async fn a_failed_upload_keeps_the_offer_for_another_accept() {
    let w = world(service::api::files::MAX_DOWNLOAD_BYTES).await;
    assert_eq!(w.send("offer note", json!(null)).await, 200);
    let card = w.sent_cards(FILE_CONSENT_CARD).remove(0);
    let accept = |upload_url: String| {
        json!({"type": "fileUpload", "action": "accept", "context": card["content"]["acceptContext"],
               "uploadInfo": {"name": "note.txt", "uploadUrl": upload_url, "contentUrl": "https://c/note.txt",
                              "uniqueId": "u", "fileType": "txt"}})
    };
    // An expired upload session: OneDrive answers 404.
    let (status, _) = w
        .consent(accept(format!("{}/expired/session", w.fake.base_url())))
        .await;
    assert_eq!(status, 200);
    assert!(w.files.uploads().is_empty());
    assert!(w.sent_cards(FILE_INFO_CARD).is_empty());
    let (status, _) = w
        .consent(accept(format!("{}/files/upload/s2", w.fake.base_url())))
        .await;
    assert_eq!(status, 200);
    assert_eq!(w.files.uploads().len(), 1);
    assert_eq!(w.sent_cards(FILE_INFO_CARD).len(), 1);
    assert_eq!(
        w.seen.lock().unwrap().consents,
        vec![
            "failed note.txt: file host answered 404".to_owned(),
            "uploaded note.txt".to_owned()
        ]
    );
}

#[tokio::test]
async fn a_file_is_offered_in_personal_chats_only() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let kit = service::api::testkit::TestKit::new(FileBot {
        seen: seen.clone(),
        cap: 1,
    });
    assert_eq!(kit.group_message("offer note", true).await, 200);
    assert_eq!(kit.channel_message("offer note").await, 200);
    let offers = std::mem::take(&mut seen.lock().unwrap().offers);
    assert_eq!(offers.len(), 2);
    assert!(
        offers
            .iter()
            .all(|o| o.as_ref().is_err_and(|e| e.contains("personal chat"))),
        "{offers:?}"
    );
    assert!(kit.sent().is_empty(), "nothing is sent outside a personal chat");
}
