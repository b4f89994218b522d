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

use nn_core::{Float, Matrix};

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
        if let Some((i, &l)) = self.labels.iter().enumerate().find(|(_, &l)| usize::from(l) >= classes) {
            return Err(DataError::BadLabel {
                path: self.labels_path.clone(),
                record: i,
                value: l.to_string(),
                classes,
            });
        }
        let labels: Vec<usize> = self.labels.iter().map(|&l| usize::from(l)).collect();
        Dataset::new(self.images.to_matrix(norm), one_hot(&labels, classes)?)?.with_labels(labels)
    }
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

impl<T: Float> Mnist<T> {
    /// Nielsen's split: the first n − 10 000 training samples train, the last
    /// 10 000 validate, the test set is unchanged. Moves the data (no copy).
    /// Errors if the training set has fewer than 10 000 samples.
    pub fn nielsen_split(self) -> Result<NielsenSplit<T>> {
        let n = self.train.len();
        let at = n
            .checked_sub(NIELSEN_VALIDATION)
            .ok_or_else(|| DataError::invalid("Mnist::nielsen_split", "at least 10000 training samples", n))?;
        let (train, validation) = self.train.into_split(at)?;
        Ok(NielsenSplit { train, validation, test: self.test })
    }
}
