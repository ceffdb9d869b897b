//! The files of a backup chain: log increments (`NNNNNN.log`), checksums of whole files,
//! and the few directory steps (a synced write, a durable rename) increments need. All of it
//! goes through a [`Directory`], so the simulated disk's power cuts reach backup chains too.
//!
//! ```text
//! log increment = magic "FOLIOINC", format u32 (1), sealed u8 (1 when encrypted),
//!                 then per record: LSN u64, length u32, the record (as the log holds it,
//!                 sealed with the database's key and bound to the LSN when encrypted)
//! ```

use std::io::{BufReader, Read};
use std::sync::Arc;

use folio_io::{Cipher, Directory, Storage};
use folio_wal::Lsn;
use xxhash_rust::xxh3::Xxh3;

use crate::{Error, Result};

const MAGIC: &[u8; 8] = b"FOLIOINC";
const FORMAT: u32 = 1;
/// Bytes of a log increment's header.
const HEADER_BYTES: usize = 13;
/// Bytes buffered between two writes, and read at a time.
const IO_BYTES: usize = 1 << 20;

/// A file read from its start through `std::io::Read` (to be buffered).
struct StorageReader {
    file: Arc<dyn Storage>,
    position: u64,
    len: u64,
}

impl StorageReader {
    fn new(file: Arc<dyn Storage>) -> Result<Self> {
        let len = file.len()?;
        Ok(Self {
            file,
            position: 0,
            len,
        })
    }
}

impl Read for StorageReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = usize::try_from(self.len - self.position).unwrap_or(usize::MAX);
        let n = buf.len().min(left);
        self.file
            .read_exact_at(&mut buf[..n], self.position)
            .map_err(std::io::Error::other)?;
        self.position += n as u64;
        Ok(n)
    }
}

/// An I/O error met while reading chain file `path` as a typed error: the storage's own
/// error when it was one, else a read error naming the file.
fn read_error(path: &str, error: std::io::Error) -> Error {
    match error.downcast::<folio_io::Error>() {
        Ok(storage) => Error::Storage(storage),
        Err(error) => Error::Storage(folio_io::Error::Io {
            op: folio_io::Operation::Read,
            path: Some(path.into()),
            source: error,
        }),
    }
}

/// Writes log records into a new file, hashing as it goes.
pub(crate) struct LogIncrementWriter {
    file: Arc<dyn Storage>,
    buffer: Vec<u8>,
    hash: Xxh3,
    bytes: u64,
    records: u64,
}

impl LogIncrementWriter {
    /// Creates (or empties) file `name` of `dir`.
    pub(crate) fn create(dir: &dyn Directory, name: &str, sealed: bool) -> Result<Self> {
        let file = dir.open(name, true)?;
        file.set_len(0)?;
        let mut writer = Self {
            file,
            buffer: Vec::with_capacity(IO_BYTES),
            hash: Xxh3::new(),
            bytes: 0,
            records: 0,
        };
        let mut header = Vec::with_capacity(HEADER_BYTES);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&FORMAT.to_le_bytes());
        header.push(u8::from(sealed));
        writer.write(&header)?;
        Ok(writer)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.buffer.extend_from_slice(bytes);
        self.hash.update(bytes);
        self.bytes += bytes.len() as u64;
        if self.buffer.len() >= IO_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let offset = self.bytes - self.buffer.len() as u64;
        self.file.write_all_at(&self.buffer, offset)?;
        self.buffer.clear();
        Ok(())
    }

    /// Appends record `lsn` (its plaintext payload, sealed here when `cipher` is given).
    pub(crate) fn append(
        &mut self,
        lsn: Lsn,
        payload: &[u8],
        cipher: Option<&Cipher>,
    ) -> Result<()> {
        let sealed;
        let stored = match cipher {
            Some(cipher) => {
                sealed = cipher.seal(&lsn.to_le_bytes(), payload);
                &sealed[..]
            }
            None => payload,
        };
        let len = u32::try_from(stored.len()).expect("log records are below 4 GiB");
        self.write(&lsn.to_le_bytes())?;
        self.write(&len.to_le_bytes())?;
        self.write(stored)?;
        self.records += 1;
        Ok(())
    }

    /// Writes what is buffered and syncs the file; returns (bytes, xxh3-64, records).
    pub(crate) fn finish(mut self) -> Result<(u64, u64, u64)> {
        self.flush()?;
        self.file.sync_data()?;
        Ok((self.bytes, self.hash.digest(), self.records))
    }
}

