//! W9 transfers: accounts in one keyspace; each transaction reads two random accounts and
//! moves an amount from one to the other, through each engine's transaction API, conflicts
//! retried and counted ([`Engine::transfer`]). The balances' sum is checked afterwards.

use std::time::Instant;

use crate::workloads::{Measured, on_threads};
use crate::zipf::Zipf;
use crate::{BenchResult, Engine, Latencies, SyncMode};

/// The keyspace of W9.
pub(crate) const ACCOUNTS: &str = "accounts";
/// Each account's opening balance.
const OPENING: u64 = 1_000;

/// An account's key.
fn account(i: u64) -> [u8; 8] {
    i.to_be_bytes()
}

/// A balance as stored: 8 bytes, big-endian.
pub fn balance(value: &[u8]) -> BenchResult<u64> {
    Ok(u64::from_be_bytes(value.try_into().map_err(|_| {
        format!("a balance of {} bytes", value.len())
    })?))
}

/// Creates `accounts` accounts with the opening balance.
pub(crate) fn open_accounts(engine: &dyn Engine, accounts: u64) -> BenchResult<()> {
    engine.create_keyspace(ACCOUNTS)?;
    engine.bulk_load(
        ACCOUNTS,
        &mut (0..accounts).map(|i| (account(i).to_vec(), OPENING.to_be_bytes().to_vec())),
    )
}

/// `threads` threads each making `transfers` transfers between accounts chosen uniformly
/// or (zipfian) skewed; returns the measure and the conflicts retried.
pub(crate) fn transfers(
    engine: &dyn Engine,
    threads: usize,
    accounts: u64,
    transfers: usize,
    zipfian: bool,
    mode: SyncMode,
) -> BenchResult<(Measured, u64)> {
    let zipf = Zipf::new(accounts);
    let (per_thread, elapsed) = on_threads(threads, |i| {
        let mut rng = fastrand::Rng::with_seed(900 + i as u64);
        let mut pick = || {
            if zipfian {
                zipf.next(&mut rng)
            } else {
                rng.u64(0..accounts)
            }
        };
        let mut latencies = Latencies::default();
        let mut conflicts = 0;
        for _ in 0..transfers {
            let (from, mut to) = (pick(), pick());
            if to == from {
                to = (from + 1) % accounts;
            }
            let amount = 1 + (from ^ to) % 10;
            let begun = Instant::now();
            conflicts += engine.transfer(ACCOUNTS, &account(from), &account(to), amount, mode)?;
            latencies.push(begun.elapsed());
        }
        Ok((latencies, conflicts))
    })?;
    let mut latencies = Latencies::default();
    let mut conflicts = 0;
    for (thread, retried) in per_thread {
        latencies.extend(thread);
        conflicts += retried;
    }
    let ops = (threads * transfers) as u64;
    Ok((
        Measured {
            // Two accounts written per transfer.
            entry_bytes: 2 * 16,
            ops,
            commits: ops,
            elapsed,
            latencies,
        },
        conflicts,
    ))
}

/// Checks that the balances still sum to what was opened (untimed).
pub(crate) fn check_total(engine: &dyn Engine, accounts: u64) -> BenchResult<()> {
    let mut total = 0;
    for i in 0..accounts {
        let value = engine
            .get(ACCOUNTS, &account(i))?
            .ok_or_else(|| format!("account {i} is gone"))?;
        total += balance(&value)?;
    }
    if total == accounts * OPENING {
        Ok(())
    } else {
        Err(format!(
            "{}: the balances sum to {total}, not {}",
            engine.name(),
            accounts * OPENING
        )
        .into())
    }
}

/// The debit and credit of one transfer: the new balances of `from` and `to`, or `None`
/// when `from` holds less than `amount` (nothing is written).
pub fn apply_transfer(from: u64, to: u64, amount: u64) -> Option<(u64, u64)> {
    (from >= amount).then(|| (from - amount, to + amount))
}
