//! MNIST (and any set in its format: Fashion-MNIST, KMNIST …): u8 images
//! and labels from IDX files, converted to `Matrix<f32|f64>` with a named
//! [`Normalisation`].
//!
//! The pixels stay u8 until the conversion (60 000 × 784 bytes = 47 MB for the
//! training images); one row of `x` is one image, row-major (pixel (r, c) of
//! image i is `x[(i, 28·r + c)]`), and `y` is the one-hot label.
//!
//! ```
//! use nn_data::mnist::{mnist, Normalisation};
//! let m = mnist::<f32>("../../datasets/mnist", Normalisation::Centered)?;
//! assert_eq!(m.train.labels.as_ref().unwrap()[0], 5);
//! assert_eq!(m.train.x.get(0, 14 * 28 + 14), 240.0 / 255.0 - 0.5);
//! assert_eq!(m.train.x.shape(), (60_000, 784));
//! let n = m.nielsen_split()?;
//! assert_eq!((n.train.len(), n.validation.len(), n.test.len()), (50_000, 10_000, 10_000));
//! # Ok::<(), nn_data::DataError>(())
//! ```

use std::path::{Path, PathBuf};

use nn_core::{Float, Matrix, RowSource};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::idx::read_idx;
use crate::transform::one_hot;

/// How a u8 pixel p ∈ 0..=255 becomes a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normalisation {
    /// p / 255 − 0.5, in [−0.5, 0.5] (the MNIST tutorial's).
    Centered,
    /// p / 255, in [0, 1] (Nielsen's).
    Unit,
    /// p itself, in [0, 255].
    Raw,
}

impl Normalisation {
    /// The value of pixel `p`.
    ///
    /// ```
    /// use nn_data::mnist::Normalisation;
    /// assert_eq!(Normalisation::Centered.apply(255), 0.5);
    /// assert_eq!(Normalisation::Unit.apply(51), 0.2);
    /// assert_eq!(Normalisation::Raw.apply(7), 7.0);
    /// ```
    pub fn apply(self, p: u8) -> f64 {
        match self {
            Normalisation::Centered => f64::from(p) / 255.0 - 0.5,
            Normalisation::Unit => f64::from(p) / 255.0,
            Normalisation::Raw => f64::from(p),
        }
    }

    /// All 256 values, converted once to `T` (the conversion then is a table look-up).
    fn table<T: Float>(self) -> [T; 256] {
        std::array::from_fn(|p| T::from_f64(self.apply(p as u8)))
    }

    /// (offset, divisor) such that (p − offset) / divisor is the value of
    /// pixel p in exact arithmetic.
    fn affine(self) -> (f64, f64) {
        match self {
            Normalisation::Centered => (127.5, 255.0),
            Normalisation::Unit => (0.0, 255.0),
            Normalisation::Raw => (0.0, 1.0),
        }
    }

    /// Whether (p − offset) / divisor computed in `T` gives, for every byte,
    /// the bits of the table (the f64 value rounded to `T`): then a row can be
    /// converted by arithmetic, which vectorises, instead of by look-ups.
    fn affine_is_exact<T: Float>(self) -> bool {
        let (offset, divisor) = self.affine();
        let (offset, divisor) = (T::from_f64(offset), T::from_f64(divisor));
        let table = self.table::<T>();
        (0..=255u8).all(|p| {
            let v = (T::from_f64(f64::from(p)) - offset) / divisor;
            v.to_f64().to_bits() == table[usize::from(p)].to_f64().to_bits()
        })
    }
}

/// `count` images of `rows × cols` u8 pixels, image after image, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Images {
    /// Number of images.
    pub count: usize,
    /// Pixel rows per image.
    pub rows: usize,
    /// Pixel columns per image.
    pub cols: usize,
    /// `count · rows · cols` bytes.
    pub pixels: Vec<u8>,
}

impl Images {
    /// Pixels per image (rows · cols).
    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// Image `i` as a slice of rows · cols bytes. Panics if `i ≥ count`.
    pub fn image(&self, i: usize) -> &[u8] {
        let d = self.pixels_per_image();
        &self.pixels[i * d..(i + 1) * d]
    }

