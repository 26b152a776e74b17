//! One conformance suite for the `Store` trait, run against SQLite and PostgreSQL.

mod support;

use std::collections::HashSet;
use std::sync::Arc;

use baton_engine::{start_workflow, Decision, EngineError, SequentialIds, StartParams};
use baton_model::{IdempotencyStrategy, TaskDef, TaskStatus, WorkflowDef};
use baton_server::store::{DatabaseUrl, DieselStore, PollSpec, Store, StoreError};
use serde_json::json;
use support::TestDb;

const NOW: i64 = 1_700_000_000_000;

fn open(db: &TestDb) -> Arc<dyn Store> {
    Arc::new(
        DieselStore::open(&DatabaseUrl::parse(&db.url()).unwrap(), 8).expect("the store opens"),
    )
}

fn one_task_def(name: &str, task: &str) -> WorkflowDef {
    serde_json::from_value(
        json!({"name": name, "tasks": [{"name": task, "taskReferenceName": "t"}]}),
    )
    .unwrap()
}

/// The first decision of a new workflow, with ids prefixed by `id`.
fn new_workflow(def: &WorkflowDef, id: &str, priority: i32) -> Decision {
    let params = StartParams {
        workflow_id: id.into(),
        priority,
        ..StartParams::default()
    };
    start_workflow(def.clone(), params, NOW, &mut SequentialIds::new(id)).unwrap()
}

/// The runtime's cascade: a finished child settles its parent's task.
fn apply_to_parent(
    parent: baton_model::Workflow,
    update: &baton_engine::ParentUpdate,
) -> Result<Decision, EngineError> {
    baton_engine::apply_child_outcome(parent, update, NOW, &mut SequentialIds::new("cascade"))
}

