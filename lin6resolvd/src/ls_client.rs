//! Asking a pool's load-sharing servers (LS) which MA to use (paper §IV.B):
//! the user's side of LSS_MA_REQUEST / LSS_MA_REPLY (docs/protocol.md).
//!
//! A peer whose TXT record says `ls=` is a pool address: every content
//! server S_i of the pool answers on it, and each S_i's MA answers queries
//! for it with S_i's own locator. The LS picks the MA (and so the server)
//! for this user; the resolver then sends that MA its ordinary MA Query.
//!
//! The exchange is unauthenticated by design (the MA, not the LS, decides
//! access). As with MA Queries, a reply is taken only from the LS asked,
//! with a sequence number (request ID) sent to it in this exchange: a
//! forgery must be on-path. The first LS listed is asked first; each gets
//! `attempts` requests with a doubling wait, then the next is tried. A
//! reply to an earlier request of the same exchange is taken too: a cold
//! decision waits for the MAs' RTT probes, and the LS adds a retried
//! request to the decision already under way instead of starting another.

use std::net::Ipv6Addr;
use std::sync::atomic::AtomicU64;

use lin6::addr::NodeId;
use lin6::auth::unix_now;
use lin6::discovery::Server;
use lin6::ls::{Body, MaReply, MaRequest, Message, ReplyCode, ServiceLevel, decode};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::error::LsError;
use crate::events::bump;
use crate::ma_client::{Retry, random_u32, recv_matching};

/// Counters of LS exchanges (`lin6resolvd_ls_*_total`).
#[derive(Debug, Default)]
pub struct LsStats {
    /// LSS_MA_REQUEST datagrams sent (retries included).
    pub requests: AtomicU64,
    /// LSS_MA_REPLY with an MA.
    pub chosen: AtomicU64,
    /// LSS_MA_REPLY refusing (unknown node, no MA, rate limited, busy).
    pub refused: AtomicU64,
    /// Moves to the next LS after one did not answer or refused.
    pub failovers: AtomicU64,
}

/// What an LS answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// Index in the LS list of the LS that answered.
    pub index: usize,
    pub ls: Server,
    /// The MA to query (and register with, for a stream to the pool).
    pub ma: Ipv6Addr,
    /// The user's service level, as the LS read it from the subscriber
    /// database.
    pub level: ServiceLevel,
}

/// Asks the LSs in order which MA serves `user` for `pool`.
pub async fn choose_ma(
    lss: &[Server],
    user: NodeId,
    pool: Ipv6Addr,
    retry: Retry,
    stats: &LsStats,
) -> Result<Choice, LsError> {
    if lss.is_empty() {
        return Err(LsError::NoLs);
    }
    let mut refused = None;
    for (index, &ls) in lss.iter().enumerate() {
        if index > 0 {
            bump(&stats.failovers);
        }
        match ask_one(ls, user, pool, retry, stats).await? {
            Some(MaReply::Ok { ma_addr, level }) => {
                bump(&stats.chosen);
                info!(%ls, %pool, ma = %ma_addr, %level, "LS chose an MA");
                return Ok(Choice {
                    index,
                    ls,
                    ma: ma_addr,
                    level,
                });
            }
            Some(MaReply::Refused(code)) => {
                bump(&stats.refused);
                // Every LS reads the same subscriber database: an unknown
                // node is unknown everywhere.
                if code == ReplyCode::UnknownNode {
                    warn!(%ls, %pool, "LS: we are not a subscriber of this pool");
                    return Err(LsError::Refused { code });
                }
                warn!(%ls, %pool, ?code, "LS refused; trying the next LS");
                refused = Some(code);
            }
            None => warn!(%ls, %pool, "LS does not answer; trying the next LS"),
        }
    }
    Err(match refused {
        Some(code) => LsError::Refused { code },
        None => LsError::NoAnswer { tried: lss.len() },
    })
}

