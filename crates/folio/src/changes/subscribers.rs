//! Registered change-feed subscribers: a name and the last LSN each acknowledged, kept in
//! the file `subscribers.folio` beside the data file, and the log retention they ask for.
//!
//! ```text
//! file  = magic "FOLIOSUB", format u32 (1), body_len u32, body, xxh3-64 of all before it
//! body  = count u32, then per subscriber: name_len u16, name (UTF-8), acknowledged u64
//!         (sealed with the database's key, bound to the magic, when it is encrypted)
//! ```
//!
//! Registering and unregistering rewrite the file at once (a new file, synced, renamed over
//! the old one). Acknowledgements are kept in memory and written by the next checkpoint
//! before it truncates the log, and at close: one lost in a crash leaves the subscriber's
//! position older than it was, which only keeps more log, never less.

use std::collections::BTreeMap;
use std::sync::Arc;

use folio_io::{Cipher, Directory};
use folio_wal::Lsn;
use parking_lot::Mutex;

use crate::{Error, Result};

/// The file holding the subscribers.
pub const SUBSCRIBERS_FILE: &str = "subscribers.folio";
/// The file while it is written (renamed over [`SUBSCRIBERS_FILE`] once synced).
const SUBSCRIBERS_FILE_NEW: &str = "subscribers.folio.new";
const MAGIC: &[u8; 8] = b"FOLIOSUB";
const FORMAT: u32 = 1;
/// Bytes of a subscriber's name at most.
pub const SUBSCRIBER_NAME_BYTES_MAX: usize = 255;

/// A registered subscriber, as [`crate::Database::subscribers`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberInfo {
    /// Its name.
    pub name: String,
    /// The last LSN it acknowledged: its feed resumes after it, and the log is kept from
    /// the next LSN on (within `change_retention_bytes`).
    pub acknowledged: Lsn,
}

/// The registered subscribers of one database.
#[derive(Debug)]
pub(crate) struct Subscribers {
    directory: Arc<dyn Directory>,
    cipher: Option<Arc<Cipher>>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    acknowledged: BTreeMap<String, Lsn>,
    /// False when an acknowledgement changed since the file was written.
    saved: bool,
}

impl Subscribers {
    /// Loads the subscribers of the database in `directory` (none when the file is absent),
    /// whose recovered version is `recovered`.
    ///
    /// A position past `recovered` names commits a crash lost (an `Eventual` commit
    /// acknowledged, or registered after, before it was synced): their LSNs go to the next
    /// commits, so such a position is lowered to `recovered`, or the subscriber would
    /// never see those commits.
    pub(crate) fn open(
        directory: Arc<dyn Directory>,
        cipher: Option<Arc<Cipher>>,
        recovered: Lsn,
    ) -> Result<Self> {
        directory.remove(SUBSCRIBERS_FILE_NEW)?; // a write a crash interrupted
        let mut acknowledged = match directory.read_file(SUBSCRIBERS_FILE)? {
            Some(bytes) => decode(&bytes, cipher.as_deref())?,
            None => BTreeMap::new(),
        };
        let mut saved = true;
        for (name, position) in &mut acknowledged {
            if *position > recovered {
                tracing::warn!(target: "folio", subscriber = %name, position = *position, recovered, "a change-feed subscriber acknowledged commits the crash lost; it resumes after the recovered version");
                *position = recovered;
                saved = false;
            }
        }
        Ok(Self {
            directory,
            cipher,
            state: Mutex::new(State {
                acknowledged,
                saved,
            }),
        })
    }

    /// Registers `name` at `published` unless it is registered; returns its position.
    pub(crate) fn register(&self, name: &str, published: Lsn) -> Result<Lsn> {
        check_name(name)?;
        let mut state = self.state.lock();
        if let Some(&acknowledged) = state.acknowledged.get(name) {
            return Ok(acknowledged);
        }
        state.acknowledged.insert(name.to_owned(), published);
        if let Err(error) = self.save(&mut state) {
            state.acknowledged.remove(name);
            return Err(error);
        }
        Ok(published)
    }