fn spec(queue: &str, count: usize, worker: Option<&str>) -> PollSpec {
    PollSpec {
        queue_name: queue.into(),
        count,
        worker_id: worker.map(str::to_owned),
        domain: None,
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.unwrap()
}

async fn workflow_definitions_keep_versions_and_refuse_silent_overwrites(db: TestDb) {
    let store = open(&db);
    blocking(move || {
        let mut def = one_task_def("w", "x");
        store.put_workflow_def(&def, false, NOW).unwrap();
        assert!(matches!(
            store.put_workflow_def(&def, false, NOW),
            Err(StoreError::Conflict(_))
        ));
        def.description = Some("changed".into());
        store.put_workflow_def(&def, true, NOW + 1).unwrap();
        let stored = store.workflow_def("w", Some(1)).unwrap().unwrap();
        assert_eq!(stored.description.as_deref(), Some("changed"));
        assert_eq!((stored.create_time, stored.update_time), (NOW, NOW + 1));
        def.version = 3;
        store.put_workflow_def(&def, false, NOW).unwrap();
        assert_eq!(store.workflow_def("w", None).unwrap().unwrap().version, 3);
        assert!(store.workflow_def("w", Some(2)).unwrap().is_none());
        assert_eq!(
            store
                .workflow_defs()
                .unwrap()
                .iter()
                .map(|d| d.version)
                .collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert!(store.delete_workflow_def("w", 3).unwrap());
        assert!(!store.delete_workflow_def("w", 3).unwrap());
        assert_eq!(store.workflow_def("w", None).unwrap().unwrap().version, 1);
    })
    .await
}

async fn task_definitions_upsert_and_keep_their_creation_time(db: TestDb) {
    let store = open(&db);
    blocking(move || {
        let def = TaskDef {
            name: "x".into(),
            retry_count: 1,
            ..TaskDef::default()
        };
        store
            .upsert_task_defs(std::slice::from_ref(&def), NOW)
            .unwrap();
        store
            .upsert_task_defs(
                &[TaskDef {
                    retry_count: 2,
                    ..def
                }],
                NOW + 5,
            )
            .unwrap();
        let stored = store.task_def("x").unwrap().unwrap();
        assert_eq!(
            (stored.retry_count, stored.create_time, stored.update_time),
            (2, NOW, NOW + 5)
        );
        assert_eq!(store.task_defs().unwrap().len(), 1);
        let named = store
            .task_defs_named(&["x".to_owned(), "unknown".to_owned()])
            .unwrap();
        assert_eq!(
            named.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
            vec!["x"]
        );
        assert!(store.delete_task_def("x").unwrap());
        assert!(store.task_def("x").unwrap().is_none());
    })
    .await
}

async fn a_created_workflow_reads_back_with_its_tasks_and_queue_entries(db: TestDb) {
    let store = open(&db);
    blocking(move || {
        let decision = new_workflow(&one_task_def("w", "x"), "wf", 0);
        store
            .create_workflow(
                decision.clone(),
                Box::new(apply_to_parent),
                IdempotencyStrategy::Fail,
            )
            .wait()
            .unwrap();
        let workflow = store.workflow("wf", true).unwrap().unwrap();
        assert_eq!(workflow, decision.workflow);
        assert!(store
            .workflow("wf", false)
            .unwrap()
            .unwrap()
            .tasks
            .is_empty());
        assert_eq!(store.queue_size("x").unwrap(), 1);
        assert_eq!(store.queue_sizes().unwrap().get("x"), Some(&1));
        assert_eq!(
            store.task("wf-1").unwrap().unwrap().status,
            TaskStatus::Scheduled
        );
    })
    .await
}

async fn a_definition_is_stored_once_for_all_its_workflows_and_read_back_whole(db: TestDb) {
    let store = open(&db);
    let def = one_task_def("w", "x");
    let first = new_workflow(&def, "one", 0);
    let expected = first.workflow.workflow_definition.clone();
    {
        let store = store.clone();
        blocking(move || {
            for decision in [first, new_workflow(&def, "two", 0)] {
                store
                    .create_workflow(
                        decision,
                        Box::new(apply_to_parent),
                        IdempotencyStrategy::Fail,
                    )
                    .wait()
                    .unwrap();
            }
            // A decision on it keeps naming the same snapshot.
            store
                .update_workflow(
                    "one",
                    Box::new(|w| baton_engine::operator::pause(w, NOW)),
                    Box::new(apply_to_parent),
                )
                .wait()
                .unwrap();
        })
        .await;
    }
    assert_eq!(
        db.count("SELECT count(*) AS n FROM definition_snapshots"),
        1
    );
    assert_eq!(
        db.count("SELECT count(*) AS n FROM workflows WHERE body LIKE '%workflowDefinition%'"),
        0,
        "rows do not repeat the definition"
    );
    // Another server reads it back from the database.
    let other = open(&db);
    blocking(move || {
        for id in ["one", "two"] {
            let workflow = other.workflow(id, true).unwrap().unwrap();
            assert_eq!(workflow.workflow_definition, expected);
            assert_eq!(workflow.workflow_name(), Some("w"));
        }
    })
    .await;
}

async fn a_change_that_panics_fails_alone_and_the_store_keeps_writing(db: TestDb) {
    let store = open(&db);
    blocking(move || {
        for id in ["calm", "boom"] {
            store
                .create_workflow(
                    new_workflow(&one_task_def("w", "x"), id, 0),
                    Box::new(apply_to_parent),
                    IdempotencyStrategy::Fail,
                )
                .wait()
                .unwrap();
        }
        let pause = |id: &str| {
            store.update_workflow(
                id,
                Box::new(|w| baton_engine::operator::pause(w, NOW)),
                Box::new(apply_to_parent),
            )
        };
        let calm = pause("calm");
        let boom = store.update_workflow(
            "boom",
            Box::new(|_| panic!("a bug in a change")),
            Box::new(apply_to_parent),
        );
        assert!(calm.wait().is_ok());
        assert!(boom.wait().is_err());
        // The writer is still there.
        assert!(pause("boom").wait().is_ok());
        for id in ["calm", "boom"] {
            assert_eq!(
                store.workflow(id, false).unwrap().unwrap().status,
                baton_model::WorkflowStatus::Paused
            );
        }
    })
    .await
}

async fn a_rejected_change_writes_nothing(db: TestDb) {
    let store = open(&db);
    blocking(move || {
        store
            .create_workflow(
                new_workflow(&one_task_def("w", "x"), "wf", 0),
                Box::new(apply_to_parent),
                IdempotencyStrategy::Fail,
            )
            .wait()
            .unwrap();
        let error = store
            .update_workflow(
                "wf",
                Box::new(|_| Err(EngineError::MissingStatus)),
                Box::new(apply_to_parent),
            )
            .wait()
            .map(|(c, _)| c.decision)
            .unwrap_err();
        assert!(matches!(
            error,
            StoreError::Rejected(EngineError::MissingStatus)
        ));
        let missing = store
            .update_workflow(
                "nope",
                Box::new(|w| Ok(Decision::unchanged(w))),
                Box::new(apply_to_parent),
            )
            .wait()
            .map(|(c, _)| c.decision)
            .unwrap_err();
        assert!(matches!(missing, StoreError::NotFound(_)));
        assert_eq!(store.workflow("wf", true).unwrap().unwrap().tasks.len(), 1);
    })
    .await
}

async fn a_new_workflow_that_fails_to_commit_leaves_no_partial_state(db: TestDb) {
    let store = open(&db);
    blocking(move || {
        let def = one_task_def("w", "x");
        store
            .create_workflow(
                new_workflow(&def, "first", 0),
                Box::new(apply_to_parent),
                IdempotencyStrategy::Fail,
            )
            .wait()
            .unwrap();
        // A second workflow whose workflow row collides: its task rows and queue entry
        // must not be written either.
        let mut clash = new_workflow(&def, "second", 0);
        clash.workflow.workflow_id = "first".into();
        assert!(store
            .create_workflow(clash, Box::new(apply_to_parent), IdempotencyStrategy::Fail)
            .wait()
            .is_err());
        assert!(store.task("second-1").unwrap().is_none());
        assert_eq!(store.queue_size("x").unwrap(), 1);
    })
    .await
}

async fn polls_respect_priority_visibility_and_leases(db: TestDb) {
    let store = open(&db);
    blocking(move || {
        let def = one_task_def("w", "x");
        store
            .create_workflow(
                new_workflow(&def, "low", 1),
                Box::new(apply_to_parent),
                IdempotencyStrategy::Fail,
            )
            .wait()
            .unwrap();
        store
            .create_workflow(
                new_workflow(&def, "high", 50),
                Box::new(apply_to_parent),
                IdempotencyStrategy::Fail,
            )
            .wait()
            .unwrap();
        let mut later = new_workflow(&def, "later", 99);
        if let baton_engine::QueueOp::Push { visible_at, .. } = &mut later.queue[0] {
            *visible_at = NOW + 60_000;
        }
        store
            .create_workflow(later, Box::new(apply_to_parent), IdempotencyStrategy::Fail)
            .wait()
            .unwrap();

        let polled = store
            .poll(&spec("x", 10, Some("w1")), NOW)
            .wait()
            .unwrap()
            .tasks;
        let ids: Vec<_> = polled
            .iter()
            .map(|t| t.workflow_instance_id.as_str())
            .collect();
        assert_eq!(
            ids,
            vec!["high", "low"],
            "priority first; the delayed task is hidden"
        );
        assert!(polled
            .iter()
            .all(|t| t.status == TaskStatus::InProgress && t.poll_count == 1));
        assert_eq!(
            store.task("high-1").unwrap().unwrap().worker_id.as_deref(),
            Some("w1")
        );
        assert!(
            store
                .poll(&spec("x", 10, None), NOW)
                .wait()
                .unwrap()
                .tasks
                .is_empty(),
            "leased tasks are not handed out twice"
        );
        assert_eq!(store.next_visible_at("x").unwrap(), Some(NOW + 60_000));
        assert_eq!(
            store
                .poll(&spec("x", 10, None), NOW + 60_000)
                .wait()
                .unwrap()
                .tasks
                .len(),
            1
        );
        let poll_data = store.poll_data(Some("x")).unwrap();
        assert_eq!(poll_data.len(), 1);
        assert_eq!(poll_data[0].last_poll_time, NOW + 60_000);
    })
    .await
}

async fn concurrent_pollers_receive_each_task_exactly_once(db: TestDb) {
    let store = open(&db);
    let def = one_task_def("w", "x");
    let total = 60;
    {
        let store = store.clone();
        blocking(move || {
            for i in 0..total {
                store
                    .create_workflow(
                        new_workflow(&def, &format!("wf{i}"), 0),
                        Box::new(apply_to_parent),
                        IdempotencyStrategy::Fail,
                    )
                    .wait()
                    .unwrap();
            }
        })
        .await;
    }
    let pollers: Vec<_> = (0..6)
        .map(|worker| {
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                let mut mine = Vec::new();
                loop {
                    let batch = store
                        .poll(&spec("x", 3, Some(&format!("w{worker}"))), NOW)
                        .wait()
                        .unwrap()
                        .tasks;
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|t| t.task_id));
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut count = 0;
    for poller in pollers {
        for id in poller.await.unwrap() {
            count += 1;
            assert!(seen.insert(id), "a task was handed out twice");
        }
    }
    assert_eq!((count, seen.len()), (total, total));
}

async fn a_claim_leases_no_more_than_it_hands_out_even_when_statistics_are_stale(db: TestDb) {
    let store = open(&db);
    let def = one_task_def("w", "x");
    let create = move |store: &Arc<dyn Store>, prefix: &str| {
        for i in 0..300 {
            store
                .create_workflow(
                    new_workflow(&def, &format!("{prefix}{i}"), 0),
                    Box::new(apply_to_parent),
                    IdempotencyStrategy::Fail,
                )
                .wait()
                .unwrap();
        }
    };
    // A queue that filled and drained, with statistics taken once it was empty (as after a
    // burst): the planner thinks the queue holds nothing. PostgreSQL then ran
    // `id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)` once per queue row, and a claim of
    // one leased every entry.
    {
        let (store, create) = (store.clone(), create.clone());
        blocking(move || {
            create(&store, "old");
            for i in 0..300 {
                assert!(store.remove_workflow(&format!("old{i}")).unwrap());
            }
        })
        .await;
    }
    db.execute("ANALYZE");
    blocking(move || {
        create(&store, "wf");
        for round in 1..=3 {
            let polled = store
                .poll(&spec("x", 1, Some("w")), NOW)
                .wait()
                .unwrap()
                .tasks;
            assert_eq!(polled.len(), 1);
            assert_eq!(
                store.queue_size("x").unwrap(),
                300 - round,
                "one entry leased per claim of one"
            );
        }
    })
    .await
}

async fn removing_a_workflow_removes_its_tasks_queue_entries_and_logs(db: TestDb) {
    let store = open(&db);
    blocking(move || {
        store
            .create_workflow(
                new_workflow(&one_task_def("w", "x"), "wf", 0),
                Box::new(apply_to_parent),
                IdempotencyStrategy::Fail,
            )
            .wait()
            .unwrap();
        store.add_task_log("wf-1", "hello", NOW).unwrap();
        assert_eq!(
            store.task_logs("wf-1").unwrap()[0].log.as_deref(),
            Some("hello")
        );
        assert!(store.remove_workflow("wf").unwrap());
        assert!(!store.remove_workflow("wf").unwrap());
        assert!(store.workflow("wf", true).unwrap().is_none());
        assert!(store.task("wf-1").unwrap().is_none());
        assert!(store.task_logs("wf-1").unwrap().is_empty());
        assert_eq!(store.queue_size("x").unwrap(), 0);
    })
    .await
}

async fn an_update_can_claim_the_next_task_in_the_same_transaction(db: TestDb) {
    let store = open(&db);
    blocking(move || {
        let def = one_task_def("w", "x");
        store
            .create_workflow(
                new_workflow(&def, "one", 0),
                Box::new(apply_to_parent),
                IdempotencyStrategy::Fail,
            )
            .wait()
            .unwrap();
        store
            .create_workflow(
                new_workflow(&def, "two", 0),
                Box::new(apply_to_parent),
                IdempotencyStrategy::Fail,
            )
            .wait()
            .unwrap();
        let (decision, next) = store
            .update_workflow_and_poll(
                "one",
                Box::new(|workflow| Ok(Decision::unchanged(workflow))),
                Box::new(|decision| {
                    assert_eq!(decision.workflow.workflow_id, "one");
                    Some(spec("x", 1, Some("w9")))
                }),
                Box::new(apply_to_parent),
                NOW,
            )
            .wait()
            .unwrap();
        let decision = decision.decision;
        assert_eq!(decision.workflow.workflow_id, "one");
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].worker_id.as_deref(), Some("w9"));
        assert_eq!(
            store.task(&next[0].task_id).unwrap().unwrap().status,
            TaskStatus::InProgress
        );
        assert_eq!(store.queue_size("x").unwrap(), 1, "one claimed, one left");
        assert_eq!(
            store.poll_data(Some("x")).unwrap()[0].worker_id.as_deref(),
            Some("w9")
        );
    })
    .await
}

async fn a_failing_write_among_concurrent_writes_rolls_back_alone(db: TestDb) {
    let store = open(&db);
    let def = one_task_def("w", "x");
    {
        let (store, def) = (store.clone(), def.clone());
        blocking(move || {
            for i in 0..40 {
                store
                    .create_workflow(
                        new_workflow(&def, &format!("wf{i}"), 0),
                        Box::new(apply_to_parent),
                        IdempotencyStrategy::Fail,
                    )
                    .wait()
                    .unwrap();
            }
        })
        .await;
    }
    // Even-numbered changes succeed (they pause the workflow), odd ones are rejected after
    // changing their copy: concurrent writers share commits on SQLite, so this checks each
    // rejection is rolled back alone.
    let writers: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                store
                    .update_workflow(
                        &format!("wf{i}"),
                        Box::new(move |mut workflow| {
                            workflow.status = baton_model::WorkflowStatus::Paused;
                            if i % 2 == 1 {
                                return Err(EngineError::MissingStatus);
                            }
                            Ok(Decision::unchanged(workflow))
                        }),
                        Box::new(apply_to_parent),
                    )
                    .wait()
            })
        })
        .collect();
    for (i, writer) in writers.into_iter().enumerate() {
        let outcome = writer.await.unwrap();
        assert_eq!(outcome.is_ok(), i % 2 == 0, "writer {i}");
    }
    blocking(move || {
        for i in 0..40 {
            let status = store
                .workflow(&format!("wf{i}"), false)
                .unwrap()
                .unwrap()
                .status;
            let expected = if i % 2 == 0 {
                baton_model::WorkflowStatus::Paused
            } else {
                baton_model::WorkflowStatus::Running
            };
            assert_eq!(status, expected, "workflow {i}");
        }
    })
    .await
}

