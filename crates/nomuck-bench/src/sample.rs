//! Time series of a measured phase, for long sustained runs: throughput per
//! interval (`--sample-every`) and the size of a watched file such as the
//! server's SQLite WAL (`--watch-file`), so a rate that decays or a file
//! that keeps growing shows up where a whole-run average hides it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// How often the watched file's size is read: often enough to see its peak
/// (a WAL is cut back at once when it restarts), cheap enough to ignore.
const WATCH_POLL: Duration = Duration::from_millis(50);

/// One interval of the measured phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Seconds from the start of the measured phase to the end of the interval.
    pub end_secs: f64,
    /// Successful operations per second within the interval.
    pub ops_per_sec: f64,
    /// The watched file's size at the end of the interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_bytes: Option<u64>,
    /// The largest size of the watched file seen within the interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_max_bytes: Option<u64>,
}

/// The watched file over the whole measured phase (a missing file is 0 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WatchedFile {
    pub path: String,
    pub start_bytes: u64,
    pub max_bytes: u64,
    pub end_bytes: u64,
}

/// Samples until [`Sampler::finish`].
pub struct Sampler {
    stop: oneshot::Sender<()>,
    task: JoinHandle<(Vec<Sample>, Option<WatchedFile>)>,
}

impl Sampler {
    /// `ops` counts successful operations; the phase starts now.
    pub fn start(ops: Arc<AtomicU64>, every: Option<Duration>, watch: Option<PathBuf>) -> Self {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run(ops, every, watch, stopped));
        Self { stop, task }
    }

    /// Ends the series with a last (possibly shorter) interval.
    pub async fn finish(self) -> (Vec<Sample>, Option<WatchedFile>) {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

struct Interval {
    start: Instant,
    ops: u64,
    file_max: u64,
}

async fn run(
    ops: Arc<AtomicU64>,
    every: Option<Duration>,
    watch: Option<PathBuf>,
    mut stopped: oneshot::Receiver<()>,
) -> (Vec<Sample>, Option<WatchedFile>) {
    let start = Instant::now();
    let size = |w: &Option<PathBuf>| w.as_deref().map_or(0, file_len);
    let start_bytes = size(&watch);
    let mut max = start_bytes;
    let mut samples = Vec::new();
    let mut cur = Interval {
        start,
        ops: 0,
        file_max: start_bytes,
    };
    let poll = every.map_or(WATCH_POLL, |e| e.min(WATCH_POLL));
    let mut ticker = tokio::time::interval(poll);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut next = every.map(|e| start + e);
    loop {
        let stop = tokio::select! {
            _ = ticker.tick() => false,
            _ = &mut stopped => true,
        };
        let now = Instant::now();
        let bytes = size(&watch);
        max = max.max(bytes);
        cur.file_max = cur.file_max.max(bytes);
        let due = next.is_some_and(|t| now >= t);
        // The last interval ends with the phase, whatever its length.
        let last = stop && every.is_some() && now > cur.start;
        if due || last {
            let done = ops.load(Ordering::Relaxed);
            let secs = now.duration_since(cur.start).as_secs_f64().max(1e-9);
            samples.push(Sample {
                end_secs: now.duration_since(start).as_secs_f64(),
                ops_per_sec: done.saturating_sub(cur.ops) as f64 / secs,
                file_bytes: watch.is_some().then_some(bytes),
                file_max_bytes: watch.is_some().then_some(cur.file_max),
            });
            cur = Interval {
                start: now,
                ops: done,
                file_max: bytes,
            };
            if let (Some(t), Some(e)) = (next.as_mut(), every) {
                while *t <= now {
                    *t += e;
                }
            }
        }
        if stop {
            let watched = watch.map(|p| WatchedFile {
                path: p.display().to_string(),
                start_bytes,
                max_bytes: max,
                end_bytes: bytes,
            });
            return (samples, watched);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test]
    async fn intervals_rates_and_file_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("meta.db-wal");
        std::fs::write(&file, vec![0u8; 100]).unwrap();
        let ops = Arc::new(AtomicU64::new(0));
        let s = Sampler::start(ops.clone(), Some(ms(400)), Some(file.clone()));
        // The file peaks at 1000 bytes for a moment and is gone at the end.
        tokio::time::sleep(ms(100)).await;
        ops.fetch_add(200, Ordering::Relaxed);
        std::fs::write(&file, vec![0u8; 1000]).unwrap();
        tokio::time::sleep(ms(150)).await;
        ops.fetch_add(300, Ordering::Relaxed);
        std::fs::write(&file, vec![0u8; 300]).unwrap();
        tokio::time::sleep(ms(500)).await;
        ops.fetch_add(100, Ordering::Relaxed);
        std::fs::remove_file(&file).unwrap();
        tokio::time::sleep(ms(100)).await;
        let (samples, watched) = s.finish().await;

        assert!(samples.len() >= 2, "{samples:?}");
        assert!(samples[0].end_secs >= 0.4, "{samples:?}");
        // Intervals follow each other and their rates account for every op.
        let (mut prev, mut total) = (0.0, 0.0);
        for x in &samples {
            assert!(x.end_secs > prev, "{samples:?}");
            total += x.ops_per_sec * (x.end_secs - prev);
            prev = x.end_secs;
        }
        assert!((total - 600.0).abs() < 0.5, "{total} in {samples:?}");
        let peak = samples.iter().filter_map(|x| x.file_max_bytes).max();
        assert_eq!(peak, Some(1000), "{samples:?}");
        assert_eq!(samples.last().unwrap().file_bytes, Some(0));
        let w = watched.unwrap();
        let sizes = (w.start_bytes, w.max_bytes, w.end_bytes);
        assert_eq!(sizes, (100, 1000, 0), "{w:?}");
        assert_eq!(w.path, file.display().to_string());
    }

    #[tokio::test]
    async fn watch_only_has_no_series() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        let ops = Arc::new(AtomicU64::new(0));
        let s = Sampler::start(ops, None, Some(file.clone()));
        tokio::time::sleep(ms(100)).await;
        std::fs::write(&file, b"12345").unwrap();
        tokio::time::sleep(ms(150)).await;
        let (samples, watched) = s.finish().await;
        assert!(samples.is_empty());
        let w = watched.unwrap();
        assert_eq!((w.start_bytes, w.max_bytes, w.end_bytes), (0, 5, 5));
    }
}
