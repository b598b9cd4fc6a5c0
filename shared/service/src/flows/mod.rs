//! What the runtime does with it: route an activity to the bot's handlers, claim installs and first contacts,
//! send welcomes exactly once, run due jobs, carry out notify operations, and feed the store's changes to the
//! welcome flow locally.

pub mod address;
pub mod background;
pub mod batch;
pub mod batch_notify;
pub mod deferred;
pub(crate) mod dispatch;
pub(crate) mod events;
pub mod lifecycle;
pub(crate) mod mentions;
pub mod personal;
pub mod proactive;
pub mod triggers;
pub mod welcome;
