//! Paths in serialized reports (`verify`, `repair`, `stats` as JSON): as text, any bytes of
//! a name that are not UTF-8 shown as U+FFFD. JSON holds text only, and serde's own
//! `Serialize` for a path refuses such a name: a repair's report then failed after the
//! repair was done, and the rows it dropped went unreported.

use std::path::{Path, PathBuf};

use serde::Serializer;

/// A path as text (for `#[serde(serialize_with = "…")]`).
pub(crate) fn serialize<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

/// An optional path as text, or null.
pub(crate) fn serialize_option<S: Serializer>(
    p: &Option<PathBuf>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => serialize(p, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    /// A name that is not UTF-8 serializes, its bad bytes replaced; serde's own refuses it.
    #[cfg(unix)]
    #[test]
    fn a_path_that_is_not_utf8_serializes_as_text() {
        use std::os::unix::ffi::OsStrExt;
        #[derive(serde::Serialize)]
        struct Report {
            #[serde(serialize_with = "super::serialize")]
            file: std::path::PathBuf,
        }
        let file = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(b"db\xff/x"));
        assert!(serde_json::to_string(&file).is_err());
        let text = serde_json::to_string(&Report { file }).unwrap();
        assert_eq!(text, "{\"file\":\"db\u{fffd}/x\"}");
    }
}
