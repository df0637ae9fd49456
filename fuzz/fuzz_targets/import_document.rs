//! Fuzzes `tabula::testing::fuzz::import_document`: any export document is imported or
//! refused with an error, never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory"));
    let _ = tabula::testing::fuzz::import_document(dir.path(), data);
});
