//! The devserver's stand-in for the DynamoDB stream: the embedded store's change events, handled in-process by
//! the same welcome code the `welcome` Lambda runs.

use crate::app::App;
use store::{ChangeEvent, StreamItem};
use tokio::sync::mpsc::UnboundedReceiver;

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
            let result = match &item {
                StreamItem::TeamInstall(install) => crate::welcome::team(&app, install).await.map(|_| ()),
                StreamItem::FirstContact(contact) => crate::welcome::first_contact(&app, contact).await.map(|_| ()),
                _ => Ok(()),
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "welcome failed");
            }
        });
    }
}
