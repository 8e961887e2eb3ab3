//! [`Zab`]: one server's consensus state machine. It owns the state every role shares
//! ([`Shared`]: epochs, the log window, the clock in ticks, the vote it reports) and the current
//! role (looking, leading, learning), feeds each event to the role, carries out role changes,
//! and asserts its invariants after every step.

use std::sync::Arc;

use zk_proto::quorum::{
    Epoch, Notification, NotificationFormat, PeerState, QuorumMessage, ServerId, TxnLogEntry,
    NOTIFICATION_VERSION,
};
use zk_proto::Zxid;

use super::election::{Decision, Election, Vote};
use super::history::History;
use super::io::{
    DurableState, Event, Output, ProposeError, RoleState, Status, ZabConfig, ZabState,
};
use super::leader::Leader;
use super::learner::Learner;

/// State every role uses. Owned by [`Zab`]; roles borrow it for the length of one step.
#[derive(Debug)]
pub struct Shared {
    pub cfg: ZabConfig,
    /// The highest epoch this server promised to follow (`acceptedEpoch`); durable.
    pub accepted_epoch: Epoch,
    /// The epoch whose history this server last accepted (`currentEpoch`); durable.
    pub current_epoch: Epoch,
    pub history: History,
    /// Ticks since start (volatile).
    pub tick: u64,
    /// The election round (`logicalclock`); volatile, starts at 0.
    pub logical_clock: i64,
    /// The vote reported to others while not looking, and its round.
    pub current_vote: Vote,
    pub current_vote_round: i64,
    /// The role and phase last announced.
    pub role_state: RoleState,
    /// Outputs of the current step, in order.
    pub out: Vec<Output>,
}

impl Shared {
    pub fn notification(&self, state: PeerState, vote: Vote, round: i64) -> Notification {
        Notification {
            state,
            leader: vote.leader,
            zxid: vote.zxid,
            election_epoch: round,
            peer_epoch: vote.peer_epoch,
            format: NotificationFormat::WithConfig {
                version: NOTIFICATION_VERSION,
                config: self.cfg.config_text.clone(),
            },
        }
    }

    pub fn notify(&mut self, to: ServerId, n: Notification) {
        self.out.push(Output::Notify { to, n });
    }

    pub fn send(&mut self, to: ServerId, msg: QuorumMessage) {
        self.out.push(Output::Send { to, msg });
    }

    pub fn disconnect(&mut self, to: ServerId) {
        self.out.push(Output::Disconnect { to });
    }

    pub fn save_accepted_epoch(&mut self, e: Epoch) {
        assert!(e >= self.accepted_epoch, "acceptedEpoch going back");
        self.accepted_epoch = e;
        self.out.push(Output::SaveAcceptedEpoch(e));
    }

    pub fn save_current_epoch(&mut self, e: Epoch) {
        assert!(e <= self.accepted_epoch, "currentEpoch above acceptedEpoch");
        assert!(e >= self.current_epoch, "currentEpoch going back");
        self.current_epoch = e;
        self.out.push(Output::SaveCurrentEpoch(e));
    }

    pub fn append(&mut self, entry: Arc<TxnLogEntry>) {
        self.history.append(entry.clone());
        self.out.push(Output::Append(entry));
    }

    /// Commits everything up to `zxid` (capped at the log's end) and hands it to the state
    /// machine; returns the newly committed entries.
    pub fn commit_through(&mut self, zxid: Zxid) -> Vec<Arc<TxnLogEntry>> {
        let newly = self.history.commit_through(zxid);
        for e in &newly {
            self.out.push(Output::Commit(e.clone()));
        }
        newly
    }

    pub fn set_state(&mut self, rs: RoleState) {
        if self.role_state != rs {
            self.role_state = rs;
            self.out.push(Output::State(rs));
        }
    }

    /// Our state as notifications report it.
    pub fn peer_state(&self) -> PeerState {
        self.role_state.state
    }
}

/// What a role asks of [`Zab`] after handling an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Stay,
    /// Give up the role and look for a leader.
    Looking,
}

/// A role change decided by one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transition {
    Stay,
    Looking,
    Take(Decision),
}

