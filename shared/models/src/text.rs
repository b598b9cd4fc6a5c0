//! Text sizes: UTF-16 lengths and the outbound message budget.
//!
//! Teams refuses a bot message over about 100 KB (`413 MessageSizeTooBig`), measured as the whole payload
//! encoded as UTF-16, not counting base64-encoded images; Microsoft recommends staying under 80 KB. We measure
//! the serialized activity the same way: 2 bytes per UTF-16 code unit, with the base64 data of `data:` URLs left
//! out.

use crate::activity::Activity;
use serde_json::Value;

/// Teams' limit on one bot message, in bytes of UTF-16 (100 KiB).
pub const TEAMS_MESSAGE_LIMIT_BYTES: usize = 100 * 1024;
/// The budget we keep outbound messages within, in bytes of UTF-16 (80 KiB), as Microsoft recommends.
pub const MESSAGE_BUDGET_BYTES: usize = 80 * 1024;

/// The length of `text` in UTF-16 code units (what Teams and JavaScript call its length).
#[must_use]
pub fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// The number of characters of `text` as users count them in our replies: Unicode scalar values.
#[must_use]
pub fn char_count(text: &str) -> usize {
    text.chars().count()
}

/// The longest prefix of `text` that is at most `max_units` UTF-16 code units, cut on a character boundary.
#[must_use]
pub fn truncate_utf16(text: &str, max_units: usize) -> &str {
    let mut units = 0;
    for (index, c) in text.char_indices() {
        units += c.len_utf16();
        if units > max_units {
            return &text[..index];
        }
    }
    text
}

/// An activity is over its size budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("message is {bytes} bytes as UTF-16, over the budget of {limit} bytes")]
pub struct OverBudget {
    /// The activity's measured size (UTF-16 bytes).
    pub bytes: usize,
    /// The budget it exceeds.
    pub limit: usize,
}

/// A size budget for outbound activities, in bytes of UTF-16.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextBudget {
    /// The most bytes (UTF-16) an activity may measure.
    pub limit_bytes: usize,
}

impl Default for TextBudget {
    fn default() -> Self {
        Self::TEAMS
    }
}

impl TextBudget {
    /// Our budget for Teams messages: [`MESSAGE_BUDGET_BYTES`].
    pub const TEAMS: Self = Self {
        limit_bytes: MESSAGE_BUDGET_BYTES,
    };

    /// The size of `activity` as Teams counts it: its JSON encoded as UTF-16 (2 bytes per code unit), leaving
    /// out the base64 data of `data:...;base64,` strings (inline images).
    #[must_use]
    pub fn measure(activity: &Activity) -> usize {
        let Ok(mut value) = serde_json::to_value(activity) else {
            return usize::MAX;
        };
        drop_base64_data(&mut value);
        let json = value.to_string();
        utf16_len(&json).saturating_mul(2)
    }

    /// An upper bound of [`TextBudget::measure`]: the serialized activity as UTF-16, base64 data included,
    /// counted as it is written (no intermediate JSON tree or string).
    fn measure_at_most(activity: &Activity) -> usize {
        let mut counter = Utf16Counter(0);
        match serde_json::to_writer(&mut counter, activity) {
            Ok(()) => counter.0.saturating_mul(2),
            Err(_) => usize::MAX,
        }
    }

    /// Whether `activity` fits this budget. Most messages are far under it: their upper bound decides without
    /// the exact measure.
    #[must_use]
    pub fn fits(&self, activity: &Activity) -> bool {
        Self::measure_at_most(activity) <= self.limit_bytes || self.check(activity).is_ok()
    }

    /// The activity's size, if it fits.
    ///
    /// # Errors
    /// [`OverBudget`] when it measures more than `limit_bytes`.
    pub fn check(&self, activity: &Activity) -> Result<usize, OverBudget> {
        let bytes = Self::measure(activity);
        if bytes > self.limit_bytes {
            return Err(OverBudget {
                bytes,
                limit: self.limit_bytes,
            });
        }
        Ok(bytes)
    }
}

/// Whether `activity` fits our Teams budget ([`TextBudget::TEAMS`]).
#[must_use]
pub fn fits_message_budget(activity: &Activity) -> bool {
    TextBudget::TEAMS.fits(activity)
}

