//! The store's one error type.

/// A boxed cause, kept as the error's source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong reading or writing state.
///
/// The webhook answers 503 (so the channel retries) for every error where [`StoreError::is_retryable`] is true.
/// A failed write never leaves a multi-item change half-written: changes that touch several items are one
/// transaction in both adapters.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or did not answer (connection refused, timeout, 5xx).
    #[error("state store unavailable")]
    Unavailable(#[source] BoxError),
    /// The store refused the request for load (throttling, provisioned throughput exceeded).
    #[error("state store throttled the request")]
    Throttled(#[source] BoxError),
    /// A concurrent writer kept changing the same item (or a transaction conflicted); retrying later may work.
    #[error("concurrent change to `{key}`")]
    Conflict {
        /// The item's key (`pk|sk`).
        key: String,
    },
    /// A stored item could not be decoded.
    #[error("stored item `{key}` is corrupt")]
    Corrupt {
        /// The item's key (`pk|sk`).
        key: String,
        #[source]
        source: BoxError,
    },
    /// The caller passed something the store cannot key (an empty id, too many items for one transaction).
    #[error("invalid store request: {0}")]
    Invalid(&'static str),
    /// The store answered with an error retrying will not fix (missing table, validation, local I/O).
    #[error("state store request failed")]
    Backend(#[source] BoxError),
}

impl StoreError {
    /// Whether the caller should answer "try again later" (HTTP 503) rather than fail for good.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Throttled(_) | Self::Conflict { .. })
    }

    pub(crate) fn corrupt(key: String, source: impl Into<BoxError>) -> Self {
        Self::Corrupt {
            key,
            source: source.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_errors_are_the_transient_ones() {
        let io = || Box::new(std::io::Error::other("x")) as BoxError;
        assert!(StoreError::Unavailable(io()).is_retryable());
        assert!(StoreError::Throttled(io()).is_retryable());
        assert!(StoreError::Conflict { key: "k".into() }.is_retryable());
        assert!(!StoreError::Backend(io()).is_retryable());
        assert!(!StoreError::Invalid("x").is_retryable());
        assert!(!StoreError::corrupt("k".into(), io()).is_retryable());
    }

    #[test]
    fn source_is_kept() {
        use std::error::Error as _;
        let err = StoreError::Unavailable(Box::new(std::io::Error::other("refused")));
        assert_eq!(err.source().map(ToString::to_string).as_deref(), Some("refused"));
    }
}
