//! Parse and serialize cost of a real inbound Teams message.

fn main() {
    let raw = include_bytes!("../../shared/models/tests/fixtures/message_personal.json");
    bench::measure("models: parse inbound message", 30, 2_000, || {
        models::Activity::from_slice(raw)
    });
    let activity = models::Activity::from_slice(raw).unwrap_or_default();
    bench::measure("models: serialize inbound message", 30, 2_000, || {
        serde_json::to_vec(&activity)
    });
}