/// Counts the UTF-16 code units of the UTF-8 written to it: one per character (every byte that is not a
/// continuation byte starts one), two for characters outside the BMP (4-byte sequences). Correct across writes
/// that split a character.
struct Utf16Counter(usize);

impl std::io::Write for Utf16Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf
            .iter()
            .map(|&b| usize::from(b & 0xC0 != 0x80) + usize::from(b >= 0xF0))
            .sum::<usize>();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Replaces every `data:<type>;base64,<data>` string by its prefix (the data is not counted by Teams).
fn drop_base64_data(value: &mut Value) {
    match value {
        Value::String(s) => {
            if s.starts_with("data:")
                && let Some(comma) = s.find(',')
                && s[..comma].ends_with(";base64")
            {
                s.truncate(comma + 1);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_base64_data),
        Value::Object(map) => map.values_mut().for_each(drop_base64_data),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Attachment;

    #[test]
    fn utf16_counts_surrogate_pairs() {
        assert_eq!(utf16_len(""), 0);
        assert_eq!(utf16_len("abc"), 3);
        assert_eq!(utf16_len("é"), 1);
        assert_eq!(utf16_len("😀"), 2);
        assert_eq!(char_count("😀é"), 2);
        assert_eq!(char_count("e\u{301}"), 2);
    }

    #[test]
    fn truncate_on_char_boundary() {
        assert_eq!(truncate_utf16("a😀b", 1), "a");
        assert_eq!(truncate_utf16("a😀b", 2), "a");
        assert_eq!(truncate_utf16("a😀b", 3), "a😀");
        assert_eq!(truncate_utf16("a😀b", 10), "a😀b");
        assert_eq!(truncate_utf16("", 0), "");
    }

    #[test]
    fn budget_measures_json_as_utf16() {
        let activity = Activity::message("hi");
        let json = serde_json::to_string(&activity).unwrap();
        assert_eq!(TextBudget::measure(&activity), json.len() * 2);
        assert!(fits_message_budget(&activity));
    }

    #[test]
    fn budget_boundary() {
        let overhead = TextBudget::measure(&Activity::message(""));
        let room = (MESSAGE_BUDGET_BYTES - overhead) / 2;
        let at_limit = Activity::message("x".repeat(room));
        assert_eq!(TextBudget::TEAMS.check(&at_limit), Ok(MESSAGE_BUDGET_BYTES));
        let over = Activity::message("x".repeat(room + 1));
        let err = TextBudget::TEAMS.check(&over).unwrap_err();
        assert_eq!(err.limit, MESSAGE_BUDGET_BYTES);
        assert!(err.bytes > MESSAGE_BUDGET_BYTES);
        // Emoji take two units each: half as many fit.
        assert!(!fits_message_budget(&Activity::message("😀".repeat(room / 2 + 1))));
        assert!(fits_message_budget(&Activity::message("😀".repeat(room / 2))));
    }

    #[test]
    fn upper_bound_is_exact_without_base64_and_above_with_it() {
        for text in ["", "hi", "é😀\u{301}\"quoted\"\n", &"😀x".repeat(1000)] {
            let activity = Activity::message(text);
            assert_eq!(
                TextBudget::measure_at_most(&activity),
                TextBudget::measure(&activity),
                "{text:?}"
            );
        }
        let mut counter = Utf16Counter(0);
        std::io::Write::write_all(&mut counter, &"a😀é".as_bytes()[..3]).unwrap();
        std::io::Write::write_all(&mut counter, &"a😀é".as_bytes()[3..]).unwrap();
        assert_eq!(counter.0, utf16_len("a😀é"));
        let mut activity = Activity::message("pic");
        activity.message_mut().unwrap().attachments =
            Some(vec![Attachment::inline_image(&[7u8; 300], "image/png", None)]);
        assert!(TextBudget::measure_at_most(&activity) > TextBudget::measure(&activity));
    }

    #[test]
    fn inline_image_data_is_not_counted() {
        let mut activity = Activity::message("pic");
        let big = vec![0u8; 200_000];
        activity.message_mut().unwrap().attachments = Some(vec![Attachment::inline_image(&big, "image/png", None)]);
        assert!(fits_message_budget(&activity));
        let mut by_url = Activity::message("pic");
        by_url.message_mut().unwrap().attachments =
            Some(vec![Attachment::image_url("x".repeat(50_000), "image/png", None)]);
        assert!(!fits_message_budget(&by_url));
    }
}