    /// Removes `name`: the log it kept is dropped by the next checkpoint.
    pub(crate) fn unregister(&self, name: &str) -> Result<()> {
        let mut state = self.state.lock();
        let Some(acknowledged) = state.acknowledged.remove(name) else {
            return Err(not_found(name));
        };
        if let Err(error) = self.save(&mut state) {
            state.acknowledged.insert(name.to_owned(), acknowledged);
            return Err(error);
        }
        Ok(())
    }

    /// Moves `name`'s position to `lsn` (never back).
    pub(crate) fn acknowledge(&self, name: &str, lsn: Lsn) -> Result<()> {
        let mut state = self.state.lock();
        let acknowledged = state
            .acknowledged
            .get_mut(name)
            .ok_or_else(|| not_found(name))?;
        if lsn > *acknowledged {
            *acknowledged = lsn;
            state.saved = false;
        }
        Ok(())
    }

    pub(crate) fn list(&self) -> Vec<SubscriberInfo> {
        let state = self.state.lock();
        state
            .acknowledged
            .iter()
            .map(|(name, &acknowledged)| SubscriberInfo {
                name: name.clone(),
                acknowledged,
            })
            .collect()
    }

    pub(crate) fn acknowledged(&self, name: &str) -> Result<Lsn> {
        let state = self.state.lock();
        state
            .acknowledged
            .get(name)
            .copied()
            .ok_or_else(|| not_found(name))
    }

    /// Writes the acknowledgements made since the file was last written, and returns the
    /// first LSN a subscriber still needs (`None` without subscribers). A checkpoint calls
    /// it before truncating, so the log it keeps is never less than the file asks for.
    pub(crate) fn save_and_keep_from(&self) -> Result<Option<Lsn>> {
        let mut state = self.state.lock();
        if !state.saved {
            self.save(&mut state)?;
        }
        Ok(state.acknowledged.values().min().map(|lsn| lsn + 1))
    }

    fn save(&self, state: &mut State) -> Result<()> {
        let bytes = encode(&state.acknowledged, self.cipher.as_deref());
        self.directory
            .replace_file(SUBSCRIBERS_FILE, SUBSCRIBERS_FILE_NEW, &bytes)?;
        state.saved = true;
        Ok(())
    }
}

/// The first LSN to keep in the log: `covered` (what the checkpoint made durable needs
/// nothing before it) or, with subscribers, the first they need, unless keeping that much
/// would pass `retention_bytes` of segment files; then as little more than that as whole
/// segments allow. `segments` are (first LSN, bytes), oldest first.
pub(crate) fn truncate_below(
    covered: Lsn,
    keep_from: Option<Lsn>,
    segments: &[(Lsn, u64)],
    retention_bytes: u64,
) -> Lsn {
    let Some(keep_from) = keep_from.filter(|&keep| keep < covered) else {
        return covered;
    };
    // Truncating below `t` removes every segment whose successor starts at or below `t`.
    let kept_bytes = |t: Lsn| -> u64 {
        segments
            .iter()
            .enumerate()
            .filter(|(i, _)| segments.get(i + 1).is_none_or(|next| next.0 > t))
            .map(|(_, (_, bytes))| bytes)
            .sum()
    };
    std::iter::once(keep_from)
        .chain(
            segments
                .iter()
                .map(|(first, _)| *first)
                .filter(|&first| first > keep_from && first < covered),
        )
        .find(|&t| kept_bytes(t) <= retention_bytes)
        .unwrap_or(covered)
}

fn not_found(name: &str) -> Error {
    Error::SubscriberNotFound {
        name: name.to_owned(),
    }
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > SUBSCRIBER_NAME_BYTES_MAX {
        return Err(Error::InvalidOption {
            name: "subscriber name",
            reason: format!("{name:?} must be 1 to {SUBSCRIBER_NAME_BYTES_MAX} bytes of UTF-8"),
        });
    }
    Ok(())
}

fn encode(acknowledged: &BTreeMap<String, Lsn>, cipher: Option<&Cipher>) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(acknowledged.len() as u32).to_le_bytes());
    for (name, lsn) in acknowledged {
        body.extend_from_slice(&(name.len() as u16).to_le_bytes());
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(&lsn.to_le_bytes());
    }
    if let Some(cipher) = cipher {
        body = cipher.seal(MAGIC, &body);
    }
    let mut bytes = Vec::with_capacity(body.len() + 24);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT.to_le_bytes());
    bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&body);
    let checksum = xxhash_rust::xxh3::xxh3_64(&bytes);
    bytes.extend_from_slice(&checksum.to_le_bytes());
    bytes
}