/// A dynamic fork wide enough for the store to keep its tasks in memory between decisions.
fn wide_fork(width: usize) -> WorkflowDef {
    let items: Vec<serde_json::Value> = (0..width).map(|i| json!({"i": i})).collect();
    serde_json::from_value(json!({"name": "wide", "tasks": [
        {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
         "inputParameters": {"forkTaskName": "branch", "forkTaskInputs": items}},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN"}]}))
    .unwrap()
}

/// Completes the `_branch_<index>` task of workflow "wide" through `store`, checking inside
/// the decision that the task `seen` (if any) reads as `expected`.
fn complete_branch(
    store: &dyn Store,
    index: usize,
    seen: Option<(usize, TaskStatus, Option<&'static str>)>,
) {
    store
        .update_workflow(
            "wide",
            Box::new(move |workflow| {
                if let Some((other, status, worker)) = seen {
                    let task = workflow
                        .task_by_ref_name(&format!("_branch_{other}"))
                        .unwrap();
                    assert_eq!(
                        (task.status, task.worker_id.as_deref()),
                        (status, worker),
                        "the decision sees the latest state of _branch_{other}"
                    );
                }
                let task_id = workflow
                    .task_by_ref_name(&format!("_branch_{index}"))
                    .unwrap()
                    .task_id
                    .clone();
                let result = baton_model::TaskResult {
                    workflow_instance_id: "wide".into(),
                    task_id,
                    status: Some(baton_model::TaskResultStatus::Completed),
                    ..Default::default()
                };
                baton_engine::apply_task_result(
                    workflow,
                    &result,
                    NOW,
                    &mut SequentialIds::new(&format!("u{index}")),
                )
            }),
            Box::new(apply_to_parent),
        )
        .wait()
        .unwrap();
}

async fn a_large_workflow_held_in_memory_still_sees_every_change_made_elsewhere(db: TestDb) {
    let store = open(&db);
    let other_server = open(&db);
    blocking(move || {
        let decision = new_workflow(&wide_fork(100), "wide", 0);
        store
            .create_workflow(
                decision,
                Box::new(apply_to_parent),
                IdempotencyStrategy::Fail,
            )
            .wait()
            .unwrap();
        // A first decision puts the workflow's tasks in this store's memory.
        complete_branch(store.as_ref(), 0, None);
        // A poll changes branch 1 without a decision...
        let polled = store
            .poll(&spec("branch", 1, Some("w-1")), NOW)
            .wait()
            .unwrap()
            .tasks;
        assert_eq!(polled[0].reference_task_name, "_branch_1");
        // ...and another server's decision completes branch 2.
        complete_branch(
            other_server.as_ref(),
            2,
            Some((0, TaskStatus::Completed, None)),
        );
        complete_branch(
            store.as_ref(),
            3,
            Some((1, TaskStatus::InProgress, Some("w-1"))),
        );
        complete_branch(store.as_ref(), 4, Some((2, TaskStatus::Completed, None)));
        // Every branch done: the join completes and so does the workflow, as stored.
        for index in 5..100 {
            complete_branch(store.as_ref(), index, None);
        }
        complete_branch(store.as_ref(), 1, Some((99, TaskStatus::Completed, None)));
        let stored = store.workflow("wide", true).unwrap().unwrap();
        assert_eq!(stored.status, baton_model::WorkflowStatus::Completed);
        assert_eq!(stored.tasks.len(), 102);
        assert!(stored.tasks.iter().all(|t| t.status.is_terminal()));
    })
    .await;
}

async fn a_finished_child_settles_its_parent_in_the_same_transaction(db: TestDb) {
    let store = open(&db);
    blocking(move || {
        let def: WorkflowDef = serde_json::from_value(json!({"name": "parent", "tasks": [
            {"name": "sub", "taskReferenceName": "sub", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": "child", "workflowDefinition": {"name": "child", "tasks": [{"name": "kid_work", "taskReferenceName": "k"}]}}},
            {"name": "parent_next", "taskReferenceName": "next"}]}))
        .unwrap();
        let decision = new_workflow(&def, "p", 0);
        let child_id = decision.children[0].workflow.workflow_id.clone();
        store.create_workflow(decision, Box::new(apply_to_parent), IdempotencyStrategy::Fail).wait().unwrap();
        assert_eq!(store.workflow(&child_id, true).unwrap().unwrap().parent_workflow_id.as_deref(), Some("p"));
        let polled = store.poll(&spec("kid_work", 1, None), NOW).wait().unwrap().tasks;
        assert_eq!(polled.len(), 1, "the child's task was queued with the parent's start");

        let result = baton_model::TaskResult {
            workflow_instance_id: child_id.clone(),
            task_id: polled[0].task_id.clone(),
            status: Some(baton_model::TaskResultStatus::Completed),
            ..Default::default()
        };
        store
            .update_workflow(&child_id, Box::new(move |workflow| baton_engine::apply_task_result(workflow, &result, NOW, &mut SequentialIds::new("u"))), Box::new(apply_to_parent)).wait().map(|(c, _)| c.decision)
            .unwrap();
        let parent = store.workflow("p", true).unwrap().unwrap();
        assert_eq!(parent.tasks[0].status, TaskStatus::Completed, "the SUB_WORKFLOW task took the child's outcome");
        assert_eq!(parent.tasks[1].reference_task_name, "next");
        assert_eq!(store.queue_size("parent_next").unwrap(), 1);
    })
    .await
}

/// Creates `count` one-task workflows of `task` (ids `<task><i>`).
fn queue_workflows(store: &Arc<dyn Store>, task: &str, count: usize) {
    let def = one_task_def(&format!("w_{task}"), task);
    for i in 0..count {
        store
            .create_workflow(
                new_workflow(&def, &format!("{task}{i}"), 0),
                Box::new(apply_to_parent),
                IdempotencyStrategy::Fail,
            )
            .wait()
            .unwrap();
    }
}

async fn a_limit_saved_on_this_server_holds_for_the_very_next_claim(db: TestDb) {
    let store = open(&db);
    blocking(move || {
        queue_workflows(&store, "soon_limited", 6);
        // Claimed while the type has no limits (the store may remember that)...
        let first = store
            .poll(&spec("soon_limited", 1, None), NOW)
            .wait()
            .unwrap();
        assert_eq!(first.tasks.len(), 1);
        // ...then limited to two in progress: the next claim gets one more, not five.
        let limited: TaskDef =
            serde_json::from_value(json!({"name": "soon_limited", "concurrentExecLimit": 2}))
                .unwrap();
        store.upsert_task_defs(&[limited], NOW).unwrap();
        let next = store
            .poll(&spec("soon_limited", 5, None), NOW)
            .wait()
            .unwrap();
        assert_eq!(
            next.tasks.len(),
            1,
            "concurrentExecLimit 2, one already running"
        );
    })
    .await
}

async fn one_failing_start_among_concurrent_starts_fails_alone(db: TestDb) {
    let store = open(&db);
    let def = one_task_def("w", "x");
    {
        let (store, def) = (store.clone(), def.clone());
        blocking(move || {
            store
                .create_workflow(
                    new_workflow(&def, "taken", 0),
                    Box::new(apply_to_parent),
                    IdempotencyStrategy::Fail,
                )
                .wait()
                .unwrap();
        })
        .await;
    }
    // Submitted together, so they share the writer's batches; on PostgreSQL the clash fails
    // the batch's one statement, and its other starts must still commit.
    let pending: Vec<_> = (0..30)
        .map(|i| {
            let mut decision = new_workflow(&def, &format!("ok{i}"), 0);
            if i == 15 {
                decision.workflow.workflow_id = "taken".into();
            }
            store.create_workflow(
                decision,
                Box::new(apply_to_parent),
                IdempotencyStrategy::Fail,
            )
        })
        .collect();
    for (i, outcome) in pending.into_iter().enumerate() {
        assert_eq!(outcome.await.is_ok(), i != 15, "start {i}");
    }
    blocking(move || {
        assert_eq!(store.queue_size("x").unwrap(), 30, "29 new and the first");
        assert!(
            store.task("ok15-1").unwrap().is_none(),
            "nothing of the clash"
        );
        assert!(store.workflow("ok14", true).unwrap().is_some());
    })
    .await;
}

async fn concurrency_and_rate_limits_hold_across_servers(db: TestDb) {
    // Two stores on one PostgreSQL database: two servers. (SQLite serves one server, whose
    // writes go through its single writer.)
    let first = open(&db);
    let second = if db.is_postgres() {
        open(&db)
    } else {
        first.clone()
    };
    {
        let first = first.clone();
        blocking(move || {
            let limited: TaskDef =
                serde_json::from_value(json!({"name": "limited", "concurrentExecLimit": 3}))
                    .unwrap();
            let rated: TaskDef = serde_json::from_value(
                json!({"name": "rated", "rateLimitPerFrequency": 4, "rateLimitFrequencyInSeconds": 60}),
            )
            .unwrap();
            first.upsert_task_defs(&[limited, rated], NOW).unwrap();
            queue_workflows(&first, "limited", 10);
            queue_workflows(&first, "rated", 10);
        })
        .await;
    }

    // Eight pollers on two servers race for the limited type: three tasks in all.
    let pollers: Vec<_> = (0..8)
        .map(|worker| {
            let store = if worker % 2 == 0 { &first } else { &second }.clone();
            tokio::task::spawn_blocking(move || {
                store
                    .poll(&spec("limited", 2, Some(&format!("w{worker}"))), NOW)
                    .wait()
                    .unwrap()
                    .tasks
            })
        })
        .collect();
    let mut running = Vec::new();
    for poller in pollers {
        running.extend(poller.await.unwrap());
    }
    assert_eq!(running.len(), 3, "concurrentExecLimit 3");

    blocking(move || {
        // A finished task frees its slot, and only that one.
        let done = &running[0];
        let result = baton_model::TaskResult {
            workflow_instance_id: done.workflow_instance_id.clone(),
            task_id: done.task_id.clone(),
            status: Some(baton_model::TaskResultStatus::Completed),
            ..Default::default()
        };
        second
            .update_workflow(
                &done.workflow_instance_id,
                Box::new(move |workflow| {
                    baton_engine::apply_task_result(
                        workflow,
                        &result,
                        NOW,
                        &mut SequentialIds::new("r"),
                    )
                }),
                Box::new(apply_to_parent),
            )
            .wait()
            .map(|(c, _)| c.decision)
            .unwrap();
        assert_eq!(
            second
                .poll(&spec("limited", 5, None), NOW)
                .wait()
                .unwrap()
                .tasks
                .len(),
            1
        );
        assert!(first
            .poll(&spec("limited", 5, None), NOW)
            .wait()
            .unwrap()
            .tasks
            .is_empty());

        // Four per minute, counted across both servers; the next window lets four more out.
        assert_eq!(
            first
                .poll(&spec("rated", 3, None), NOW)
                .wait()
                .unwrap()
                .tasks
                .len(),
            3
        );
        assert_eq!(
            second
                .poll(&spec("rated", 3, None), NOW + 1)
                .wait()
                .unwrap()
                .tasks
                .len(),
            1
        );
        assert!(first
            .poll(&spec("rated", 3, None), NOW + 59_999)
            .wait()
            .unwrap()
            .tasks
            .is_empty());
        assert_eq!(
            second
                .poll(&spec("rated", 9, None), NOW + 60_000)
                .wait()
                .unwrap()
                .tasks
                .len(),
            4
        );

        // A definition without limits lifts them.
        first
            .upsert_task_defs(&[TaskDef::new("limited"), TaskDef::new("rated")], NOW)
            .unwrap();
        assert_eq!(
            first
                .poll(&spec("limited", 9, None), NOW)
                .wait()
                .unwrap()
                .tasks
                .len(),
            6
        );
        assert_eq!(
            first
                .poll(&spec("rated", 9, None), NOW + 60_001)
                .wait()
                .unwrap()
                .tasks
                .len(),
            2
        );
    })
    .await
}

on_both_backends!(
    concurrency_and_rate_limits_hold_across_servers,
    a_finished_child_settles_its_parent_in_the_same_transaction,
    a_failing_write_among_concurrent_writes_rolls_back_alone,
    an_update_can_claim_the_next_task_in_the_same_transaction,
    workflow_definitions_keep_versions_and_refuse_silent_overwrites,
    task_definitions_upsert_and_keep_their_creation_time,
    a_created_workflow_reads_back_with_its_tasks_and_queue_entries,
    a_rejected_change_writes_nothing,
    a_new_workflow_that_fails_to_commit_leaves_no_partial_state,
    polls_respect_priority_visibility_and_leases,
    concurrent_pollers_receive_each_task_exactly_once,
    removing_a_workflow_removes_its_tasks_queue_entries_and_logs,
    a_large_workflow_held_in_memory_still_sees_every_change_made_elsewhere,
    a_claim_leases_no_more_than_it_hands_out_even_when_statistics_are_stale,
    a_definition_is_stored_once_for_all_its_workflows_and_read_back_whole,
    a_limit_saved_on_this_server_holds_for_the_very_next_claim,
    one_failing_start_among_concurrent_starts_fails_alone,
    a_change_that_panics_fails_alone_and_the_store_keeps_writing,
);

#[test]
fn database_urls_are_parsed_or_refused_with_a_reason() {
    assert_eq!(
        DatabaseUrl::parse("sqlite://a/b.db"),
        Ok(DatabaseUrl::Sqlite("a/b.db".into()))
    );
    assert!(matches!(
        DatabaseUrl::parse("postgres://u@h/db"),
        Ok(DatabaseUrl::Postgres(_))
    ));
    assert!(DatabaseUrl::parse("mysql://x")
        .unwrap_err()
        .contains("not supported"));
    assert!(DatabaseUrl::parse("sqlite://").is_err());
}
