//! Reading a whole text input (SQL on standard input, a `.read` file, rows for `insert`):
//! neither SQL nor JSON text holds a NUL byte, so the first one ends the read with an
//! error. That is also what stops a device that never ends (`/dev/zero`) from filling
//! memory.

use std::io::Read;

use anyhow::{bail, Context};

/// How much is read at a time.
const CHUNK: usize = 64 * 1024;

/// The UTF-8 text of `input` (`what` names it in errors), refused at its first NUL byte.
pub fn read_text(mut input: impl Read, what: &str) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {what}")),
        };
        if let Some(at) = chunk[..n].iter().position(|&b| b == 0) {
            bail!(
                "{what} holds a NUL byte (at byte {}): it is not text, and nothing of it was used",
                bytes.len() + at
            );
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{what} is not UTF-8 text (at byte {}): nothing of it was used",
            e.utf8_error().valid_up_to()
        )
    })
}

/// [`read_text`] of the file at `path`.
pub fn read_file(path: &std::path::Path) -> anyhow::Result<String> {
    let what = path.display().to_string();
    let file = std::fs::File::open(path).with_context(|| format!("reading {what}"))?;
    read_text(file, &what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_reads_whole_and_a_nul_or_bad_utf8_is_refused_with_its_place() {
        let long = "SELECT 1;\n".repeat(20_000);
        assert_eq!(read_text(long.as_bytes(), "stdin").unwrap(), long);
        let mut with_nul = long.clone().into_bytes();
        with_nul[100_000] = 0;
        let e = read_text(&with_nul[..], "stdin").unwrap_err().to_string();
        assert_eq!(
            e,
            "stdin holds a NUL byte (at byte 100000): it is not text, and nothing of it was used"
        );
        let e = read_text(&b"ok \xff"[..], "x.sql").unwrap_err().to_string();
        assert_eq!(
            e,
            "x.sql is not UTF-8 text (at byte 3): nothing of it was used"
        );
        // A source that never ends stops at its first zero.
        let e = read_text(std::io::repeat(0), "/dev/zero")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/dev/zero holds a NUL byte (at byte 0)"),
            "{e}"
        );
    }
}