/// One LS: `None` if it never answered.
async fn ask_one(
    ls: Server,
    user: NodeId,
    pool: Ipv6Addr,
    retry: Retry,
    stats: &LsStats,
) -> Result<Option<MaReply>, LsError> {
    let to = ls.ls();
    // Servers in a TXT record are IPv6 (v4-mapped at most).
    let sock = tokio::net::UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0)).await?;
    let mut sent: Vec<u32> = Vec::with_capacity(retry.attempts as usize);
    let mut wait = retry.timeout;
    for _ in 0..retry.attempts {
        let sequence = random_u32();
        sent.push(sequence);
        let req = MaRequest {
            node_id: user,
            pool,
        };
        let bytes = Message::new(sequence, unix_now(), req).encode(None)?;
        sock.send_to(&bytes, to).await?;
        bump(&stats.requests);
        let deadline = Instant::now() + wait;
        let reply = recv_matching(&sock, to, deadline, |buf| {
            // Unauthenticated types only: decode never needs a key here.
            let m = decode(buf, |_| None).ok()?;
            match m.body {
                Body::MaReply(r) if sent.contains(&m.sequence) => Some(r),
                _ => None,
            }
        })
        .await;
        if reply.is_some() {
            return Ok(reply);
        }
        debug!(%ls, "no LSS_MA_REPLY within {wait:?}");
        wait = wait.saturating_mul(2);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::get;
    use std::time::Duration;
    use tokio::net::UdpSocket;

    fn retry() -> Retry {
        Retry {
            timeout: Duration::from_millis(50),
            attempts: 2,
        }
    }

    /// A fake LS on [::1] that answers every request with `reply`, after
    /// first sending a forged reply with a sequence it was not sent.
    async fn fake_ls(reply: MaReply) -> Server {
        let sock = UdpSocket::bind("[::1]:0").await.unwrap();
        let port = sock.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut buf = [0u8; 256];
            while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                let Ok(m) = decode(&buf[..n], |_| None) else {
                    continue;
                };
                let forged = MaReply::Ok {
                    ma_addr: "2001:db8:bad::1".parse().unwrap(),
                    level: ServiceLevel::Premium,
                };
                for (seq, r) in [(m.sequence.wrapping_add(1), forged), (m.sequence, reply)] {
                    let b = Message::new(seq, 0, r).encode(None).unwrap();
                    let _ = sock.send_to(&b, from).await;
                }
            }
        });
        Server {
            addr: Ipv6Addr::LOCALHOST,
            port: Some(port),
        }
    }

    #[tokio::test]
    async fn forged_sequence_is_ignored_and_a_refusal_moves_to_the_next_ls() {
        let busy = fake_ls(MaReply::Refused(ReplyCode::Busy)).await;
        let ma: Ipv6Addr = "2001:db8::5".parse().unwrap();
        let good = fake_ls(MaReply::Ok {
            ma_addr: ma,
            level: ServiceLevel::Normal,
        })
        .await;
        let stats = LsStats::default();
        let user = NodeId::from_u64(0x0201_4a00_0000_0001);
        let c = choose_ma(&[busy, good], user, Ipv6Addr::LOCALHOST, retry(), &stats)
            .await
            .unwrap();
        assert_eq!((c.index, c.ma, c.level), (1, ma, ServiceLevel::Normal));
        assert_eq!(get(&stats.refused), 1);
        assert_eq!(get(&stats.failovers), 1);
        let e = choose_ma(&[busy], user, Ipv6Addr::LOCALHOST, retry(), &stats)
            .await
            .unwrap_err();
        assert!(e.is_transient(), "{e}");
        let unknown = fake_ls(MaReply::Refused(ReplyCode::UnknownNode)).await;
        let e = choose_ma(&[unknown, good], user, Ipv6Addr::LOCALHOST, retry(), &stats)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                LsError::Refused {
                    code: ReplyCode::UnknownNode
                }
            ),
            "an unknown node is not asked about at the next LS: {e}"
        );
    }
}
