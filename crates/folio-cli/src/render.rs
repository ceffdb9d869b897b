//! Keys and values as text: UTF-8 where valid (and printable), hexadecimal otherwise.

use crate::failure::{CliResult, Failure};

/// `bytes` as UTF-8 when valid and free of control characters (unless `hex`), else as
/// `0x` followed by hexadecimal.
pub fn show(bytes: &[u8], hex: bool) -> String {
    if !hex
        && let Ok(text) = std::str::from_utf8(bytes)
        && !text.chars().any(char::is_control)
        && !text.starts_with("0x")
    {
        return text.to_owned();
    }
    let mut out = String::with_capacity(2 + bytes.len() * 2);
    out.push_str("0x");
    out.push_str(&to_hex(bytes));
    out
}

/// Lower-case hexadecimal.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

/// Decodes hexadecimal (an optional `0x` prefix allowed).
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A KEY or VALUE argument: its UTF-8 bytes, or decoded hexadecimal with `hex`.
pub fn argument(text: &str, hex: bool, what: &str) -> CliResult<Vec<u8>> {
    if hex {
        from_hex(text).ok_or_else(|| {
            Failure::error(format!(
                "{what} {text:?} is not hexadecimal (with --hex, write bytes as hex digit pairs)"
            ))
        })
    } else {
        Ok(text.as_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_stays_text_and_binary_becomes_hex() {
        assert_eq!(show(b"alice", false), "alice");
        assert_eq!(show(b"alice", true), "0x616c696365");
        assert_eq!(show(&[0, 255], false), "0x00ff");
        assert_eq!(
            show(b"0x12", false),
            "0x30783132",
            "ambiguous text is shown as hex"
        );
        assert_eq!(from_hex("0x00ff"), Some(vec![0, 255]));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
    }
}
