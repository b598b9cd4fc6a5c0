//! Parse and serialize cost of real inbound Teams payloads, and the helpers run on every message.

fn main() {
    let raw = include_bytes!("../../shared/models/tests/fixtures/message_personal.json");
    bench::measure("models: parse inbound message", 30, 2_000, || {
        models::Activity::from_slice(raw)
    });
    let activity = models::Activity::from_slice(raw).unwrap_or_default();
    bench::measure("models: serialize inbound message", 30, 2_000, || {
        serde_json::to_vec(&activity)
    });

    let channel = include_bytes!("../../shared/models/tests/fixtures/message_channel_mentions.json");
    bench::measure("models: parse channel message with mentions", 30, 2_000, || {
        models::Activity::from_slice(channel)
    });
    let channel = models::Activity::from_slice(channel).unwrap_or_default();
    bench::measure("models: strip the bot's mentions", 30, 20_000, || {
        channel.text_without_recipient_mentions()
    });
    bench::measure("models: reply addressed from inbound", 30, 20_000, || {
        channel.reply("pong")
    });
    let reply = channel.reply("x".repeat(4_000));
    bench::measure("models: text budget of a 4k-char reply", 30, 2_000, || {
        models::fits_message_budget(&reply)
    });

    let update = include_bytes!("../../shared/models/tests/fixtures/conversation_update_team_member_added_bot.json");
    bench::measure("models: parse conversationUpdate (bot added)", 30, 2_000, || {
        models::Activity::from_slice(update)
    });
}
