//! The [`Collective`] over MPI (feature `mpi`, off by default: it needs an
//! MPI library, e.g. Debian's `openmpi-bin libopenmpi-dev`, and
//! `libclang-dev` to generate the bindings).
//!
//! Start every rank with `mpirun -np P <program>`, and in each one
//! [`MpiCollective::init`] once, before training:
//!
//! ```no_run
//! # use std::sync::Arc;
//! use nn_train::collective::Combine;
//! use nn_train::mpi::MpiCollective;
//! let mpi = Arc::new(MpiCollective::init(Combine::Exact)?);
//! println!("rank {} of {}", mpi.rank(), mpi.ranks());
//! // Trainer::new(&config)…collective(mpi.clone()).fit(&mut net)
//! # Ok::<(), nn_train::collective::CollectiveError>(())
//! ```
//!
//! MPI's handles may be used by one thread only, and training runs on a
//! rayon pool, so the MPI calls are made on a thread of their own, which
//! initialises MPI, serves the trainer's requests over a channel and
//! finalises MPI when the last handle is dropped (so drop it before the
//! process exits, or the launcher reports the rank as failed). A request
//! hands the thread reusable buffers: two copies of the values per
//! exchange, a few microseconds for a 50 000-parameter network.
//!
//! MPI's default error handler aborts the whole job on a communication
//! error, and a rank that dies makes `mpirun` end the others; a rank whose
//! own code fails should call [`MpiCollective::abort`], which ends every
//! rank (so none waits forever in a collective) and makes `mpirun` exit
//! non-zero.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

use ::mpi::collective::SystemOperation;
use ::mpi::datatype::PartitionMut;
use ::mpi::traits::{Communicator, CommunicatorCollectives};
use ::mpi::Threading;

use crate::collective::{Collective, CollectiveError, Combine};

mod sealed {
    /// Values on the wire, f32 or f64.
    pub enum Payload {
        F32(Vec<f32>),
        F64(Vec<f64>),
    }

    /// The element types the MPI collective moves: f32 and f64.
    pub trait Wire: Copy + Default + Send + Sync + 'static {
        /// Wraps a vector.
        fn wrap(v: Vec<Self>) -> Payload;
        /// Unwraps one of this type.
        fn unwrap(p: Payload) -> Option<Vec<Self>>;
        /// Whether `p` holds this type.
        fn holds(p: &Payload) -> bool;
    }

    impl Wire for f32 {
        fn wrap(v: Vec<Self>) -> Payload {
            Payload::F32(v)
        }
        fn unwrap(p: Payload) -> Option<Vec<Self>> {
            match p {
                Payload::F32(v) => Some(v),
                Payload::F64(_) => None,
            }
        }
        fn holds(p: &Payload) -> bool {
            matches!(p, Payload::F32(_))
        }
    }

    impl Wire for f64 {
        fn wrap(v: Vec<Self>) -> Payload {
            Payload::F64(v)
        }
        fn unwrap(p: Payload) -> Option<Vec<Self>> {
            match p {
                Payload::F64(v) => Some(v),
                Payload::F32(_) => None,
            }
        }
        fn holds(p: &Payload) -> bool {
            matches!(p, Payload::F64(_))
        }
    }
}

use sealed::Payload;
pub use sealed::Wire;

/// A request to the MPI thread; each carries its reply channel.
enum Request {
    AllGather { send: Payload, recv: Payload, counts: Vec<i32>, reply: Sender<(Payload, Payload)> },
    AllReduce { send: Payload, recv: Payload, reply: Sender<(Payload, Payload)> },
    GatherU64 { value: u64, reply: Sender<Vec<u64>> },
    Abort { code: i32 },
}

/// One rank of an MPI job (see the module docs).
pub struct MpiCollective {
    rank: usize,
    ranks: usize,
    combine: Combine,
    host: String,
    requests: Mutex<Option<Sender<Request>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Buffers handed back by the MPI thread, for the next requests.
    spare: Mutex<Vec<Payload>>,
}

fn lost() -> CollectiveError {
    CollectiveError("the MPI thread has stopped (MPI failed or was finalised)".into())
}

impl MpiCollective {
    /// Initialises MPI (on a thread of its own) and joins the job `mpirun`
    /// started; a program started without `mpirun` is a job of one rank.
    /// Errors if MPI was initialised already in this process.
    pub fn init(combine: Combine) -> Result<MpiCollective, CollectiveError> {
        let (tx, rx) = channel::<Request>();
        let (ready_tx, ready_rx) = channel::<Result<(usize, usize, String), String>>();
        let thread = std::thread::Builder::new()
            .name("nn-train-mpi".into())
            .spawn(move || serve(rx, ready_tx))
            .map_err(|e| CollectiveError(format!("cannot start the MPI thread: {e}")))?;
        let (rank, ranks, host) = ready_rx.recv().map_err(|_| lost())?.map_err(CollectiveError)?;
        Ok(MpiCollective {
            rank,
            ranks,
            combine,
            host,
            requests: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            spare: Mutex::new(Vec::new()),
        })
    }

    /// This rank, 0 … P − 1.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks, P.
    pub fn ranks(&self) -> usize {
        self.ranks
    }

    /// The name of the machine this rank runs on (`MPI_Get_processor_name`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Ends every rank of the job with exit code `code` (`MPI_Abort`): for a
    /// rank whose own work failed, so that no other rank waits for it.
    pub fn abort(&self, code: i32) -> ! {
        let _ = self.send(Request::Abort { code });
        // MPI_Abort ends this process too; should it return, end it here
        std::thread::sleep(std::time::Duration::from_secs(30));
        std::process::exit(code)
    }

