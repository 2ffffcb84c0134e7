//! Talking to Mapping Agents over UDP: registration (Mapping Update Request,
//! authenticated) and MA Query, each with a timeout that doubles per retry
//! and failover to the next MA listed.
//!
//! Every exchange uses its own ephemeral socket and takes as the answer only
//! a datagram from the address asked, for the node asked, with the sequence
//! number sent: anything else is ignored, not treated as a failure, so a
//! stray or forged datagram cannot cut a wait short.

use std::net::{Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lin6::addr::{NodeId, Prefix64};
use lin6::auth::{Key, unix_now};
use lin6::discovery::Server;
use lin6::wire::{
    Authenticated, Codec, MaQuery, MaReply, MaybeAuthenticated, QueryAnswer, UpdateCode,
    UpdateReply, UpdateRequest,
};
use tokio::net::UdpSocket;
use tokio::sync::{Notify, oneshot};
use tokio::time::{Instant, timeout_at};
use tracing::{debug, info, warn};

use crate::error::MaError;

/// Retry policy of one kind of exchange.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub timeout: Duration,
    pub attempts: u32,
}

/// The node's registration state: its key and its sequence numbers.
pub struct Registrar {
    node: NodeId,
    key: Key,
    sequence: u32,
    retry: Retry,
}

/// A registration the MA accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// Index of the MA in the list given.
    pub index: usize,
    pub ma: Server,
}

/// Jump taken after a (signed) ReplayedSequence: four of them cover the
/// whole 2^32 circle, so a node whose MA remembers a "newer" sequence (the
/// node's clock went back, or it was off for weeks) gets through.
const SEQUENCE_JUMP: u32 = 1 << 30;

impl Registrar {
    /// The first sequence number is the wall clock in milliseconds (mod
    /// 2^32), so that a restarted node is still ahead of what its MA
    /// remembers from the previous run (the MA keeps the last sequence in
    /// its database).
    pub fn new(node: NodeId, key: Key, retry: Retry) -> Registrar {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u32)
            .unwrap_or(1);
        Registrar {
            node,
            key,
            sequence: ms,
            retry,
        }
    }

    fn next_sequence(&mut self) -> u32 {
        self.sequence = self.sequence.wrapping_add(1);
        self.sequence
    }

    /// Registers `prefix` for `lifetime` seconds with the first MA of `mas`
    /// (starting at `start`, wrapping round) that accepts it. `sent` is
    /// told when the first request is on the wire.
    pub async fn register(
        &mut self,
        mas: &[Server],
        start: usize,
        prefix: Prefix64,
        lifetime: u32,
        mut sent: Option<oneshot::Sender<()>>,
    ) -> Result<Accepted, MaError> {
        if mas.is_empty() {
            return Err(MaError::NoMa);
        }
        let mut refused = None;
        for i in 0..mas.len() {
            let index = (start + i) % mas.len();
            let ma = mas[index];
            match self.register_one(ma, prefix, lifetime, &mut sent).await? {
                Some(UpdateCode::Ok) => {
                    info!(ma = %ma, %prefix, lifetime, "registered");
                    return Ok(Accepted { index, ma });
                }
                Some(code) => {
                    warn!(ma = %ma, ?code, "registration refused; trying the next MA");
                    refused = Some(code);
                }
                None => warn!(ma = %ma, "MA does not answer; trying the next MA"),
            }
        }
        Err(match refused {
            Some(code) => MaError::Refused { code },
            None => MaError::NoAnswer { tried: mas.len() },
        })
    }

    /// One MA: `None` if it never answered.
    async fn register_one(
        &mut self,
        ma: Server,
        prefix: Prefix64,
        lifetime: u32,
        sent: &mut Option<oneshot::Sender<()>>,
    ) -> Result<Option<UpdateCode>, MaError> {
        let to = ma.ma_registration();
        // From the locator being registered: after a move the old address
        // may still be there, and the route to the MA may still leave by
        // the old link; a request sent from it would have the MA's reply
        // sent to an address about to go (seen: the old link went down
        // 11 ms after the new address came, the reply was lost, and the
        // registration was confirmed only by the resend, 300 ms later).
        let sock = match bind_from(prefix.with_node(self.node), to) {
            Some(s) => s,
            None => bind_for(to)?,
        };
        let mut wait = self.retry.timeout;
        let mut jumps = 0;
        let mut attempt = 0;
        let mut last_code = None;
        while attempt < self.retry.attempts {
            attempt += 1;
            // A fresh sequence per datagram: if an earlier one was accepted
            // and only its reply was lost, a resend would be a replay.
            let req = UpdateRequest {
                sequence: self.next_sequence(),
                prefix,
                node: self.node,
                timestamp: unix_now(),
                lifetime,
            };
            let bytes = Authenticated::sign(req, &self.key).to_vec();
            sock.send_to(&bytes, to).await?;
            debug!(ma = %ma, %prefix, sequence = req.sequence, "Mapping Update Request sent");
            if let Some(tx) = sent.take() {
                let _ = tx.send(());
            }
            let deadline = Instant::now() + wait;
            let key = &self.key;
            let reply = recv_matching(&sock, to, deadline, |buf| {
                let r = MaybeAuthenticated::<UpdateReply>::decode(buf).ok()?;
                if r.msg().sequence != req.sequence {
                    return None;
                }
                let signed = r.verify(key);
                Some((r.msg().code, signed))
            })
            .await;
            match reply {
                None => wait = wait.saturating_mul(2),
                // An unsigned Ok could be forged off-path (sequence numbers
                // are predictable): only a verified one counts.
                Some((UpdateCode::Ok, true)) => return Ok(Some(UpdateCode::Ok)),
                Some((UpdateCode::Ok, false)) => {
                    warn!(ma = %ma, "unsigned or badly signed Ok ignored");
                }
                Some((UpdateCode::ReplayedSequence, true)) if jumps < 4 => {
                    jumps += 1;
                    attempt -= 1;
                    debug!(ma = %ma, "MA has a newer sequence from us; jumping ahead");
                    self.sequence = self.sequence.wrapping_add(SEQUENCE_JUMP);
                }
                Some((code, _)) => {
                    last_code = Some(code);
                    break;
                }
            }
        }
        Ok(last_code)
    }
}

