//! The `members` answer.

use teams_bot::models::connector::PagedMembersResult;

/// How many names the `members` answer lists before saying "and N more" (keeps the message far under the
/// Connector's size limit).
pub const MAX_NAMES_LISTED: usize = 50;

/// The `members` answer from the roster pages read: how many members and pages, then the names (the first
/// [`MAX_NAMES_LISTED`], a member without a name shown by id).
#[must_use]
pub fn roster_text(pages: &[PagedMembersResult]) -> String {
    let members: Vec<_> = pages.iter().flat_map(|p| &p.members).collect();
    let pages_word = if pages.len() == 1 { "page" } else { "pages" };
    let count = members.len();
    if count == 0 {
        return format!("I found no members ({} {pages_word} read).", pages.len());
    }
    let members_word = if count == 1 { "member" } else { "members" };
    let names: Vec<&str> = members
        .iter()
        .take(MAX_NAMES_LISTED)
        .map(|m| {
            m.name
                .as_deref()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or(m.id.as_str())
        })
        .collect();
    let mut text = format!(
        "I found {count} {members_word} ({} {pages_word} read): {}",
        pages.len(),
        names.join(", ")
    );
    if count > MAX_NAMES_LISTED {
        text.push_str(&format!(" and {} more", count - MAX_NAMES_LISTED));
    }
    text.push('.');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use teams_bot::models::TeamsChannelAccount;

    fn page(names: &[&str], token: Option<&str>) -> PagedMembersResult {
        PagedMembersResult {
            continuation_token: token.map(str::to_owned),
            members: names
                .iter()
                .map(|n| TeamsChannelAccount {
                    id: format!("29:{n}"),
                    name: (!n.is_empty()).then(|| (*n).to_owned()),
                    ..TeamsChannelAccount::default()
                })
                .collect(),
            ..PagedMembersResult::default()
        }
    }

    #[test]
    fn lists_members_across_pages() {
        let text = roster_text(&[page(&["Alice", "Bob"], Some("t")), page(&["Carol", ""], None)]);
        assert_eq!(text, "I found 4 members (2 pages read): Alice, Bob, Carol, 29:.");
    }

    #[test]
    fn one_member_and_no_members() {
        assert_eq!(
            roster_text(&[page(&["Alice"], None)]),
            "I found 1 member (1 page read): Alice."
        );
        assert_eq!(roster_text(&[page(&[], None)]), "I found no members (1 page read).");
    }

    #[test]
    fn caps_the_names_listed() {
        let names: Vec<String> = (0..120).map(|i| format!("U{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let text = roster_text(&[page(&refs[..100], Some("t")), page(&refs[100..], None)]);
        assert!(text.starts_with("I found 120 members (2 pages read): U0, U1,"));
        assert!(text.ends_with("U49 and 70 more."));
        assert!(!text.contains("U50,"));
    }
}
