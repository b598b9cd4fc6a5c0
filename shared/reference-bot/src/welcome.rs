//! The reference bot's welcome texts.

use teams_bot::models::Activity;

/// The welcome posted in a team's General channel when the bot is installed.
#[must_use]
pub fn team_welcome(team_name: Option<&str>, bot_name: &str) -> Activity {
    let team = team_name
        .filter(|n| !n.trim().is_empty())
        .map_or_else(String::new, |n| format!(" {n}"));
    Activity::message(format!(
        "Welcome, team{team}! I am {bot_name}, just added to this team. @mention me with help to see what I can do."
    ))
}

/// The welcome of a user's first personal chat.
#[must_use]
pub fn personal_welcome(user_name: Option<&str>, bot_name: &str) -> Activity {
    let name = user_name
        .filter(|n| !n.trim().is_empty())
        .map_or_else(String::new, |n| format!(", {n}"));
    Activity::message(format!(
        "Welcome{name}! I am {bot_name}. Send help to see what I can do."
    ))
}

/// The 1:1 welcome to each member of a team the bot was added to (when `WELCOME_ROSTER=true`).
#[must_use]
pub fn roster_welcome(user_name: Option<&str>, team_name: Option<&str>, bot_name: &str) -> Activity {
    let name = user_name
        .filter(|n| !n.trim().is_empty())
        .map_or_else(String::new, |n| format!(", {n}"));
    let team = team_name.filter(|n| !n.trim().is_empty()).unwrap_or("your team");
    Activity::message(format!(
        "Welcome{name}! I am {bot_name}, just added to {team}. Send help here to see what I can do."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welcome_texts_start_with_welcome() {
        let team = team_welcome(Some("Contoso"), "Echo Bot");
        assert_eq!(
            team.text(),
            Some(
                "Welcome, team Contoso! I am Echo Bot, just added to this team. @mention me with help to see what I can do."
            )
        );
        assert!(
            team_welcome(None, "Echo Bot")
                .text()
                .unwrap()
                .starts_with("Welcome, team! ")
        );
        assert_eq!(
            personal_welcome(Some("Alice"), "Echo Bot").text(),
            Some("Welcome, Alice! I am Echo Bot. Send help to see what I can do.")
        );
        assert!(
            personal_welcome(Some(" "), "Echo Bot")
                .text()
                .unwrap()
                .starts_with("Welcome! ")
        );
        assert_eq!(
            roster_welcome(Some("Bob"), Some("Contoso"), "Echo Bot").text(),
            Some("Welcome, Bob! I am Echo Bot, just added to Contoso. Send help here to see what I can do.")
        );
        assert!(
            roster_welcome(None, None, "Echo Bot")
                .text()
                .unwrap()
                .contains("your team")
        );
    }
}
