//! Fast leader election (`FastLeaderElection.lookForLeader`): one instance per LOOKING period.
//!
//! Votes are ordered by (peer epoch, zxid, server id) (`totalOrderPredicate`); a candidate that
//! is not a voter never wins. Rounds are the logical clock: a notification from a newer round
//! restarts the count, one from an older round is answered with our vote and otherwise
//! ignored. A vote backed by a quorum in our round wins after `finalize_wait` ticks without a
//! better one. A newcomer joins an established leader once a quorum reports following it and
//! the leader itself reports leading. The vote is retransmitted with an interval that doubles up
//! to a cap, and a voter proposing a worse vote in our round gets ours at once.

use std::collections::BTreeMap;

use zk_proto::quorum::{Notification, PeerState, ServerId};

use super::peer::Shared;

/// A proposal for leader, as notifications carry it (raw `long`s: non-voters vote
/// `Long.MIN_VALUE` in every field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vote {
    pub leader: i64,
    pub zxid: i64,
    pub peer_epoch: i64,
}

impl Vote {
    /// The vote a server starts each election with (`getInitId`, `getInitLastLoggedZxid`,
    /// `getPeerEpoch`).
    pub fn initial(sh: &Shared) -> Vote {
        if sh.cfg.ensemble.is_voter(sh.cfg.my_id) {
            Vote {
                leader: sh.cfg.my_id.0,
                zxid: sh.history.last_zxid().0,
                peer_epoch: sh.current_epoch.0 as i64,
            }
        } else {
            Vote {
                leader: i64::MIN,
                zxid: i64::MIN,
                peer_epoch: i64::MIN,
            }
        }
    }

    fn of(n: &Notification) -> Vote {
        Vote {
            leader: n.leader,
            zxid: n.zxid,
            peer_epoch: n.peer_epoch,
        }
    }
}

/// What an election ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Lead,
    /// Follow (or, for an observer, observe) this leader.
    Learn(ServerId),
}

/// A vote as received, with the sender's round and state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Received {
    vote: Vote,
    round: i64,
    state: PeerState,
}

impl Received {
    /// `Vote.equals`: between two servers out of election only the leader and its epoch must
    /// match (their zxids and rounds legitimately differ, ZOOKEEPER-1805); otherwise all of it.
    fn matches(&self, other: &Received) -> bool {
        if self.state == PeerState::Looking || other.state == PeerState::Looking {
            self.vote == other.vote && self.round == other.round
        } else {
            self.vote.leader == other.vote.leader && self.vote.peer_epoch == other.vote.peer_epoch
        }
    }
}

/// One run of leader election. Lives while the server is LOOKING; the logical clock and the
/// vote reported afterwards live in [`Shared`].
#[derive(Debug, Clone)]
pub struct Election {
    /// The vote this server currently proposes.
    proposal: Vote,
    /// Votes of the current round, by sender (`recvset`).
    recv_set: BTreeMap<ServerId, Received>,
    /// Votes of servers that are following or leading, any round (`outofelection`).
    out_of_election: BTreeMap<ServerId, Received>,
    /// When a quorum agrees: the tick at which to decide unless a better vote comes.
    finalize_at: Option<u64>,
    /// Ticks since we last sent our vote to everyone.
    idle_ticks: u32,
    /// Current retransmission interval (doubles up to the configured cap).
    interval: u32,
}

impl Election {
    /// Starts a round: bumps the logical clock, votes for ourselves, tells every voter.
    pub fn start(sh: &mut Shared) -> Election {
        sh.logical_clock += 1;
        let mut e = Election {
            proposal: Vote::initial(sh),
            recv_set: BTreeMap::new(),
            out_of_election: BTreeMap::new(),
            finalize_at: None,
            idle_ticks: 0,
            interval: sh.cfg.notification_interval_min.max(1),
        };
        e.send_proposal(sh);
        e
    }

    pub fn proposal(&self) -> Vote {
        self.proposal
    }

    /// `totalOrderPredicate`: whether `new` beats `cur`.
    fn beats(sh: &Shared, new: Vote, cur: Vote) -> bool {
        if !sh.cfg.ensemble.is_voter(ServerId(new.leader)) {
            return false;
        }
        (new.peer_epoch, new.zxid, new.leader) > (cur.peer_epoch, cur.zxid, cur.leader)
    }

    /// Sends our proposal to every other voter, and records it as our own vote (Apache delivers
    /// a server's notifications to itself).
    fn send_proposal(&mut self, sh: &mut Shared) {
        self.idle_ticks = 0;
        let me = sh.cfg.my_id;
        let n = sh.notification(PeerState::Looking, self.proposal, sh.logical_clock);
        let voters: Vec<ServerId> = sh.cfg.ensemble.voters().filter(|v| *v != me).collect();
        for v in voters {
            sh.notify(v, n.clone());
        }
        if sh.cfg.ensemble.is_voter(me) {
            self.recv_set.insert(
                me,
                Received {
                    vote: self.proposal,
                    round: sh.logical_clock,
                    state: PeerState::Looking,
                },
            );
        }
    }

    fn reply(&self, sh: &mut Shared, to: ServerId) {
        let n = sh.notification(PeerState::Looking, self.proposal, sh.logical_clock);
        sh.notify(to, n);
    }

