//! Sealing and opening one 4 KiB page: folio's XChaCha20-Poly1305 against AES-256-GCM (the
//! alternative the choice in `docs/security.md` was measured against).

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use folio_io::{Cipher, EncryptionKey};

const PAGE: usize = 4096 - 48;

fn seal_and_open(c: &mut Criterion) {
    let mut group = c.benchmark_group("page");
    group.throughput(Throughput::Bytes(PAGE as u64));
    let page = vec![0x5au8; PAGE];
    let cipher = Cipher::new(&EncryptionKey::from_bytes([1; 32])).unwrap();
    let mut sealed = vec![0u8; PAGE + folio_io::cipher::SEAL_OVERHEAD];
    group.bench_function("xchacha20poly1305 seal", |b| {
        b.iter(|| cipher.seal_into(b"page id", &page, &mut sealed));
    });
    cipher.seal_into(b"page id", &page, &mut sealed);
    let mut opened = vec![0u8; PAGE];
    group.bench_function("xchacha20poly1305 open", |b| {
        b.iter(|| cipher.open_into(b"page id", &sealed, &mut opened).unwrap());
    });
    let aes = Aes256Gcm::new(&[1u8; 32].into());
    let nonce = Nonce::from_slice(&[3u8; 12]);
    let mut buffer = page.clone();
    group.bench_function("aes-256-gcm seal", |b| {
        b.iter(|| {
            buffer.copy_from_slice(&page);
            aes.encrypt_in_place_detached(nonce, b"page id", &mut buffer)
                .unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, seal_and_open);
criterion_main!(benches);
