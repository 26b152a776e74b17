//! Wakes long polls the moment a task lands in their queue.
//!
//! A waiter registers interest *before* it checks the queue, so a push that lands between
//! the check and the wait is never missed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct QueueNotifier {
    queues: Mutex<HashMap<String, Arc<Notify>>>,
}

impl QueueNotifier {
    /// The notifier of one queue; long polls wait on it.
    pub fn for_queue(&self, queue_name: &str) -> Arc<Notify> {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        queues.entry(queue_name.to_owned()).or_default().clone()
    }

    /// Wakes one poll waiting on `queue_name`, for one newly queued task. Waking one per task
    /// rather than all of them keeps a busy queue from a thundering herd of empty claims; a
    /// woken poll that is cancelled passes its wake-up on to the next waiter (tokio `Notify`).
    pub fn notify(&self, queue_name: &str) {
        let queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(notify) = queues.get(queue_name) {
            notify.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_registered_waiter_is_woken_by_a_push_on_its_queue() {
        let notifier = QueueNotifier::default();
        let notify = notifier.for_queue("q");
        let waiter = notify.notified();
        tokio::pin!(waiter);
        waiter.as_mut().enable();
        notifier.notify("other");
        notifier.notify("q");
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the waiter was woken");
    }
}