impl From<Next> for Transition {
    fn from(n: Next) -> Transition {
        match n {
            Next::Stay => Transition::Stay,
            Next::Looking => Transition::Looking,
        }
    }
}

impl From<Option<Decision>> for Transition {
    fn from(d: Option<Decision>) -> Transition {
        d.map_or(Transition::Stay, Transition::Take)
    }
}

#[derive(Debug)]
enum Role {
    Looking(Election),
    Leading(Leader),
    Learning(Learner),
}

/// One server's Zab state machine. See [`super`] for the contract.
#[derive(Debug)]
pub struct Zab {
    sh: Shared,
    role: Role,
}

impl Zab {
    /// Starts (or restarts) a server from its durable state. It begins by looking for a
    /// leader; the first notifications are in [`Zab::take_outputs`].
    pub fn new(cfg: ZabConfig, durable: DurableState) -> Zab {
        assert!(
            cfg.ensemble.role(cfg.my_id).is_some(),
            "server {} is not in the ensemble",
            cfg.my_id
        );
        assert!(
            durable.committed >= durable.log_base,
            "committed below the log base"
        );
        let history = History::new(
            durable.log_base,
            durable.log,
            durable.committed,
            cfg.commit_log_count,
        );
        let mut sh = Shared {
            accepted_epoch: durable.accepted_epoch,
            current_epoch: durable.current_epoch,
            history,
            tick: 0,
            logical_clock: 0,
            current_vote: Vote {
                leader: cfg.my_id.0,
                zxid: 0,
                peer_epoch: 0,
            },
            current_vote_round: 0,
            role_state: RoleState {
                state: PeerState::Looking,
                zab_state: ZabState::Election,
                leader: None,
                epoch: None,
            },
            out: Vec::new(),
            cfg,
        };
        sh.current_vote = Vote::initial(&sh);
        sh.out.push(Output::State(sh.role_state));
        let role = Role::Looking(Election::start(&mut sh));
        let zab = Zab { sh, role };
        zab.check_invariants();
        zab
    }