/// How many times one [`query`] may be told to ask again at once.
const MAX_KICKS: u32 = 4;

/// Asks the MAs of a peer for its mapping, first MA first; each MA gets
/// `retry.attempts` queries with doubling timeouts. `kick`, when notified
/// while a query waits for its answer, has the query sent again at once (a
/// fresh sequence; the answer to the older one is then ignored) instead of
/// at its timeout: a Mapping Refresh says the MA knows something new, and
/// the query in flight may have been lost or answered with the old mapping.
pub async fn query(
    mas: &[Server],
    node: NodeId,
    retry: Retry,
    kick: Option<&Notify>,
) -> Result<(Server, QueryAnswer), MaError> {
    if mas.is_empty() {
        return Err(MaError::NoMa);
    }
    let mut kicks = 0;
    for &ma in mas {
        let to = ma.ma_query();
        let sock = bind_for(to)?;
        let mut wait = retry.timeout;
        let mut attempt = 0;
        while attempt < retry.attempts {
            attempt += 1;
            let q = MaQuery {
                sequence: random_u32(),
                node,
                timestamp: unix_now(),
            };
            sock.send_to(&q.to_vec(), to).await?;
            debug!(ma = %ma, %node, "MA Query sent");
            let deadline = Instant::now() + wait;
            let answer = recv_matching(&sock, to, deadline, |buf| {
                let r = MaReply::decode(buf).ok()?;
                (r.sequence == q.sequence && r.node == node).then_some(r.answer)
            });
            let kicked = async {
                match kick {
                    Some(k) if kicks < MAX_KICKS => k.notified().await,
                    _ => std::future::pending().await,
                }
            };
            let answer = tokio::select! {
                a = answer => a,
                () = kicked => {
                    kicks += 1;
                    attempt -= 1;
                    debug!(ma = %ma, %node, "asked to query again: not waiting for the answer");
                    continue;
                }
            };
            if let Some(a) = answer {
                debug!(ma = %ma, %node, "MA Reply received");
                return Ok((ma, a));
            }
            wait = wait.saturating_mul(2);
        }
        warn!(ma = %ma, %node, "MA does not answer queries; trying the next MA");
    }
    Err(MaError::NoAnswer { tried: mas.len() })
}

/// A socket bound to `source`, for datagrams to `to`; `None` when `to` is
/// not IPv6 or `source` is not one of our addresses. lin6.ko raises PREFIX
/// as the address is added, and the kernel holds it tentative until its
/// (disabled or optimistic) duplicate address detection has run: in that
/// moment a plain bind fails with EADDRNOTAVAIL, and an address the
/// kernel lists (/proc/net/if_inet6) is bound with IPV6_FREEBIND.
fn bind_from(source: Ipv6Addr, to: SocketAddr) -> Option<UdpSocket> {
    if !to.is_ipv6() {
        return None;
    }
    let local = SocketAddr::from((source, 0));
    let bound = match bind_marked(local, false) {
        Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable && is_listed(source) => {
            bind_marked(local, true)
        }
        r => r,
    };
    bound
        .inspect_err(|e| debug!(%source, "not sending from our locator: {e}"))
        .ok()
}