    /// Pixel (r, c) of image `i`. Panics if out of range.
    pub fn pixel(&self, i: usize, r: usize, c: usize) -> u8 {
        assert!(r < self.rows && c < self.cols, "pixel ({r}, {c}) out of a {}×{} image", self.rows, self.cols);
        self.image(i)[r * self.cols + c]
    }

    /// A `count × (rows·cols)` matrix, one image per row, each pixel mapped by `norm`.
    pub fn to_matrix<T: Float>(&self, norm: Normalisation) -> Matrix<T> {
        let lut = norm.table::<T>();
        let data: Vec<T> = self.pixels.iter().map(|&p| lut[usize::from(p)]).collect();
        Matrix::from_vec(self.count, self.pixels_per_image(), data).expect("count · rows · cols pixels")
    }
}

/// Reads an IDX file of u8 images (rank 3: count × rows × cols).
pub fn read_images(path: impl AsRef<Path>) -> Result<Images> {
    let path = path.as_ref();
    let (dims, pixels) = read_idx(path)?.into_u8(3, "images", path)?;
    Ok(Images { count: dims[0], rows: dims[1], cols: dims[2], pixels })
}

/// Reads an IDX file of u8 labels (rank 1).
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    Ok(read_idx(path)?.into_u8(1, "labels", path)?.1)
}

/// Images with one label each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelledImages {
    /// The images.
    pub images: Images,
    /// `labels[i]` is the class of image i.
    pub labels: Vec<u8>,
    /// Where the labels came from (named in label errors).
    pub labels_path: PathBuf,
}

impl LabelledImages {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True if there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// How many samples carry each label 0..classes (labels ≥ classes are not counted).
    pub fn label_counts(&self, classes: usize) -> Vec<usize> {
        let mut counts = vec![0; classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(usize::from(l)) {
                *c += 1;
            }
        }
        counts
    }

    /// x = the images mapped by `norm` (count × rows·cols), y = one-hot labels
    /// (count × classes), plus the labels. Errors if a label is ≥ `classes`.
    pub fn to_dataset<T: Float>(&self, norm: Normalisation, classes: usize) -> Result<Dataset<T>> {
        let labels = self.checked_labels(classes)?;
        Dataset::new(self.images.to_matrix(norm), one_hot(&labels, classes)?)?.with_labels(labels)
    }

    /// The labels as `usize`; errors naming the file and record if one is ≥ `classes`.
    fn checked_labels(&self, classes: usize) -> Result<Vec<usize>> {
        if let Some((i, &l)) = self.labels.iter().enumerate().find(|(_, &l)| usize::from(l) >= classes) {
            return Err(DataError::BadLabel {
                path: self.labels_path.clone(),
                record: i,
                value: l.to_string(),
                classes,
            });
        }
        Ok(self.labels.iter().map(|&l| usize::from(l)).collect())
    }

    /// Like [`LabelledImages::to_dataset`], but the images stay bytes: x is a
    /// [`PixelRows`] that converts rows with `norm` as they are read (47 MB
    /// for MNIST's training images instead of 188 MB as `f32`). Consumes
    /// `self` (no copy of the pixels).
    pub fn into_pixel_set<T: Float>(self, norm: Normalisation, classes: usize) -> Result<PixelSet<T>> {
        let labels = self.checked_labels(classes)?;
        let y = one_hot(&labels, classes)?;
        Ok(PixelSet { x: PixelRows::new(self.images, norm), y, labels })
    }
}

/// Images kept as u8 and read as rows of `f32` or `f64` through a
/// [`Normalisation`]: a [`RowSource`], so a trainer gathers mini-batches
/// straight from the bytes. Row i reads exactly as row i of
/// [`Images::to_matrix`] (the same conversion, through a 256-entry table).
///
/// ```
/// use nn_core::{Matrix, RowSource};
/// use nn_data::mnist::{Images, Normalisation, PixelRows};
/// let images = Images { count: 2, rows: 1, cols: 2, pixels: vec![0, 255, 51, 102] };
/// let rows = PixelRows::new(images.clone(), Normalisation::Unit);
/// let mut out = [0.0f32; 2];
/// rows.copy_row(1, &mut out);
/// assert_eq!(out, [0.2, 0.4]);
/// assert_eq!(rows.to_matrix::<f32>(), images.to_matrix::<f32>(Normalisation::Unit));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PixelRows {
    images: Images,
    norm: Normalisation,
    lut: [f64; 256],
    /// Whether the normalisation's arithmetic gives the table's bits in f32
    /// and in f64 (see `Normalisation::affine_is_exact`).
    exact: (bool, bool),
}

