#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The recorded Teams payloads with files (`/work/shared/teams-payloads`, or `TEAMS_PAYLOADS_DIR`; read in place,
//! skipped when the folder is absent) parse into the typed file views.

use models::files::{AttachedFile, FILE_CONSENT_INVOKE, FileConsentResponse};
use models::{Activity, ActivityKind};
use std::path::PathBuf;

fn payload(name: &str) -> Option<Activity> {
    let dir = std::env::var_os("TEAMS_PAYLOADS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/teams-payloads")));
    let Ok(bytes) = std::fs::read(dir.join(name)) else {
        eprintln!("skipped: {} not found", dir.join(name).display());
        return None;
    };
    Some(Activity::from_slice(&bytes).expect("a recorded payload parses"))
}

#[test]
fn a_recorded_personal_file_message_reads_as_a_download() {
    let Some(activity) = payload("message.personal-file-download-info-nulls.bbmt.json") else {
        return;
    };
    let ActivityKind::Message(message) = &activity.kind else {
        panic!("not a message");
    };
    let attachments = message.attachments.as_deref().unwrap_or_default();
    let files = AttachedFile::all(attachments);
    assert_eq!(files.len(), 1);
    match &files[0] {
        AttachedFile::Download { name, info } => {
            assert_eq!(*name, None, "the recording has name: null");
            assert_eq!(info.download_url, "https://bing.com");
            assert_eq!(info.unique_id.as_deref(), Some("b83b9f77-7003-4d63-985c-9611c98303f3"));
            assert_eq!(info.file_type.as_deref(), Some("txt"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_recorded_file_consent_accept_reads_its_upload_info() {
    let Some(activity) = payload("invoke.fileConsent-accept.bbmt.json") else {
        return;
    };
    let ActivityKind::Invoke(invoke) = &activity.kind else {
        panic!("not an invoke");
    };
    assert_eq!(invoke.name.as_deref(), Some(FILE_CONSENT_INVOKE));
    let value: FileConsentResponse = serde_json::from_value(invoke.value.clone().unwrap()).unwrap();
    assert!(value.is_accepted());
    let upload = value.upload_info.unwrap();
    assert_eq!(upload.name, "file_example.txt");
    assert_eq!(upload.upload_url, "https://upload.link");
    assert!(upload.content_url.ends_with("/file_example.txt"));
    assert_eq!(
        upload.unique_id.as_deref(),
        Some("1150D938-8870-4044-9F2C-5BBDEBA70C8C")
    );
    assert_eq!(value.extra["type"], "fileUpload");
}
