//! Value compression: each value of a tree with [`Compression`] set is stored as a frame,
//! compressed on its own, and flagged in its leaf entry (so reads need no setting: a flagged
//! value is a frame, any other is the value itself).
//!
//! ```text
//! frame (inline in the leaf, or in an overflow chain when still long)
//!   0  codec    u8    1 = LZ4 block (lz4_flex), 2 = zstd frame
//!   1  raw_len  u32   bytes of the value once decompressed
//!   5  data
//! ```
//! A value is stored as a frame only when the frame is smaller than the value. `raw_len` is
//! checked against what `data` could possibly expand to before anything is allocated, and
//! the decoder must produce exactly `raw_len` bytes: corrupt frames are typed errors, never
//! panics or huge allocations (see the proptest below).

use std::cell::RefCell;

use folio_pagestore::PageId;

use crate::error::corrupt;
use crate::{Result, VALUE_BYTES_MAX};

const CODEC_LZ4: u8 = 1;
const CODEC_ZSTD: u8 = 2;
const FRAME_HEADER_BYTES: usize = 5;
/// Values shorter than this are stored as they are: nothing to gain.
const COMPRESS_MIN_BYTES: usize = 64;
/// The most one byte of LZ4 data can expand to (a match token covers at most 255 bytes
/// per length byte).
const LZ4_EXPANSION_MAX: usize = 255;
/// The most one byte of a zstd frame can expand to: a 4-byte run-length block header
/// stands for up to 128 KiB.
const ZSTD_EXPANSION_MAX: usize = 32 << 10;

/// How a tree compresses the values it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compression {
    /// Values stored as given (the default).
    #[default]
    None,
    /// LZ4 block compression (`lz4_flex`): fast, moderate ratio.
    Lz4,
    /// zstd at `level` (1-22; 3 is zstd's default): slower, higher ratio.
    Zstd {
        /// Compression level.
        level: i32,
    },
}

/// Bytes of a stored setting ([`Compression::to_setting_bytes`]).
pub const SETTING_BYTES: usize = 5;

/// The zstd levels folio accepts.
const ZSTD_LEVELS: std::ops::RangeInclusive<i32> = 1..=22;

impl Compression {
    /// `Err` with the reason when the setting is out of range (a zstd level outside 1..=22).
    pub fn check(self) -> Result<(), String> {
        match self {
            Self::Zstd { level } if !ZSTD_LEVELS.contains(&level) => Err(format!(
                "zstd level {level} is outside {}..={}",
                ZSTD_LEVELS.start(),
                ZSTD_LEVELS.end()
            )),
            _ => Ok(()),
        }
    }

    /// The frame for `value`, when compressing it saves bytes.
    pub(crate) fn encode(self, value: &[u8]) -> Option<Vec<u8>> {
        if value.len() < COMPRESS_MIN_BYTES {
            return None;
        }
        let (codec, data) = match self {
            Self::None => return None,
            Self::Lz4 => (CODEC_LZ4, lz4_flex::block::compress(value)),
            Self::Zstd { level } => (CODEC_ZSTD, zstd_compress(value, level)?),
        };
        if FRAME_HEADER_BYTES + data.len() >= value.len() {
            return None;
        }
        let mut frame = Vec::with_capacity(FRAME_HEADER_BYTES + data.len());
        frame.push(codec);
        frame.extend_from_slice(&(value.len() as u32).to_le_bytes());
        frame.extend_from_slice(&data);
        Some(frame)
    }

    /// The setting as stored (catalog entries, log records): codec byte (0 none, 1 LZ4,
    /// 2 zstd) and the level as `i32` little-endian (0 without one).
    pub fn to_setting_bytes(self) -> [u8; SETTING_BYTES] {
        let (codec, level) = match self {
            Self::None => (0, 0),
            Self::Lz4 => (CODEC_LZ4, 0),
            Self::Zstd { level } => (CODEC_ZSTD, level),
        };
        let mut out = [0u8; SETTING_BYTES];
        out[0] = codec;
        out[1..].copy_from_slice(&level.to_le_bytes());
        out
    }

