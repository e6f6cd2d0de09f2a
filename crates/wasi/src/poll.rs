//! `poll_oneoff`: wait for clock timeouts and descriptor readiness.
//!
//! Regular files, directories, in-memory stdin and every output stream are always ready (as
//! POSIX `poll` reports for files). The host's stdin and sockets are waited on with `poll(2)`.
//! Clock subscriptions become deadlines on the monotonic host clock; relative and absolute
//! timeouts of the guest's clocks (which may be injected) are converted to a real wait. A
//! subscription on a bad descriptor yields an event carrying `badf` (as wasi-libc's `poll`
//! expects), not a failed call.

use crate::ctx::{Input, WasiCtx};
use crate::memory::{
    Event, GuestMemory, Subscription, SubscriptionKind, SubscriptionP0, SubscriptionP1,
};
use crate::table::Kind;
use crate::types::{Errno, Result, clockid, event, rights};
use rustix::event::{PollFd, PollFlags};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

/// Which `subscription` layout the guest uses.
#[derive(Clone, Copy)]
pub(crate) enum SubscriptionAbi {
    Preview1,
    Preview0,
}

enum Pending<'a> {
    /// Fires at this instant.
    Clock(Instant),
    /// Waits on a host descriptor.
    Fd(BorrowedFd<'a>, PollFlags),
}

