//! Reading what a user wrote: the character count and the command.

use teams_bot::models::char_count;

/// The echo: `You sent <text> which was <n> characters`.
#[must_use]
pub fn echo_text(text: &str) -> String {
    format!("You sent {text} which was {} characters", char_count(text))
}

/// The command in a stripped text: lowercased, runs of whitespace collapsed to one space.
#[must_use]
pub fn command_of(stripped: &str) -> String {
    stripped.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_unicode_scalar_values() {
        assert_eq!(echo_text("héllo"), "You sent héllo which was 5 characters");
        assert_eq!(echo_text("👍🏽"), "You sent 👍🏽 which was 2 characters");
        assert_eq!(echo_text("🇫🇷"), "You sent 🇫🇷 which was 2 characters");
        assert_eq!(echo_text("𝄞 a"), "You sent 𝄞 a which was 3 characters");
        assert_eq!(echo_text("hi 😀"), "You sent hi 😀 which was 4 characters");
    }

    #[test]
    fn command_is_lowercased_and_whitespace_collapsed() {
        assert_eq!(command_of("DM   Me"), "dm me");
        assert_eq!(command_of("New\u{a0}Thread"), "new thread");
    }
}