    /// The setting [`Compression::to_setting_bytes`] stored; `Err` with the reason for
    /// bytes it cannot have written (another length, an unknown codec, a level out of range).
    pub fn from_setting_bytes(bytes: &[u8]) -> Result<Self, String> {
        let bytes: &[u8; SETTING_BYTES] = bytes
            .try_into()
            .map_err(|_| format!("compression setting of {} bytes", bytes.len()))?;
        let level = i32::from_le_bytes(bytes[1..].try_into().expect("4 bytes"));
        let setting = match (bytes[0], level) {
            (0, 0) => Self::None,
            (CODEC_LZ4, 0) => Self::Lz4,
            (CODEC_ZSTD, level) => Self::Zstd { level },
            (codec, level) => {
                return Err(format!("unknown compression codec {codec} (level {level})"));
            }
        };
        setting.check()?;
        Ok(setting)
    }

    /// A short name for reports (`none`, `lz4`, `zstd-3`).
    pub fn label(self) -> String {
        match self {
            Self::None => "none".into(),
            Self::Lz4 => "lz4".into(),
            Self::Zstd { level } => format!("zstd-{level}"),
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = String;

    /// `none`, `lz4`, `zstd` (level 3) or `zstd-N`.
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "none" => Ok(Self::None),
            "lz4" => Ok(Self::Lz4),
            "zstd" => Ok(Self::Zstd { level: 3 }),
            _ => text
                .strip_prefix("zstd-")
                .and_then(|level| level.parse().ok())
                .filter(|level| ZSTD_LEVELS.contains(level))
                .map(|level| Self::Zstd { level })
                .ok_or_else(|| {
                    format!("unknown compression {text:?}: none, lz4, zstd or zstd-1..22")
                }),
        }
    }
}

/// The value a frame stored at `page` holds.
pub(crate) fn decode(frame: &[u8], page: PageId) -> Result<Vec<u8>> {
    let bad = |reason: &str| corrupt(page, format!("compressed value: {reason}"));
    if frame.len() < FRAME_HEADER_BYTES {
        return Err(bad("frame cut short"));
    }
    let codec = frame[0];
    let raw_len = u32::from_le_bytes(frame[1..5].try_into().expect("4 bytes")) as usize;
    let data = &frame[FRAME_HEADER_BYTES..];
    let expansion = match codec {
        CODEC_LZ4 => LZ4_EXPANSION_MAX,
        CODEC_ZSTD => ZSTD_EXPANSION_MAX,
        other => return Err(bad(&format!("unknown codec {other}"))),
    };
    // Checked before allocating: a damaged length cannot ask for more than the data could
    // possibly hold.
    if raw_len > VALUE_BYTES_MAX || raw_len > data.len().saturating_mul(expansion) {
        return Err(bad(&format!(
            "length {raw_len} impossible for {} bytes of data",
            data.len()
        )));
    }
    let mut out = vec![0u8; raw_len];
    let written = match codec {
        CODEC_LZ4 => lz4_flex::block::decompress_into(data, &mut out)
            .map_err(|e| bad(&format!("lz4: {e}")))?,
        _ => zstd_decompress(data, &mut out).map_err(|e| bad(&format!("zstd: {e}")))?,
    };
    if written != raw_len {
        return Err(bad(&format!(
            "decoded {written} bytes, frame says {raw_len}"
        )));
    }
    Ok(out)
}

