//! Property tests: arbitrary bytes fed to the IDX and CSV readers (and to the
//! gzip layer under them) come back as `Ok` or `Err`, never as a panic, and
//! what they accept is consistent with the format.

mod common;

use std::path::Path;

use nn_data::csv::{parse_table, CsvOptions, Target};
use nn_data::file::decode_bytes;
use nn_data::idx::{encode_idx_u8, parse_idx};
use proptest::prelude::*;

proptest! {
    // Seeded, so every run tries the same inputs; the workspace-wide hostile
    // input suite (with counts) is nn-train's tests/never_panic.rs.
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_seed: proptest::test_runner::RngSeed::Fixed(13),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn idx_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(a) = parse_idx(bytes.clone(), Path::new("fuzz.idx")) {
            // Whatever is accepted holds exactly the declared number of elements.
            prop_assert_eq!(a.dims.iter().product::<usize>(), a.data.len());
        }
    }

    #[test]
    fn idx_reader_never_panics_on_plausible_headers(
        dtype in prop::sample::select(vec![0x08u8, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x01]),
        dims in proptest::collection::vec(0u32..6, 0..4),
        data in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = encode_idx_u8(&dims, &data);
        bytes[2] = dtype;
        let declared = dims.iter().map(|&d| d as usize).product::<usize>();
        let r = parse_idx(bytes, Path::new("fuzz.idx"));
        if dtype == 0x08 && !dims.is_empty() && declared == data.len() {
            prop_assert!(r.is_ok());
        }
        if let Ok(a) = r {
            prop_assert_eq!(a.dims.iter().product::<usize>(), a.data.len());
        }
    }

    #[test]
    fn gzip_layer_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), cut in 0usize..300) {
        // Raw bytes under a .gz name, and a real gzip stream cut anywhere.
        let _ = decode_bytes(&bytes, Path::new("fuzz.gz"), 1 << 20);
        let packed = common::gz(&bytes);
        let cut = cut.min(packed.len());
        let r = decode_bytes(&packed[..cut], Path::new("fuzz.gz"), 1 << 20);
        if cut == packed.len() && !bytes.is_empty() {
            prop_assert_eq!(r.unwrap(), bytes);
        }
    }

    #[test]
    fn csv_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), header: bool, skip in 0usize..3) {
        let opts = CsvOptions { skip_lines: skip, header, ..CsvOptions::default() };
        if let Ok(t) = parse_table(&bytes, Path::new("fuzz.csv"), &opts) {
            prop_assert_eq!(t.values.len(), t.rows * t.cols);
            prop_assert!(t.values.iter().all(|v| v.is_finite()));
            let _ = t.to_dataset::<f32>(&Target::Last);
            let _ = t.to_dataset::<f64>(&Target::Name("a".into()));
        }
    }

    #[test]
    fn csv_reader_never_panics_on_csv_like_text(text in "[0-9a-z.,eE+\\-\" \r\n]{0,200}", header: bool) {
        let opts = CsvOptions { header, ..CsvOptions::default() };
        if let Ok(t) = parse_table(text.as_bytes(), Path::new("fuzz.csv"), &opts) {
            prop_assert_eq!(t.values.len(), t.rows * t.cols);
            prop_assert_eq!(t.lines.len(), t.rows);
        }
    }
}