    /// Handles a notification while LOOKING.
    pub fn on_notification(
        &mut self,
        sh: &mut Shared,
        from: ServerId,
        n: &Notification,
    ) -> Option<Decision> {
        if !sh.cfg.ensemble.is_voter(from) {
            // Observers learn the leader from our answers; they never vote. Answering only a
            // looking one keeps two servers from answering each other forever.
            if n.state == PeerState::Looking {
                self.reply(sh, from);
            }
            return None;
        }
        // A lagging voter gets our round (a non-voter's round matters to nobody).
        let voter = sh.cfg.ensemble.is_voter(sh.cfg.my_id);
        if voter && n.state == PeerState::Looking && n.election_epoch < sh.logical_clock {
            self.reply(sh, from);
        }
        if !sh.cfg.ensemble.is_voter(ServerId(n.leader)) {
            return None;
        }
        let got = Received {
            vote: Vote::of(n),
            round: n.election_epoch,
            state: n.state,
        };
        match n.state {
            PeerState::Looking => self.on_looking(sh, from, got),
            PeerState::Following | PeerState::Leading => self.on_established(sh, from, got),
            PeerState::Observing => None,
        }
    }

    fn on_looking(&mut self, sh: &mut Shared, from: ServerId, got: Received) -> Option<Decision> {
        if got.round > sh.logical_clock {
            sh.logical_clock = got.round;
            self.recv_set.clear();
            let initial = Vote::initial(sh);
            self.proposal = if Self::beats(sh, got.vote, initial) {
                got.vote
            } else {
                initial
            };
            self.send_proposal(sh);
        } else if got.round < sh.logical_clock {
            return None;
        } else if Self::beats(sh, got.vote, self.proposal) {
            self.proposal = got.vote;
            self.send_proposal(sh);
        } else if Self::beats(sh, self.proposal, got.vote) {
            // Apache relies on TCP and resending on reconnect for a peer to hear our better
            // vote; over a lossy network we answer it at once (it adopts ours and stops there).
            self.reply(sh, from);
        }
        self.recv_set.insert(from, got);
        if !self.proposal_has_quorum(sh) {
            self.finalize_at = None;
            return None;
        }
        let at = *self
            .finalize_at
            .get_or_insert(sh.tick + sh.cfg.finalize_wait as u64);
        (sh.tick >= at).then(|| self.decide(sh, self.proposal, sh.logical_clock))
    }

    /// `receivedFollowingNotification`: joining a leader others already follow.
    fn on_established(
        &mut self,
        sh: &mut Shared,
        from: ServerId,
        got: Received,
    ) -> Option<Decision> {
        if got.round == sh.logical_clock {
            self.recv_set.insert(from, got);
            if Self::backed(sh, &self.recv_set, &got) && Self::check_leader(sh, &self.recv_set, got)
            {
                return Some(self.decide(sh, got.vote, got.round));
            }
        }
        self.out_of_election.insert(from, got);
        if Self::backed(sh, &self.out_of_election, &got)
            && Self::check_leader(sh, &self.out_of_election, got)
        {
            sh.logical_clock = got.round;
            return Some(self.decide(sh, got.vote, got.round));
        }
        None
    }

    fn backed(sh: &Shared, votes: &BTreeMap<ServerId, Received>, v: &Received) -> bool {
        let agreeing = votes.iter().filter(|(_, r)| r.matches(v)).map(|(s, _)| s);
        sh.cfg.ensemble.has_quorum(agreeing)
    }

    fn proposal_has_quorum(&self, sh: &Shared) -> bool {
        let mine = Received {
            vote: self.proposal,
            round: sh.logical_clock,
            state: PeerState::Looking,
        };
        Self::backed(sh, &self.recv_set, &mine)
    }

    /// `checkLeader`: a leader other than us must itself say it is leading; for us, the round
    /// must be ours (so that a stale quorum does not make us lead).
    fn check_leader(sh: &Shared, votes: &BTreeMap<ServerId, Received>, got: Received) -> bool {
        let leader = ServerId(got.vote.leader);
        if leader != sh.cfg.my_id {
            votes
                .get(&leader)
                .is_some_and(|r| r.state == PeerState::Leading)
        } else {
            sh.logical_clock == got.round
        }
    }

    fn decide(&mut self, sh: &mut Shared, vote: Vote, round: i64) -> Decision {
        sh.current_vote = vote;
        sh.current_vote_round = round;
        self.finalize_at = None;
        let leader = ServerId(vote.leader);
        if leader == sh.cfg.my_id {
            Decision::Lead
        } else {
            Decision::Learn(leader)
        }
    }

    /// A tick while LOOKING: finish a pending finalization, or retransmit when nothing has been
    /// heard for a while.
    pub fn on_tick(&mut self, sh: &mut Shared) -> Option<Decision> {
        if self.finalize_at.is_none() && self.proposal_has_quorum(sh) {
            // Our own vote alone can be a quorum (an ensemble of one).
            self.finalize_at = Some(sh.tick + sh.cfg.finalize_wait as u64);
        }
        if let Some(at) = self.finalize_at {
            if sh.tick >= at {
                if self.proposal_has_quorum(sh) {
                    return Some(self.decide(sh, self.proposal, sh.logical_clock));
                }
                self.finalize_at = None;
            }
        }
        self.idle_ticks += 1;
        if self.idle_ticks >= self.interval {
            self.idle_ticks = 0;
            self.interval = (self.interval * 2).min(sh.cfg.notification_interval_max.max(1));
            self.send_proposal(sh);
        }
        None
    }

    pub fn check_invariants(&self, sh: &Shared) {
        for r in self.recv_set.values() {
            assert!(
                r.round == sh.logical_clock,
                "a vote of round {} kept in round {}",
                r.round,
                sh.logical_clock
            );
        }
        assert!(self.interval >= 1);
    }
}
