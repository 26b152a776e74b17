//! diesel table definitions, shared by the SQLite and PostgreSQL migrations.

diesel::table! {
    task_defs (name) {
        name -> Text,
        body -> Text,
        create_time -> BigInt,
        update_time -> BigInt,
    }
}

diesel::table! {
    workflow_defs (name, version) {
        name -> Text,
        version -> Integer,
        body -> Text,
        create_time -> BigInt,
        update_time -> BigInt,
    }
}

diesel::table! {
    workflows (workflow_id) {
        workflow_id -> Text,
        workflow_name -> Text,
        workflow_version -> Integer,
        status -> Text,
        correlation_id -> Nullable<Text>,
        priority -> Integer,
        start_time -> BigInt,
        update_time -> BigInt,
        end_time -> Nullable<BigInt>,
        body -> Text,
        next_check_at -> Nullable<BigInt>,
        idempotency_key -> Nullable<Text>,
        parent_workflow_id -> Nullable<Text>,
        revision -> BigInt,
        definition_id -> Nullable<Text>,
    }
}

diesel::table! {
    tasks (task_id) {
        task_id -> Text,
        workflow_id -> Text,
        seq -> Integer,
        task_type -> Text,
        reference_task_name -> Text,
        status -> Text,
        update_time -> BigInt,
        body -> Text,
        revision -> BigInt,
    }
}

diesel::table! {
    queue_entries (id) {
        id -> BigInt,
        task_id -> Text,
        queue_name -> Text,
        priority -> Integer,
        visible_at -> BigInt,
        lease_ms -> BigInt,
        leased_until -> Nullable<BigInt>,
        workflow_id -> Nullable<Text>,
    }
}

diesel::table! {
    task_logs (id) {
        id -> BigInt,
        task_id -> Text,
        log -> Text,
        created_time -> BigInt,
    }
}

diesel::table! {
    poll_data (queue_name, domain) {
        queue_name -> Text,
        domain -> Text,
        worker_id -> Nullable<Text>,
        last_poll_time -> BigInt,
    }
}

diesel::table! {
    event_messages (id) {
        id -> BigInt,
        queue_name -> Text,
        message_id -> Text,
        payload -> Text,
        created_time -> BigInt,
    }
}

diesel::table! {
    definition_snapshots (id) {
        id -> Text,
        body -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(workflows, tasks, queue_entries, task_logs);

diesel::table! {
    task_limits (name) {
        name -> Text,
        concurrent_exec_limit -> Integer,
        rate_per_frequency -> Integer,
        frequency_ms -> BigInt,
        window_start -> BigInt,
        window_count -> Integer,
    }
}
