//! Quorum tracking: who votes, what a quorum is, and which zxid a quorum has acknowledged.
//!
//! Majority quorums over the participants (Apache's `QuorumMaj`); observers are members that
//! never count. Dynamic reconfiguration (two configurations at once) is not supported.

use std::collections::BTreeMap;

use zk_proto::quorum::ServerId;
use zk_proto::Zxid;

/// A member's role (`server.N=...:participant|observer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LearnerType {
    Participant,
    Observer,
}

/// The ensemble: every member and its role. Fixed for the life of a [`super::Zab`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ensemble {
    members: BTreeMap<ServerId, LearnerType>,
}

impl Ensemble {
    /// An ensemble of the given members. At least one participant.
    pub fn new(members: impl IntoIterator<Item = (ServerId, LearnerType)>) -> Ensemble {
        let e = Ensemble {
            members: members.into_iter().collect(),
        };
        assert!(e.voters().count() > 0, "an ensemble needs a participant");
        e
    }

    /// `n` participants with ids `1..=n`, then `observers` observers after them.
    pub fn numbered(n: usize, observers: usize) -> Ensemble {
        Ensemble::new((1..=n + observers).map(|i| {
            let role = if i <= n {
                LearnerType::Participant
            } else {
                LearnerType::Observer
            };
            (ServerId(i as i64), role)
        }))
    }

    pub fn role(&self, sid: ServerId) -> Option<LearnerType> {
        self.members.get(&sid).copied()
    }

    pub fn is_voter(&self, sid: ServerId) -> bool {
        self.role(sid) == Some(LearnerType::Participant)
    }

    pub fn members(&self) -> impl Iterator<Item = ServerId> + '_ {
        self.members.keys().copied()
    }

    pub fn voters(&self) -> impl Iterator<Item = ServerId> + '_ {
        self.members
            .iter()
            .filter(|(_, r)| **r == LearnerType::Participant)
            .map(|(s, _)| *s)
    }

    /// How many voters make a quorum: a strict majority.
    pub fn quorum_size(&self) -> usize {
        self.voters().count() / 2 + 1
    }

    /// Whether the voters among `sids` form a quorum. Non-members and observers do not count;
    /// duplicates count once.
    pub fn has_quorum<'a>(&self, sids: impl IntoIterator<Item = &'a ServerId>) -> bool {
        let mut seen: Vec<ServerId> = sids
            .into_iter()
            .copied()
            .filter(|s| self.is_voter(*s))
            .collect();
        seen.sort();
        seen.dedup();
        seen.len() >= self.quorum_size()
    }

    /// The highest zxid acknowledged by a quorum of voters, given each voter's highest
    /// acknowledged zxid (acknowledgements are cumulative: a voter logs in zxid order).
    pub fn quorum_acked(&self, acked: &BTreeMap<ServerId, Zxid>) -> Option<Zxid> {
        self.quorum_acked_of(acked.iter().map(|(s, z)| (*s, *z)))
    }

    /// [`Ensemble::quorum_acked`] over (voter, acknowledged zxid) pairs, one per server,
    /// without allocating for ensembles of up to 16 voters (the leader asks on every ACK).
    pub fn quorum_acked_of(&self, acked: impl Iterator<Item = (ServerId, Zxid)>) -> Option<Zxid> {
        let mut buf = [Zxid(0); 16];
        let mut n = 0;
        let mut spill: Vec<Zxid> = Vec::new();
        for (_, z) in acked.filter(|(s, _)| self.is_voter(*s)) {
            if n < buf.len() {
                buf[n] = z;
                n += 1;
            } else {
                spill.push(z);
            }
        }
        let zs = if spill.is_empty() {
            &mut buf[..n]
        } else {
            spill.extend_from_slice(&buf);
            &mut spill[..]
        };
        let q = self.quorum_size();
        if zs.len() < q {
            return None;
        }
        zs.sort_unstable_by(|a, b| b.cmp(a));
        Some(zs[q - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_of_participants_only() {
        let e = Ensemble::numbered(5, 1);
        assert_eq!(e.quorum_size(), 3);
        let s = |v: &[i64]| v.iter().map(|i| ServerId(*i)).collect::<Vec<_>>();
        assert!(!e.has_quorum(&s(&[1, 2, 6])));
        assert!(!e.has_quorum(&s(&[1, 1, 2])));
        assert!(e.has_quorum(&s(&[1, 2, 5])));
        assert!(!e.has_quorum(&s(&[1, 2, 9])));
    }

    #[test]
    fn quorum_acked_is_the_quorum_th_largest() {
        let e = Ensemble::numbered(3, 1);
        let acks: BTreeMap<_, _> = [(1, 7), (2, 5), (3, 2), (4, 9)]
            .into_iter()
            .map(|(s, z)| (ServerId(s), Zxid(z)))
            .collect();
        assert_eq!(e.quorum_acked(&acks), Some(Zxid(5)));
        let one: BTreeMap<_, _> = [(ServerId(1), Zxid(7))].into_iter().collect();
        assert_eq!(e.quorum_acked(&one), None);
    }

    /// More voters than the stack buffer holds: the same answer.
    #[test]
    fn quorum_acked_of_many_voters() {
        let e = Ensemble::numbered(21, 0);
        let acks = (1..=21).map(|s| (ServerId(s), Zxid(s * 10)));
        // 11 of 21: the 11th largest of 10..=210.
        assert_eq!(e.quorum_acked_of(acks.clone()), Some(Zxid(110)));
        assert_eq!(e.quorum_acked_of(acks.take(10)), None);
    }
}
