//! The item-level backend every adapter implements ([`Table`]); the ports are written once on top of it, so the
//! adapters share their semantics by construction and the contract suite checks the primitives.

use crate::error::StoreError;
use crate::model::Timestamp;
use async_trait::async_trait;
use serde_json::{Map, Value};

/// Attribute names the table reserves; item data never uses them.
pub const RESERVED: [&str; 6] = ["pk", "sk", "kind", "gsi1pk", "gsi1sk", "expiresAt"];

/// One item of the single table: keys, kind, optional GSI keys and TTL, and its data as top-level attributes.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    /// (`gsi1pk`, `gsi1sk`) when the item is in the due-time index.
    pub gsi1: Option<(String, String)>,
    /// `expiresAt`: epoch seconds after which the item counts as absent (TTL deletes it lazily).
    pub expires_at: Option<i64>,
    /// Every other attribute.
    pub data: Map<String, Value>,
}

impl Item {
    /// Whether the item is still alive at `now` (no TTL, or TTL in the future).
    #[must_use]
    pub fn alive(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|at| at > now.0)
    }

    /// `pk|sk`, for error messages.
    #[must_use]
    pub fn key_string(&self) -> String {
        format!("{}|{}", self.pk, self.sk)
    }

    /// All attributes as one JSON object (the shape of a stream NewImage).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut map = self.data.clone();
        map.insert("pk".into(), Value::String(self.pk.clone()));
        map.insert("sk".into(), Value::String(self.sk.clone()));
        map.insert("kind".into(), Value::String(self.kind.clone()));
        if let Some((pk, sk)) = &self.gsi1 {
            map.insert("gsi1pk".into(), Value::String(pk.clone()));
            map.insert("gsi1sk".into(), Value::String(sk.clone()));
        }
        if let Some(at) = self.expires_at {
            map.insert("expiresAt".into(), Value::from(at));
        }
        Value::Object(map)
    }

    /// The inverse of [`Item::to_json`].
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when a key attribute is missing or mistyped.
    pub fn from_json(value: Value) -> Result<Self, StoreError> {
        let Value::Object(mut map) = value else {
            return Err(StoreError::corrupt("?".into(), "item is not an object"));
        };
        let mut take_str = |name: &str| match map.remove(name) {
            Some(Value::String(s)) => Ok(Some(s)),
            None => Ok(None),
            Some(_) => Err(name.to_owned()),
        };
        let bad = |name: String| StoreError::corrupt("?".into(), format!("attribute `{name}` is not a string"));
        let pk = take_str("pk").map_err(bad)?;
        let sk = take_str("sk").map_err(bad)?;
        let kind = take_str("kind").map_err(bad)?;
        let gsi1pk = take_str("gsi1pk").map_err(bad)?;
        let gsi1sk = take_str("gsi1sk").map_err(bad)?;
        let (Some(pk), Some(sk)) = (pk, sk) else {
            return Err(StoreError::corrupt("?".into(), "item has no pk/sk"));
        };
        let key = format!("{pk}|{sk}");
        let kind = kind.ok_or_else(|| StoreError::corrupt(key.clone(), "item has no kind"))?;
        let expires_at = match map.remove("expiresAt") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(
                n.as_i64()
                    .ok_or_else(|| StoreError::corrupt(key.clone(), "expiresAt is not an integer"))?,
            ),
            Some(_) => return Err(StoreError::corrupt(key, "expiresAt is not a number")),
        };
        Ok(Self {
            pk,
            sk,
            kind,
            gsi1: gsi1pk.zip(gsi1sk),
            expires_at,
            data: map,
        })
    }
}

/// The condition a write requires of the item currently stored under its key.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    /// No condition.
    Always,
    /// No item, or an expired one (first writer wins).
    Absent,
    /// A live item.
    Present,
    /// A live item whose listed top-level attributes equal these values (optimistic concurrency, hot-path check).
    Equals(Vec<(String, Value)>),
    /// A live item at this revision (its numeric `rev` attribute; an item without one is at revision 0).
    Revision(u64),
}

impl Cond {
    /// Evaluates the condition against what is stored (for adapters that evaluate locally).
    #[must_use]
    pub fn holds(&self, stored: Option<&Item>, now: Timestamp) -> bool {
        let live = stored.filter(|item| item.alive(now));
        match self {
            Self::Always => true,
            Self::Absent => live.is_none(),
            Self::Present => live.is_some(),
            Self::Equals(pairs) => {
                live.is_some_and(|item| pairs.iter().all(|(name, value)| item.data.get(name) == Some(value)))
            }
            Self::Revision(rev) => {
                live.is_some_and(|item| item.data.get("rev").and_then(Value::as_u64).unwrap_or(0) == *rev)
            }
        }
    }
}

/// One write of an atomic batch.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// Replace the whole item.
    Put { item: Item, cond: Cond },
    /// Remove the item (no-op when absent and the condition allows it).
    Delete { pk: String, sk: String, cond: Cond },
    /// Write nothing; only require the condition.
    Check { pk: String, sk: String, cond: Cond },
}