impl PixelRows {
    /// `images`, one per row, each pixel read through `norm`.
    pub fn new(images: Images, norm: Normalisation) -> Self {
        let exact = (norm.affine_is_exact::<f32>(), norm.affine_is_exact::<f64>());
        PixelRows { images, norm, lut: norm.table::<f64>(), exact }
    }

    /// The bytes.
    pub fn images(&self) -> &Images {
        &self.images
    }

    /// The normalisation applied when reading.
    pub fn normalisation(&self) -> Normalisation {
        self.norm
    }

    /// Number of images (rows).
    pub fn len(&self) -> usize {
        self.images.count
    }

    /// True if there are no images.
    pub fn is_empty(&self) -> bool {
        self.images.count == 0
    }

    /// Every row converted: the same matrix as [`Images::to_matrix`].
    pub fn to_matrix<T: Float>(&self) -> Matrix<T> {
        self.images.to_matrix(self.norm)
    }

    /// The first `n` images and the rest (the pixels are moved, not copied).
    /// Errors if `n` exceeds the count.
    pub fn into_split(self, n: usize) -> Result<(Self, Self)> {
        let count = self.images.count;
        if n > count {
            return Err(DataError::invalid("PixelRows::into_split", format!("at most {count} images"), n));
        }
        let Images { rows, cols, mut pixels, .. } = self.images;
        let tail = pixels.split_off(n * rows * cols);
        let head = Images { count: n, rows, cols, pixels };
        let tail = Images { count: count - n, rows, cols, pixels: tail };
        Ok((PixelRows::new(head, self.norm), PixelRows::new(tail, self.norm)))
    }
}

impl<T: Float> RowSource<T> for PixelRows {
    fn n_rows(&self) -> usize {
        self.images.count
    }

    fn n_cols(&self) -> usize {
        self.images.pixels_per_image()
    }

    #[inline]
    fn copy_row(&self, i: usize, out: &mut [T]) {
        let exact = match T::NAME {
            "f32" => self.exact.0,
            "f64" => self.exact.1,
            _ => false,
        };
        if exact {
            // the table's bits, by arithmetic that runs a vector of pixels at a time
            let (offset, divisor) = self.norm.affine();
            nn_core::vector::bytes_scaled(out, self.images.image(i), T::from_f64(offset), T::from_f64(divisor));
        } else {
            let lut = &self.lut;
            out.iter_mut().zip(self.images.image(i)).for_each(|(o, &p)| *o = T::from_f64(lut[usize::from(p)]));
        }
    }

    fn prefetch_row(&self, i: usize) {
        if i < self.images.count {
            nn_core::rows::prefetch(self.images.image(i));
        }
    }

    /// Pixels are bytes and every normalisation is finite.
    fn first_non_finite(&self) -> Option<(usize, usize, f64)> {
        None
    }
}

/// A labelled image set whose images stay bytes ([`PixelRows`]); y is one-hot.
#[derive(Clone, Debug, PartialEq)]
pub struct PixelSet<T> {
    /// The images, one per row.
    pub x: PixelRows,
    /// One-hot targets, one row per image.
    pub y: Matrix<T>,
    /// The class of each image.
    pub labels: Vec<usize>,
}

impl<T: Float> PixelSet<T> {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True if there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The first `n` samples and the rest (moved, not copied). Errors if `n`
    /// exceeds the number of samples.
    pub fn into_split(self, n: usize) -> Result<(Self, Self)> {
        let (x_head, x_tail) = self.x.into_split(n)?;
        let (y_head, y_tail) = crate::dataset::split_rows(self.y, n)?;
        let mut labels = self.labels;
        let tail = labels.split_off(n);
        Ok((PixelSet { x: x_head, y: y_head, labels }, PixelSet { x: x_tail, y: y_tail, labels: tail }))
    }