/// Whether `addr` is on one of this namespace's interfaces, tentative or
/// not: /proc/net/if_inet6 lists each address as 32 hex digits first.
fn is_listed(addr: Ipv6Addr) -> bool {
    let want: String = addr.octets().iter().map(|b| format!("{b:02x}")).collect();
    std::fs::read_to_string("/proc/net/if_inet6")
        .map(|t| {
            t.lines()
                .any(|l| l.split_whitespace().next() == Some(&want))
        })
        .unwrap_or(false)
}

/// A socket for datagrams to `to`, from the address the kernel chooses.
fn bind_for(to: SocketAddr) -> Result<UdpSocket, MaError> {
    let any: SocketAddr = match to {
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
    };
    Ok(bind_marked(any, false)?)
}

/// A UDP socket bound to `local` (with IPV6_FREEBIND if `freebind`),
/// marked as network control.
fn bind_marked(local: SocketAddr, freebind: bool) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(local), Type::DGRAM, Some(Protocol::UDP))?;
    if freebind {
        s.set_freebind_v6(true)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&local.into())?;
    let sock = UdpSocket::from_std(s.into())?;
    if let Err(e) = lin6::qos::mark_control(&sock, local.is_ipv6()) {
        debug!("marking the socket as network control: {e}");
    }
    Ok(sock)
}

/// Receives until `accept` takes a datagram from `from`, or the deadline.
pub(crate) async fn recv_matching<T>(
    sock: &UdpSocket,
    from: SocketAddr,
    deadline: Instant,
    mut accept: impl FnMut(&[u8]) -> Option<T>,
) -> Option<T> {
    let mut buf = [0u8; 128];
    loop {
        match timeout_at(deadline, sock.recv_from(&mut buf)).await {
            Err(_elapsed) => return None,
            // ICMP errors surface as recv errors on some stacks; keep
            // waiting for the deadline like any other non-answer.
            Ok(Err(e)) => {
                debug!("recv from {from}: {e}");
                tokio::time::sleep_until(deadline).await;
                return None;
            }
            Ok(Ok((n, src))) => {
                if same_peer(src, from)
                    && let Some(t) = accept(&buf[..n])
                {
                    return Some(t);
                }
                debug!("ignored a datagram of {n} bytes from {src}");
            }
        }
    }
}

/// Equal, seeing through IPv4-mapped IPv6 forms.
fn same_peer(a: SocketAddr, b: SocketAddr) -> bool {
    let canon = |s: SocketAddr| (s.ip().to_canonical(), s.port());
    canon(a) == canon(b)
}