impl Write {
    /// The (pk, sk) the write targets.
    #[must_use]
    pub fn key(&self) -> (&str, &str) {
        match self {
            Self::Put { item, .. } => (&item.pk, &item.sk),
            Self::Delete { pk, sk, .. } | Self::Check { pk, sk, .. } => (pk, sk),
        }
    }

    /// The write's condition.
    #[must_use]
    pub fn cond(&self) -> &Cond {
        match self {
            Self::Put { cond, .. } | Self::Delete { cond, .. } | Self::Check { cond, .. } => cond,
        }
    }
}

/// The most writes one atomic batch may hold (DynamoDB's TransactWriteItems limit).
pub const MAX_BATCH: usize = 100;

/// The result of an atomic batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Every condition held; every write was applied.
    Applied,
    /// These writes' conditions failed (indexes into the batch); nothing was applied.
    ConditionFailed(Vec<usize>),
}

/// The item-level backend: consistent single-item reads, key-prefix and due-index queries, and atomic
/// conditional batches. Reads never return expired items.
#[async_trait]
pub trait Table: Send + Sync + std::fmt::Debug {
    /// The live item under (pk, sk), read consistently.
    async fn get(&self, pk: &str, sk: &str, now: Timestamp) -> Result<Option<Item>, StoreError>;

    /// Live items under `pk` whose sk starts with `sk_prefix`, in sk order, at most `limit`.
    async fn query_prefix(
        &self,
        pk: &str,
        sk_prefix: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError>;

    /// Live items with `gsi1pk = gsi1pk AND gsi1sk <= upper`, in gsi1sk order, at most `limit` (eventually
    /// consistent in DynamoDB).
    async fn query_gsi1(
        &self,
        gsi1pk: &str,
        upper: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError>;

    /// Applies every write or none (1..=[`MAX_BATCH`] writes, at most one per key).
    async fn write(&self, writes: Vec<Write>, now: Timestamp) -> Result<WriteOutcome, StoreError>;
}

/// Checks a batch's shape before an adapter runs it.
pub(crate) fn validate_batch(writes: &[Write]) -> Result<(), StoreError> {
    if writes.is_empty() || writes.len() > MAX_BATCH {
        return Err(StoreError::Invalid("a batch holds 1 to 100 writes"));
    }
    let mut keys: Vec<(&str, &str)> = writes.iter().map(Write::key).collect();
    if keys.iter().any(|(pk, sk)| pk.is_empty() || sk.is_empty()) {
        return Err(StoreError::Invalid("empty key"));
    }
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(StoreError::Invalid("two writes to one item in a batch"));
    }
    for write in writes {
        if let Write::Put { item, .. } = write
            && RESERVED.iter().any(|name| item.data.contains_key(*name))
        {
            return Err(StoreError::Invalid("item data uses a reserved attribute name"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(expires_at: Option<i64>) -> Item {
        Item {
            pk: "p".into(),
            sk: "s".into(),
            kind: "k".into(),
            gsi1: Some(("g".into(), "h".into())),
            expires_at,
            data: json!({"a": 1, "b": "x"}).as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn json_round_trip() {
        let it = item(Some(5));
        assert_eq!(Item::from_json(it.to_json()).ok(), Some(it));
    }

    #[test]
    fn conditions_treat_expired_as_absent() {
        let now = Timestamp(10);
        let expired = item(Some(10));
        let live = item(Some(11));
        assert!(Cond::Absent.holds(None, now));
        assert!(Cond::Absent.holds(Some(&expired), now));
        assert!(!Cond::Absent.holds(Some(&live), now));
        assert!(!Cond::Present.holds(Some(&expired), now));
        assert!(Cond::Equals(vec![("a".into(), json!(1))]).holds(Some(&live), now));
        assert!(!Cond::Equals(vec![("a".into(), json!(2))]).holds(Some(&live), now));
        assert!(!Cond::Equals(vec![("a".into(), json!(1))]).holds(Some(&expired), now));
        assert!(
            Cond::Revision(0).holds(Some(&live), now),
            "no rev attribute is revision 0"
        );
        let mut at_3 = live.clone();
        at_3.data.insert("rev".into(), json!(3));
        assert!(Cond::Revision(3).holds(Some(&at_3), now));
        assert!(!Cond::Revision(0).holds(Some(&at_3), now));
    }

    #[test]
    fn batches_reject_duplicates_and_reserved_names() {
        let mut bad = item(None);
        bad.data.insert("kind".into(), json!("x"));
        let put = |i: Item| Write::Put {
            item: i,
            cond: Cond::Always,
        };
        assert!(validate_batch(&[put(item(None)), put(item(None))]).is_err());
        assert!(validate_batch(&[put(bad)]).is_err());
        assert!(validate_batch(&[]).is_err());
        assert!(validate_batch(&[put(item(None))]).is_ok());
    }
}