    /// Takes the outputs produced since the last call, in the order they must be carried out.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.sh.out)
    }

    /// Feeds one event.
    pub fn step(&mut self, event: Event) {
        let next = self.dispatch(event);
        match next {
            Transition::Stay => {}
            Transition::Looking => self.look(),
            Transition::Take(d) => self.take_role(d),
        }
        self.check_invariants();
    }

    fn dispatch(&mut self, event: Event) -> Transition {
        let sh = &mut self.sh;
        match (&mut self.role, event) {
            (role, Event::Tick) => {
                sh.tick += 1;
                match role {
                    Role::Looking(e) => e.on_tick(sh).into(),
                    Role::Leading(l) => l.on_tick(sh).into(),
                    Role::Learning(l) => l.on_tick(sh).into(),
                }
            }
            (role, Event::Persisted { zxid }) => {
                sh.history.mark_persisted(zxid);
                match role {
                    Role::Looking(_) => Transition::Stay,
                    Role::Leading(l) => l.on_persisted(sh).into(),
                    Role::Learning(l) => l.on_persisted(sh).into(),
                }
            }
            (Role::Looking(e), Event::Notification { from, n }) => {
                e.on_notification(sh, from, &n).into()
            }
            (_, Event::Notification { from, n }) => {
                Self::answer_as_established(sh, from, &n);
                Transition::Stay
            }
            (Role::Learning(l), Event::Connected { peer }) => l.on_connected(sh, peer).into(),
            (_, Event::Connected { .. }) => Transition::Stay,
            (Role::Leading(l), Event::Disconnected { peer }) => l.on_disconnected(sh, peer).into(),
            (Role::Learning(l), Event::Disconnected { peer }) => l.on_disconnected(sh, peer).into(),
            (Role::Looking(_), Event::Disconnected { .. }) => Transition::Stay,
            (Role::Leading(l), Event::Message { from, msg }) => l.on_message(sh, from, msg).into(),
            (Role::Learning(l), Event::Message { from, msg }) => l.on_message(sh, from, msg).into(),
            // A packet on a connection of a role we left; the driver closes those.
            (Role::Looking(_), Event::Message { .. }) => Transition::Stay,
        }
    }

    /// Proposes a transaction (leader in broadcast only). The zxid is assigned here and written
    /// into the header; the caller may read it first with [`Zab::next_zxid`].
    pub fn propose(&mut self, txn: TxnLogEntry) -> Result<Zxid, ProposeError> {
        let result = match &mut self.role {
            Role::Leading(l) => l.propose(&mut self.sh, txn),
            _ => Err(ProposeError::NotLeader),
        };
        if result == Err(ProposeError::ZxidExhausted) {
            self.look();
        }
        self.check_invariants();
        result
    }

    /// The zxid the next proposal will get, if this server is a serving leader.
    pub fn next_zxid(&self) -> Option<Zxid> {
        match &self.role {
            Role::Leading(l) => l.next_zxid(&self.sh),
            _ => None,
        }
    }

    pub fn role(&self) -> RoleState {
        self.sh.role_state
    }

    pub fn history(&self) -> &History {
        &self.sh.history
    }

    pub fn my_id(&self) -> ServerId {
        self.sh.cfg.my_id
    }

    pub fn status(&self) -> Status {
        let h = &self.sh.history;
        let (learners, outstanding) = match &self.role {
            Role::Leading(l) => (l.learner_status(), l.outstanding(&self.sh)),
            _ => (Vec::new(), 0),
        };
        Status {
            role: self.sh.role_state,
            accepted_epoch: self.sh.accepted_epoch,
            current_epoch: self.sh.current_epoch,
            last_logged: h.last_zxid(),
            persisted: h.persisted(),
            committed: h.committed(),
            learners,
            outstanding,
        }
    }

    /// A server that is following, leading or observing answers a looking one with the vote it
    /// settled on, so that latecomers can join. It never answers a server that is not looking:
    /// two established servers would answer each other forever.
    fn answer_as_established(sh: &mut Shared, from: ServerId, n: &Notification) {
        if n.state == PeerState::Looking {
            let reply = sh.notification(sh.peer_state(), sh.current_vote, sh.current_vote_round);
            sh.notify(from, reply);
        }
    }

    fn take_role(&mut self, d: Decision) {
        let sh = &mut self.sh;
        self.role = match d {
            Decision::Lead => Role::Leading(Leader::start(sh)),
            Decision::Learn(leader) => Role::Learning(Learner::start(sh, leader)),
        };
        // Leading alone (an ensemble of one) can finish discovery at once.
        let next = match &mut self.role {
            Role::Leading(l) => l.on_persisted(sh),
            _ => Next::Stay,
        };
        if next == Next::Looking {
            self.look();
        }
    }

    /// Leaves the current role and starts an election.
    fn look(&mut self) {
        let sh = &mut self.sh;
        match &self.role {
            Role::Leading(l) => l.close_all(sh),
            Role::Learning(l) => sh.disconnect(l.leader()),
            Role::Looking(_) => {}
        }
        sh.set_state(RoleState {
            state: PeerState::Looking,
            zab_state: ZabState::Election,
            leader: None,
            epoch: None,
        });
        self.role = Role::Looking(Election::start(sh));
    }

    /// Asserts everything that must hold between steps. A failure is a bug in the core.
    pub fn check_invariants(&self) {
        let sh = &self.sh;
        sh.history.check_invariants();
        assert!(
            sh.current_epoch <= sh.accepted_epoch,
            "currentEpoch {} above acceptedEpoch {}",
            sh.current_epoch,
            sh.accepted_epoch
        );
        assert!(
            sh.history.last_zxid().epoch() <= sh.accepted_epoch.0,
            "log holds {} beyond acceptedEpoch {}",
            sh.history.last_zxid(),
            sh.accepted_epoch
        );
        match &self.role {
            Role::Looking(e) => {
                assert_eq!(sh.role_state.state, PeerState::Looking);
                e.check_invariants(sh);
            }
            Role::Leading(l) => {
                assert_eq!(sh.role_state.state, PeerState::Leading);
                l.check_invariants(sh);
            }
            Role::Learning(l) => {
                assert!(matches!(
                    sh.role_state.state,
                    PeerState::Following | PeerState::Observing
                ));
                l.check_invariants(sh);
            }
        }
    }
}
