//! The devserver's stand-in for the DynamoDB stream: the embedded store's change events, handled in-process by
//! the same welcome code the `welcome` Lambda runs.

use crate::app::App;
use std::time::Duration;
use store::{ChangeEvent, StreamItem};
use tokio::sync::mpsc::UnboundedReceiver;

/// Retries of a failed record (the template's event source mapping retries 5 times).
const RETRIES: u32 = 5;

/// Handles change events until the store is dropped.
pub async fn run_change_feed(app: App, mut changes: UnboundedReceiver<ChangeEvent>) {
    while let Some(event) = changes.recv().await {
        let item = match event.stream_item() {
            Ok(Some(item)) => item,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "undecodable change event");
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            // As the stream's event source mapping would: retry a failed record a few times with backoff
            // (a 429 burst delays a welcome rather than losing it), then give up with a log line.
            let mut delay = Duration::from_secs(1);
            for attempt in 1..=RETRIES + 1 {
                let result = match &item {
                    StreamItem::TeamInstall(install) => crate::welcome::team(&app, install).await.map(|_| ()),
                    StreamItem::FirstContact(contact) => crate::welcome::first_contact(&app, contact).await.map(|_| ()),
                    // Outbox items are the proactive function's (notify); locally they are sent by /api/notify.
                    StreamItem::Outbox(_) => Ok(()),
                };
                match result {
                    Ok(()) => return,
                    Err(e) if attempt > RETRIES => tracing::error!(error = %e, "welcome failed; giving up"),
                    Err(e) => {
                        tracing::warn!(error = %e, attempt, "welcome failed; retrying");
                        tokio::time::sleep(delay).await;
                        delay = delay.saturating_mul(2);
                    }
                }
            }
        });
    }
}