    /// The set with its images converted: a [`Dataset`] with labels.
    pub fn to_dataset(&self) -> Result<Dataset<T>> {
        Dataset::new(self.x.to_matrix(), self.y.clone())?.with_labels(self.labels.clone())
    }
}

/// MNIST with the images kept as bytes (see [`PixelRows`]).
#[derive(Clone, Debug, PartialEq)]
pub struct MnistPixels<T> {
    /// The 60 000 training samples.
    pub train: PixelSet<T>,
    /// The 10 000 test samples.
    pub test: PixelSet<T>,
}

/// Loads MNIST from `dir` (see [`mnist_u8`]) keeping the pixels as bytes,
/// read through `norm` (about 55 MB in all, instead of 220 MB as `f32`).
///
/// ```
/// use nn_core::RowSource;
/// use nn_data::mnist::{mnist, mnist_pixels, Normalisation};
/// let compact = mnist_pixels::<f32>("../../datasets/mnist", Normalisation::Centered)?;
/// assert_eq!((compact.train.len(), compact.test.len()), (60_000, 10_000));
/// let mut row = vec![0.0f32; 784];
/// compact.train.x.copy_row(0, &mut row);
/// assert_eq!(row[14 * 28 + 14], 240.0 / 255.0 - 0.5);
/// assert_eq!(compact.test.to_dataset()?, mnist::<f32>("../../datasets/mnist", Normalisation::Centered)?.test);
/// # Ok::<(), nn_data::DataError>(())
/// ```
pub fn mnist_pixels<T: Float>(dir: impl AsRef<Path>, norm: Normalisation) -> Result<MnistPixels<T>> {
    let raw = mnist_u8(dir)?;
    Ok(MnistPixels { train: raw.train.into_pixel_set(norm, 10)?, test: raw.test.into_pixel_set(norm, 10)? })
}

/// Reads an images file and a labels file and checks that they agree in count.
pub fn read_labelled(images_path: impl AsRef<Path>, labels_path: impl AsRef<Path>) -> Result<LabelledImages> {
    let (images_path, labels_path) = (images_path.as_ref(), labels_path.as_ref());
    let images = read_images(images_path)?;
    let labels = read_labels(labels_path)?;
    if images.count != labels.len() {
        return Err(DataError::CountMismatch {
            images_path: images_path.to_path_buf(),
            images: images.count,
            labels_path: labels_path.to_path_buf(),
            labels: labels.len(),
        });
    }
    Ok(LabelledImages { images, labels, labels_path: labels_path.to_path_buf() })
}

/// `dir/stem.gz` if it exists, else `dir/stem` if that exists, else `dir/stem.gz`
/// (whose absence the reader then reports).
fn find(dir: &Path, stem: &str) -> PathBuf {
    let gz = dir.join(format!("{stem}.gz"));
    let plain = dir.join(stem);
    if !gz.exists() && plain.exists() {
        plain
    } else {
        gz
    }
}

/// The four MNIST files of a directory, as u8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MnistU8 {
    /// `train-images-idx3-ubyte` and `train-labels-idx1-ubyte` (60 000 for MNIST).
    pub train: LabelledImages,
    /// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte` (10 000 for MNIST).
    pub test: LabelledImages,
}

/// Reads `train-{images-idx3,labels-idx1}-ubyte` and `t10k-…` from `dir`,
/// each gzipped (`.gz`) or plain, keeping the pixels as u8.
pub fn mnist_u8(dir: impl AsRef<Path>) -> Result<MnistU8> {
    let dir = dir.as_ref();
    let train = read_labelled(find(dir, "train-images-idx3-ubyte"), find(dir, "train-labels-idx1-ubyte"))?;
    let test = read_labelled(find(dir, "t10k-images-idx3-ubyte"), find(dir, "t10k-labels-idx1-ubyte"))?;
    Ok(MnistU8 { train, test })
}