pub fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    // The OS's generator does not fail on Linux after boot; a zero then
    // only weakens forgery protection of one query.
    let _ = getrandom::fill(&mut b);
    u32::from_ne_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lin6::wire::QueryCode;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    const SECRET: &str = "000102030405060708090a0b0c0d0e0f";

    fn key() -> Key {
        Key::from_hex(1, SECRET).unwrap()
    }

    fn node() -> NodeId {
        NodeId::from_u64(0x0201_4a00_0000_0001)
    }

    fn retry() -> Retry {
        Retry {
            timeout: Duration::from_millis(100),
            attempts: 3,
        }
    }

    /// A fake MA on [::1]: `answer` maps each verified request (and how many
    /// came before) to the replies it sends back, in order.
    async fn fake_ma(
        answer: impl Fn(UpdateRequest, u32) -> Vec<Vec<u8>> + Send + 'static,
    ) -> (Server, Arc<AtomicU32>) {
        let sock = UdpSocket::bind("[::1]:0").await.unwrap();
        let port = sock.local_addr().unwrap().port();
        let seen = Arc::new(AtomicU32::new(0));
        let count = seen.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 128];
            while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                let Ok(a) = Authenticated::<UpdateRequest>::decode(&buf[..n]) else {
                    continue;
                };
                let Ok(req) = a.into_verified(&key()) else {
                    continue;
                };
                let i = count.fetch_add(1, Ordering::SeqCst);
                for r in answer(req, i) {
                    let _ = sock.send_to(&r, from).await;
                }
            }
        });
        (
            Server {
                addr: Ipv6Addr::LOCALHOST,
                port: Some(port),
            },
            seen,
        )
    }

    fn reply(code: UpdateCode, sequence: u32, signed: bool) -> Vec<u8> {
        let r = UpdateReply { code, sequence };
        if signed {
            Authenticated::sign(r, &key()).to_vec()
        } else {
            r.to_vec()
        }
    }

    #[test]
    fn only_our_own_addresses_are_listed() {
        assert!(is_listed(Ipv6Addr::LOCALHOST), "::1 is on lo");
        assert!(!is_listed("2001:db8::dead".parse().unwrap()));
    }

    #[tokio::test]
    async fn bind_from_refuses_an_address_not_ours_and_binds_our_own() {
        let to: SocketAddr = "[::1]:9".parse().unwrap();
        assert!(bind_from("2001:db8::dead".parse().unwrap(), to).is_none());
        let s = bind_from(Ipv6Addr::LOCALHOST, to).expect("::1 is ours");
        assert_eq!(s.local_addr().unwrap().ip(), Ipv6Addr::LOCALHOST);
    }

    #[tokio::test]
    async fn unsigned_or_wrongly_signed_ok_is_not_believed() {
        let (ma, seen) = fake_ma(|req, _| {
            let other = Key::from_hex(1, "ff0102030405060708090a0b0c0d0e0f").unwrap();
            vec![
                reply(UpdateCode::Ok, req.sequence, false),
                Authenticated::sign(
                    UpdateReply {
                        code: UpdateCode::Ok,
                        sequence: req.sequence,
                    },
                    &other,
                )
                .to_vec(),
            ]
        })
        .await;
        let mut r = Registrar::new(node(), key(), retry());
        let e = r
            .register(&[ma], 0, "2001:db8::/64".parse().unwrap(), 60, None)
            .await
            .unwrap_err();
        assert!(matches!(e, MaError::NoAnswer { tried: 1 }), "{e}");
        assert_eq!(seen.load(Ordering::SeqCst), 3, "every attempt was made");
    }

    #[tokio::test]
    async fn replayed_sequence_makes_the_node_jump_ahead_and_succeed() {
        // The MA remembers a sequence "newer" than ours twice, then accepts.
        let (ma, seen) = fake_ma(|req, i| {
            let code = if i < 2 {
                UpdateCode::ReplayedSequence
            } else {
                UpdateCode::Ok
            };
            vec![reply(code, req.sequence, true)]
        })
        .await;
        let mut r = Registrar::new(node(), key(), retry());
        let acc = r
            .register(&[ma], 0, "2001:db8::/64".parse().unwrap(), 60, None)
            .await
            .unwrap();
        assert_eq!(acc.ma, ma);
        assert_eq!(seen.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn refusal_moves_on_to_the_next_ma() {
        let (bad, _) =
            fake_ma(|req, _| vec![reply(UpdateCode::UnknownNode, req.sequence, false)]).await;
        let (good, _) = fake_ma(|req, _| vec![reply(UpdateCode::Ok, req.sequence, true)]).await;
        let mut r = Registrar::new(node(), key(), retry());
        let acc = r
            .register(&[bad, good], 0, "2001:db8::/64".parse().unwrap(), 60, None)
            .await
            .unwrap();
        assert_eq!(acc.index, 1);
        let e = r
            .register(&[bad], 0, "2001:db8::/64".parse().unwrap(), 60, None)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                MaError::Refused {
                    code: UpdateCode::UnknownNode
                }
            ),
            "{e}"
        );
    }

    #[tokio::test]
    async fn query_ignores_replies_with_the_wrong_sequence() {
        let sock = UdpSocket::bind("[::1]:0").await.unwrap();
        let port = sock.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                let Ok(q) = MaQuery::decode(&buf[..n]) else {
                    continue;
                };
                let answer = QueryAnswer::Mapping {
                    prefix: "2001:db8:bad::/64".parse().unwrap(),
                    timestamp: 0,
                    lifetime: 60,
                };
                // A forgery first (wrong sequence), then the real answer.
                let forged = MaReply {
                    sequence: q.sequence.wrapping_add(1),
                    node: q.node,
                    answer,
                };
                let _ = sock.send_to(&forged.to_vec(), from).await;
                let real = MaReply {
                    sequence: q.sequence,
                    node: q.node,
                    answer: QueryAnswer::Mapping {
                        prefix: "2001:db8:b::/64".parse().unwrap(),
                        timestamp: 0,
                        lifetime: 60,
                    },
                };
                let _ = sock.send_to(&real.to_vec(), from).await;
            }
        });
        // Port p+1 is the query port: give the base port one below.
        let ma = Server {
            addr: Ipv6Addr::LOCALHOST,
            port: Some(port - 1),
        };
        let (_, a) = query(&[ma], node(), retry(), None).await.unwrap();
        match a {
            QueryAnswer::Mapping { prefix, .. } => {
                assert_eq!(prefix, "2001:db8:b::/64".parse().unwrap())
            }
            QueryAnswer::NoMapping => panic!("{:?}", QueryCode::NoMapping),
        }
    }
}
