//! [`ByteRange`]: the byte range of a ranged GET and which bytes of an object it selects.

use std::ops::Range;

use super::ModelError;

/// A byte range of a GET, as HTTP's `Range` header names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-last` (inclusive) or `bytes=first-` (to the end).
    Int {
        /// First byte.
        first: u64,
        /// Last byte, inclusive; `None`: the end of the object.
        last: Option<u64>,
    },
    /// `bytes=-length`: the last `length` bytes.
    Suffix {
        /// How many bytes from the end.
        length: u64,
    },
}

impl ByteRange {
    /// The half-open range of an object of `len` bytes this selects, by RFC 9110's rules:
    /// a range starting at or past the end, or an empty suffix, is not satisfiable.
    pub fn resolve(self, len: u64) -> Result<Range<u64>, ModelError> {
        match self {
            Self::Int { first, .. } if first >= len => Err(ModelError::InvalidRange),
            Self::Int { first, last: None } => Ok(first..len),
            Self::Int {
                first,
                last: Some(last),
            } => {
                let last = last.min(len - 1);
                if first > last {
                    return Err(ModelError::InvalidRange);
                }
                Ok(first..last + 1)
            }
            Self::Suffix { length: 0 } => Err(ModelError::InvalidRange),
            Self::Suffix { length } => Ok(len - length.min(len)..len),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        let int = |first, last| ByteRange::Int { first, last };
        assert_eq!(int(0, None).resolve(3), Ok(0..3));
        assert_eq!(int(1, Some(9)).resolve(3), Ok(1..3));
        assert_eq!(int(3, None).resolve(3), Err(ModelError::InvalidRange));
        assert_eq!(int(0, None).resolve(0), Err(ModelError::InvalidRange));
        assert_eq!(ByteRange::Suffix { length: 2 }.resolve(3), Ok(1..3));
        assert_eq!(ByteRange::Suffix { length: 9 }.resolve(3), Ok(0..3));
        assert_eq!(
            ByteRange::Suffix { length: 0 }.resolve(3),
            Err(ModelError::InvalidRange)
        );
    }
}