fn decode(bytes: &[u8], cipher: Option<&Cipher>) -> Result<BTreeMap<String, Lsn>> {
    let corrupt = |reason: &str| Error::CorruptSubscribers {
        reason: reason.to_owned(),
    };
    if bytes.len() < 24 || &bytes[..8] != MAGIC {
        return Err(corrupt("not a subscribers file"));
    }
    let (checked, checksum) = bytes.split_at(bytes.len() - 8);
    if xxhash_rust::xxh3::xxh3_64(checked).to_le_bytes() != checksum {
        return Err(corrupt("checksum mismatch"));
    }
    let format = u32::from_le_bytes(checked[8..12].try_into().expect("4 bytes"));
    if format != FORMAT {
        return Err(corrupt(&format!("unknown format {format}")));
    }
    let body_len = u32::from_le_bytes(checked[12..16].try_into().expect("4 bytes")) as usize;
    let body = checked
        .get(16..)
        .filter(|body| body.len() == body_len)
        .ok_or_else(|| corrupt("length mismatch"))?;
    let opened;
    let mut body = match cipher {
        Some(cipher) => {
            opened = cipher
                .open(MAGIC, body)
                .map_err(|error| corrupt(&error.to_string()))?;
            &opened[..]
        }
        None => body,
    };
    let mut take = |n: usize| -> Result<&[u8]> {
        if body.len() < n {
            return Err(corrupt("truncated body"));
        }
        let (head, rest) = body.split_at(n);
        body = rest;
        Ok(head)
    };
    let count = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
    let mut acknowledged = BTreeMap::new();
    for _ in 0..count {
        let len = u16::from_le_bytes(take(2)?.try_into().expect("2 bytes")) as usize;
        let name = std::str::from_utf8(take(len)?)
            .map_err(|_| corrupt("a name is not UTF-8"))?
            .to_owned();
        let lsn = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        acknowledged.insert(name, lsn);
    }
    Ok(acknowledged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_round_trips_plain_and_sealed() {
        let mut subscribers = BTreeMap::new();
        subscribers.insert("mirror".to_owned(), 42);
        subscribers.insert("search-index".to_owned(), 7);
        let key = folio_io::EncryptionKey::from_bytes([3; 32]);
        let cipher = Cipher::new(&key).unwrap();
        for cipher in [None, Some(&cipher)] {
            let bytes = encode(&subscribers, cipher);
            assert_eq!(decode(&bytes, cipher).unwrap(), subscribers);
            assert!(
                cipher.is_none() || !bytes.windows(6).any(|w| w == b"mirror"),
                "names are sealed"
            );
            for at in [0, 9, 20, bytes.len() - 1] {
                let mut damaged = bytes.clone();
                damaged[at] ^= 1;
                let error = decode(&damaged, cipher).unwrap_err();
                assert!(error.is_corruption(), "{error}");
            }
            assert!(decode(&bytes[..bytes.len() - 3], cipher).is_err());
        }
    }

    #[test]
    fn retention_keeps_what_subscribers_need_within_the_bound() {
        // Segments of 100 bytes starting at LSNs 1, 11, 21, 31 (the last being written).
        let segments = [(1, 100), (11, 100), (21, 100), (31, 100)];
        // No subscriber, or one that needs nothing the checkpoint does not: as before.
        assert_eq!(truncate_below(35, None, &segments, 1000), 35);
        assert_eq!(truncate_below(35, Some(40), &segments, 1000), 35);
        // A subscriber at 5 keeps everything while the bound allows it.
        assert_eq!(truncate_below(35, Some(5), &segments, 400), 5);
        // A bound of 250 bytes keeps the last two segments (the first segment past 5 that
        // fits is 21: truncating below 21 removes 1 and 11).
        assert_eq!(truncate_below(35, Some(5), &segments, 250), 21);
        // A bound smaller than one segment gives the checkpoint's own point.
        assert_eq!(truncate_below(35, Some(5), &segments, 10), 35);
    }
}
