//! The files of a backup chain: log increments (`NNNNNN.log`), checksums of whole files,
//! and the few file-system steps (a synced write, a durable rename) increments need.
//!
//! ```text
//! log increment = magic "FOLIOINC", format u32 (1), sealed u8 (1 when encrypted),
//!                 then per record: LSN u64, length u32, the record (as the log holds it,
//!                 sealed with the database's key and bound to the LSN when encrypted)
//! ```

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use folio_io::{Cipher, Operation};
use folio_wal::Lsn;
use xxhash_rust::xxh3::Xxh3;

use crate::{Error, Result};

const MAGIC: &[u8; 8] = b"FOLIOINC";
const FORMAT: u32 = 1;
/// Bytes of a log increment's header.
const HEADER_BYTES: usize = 13;

/// An I/O error on `path` as a typed error.
pub(crate) fn io_error(op: Operation, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| {
        Error::Storage(folio_io::Error::Io {
            op,
            path: Some(path),
            source,
        })
    }
}

/// Writes log records into a new file, hashing as it goes.
pub(crate) struct LogIncrementWriter {
    path: PathBuf,
    out: BufWriter<File>,
    hash: Xxh3,
    bytes: u64,
    records: u64,
}

impl LogIncrementWriter {
    pub(crate) fn create(path: &Path, sealed: bool) -> Result<Self> {
        let file = File::create(path).map_err(io_error(Operation::Open, path))?;
        let mut writer = Self {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 20, file),
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
        self.out
            .write_all(bytes)
            .map_err(io_error(Operation::Write, &self.path))?;
        self.hash.update(bytes);
        self.bytes += bytes.len() as u64;
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

    /// Flushes and syncs the file; returns (bytes, xxh3-64, records).
    pub(crate) fn finish(self) -> Result<(u64, u64, u64)> {
        let file = self
            .out
            .into_inner()
            .map_err(|e| io_error(Operation::Write, &self.path)(e.into_error()))?;
        file.sync_all()
            .map_err(io_error(Operation::Sync, &self.path))?;
        Ok((self.bytes, self.hash.digest(), self.records))
    }
}

/// Reads the records of a log increment in order (its checksum was verified before).
pub(crate) struct LogIncrementReader {
    path: PathBuf,
    input: BufReader<File>,
    cipher: Option<std::sync::Arc<Cipher>>,
}

impl LogIncrementReader {
    pub(crate) fn open(path: &Path, cipher: Option<std::sync::Arc<Cipher>>) -> Result<Self> {
        let file = File::open(path).map_err(io_error(Operation::Open, path))?;
        let mut reader = Self {
            path: path.to_path_buf(),
            input: BufReader::with_capacity(1 << 20, file),
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
            reason: format!("{}: {reason}", self.path.display()),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.input
            .read_exact(buf)
            .map_err(io_error(Operation::Read, &self.path))
    }

    /// The next record, `None` at the end.
    pub(crate) fn next_record(&mut self) -> Result<Option<(Lsn, Vec<u8>)>> {
        let mut head = [0u8; 12];
        match self.input.read(&mut head[..1]) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e) => return Err(io_error(Operation::Read, &self.path)(e)),
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

/// Bytes and xxh3-64 of the file at `path`.
pub(crate) fn checksum_file(path: &Path) -> Result<(u64, u64)> {
    let mut file = File::open(path).map_err(io_error(Operation::Open, path))?;
    let mut hash = Xxh3::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(io_error(Operation::Read, path))?;
        if read == 0 {
            return Ok((bytes, hash.digest()));
        }
        hash.update(&buffer[..read]);
        bytes += read as u64;
    }
}

/// Every file of the full copy `chain_dir/name` as (path in the chain, bytes, xxh3-64),
/// sorted, for its manifest.
pub(crate) fn full_copy_files(chain_dir: &Path, name: &str) -> Result<Vec<(String, u64, u64)>> {
    let dir = chain_dir.join(name);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map_err(io_error(Operation::Open, &dir))?
        .collect::<std::io::Result<_>>()
        .map_err(io_error(Operation::Open, &dir))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    entries
        .iter()
        .map(|entry| {
            let (bytes, checksum) = checksum_file(&entry.path())?;
            let file = entry.file_name().to_string_lossy().into_owned();
            Ok((format!("{name}/{file}"), bytes, checksum))
        })
        .collect()
}

/// Writes `text` to `dir/name` durably and atomically (a synced temporary file renamed).
pub(crate) fn write_atomically(dir: &Path, name: &str, text: &[u8]) -> Result<()> {
    use folio_io::Directory;
    let temporary = format!("{name}.tmp");
    let path = dir.join(&temporary);
    let mut file = File::create(&path).map_err(io_error(Operation::Open, &path))?;
    file.write_all(text)
        .map_err(io_error(Operation::Write, &path))?;
    file.sync_all().map_err(io_error(Operation::Sync, &path))?;
    drop(file);
    folio_io::FsDirectory::open(dir)?.rename(&temporary, name)?;
    Ok(())
}
