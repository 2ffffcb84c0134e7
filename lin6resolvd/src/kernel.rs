//! The kernel side: node set, map add with lifetime, and the event stream.
//!
//! Behind the small [`Kernel`] trait so that the resolver's logic runs on the
//! host against [`MemKernel`], an in-memory table, while DNS, the MAs and the
//! sockets stay real. [`NetlinkKernel`] is lin6.ko through `lin6::netlink`.
//!
//! Netlink calls are synchronous (each bounded by the client's timeout); the
//! daemon makes them through [`KernelHandle::call`], on tokio's blocking
//! pool, so a slow kernel never holds up the event loop, except the install
//! on a handover's path, [`KernelHandle::call_now`].

use std::collections::HashMap;
use std::net::{Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lin6::addr::{NodeId, Prefix64};
use lin6::netlink::{Client, Event, EventStream, Lifetime, MapNew, Mapping, Node, NodeSet};
use tokio::io::unix::AsyncFd;
use tokio::sync::{Notify, mpsc};
use tracing::{debug, info, warn};

use crate::error::KernelError;

/// What the resolver needs from the kernel.
pub trait Kernel: Send + 'static {
    fn node_get(&mut self) -> Result<Node, KernelError>;
    fn node_set(&mut self, set: &NodeSet) -> Result<(), KernelError>;
    fn map_new(&mut self, m: &MapNew) -> Result<(), KernelError>;
    /// `Ok(None)` when the table has no mapping for `node`.
    fn map_get(&mut self, node: NodeId) -> Result<Option<Mapping>, KernelError>;
    /// Talks to the kernel anew (a reloaded module has a new generic netlink
    /// family). A kernel that cannot go away has nothing to do.
    fn reconnect(&mut self) -> Result<(), KernelError> {
        Ok(())
    }
    /// Where a datagram sent to a peer's LIN6 address really goes. With
    /// lin6.ko the datapath translates, so this is the LIN6 address itself;
    /// a stand-in kernel that translates nothing says where the peer is.
    fn datagram_target(&self, lin6_address: Ipv6Addr, port: u16) -> SocketAddr {
        SocketAddr::new(lin6_address.into(), port)
    }
}

/// A kernel shared between tasks.
#[derive(Clone)]
pub struct KernelHandle(Arc<Mutex<dyn Kernel>>);

impl KernelHandle {
    pub fn new<K: Kernel>(k: K) -> KernelHandle {
        KernelHandle(Arc::new(Mutex::new(k)))
    }

    /// Runs `f` on the blocking pool.
    pub async fn call<T, F>(&self, f: F) -> Result<T, KernelError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Kernel) -> Result<T, KernelError> + Send + 'static,
    {
        let k = self.0.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave the kernel's own
            // state half-changed; the guard is still usable.
            let mut g = k.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut *g)
        })
        .await
        .map_err(|e| KernelError(format!("kernel task: {e}")))?
    }

    /// Runs `f` on this thread when the kernel is free, else as [`call`]
    /// does. For the calls on a handover's path (installing the mapping a
    /// peer's MA just gave): lin6.ko answers a request within the sendmsg
    /// that carries it, so the call is two syscalls and never waits on
    /// another task, while a hop to the blocking pool and back is two
    /// thread wake-ups, each a scheduling delay on a loaded host (a
    /// millisecond and more in an emulated guest). A call already running
    /// on the pool (a slow one, say while lin6.ko reloads) holds the lock:
    /// then this one queues behind it there, never on the event loop.
    ///
    /// [`call`]: KernelHandle::call
    pub async fn call_now<T, F>(&self, f: F) -> Result<T, KernelError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Kernel) -> Result<T, KernelError> + Send + 'static,
    {
        match self.0.try_lock() {
            Ok(mut g) => return f(&mut *g),
            Err(std::sync::TryLockError::Poisoned(p)) => return f(&mut *p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => {}
        }
        self.call(f).await
    }

    pub fn datagram_target(&self, lin6_address: Ipv6Addr, port: u16) -> SocketAddr {
        let g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        g.datagram_target(lin6_address, port)
    }
}

/// lin6.ko over generic netlink.
pub struct NetlinkKernel(Client);

impl NetlinkKernel {
    pub fn connect() -> Result<NetlinkKernel, KernelError> {
        Ok(NetlinkKernel(Client::connect()?))
    }
}

impl Kernel for NetlinkKernel {
    fn node_get(&mut self) -> Result<Node, KernelError> {
        Ok(self.0.node_get()?)
    }

