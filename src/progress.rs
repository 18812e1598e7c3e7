//! A spinner on stderr for requests that take more than a moment.
//!
//! It appears only when stderr is a terminal, never on stdout, and only
//! after a delay, so quick requests draw nothing. It is written here rather
//! than taken from a progress-bar crate because it needs the delay, which
//! those do not offer, and nothing else.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const FRAMES: [char; 4] = ['|', '/', '-', '\\'];

/// Draws while alive; dropping it stops and erases it.
pub struct Spinner {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    /// A spinner with `message` that starts drawing after `delay`, if
    /// stderr is a terminal.
    pub fn after(delay: Duration, message: &str) -> Spinner {
        let stop = Arc::new(AtomicBool::new(false));
        if !std::io::stderr().is_terminal() {
            return Spinner { stop, thread: None };
        }
        let flag = Arc::clone(&stop);
        let message = message.to_string();
        let thread = std::thread::spawn(move || {
            let step = Duration::from_millis(100);
            let mut waited = Duration::ZERO;
            while waited < delay {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(step);
                waited += step;
            }
            let mut frame = 0;
            while !flag.load(Ordering::Relaxed) {
                eprint!("\r{} {message}", FRAMES[frame % FRAMES.len()]);
                let _ = std::io::stderr().flush();
                frame += 1;
                std::thread::sleep(step);
            }
            // Erase the line the spinner used.
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        });
        Spinner {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
