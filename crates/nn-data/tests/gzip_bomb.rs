//! A gzip bomb (a small file that decompresses to far more than its format
//! allows, with a forged trailer) is refused with a bounded peak of live
//! heap memory, counted with a global allocator that tallies the bytes
//! allocated by this test's thread.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::Scratch;
use nn_data::csv::{read_table, CsvOptions};
use nn_data::idx::{encode_idx_u8, read_idx};
use nn_data::DataError;

struct Peak;

thread_local! {
    static TRACKED: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn add(bytes: isize) {
    if TRACKED.try_with(Cell::get).unwrap_or(false) {
        let _ = LIVE.try_with(|l| {
            l.set(l.get() + bytes);
            let _ = PEAK.try_with(|p| p.set(p.get().max(l.get())));
        });
    }
}

// SAFETY: forwards to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize);
        // SAFETY: the caller's contract for `realloc`, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Peak = Peak;

/// Peak live heap bytes of this thread while `f` runs, above what was live before.
fn peak_of<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    TRACKED.with(|t| t.set(true));
    let r = f();
    TRACKED.with(|t| t.set(false));
    (r, PEAK.with(Cell::get).max(0) as usize)
}

/// `prefix` then `zeros` zero bytes, gzipped, with the trailer's size field
/// forged to claim 4 GiB − 1 bytes.
fn bomb(prefix: &[u8], zeros: usize) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(prefix).unwrap();
    let block = vec![0u8; 1 << 20];
    for _ in 0..zeros / block.len() {
        e.write_all(&block).unwrap();
    }
    let mut out = e.finish().unwrap();
    let n = out.len();
    out[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
    out
}

const ZEROS: usize = 64 << 20;
const BOUND: usize = 2 << 20;

#[test]
fn an_idx_gzip_bomb_is_refused_with_bounded_memory() {
    let s = Scratch::new("bomb-idx");
    // A header declaring 1000 labels, then 64 MiB of zeros.
    let p = s.write("train-labels-idx1-ubyte.gz", &bomb(&encode_idx_u8(&[1000], &[]), ZEROS));
    let (r, peak) = peak_of(|| read_idx(&p));
    // 8 header bytes, 1000 declared, 64 KiB of slack.
    assert!(matches!(r, Err(DataError::TooLarge { limit: 66544, .. })), "{r:?}");
    // It used to reserve what the trailer claimed (4 GiB) and decompress all 64 MiB.
    assert!(peak < BOUND, "peak of {peak} bytes");
}

#[test]
fn a_csv_gzip_bomb_is_refused_with_bounded_memory() {
    let s = Scratch::new("bomb-csv");
    let p = s.write("table.csv.gz", &bomb(b"1,2\n", ZEROS));
    let opts = CsvOptions { max_bytes: 1 << 20, ..CsvOptions::default() };
    let (r, peak) = peak_of(|| read_table(&p, &opts));
    assert!(matches!(r, Err(DataError::TooLarge { limit: 1048576, .. })), "{r:?}");
    // The cap (1 MiB) read into a growing buffer, plus the decoder's state.
    assert!(peak < 2 * BOUND + (1 << 20), "peak of {peak} bytes");
}