thread_local! {
    /// One zstd context of each kind per thread, reused: creating one per value was a fifth
    /// of a W8 run with zstd (`ZSTD_createDCtx` 12 %, `ZSTD_createCCtx` 6 % of samples).
    static ZSTD_COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { RefCell::new(None) };
    static ZSTD_DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

/// `value` as a zstd frame at `level`; `None` if zstd fails (the value is then stored as it
/// is).
fn zstd_compress(value: &[u8], level: i32) -> Option<Vec<u8>> {
    ZSTD_COMPRESSOR.with(|cell| {
        let mut cell = cell.try_borrow_mut().ok()?;
        if cell.is_none() {
            *cell = Some(zstd::bulk::Compressor::new(level).ok()?);
        }
        let compressor = cell.as_mut()?;
        compressor.set_compression_level(level).ok()?;
        compressor.compress(value).ok()
    })
}

/// Decompresses the zstd frame `data` into `out`; returns the bytes written.
fn zstd_decompress(data: &[u8], out: &mut [u8]) -> std::io::Result<usize> {
    ZSTD_DECOMPRESSOR.with(|cell| {
        let mut cell = cell
            .try_borrow_mut()
            .map_err(|_| std::io::Error::other("zstd decompressor in use"))?;
        if cell.is_none() {
            *cell = Some(zstd::bulk::Decompressor::new()?);
        }
        cell.as_mut()
            .expect("set above")
            .decompress_to_buffer(data, out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn document(i: u32) -> Vec<u8> {
        format!(
            "{{\"id\":{i},\"kind\":\"event\",\"status\":\"shipped\",\"note\":\"order {i} shipped\",\
             \"tags\":[\"a\",\"b\",\"c\"],\"status_again\":\"shipped\"}}"
        )
        .into_bytes()
    }

    #[test]
    fn frames_round_trip_and_only_when_they_save_bytes() {
        for codec in [Compression::Lz4, Compression::Zstd { level: 3 }] {
            let value = document(7).repeat(4);
            let frame = codec.encode(&value).expect("repetitive text compresses");
            assert!(frame.len() < value.len());
            assert_eq!(decode(&frame, PageId(1)).unwrap(), value);
            assert_eq!(codec.encode(b"short"), None, "{codec:?}");
            let mut state = 0x2545_f491_4f6c_dd1d_u64;
            let noise: Vec<u8> = (0..500)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 32) as u8
                })
                .collect();
            assert_eq!(codec.encode(&noise), None, "{codec:?}: incompressible");
        }
        assert_eq!(Compression::None.encode(&document(1).repeat(9)), None);
    }

    #[test]
    fn damaged_frames_are_typed_errors() {
        let frame = Compression::Lz4.encode(&document(3).repeat(3)).unwrap();
        let mut huge = frame.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            decode(&huge, PageId(2)).is_err(),
            "impossible length refused"
        );
        let mut short = frame.clone();
        short[1..5].copy_from_slice(&10u32.to_le_bytes());
        assert!(decode(&short, PageId(2)).is_err(), "too short for the data");
        let mut codec = frame;
        codec[0] = 9;
        assert!(decode(&codec, PageId(2)).is_err());
    }

    #[test]
    fn names_parse() {
        assert_eq!("lz4".parse(), Ok(Compression::Lz4));
        assert_eq!("zstd".parse(), Ok(Compression::Zstd { level: 3 }));
        assert_eq!("zstd-19".parse(), Ok(Compression::Zstd { level: 19 }));
        assert!("zstd-40".parse::<Compression>().is_err());
        assert_eq!(Compression::Zstd { level: 5 }.label(), "zstd-5");
    }

    #[test]
    fn settings_round_trip_and_damaged_ones_are_refused() {
        for setting in [
            Compression::None,
            Compression::Lz4,
            Compression::Zstd { level: 1 },
            Compression::Zstd { level: 22 },
        ] {
            let bytes = setting.to_setting_bytes();
            assert_eq!(Compression::from_setting_bytes(&bytes), Ok(setting));
        }
        let refused: [&[u8]; 5] = [
            &[],
            &[1, 0, 0, 0],
            &[3, 0, 0, 0, 0],
            &[1, 5, 0, 0, 0],
            &Compression::Zstd { level: 23 }.to_setting_bytes(),
        ];
        for bytes in refused {
            assert!(Compression::from_setting_bytes(bytes).is_err(), "{bytes:?}");
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic_the_decoder(frame in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&frame, PageId(0));
        }

        #[test]
        fn random_data_behind_valid_headers_never_panics(
            codec in 1u8..=2,
            raw_len in 0u32..100_000,
            data in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut frame = vec![codec];
            frame.extend_from_slice(&raw_len.to_le_bytes());
            frame.extend_from_slice(&data);
            if let Ok(value) = decode(&frame, PageId(0)) {
                prop_assert_eq!(value.len(), raw_len as usize);
            }
        }
    }
}
