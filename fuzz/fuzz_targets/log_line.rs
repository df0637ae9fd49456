//! Fuzzes `tabula::testing::fuzz::log_line`: any bytes return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tabula::testing::fuzz::log_line(data));