    /// Finalises MPI: waits for the MPI thread to end. Also done on drop.
    pub fn finalize(&self) {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(t) = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = t.join();
        }
    }

    fn send(&self, r: Request) -> Result<(), CollectiveError> {
        let guard = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        guard.as_ref().ok_or_else(lost)?.send(r).map_err(|_| lost())
    }

    /// A buffer of `len` values of T, reused when one is spare.
    fn buffer<T: Wire>(&self, len: usize) -> Vec<T> {
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        let found = spare.iter().position(T::holds);
        let mut v = found.and_then(|i| T::unwrap(spare.swap_remove(i))).unwrap_or_default();
        v.clear();
        v.resize(len, T::default());
        v
    }

    fn give_back(&self, p: Payload) {
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.len() < 4 {
            spare.push(p);
        }
    }

    fn exchange<T: Wire>(
        &self,
        make: impl FnOnce(Payload, Payload, Sender<(Payload, Payload)>) -> Request,
        send: &[T],
        recv_len: usize,
    ) -> Result<Vec<T>, CollectiveError> {
        let mut s = self.buffer::<T>(send.len());
        s.copy_from_slice(send);
        let r = self.buffer::<T>(recv_len);
        let (reply_tx, reply_rx) = channel();
        self.send(make(T::wrap(s), T::wrap(r), reply_tx))?;
        let (s, r) = reply_rx.recv().map_err(|_| lost())?;
        self.give_back(s);
        T::unwrap(r).ok_or_else(|| CollectiveError("the MPI thread returned another type".into()))
    }
}

impl Drop for MpiCollective {
    fn drop(&mut self) {
        self.finalize();
    }
}

fn counts_i32(counts: &[usize]) -> Result<Vec<i32>, CollectiveError> {
    let total: usize = counts.iter().sum();
    if i32::try_from(total).is_err() {
        return Err(CollectiveError(format!(
            "an exchange of {total} values is beyond MPI's count (2³¹ − 1): use fewer or smaller shards"
        )));
    }
    Ok(counts.iter().map(|&c| c as i32).collect())
}

impl<T: Wire> Collective<T> for MpiCollective {
    fn rank(&self) -> usize {
        self.rank
    }
    fn ranks(&self) -> usize {
        self.ranks
    }
    fn combine(&self) -> Combine {
        self.combine
    }
    fn all_gather(&self, mine: &[T], all: &mut [T], counts: &[usize]) -> Result<(), CollectiveError> {
        crate::collective::check_counts(mine.len(), all.len(), counts, self.rank, self.ranks)?;
        let counts = counts_i32(counts)?;
        let got =
            self.exchange(|send, recv, reply| Request::AllGather { send, recv, counts, reply }, mine, all.len())?;
        all.copy_from_slice(&got);
        self.give_back(T::wrap(got));
        Ok(())
    }
    fn all_reduce_sum(&self, buf: &mut [T]) -> Result<(), CollectiveError> {
        counts_i32(&[buf.len()])?;
        let got = self.exchange(|send, recv, reply| Request::AllReduce { send, recv, reply }, buf, buf.len())?;
        buf.copy_from_slice(&got);
        self.give_back(T::wrap(got));
        Ok(())
    }
    fn all_gather_u64(&self, value: u64) -> Result<Vec<u64>, CollectiveError> {
        let (reply, rx) = channel();
        self.send(Request::GatherU64 { value, reply })?;
        rx.recv().map_err(|_| lost())
    }
}

/// The MPI thread: initialises MPI, answers requests until every sender is
/// gone, then finalises (the universe's drop).
fn serve(requests: Receiver<Request>, ready: Sender<Result<(usize, usize, String), String>>) {
    let Some((universe, _)) = ::mpi::initialize_with_threading(Threading::Funneled) else {
        let _ = ready.send(Err("MPI is initialised already in this process".into()));
        return;
    };
    let world = universe.world();
    let host = ::mpi::environment::processor_name().unwrap_or_else(|_| "?".into());
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    if ready.send(Ok((rank, size, host))).is_err() {
        return;
    }
    for request in requests {
        match request {
            Request::AllGather { send, mut recv, counts, reply } => {
                let displs: Vec<i32> = counts
                    .iter()
                    .scan(0i32, |at, &c| {
                        let d = *at;
                        *at += c;
                        Some(d)
                    })
                    .collect();
                match (&send, &mut recv) {
                    (Payload::F32(s), Payload::F32(r)) => {
                        let mut p = PartitionMut::new(&mut r[..], &counts[..], &displs[..]);
                        world.all_gather_varcount_into(&s[..], &mut p);
                    }
                    (Payload::F64(s), Payload::F64(r)) => {
                        let mut p = PartitionMut::new(&mut r[..], &counts[..], &displs[..]);
                        world.all_gather_varcount_into(&s[..], &mut p);
                    }
                    _ => {}
                }
                let _ = reply.send((send, recv));
            }
            Request::AllReduce { send, mut recv, reply } => {
                match (&send, &mut recv) {
                    (Payload::F32(s), Payload::F32(r)) => {
                        world.all_reduce_into(&s[..], &mut r[..], SystemOperation::sum())
                    }
                    (Payload::F64(s), Payload::F64(r)) => {
                        world.all_reduce_into(&s[..], &mut r[..], SystemOperation::sum())
                    }
                    _ => {}
                }
                let _ = reply.send((send, recv));
            }
            Request::GatherU64 { value, reply } => {
                let mut all = vec![0u64; size];
                world.all_gather_into(&value, &mut all[..]);
                let _ = reply.send(all);
            }
            Request::Abort { code } => world.abort(code),
        }
    }
}