/// MNIST as matrices: x with one image per row, y one-hot over 10 classes.
#[derive(Clone, Debug, PartialEq)]
pub struct Mnist<T> {
    /// The 60 000 training samples.
    pub train: Dataset<T>,
    /// The 10 000 test samples.
    pub test: Dataset<T>,
}

/// Nielsen's three-way split of MNIST.
#[derive(Clone, Debug, PartialEq)]
pub struct NielsenSplit<T> {
    /// The first 50 000 training samples.
    pub train: Dataset<T>,
    /// The last 10 000 training samples.
    pub validation: Dataset<T>,
    /// The 10 000 test samples.
    pub test: Dataset<T>,
}

/// Number of samples Nielsen holds out of the training file for validation.
pub const NIELSEN_VALIDATION: usize = 10_000;

/// Loads MNIST from `dir` (see [`mnist_u8`]) and converts it with `norm`;
/// the u8 copy is dropped once converted.
pub fn mnist<T: Float>(dir: impl AsRef<Path>, norm: Normalisation) -> Result<Mnist<T>> {
    let raw = mnist_u8(dir)?;
    Ok(Mnist { train: raw.train.to_dataset(norm, 10)?, test: raw.test.to_dataset(norm, 10)? })
}

/// Where Nielsen's split cuts a training set of `n` samples: n − 10 000.
fn nielsen_cut(context: &'static str, n: usize) -> Result<usize> {
    n.checked_sub(NIELSEN_VALIDATION).ok_or_else(|| DataError::invalid(context, "at least 10000 training samples", n))
}

impl<T: Float> Mnist<T> {
    /// Nielsen's split: the first n − 10 000 training samples train, the last
    /// 10 000 validate, the test set is unchanged. Moves the data (no copy).
    /// Errors if the training set has fewer than 10 000 samples.
    pub fn nielsen_split(self) -> Result<NielsenSplit<T>> {
        let at = nielsen_cut("Mnist::nielsen_split", self.train.len())?;
        let (train, validation) = self.train.into_split(at)?;
        Ok(NielsenSplit { train, validation, test: self.test })
    }
}

impl<T: Float> MnistPixels<T> {
    /// Nielsen's split of the sets kept as bytes, as [`Mnist::nielsen_split`]:
    /// (train, validation, test). Moves the pixels (no copy).
    ///
    /// ```
    /// use nn_data::mnist::{mnist_pixels, Normalisation};
    /// let (train, validation, test) = mnist_pixels::<f32>("../../datasets/mnist", Normalisation::Unit)?.nielsen_split()?;
    /// assert_eq!((train.len(), validation.len(), test.len()), (50_000, 10_000, 10_000));
    /// # Ok::<(), nn_data::DataError>(())
    /// ```
    pub fn nielsen_split(self) -> Result<(PixelSet<T>, PixelSet<T>, PixelSet<T>)> {
        let at = nielsen_cut("MnistPixels::nielsen_split", self.train.len())?;
        let (train, validation) = self.train.into_split(at)?;
        Ok((train, validation, self.test))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::RowSource;

    /// Every byte value, in each normalisation and both float types: a row
    /// read by `copy_row` (by arithmetic where that is exact) has the bits of
    /// the table look-up.
    fn rows_equal_the_table<T: Float>() {
        let images = Images { count: 2, rows: 16, cols: 16, pixels: (0..512).map(|i| (i * 37 % 256) as u8).collect() };
        for norm in [Normalisation::Centered, Normalisation::Unit, Normalisation::Raw] {
            let rows = PixelRows::new(images.clone(), norm);
            let table = images.to_matrix::<T>(norm);
            let mut out = vec![T::ZERO; 256];
            for i in 0..2 {
                rows.copy_row(i, &mut out);
                let bits = |v: &[T]| v.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&out), bits(table.row(i)), "{norm:?} {}", T::NAME);
            }
        }
    }

    #[test]
    fn converted_rows_have_the_bits_of_the_table() {
        rows_equal_the_table::<f32>();
        rows_equal_the_table::<f64>();
        // the arithmetic path is the one f32 training takes for every normalisation
        for norm in [Normalisation::Centered, Normalisation::Unit, Normalisation::Raw] {
            assert!(norm.affine_is_exact::<f32>(), "{norm:?}");
        }
    }
}