/// Reads the records of a log increment in order (its checksum was verified before).
pub(crate) struct LogIncrementReader {
    path: String,
    input: BufReader<StorageReader>,
    cipher: Option<Arc<Cipher>>,
}

impl LogIncrementReader {
    /// Reads `file`, the log increment at `path` in the chain.
    pub(crate) fn new(
        file: Arc<dyn Storage>,
        path: &str,
        cipher: Option<Arc<Cipher>>,
    ) -> Result<Self> {
        let mut reader = Self {
            path: path.to_owned(),
            input: BufReader::with_capacity(IO_BYTES, StorageReader::new(file)?),
            cipher,
        };
        let mut header = [0u8; HEADER_BYTES];
        reader.read_exact(&mut header)?;
        let sealed = header[12] == 1;
        if &header[..8] != MAGIC
            || u32::from_le_bytes(header[8..12].try_into().expect("4 bytes")) != FORMAT
            || header[12] > 1
        {
            return Err(reader.damaged("not a folio log increment (or a newer format)"));
        }
        if sealed != reader.cipher.is_some() {
            return Err(Error::InvalidOption {
                name: "encryption_key",
                reason: if sealed {
                    "the backup is encrypted: give its key".to_owned()
                } else {
                    "the backup is not encrypted: give no key".to_owned()
                },
            });
        }
        Ok(reader)
    }

    fn damaged(&self, reason: &str) -> Error {
        Error::CorruptLogRecord {
            lsn: 0,
            reason: format!("{}: {reason}", self.path),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.input
            .read_exact(buf)
            .map_err(|error| read_error(&self.path, error))
    }

    /// The next record, `None` at the end.
    pub(crate) fn next_record(&mut self) -> Result<Option<(Lsn, Vec<u8>)>> {
        let mut head = [0u8; 12];
        match self.input.read(&mut head[..1]) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(error) => return Err(read_error(&self.path, error)),
        }
        self.read_exact(&mut head[1..])?;
        let lsn = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        let len = u32::from_le_bytes(head[8..].try_into().expect("4 bytes")) as usize;
        let mut stored = vec![0u8; len];
        self.read_exact(&mut stored)?;
        let payload = match &self.cipher {
            Some(cipher) => cipher
                .open(&lsn.to_le_bytes(), &stored)
                .map_err(|_| self.damaged(&format!("record {lsn} does not open under this key")))?,
            None => stored,
        };
        Ok(Some((lsn, payload)))
    }
}

/// Reads `file` from its start in chunks of at most [`IO_BYTES`], handing each to `each`.
fn for_each_chunk(file: &dyn Storage, mut each: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let len = file.len()?;
    let mut buffer = vec![0u8; IO_BYTES];
    let mut offset = 0u64;
    while offset < len {
        let chunk =
            &mut buffer[..usize::try_from(len - offset).map_or(IO_BYTES, |n| n.min(IO_BYTES))];
        file.read_exact_at(chunk, offset)?;
        each(chunk)?;
        offset += chunk.len() as u64;
    }
    Ok(())
}

/// Bytes and xxh3-64 of a whole file.
pub(crate) fn checksum(file: &dyn Storage) -> Result<(u64, u64)> {
    let mut hash = Xxh3::new();
    let mut bytes = 0u64;
    for_each_chunk(file, |chunk| {
        hash.update(chunk);
        bytes += chunk.len() as u64;
        Ok(())
    })?;
    Ok((bytes, hash.digest()))
}

/// Every file of the full copy in subdirectory `name` of the chain as (path in the chain,
/// bytes, xxh3-64), sorted, for its manifest.
pub(crate) fn full_copy_files(
    chain: &dyn Directory,
    name: &str,
) -> Result<Vec<(String, u64, u64)>> {
    let dir = chain.subdirectory(name)?;
    dir.list()?
        .into_iter()
        .map(|file| {
            let path = format!("{name}/{file}");
            let (bytes, checksum) = checksum(dir.open(&file, false)?.as_ref())?;
            Ok((path, bytes, checksum))
        })
        .collect()
}

/// Copies `from` into a new file `name` of `target`, synced.
pub(crate) fn copy_into(from: &dyn Storage, target: &dyn Directory, name: &str) -> Result<()> {
    let to = target.open(name, true)?;
    to.set_len(0)?;
    let mut offset = 0u64;
    for_each_chunk(from, |chunk| {
        to.write_all_at(chunk, offset)?;
        offset += chunk.len() as u64;
        Ok(())
    })?;
    to.sync_data()?;
    Ok(())
}