    fn node_set(&mut self, set: &NodeSet) -> Result<(), KernelError> {
        Ok(self.0.node_set(set)?)
    }

    fn map_new(&mut self, m: &MapNew) -> Result<(), KernelError> {
        Ok(self.0.map_new(m)?)
    }

    fn reconnect(&mut self) -> Result<(), KernelError> {
        self.0 = Client::connect()?;
        Ok(())
    }

    fn map_get(&mut self, node: NodeId) -> Result<Option<Mapping>, KernelError> {
        match self.0.map_get(node) {
            Ok(m) => Ok(Some(m)),
            Err(lin6::netlink::Error::NoSuchEntry(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Reads the kernel's events into `tx`. A full queue drops the event: a
/// miss is raised again while packets wait, and a prefix event is also
/// caught by the next periodic registration. When `resubscribe` is notified
/// (a reloaded lin6.ko: its events group is a new one) or the socket fails,
/// the group is joined again, retrying every second while lin6.ko is away.
pub fn spawn_event_reader(
    tx: mpsc::Sender<Event>,
    resubscribe: Arc<Notify>,
) -> Result<tokio::task::JoinHandle<()>, KernelError> {
    let first = subscribe()?;
    Ok(tokio::spawn(async move {
        let mut fd = Some(first);
        loop {
            let Some(f) = fd.as_mut() else {
                tokio::time::sleep(Duration::from_secs(1)).await;
                match subscribe() {
                    Ok(f) => {
                        info!("kernel events: subscribed again");
                        fd = Some(f);
                    }
                    Err(e) => debug!("kernel events: {e}"),
                }
                continue;
            };
            let mut guard = tokio::select! {
                g = f.readable_mut() => match g {
                    Ok(g) => g,
                    Err(e) => {
                        warn!("kernel event socket: {e}");
                        fd = None;
                        continue;
                    }
                },
                _ = resubscribe.notified() => {
                    fd = None;
                    continue;
                }
            };
            match guard.try_io(|s| s.get_mut().recv_batch()) {
                Err(_would_block) => continue,
                Ok(Err(e)) if e.raw_os_error() == Some(libc_enobufs()) => {
                    warn!("kernel events were lost (socket buffer overrun)");
                }
                Ok(Err(e)) => {
                    warn!(
                        "kernel event socket (fd {}): {e}; joining again",
                        guard.get_ref().as_raw_fd()
                    );
                    drop(guard);
                    fd = None;
                }
                Ok(Ok(batch)) => {
                    for ev in batch {
                        match ev {
                            Ok(ev) => {
                                if tx.try_send(ev).is_err() {
                                    debug!("event queue full, dropped {ev}");
                                }
                            }
                            Err(e) => warn!("malformed kernel event: {e}"),
                        }
                    }
                }
            }
        }
    }))
}

fn subscribe() -> Result<AsyncFd<EventStream>, KernelError> {
    let stream = EventStream::subscribe()?;
    stream.set_nonblocking(true)?;
    // SAFETY: the EventStream owns its netlink socket for as long as it
    // lives (it is moved into the AsyncFd and never taken out), and its
    // as_raw_fd() always returns that one descriptor.
    unsafe { AsyncFd::register_with_interest(stream, tokio::io::Interest::READABLE) }
        .map_err(|e| KernelError(format!("event socket: {e}")))
}

// ENOBUFS without another dependency: its value is fixed on Linux.
const fn libc_enobufs() -> i32 {
    105
}

/// An in-memory kernel: the node and a mapping table with lifetimes. Cloned
/// handles share state, so a test can look at what the resolver installed.
#[derive(Clone, Default)]
pub struct MemKernel {
    inner: Arc<Mutex<MemState>>,
}

#[derive(Default)]
struct MemState {
    node: Option<Node>,
    table: HashMap<NodeId, (Prefix64, Lifetime, Instant)>,
    /// The Node IDs whose mapping carries the `pool` flag.
    pools: std::collections::HashSet<NodeId>,
    targets: HashMap<Ipv6Addr, SocketAddr>,
    map_news: u64,
}

impl MemKernel {
    pub fn new() -> MemKernel {
        MemKernel::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MemState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the locator as lin6.ko would on seeing an address with our
    /// Node ID appear (the test then sends the PREFIX event).
    pub fn set_locator(&self, locator: Ipv6Addr) {
        let mut s = self.state();
        let n = s.node.get_or_insert_with(empty_node);
        n.locator = Some(locator);
    }

    /// Datagrams to `lin6_address` go to `to` (a test's socket).
    pub fn route_datagrams(&self, lin6_address: Ipv6Addr, to: SocketAddr) {
        self.state().targets.insert(lin6_address, to);
    }

    /// The live mapping of `node`: prefix and seconds left.
    pub fn mapping(&self, node: NodeId) -> Option<(Prefix64, Option<u32>)> {
        let s = self.state();
        let (p, l, at) = s.table.get(&node)?;
        match l {
            Lifetime::Static => Some((*p, None)),
            Lifetime::Seconds(secs) => {
                let left = u64::from(secs.get()).checked_sub(at.elapsed().as_secs())?;
                Some((*p, Some(u32::try_from(left).unwrap_or(u32::MAX))))
            }
        }
    }

    /// Whether `node`'s mapping was installed with the `pool` flag.
    pub fn is_pool(&self, node: NodeId) -> bool {
        self.state().pools.contains(&node)
    }

    /// How many map-new calls the resolver made.
    pub fn map_news(&self) -> u64 {
        self.state().map_news
    }

    pub fn node(&self) -> Option<Node> {
        self.state().node.clone()
    }
}

fn empty_node() -> Node {
    Node {
        node_id: None,
        lin6_prefix: None,
        locator: None,
        capacity: 4096,
        count: 0,
    }
}

impl Kernel for MemKernel {
    fn node_get(&mut self) -> Result<Node, KernelError> {
        Ok(self.state().node.clone().unwrap_or_else(empty_node))
    }

    fn node_set(&mut self, set: &NodeSet) -> Result<(), KernelError> {
        let mut s = self.state();
        let n = s.node.get_or_insert_with(empty_node);
        if let Some(id) = set.node_id {
            n.node_id = Some(id);
        }
        if let Some(p) = set.lin6_prefix {
            n.lin6_prefix = Some(p);
        }
        if let Some(l) = set.locator {
            n.locator = Some(l);
        }
        Ok(())
    }

    fn map_new(&mut self, m: &MapNew) -> Result<(), KernelError> {
        let mut s = self.state();
        s.map_news += 1;
        s.table
            .insert(m.node_id, (m.prefix, m.lifetime, Instant::now()));
        if m.pool {
            s.pools.insert(m.node_id);
        } else {
            s.pools.remove(&m.node_id);
        }
        Ok(())
    }

    fn map_get(&mut self, node: NodeId) -> Result<Option<Mapping>, KernelError> {
        drop(self.state());
        Ok(self.mapping(node).map(|(prefix, left)| Mapping {
            node_id: node,
            prefix,
            lifetime: left.unwrap_or(0),
            is_static: left.is_none(),
            pool: self.is_pool(node),
        }))
    }

    fn datagram_target(&self, lin6_address: Ipv6Addr, port: u16) -> SocketAddr {
        self.state()
            .targets
            .get(&lin6_address)
            .copied()
            .unwrap_or(SocketAddr::new(lin6_address.into(), port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[tokio::test(flavor = "current_thread")]
    async fn call_now_runs_on_the_event_loop_when_the_kernel_is_free() {
        let k = KernelHandle::new(MemKernel::new());
        let here = thread::current().id();
        let ran_on = k.call_now(|_| Ok(thread::current().id())).await.unwrap();
        assert_eq!(ran_on, here);
        let pooled = k.call(|_| Ok(thread::current().id())).await.unwrap();
        assert_ne!(pooled, here, "call goes to the blocking pool");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn call_now_queues_on_the_pool_behind_a_call_in_progress() {
        let k = KernelHandle::new(MemKernel::new());
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let slow = {
            let k = k.clone();
            tokio::spawn(async move {
                k.call(move |_| {
                    started_tx.send(()).unwrap();
                    thread::sleep(Duration::from_millis(300));
                    Ok(())
                })
                .await
            })
        };
        // The slow call holds the kernel; the event loop must not block on it.
        tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
            .await
            .unwrap();
        let here = thread::current().id();
        // A timer well inside the slow call: it fires only if the event
        // loop runs while call_now waits.
        let ticked = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ticker = {
            let ticked = ticked.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                ticked.store(true, std::sync::atomic::Ordering::SeqCst);
            })
        };
        let ran_on = k.call_now(|_| Ok(thread::current().id())).await.unwrap();
        assert_ne!(ran_on, here, "a busy kernel sends call_now to the pool");
        assert!(
            ticked.load(std::sync::atomic::Ordering::SeqCst),
            "the event loop ran on while call_now waited"
        );
        ticker.await.unwrap();
        slow.await.unwrap().unwrap();
    }
}