impl WasiCtx {
    pub(crate) fn poll_oneoff(
        &mut self,
        mem: &mut GuestMemory<'_>,
        subs_ptr: u32,
        events_ptr: u32,
        n: u32,
        out: u32,
        abi: SubscriptionAbi,
    ) -> Result<()> {
        if n == 0 {
            return Err(Errno::Inval.into());
        }
        let subs: Vec<Subscription> = match abi {
            SubscriptionAbi::Preview1 => {
                mem.check_array::<SubscriptionP1>(subs_ptr, n)?;
                (0..n)
                    .map(|i| mem.read_elem::<SubscriptionP1>(subs_ptr, i).map(|s| s.0))
                    .collect::<Result<_>>()?
            }
            SubscriptionAbi::Preview0 => {
                mem.check_array::<SubscriptionP0>(subs_ptr, n)?;
                (0..n)
                    .map(|i| mem.read_elem::<SubscriptionP0>(subs_ptr, i).map(|s| s.0))
                    .collect::<Result<_>>()?
            }
        };
        mem.check_array::<Event>(events_ptr, n)?;
        mem.check_array::<u32>(out, 1)?;

        let stdin = std::io::stdin();
        let start = Instant::now();
        let mut ready: Vec<Event> = Vec::new();
        let mut pending: Vec<(usize, Pending<'_>)> = Vec::new();
        for (i, sub) in subs.iter().enumerate() {
            let ev = |kind: u8, error: Errno, nbytes: u64, flags: u16| Event {
                userdata: sub.userdata,
                error,
                kind,
                nbytes,
                flags,
            };
            match sub.kind {
                SubscriptionKind::Invalid => return Err(Errno::Inval.into()),
                SubscriptionKind::Clock { id, timeout, flags } => {
                    let abs = flags & event::SUBSCRIPTION_CLOCK_ABSTIME != 0;
                    let remaining = match id {
                        clockid::REALTIME | clockid::MONOTONIC => {
                            if abs {
                                timeout.saturating_sub(self.clocks.now(id)?)
                            } else {
                                timeout
                            }
                        }
                        _ => {
                            ready.push(ev(event::CLOCK, Errno::Inval, 0, 0));
                            continue;
                        }
                    };
                    let at = start
                        .checked_add(Duration::from_nanos(remaining))
                        .unwrap_or(start + Duration::from_secs(u32::MAX.into()));
                    pending.push((i, Pending::Clock(at)));
                }
                SubscriptionKind::FdRead(fd) | SubscriptionKind::FdWrite(fd) => {
                    let reading = matches!(sub.kind, SubscriptionKind::FdRead(_));
                    let kind = if reading {
                        event::FD_READ
                    } else {
                        event::FD_WRITE
                    };
                    let Ok(desc) = self.table.get(fd) else {
                        ready.push(ev(kind, Errno::Badf, 0, 0));
                        continue;
                    };
                    let needed = if reading {
                        rights::FD_READ
                    } else {
                        rights::FD_WRITE
                    };
                    if desc.base & (needed | rights::POLL_FD_READWRITE) == 0 {
                        ready.push(ev(kind, Errno::Notcapable, 0, 0));
                        continue;
                    }
                    let dir_flags = if reading {
                        PollFlags::IN
                    } else {
                        PollFlags::OUT
                    };
                    match (&desc.kind, reading) {
                        (Kind::File(f), true) => {
                            let size = f.file.metadata().map(|m| m.len()).unwrap_or(0);
                            let pos = std::io::Seek::stream_position(&mut &f.file).unwrap_or(0);
                            ready.push(ev(kind, Errno::Success, size.saturating_sub(pos), 0));
                        }
                        (Kind::File(_), false) | (Kind::Output(_), false) => {
                            ready.push(ev(kind, Errno::Success, 1, 0));
                        }
                        (Kind::Dir(_), _) => ready.push(ev(kind, Errno::Success, 0, 0)),
                        (Kind::Stdin(Input::Inherit), true) => {
                            pending.push((i, Pending::Fd(stdin.as_fd(), dir_flags)));
                        }
                        (Kind::Stdin(Input::Pipe(p)), true) => {
                            let left = p.remaining();
                            let hup = if left == 0 {
                                event::FD_READWRITE_HANGUP
                            } else {
                                0
                            };
                            ready.push(ev(kind, Errno::Success, left, hup));
                        }
                        (Kind::Stdin(Input::Empty), true) => {
                            ready.push(ev(kind, Errno::Success, 0, event::FD_READWRITE_HANGUP));
                        }
                        (Kind::Listener(l), _) => {
                            pending.push((i, Pending::Fd(l.as_fd(), dir_flags)))
                        }
                        (Kind::Stream(s), _) => {
                            pending.push((i, Pending::Fd(s.as_fd(), dir_flags)))
                        }
                        (Kind::Stdin(_), false) | (Kind::Output(_), true) => {
                            ready.push(ev(kind, Errno::Badf, 0, 0));
                        }
                    }
                }
            }
        }

        // Wait (not at all when something is already ready) and collect what fired.
        loop {
            let now = Instant::now();
            let next_deadline = pending
                .iter()
                .filter_map(|(_, p)| match p {
                    Pending::Clock(at) => Some(*at),
                    Pending::Fd(..) => None,
                })
                .min();
            let wait = if ready.is_empty() {
                next_deadline.map(|d| d.saturating_duration_since(now))
            } else {
                Some(Duration::ZERO)
            };
            let mut fds: Vec<PollFd<'_>> = Vec::new();
            let mut fd_subs: Vec<usize> = Vec::new();
            for (i, p) in &pending {
                if let Pending::Fd(fd, flags) = p {
                    fds.push(PollFd::from_borrowed_fd(*fd, *flags));
                    fd_subs.push(*i);
                }
            }
            if fds.is_empty() {
                if let Some(w) = wait.filter(|w| !w.is_zero()) {
                    std::thread::sleep(w);
                }
            } else {
                let ts = wait.map(|w| rustix::time::Timespec {
                    tv_sec: i64::try_from(w.as_secs()).unwrap_or(i64::MAX),
                    tv_nsec: w.subsec_nanos().into(),
                });
                match rustix::event::poll(&mut fds, ts.as_ref()) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            for (pfd, &i) in fds.iter().zip(&fd_subs) {
                let revents = pfd.revents();
                if revents.is_empty() {
                    continue;
                }
                let sub = &subs[i];
                let kind = if matches!(sub.kind, SubscriptionKind::FdRead(_)) {
                    event::FD_READ
                } else {
                    event::FD_WRITE
                };
                let error = if revents.contains(PollFlags::NVAL) {
                    Errno::Badf
                } else if revents.contains(PollFlags::ERR) && !revents.contains(PollFlags::HUP) {
                    Errno::Io
                } else {
                    Errno::Success
                };
                let hup = if revents.contains(PollFlags::HUP) {
                    event::FD_READWRITE_HANGUP
                } else {
                    0
                };
                // The bytes waiting to be read, when the host can tell (pipes, sockets, ttys).
                let nbytes = if kind == event::FD_READ {
                    rustix::io::ioctl_fionread(pfd.as_fd()).unwrap_or(1)
                } else {
                    1
                };
                ready.push(Event {
                    userdata: sub.userdata,
                    error,
                    kind,
                    nbytes,
                    flags: hup,
                });
            }
            let now = Instant::now();
            for (i, p) in &pending {
                if let Pending::Clock(at) = p
                    && *at <= now
                {
                    ready.push(Event {
                        userdata: subs[*i].userdata,
                        error: Errno::Success,
                        kind: event::CLOCK,
                        nbytes: 0,
                        flags: 0,
                    });
                }
            }
            if !ready.is_empty() || (pending.is_empty()) {
                break;
            }
        }

        for (i, e) in ready.iter().enumerate() {
            mem.write_elem::<Event>(events_ptr, i as u32, *e)?;
        }
        mem.write::<u32>(out, ready.len() as u32)
    }
}
